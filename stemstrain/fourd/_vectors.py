"""``fourd_strain`` from Bragg vectors (no disk detection): basis from a Bragg-vector map.

The peaks are taken to "pseudo pixels": detector px for ``units="px"``; for calibrated
vectors (1/nm) the detector pixel when known, else 1/128 of the largest |q| (so the
px-based tolerances of the lattice fit keep their meaning). The basis is chosen on the
Bragg-vector map (intensity-weighted 2-D histogram of the peaks) of the reference region,
then every position is indexed and fitted by the same batched, outlier-rejecting
least squares as for cubes (``_lattice.fit_lattice_batch``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from ..errors import NoLatticeError
from ..io import BraggVectors
from ._lattice import choose_basis, fit_lattice_batch, gauss_reduce

__all__ = ["strain_from_vectors", "pseudo_pixel", "vector_map_peaks"]


def pseudo_pixel(bv: BraggVectors) -> tuple[float, float | None]:
    """(units per pseudo pixel, detector pixel in 1/nm or None) of ``bv``."""
    if bv.units == "px":
        return 1.0, bv.reciprocal_pixel_size
    if bv.reciprocal_pixel_size is not None:
        return bv.reciprocal_pixel_size, bv.reciprocal_pixel_size
    qx, qy, _ = bv.centred()
    qmax = float(np.percentile(np.hypot(qx, qy), 99)) if len(qx) else 1.0
    step = max(qmax, 1e-12) / 128.0
    return step, step


def vector_map_peaks(
    xy: np.ndarray, w: np.ndarray, *, sigma_px: float = 1.0, rel_threshold: float = 0.02
) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of the Bragg-vector map of the points ``xy`` (pseudo px) weighted by ``w``.

    Bilinear deposition on a 1-px grid, Gaussian smoothing, 5×5 local maxima above
    ``rel_threshold`` of the second-strongest maximum (the strongest is the (000) beam,
    often 10× any Bragg disk: relative to it, weak but real disk families of a real scan
    are lost), centroid refinement on the 3×3 neighbourhood.
    """
    lo = np.floor(xy.min(axis=0)) - 4
    shape = (np.ceil(xy.max(axis=0) - lo) + 5).astype(int)[::-1]  # rows (y), cols (x)
    u = xy - lo
    i0 = np.floor(u).astype(int)
    f = u - i0
    img = np.zeros(shape)
    for dx in (0, 1):
        for dy in (0, 1):
            wt = w * (f[:, 0] if dx else 1 - f[:, 0]) * (f[:, 1] if dy else 1 - f[:, 1])
            np.add.at(img, (i0[:, 1] + dy, i0[:, 0] + dx), wt)
    img = ndimage.gaussian_filter(img, sigma_px)
    peak = (img == ndimage.maximum_filter(img, size=5)) & (img > 0)
    vals = np.sort(img[peak])[::-1]
    ref = vals[1] if len(vals) > 1 else img.max()
    r, c = np.nonzero(peak & (img > rel_threshold * ref))
    pad = np.pad(img, 1)
    win = np.stack([pad[r + 1 + a, c + 1 + b] for a in (-1, 0, 1) for b in (-1, 0, 1)], 1)
    da = np.repeat([-1, 0, 1], 3)
    db = np.tile([-1, 0, 1], 3)
    tot = win.sum(1)
    x = c + (win * db).sum(1) / tot + lo[0]
    y = r + (win * da).sum(1) / tot + lo[1]
    return np.column_stack([x, y]), img[r, c]


def strain_from_vectors(
    bv: BraggVectors,
    mask: np.ndarray,
    phase_mask: np.ndarray,
    *,
    g: Any,
    geo: Any,
    layer_normal: Any,
    scan_pixel_size: float | None,
    max_peaks: int,
) -> Any:
    """Strain maps from Bragg vectors (see ``fourd_strain``; ``g`` in pseudo px of ``bv``)."""
    from ._core import strain_result

    step, recip = pseudo_pixel(bv)
    sy, sx = bv.scan_shape
    pool = np.flatnonzero(mask)
    sample = pool[np.linspace(0, len(pool) - 1, min(len(pool), 512)).astype(int)]
    xy_s, w_s, v_s = bv.padded(np.unique(sample), max_peaks=max_peaks)
    pts = xy_s[v_s] / step
    if len(pts) < 3:
        raise NoLatticeError("no disks found: the reference region holds fewer than 3 peaks")
    origin = None if bv.origin is None else np.asarray(bv.origin, float) / step
    mxy, mw = vector_map_peaks(pts, np.clip(w_s[v_s], 0, None))
    if isinstance(g, str):
        g0, o0 = choose_basis(mxy, mw, origin=origin)
    else:
        gg = np.asarray(g, dtype=float)
        g1, g2 = gauss_reduce(gg[0], gg[1])
        g0 = np.stack([g1, g2], axis=1)
        o0 = origin if origin is not None else mxy[np.argmax(mw)]
    n = sy * sx
    fits = {
        "g": np.full((n, 2, 2), np.nan),
        "origin": np.full((n, 2), np.nan),
        "n_peaks": np.zeros(n, np.int32),
        "rms_px": np.full(n, np.nan),
        "ok": np.zeros(n, bool),
    }
    for i0 in range(0, n, 1024):
        idx = np.arange(i0, min(n, i0 + 1024))
        xy, inten, valid = bv.padded(idx, max_peaks=max_peaks)
        fit = fit_lattice_batch(np, xy / step, inten, valid, g0, o0)
        for k, v in fit.items():
            fits[k][idx] = v
    fits["ok"] &= phase_mask.ravel()
    params = {
        "input": "BraggVectors",
        "source": bv.source,
        "pseudo_pixel": step,
        "g_detector_px": g0.T.tolist(),
        "origin_px": np.asarray(o0).tolist(),
        "basis": "auto" if isinstance(g, str) else "given",
        "max_peaks": max_peaks,
    }
    return strain_result(
        fits,
        (sy, sx),
        mask,
        geo=geo,
        layer_normal=layer_normal,
        scale=(recip, scan_pixel_size),
        params=params,
    )
