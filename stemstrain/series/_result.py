"""Result objects of series analyses: :class:`GPASeriesResult` and :class:`SeriesResult`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._regions import region_mask
from .._strain import STRAIN_COMPONENTS, StrainFields
from ..errors import StemstrainError
from ..results import Calibration, ResultBase

__all__ = ["GPASeriesResult", "SeriesResult"]

_COMPONENTS = STRAIN_COMPONENTS


@dataclass(frozen=True)
class GPASeriesResult(StrainFields, ResultBase):
    """Strain maps of every frame of a drifting series against one common reference lattice.

    Attributes
    ----------
    exx, eyy, exy, rotation, dilatation, e_nn, e_tt, e_nt : ndarray (n_frames, H, W)
        The maps of :class:`stemstrain.GPAResult`, each in the pixel frame of its recorded image;
        NaN where undefined and for every pixel of a frame whose registration was flagged;
        ``.in_frame(normal)`` and ``.principal()`` give the derived maps, frame by frame.
    drift : ndarray (n_frames, 2)
        (x, y) px relative to frame 0: content at ``p`` in frame 0 is at ``p + drift[k]``.
    times : ndarray (n_frames,)
        Time (or frame index) of each frame, in ``time_units``.
    time_units : str
        Units of ``times`` ("frame" when the input had no time axis).
    g_vectors : ndarray (n_g, 2)
        The common reference lattice (refined on frame 0's reference region), 1/nm.
    pixel_size : float or None
        nm per px.
    calibration : Calibration
        Sampling of the maps.
    reference : tuple, ndarray or None
        Reference region in frame-0 coordinates, as given.
    resolution_nm : float
        FWHM of the GPA smoothing.
    normal : ndarray (2,)
        Layer normal (x, y) of the first g.
    quality : DataFrame
        A row per frame: ``frame, time, drift_x, drift_y, coarse_x, coarse_y, coarse_score``
        (image registration, NaN unless ``align="image"``), ``coherence`` (min over g of the
        mean unit phasor length in the reference region, 1 = rigid shift), ``ambiguity``
        (distance of the prediction from the chosen lattice translation, in periods; > 0.35
        flagged), ``method, valid_fraction, ref_exx, ref_eyy`` (median strain of the reference
        region against frame 0), ``ok, reason``, ``gpa_warnings`` (the doubts that frame's GPA
        raised, joined by " | "; frames after the first are summarised in one warning).
    mask : ndarray of bool (n_frames, H, W)
        Valid pixels.
    """

    drift: np.ndarray
    times: np.ndarray
    time_units: str
    g_vectors: np.ndarray
    pixel_size: float | None
    calibration: Calibration
    reference: Any
    resolution_nm: float
    normal: np.ndarray
    quality: Any
    mask: np.ndarray
    align: str = "auto"
    g_info: dict = field(default_factory=dict, repr=False)

    group: ClassVar[str] = "gpa_series"
    map_fields: ClassVar[tuple[str, ...]] = _COMPONENTS
    array_fields: ClassVar[tuple[str, ...]] = ("drift", "times", "g_vectors", "normal", "mask")
    table_fields: ClassVar[tuple[str, ...]] = ("quality",)
    attr_fields: ClassVar[tuple[str, ...]] = ("resolution_nm", "time_units", "align")

    def __repr__(self) -> str:
        n = self.exx.shape[0]
        ok = int(np.asarray(self.frame_ok).sum())
        return (
            f"GPASeriesResult(frames={n}, shape={tuple(self.exx.shape[1:])}, ok={ok}/{n}, "
            f"total drift={np.hypot(*self.drift[-1]):.2f} px)"
        )

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.exx.shape[0])

    @property
    def frame_ok(self) -> np.ndarray:
        """Bool per frame: registration accepted (maps are NaN where False)."""
        return self.quality["ok"].to_numpy(bool)

    def attrs(self) -> dict[str, Any]:
        """Attributes: calibration, resolution, time units and the reference region."""
        out = super().attrs()
        ref = self.reference
        if ref is None:
            out["reference"] = "whole frame 0"
        elif isinstance(ref, np.ndarray):
            out["reference"] = f"mask of {int(ref.sum())} px (frame 0)"
        else:
            out["reference"] = json.dumps([int(v) for v in ref])
        out["drift_convention"] = "(x, y) px; frame-0 content at p is at p + drift[k] in frame k"
        out["g_info"] = json.dumps(self.g_info, default=str)
        return out

    def region_series(
        self,
        region: Any,
        component: str = "exx",
        *,
        follow_drift: bool = True,
    ) -> Any:
        """Statistics of one component in a region through the series.

        Parameters
        ----------
        region : (row0, row1, col0, col1), two slices or bool mask
            In frame-0 coordinates; moved with the drift in each frame (``follow_drift``).
        component : str
            One of ``exx, eyy, exy, rotation, dilatation, e_nn, e_tt, e_nt``.
        follow_drift : bool
            Move the region with the drift (default) or keep it fixed in the image.

        Returns
        -------
        DataFrame
            A row per frame: ``frame, time, mean, median, std, n`` (NaN for flagged frames).
        """
        import pandas as pd

        from ._register import shift_mask

        if component not in _COMPONENTS:
            raise StemstrainError(f"component must be one of {_COMPONENTS}, got {component!r}")
        maps = getattr(self, component)
        m0 = region_mask(region, maps.shape[1:], "region", none_is_all=False)
        rows = []
        for k in range(self.n_frames):
            m = shift_mask(m0, self.drift[k]) if follow_drift else m0
            v = maps[k][m]
            v = v[np.isfinite(v)]
            ok = v.size > 0
            rows.append(
                {
                    "frame": k,
                    "time": float(self.times[k]),
                    "mean": float(v.mean()) if ok else np.nan,
                    "median": float(np.median(v)) if ok else np.nan,
                    "std": float(v.std()) if ok else np.nan,
                    "n": int(v.size),
                }
            )
        return pd.DataFrame(rows)

    def save_movie(self, path: Any, component: str = "exx", **kwargs: Any) -> Any:
        """Write a movie of one component (gif always; mp4 when imageio-ffmpeg is installed)."""
        from ..plot import save_movie

        return save_movie(self, path, component=component, **kwargs)

    def to_signal(self, component: str | None = None) -> Any:
        """HyperSpy Signal2D: one component (time, y, x), or all (map, time, y, x) when None."""
        import hyperspy.api as hs

        names = list(_COMPONENTS) if component is None else [component]
        if component is not None and component not in _COMPONENTS:
            raise StemstrainError(f"component must be one of {_COMPONENTS}, got {component!r}")
        data = np.stack([np.asarray(getattr(self, n), dtype=float) for n in names])
        sig = hs.signals.Signal2D(data if component is None else data[0])
        cal = self.calibration
        for ax, samp, unit in zip(
            sig.axes_manager.signal_axes[::-1], cal.sampling, cal.units, strict=True
        ):
            ax.scale, ax.units = samp, unit
        t_ax = sig.axes_manager.navigation_axes[0]
        t_ax.name, t_ax.units = "time", self.time_units
        if self.n_frames > 1:
            t_ax.offset = float(self.times[0])
            t_ax.scale = float(self.times[1] - self.times[0]) or 1.0
        if component is None:
            sig.axes_manager.navigation_axes[1].name = "map"
        sig.metadata.General.title = f"gpa_series: {', '.join(names)}"
        sig.metadata.set_item("stemstrain.maps", names)
        return sig


@dataclass(frozen=True)
class SeriesResult(ResultBase):
    """Any per-frame analysis through a series (:func:`series_apply`).

    Attributes
    ----------
    frames : tuple
        The per-frame results (``None`` where the analysis failed).
    table : DataFrame
        A row per frame: ``frame, time, status, error`` and the scalar figures given by the
        ``scalars`` function of :func:`series_apply`.
    times : ndarray (n_frames,)
        Time (or frame index) of each frame.
    time_units : str
        Units of ``times``.
    name : str
        Name of the analysis (HDF5 group ``series_<name>``).
    """

    frames: tuple
    table: Any
    times: np.ndarray
    time_units: str
    name: str
    pixel_size: float | None = None

    table_fields: ClassVar[tuple[str, ...]] = ("table",)
    array_fields: ClassVar[tuple[str, ...]] = ("times",)
    attr_fields: ClassVar[tuple[str, ...]] = ("time_units", "name")

    @property
    def group(self) -> str:  # type: ignore[override]
        """HDF5 group name ``series_<name>``."""
        return f"series_{self.name}"
