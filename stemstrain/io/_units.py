"""Unit normalisation of signal axes: real space to nm, reciprocal space to 1/nm, energy to eV.

Every axis of a loaded signal gets a *role* (``"real"``, ``"reciprocal"``, ``"energy"``,
``"index"``) from the kind of the signal; :func:`normalise_axis` converts its scale and
offset into the canonical unit of that role, or reports why it cannot (no units, a
unit of another quantity). Nothing is assumed: an axis without a usable unit is left
as it is and named in the result so the loader can warn and record it.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = [
    "CANONICAL",
    "unit_factor",
    "normalise_axis",
    "electron_wavelength_nm",
    "is_undefined",
]

CANONICAL = {"real": "nm", "reciprocal": "1/nm", "energy": "eV"}

# lengths -> nm
_LENGTH = {
    "nm": 1.0,
    "nanometer": 1.0,
    "nanometers": 1.0,
    "nanometre": 1.0,
    "nanometres": 1.0,
    "n_m": 1.0,
    "nm.": 1.0,
    "a": 0.1,
    "å": 0.1,
    "angstrom": 0.1,
    "angstroms": 1.0e-1,
    "ang": 0.1,
    "pm": 1.0e-3,
    "um": 1.0e3,
    "µm": 1.0e3,
    "μm": 1.0e3,
    "micron": 1.0e3,
    "microns": 1.0e3,
    "micrometer": 1.0e3,
    "micrometre": 1.0e3,
    "u_m": 1.0e3,
    "µ_m": 1.0e3,
    "mm": 1.0e6,
    "cm": 1.0e7,
    "m": 1.0e9,
}
# energies -> eV
_ENERGY = {"ev": 1.0, "kev": 1.0e3, "mev": 1.0e-3, "e_v": 1.0}
# angles -> mrad (diffraction axes; converted to 1/nm with the beam energy)
_ANGLE = {"mrad": 1.0, "rad": 1.0e3, "urad": 1.0e-3, "µrad": 1.0e-3, "μrad": 1.0e-3}

_UNDEFINED = {
    "",
    "1",
    "<undefined>",
    "undefined",
    "none",
    "px",
    "pixel",
    "pixels",
    "pix",
    "a.u.",
    "au",
    "arb",
    "arb.",
    "arb. units",
    "counts",
    "pixel intensity",
    "t.b.d.",
}


def is_undefined(units: Any) -> bool:
    """Return True when ``units`` carries no physical unit (None, "<undefined>", "px", ...)."""
    if units is None:
        return True
    return str(units).strip().lower() in _UNDEFINED


def _clean(units: Any) -> str:
    key = str(units).strip().lower()
    key = key.replace("ångström", "angstrom").replace("angström", "angstrom")
    key = key.replace("μ", "µ").replace(" ", "")
    return key


def _reciprocal_key(key: str) -> str | None:
    """Return the length unit inside a reciprocal unit ("1/nm", "nm^-1", "a^-1", "1/å") or None."""
    for pattern in (r"^1/\(?(.+?)\)?$", r"^\(?(.+?)\)?\^?-1$", r"^\(?(.+?)\)?\*\*-1$"):
        m = re.match(pattern, key)
        if m:
            return m.group(1)
    return None


def unit_factor(units: Any, role: str) -> float | None:
    """Factor that converts a value in ``units`` to the canonical unit of ``role``.

    Parameters
    ----------
    units : str or None
        Units as a file stores them ("n_m", "µm", "Å", "1/Å", "A^-1", "keV", ...).
    role : {"real", "reciprocal", "energy"}
        Quantity of the axis.

    Returns
    -------
    float or None
        Multiply scale and offset by it to get nm, 1/nm or eV; None when ``units``
        is not a unit of that quantity (or is undefined).
    """
    if is_undefined(units):
        return None
    key = _clean(units)
    if role == "real":
        return _LENGTH.get(key)
    if role == "energy":
        return _ENERGY.get(key)
    if role == "reciprocal":
        inner = _reciprocal_key(key)
        if inner is None or inner not in _LENGTH:
            return None
        return 1.0 / _LENGTH[inner]
    return None


def electron_wavelength_nm(beam_energy_kv: float) -> float:
    """Relativistic electron wavelength (nm) at an acceleration voltage in kV."""
    e0 = float(beam_energy_kv) * 1.0e3  # eV
    # lambda = h c / sqrt(E (E + 2 m c^2)), h c = 1239.84198 eV nm, m c^2 = 510998.95 eV
    return 1239.84198 / math.sqrt(e0 * (e0 + 2.0 * 510998.95))


def normalise_axis(axis: Any, role: str, *, beam_energy_kv: float | None = None) -> str | None:
    """Convert a HyperSpy axis in place to the canonical unit of ``role``.

    Parameters
    ----------
    axis : hyperspy axis (UniformDataAxis)
        Its ``scale``, ``offset`` and ``units`` are changed in place when convertible.
    role : {"real", "reciprocal", "energy", "index"}
        ``"index"`` axes (frames of a stack) need no calibration.
    beam_energy_kv : float, optional
        Lets angular diffraction axes (mrad) be converted to 1/nm (k = theta / lambda).

    Returns
    -------
    str or None
        None when the axis is calibrated in the canonical unit after the call;
        otherwise a short reason why it is not (used in warnings and metadata).
    """
    if role == "index":
        return None
    units = getattr(axis, "units", None)
    factor = unit_factor(units, role)
    if factor is None and role == "reciprocal" and not is_undefined(units):
        angle = _ANGLE.get(_clean(units))
        if angle is not None and beam_energy_kv:
            factor = angle * 1.0e-3 / electron_wavelength_nm(beam_energy_kv)
    if factor is None:
        if is_undefined(units):
            return f"no units (scale {float(axis.scale):.6g})"
        return f"units {str(units)!r} are not a {_ROLE_WORD[role]} unit"
    if not hasattr(axis, "scale"):  # non-uniform axis: convert the axis vector
        return f"non-uniform axis in {units!r}"
    axis.scale = float(axis.scale) * factor
    axis.offset = float(axis.offset) * factor
    axis.units = CANONICAL[role]
    return None


_ROLE_WORD = {"real": "length", "reciprocal": "reciprocal-length", "energy": "energy"}
