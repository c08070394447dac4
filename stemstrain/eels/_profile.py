"""Surface-to-interior profiles of O/TM and sampling at the points of maximum curvature."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._compat import keyword_only_after
from ..errors import InputShapeError, StemstrainError

__all__ = ["detect_surface", "ratio_profile", "correlate_with_curvature", "particle_mask"]

#: TM-edge significance (counts / 1 sigma) above which a position is inside the particle
INSIDE_SIGMA = 5.0


def detect_surface(
    significance: np.ndarray, *, surface: Any = None, threshold: float = INSIDE_SIGMA
) -> tuple[int | None, int]:
    """First position inside the particle along a line scan, and the scan direction.

    Parameters
    ----------
    significance : ndarray (n,)
        TM edge counts over their 1 sigma.
    surface : int, optional
        Given surface index (returned as is, direction +1).
    threshold : float
        Significance above which a position is inside.

    Returns
    -------
    index : int or None
        Index of the first inside position (None when the scan never leaves the particle
        or never enters it).
    direction : int
        +1 when the scan goes vacuum -> particle, -1 when particle -> vacuum.
    """
    n = int(np.size(significance))
    if surface is not None:
        idx = int(surface)
        if not -n <= idx < n:
            raise StemstrainError(
                f"surface index {surface!r} is outside the line scan (0..{n - 1})"
            )
        return idx % n, 1
    inside = np.nan_to_num(np.asarray(significance, dtype=float), nan=0.0) >= threshold
    run = inside[:-1] & inside[1:]
    if n < 3 or not run.any() or run.all():
        return None, 1
    if not inside[0]:
        return int(np.argmax(run)), 1
    # scan starts inside: the surface is the last inside position before vacuum
    last = n - 1 - int(np.argmax(run[::-1])) - 0
    return int(last), -1


def particle_mask(result: Any, *, threshold: float = INSIDE_SIGMA) -> np.ndarray:
    """Positions inside the particle: TM edge significance >= ``threshold``."""
    sig = np.nan_to_num(np.asarray(result.significance_tm, dtype=float), nan=0.0)
    return sig >= threshold


def ratio_profile(result: Any, surface: Any = None, *, bin_nm: float | None = None) -> Any:
    """O/TM against distance from the surface, with the 1 sigma band.

    Parameters
    ----------
    result : RatioResult
        From :func:`o_tm_ratio`.
    surface : int or ndarray of bool, optional
        Line scan: index of the first inside position (default: ``result.surface_index``,
        detected by ``o_tm_ratio``). Spectrum image: boolean mask of the particle
        (default: TM edge significance >= 5); distance = Euclidean distance to the
        nearest pixel outside the mask, binned by ``bin_nm`` (default one pixel).
    bin_nm : float, optional
        Spectrum images: width of the distance bins in nm.

    Returns
    -------
    pandas.DataFrame
        ``distance_nm, ratio, uncertainty, lower, upper, n`` (``lower``/``upper`` = ratio
        -+ 1 sigma; spectrum images: inverse-variance weighted mean per bin and its error).

    Raises
    ------
    StemstrainError
        No surface found or given, or a mask of the wrong shape.
    """
    import pandas as pd

    ratio = np.asarray(result.ratio, dtype=float)
    unc = np.asarray(result.uncertainty, dtype=float)
    step = result.pixel_size or 1.0
    if ratio.ndim == 1:
        if surface is None and result.distance_nm is not None:
            dist = np.asarray(result.distance_nm, dtype=float)
        else:
            idx, direction = detect_surface(result.significance_tm, surface=surface)
            if idx is None:
                raise StemstrainError(
                    "ratio_profile: no surface found in the line scan (no "
                    "vacuum-to-particle step); pass surface=<index>"
                )
            dist = direction * (np.arange(ratio.size) - idx) * step
        keep = (dist >= 0) & np.isfinite(ratio)
        df = pd.DataFrame(
            {
                "distance_nm": dist[keep],
                "ratio": ratio[keep],
                "uncertainty": unc[keep],
                "n": np.ones(int(keep.sum()), int),
            }
        )
    elif ratio.ndim == 2:
        df = _image_profile(result, ratio, unc, surface, bin_nm or step, step)
    else:
        raise InputShapeError(
            f"ratio_profile needs a line scan or spectrum image, got ratio of shape {ratio.shape}"
        )
    df["lower"] = df["ratio"] - df["uncertainty"]
    df["upper"] = df["ratio"] + df["uncertainty"]
    return df.sort_values("distance_nm", ignore_index=True)


def _image_profile(
    result: Any,
    ratio: np.ndarray,
    unc: np.ndarray,
    surface: Any,
    bin_nm: float,
    step: float,
) -> Any:
    import pandas as pd
    from scipy import ndimage

    mask = particle_mask(result) if surface is None else np.asarray(surface, dtype=bool)
    if mask.shape != ratio.shape:
        raise StemstrainError(f"surface mask has shape {mask.shape}, the map {ratio.shape}")
    if mask.all() or not mask.any():
        raise StemstrainError(
            "ratio_profile: the particle mask is empty or fills the map, so "
            "there is no surface; pass surface=<boolean particle mask>"
        )
    # distance of pixel centres to the nearest outside pixel, minus half a pixel -> 0.5 px
    # for the outermost inside row, like a line scan's first position at distance 0
    dist = (ndimage.distance_transform_edt(mask) - 1.0) * step
    ok = mask & np.isfinite(ratio) & np.isfinite(unc) & (unc > 0)
    bins = np.floor(dist[ok] / bin_nm + 1e-9).astype(int)
    w = 1.0 / unc[ok] ** 2
    sw = np.bincount(bins, weights=w)
    swr = np.bincount(bins, weights=w * ratio[ok])
    count = np.bincount(bins)
    has = count > 0
    return pd.DataFrame(
        {
            "distance_nm": np.flatnonzero(has) * bin_nm,
            "ratio": swr[has] / sw[has],
            "uncertainty": 1.0 / np.sqrt(sw[has]),
            "n": count[has],
        }
    )


def _registration_matrix(
    registration: Any, haadf_px: float | None, eels_px: float | None
) -> np.ndarray:
    """2x3 affine matrix mapping HAADF (x, y, 1) px to spectrum-image (col, row)."""
    if registration is None:
        if not haadf_px or not eels_px:
            raise StemstrainError(
                "correlate_with_curvature: pixel sizes unknown; pass registration= "
                "{'scale': (sx, sy), 'offset': (ox, oy)} or a 2x3 affine matrix"
            )
        s = float(haadf_px) / float(eels_px)
        return np.array([[s, 0.0, 0.0], [0.0, s, 0.0]])
    if isinstance(registration, dict):
        sx, sy = np.broadcast_to(np.asarray(registration.get("scale", 1.0), float), (2,))
        ox, oy = np.broadcast_to(np.asarray(registration.get("offset", 0.0), float), (2,))
        return np.array([[sx, 0.0, ox], [0.0, sy, oy]])
    mat = np.asarray(registration, dtype=float)
    if mat.shape == (3, 3):
        mat = mat[:2]
    if mat.shape != (2, 3):
        raise StemstrainError(
            f"registration must be a dict or a 2x3 affine matrix, got shape {mat.shape}"
        )
    return mat


@keyword_only_after(2, order=("registration",))
def correlate_with_curvature(
    ratio_result: Any, curvature_result: Any, *, registration: Any = None, n_points: int = 1
) -> Any:
    """Sample an EELS map at the largest ``|curvature|`` of a registered HAADF analysis.

    Parameters
    ----------
    ratio_result : RatioResult, ValenceResult or PrePeakResult
        A spectrum-image result: O/TM ``ratio``, TM ``valence`` or O K pre-peak ``ratio``
        (2-D).
    curvature_result : CurvatureResult
        From ``ss.layer_curvature`` on a HAADF image of the same area: ``max_location``
        ((x, y) px) and ``map`` (1/nm, NaN where undefined).
    registration : dict or array (2, 3), optional
        Maps HAADF pixel coordinates to spectrum-image coordinates:
        ``col = A[0] @ (x, y, 1)``, ``row = A[1] @ (x, y, 1)`` (pixel centres at integers).
        A dict ``{"scale": (sx, sy), "offset": (ox, oy)}`` means ``col = sx x + ox``,
        ``row = sy y + oy``. Default: same origin, scale = HAADF pixel size / SI pixel size.
    n_points : int
        Number of points sampled: ``max_location`` first, then the next largest ``|curvature|``
        pixels of the map (at least 2 SI pixels apart).

    Returns
    -------
    pandas.DataFrame
        One row per point: ``x, y`` (HAADF px), ``col, row`` (SI, nearest pixel),
        ``curvature`` (1/nm), the value (column ``ratio`` or ``valence``), ``uncertainty``
        (its 1 sigma), and ``<value>_elsewhere`` / ``difference_sigma``: the mean of the
        other inside pixels and the point's difference from it in units of the point's
        statistical 1 sigma (a systematic common to all pixels, like the absolute O/TM
        cross-section error, does not enter a difference).
    """
    import pandas as pd

    name = "valence" if hasattr(ratio_result, "valence") else "ratio"
    ratio = np.asarray(getattr(ratio_result, name), dtype=float)
    if ratio.ndim != 2:
        raise InputShapeError(
            "correlate_with_curvature needs a spectrum-image result "
            f"(2-D {name}), got shape {ratio.shape}"
        )
    unc = np.asarray(ratio_result.uncertainty, dtype=float)
    stat = getattr(ratio_result, "uncertainty_statistical", None)
    unc_diff = unc if stat is None else np.asarray(stat, dtype=float)
    mat = _registration_matrix(
        registration, getattr(curvature_result, "pixel_size", None), ratio_result.pixel_size
    )
    points = _curvature_points(curvature_result, mat, ratio.shape, n_points)
    rows = []
    inside = np.isfinite(ratio)
    for x, y, curv in points:
        col, row = mat @ np.array([x, y, 1.0])
        c, r = int(round(col)), int(round(row))
        if not (0 <= r < ratio.shape[0] and 0 <= c < ratio.shape[1]):
            raise StemstrainError(
                f"curvature point (x={x:.1f}, y={y:.1f}) px maps to SI (col={col:.1f}, "
                f"row={row:.1f}), outside the {ratio.shape} map; check registration"
            )
        other = inside.copy()
        other[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2] = False
        elsewhere = float(np.nanmean(ratio[other])) if other.any() else np.nan
        rows.append(
            {
                "x": x,
                "y": y,
                "col": c,
                "row": r,
                "curvature": curv,
                name: ratio[r, c],
                "uncertainty": unc[r, c],
                f"{name}_elsewhere": elsewhere,
                "difference_sigma": (ratio[r, c] - elsewhere) / unc_diff[r, c],
            }
        )
    return pd.DataFrame(rows)


def _curvature_points(
    curv: Any, mat: np.ndarray, si_shape: tuple[int, int], n_points: int
) -> list[tuple[float, float, float]]:
    """(x, y, curvature) of the max-curvature location and the next largest map pixels."""
    cmap = getattr(curv, "map", None)
    cmap = None if cmap is None else np.asarray(cmap, dtype=float)
    x0, y0 = (float(v) for v in curv.max_location)
    c0 = np.nan
    if cmap is not None:
        yi, xi = int(round(y0)), int(round(x0))
        if 0 <= yi < cmap.shape[0] and 0 <= xi < cmap.shape[1]:
            c0 = float(cmap[yi, xi])
    points = [(x0, y0, c0)]
    if n_points <= 1 or cmap is None:
        return points
    order = np.argsort(np.nan_to_num(-np.abs(cmap), nan=np.inf), axis=None)
    taken = [mat @ np.array([x0, y0, 1.0])]
    for flat in order:
        y, x = np.unravel_index(flat, cmap.shape)
        if not np.isfinite(cmap[y, x]):
            break
        pos = mat @ np.array([x, y, 1.0])
        c, r = int(round(pos[0])), int(round(pos[1]))
        if not (0 <= r < si_shape[0] and 0 <= c < si_shape[1]):
            continue  # secondary points outside the spectrum image are skipped
        if all(np.hypot(*(pos - p)) >= 2.0 for p in taken):
            points.append((float(x), float(y), float(cmap[y, x])))
            taken.append(pos)
        if len(points) >= n_points:
            break
    return points


def mean_profile(result: Any, *, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of an EELS map along one axis, with the 1 sigma of that mean.

    The counting errors of the pixels are independent, so they average down:
    ``sigma_mean = sqrt(sum sigma_i^2) / n`` (not the per-pixel RMS, which is sqrt(n) too
    wide). A systematic part common to all pixels (the model's cross-section error: the
    difference between ``uncertainty`` and ``uncertainty_statistical``) does not average
    down and is added back in quadrature.

    Parameters
    ----------
    result : RatioResult, ValenceResult or PrePeakResult
        A spectrum-image result (2-D ``ratio`` or ``valence``); a line scan is returned as is.
    axis : int
        Axis averaged over (0: the column profile of a map).

    Returns
    -------
    mean, sigma, n : ndarray
        Mean over the finite pixels, its 1 sigma, and the number of pixels (0: NaN).
    """
    name = "valence" if hasattr(result, "valence") else "ratio"
    value = np.asarray(getattr(result, name), dtype=float)
    total = np.asarray(result.uncertainty, dtype=float)
    stat = getattr(result, "uncertainty_statistical", None)
    stat = total if stat is None else np.asarray(stat, dtype=float)
    if value.ndim < 2:
        return value, total, np.isfinite(value).astype(int)
    ok = np.isfinite(value) & np.isfinite(stat)
    n = ok.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, value, 0).sum(axis=axis) / n
        stat_mean = np.sqrt((np.where(ok, stat, 0) ** 2).sum(axis=axis)) / n
        sys = np.sqrt(np.maximum(np.where(ok, total, 0) ** 2 - np.where(ok, stat, 0) ** 2, 0))
        sys_mean = sys.sum(axis=axis) / n
    return mean, np.hypot(stat_mean, sys_mean), n


def _surface_interior(values: np.ndarray, dist: Any) -> tuple[float, float]:
    """Surface (mean over the first nm inside) and interior (median of the far half) values.

    Without distances (line scan): the first finite value and the median of the second
    half; a map: NaN surface and the median of the finite pixels.
    """
    v = np.asarray(values, dtype=float)
    finite = np.isfinite(v)
    surface, interior = float("nan"), float("nan")
    if not finite.any():
        return surface, interior
    if v.ndim == 1 and dist is not None:
        d = np.asarray(dist, dtype=float)
        near = finite & (d >= 0) & (d < 1.0)
        if near.any():
            surface = float(v[near].mean())
        far = finite & (d > 0.5 * np.nanmax(d))
        if far.any():
            interior = float(np.median(v[far]))
    elif v.ndim == 1:
        vals = v[finite]
        surface, interior = float(vals[0]), float(np.median(vals[vals.size // 2 :]))
    else:
        interior = float(np.median(v[finite]))
    return surface, interior


def eels_key_figures(ratio_result: Any, *, valence: Any = None, prepeak: Any = None) -> dict:
    """Surface and interior key figures of an EELS analysis (the batch summary columns).

    Surface: the mean over the first nanometre inside the particle (``distance_nm`` of the
    O/TM line scan in [0, 1)), or the first finite position when no distance is known.
    Interior: the median of the inner half (positions beyond half the largest distance);
    spectrum images: interior = median of the map, surface NaN.

    Parameters
    ----------
    ratio_result : RatioResult
        From :func:`o_tm_ratio` (its ``distance_nm`` defines surface and interior).
    valence : ValenceResult, optional
        From :func:`tm_valence` on the same spectra.
    prepeak : PrePeakResult, optional
        From :func:`o_prepeak_ratio` on the same spectra.

    Returns
    -------
    dict
        ``o_tm_surface``, ``o_tm_interior`` and, when given, ``valence_surface``,
        ``valence_interior``, ``o_prepeak_surface``, ``o_prepeak_interior`` (NaN where
        undefined).
    """
    dist = getattr(ratio_result, "distance_nm", None)
    maps = {"o_tm": ratio_result.ratio}
    if valence is not None:
        maps["valence"] = valence.valence
    if prepeak is not None:
        maps["o_prepeak"] = prepeak.ratio
    out: dict = {}
    for prefix, values in maps.items():
        out[f"{prefix}_surface"], out[f"{prefix}_interior"] = _surface_interior(values, dist)
    return out
