"""Ordering domains: regions of the crystal with a different local set of reflections.

Independent of the phase models, so it also separates domains of crystals the models do
not describe (90-degree superstructure domains of a perovskite, a planar fault band).
The strongest peaks of the power spectrum (up to ``N_PEAKS``, one per Friedel pair) give
local amplitude maps (lock-in at ``sigma`` = one period of the longest of them); their
logarithms decide (see :func:`_split`): two anti-correlated reflections split the crystal
where each dominates; else a robust outlier of some reflection's amplitude marks a
different region; else one domain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from ._classify import _edge_fix
from ._lockin import Prepared, lockin, spectrum_peaks

N_PEAKS = 8
ANTI_CORR = -0.3
MIN_SPREAD = 0.3
Z_ANOMALY = 5.0


def _peaks(prep: Prepared) -> np.ndarray:
    g, pw, _ = spectrum_peaks(prep, 8.0 / min(prep.shape), 0.4)
    half = (g[:, 1] > 0) | ((g[:, 1] == 0) & (g[:, 0] > 0))
    g, pw = g[half], pw[half]
    return g[np.argsort(pw)[::-1][:N_PEAKS]]


def _split(x: np.ndarray) -> tuple[np.ndarray, str, tuple[int, ...]]:
    """Domain index per sample (0-based), the rule used, and the peaks that decide.

    1. Two reflections whose local log-amplitudes are anti-correlated (r < ``ANTI_CORR``,
       both varying by more than ``MIN_SPREAD``) occupy different regions: each sample
       goes to the one that is locally stronger (standardised).
    2. Otherwise, samples where some reflection deviates robustly (|z| > ``Z_ANOMALY``,
       median / MAD) form a second domain if they cover > 1 % of the crystal.
    """
    spread = x.std(0)
    z = (x - x.mean(0)) / (spread + 1e-12)
    corr = np.corrcoef(x.T) if x.shape[1] > 1 else np.ones((1, 1))
    var_ok = spread > MIN_SPREAD
    cand = corr + np.eye(len(corr)) * 9 + (~(var_ok[:, None] & var_ok[None, :])) * 9
    i, j = np.unravel_index(int(np.argmin(cand)), cand.shape)
    if cand[i, j] < ANTI_CORR:
        return (z[:, j] > z[:, i]).astype(int), "anti-correlated reflections", (int(i), int(j))
    med = np.median(x, 0)
    mad = 1.4826 * np.median(np.abs(x - med), 0) + 1e-12
    rz = np.abs(x - med) / mad
    odd = rz.max(1) > Z_ANOMALY
    if odd.mean() > 0.01:
        k = int(np.argmax((rz > Z_ANOMALY).sum(0)))
        return odd.astype(int), "anomalous reflection amplitude", (k,)
    return np.zeros(len(x), int), "uniform", ()


def ordering_domains(prep: Prepared, crystal: np.ndarray, stride: int, px: float):
    """Domain map (int16, 0 off the crystal) and a table ``domain, gx, gy, area_nm2, fraction``."""
    shape = prep.shape
    cols = ["domain", "gx", "gy", "area_nm2", "fraction", "rule"]
    out = np.zeros(shape, np.int16)
    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    g = _peaks(prep)
    if len(g) < 2 or crystal.sum() < 100:
        out[crystal] = 1
        return out, empty
    period = 1.0 / np.hypot(g[:, 0], g[:, 1]).min()
    sigma = max(8.0, period)
    st = stride
    crop, valid = prep.grid(st)
    amp = np.abs(lockin(prep.fft, g, 1.0 / (2 * np.pi * sigma), crop))
    band = int(np.ceil(1.5 * sigma / st))
    amp = _edge_fix(amp, band, valid)[..., : valid[0], : valid[1]]
    crop = valid
    cr = crystal[::st, ::st]
    x = np.log(amp[:, cr].T + 1e-9 * amp.max())
    lab, rule, which = _split(x)
    coarse = np.zeros(crop, np.int16)
    coarse[cr] = lab + 1
    size = max(3, 2 * int(sigma / (2 * st)) + 1)
    coarse = np.where(cr, ndi.median_filter(coarse, size=size), 0)
    if rule != "uniform":
        # order by area: domain 1 the larger
        areas = np.bincount(coarse[cr], minlength=3)[1:3]
        if areas[1] > areas[0]:
            coarse = np.where(cr, 3 - coarse, 0)
            which = which[::-1]
    ry = np.clip(np.round(np.arange(shape[0]) / st).astype(int), 0, crop[0] - 1)
    rx = np.clip(np.round(np.arange(shape[1]) / st).astype(int), 0, crop[1] - 1)
    out = np.where(crystal, coarse[ry][:, rx], 0).astype(np.int16)
    rows = []
    n_cr = max(int(crystal.sum()), 1)
    for d in range(1, int(out.max()) + 1):
        area = int((out == d).sum())
        k = which[d - 1] if d - 1 < len(which) else which[0] if which else 0
        rows.append((d, g[k, 0], g[k, 1], area * px**2, area / n_cr, rule))
    return out, pd.DataFrame(rows, columns=cols)
