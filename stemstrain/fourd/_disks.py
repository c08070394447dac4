"""Batched Bragg-disk detection: probe-kernel FFT correlation, local maxima, sub-pixel peaks.

One code path over ``xp`` (NumPy or CuPy). A batch of ``B`` patterns ``(B, H, W)`` is
correlated with the probe kernel in one ``rfft2``/``irfft2`` pair (complex64 on float32
input, ``workers`` on CPU), local maxima are found by comparing each pixel with its 8
neighbours, the ``max_peaks`` strongest per pattern kept by ``argpartition``, peaks closer
than ``min_spacing_px`` to a stronger one suppressed, and every peak refined to sub-pixel
precision from its 3×3 neighbourhood, all vectorised over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._backend import fft_workers, get_fft
from ..errors import InputShapeError, NoLatticeError, StemstrainError

__all__ = ["DiskKernel", "make_kernel", "estimate_probe", "detect_batch", "SUBPIXEL_METHODS"]

SUBPIXEL_METHODS = ("none", "poly", "quadratic", "gaussian")


@dataclass(frozen=True)
class DiskKernel:
    """Probe kernel ready for batched correlation.

    Attributes
    ----------
    kernel : ndarray (H, W)
        Real-space kernel centred on pixel (0, 0) (wrapped), sum of the probe part 1.
    kernel_ft : ndarray (H, W // 2 + 1), complex
        ``conj(rfft2(kernel))`` times the Gaussian smoothing of the correlation.
    radius_px : float
        Disk radius measured from the probe (detector px).
    shape : tuple of int
        Detector shape.
    kernel_ft_raw, smooth : ndarray
        The kernel spectrum without smoothing and the smoothing transfer function, kept
        apart for hybrid/phase correlation (smoothing is applied after the whitening).
    """

    kernel: np.ndarray
    kernel_ft: np.ndarray
    radius_px: float
    shape: tuple[int, int]
    kernel_ft_raw: Any = None
    smooth: Any = None


def _probe_radius_and_centre(probe: np.ndarray) -> tuple[float, np.ndarray]:
    p = np.asarray(probe, dtype=np.float64)
    p = p - np.median(p)
    peak = p.max()
    if not np.isfinite(peak) or peak <= 0:
        raise StemstrainError("probe has no positive intensity; pass the vacuum probe image")
    mask = p > 0.5 * peak
    area = float(mask.sum())
    yy, xx = np.nonzero(mask)
    w = p[mask]
    centre = np.array([np.sum(xx * w) / w.sum(), np.sum(yy * w) / w.sum()])
    return float(np.sqrt(area / np.pi)), centre


def _fourier_shift(image: np.ndarray, shift_xy: np.ndarray) -> np.ndarray:
    h, w = image.shape
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.fftfreq(w)[None, :]
    ph = np.exp(-2j * np.pi * (kx * shift_xy[0] + ky * shift_xy[1]))
    return np.real(np.fft.ifft2(np.fft.fft2(image) * ph))


def make_kernel(
    probe: np.ndarray,
    *,
    kind: str = "ring",
    sigma_cc_px: float = 2.0,
    dtype: Any = np.float32,
    xp: Any = np,
) -> DiskKernel:
    """Build the correlation kernel from a vacuum probe image.

    Parameters
    ----------
    probe : ndarray (H, W)
        Vacuum probe (the (000) disk without a specimen), any position on the detector.
    kind : {"ring", "flat"}
        "flat": the probe moved to the origin and normalised to sum 1 (py4DSTEM "flat").
        "ring": the same minus a thin annulus just outside the disk with equal weight,
        so the kernel sums to zero and a smooth background correlates to ~0.
    sigma_cc_px : float
        Gaussian smoothing of the correlation (px), applied in Fourier space (as
        py4DSTEM's ``sigma_cc``); makes the correlation peak round so that the 3×3
        sub-pixel fit is nearly unbiased.
    dtype : dtype
        float32 (default) or float64; the kernel spectrum is complex64/complex128.
    xp : module
        numpy or cupy; ``kernel_ft`` lives on that device.

    Returns
    -------
    DiskKernel
    """
    probe = np.asarray(probe, dtype=np.float64)
    if probe.ndim != 2:
        raise InputShapeError(f"probe must be a 2-D image, got shape {probe.shape}")
    h, w = probe.shape
    radius, centre = _probe_radius_and_centre(probe)
    p = np.clip(probe - np.median(probe), 0, None)
    p = _fourier_shift(p, -centre)
    p /= p.sum()
    if kind == "ring":
        r = np.hypot(np.fft.fftfreq(w, 1 / w)[None, :], np.fft.fftfreq(h, 1 / h)[:, None])
        r_in = 1.15 * radius + 1.0
        width = max(2.0, 0.5 * radius)
        ring = ((r >= r_in) & (r < r_in + width)).astype(float)
        p = p - ring / ring.sum()
    elif kind != "flat":
        raise StemstrainError(f"kernel must be 'ring' or 'flat', got {kind!r}")
    fft = get_fft(np)
    kft_raw = np.conj(fft.rfft2(p))
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.rfftfreq(w)[None, :]
    smooth = np.exp(-2.0 * np.pi**2 * max(sigma_cc_px, 0.0) ** 2 * (kx**2 + ky**2))
    cdtype = np.complex64 if np.dtype(dtype) == np.float32 else np.complex128
    return DiskKernel(
        p.astype(dtype),
        xp.asarray((kft_raw * smooth).astype(cdtype)),
        radius,
        (h, w),
        xp.asarray(kft_raw.astype(cdtype)),
        xp.asarray(smooth.astype(np.dtype(dtype))),
    )


def estimate_probe(mean_pattern: np.ndarray, *, edge_px: float = 0.6) -> np.ndarray:
    """Synthesise a vacuum probe from the central (brightest) disk of a mean pattern.

    The disk is found as the connected region above half the maximum around the
    brightest pixel (after a light smoothing); a soft-edged disk of the same area is
    returned, centred on the detector.
    """
    import scipy.ndimage as ndi

    m = ndi.gaussian_filter(np.asarray(mean_pattern, dtype=np.float64), 1.0)
    m = m - np.median(m)
    iy, ix = np.unravel_index(np.argmax(m), m.shape)
    if m[iy, ix] <= 0:
        raise NoLatticeError(
            "no disks found: the mean diffraction pattern is flat; check the data or pass probe="
        )
    lab, _ = ndi.label(m > 0.5 * m[iy, ix])
    radius = float(np.sqrt((lab == lab[iy, ix]).sum() / np.pi))
    h, w = m.shape
    yy, xx = np.indices(m.shape, dtype=np.float64)
    r = np.hypot(xx - (w - 1) / 2, yy - (h - 1) / 2)
    return (0.5 * (1.0 - np.tanh((r - radius) / (2.0 * edge_px)))).astype(np.float32)


def correlate(xp: Any, batch: Any, kernel: DiskKernel, corr_power: float = 1.0) -> Any:
    """Cross (``corr_power=1``), hybrid (0 < p < 1) or phase (0) correlation of a batch."""
    fft = get_fft(xp)
    kw = fft_workers(xp)
    h, w = kernel.shape
    spec = fft.rfft2(batch, axes=(-2, -1), **kw)
    if corr_power == 1.0:
        spec *= kernel.kernel_ft
    else:
        spec *= kernel.kernel_ft_raw
        mag = xp.abs(spec)
        spec *= (mag + mag.max() * 1e-6) ** (corr_power - 1.0) * kernel.smooth
    return fft.irfft2(spec, s=(h, w), axes=(-2, -1), **kw)


def _local_maxima(xp, cc, edge):
    """Find local maxima: boolean (B, H, W).

    A pixel is a maximum when it equals the maximum of its 3×3 neighbourhood (separable
    max filter), is positive, and is at least ``edge`` px from the detector edge.
    """
    mx = xp.maximum(cc[:, :, :-2], cc[:, :, 1:-1])
    xp.maximum(mx, cc[:, :, 2:], out=mx)
    my = xp.maximum(mx[:, :-2], mx[:, 1:-1])
    xp.maximum(my, mx[:, 2:], out=my)
    c = cc[:, 1:-1, 1:-1]
    out = xp.zeros(cc.shape, dtype=bool)
    out[:, 1:-1, 1:-1] = (c >= my) & (c > 0)
    e = max(int(edge), 1)
    out[:, :e] = False
    out[:, -e:] = False
    out[:, :, :e] = False
    out[:, :, -e:] = False
    return out


def _top_peaks(xp, cc, mask, k, min_rel):
    """Select the ``k`` strongest masked pixels per pattern, strongest first (sparse).

    Returns flat pixel indices (B, k), values (B, k) (-inf for padding).
    """
    b, h, w = cc.shape
    flat_idx = xp.flatnonzero(mask)
    vals = cc.reshape(-1)[flat_idx].astype(xp.float64)
    pat = flat_idx // (h * w)
    span = 2.0 * float(xp.abs(vals).max()) + 1.0 if vals.size else 1.0
    order = xp.argsort(pat * span - vals)  # by pattern, strongest first
    flat_idx, vals, pat = flat_idx[order], vals[order], pat[order]
    counts = xp.bincount(pat, minlength=b)
    starts = xp.cumsum(counts) - counts
    top = vals[xp.minimum(starts, max(vals.size - 1, 0))] if vals.size else vals
    keep = vals > min_rel * top[pat] if vals.size else vals > 0
    flat_idx, vals, pat = flat_idx[keep], vals[keep], pat[keep]
    counts = xp.bincount(pat, minlength=b)
    starts = xp.cumsum(counts) - counts
    rank = xp.arange(pat.shape[0]) - starts[pat]
    sel = rank < k
    k = max(1, min(k, int(counts.max()) if counts.size else 1))  # trim the padding
    idx = xp.zeros((b, k), dtype=xp.int64)
    out = xp.full((b, k), -xp.inf)
    idx[pat[sel], rank[sel]] = flat_idx[sel] - pat[sel] * (h * w)
    out[pat[sel], rank[sel]] = vals[sel]
    return idx, out


def _suppress_close(xp, xy, valid, min_spacing):
    """Drop peaks within ``min_spacing`` of a stronger valid one (peaks sorted strong first)."""
    if min_spacing <= 0:
        return valid
    d2 = ((xy[:, :, None, :] - xy[:, None, :, :]) ** 2).sum(-1)
    k = xy.shape[1]
    earlier = xp.tril(xp.ones((k, k), dtype=bool), -1)  # j < i
    close = (d2 < min_spacing**2) & earlier[None] & valid[:, None, :]
    return valid & ~close.any(axis=2)


_QUAD_PINV = None


def _quad_pinv():
    global _QUAD_PINV
    if _QUAD_PINV is None:
        oy, ox = np.mgrid[-1:2, -1:2]
        x, y = ox.ravel().astype(float), oy.ravel().astype(float)
        a = np.stack([np.ones(9), x, y, x * x, x * y, y * y], axis=1)
        _QUAD_PINV = np.linalg.pinv(a)  # (6, 9)
    return _QUAD_PINV


def _subpixel(xp, cc, b_idx, iy, ix, method):
    """Sub-pixel offsets (dx, dy) from the 3×3 neighbourhood of each peak."""
    if method == "none":
        z = xp.zeros(iy.shape, dtype=cc.dtype)
        return z, z
    h, w = cc.shape[-2:]
    iy = xp.clip(iy, 1, h - 2)
    ix = xp.clip(ix, 1, w - 2)
    off = xp.arange(-1, 2)
    win = cc[
        b_idx[..., None, None],
        iy[..., None, None] + off[:, None],
        ix[..., None, None] + off[None, :],
    ].astype(xp.float64)  # (B, K, 3, 3)
    if method == "quadratic":
        coef = xp.einsum("cn,bkn->bkc", xp.asarray(_quad_pinv()), win.reshape(*win.shape[:2], 9))
        _, b1, c1, d1, e1, f1 = (coef[..., i] for i in range(6))
        det = 4 * d1 * f1 - e1 * e1
        det = xp.where(xp.abs(det) > 1e-12, det, 1e-12)
        dx = (-2 * f1 * b1 + e1 * c1) / det
        dy = (-2 * d1 * c1 + e1 * b1) / det
    else:
        f0 = win[..., 1, 1]
        fxm, fxp, fym, fyp = win[..., 1, 0], win[..., 1, 2], win[..., 0, 1], win[..., 2, 1]
        if method == "gaussian":
            tiny = 1e-12 * xp.abs(f0).max()
            f0, fxm, fxp, fym, fyp = (xp.log(xp.maximum(v, tiny)) for v in (f0, fxm, fxp, fym, fyp))
        den_x = 4 * f0 - 2 * fxp - 2 * fxm
        den_y = 4 * f0 - 2 * fyp - 2 * fym
        dx = (fxp - fxm) / xp.where(xp.abs(den_x) > 0, den_x, 1.0)
        dy = (fyp - fym) / xp.where(xp.abs(den_y) > 0, den_y, 1.0)
    dx = xp.clip(dx, -1.0, 1.0)
    dy = xp.clip(dy, -1.0, 1.0)
    return dx, dy


def detect_batch(
    xp: Any,
    batch: Any,
    kernel: DiskKernel,
    *,
    max_peaks: int = 64,
    min_relative_intensity: float = 0.005,
    min_spacing_px: float | None = None,
    edge_px: float | None = None,
    subpixel: str = "quadratic",
    corr_power: float = 1.0,
) -> tuple[Any, Any, Any]:
    """Detect disks in a batch of patterns.

    Parameters
    ----------
    xp : module
        numpy or cupy (``batch`` is on its device).
    batch : array (B, H, W), float32 or float64
    kernel : DiskKernel
    max_peaks : int
        Strongest peaks kept per pattern.
    min_relative_intensity : float
        Peaks weaker than this fraction of the pattern's strongest correlation peak are dropped.
    min_spacing_px : float, optional
        Peaks closer than this to a stronger peak are dropped (default: disk radius).
    edge_px : float, optional
        Peaks this close to the detector edge are dropped (default: radius + 1), since
        disks cut by the edge have biased positions.
    subpixel : {"quadratic", "poly", "gaussian", "none"}
        "quadratic": least-squares 2-D paraboloid on the 3×3 neighbourhood; "poly": 1-D
        parabolas along x and y (py4DSTEM's "poly"); "gaussian": 3-point Gaussian.
    corr_power : float
        1 cross correlation, 0 phase correlation, between: hybrid.

    Returns
    -------
    xy : array (B, K, 2) float64
        Peak positions (x = detector column, y = detector row), sorted strongest first.
    intensity : array (B, K)
        Correlation value at the peak.
    valid : array (B, K) bool
        False for padding (fewer than K peaks found).
    """
    if subpixel not in SUBPIXEL_METHODS:
        raise StemstrainError(f"subpixel must be one of {SUBPIXEL_METHODS}, got {subpixel!r}")
    b, h, w = batch.shape
    radius = kernel.radius_px
    edge = int(np.ceil(radius + 1 if edge_px is None else edge_px))
    spacing = radius if min_spacing_px is None else float(min_spacing_px)
    cc = correlate(xp, batch, kernel, corr_power)
    mask = _local_maxima(xp, cc, edge)
    idx, vals = _top_peaks(xp, cc, mask, min(int(max_peaks), h * w - 1), min_relative_intensity)
    valid = xp.isfinite(vals)
    iy, ix = idx // w, idx % w
    b_idx = xp.broadcast_to(xp.arange(b)[:, None], iy.shape)
    dx, dy = _subpixel(xp, cc, b_idx, iy, ix, subpixel)
    xy = xp.stack([ix + dx, iy + dy], axis=-1)
    valid = _suppress_close(xp, xy, valid, spacing)
    vals = xp.where(valid, vals, 0.0)
    used = xp.flatnonzero(valid.any(axis=0))
    ncol = int(used[-1]) + 1 if used.size else 1
    return xy[:, :ncol], vals[:, :ncol], valid[:, :ncol]
