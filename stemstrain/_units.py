"""Unit tables, one for the package: lengths to nm, reciprocal lengths to 1/nm, energies to eV.

:func:`unit_factor` is public as ``stemstrain.io.unit_factor``; the loader
(``io/_units.normalise_axis``), the analyses' calibration checks
(``_validate.length_unit_to_nm`` / ``inverse_length_unit_to_inv_nm``) and the Bragg-vector
reader use it, so every unit a file may store is read the same way everywhere.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["unit_factor", "is_undefined", "angle_to_mrad"]

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


def angle_to_mrad(units: Any) -> float | None:
    """Factor converting an angle in ``units`` to mrad ("mrad", "rad", "urad"), or None."""
    if is_undefined(units):
        return None
    return _ANGLE.get(_clean(units))
