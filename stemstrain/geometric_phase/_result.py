"""The GPA result object."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._strain import STRAIN_COMPONENTS, StrainFields
from ..results import Calibration, ResultBase

__all__ = ["GPAResult", "Deferred"]


class Deferred:
    """A field value computed on first access (see :class:`_LazyField`).

    ``GPAResult(dilatation=Deferred(make), ...)``: ``make()`` runs when the field is first
    read (then the value replaces it); pickling and copying compute it first.
    """

    __slots__ = ("make",)

    def __init__(self, make: Any) -> None:
        self.make = make

    def __reduce__(self) -> tuple:
        return (_value, (self.make(),))


def _value(v: Any) -> Any:
    return v


class _LazyField:
    """Data descriptor of a dataclass field that may hold a :class:`Deferred` value.

    Class access returns ``default``; without one it raises AttributeError, so the
    dataclass sees a field without default.
    """

    _NONE = object()

    def __init__(self, default: Any = _NONE) -> None:
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            if self.default is _LazyField._NONE:
                raise AttributeError(self.name)
            return self.default
        value = obj.__dict__[self.name]
        if isinstance(value, Deferred):
            value = value.make()
            obj.__dict__[self.name] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value


def _deferred_fields(*names: str) -> Any:
    """Class decorator: the (inherited) dataclass fields ``names`` accept :class:`Deferred`."""

    def wrap(cls: type) -> type:
        for name in names:
            lazy = _LazyField()
            lazy.__set_name__(cls, name)
            setattr(cls, name, lazy)
        return cls

    return wrap


@_deferred_fields("dilatation", "e_nn", "e_tt", "e_nt")
@dataclass(frozen=True)
class GPAResult(StrainFields, ResultBase):
    """Strain, rotation and layer-frame maps from geometric phase analysis.

    Attributes
    ----------
    exx, eyy, exy, rotation, dilatation : ndarray (H, W)
        Lagrangian small strain and rotation in the image frame (API.md signs:
        ``rotation = (du_x/dy - du_y/dx)/2``, positive = counter-clockwise as displayed).
        NaN where the Bragg amplitude of any g is low (vacuum, amorphous, holes).
    e_nn, e_tt, e_nt : ndarray (H, W)
        The same tensor in the layer frame: ``n`` = ``normal``, ``t = (n_y, -n_x)``.
    amplitude : ndarray (n_g, H, W)
        Bragg amplitude |H_g| per g (image intensity units).
    g_vectors : ndarray (n_g, 2)
        Refined g-vectors, rows (gx, gy), in 1/nm (1/px when uncalibrated).
    pixel_size : float or None
        nm per pixel.
    calibration : Calibration
        Sampling of the maps.
    reference : tuple, ndarray or None
        The reference region as given: (row0, row1, col0, col1), a boolean mask or None.
    resolution_nm : float
        Effective resolution: FWHM of the real-space Gaussian smoothing (nm, px if
        uncalibrated), ``0.3748 / sigma_g``.
    normal : ndarray (2,)
        Unit layer normal (x, y), along the (003) g, with n_y > 0.
    g_info : dict
        How the g-vectors were chosen (candidates, reason), initial g, sigma_g.
    mask : ndarray of bool (H, W)
        True where the maps are valid.
    phases : ndarray (n_g, H, W) or None
        Wrapped phases P_g (rad) when ``gpa(..., phases=True)``.
    phasor_lowres : ndarray (n_g, m_y, m_x) complex or None
        Unit phasors exp(i P_g) on the coarse grid (used by :func:`find_dislocations`).
    lowres_step : tuple of float
        Pixels per coarse-grid sample along (row, col).
    backend : str
        Array module used ("numpy" or "cupy").
    uncertainty : Mapping of str to ndarray (H, W)
        1-sigma maps of every strain map (``uncertainty["exx"]``, ...) from the image
        noise propagated through the phase (``docs/notes/gpa.md``); NaN where invalid.
    crystalline : ndarray of bool (H, W) or None
        Pixels showing the chosen lattice (orientation survey), border band excluded.
    grains : ndarray of int16 (H, W) or None
        Grain labels (0 = none); each grain is measured against its own reference.
    grain_table : tuple of dict
        Per grain: label, fraction of the crystal, valid_fraction, orientation_deg
        (counter-clockwise as displayed, relative to the first g), refined g_vectors,
        reference kind and box, whether adaptive GPA was used, rotation_span_deg.
    quality : dict
        crystalline_fraction, valid_fraction, amplitude_median and amplitude_snr per g,
        noise_sigma and noise_source, phase_noise_ratio (measured scatter in the reference
        / predicted sigma), n_grains, adaptive, g_confidence; and the image border band:
        ``finite_fraction_image`` (share of all image pixels with finite maps = ``mask``),
        ``border_px`` / ``border_nm`` (width of the NaN band along each image edge; nm is
        NaN when uncalibrated; 0 when the field is too small for one, warned),
        ``border_fraction`` (share of the image inside it), ``border_sigmas`` (its width in
        kernel sigmas), ``border_bias_px`` (within this distance of the image edge the
        maps may be biased by more than 1e-3: ~3.25 kernel sigmas, measured on the
        generator; the band itself stops at ~2e-2), ``resolution_small_field`` (the
        default resolution was made finer because the field holds few periods).
        ``valid_fraction`` is the share of the *crystalline pixels outside the border band*
        that have valid maps: it ignores the band, so on small fields read it with
        ``finite_fraction_image``.
    warnings : tuple of str
        Why the result may be doubtful (each was also issued with ``warnings.warn``).

    Notes
    -----
    ``dilatation``, ``e_nn``, ``e_tt``, ``e_nt``, ``amplitude``, ``crystalline`` and
    ``grains`` are made at image size from the coarse grid on first access (speed:
    ``gpa`` pays only for the maps used); they are plain arrays once read, and saving
    or pickling a result computes them.
    """

    amplitude: np.ndarray = _LazyField()  # type: ignore[assignment]
    g_vectors: np.ndarray
    pixel_size: float | None
    calibration: Calibration
    reference: Any
    resolution_nm: float
    normal: np.ndarray
    g_info: dict
    mask: np.ndarray
    phases: np.ndarray | None = None
    phasor_lowres: np.ndarray | None = field(default=None, repr=False)
    lowres_step: tuple[float, float] = (1.0, 1.0)
    backend: str = "numpy"
    uncertainty: Mapping = field(default_factory=dict, repr=False)
    crystalline: np.ndarray | None = _LazyField(None)  # type: ignore[assignment]
    grains: np.ndarray | None = _LazyField(None)  # type: ignore[assignment]
    grain_table: tuple = ()
    quality: dict = field(default_factory=dict)
    warnings: tuple = ()

    group: ClassVar[str] = "gpa"
    map_fields: ClassVar[tuple[str, ...]] = STRAIN_COMPONENTS
    array_fields: ClassVar[tuple[str, ...]] = (
        "amplitude",
        "g_vectors",
        "normal",
        "mask",
        "phases",
        "crystalline",
        "grains",
    )
    attr_fields: ClassVar[tuple[str, ...]] = ("resolution_nm", "backend")

    def __repr__(self) -> str:
        g = np.round(np.asarray(self.g_vectors), 4).tolist()
        return (
            f"GPAResult(shape={tuple(self.exx.shape)}, g_vectors={g}, "
            f"resolution_nm={self.resolution_nm:.3g}, valid={float(self.mask.mean()):.0%}, "
            f"grains={len(self.grain_table)}, warnings={len(self.warnings)})"
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Datasets: the maps, amplitudes, masks and ``sigma_<map>`` uncertainty maps."""
        out = super().arrays()
        for name in self.uncertainty:
            out[f"sigma_{name}"] = np.asarray(self.uncertainty[name])
        return out

    def attrs(self) -> dict[str, Any]:
        """Attributes: pixel size, units, resolution, g choice and a compact reference."""
        out = super().attrs()
        ref = self.reference
        if ref is None:
            out["reference"] = "mean lattice of the crystal"
        elif isinstance(ref, str):
            out["reference"] = ref
        elif isinstance(ref, np.ndarray):
            out["reference"] = f"mask of {int(ref.sum())} px"
        elif all(isinstance(v, slice) for v in ref):
            out["reference"] = json.dumps([[v.start, v.stop] for v in ref])
        else:
            out["reference"] = json.dumps([int(v) for v in ref])
        out["g_info"] = json.dumps(self.g_info, default=str)
        out["quality"] = json.dumps(self.quality, default=str)
        out["warnings"] = json.dumps(list(self.warnings))
        out["grain_table"] = json.dumps(list(self.grain_table), default=str)
        out["g_units"] = "1/nm" if self.pixel_size else "1/px"
        return out
