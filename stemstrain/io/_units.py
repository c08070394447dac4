"""Unit normalisation of signal axes: real space to nm, reciprocal space to 1/nm, energy to eV.

Every axis of a loaded signal gets a *role* (``"real"``, ``"reciprocal"``, ``"energy"``,
``"index"``) from the kind of the signal; :func:`normalise_axis` converts its scale and
offset into the canonical unit of that role, or reports why it cannot (no units, a
unit of another quantity; the unit tables are ``stemstrain/_units.py``, shared with the
analyses' own checks). Nothing is assumed: an axis without a usable unit is left
as it is and named in the result so the loader can warn and record it.
"""

from __future__ import annotations

import math
from typing import Any

from .._units import angle_to_mrad, is_undefined, unit_factor

__all__ = ["CANONICAL", "normalise_axis", "electron_wavelength_nm"]

CANONICAL = {"real": "nm", "reciprocal": "1/nm", "energy": "eV"}


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
        angle = angle_to_mrad(units)
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
