"""Bragg-peak finding in the power spectrum and the choice of the GPA g-vectors.

Peaks are found in the Hann-windowed power spectrum of a central crop (at most
``_MAX_CROP`` px square: precision is refined later on the reference region, so a
crop is enough and keeps this step cheap on large images). Each peak's excess over
the ring background is its *strength*; sub-pixel positions come from
three-point parabolas of the log power.

Choice (``g="auto"``): ``g1`` is the shortest strong reflection. In a layered oxide
seen edge-on this is the (003) reflection (d = 0.468 nm), the first reflection along
the layer normal; its harmonics (006), (009) are collinear with it and never chosen.
``g2`` is the shortest strong reflection that is not collinear with ``g1`` (angle
> 15 deg). Everything is reported in ``g_info``.
"""

from __future__ import annotations

import numpy as np

from .._backend import asnumpy
from ..errors import NoLatticeError, StemstrainError

__all__ = ["find_g_vectors", "find_peaks_spectrum"]

_MAX_CROP = 512
_MIN_STRENGTH = 12.0  # smoothed power over the ring background; noise stays below ~5
_REL_STRENGTH = 0.005  # "strong" = at least this fraction of the strongest peak's power
_MIN_ANGLE_DEG = 15.0


def _crop(image: np.ndarray) -> np.ndarray:
    h, w = image.shape
    n = min(h, w, _MAX_CROP)
    r0, c0 = (h - n) // 2, (w - n) // 2
    return np.asarray(asnumpy(image[r0 : r0 + n, c0 : c0 + n]), dtype=np.float64)


def _radial_background(power: np.ndarray, kr: np.ndarray, nbins: int) -> np.ndarray:
    """Geometric mean of ``power`` in rings of ``kr`` (bins), smoothed over +-2 rings.

    Bragg peaks cover a tiny fraction of a ring and the log compresses them, so this is
    a robust background estimate at O(N) cost (no sorting).
    """
    ring = np.minimum(kr.astype(np.int64), nbins - 1).ravel()
    logp = np.log(power.ravel() + 1e-300)
    count = np.bincount(ring, minlength=nbins)
    mean = np.bincount(ring, weights=logp, minlength=nbins) / np.maximum(count, 1)
    mean[count == 0] = mean[count > 0].max()
    kern = np.ones(5) / 5.0
    mean = np.convolve(np.pad(mean, 2, mode="edge"), kern, mode="valid")
    return np.exp(mean)[ring].reshape(power.shape)


def find_peaks_spectrum(image: np.ndarray, *, max_peaks: int = 40) -> dict:
    """Bragg peaks of an image's windowed power spectrum.

    Parameters
    ----------
    image : ndarray (H, W)
        Real image (any size; a central square crop of at most 1024 px is used).
    max_peaks : int
        Most peaks returned (one of each Friedel pair, strongest first).

    Returns
    -------
    dict
        ``g`` (n, 2) peak positions (gx, gy) in cycles/px, ``strength`` (n,) power over
        the ring background (3x3-smoothed), ``power`` (n,) peak power relative
        to the strongest peak (strongest first), ``crop`` size in px.
    """
    from scipy import ndimage as ndi  # noqa: PLC0415

    crop = _crop(image)
    n = crop.shape[0]
    win = np.hanning(n)
    spec = np.fft.fftshift(np.fft.fft2((crop - crop.mean()) * win[:, None] * win[None, :]))
    power = np.maximum(ndi.uniform_filter(np.abs(spec) ** 2, 3, mode="wrap"), 0.0)
    k = np.arange(n) - n // 2
    kr = np.hypot(k[:, None], k[None, :])
    ratio = power / _radial_background(power, kr, n // 2 + 2)
    is_max = (power == ndi.maximum_filter(power, 5, mode="wrap")) & (ratio >= _MIN_STRENGTH)
    is_max &= kr >= max(6.0, 0.01 * n)
    # one of each Friedel pair: ky > 0, or ky == 0 and kx > 0
    is_max &= (k[:, None] > 0) | ((k[:, None] == 0) & (k[None, :] > 0))
    rows, cols = np.nonzero(is_max)
    peak_power = power[rows, cols]
    order = np.argsort(peak_power)[::-1][:max_peaks]
    rows, cols = rows[order], cols[order]
    strength, peak_power = ratio[rows, cols], peak_power[order]
    logp = np.log(np.abs(spec) ** 2 + 1e-30)
    gy = (rows - n // 2 + _parabola(logp, rows, cols, axis=0)) / n
    gx = (cols - n // 2 + _parabola(logp, rows, cols, axis=1)) / n
    return {"g": np.stack([gx, gy], axis=1), "strength": strength,
            "power": peak_power / peak_power.max() if len(rows) else peak_power, "crop": n}


def _parabola(logp: np.ndarray, rows: np.ndarray, cols: np.ndarray, axis: int) -> np.ndarray:
    """Sub-pixel offset of a maximum from a 3-point parabola along ``axis``."""
    n0, n1 = logp.shape
    if axis == 0:
        a = logp[(rows - 1) % n0, cols]
        c = logp[(rows + 1) % n0, cols]
    else:
        a = logp[rows, (cols - 1) % n1]
        c = logp[rows, (cols + 1) % n1]
    b = logp[rows, cols]
    den = a - 2 * b + c
    off = np.where(den < 0, 0.5 * (a - c) / np.where(den < 0, den, -1.0), 0.0)
    return np.clip(off, -0.5, 0.5)


def _angle_deg(g1: np.ndarray, g2: np.ndarray) -> float:
    c = abs(float(np.dot(g1, g2))) / (np.linalg.norm(g1) * np.linalg.norm(g2))
    return float(np.degrees(np.arccos(min(1.0, c))))


def find_g_vectors(image: np.ndarray, pixel_size: float | None = None) -> tuple[np.ndarray, dict]:
    """Choose two non-collinear, lowest-order strong reflections for GPA.

    Parameters
    ----------
    image : ndarray (H, W)
        The image.
    pixel_size : float, optional
        nm per pixel; g is then reported in 1/nm (else 1/px) in ``g_info``.

    Returns
    -------
    g_px : ndarray (2, 2)
        Rows (gx, gy) in cycles/px; ``g_px[0]`` is the layer-normal (003) candidate.
    g_info : dict
        ``method``, ``candidates`` (list of dicts: gx, gy, g, d, strength, used),
        ``reason`` (one sentence per choice).

    Raises
    ------
    NoLatticeError
        When fewer than two non-collinear strong peaks are found.
    """
    peaks = find_peaks_spectrum(image)
    g, strength, power = peaks["g"], peaks["strength"], peaks["power"]
    if len(g) == 0:
        raise NoLatticeError(
            "image: no Bragg peaks found in the power spectrum (noise, amorphous or too "
            "low magnification); check the image or pass g=[(gx, gy), (gx, gy)] in 1/nm")
    strong = power >= _REL_STRENGTH
    gs, ss = g[strong], strength[strong]
    mag = np.hypot(gs[:, 0], gs[:, 1])
    order = np.argsort(mag)
    gs, ss, mag = gs[order], ss[order], mag[order]
    i1 = 0
    i2 = next((i for i in range(1, len(gs)) if _angle_deg(gs[i1], gs[i]) > _MIN_ANGLE_DEG), None)
    if i2 is None:
        raise NoLatticeError(
            "image: only one direction of lattice fringes found (need two non-collinear "
            "Bragg peaks for a 2-D strain tensor); pass g= explicitly or use a zone-axis image")
    scale = 1.0 / pixel_size if pixel_size else 1.0
    unit = "1/nm" if pixel_size else "1/px"
    harmonics = [i for i in range(len(gs)) if i != i1 and _angle_deg(gs[i1], gs[i]) < 3.0]
    cands = []
    for i in range(len(gs)):
        gm = mag[i] * scale
        cands.append({"gx": float(gs[i, 0] * scale), "gy": float(gs[i, 1] * scale),
                      "g": float(gm), "d": float(1.0 / gm), "strength": float(ss[i]),
                      "used": i in (i1, i2)})
    order_txt = ", ".join(f"{mag[h] / mag[i1]:.2f}" for h in harmonics[:3]) or "none"
    reason = (
        f"g1 = shortest strong reflection (|g| = {mag[i1] * scale:.3f} {unit}, "
        f"d = {1 / (mag[i1] * scale):.4g}), taken as the layer normal (003); collinear "
        f"reflections at {order_txt} x |g1| (its harmonics such as (006)) were not used. "
        f"g2 = shortest strong reflection not collinear with g1 (|g| = {mag[i2] * scale:.3f} "
        f"{unit}, {_angle_deg(gs[i1], gs[i2]):.1f} deg from g1)."
    )
    info = {"method": "auto", "unit": unit, "reason": reason, "candidates": cands,
            "crop_px": int(peaks["crop"]), "normal_index": 0}
    return np.stack([gs[i1], gs[i2]]), info


def given_g_vectors(g, pixel_size: float | None, shape: tuple[int, int]) -> tuple[np.ndarray, dict]:
    """Validate user g-vectors ((gx, gy) rows in 1/nm, or 1/px without calibration)."""
    try:
        arr = np.asarray(g, dtype=float)
    except (TypeError, ValueError):
        raise StemstrainError(
            f"g must be 'auto' or a list of (gx, gy) pairs in 1/nm, got {g!r}") from None
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 2 or not np.all(np.isfinite(arr)):
        raise StemstrainError(
            f"g must be 'auto' or at least two finite (gx, gy) pairs in 1/nm, got {g!r}")
    g_px = arr * (pixel_size if pixel_size else 1.0)
    mags = np.hypot(g_px[:, 0], g_px[:, 1])
    if np.any(mags <= 2.0 / min(shape)):
        raise StemstrainError(
            f"g: a g-vector is (nearly) zero or below the image's frequency resolution: {g!r}")
    if np.any(np.abs(g_px) >= 0.5):
        raise StemstrainError(
            f"g: a g-vector lies beyond the Nyquist frequency (0.5 cycles/px = "
            f"{0.5 / (pixel_size or 1.0):.3g} 1/nm): {g!r}; check pixel_size")
    for i in range(1, len(g_px)):
        if _angle_deg(g_px[0], g_px[i]) < 5.0 and len(g_px) == 2:
            raise StemstrainError(
                f"g: the two g-vectors {arr[0].tolist()} and {arr[1].tolist()} are collinear; "
                "choose two reflections at least 5 deg apart")
    cross = np.abs(np.cross(g_px[:, None, :], g_px[None, :, :]))
    if len(g_px) > 2 and cross.max() / (mags.max() ** 2) < np.sin(np.radians(5.0)):
        raise StemstrainError(f"g: all g-vectors are collinear: {g!r}; add a non-collinear one")
    info = {"method": "given", "unit": "1/nm" if pixel_size else "1/px", "normal_index": 0,
            "reason": "g-vectors given by the user; the first is taken as the layer normal (003)",
            "candidates": []}
    return g_px, info
