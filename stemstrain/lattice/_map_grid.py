"""The window grid of the lattice map: default window size, searched band, peaks per grid.

* :func:`auto_window` - the default window side from the lattice of a central crop;
* :func:`bins_of` - the searched band of |k| in frequency bins of a window;
* :func:`grid_peaks` - the Bragg peaks (``_map_peaks.detect_peaks``) of every window of a
  grid: overlapping windows (half steps) up to ``OVERLAP_MAX_PX``, tiles above
  (:func:`tiled_peaks`), or a given step; :func:`survey_peaks` for ``survey=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _spectra as sp
from . import _map_peaks as mp

__all__ = ["auto_window", "bins_of", "grid_peaks", "tiled_peaks", "survey_peaks"]

_NICE = (32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512)
OVERLAP_MAX_PX = 1100 * 1100
SPARSE = 0.4  # tiles with Bragg peaks at most this fraction: refine at half steps there


def _nice_size(n: float, cap: int) -> int:
    """Round ``n`` up to an FFT-friendly size <= ``cap`` (else the largest one <= ``cap``)."""
    fits = [s for s in _NICE if s >= n and s <= cap]
    if fits:
        return fits[0]
    below = [s for s in _NICE if s <= cap]
    return below[-1] if below else max(8, int(cap))


def bins_of(size: int, px: float | None, d_range: tuple[float, float]) -> tuple[float, float]:
    """Return the searched band of |k| in bins of a ``size`` window (d_range in nm)."""
    if px is None:
        return 2.5, 0.4 * np.sqrt(2) * size
    return size * px / d_range[1], size * px / d_range[0]


def auto_window(xp: Any, data: Any, px: float | None, d_range: tuple[float, float]) -> int:
    """Window size from the lattice of a central crop (512 px, 1024 px if that has none).

    ``max(6 d_short, 3.2 d_long)`` with d the periods of the crop's reduced basis: six
    periods of the fine lattice for signal, at least 3.2 of the longest period (layer
    normal, superstructure) so that its reflection lies > 2.5 bins from the origin;
    rounded up to an FFT-friendly size in 32 .. min(256, side / 2).
    """
    h, w = data.shape
    for n in sorted({min(h, w, 512), min(h, w, 1024)}):  # a larger crop only if needed
        r0, c0 = (h - n) // 2, (w - n) // 2
        mag, _, _ = sp.window_spectra(xp, data[r0 : r0 + n, c0 : c0 + n], n, n)
        peaks = mp.detect_peaks(xp, mag, bins_of(n, px, d_range), max_peaks=24)
        g = peaks["g"].reshape(1, -1, 2)
        fit = mp.fit_basis(g, np.log(np.maximum(peaks["ratio"].reshape(1, -1), 1.0)), max_index=6)
        if fit["ok"][0]:
            break
    cap = max(32, min(256, min(h, w) // 2))
    if fit["ok"][0]:
        d = 1.0 / np.linalg.norm(fit["basis"][0], axis=1)
        want = max(6.0 * d.min(), 3.2 * d.max())
    elif np.isfinite(g).any():
        want = 6.0 / float(np.nanmin(np.linalg.norm(g[0], axis=1)))
    else:
        want = 64.0
    return _nice_size(max(32.0, want), cap)


def grid_peaks(xp: Any, data: Any, size: int, step_px: int | None, k_range: tuple) -> tuple:
    """``(peaks, y0, x0, step_px)`` on a grid of step ``step_px`` (None: the default grid).

    Default: overlapping windows (half steps) on images up to ``OVERLAP_MAX_PX``, tiles
    (about one FFT of the image in cost, see :func:`tiled_peaks`) on larger ones.
    """
    if step_px is None and data.shape[0] * data.shape[1] > OVERLAP_MAX_PX:
        return tiled_peaks(xp, data, size, k_range)
    step_px = max(1, size // 2) if step_px is None else step_px
    mag, y0, x0 = sp.window_spectra(xp, data, size, step_px)
    return mp.detect_peaks(xp, mag, k_range), y0, x0, step_px


def tiled_peaks(xp: Any, data: Any, size: int, k_range: tuple) -> tuple:
    """Peaks on tiles (step = window); half steps around the crystal where it is sparse.

    Small particles on a support span a few tiles, which then cut most of them: where at
    most ``SPARSE`` of the tiles hold a Bragg peak, the half-step grid is analysed, but
    only its windows whose central half overlaps a tile with peaks (the others hold no
    crystal: no peaks). Cost: the tiles plus ~4 x the fraction with peaks of them.
    """
    mag, y0, x0 = sp.window_spectra(xp, data, size, size)
    peaks = mp.detect_peaks(xp, mag, k_range)
    del mag
    has = (peaks["ratio"] > 0).any(-1)
    if not 0 < has.mean() <= SPARSE:
        return peaks, y0, x0, size
    half = size // 2
    grid = [sp.grid_origin(n, size, half) for n in data.shape]
    ends = []  # per axis: first and last tile overlapped by each window's central half
    for c0, t0 in zip(grid, (y0, x0), strict=True):
        lo = np.searchsorted(t0 + size, c0 + size / 4, side="right")
        hi = np.searchsorted(t0, c0 + 3 * size / 4, side="left") - 1
        ends.append([np.clip(v, 0, len(t0) - 1) for v in (lo, hi)])
    near = np.zeros((len(grid[0]), len(grid[1])), dtype=bool)
    for ry in ends[0]:
        for rx in ends[1]:
            near |= has[np.ix_(ry, rx)]
    iy, ix = np.nonzero(near)
    sub = mp.detect_peaks(xp, sp.spectra_at(xp, data, size, grid[0][iy], grid[1][ix]), k_range)
    out = {"threshold": sub["threshold"]}
    for key, fill in (("g", np.nan), ("ratio", 0.0), ("amplitude", 0.0)):
        arr = np.full(near.shape + sub[key].shape[1:], fill)
        arr[iy, ix] = sub[key]
        out[key] = arr
    return out, grid[0], grid[1], half


def survey_peaks(xp: Any, data: Any, size: int, k_range: tuple) -> tuple:
    """``grid_peaks`` on windows two window-widths apart; the default grid for a sparse crystal.

    Where at most ``SPARSE`` of the survey windows hold a Bragg peak (particles on a
    support, which skipped windows could miss) the default grid is analysed instead.
    """
    found = grid_peaks(xp, data, size, 2 * size, k_range)
    if (found[0]["ratio"] > 0).any(-1).mean() <= SPARSE:
        return grid_peaks(xp, data, size, None, k_range)
    return found
