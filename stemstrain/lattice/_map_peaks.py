"""Local Bragg peaks and the local reciprocal basis of windowed spectra (private to lattice_map).

All steps are vectorised over a stack of windows ``(n, N, N)``; steps 1 and 4 (the
spectra and the sub-bin positions) are the shared helpers of ``stemstrain/_spectra.py``,
which GPA's g refinement also uses:

1. one batched ``rfft2`` of the Hann-windowed, mean-removed windows;
2. a per-window, per-ring background (geometric mean of the power in rings of
   width one frequency bin), turned into an arithmetic-mean estimate (x e^gamma):
   for noise (vacuum, amorphous carbon) the power over it is ~ exponential with mean 1;
3. local maxima whose power ratio exceeds a significance threshold
   ``ln(M / p_fa)`` (M searched frequency bins per window, false-alarm probability
   ``p_fa`` per window) inside the physical band of spacings;
4. sub-bin positions from the exact Hann-window interpolation
   ``delta = (2 a - 1) / (1 + a)``, ``a = |X(k+1)| / |X(k)|`` along each axis
   (exact for a pure sinusoid under a periodic Hann window);
5. the basis: every pair of candidate peaks (at least 15 deg apart) is tried, the one
   indexing the most significance (integer indices, |index| <= 4, residual < 0.15)
   wins if it also indexes a peak with two non-zero indices (``g1 +- g2``-type: a
   2-D lattice, not fringes or a streak); it is refined by least squares on every
   indexed peak (harmonics shrink the error), then Lagrange-Gauss reduced.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from .._backend import asnumpy
from .._basis import reduce_basis
from .._spectra import at_bins, peak_g

__all__ = ["search_mask", "detect_peaks", "fit_basis"]

_EULER_GAMMA = 0.5772156649015329
_MAX_INDEX = 4
_INDEX_TOL = 0.15
_MIN_ANGLE_SIN = np.sin(np.radians(15.0))


def _freq_grids(size: int) -> tuple[np.ndarray, np.ndarray]:
    ky = np.fft.fftfreq(size, 1.0 / size)
    kx = np.arange(size // 2 + 1, dtype=float)
    return np.broadcast_to(ky[:, None], (size, size // 2 + 1)), np.broadcast_to(
        kx[None, :], (size, size // 2 + 1)
    )


def search_mask(size: int, k_range: tuple[float, float]) -> np.ndarray:
    """Bins searched for peaks: |k| in ``k_range`` (bins), one of each Friedel pair, no Nyquist."""
    ky, kx = _freq_grids(size)
    kr = np.hypot(kx, ky)
    ok = (kr >= max(k_range[0], 2.5)) & (kr <= k_range[1])
    ok &= (kx > 0) | (ky > 0)
    # |g| components beyond 0.4 cycles/px: aliasing and noise next to Nyquist
    ok &= (kx <= 0.4 * size) & (np.abs(ky) <= 0.4 * size)
    return ok


def detect_peaks(
    xp: ModuleType,
    mag: Any,
    k_range: tuple[float, float],
    *,
    max_peaks: int = 10,
    p_fa: float = 1e-3,
) -> dict:
    """Significant local maxima of each window's spectrum, with sub-bin positions.

    Parameters
    ----------
    mag : array (..., N, N // 2 + 1)
        Magnitude spectra from :func:`window_spectra`.
    k_range : (float, float)
        Searched band of |k| in frequency bins.
    max_peaks : int
        Most peaks kept per window (significant ones, strongest amplitude first).
    p_fa : float
        False-alarm probability per window that sets the threshold.

    Returns
    -------
    dict
        ``g`` (n, K, 2) (gx, gy) cycles/px (NaN where no peak), ``ratio`` (n, K) power
        over the ring mean, ``threshold``, ``amplitude`` (n, K) peak |FFT|.
    """
    lead = mag.shape[:-2]
    size = mag.shape[-2]
    ncol = mag.shape[-1]
    m = mag.reshape((-1, size * ncol))
    n = m.shape[0]
    ky, kx = _freq_grids(size)
    ring = np.minimum(np.rint(np.hypot(kx, ky)).astype(np.int64), size).ravel()
    nr = int(ring.max()) + 1
    cnt = np.maximum(np.bincount(ring, minlength=nr), 1).astype(np.float32)
    logm = xp.log(m + xp.float32(1e-30))
    # mean log power per ring (one matmul with a one-hot ring matrix for many small windows,
    # a bincount for few large ones), smoothed over +-1 ring; rings 0-1 hold the window
    # mean's leakage and take ring 2's value
    if ring.size * nr <= 4_000_000:
        onehot = np.zeros((ring.size, nr), dtype=np.float32)
        onehot[np.arange(ring.size), ring] = 1.0
        sums = logm @ xp.asarray(onehot)
    else:
        idx = (xp.arange(n)[:, None] * nr + xp.asarray(ring)[None, :]).ravel()
        sums = xp.bincount(idx, weights=logm.ravel(), minlength=n * nr).reshape(n, nr)
    lbg = 2.0 * sums / xp.asarray(cnt)
    lbg[:, :2] = lbg[:, 2:3]
    lbg = xp.concatenate([lbg[:, :1], lbg, lbg[:, -1:]], axis=1)
    lbg = (lbg[:, :-2] + 2 * lbg[:, 1:-1] + lbg[:, 2:]) / 4 + _EULER_GAMMA
    mask = search_mask(size, k_range)
    n_search = max(int(mask.sum()), 1)
    threshold = float(np.log(n_search / p_fa))
    # candidates: significant bins in the band (log domain, one pass), then sparse
    cols = np.flatnonzero(mask.ravel())
    excess = 2.0 * logm[:, cols] - lbg[:, xp.asarray(ring[cols])]
    w_i, c_i = xp.nonzero(excess > np.log(threshold))
    flat = xp.asarray(cols)[c_i]
    iy, ix = flat // ncol, flat % ncol
    c0 = m[w_i, flat]
    is_max = xp.ones(c0.shape, dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                is_max &= c0 >= at_bins(xp, m, w_i, iy + dy, ix + dx, size)
    w_i, iy, ix, c0 = w_i[is_max], iy[is_max], ix[is_max], c0[is_max]
    lr = excess[w_i, c_i[is_max]]
    # the K strongest (amplitude) of each window
    order = xp.lexsort(xp.stack([-c0, w_i]))
    w_i, iy, ix, c0, lr = w_i[order], iy[order], ix[order], c0[order], lr[order]
    first = xp.searchsorted(w_i, xp.arange(n))
    rank = xp.arange(w_i.size) - first[w_i]
    keep = rank < max_peaks
    w_i, iy, ix, c0, lr, rank = (a[keep] for a in (w_i, iy, ix, c0, lr, rank))
    k = max_peaks
    g = xp.full((n, k, 2), xp.nan)
    g[w_i, rank] = peak_g(xp, m, w_i, iy, ix, size)[0]
    ratio = xp.zeros((n, k))
    ratio[w_i, rank] = xp.exp(lr.astype(xp.float64))
    amp = xp.zeros((n, k))
    amp[w_i, rank] = c0
    return {
        "g": asnumpy(g).reshape(lead + (k, 2)),
        "ratio": asnumpy(ratio).reshape(lead + (k,)),
        "amplitude": asnumpy(amp).reshape(lead + (k,)),
        "threshold": threshold,
    }


def fit_basis(
    g: np.ndarray, weight: np.ndarray, max_index: int = _MAX_INDEX, n_basis: int = 7
) -> dict:
    """Best 2-D lattice basis of each window's peaks (see module docstring).

    Parameters
    ----------
    g : ndarray (n, K, 2)
        Peak positions (cycles/px), NaN where absent.
    weight : ndarray (n, K)
        Significance of each peak (ln of the power ratio; 0 where absent).
    max_index : int
        Largest |index| of an indexed peak.
    n_basis : int
        Basis pairs are drawn from the first ``n_basis`` peaks (the strongest); all K are
        indexed.

    Returns
    -------
    dict
        ``basis`` (n, 2, 2) reduced (NaN where no lattice), ``ok`` (n,) bool,
        ``n_indexed`` (n,), ``score`` (n,) indexed significance, ``total`` (n,) all
        significance, ``residual`` (n,) rms position residual of the fit (cycles/px),
        ``strength`` (n, 2) power ratio of the basis peaks.
    """
    n, k = weight.shape
    ii, jj = np.triu_indices(min(k, n_basis), 1)
    gi, gj = g[:, ii], g[:, jj]  # (n, P, 2)
    det = gi[..., 0] * gj[..., 1] - gi[..., 1] * gj[..., 0]
    norm = np.hypot(*np.moveaxis(gi, -1, 0)) * np.hypot(*np.moveaxis(gj, -1, 0))
    good = np.isfinite(det) & (np.abs(det) > _MIN_ANGLE_SIN * norm)
    det = np.where(good, det, np.nan)
    # inverse of B = [[gi], [gj]] (rows): C = G @ inv(B)
    inv = (
        np.stack(
            [np.stack([gj[..., 1], -gi[..., 1]], -1), np.stack([-gj[..., 0], gi[..., 0]], -1)], -2
        )
        / det[..., None, None]
    )
    coef = np.einsum("nkc,npcd->npkd", np.nan_to_num(g), inv)  # (n, P, K, 2)
    rnd = np.rint(coef)
    err = np.abs(coef - rnd)
    big = np.abs(rnd)
    with np.errstate(invalid="ignore"):  # (the max over the last axis of 2, written out: fast)
        indexed = (np.maximum(err[..., 0], err[..., 1]) < _INDEX_TOL) & (
            np.maximum(big[..., 0], big[..., 1]) <= max_index
        )
    indexed &= (weight > 0)[:, None, :]
    mixed = (indexed & (rnd[..., 0] != 0) & (rnd[..., 1] != 0)).any(-1)
    score = np.einsum("npk,nk->np", indexed.astype(float), weight)
    size_pen = 1e-6 * np.nan_to_num(
        np.hypot(*np.moveaxis(gi, -1, 0)) + np.hypot(*np.moveaxis(gj, -1, 0)), nan=1e3
    )
    score = np.where(good & mixed, score - size_pen, -np.inf)
    best = np.argmax(score, axis=1) if score.shape[1] else np.zeros(n, dtype=int)
    rows = np.arange(n)
    ok = np.isfinite(score[rows, best]) if score.shape[1] else np.zeros(n, bool)
    idx = rnd[rows, best]  # (n, K, 2)
    use = indexed[rows, best] & ok[:, None]
    w = np.where(use, weight, 0.0)
    # least squares: g_k = idx_k @ B  ->  B = (sum w idx idx^T)^-1 (sum w idx g^T)
    a = np.einsum("nk,nki,nkj->nij", w, idx, idx)
    r = np.einsum("nk,nki,nkj->nij", w, idx, np.nan_to_num(g))
    a_ok = ok & (np.abs(np.linalg.det(np.where(ok[:, None, None], a, np.eye(2)))) > 1e-9)
    a = np.where(a_ok[:, None, None], a, np.eye(2))
    basis = np.linalg.solve(a, r)
    resid = np.einsum("nki,nij->nkj", idx, basis) - np.nan_to_num(g)
    rms = np.sqrt((w * (resid**2).sum(-1)).sum(-1) / np.maximum(w.sum(-1), 1e-30))
    basis = np.where(a_ok[:, None, None], basis, np.nan)
    ratio_of = np.exp(weight)
    bi, bj = ii[best], jj[best]
    strength = np.stack([ratio_of[rows, bi], ratio_of[rows, bj]], -1)
    return {
        "basis": reduce_basis(basis),
        "ok": a_ok,
        "n_indexed": use.sum(-1),
        "score": np.where(a_ok, (w).sum(-1), 0.0),
        "total": weight.sum(-1),
        "residual": np.where(a_ok, rms, np.nan),
        "strength": np.where(a_ok[:, None], strength, np.nan),
    }
