"""Particle surface, surface-layer thickness per segment, inward profile, and voids.

Surface: the boundary between the crystal mask and vacuum inside the image (the image
border is not a surface). Every crystal pixel gets its depth (distance to the nearest
vacuum pixel, nm) and the arc-length position ``s`` of that vacuum pixel along the longest
surface contour. The thickness of a phase in a surface segment is the integral over depth
of the fraction of that segment's pixels that carry the phase,
``t_p = sum_bins f_p(depth) * bin``, which does not depend on the surface curvature (an
area divided by a length would read ``t - kappa t^2 / 2``).

Voids: dark compact regions inside the crystal. The local mean intensity (Gaussian
low-pass) is divided by a smooth crystal level (a quadratic surface fitted to the crystal
away from the candidates, twice); the relative deficit ``delta`` above ``min_contrast``
gives candidates of 1-20 nm. A spherical void of radius ``R`` in a slab gives a deficit
proportional to the chord ``sqrt(R^2 - r^2)``, whose weighted second moment is
``<r^2> = 2 R^2 / 5``; the Gaussian blur of the low-pass (``sigma_b``) adds ``2 sigma_b^2``,
so ``R = sqrt(5/2 (<r^2> - 2 sigma_b^2))``, measured inside a disc of 1.6 x the
thresholded radius around the deficit-weighted centre.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

SURFACE_COLUMNS = ["segment", "s_nm", "phase", "thickness_nm"]
VOID_COLUMNS = [
    "x",
    "y",
    "diameter_nm",
    "area_nm2",
    "depth_contrast",
    "distance_to_surface_nm",
    "distance_to_curvature_max_nm",
]


def surface_geometry(crystal: np.ndarray, px: float):
    """Depth (nm) and arc position ``s`` (nm) of every pixel's nearest surface point.

    Returns
    -------
    depth : ndarray (H, W)
        nm, NaN where there is no vacuum in the image or outside the crystal.
    s : ndarray (H, W)
        nm along the longest surface contour, NaN where undefined.
    length : float
        Length of that contour (nm), 0 when there is no surface.
    """
    from skimage import measure

    vac = ~crystal
    nan = np.full(crystal.shape, np.nan)
    if not vac.any() or not crystal.any():
        return nan, nan.copy(), 0.0
    dist, (iy, ix) = ndi.distance_transform_edt(crystal, return_indices=True)
    contours = measure.find_contours(crystal.astype(float), 0.5)
    c = max(contours, key=len)
    seg = np.hypot(*np.diff(c, axis=0).T)
    s_c = np.r_[0.0, np.cumsum(seg)] * px
    tree = cKDTree(c)
    inside = crystal
    # nearest vacuum pixel of every crystal pixel -> its position along the contour
    near = iy[inside] * crystal.shape[1] + ix[inside]
    uniq, inv = np.unique(near, return_inverse=True)
    _, k = tree.query(np.c_[uniq // crystal.shape[1], uniq % crystal.shape[1]])
    s = nan.copy()
    s[inside] = s_c[k][inv]
    depth = np.where(inside, dist * px, np.nan)
    return depth, s, float(s_c[-1])


def surface_layers(
    labels: np.ndarray,
    depth: np.ndarray,
    s: np.ndarray,
    length: float,
    phase_codes: dict,
    *,
    segment_nm: float,
    max_depth_nm: float,
    bin_nm: float,
):
    """Thickness per segment and phase, the inward profile and per-phase mean/std.

    Returns
    -------
    layers : DataFrame
        ``segment, s_nm, phase, thickness_nm`` (one row per segment and non-layered phase).
    profile : DataFrame
        ``depth_nm`` and one fraction column per phase (over the whole surface).
    summary : dict
        phase -> {"mean_nm", "std_nm", "n_segments"}.
    """
    names = [p for p in phase_codes if p != "layered"]
    ok = np.isfinite(depth) & (depth < max_depth_nm) & np.isfinite(s)
    n_bins = int(np.ceil(max_depth_nm / bin_nm))
    if length <= 0 or not ok.any():
        empty = pd.DataFrame({c: pd.Series(dtype=float) for c in SURFACE_COLUMNS})
        empty["phase"] = empty["phase"].astype(object)
        prof = pd.DataFrame({"depth_nm": (np.arange(n_bins) + 0.5) * bin_nm})
        return empty, prof, {}
    n_seg = max(1, int(round(length / segment_nm)))
    seg_len = length / n_seg
    seg = np.minimum((s[ok] / seg_len).astype(int), n_seg - 1)
    b = np.minimum((depth[ok] / bin_nm).astype(int), n_bins - 1)
    lab = labels[ok]
    total = np.bincount(seg * n_bins + b, minlength=n_seg * n_bins).reshape(n_seg, n_bins)
    rows, prof = [], {"depth_nm": (np.arange(n_bins) + 0.5) * bin_nm}
    summary = {}
    all_total = total.sum(0)
    for name in ["layered", *names]:
        code = phase_codes[name]
        cnt = np.bincount(
            seg * n_bins + b, weights=(lab == code), minlength=n_seg * n_bins
        ).reshape(n_seg, n_bins)
        prof[name] = np.where(all_total > 0, cnt.sum(0) / np.maximum(all_total, 1), np.nan)
        if name == "layered":
            continue
        frac = np.where(total > 0, cnt / np.maximum(total, 1), 0.0)
        thick = frac.sum(1) * bin_nm
        valid = total.sum(1) > 0
        for i in np.nonzero(valid)[0]:
            rows.append((int(i), (i + 0.5) * seg_len, name, float(thick[i])))
        summary[name] = {
            "mean_nm": float(np.mean(thick[valid])),
            "std_nm": float(np.std(thick[valid])),
            "n_segments": int(valid.sum()),
        }
    layers = pd.DataFrame(rows, columns=SURFACE_COLUMNS)
    return layers, pd.DataFrame(prof), summary


def _quadratic_level(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    basis = np.stack([np.ones_like(xx), xx, yy, xx * xx, xx * yy, yy * yy])
    a = basis[:, mask].T
    coef, *_ = np.linalg.lstsq(a, img[mask], rcond=None)
    return np.tensordot(coef, basis, axes=1)


def _split_candidates(delta: np.ndarray, mask: np.ndarray, sigma: float, thr: float):
    """Label dark regions, split by watershed where several deficit maxima touch."""
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    lab, n = ndi.label(mask)
    if n == 0:
        return lab, 0
    smooth = ndi.gaussian_filter(delta, max(sigma / 2, 0.5))
    peaks = peak_local_max(
        smooth,
        min_distance=max(2, int(2 * sigma)),
        threshold_abs=2 * thr,
        labels=lab,
        exclude_border=False,
    )
    if len(peaks) <= n:
        return lab, n
    markers = np.zeros(lab.shape, int)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    ws = watershed(-smooth, markers, mask=mask)
    # regions without a marker peak keep their own label
    rest, m = ndi.label(mask & (ws == 0))
    ws = np.where(rest > 0, rest + len(peaks), ws)
    return ws, len(peaks) + m


def _drop_specks(lab: np.ndarray, min_area: float, inside: np.ndarray | None = None) -> np.ndarray:
    """Give label regions smaller than ``min_area`` samples the label of the nearest large one.

    With ``inside``, only regions inside that mask count (outside takes the nearest label).
    """
    keep = np.zeros(lab.shape, bool)
    inside = np.ones(lab.shape, bool) if inside is None else inside
    for code in np.unique(lab[inside]):
        comp, n = ndi.label((lab == code) & inside)
        if n == 0:
            continue
        area = np.bincount(comp.ravel(), minlength=n + 1)
        big = area >= min_area
        big[0] = False
        keep |= big[comp]
    if keep.all() or not keep.any():
        return lab
    _, (iy, ix) = ndi.distance_transform_edt(~keep, return_indices=True)
    return lab[iy, ix]


def _phase_level(
    mean: np.ndarray, labels: np.ndarray, interior: np.ndarray, sigma: float
) -> np.ndarray:
    """Median local mean of each phase (phases differ in density), blurred like ``mean``."""
    level = np.zeros_like(mean)
    default = float(np.median(mean[interior]))
    for code in np.unique(labels[interior]):
        sel = interior & (labels == code)
        level[labels == code] = np.median(mean[sel]) if sel.sum() > 10 else default
    level[~interior] = default
    return ndi.gaussian_filter(level, sigma)


def _sphere_error(patch, wgt, yy, xx, cy, cx, rad, sigma):
    prof = np.zeros_like(patch)
    for dy in (-0.25, 0.25):  # 2 x 2 supersampling of the sharp profile
        for dx in (-0.25, 0.25):
            rr = (yy + dy - cy) ** 2 + (xx + dx - cx) ** 2
            prof += np.sqrt(np.clip(1 - rr / rad**2, 0, None))
    model = ndi.gaussian_filter(prof / 4, sigma, mode="constant") * wgt
    amp = (model.ravel() @ patch.ravel()) / max(float((model**2).sum()), 1e-12)
    return float(((patch - amp * model) ** 2).sum())


def _fit_sphere(
    delta: np.ndarray, cy: float, cx: float, r_thr: float, sigma: float, valid: np.ndarray
) -> float:
    """Radius (samples) of the blurred spherical-void profile that best fits ``delta``.

    Model: ``delta0 * sqrt(1 - r^2 / R^2)`` blurred by a Gaussian of ``sigma`` samples,
    ``delta0`` by linear least squares; R from a geometric grid (0.5-3 x ``r_thr``), then a
    finer grid around the best; only ``valid`` samples are fitted, on one fixed patch so
    that residuals compare. Large voids are fitted on a block-averaged patch.
    """
    f = max(1, int(r_thr / 12))
    half = int(np.ceil(3 * r_thr + 4 * sigma + 2))
    y0, x0 = int(round(cy)), int(round(cx))
    ys = slice(max(y0 - half, 0), min(y0 + half + 1, delta.shape[0]))
    xs = slice(max(x0 - half, 0), min(x0 + half + 1, delta.shape[1]))
    wgt = (valid[ys, xs] & np.isfinite(delta[ys, xs])).astype(float)
    patch = np.where(wgt > 0, np.nan_to_num(delta[ys, xs]), 0.0)
    yy, xx = np.mgrid[ys, xs].astype(float)
    if f > 1:
        hh, ww = (patch.shape[0] // f) * f, (patch.shape[1] // f) * f

        def block(a):
            return a[:hh, :ww].reshape(hh // f, f, ww // f, f).mean(axis=(1, 3))

        patch, wgt, yy, xx = block(patch * wgt), block(wgt), block(yy), block(xx)
        patch = np.where(wgt > 0, patch / np.maximum(wgt, 1e-12), 0.0)
        wgt = (wgt > 0.5).astype(float)
        yy, xx, cy, cx, r_thr, sigma = yy / f, xx / f, cy / f, cx / f, r_thr / f, sigma / f
    radii = np.geomspace(max(0.5 * r_thr, 0.5), 3 * r_thr + sigma + 1, 14)
    errs = [_sphere_error(patch, wgt, yy, xx, cy, cx, r, sigma) for r in radii]
    k = int(np.argmin(errs))
    fine = np.linspace(radii[max(k - 1, 0)], radii[min(k + 1, len(radii) - 1)], 11)
    errs_f = [_sphere_error(patch, wgt, yy, xx, cy, cx, r, sigma) for r in fine]
    return float(fine[int(np.argmin(errs_f))]) * f


def find_voids(
    mean: np.ndarray,
    crystal: np.ndarray,
    labels: np.ndarray,
    depth: np.ndarray,
    stride: int,
    px: float,
    *,
    sigma_b_px: float,
    min_contrast: float,
    size_nm: tuple[float, float],
    curvature_xy: np.ndarray | None = None,
) -> pd.DataFrame:
    """Voids from the coarse local-mean map (stride px per sample).

    Returns
    -------
    DataFrame
        ``VOID_COLUMNS``, positions in full-image pixels.
    """
    cr = crystal[::stride, ::stride][: mean.shape[0], : mean.shape[1]]
    lab = labels[::stride, ::stride][: cr.shape[0], : cr.shape[1]]
    if mean.shape != cr.shape:
        mean = mean[: cr.shape[0], : cr.shape[1]]
    dep = depth[::stride, ::stride][: cr.shape[0], : cr.shape[1]]
    # the low-pass darkens the last ~2 sigma inside the surface: no voids there
    interior = ndi.binary_erosion(cr, iterations=2) & ~(dep < 2.5 * sigma_b_px * px)
    # phases differ in density: stay 2 sigma away from boundaries of extended phase regions
    lab = _drop_specks(lab, min_area=np.pi * (2 * sigma_b_px / stride) ** 2)
    size = 2 * int(np.ceil(2 * sigma_b_px / stride)) + 1
    interior &= ndi.maximum_filter(lab, size) == ndi.minimum_filter(lab, size)
    mean = mean / _phase_level(mean, lab, interior, sigma_b_px / stride)
    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in VOID_COLUMNS})
    if interior.sum() < 20:
        return empty
    fit_mask = interior.copy()
    grow = max(1, int(round(2 * sigma_b_px / stride)))
    for _ in range(4):
        level = _quadratic_level(mean, fit_mask)
        delta = 1.0 - mean / np.where(level > 0, level, np.nan)
        dark = ndi.binary_dilation(np.nan_to_num(delta) > min_contrast / 2, iterations=grow)
        if (interior & ~dark).sum() < 20:
            break
        fit_mask = interior & ~dark
    noise = 1.4826 * np.nanmedian(np.abs(delta[fit_mask] - np.nanmedian(delta[fit_mask])))
    thr = max(min_contrast, 4 * noise)
    cand, n = _split_candidates(
        np.nan_to_num(delta), interior & (delta > thr), sigma_b_px / stride, thr
    )
    if n == 0:
        return empty
    step_nm = stride * px
    area_c = ndi.sum(np.ones_like(delta), cand, np.arange(1, n + 1)) * step_nm**2
    d_thr = np.sqrt(4 * area_c / np.pi)
    keep = (d_thr >= 0.5 * size_nm[0]) & (d_thr <= size_nm[1])
    yy, xx = np.mgrid[0 : delta.shape[0], 0 : delta.shape[1]].astype(float)
    dpos = np.where(np.isfinite(delta), delta, 0.0)
    rows = []
    for lab in np.nonzero(keep)[0] + 1:
        sel = cand == lab
        wsum = dpos[sel].sum()
        cy, cx = (yy[sel] * dpos[sel]).sum() / wsum, (xx[sel] * dpos[sel]).sum() / wsum
        r_thr = np.sqrt(sel.sum() / np.pi)
        others = ndi.binary_dilation((cand > 0) & ~sel, iterations=grow)
        rad = _fit_sphere(delta, cy, cx, r_thr, sigma_b_px / stride, interior & ~others) * step_nm
        diam = 2 * rad
        if not size_nm[0] * 0.8 <= diam <= size_nm[1] * 1.2:
            continue
        x_full, y_full = cx * stride, cy * stride
        iy, ix = int(round(y_full)), int(round(x_full))
        dsurf = depth[min(iy, depth.shape[0] - 1), min(ix, depth.shape[1] - 1)]
        dcurv = np.nan
        if curvature_xy is not None and len(curvature_xy):
            dcurv = float(
                np.min(np.hypot(curvature_xy[:, 0] - x_full, curvature_xy[:, 1] - y_full)) * px
            )
        rows.append(
            (x_full, y_full, diam, np.pi * rad**2, float(delta[sel].max()), float(dsurf), dcurv)
        )
    return pd.DataFrame(rows, columns=VOID_COLUMNS) if rows else empty
