"""Hann-windowed magnitude spectra and the exact Hann sub-bin peak position (shared).

Used by the local lattice map (``lattice/_map.py``, ``_map_peaks.py``, ``_map_layers.py``)
and by GPA's re-measurement of the chosen g on the image (``geometric_phase/_gvectors.py``):

* :func:`hann` - the periodic (DFT-even) Hann window;
* :func:`window_spectra`, :func:`spectra_at` - |rfft2| of a grid (or a list) of Hann
  windows of an image, one batched FFT, float32;
* :func:`peak_g` - sub-bin (gx, gy) of spectral peaks from the exact Hann-window
  interpolation ``delta = (2 a - 1) / (1 + a)``, ``a = |X(k+1)| / |X(k)|`` along each axis
  (exact for a pure sinusoid under a periodic Hann window); :func:`refine_peaks` for
  peaks given as flat bin indices.

Spectra are ``(..., N, N // 2 + 1)``: rows are ky bins in FFT order, columns kx = 0..N/2;
the mirrored column kx = -1 is read as the conjugate bin (-ky, +1) (same magnitude).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ._backend import fft_workers, get_fft

__all__ = [
    "hann",
    "grid_origin",
    "window_spectra",
    "spectra_at",
    "hann_offset",
    "at_bins",
    "peak_g",
    "refine_peaks",
]


def hann(n: int, xp: ModuleType = np) -> Any:
    """Periodic (DFT-even) Hann window of length ``n``."""
    k = xp.arange(n, dtype=xp.float32)
    return (0.5 - 0.5 * xp.cos(2 * np.pi * k / n)).astype(xp.float32)


def grid_origin(n: int, size: int, step: int) -> np.ndarray:
    """Top-left corners (px) along one axis of a centred grid of windows."""
    k = (n - size) // step + 1
    return (n - size - (k - 1) * step) // 2 + step * np.arange(k)


def _spectra(xp: ModuleType, stack: Any, size: int) -> Any:
    """|rfft2| of a stack of (size, size) windows under the periodic Hann window, float32."""
    win = hann(size, xp)
    stack = stack * (win[:, None] * win[None, :])
    fft = get_fft(xp)
    spec = fft.rfft2(stack, axes=(-2, -1), **fft_workers(xp))
    del stack
    return xp.abs(spec).astype(xp.float32, copy=False)


def _centred_view(xp: ModuleType, image: Any, size: int) -> Any:
    # the periodic Hann window's spectrum has 3 x 3 non-zero bins: a window's mean leaks into
    # |kx|, |ky| <= 1 only (never searched), so no per-window mean is removed
    img = xp.asarray(image, dtype=xp.float32)
    img = img - img.mean(dtype=xp.float64).astype(xp.float32)
    return xp.lib.stride_tricks.sliding_window_view(img, (size, size))


def window_spectra(xp: ModuleType, image: Any, size: int, step: int) -> tuple[Any, Any, Any]:
    """Magnitude spectra of a grid of Hann windows: one batched rfft2.

    Returns
    -------
    mag : array (ny, nx, size, size // 2 + 1), float32
        |FFT| of each window (rows = ky bins in FFT order, cols = kx = 0..size/2).
    y0, x0 : ndarray
        Top-left corners of the windows (px) along rows and columns.
    """
    h, w = image.shape
    y0, x0 = grid_origin(h, size, step), grid_origin(w, size, step)
    view = _centred_view(xp, image, size)
    stack = view[y0[0] : y0[-1] + 1 : step, x0[0] : x0[-1] + 1 : step]
    return _spectra(xp, stack, size), y0, x0


def spectra_at(xp: ModuleType, image: Any, size: int, y0: np.ndarray, x0: np.ndarray) -> Any:
    """Magnitude spectra (n, size, size // 2 + 1) of the windows at corners ``(y0[i], x0[i])``."""
    view = _centred_view(xp, image, size)
    return _spectra(xp, view[xp.asarray(y0), xp.asarray(x0)], size)


def hann_offset(xp: ModuleType, minus: Any, centre: Any, plus: Any) -> Any:
    """Exact sub-bin offset of a Hann-windowed tone from three |X| samples."""
    c = xp.maximum(centre, 1e-30)
    a, b = plus / c, minus / c
    d_plus = (2 * a - 1) / (1 + a)
    d_minus = -(2 * b - 1) / (1 + b)
    return xp.clip(xp.where(a >= b, d_plus, d_minus), -0.5, 0.5)


def at_bins(xp: ModuleType, flat: Any, w: Any, r: Any, c: Any, size: int) -> Any:
    """|X| of spectra ``flat[w]`` (rows of (n, size * ncol)) at ky rows ``r`` (wrapped), kx ``c``.

    ``c = -1`` is read as its conjugate bin ``(-r, +1)``; ``c`` beyond the last column is
    clipped to it. ``w``, ``r`` and ``c`` broadcast together.
    """
    ncol = flat.shape[-1] // size
    neg = c < 0
    r = xp.where(neg, (-r) % size, r % size)
    c = xp.minimum(xp.abs(c), ncol - 1)
    return flat[w, r * ncol + c]


def peak_g(xp: ModuleType, flat: Any, w: Any, iy: Any, ix: Any, size: int) -> tuple[Any, Any]:
    """Sub-bin (gx, gy) in cycles/px of the peaks at bins ``(iy, ix)`` of spectra ``flat[w]``.

    Returns ``g`` (broadcast shape + (2,)), float64, and the peaks' |X| (``c0``).
    """
    c0 = at_bins(xp, flat, w, iy, ix, size)
    dy = hann_offset(
        xp, at_bins(xp, flat, w, iy - 1, ix, size), c0, at_bins(xp, flat, w, iy + 1, ix, size)
    )
    dx = hann_offset(
        xp, at_bins(xp, flat, w, iy, ix - 1, size), c0, at_bins(xp, flat, w, iy, ix + 1, size)
    )
    kyv = xp.where(iy >= (size + 1) // 2, iy - size, iy).astype(xp.float64)
    return xp.stack([(ix + dx) / size, (kyv + dy) / size], axis=-1), c0


def refine_peaks(xp: ModuleType, m: Any, top: Any, size: int) -> tuple[Any, Any]:
    """(gx, gy) in cycles/px (n, k, 2) and |X| (n, k) of the peaks at flat bins ``top`` (n, k).

    ``m`` is a stack of spectra (n, size, size // 2 + 1); ``top[i]`` indexes ``m[i]``
    flattened (``row * ncol + col``).
    """
    ncol = m.shape[-1]
    n = m.shape[0]
    return peak_g(xp, m.reshape(n, -1), xp.arange(n)[:, None], top // ncol, top % ncol, size)
