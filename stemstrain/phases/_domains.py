"""Ordering domains: regions of the crystal with a different local set of reflections.

Independent of the phase models, so it also separates domains of crystals the models do
not describe (90-degree superstructure domains of a perovskite, a planar fault band).
The strongest peaks of the power spectrum (up to ``N_PEAKS``, one per Friedel pair) give
local amplitude maps (lock-in at ``sigma`` = one period of the longest of them); their
logarithms, standardised over the crystal, are clustered with k-means for k = 2 and 3.
A split is kept when the clusters are well separated (between / within variance above
``MIN_SEPARATION`` and every cluster above 3 % of the crystal); else one domain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from scipy.cluster.vq import kmeans2

from ._lockin import _power, lockin, prepare

N_PEAKS = 8
MIN_SEPARATION = 2.0


def _peaks(img: np.ndarray) -> np.ndarray:
    h, w = img.shape
    p, kx, ky = _power(img)
    kk = np.hypot(*np.meshgrid(kx, ky))
    band = (kk > 8.0 / min(h, w)) & (kk < 0.4)
    med = float(np.median(p[band]))
    mx = (p == ndi.maximum_filter(p, size=5)) & band & (p > 30 * med)
    iy, ix = np.nonzero(mx)
    g = np.c_[kx[ix], ky[iy]]
    half = (g[:, 1] > 0) | ((g[:, 1] == 0) & (g[:, 0] > 0))
    g, pw = g[half], p[iy, ix][half]
    return g[np.argsort(pw)[::-1][:N_PEAKS]]


def _kmeans_split(x: np.ndarray, rng_seed: int = 0):
    best = (1, np.zeros(len(x), int), 0.0)
    total = ((x - x.mean(0)) ** 2).sum()
    for k in (2, 3):
        _, lab = kmeans2(x, k, minit="++", seed=rng_seed)
        sizes = np.bincount(lab, minlength=k)
        if sizes.min() < 0.03 * len(x):
            continue
        within = sum(((x[lab == i] - x[lab == i].mean(0)) ** 2).sum() for i in range(k))
        sep = (total - within) / max(within, 1e-12) * (len(x) - k) / (k - 1) / len(x)
        if sep > MIN_SEPARATION and sep > best[2] * 1.3:
            best = (k, lab, sep)
    return best


def ordering_domains(img: np.ndarray, crystal: np.ndarray, stride: int, px: float):
    """Domain map (int16, 0 off the crystal) and a table ``domain, gx, gy, area_nm2, fraction``."""
    cols = ["domain", "gx", "gy", "area_nm2", "fraction", "separation"]
    out = np.zeros(img.shape, np.int16)
    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    g = _peaks(img)
    if len(g) < 2 or crystal.sum() < 100:
        out[crystal] = 1
        return out, empty
    period = 1.0 / np.hypot(g[:, 0], g[:, 1]).min()
    sigma = max(8.0, period)
    st = max(1, int(sigma / 2), stride)
    fft, crop, _ = prepare(img, st)
    amp = np.abs(lockin(fft, g, 1.0 / (2 * np.pi * sigma), crop))
    cr = crystal[::st, ::st][: crop[0], : crop[1]]
    cr_pad = np.zeros(crop, bool)
    cr_pad[: cr.shape[0], : cr.shape[1]] = cr
    x = np.log(amp[:, cr_pad].T + 1e-12 * amp.max())
    x = (x - x.mean(0)) / (x.std(0) + 1e-12)
    k, lab, sep = _kmeans_split(x)
    coarse = np.zeros(crop, np.int16)
    if k == 1:
        coarse[cr_pad] = 1
    else:
        # order domains by area; name each by its most enhanced reflection
        order = np.argsort(np.bincount(lab))[::-1]
        remap = np.empty(k, int)
        remap[order] = np.arange(1, k + 1)
        coarse[cr_pad] = remap[lab]
        coarse = ndi.median_filter(coarse, size=3)
    ry = np.clip(np.round(np.arange(img.shape[0]) / st).astype(int), 0, crop[0] - 1)
    rx = np.clip(np.round(np.arange(img.shape[1]) / st).astype(int), 0, crop[1] - 1)
    out = np.where(crystal, coarse[ry][:, rx], 0).astype(np.int16)
    rows = []
    n_cr = max(int(crystal.sum()), 1)
    for d in range(1, int(out.max()) + 1):
        sel = coarse[cr_pad] == d
        if not sel.any():
            continue
        mean_z = x[sel].mean(0)
        j = int(np.argmax(mean_z))
        area = int((out == d).sum())
        rows.append((d, g[j, 0], g[j, 1], area * px**2, area / n_cr, sep))
    return out, pd.DataFrame(rows, columns=cols)
