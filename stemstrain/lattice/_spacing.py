"""Local interlayer (003) and in-plane spacings from traced TM columns (:func:`layer_spacing`).

Interlayer spacing: for every column of layer k, the distance to layer k+1 measured
perpendicular to the segment of layer k+1 that brackets it (the two columns of layer
k+1 on either side along ``t``), located at the midpoint between the column and its
foot on layer k+1. In-plane spacing: distance between consecutive columns of a chain
divided by their index difference, located at their midpoint. Both are interpolated
onto the pixel grid (NaN outside the columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._validate import check_positive, image_and_pixel_size, is_signal
from ..errors import CalibrationError, StemstrainError
from ..results import ResultBase
from ._curvature import _prepare_columns, _shape_from_columns, interpolate_map

__all__ = ["layer_spacing", "SpacingResult"]


@dataclass(frozen=True)
class SpacingResult(ResultBase):
    """Interlayer and in-plane spacings of a layered oxide.

    Attributes
    ----------
    gaps : pandas.DataFrame
        A row per column with a layer above: ``layer_below, layer_above, x, y`` (px, the
        midpoint across the gap), ``spacing_nm`` (local (003) spacing), ``deviation``
        (``spacing_nm / reference_nm - 1``).
    in_plane : pandas.DataFrame
        A row per pair of consecutive columns: ``layer, x, y`` (px, midpoint),
        ``spacing_nm`` (in-plane column period).
    spacing : ndarray (H, W)
        Interlayer spacing map, nm (NaN outside the columns).
    deviation : ndarray (H, W)
        Relative deviation of the interlayer spacing from ``reference_nm``.
    in_plane_spacing : ndarray (H, W)
        In-plane period map, nm.
    reference_nm : float
        Reference interlayer spacing (given, or the median of ``gaps.spacing_nm``).
    in_plane_reference_nm : float
        Median in-plane period, nm.
    pixel_size : float
        nm per pixel.
    """

    gaps: Any
    in_plane: Any
    spacing: np.ndarray
    deviation: np.ndarray
    in_plane_spacing: np.ndarray
    reference_nm: float
    in_plane_reference_nm: float
    pixel_size: float

    group: ClassVar[str] = "spacing"
    map_fields: ClassVar[tuple[str, ...]] = ("spacing", "deviation", "in_plane_spacing")
    table_fields: ClassVar[tuple[str, ...]] = ("gaps", "in_plane")
    attr_fields: ClassVar[tuple[str, ...]] = ("reference_nm", "in_plane_reference_nm")


def _gap_rows(cols: Any, t: np.ndarray, pixel_size: float) -> dict:
    """Perpendicular distance from each column of layer k to the polyline of layer k+1."""
    out = {k: [] for k in ("layer_below", "layer_above", "x", "y", "spacing_nm")}
    xy_all = cols[["x", "y"]].to_numpy(float)
    layer = cols.layer.to_numpy()
    s_all = xy_all @ t
    by_layer = {int(k): np.nonzero(layer == k)[0] for k in np.unique(layer[layer >= 0])}
    for k, idx in by_layer.items():
        up = by_layer.get(k + 1)
        if up is None or len(up) < 2:
            continue
        up = up[np.argsort(s_all[up])]
        s_up = s_all[up]
        j = np.searchsorted(s_up, s_all[idx])
        ok = (j > 0) & (j < len(up))
        i, j = idx[ok], j[ok]
        p0, p1 = xy_all[up[j - 1]], xy_all[up[j]]
        seg = p1 - p0
        seg_len = np.hypot(seg[:, 0], seg[:, 1])
        rel = xy_all[i] - p0
        dist = np.abs(seg[:, 0] * rel[:, 1] - seg[:, 1] * rel[:, 0]) / seg_len
        foot = p0 + seg * (np.einsum("ij,ij->i", rel, seg) / seg_len**2)[:, None]
        mid = 0.5 * (xy_all[i] + foot)
        out["layer_below"].append(np.full(len(i), k))
        out["layer_above"].append(np.full(len(i), k + 1))
        out["x"].append(mid[:, 0])
        out["y"].append(mid[:, 1])
        out["spacing_nm"].append(dist * pixel_size)
    return {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in out.items()}


def _in_plane_rows(cols: Any, pixel_size: float) -> dict:
    out = {k: [] for k in ("layer", "x", "y", "spacing_nm")}
    for _, g in cols[cols.layer >= 0].groupby("chain", sort=False):
        if len(g) < 2:
            continue
        g = g.sort_values("layer_pos")
        xy = g[["x", "y"]].to_numpy(float)
        dpos = np.diff(g.layer_pos.to_numpy())
        d = np.hypot(*np.diff(xy, axis=0).T) / np.maximum(dpos, 1)
        mid = 0.5 * (xy[1:] + xy[:-1])
        out["layer"].append(np.full(len(d), int(g.layer.iloc[0])))
        out["x"].append(mid[:, 0])
        out["y"].append(mid[:, 1])
        out["spacing_nm"].append(d * pixel_size)
    return {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in out.items()}


def layer_spacing(
    image: Any,
    pixel_size: float | None = None,
    *,
    columns: Any = None,
    reference_nm: float | None = None,
    shape: tuple[int, int] | None = None,
    backend: str = "numpy",
) -> SpacingResult:
    """Local interlayer (003) spacing, its deviation from a reference, and in-plane spacing.

    Parameters
    ----------
    image : array (H, W), HyperSpy Signal2D or pandas.DataFrame
        HAADF image, or directly a columns table from :func:`find_columns` (then
        ``shape`` or the columns' extent gives the map shape).
    pixel_size : float, optional
        nm per pixel (else from the signal, else from the columns' ``attrs``).
    columns : pandas.DataFrame, optional
        Columns already found in ``image`` (skips :func:`find_columns`).
    reference_nm : float, optional
        Reference interlayer spacing (e.g. 0.468 for LiCoO2); default: the median.
    shape : (int, int), optional
        Map shape when only columns are given.
    backend : {"numpy", "cupy", "auto"}
        Backend of column finding.

    Returns
    -------
    SpacingResult

    Raises
    ------
    CalibrationError
        No pixel size.
    NoLatticeError
        Fewer than two traced layers.

    Examples
    --------
    >>> from stemstrain.synthetic import layered_oxide
    >>> lat = layered_oxide((256, 256), o1_gaps=(0, 1), seed=0)
    >>> res = layer_spacing(lat.image, pixel_size=lat.pixel_size)
    >>> bool(abs(res.gaps.spacing_nm.max() - 0.468) < 0.01)
    True
    """
    data = None
    if hasattr(image, "columns") and not is_signal(image):
        columns, px = image, pixel_size
        px = check_positive(px, "pixel_size") if px is not None else columns.attrs.get("pixel_size")
    else:
        data, px = image_and_pixel_size(image, pixel_size, "image")
        if px is None and columns is not None:
            px = columns.attrs.get("pixel_size")
    if px is None:
        raise CalibrationError(
            "layer_spacing needs the pixel size: pass pixel_size= in nm or a "
            "calibrated HyperSpy signal"
        )
    px = float(px)
    if reference_nm is not None:
        reference_nm = check_positive(reference_nm, "reference_nm")
    cols = _prepare_columns(data, px, columns, backend)
    t = np.asarray(cols.attrs["tangent"], dtype=float)
    gaps = _gap_rows(cols, t, px)
    if gaps["spacing_nm"].size == 0:
        from ..errors import NoLatticeError

        raise NoLatticeError("image: fewer than two traced TM layers; no interlayer spacing")
    if shape is None:
        shape = data.shape if data is not None else _shape_from_columns(cols)
    return _assemble(gaps, _in_plane_rows(cols, px), cols, shape, px, reference_nm)


def _assemble(gaps, inpl, cols, shape, px, reference_nm):
    import pandas as pd

    g = pd.DataFrame(gaps)
    med = float(np.median(g.spacing_nm))
    # numbering defects (a dislocation core) give 0 or 2 spacings: drop them
    g = g[(g.spacing_nm > 0.4 * med) & (g.spacing_nm < 1.8 * med)].reset_index(drop=True)
    ref = float(reference_nm) if reference_nm is not None else float(np.median(g.spacing_nm))
    g["deviation"] = g.spacing_nm / ref - 1.0
    ip = pd.DataFrame(inpl)
    ip_ref = float(np.median(ip.spacing_nm)) if len(ip) else float("nan")
    shape = tuple(int(v) for v in shape)
    if len(shape) != 2:
        raise StemstrainError(f"shape must be (rows, cols), got {shape!r}")
    step = max(1, int(0.25 * cols.attrs.get("period_px", 4.0)))
    sig = 0.4 * cols.attrs.get("spacing_px", 8.0)
    smap = interpolate_map(
        g.x.to_numpy(), g.y.to_numpy(), g.spacing_nm.to_numpy(), shape, step, sigma_px=sig
    )
    ipmap = (
        interpolate_map(
            ip.x.to_numpy(), ip.y.to_numpy(), ip.spacing_nm.to_numpy(), shape, step, sigma_px=sig
        )
        if len(ip)
        else np.full(shape, np.nan)
    )
    return SpacingResult(
        gaps=g,
        in_plane=ip,
        spacing=smap,
        deviation=smap / ref - 1.0,
        in_plane_spacing=ipmap,
        reference_nm=ref,
        in_plane_reference_nm=ip_ref,
        pixel_size=px,
    )
