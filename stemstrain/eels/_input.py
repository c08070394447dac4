"""Checks at the EELS boundary: signal type, energy axis, microscope parameters, windows."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import CalibrationError, InputShapeError, StemstrainError

__all__ = ["SpectrumInput", "read_spectrum", "edge_windows", "EDGE_ONSETS_EV", "DEFAULTS"]

#: tabulated onsets (eV) of the edges used: O K and TM L3
EDGE_ONSETS_EV = {
    "O": 532.0,
    "Ti": 456.0,
    "V": 513.0,
    "Cr": 575.0,
    "Mn": 640.0,
    "Fe": 708.0,
    "Co": 779.0,
    "Ni": 855.0,
    "Cu": 931.0,
}
#: microscope parameters used when the metadata lacks them (keV, mrad, mrad)
DEFAULTS = {"beam_energy": 200.0, "convergence_angle": 21.0, "collection_angle": 30.0}

_ENERGY_UNITS = {"ev": 1.0, "kev": 1e3}


@dataclass(frozen=True)
class SpectrumInput:
    """A validated EELS input: counts (nav..., C), energy axis (eV), navigation calibration."""

    data: Any
    energy_ev: np.ndarray
    nav_shape: tuple[int, ...]
    nav_scale: tuple[float, ...]
    nav_units: tuple[str, ...]
    beam_energy_kev: float
    convergence_mrad: float
    collection_mrad: float
    signal: Any
    #: continuum model of the edges (``_crosssection.CROSS_SECTIONS``)
    cross_section: str = "hydrogenic"

    @property
    def microscope(self) -> dict:
        """Keyword arguments of ``_crosssection.edge_cross_section`` for this input."""
        return {
            "beam_energy_kev": self.beam_energy_kev,
            "convergence_mrad": self.convergence_mrad,
            "collection_mrad": self.collection_mrad,
            "model": self.cross_section,
        }


def _metadata_value(signal: Any, path: str) -> float | None:
    try:
        value = signal.metadata.get_item(path)
    except Exception:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


def _microscope(signal: Any, name: str) -> tuple[float, float, float]:
    paths = {
        "beam_energy": "Acquisition_instrument.TEM.beam_energy",
        "convergence_angle": "Acquisition_instrument.TEM.convergence_angle",
        "collection_angle": "Acquisition_instrument.TEM.Detector.EELS.collection_angle",
    }
    out, missing = {}, []
    for key, path in paths.items():
        value = _metadata_value(signal, path)
        if value is None:
            missing.append(key)
            value = DEFAULTS[key]
        out[key] = value
    if missing:
        used = ", ".join(f"{k}={DEFAULTS[k]:g}" for k in missing)
        warnings.warn(
            f"{name}: metadata lacks {', '.join(missing)}; using {used} (keV, mrad) for the "
            "cross-sections; set them with spectrum.set_microscope_parameters(...)",
            UserWarning,
            stacklevel=4,
        )
    return out["beam_energy"], out["convergence_angle"], out["collection_angle"]


def read_spectrum(
    spectrum: Any, name: str = "spectrum", *, microscope: bool = True
) -> SpectrumInput:
    """Validate an EELS signal and return its counts, energy axis and calibration.

    Raises
    ------
    StemstrainError
        Not a HyperSpy signal with one signal axis, or complex data.
    CalibrationError
        Energy axis not in eV, or uncalibrated (scale 1 and offset 0, i.e. channels).
    """
    if not (hasattr(spectrum, "axes_manager") and hasattr(spectrum, "data")):
        raise StemstrainError(
            f"{name} must be an EELS signal (exspy EELSSpectrum or HyperSpy Signal1D), got "
            f"{type(spectrum).__name__}; load it with ss.load(...) or hs.load(..., "
            "signal_type='EELS')"
        )
    sig_axes = spectrum.axes_manager.signal_axes
    if len(sig_axes) != 1:
        raise InputShapeError(
            f"{name} must have exactly one signal (energy) axis, got {len(sig_axes)} "
            f"(signal shape {spectrum.axes_manager.signal_shape}); use an EELS spectrum, line "
            "scan or spectrum image"
        )
    nav_axes = spectrum.axes_manager.navigation_axes
    if len(nav_axes) > 2:
        raise InputShapeError(
            f"{name} has {len(nav_axes)} navigation axes; at most 2 (a spectrum image) are "
            "supported: sum or slice the extra axes first"
        )
    data = spectrum.data
    if np.dtype(data.dtype).kind not in "uif":
        raise StemstrainError(f"{name} must hold real counts, got dtype {data.dtype}")
    ax = sig_axes[0]
    units = str(ax.units).strip().lower() if ax.units is not None else ""
    factor = _ENERGY_UNITS.get(units)
    if factor is None:
        raise CalibrationError(
            f"{name}: energy axis has units {ax.units!r}, not eV; calibrate it "
            "(axis.units = 'eV', axis.scale, axis.offset) before quantifying"
        )
    energy = np.asarray(ax.axis, dtype=float) * factor
    if (
        energy.size < 8
        or not np.all(np.diff(energy) > 0)
        or (abs(float(ax.scale) - 1.0) < 1e-12 and float(ax.offset) == 0.0)
    ):
        raise CalibrationError(
            f"{name}: energy axis looks uncalibrated (offset {ax.offset!r}, scale {ax.scale!r}); "
            "set the energy-loss offset and dispersion in eV"
        )
    beam, alpha, beta = (
        _microscope(spectrum, name)
        if microscope
        else (DEFAULTS["beam_energy"], DEFAULTS["convergence_angle"], DEFAULTS["collection_angle"])
    )
    return SpectrumInput(
        data=data,
        energy_ev=energy,
        nav_shape=tuple(int(a.size) for a in nav_axes[::-1]),
        nav_scale=tuple(float(a.scale) for a in nav_axes[::-1]),
        nav_units=tuple(str(a.units) for a in nav_axes[::-1]),
        beam_energy_kev=beam,
        convergence_mrad=alpha,
        collection_mrad=beta,
        signal=spectrum,
    )


def edge_windows(
    element: str,
    energy_ev: np.ndarray,
    *,
    width_ev: float = 50.0,
    pre_ev: float = 60.0,
    gap_ev: float = 8.0,
    lead_ev: float = 5.0,
    name: str = "spectrum",
) -> dict:
    """Pre-edge fit window and integration window (eV) of one edge, checked against the axis.

    The integration window Δ is ``[onset - lead_ev, onset - lead_ev + width_ev)`` (real edges
    start a few eV below the tabulated onset: O K pre-peak, TM white lines); the background
    is fitted in ``[onset - lead_ev - gap_ev - pre_ev, onset - lead_ev - gap_ev)``.
    """
    onset = EDGE_ONSETS_EV[element]
    start = onset - lead_ev
    win = {
        "onset": onset,
        "pre": (start - gap_ev - pre_ev, start - gap_ev),
        "int": (start, start + width_ev),
    }
    lo, hi = float(energy_ev[0]), float(energy_ev[-1])
    edge = "O K" if element == "O" else f"{element} L2,3"
    if not (lo <= onset <= hi):
        raise StemstrainError(
            f"{name}: no {edge} edge in range: the {edge} onset ({onset:g} eV) lies outside the "
            f"energy axis {lo:.1f}-{hi:.1f} eV; record a range that covers it"
        )
    if win["pre"][0] < lo - 1e-9 or win["int"][1] > hi + 1e-9:
        need = f"{win['pre'][0]:.0f}-{win['int'][1]:.0f} eV"
        raise StemstrainError(
            f"{name}: the {edge} edge needs a background window and integration window over "
            f"{need}, but the energy axis covers {lo:.1f}-{hi:.1f} eV; widen the range or pass "
            "smaller width_ev / pre_ev"
        )
    n_pre = int(np.count_nonzero((energy_ev >= win["pre"][0]) & (energy_ev < win["pre"][1])))
    if n_pre < 4:
        raise StemstrainError(
            f"{name}: only {n_pre} channels in the {edge} background window {win['pre']} eV; "
            "need at least 4 (finer dispersion or larger pre_ev)"
        )
    return win
