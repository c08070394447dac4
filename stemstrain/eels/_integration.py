"""Vectorised edge integration: power-law background by Poisson maximum likelihood.

For every spectrum at once (arrays ``(N, channels)`` on NumPy or CuPy), the pre-edge
window is fitted with ``mu(E) = exp(a + b x)``, ``x = ln(E / E_ref)`` (a power law
``A E^-r`` with ``r = -b``), by Newton iterations of the Poisson log-likelihood
(a log-link GLM), started from a counts-weighted log-linear least-squares fit. The
fitted law is extrapolated under the integration window and subtracted.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["fit_power_law", "edge_integral", "noise_gain"]

_N_NEWTON = 6


def _solve2(h00: Any, h01: Any, h11: Any, g0: Any, g1: Any, xp: ModuleType) -> tuple:
    """Solve the symmetric 2x2 systems [[h00, h01], [h01, h11]] d = g element-wise."""
    det = h00 * h11 - h01 * h01
    det = xp.where(det > 0, det, xp.nan)
    return (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det, det


def fit_power_law(counts: Any, x: Any, xp: ModuleType) -> dict:
    """Fit ``exp(a + b x)`` to Poisson counts in every row.

    Parameters
    ----------
    counts : array (N, P)
        Counts in the pre-edge window (float64).
    x : array (P,)
        ``ln(E / E_ref)`` of the channels.
    xp : module
        numpy or cupy.

    Returns
    -------
    dict
        ``a, b`` (N,), the Fisher covariance ``caa, cab, cbb`` (N,) and the Pearson
        statistic ``chi2`` (N,) with ``dof`` = P - 2.
    """
    c = counts
    w = xp.maximum(c, 1.0)
    y = xp.log(w)
    s0, s1, s2 = w.sum(1), w @ x, w @ (x * x)
    t0, t1 = (w * y).sum(1), (w * y) @ x
    a, b, _ = _solve2(s0, s1, s2, t0, t1, xp)
    for _ in range(_N_NEWTON):
        mu = xp.exp(xp.clip(a[:, None] + b[:, None] * x[None, :], -700, 700))
        r = c - mu
        h00, h01, h11 = mu.sum(1), mu @ x, mu @ (x * x)
        da, db, _ = _solve2(h00, h01, h11, r.sum(1), r @ x, xp)
        ok = xp.isfinite(da) & xp.isfinite(db)
        a = xp.where(ok, a + da, a)
        b = xp.where(ok, b + db, b)
    mu = xp.exp(xp.clip(a[:, None] + b[:, None] * x[None, :], -700, 700))
    h00, h01, h11 = mu.sum(1), mu @ x, mu @ (x * x)
    det = h00 * h11 - h01 * h01
    det = xp.where(det > 0, det, xp.nan)
    chi2 = ((c - mu) ** 2 / xp.maximum(mu, 1e-12)).sum(1)
    return {"a": a, "b": b, "caa": h11 / det, "cab": -h01 / det, "cbb": h00 / det,
            "chi2": chi2, "dof": int(x.shape[0]) - 2}


def edge_integral(chunk: Any, energy: np.ndarray, window: dict, xp: ModuleType) -> dict:
    """Background-subtracted edge counts and their variance for every spectrum.

    Parameters
    ----------
    chunk : array (N, C)
        Spectra (float64, on the device of ``xp``).
    energy : ndarray (C,)
        Channel energies in eV (NumPy).
    window : dict
        ``pre`` and ``int`` (lo, hi) eV windows (see ``edge_windows``).
    xp : module
        numpy or cupy.

    Returns
    -------
    dict
        ``signal`` I = S - B, ``var_counting`` = S (Poisson), ``var_background`` = var(B)
        from the fit covariance, ``background`` B, ``total`` S, and the fit's ``chi2``/``dof``.
    """
    pre = np.flatnonzero((energy >= window["pre"][0]) & (energy < window["pre"][1]))
    win = np.flatnonzero((energy >= window["int"][0]) & (energy < window["int"][1]))
    e_ref = float(np.exp(np.log(energy[pre]).mean()))
    x_pre = xp.asarray(np.log(energy[pre] / e_ref))
    x_int = xp.asarray(np.log(energy[win] / e_ref))
    fit = fit_power_law(chunk[:, pre[0] : pre[-1] + 1], x_pre, xp)
    a, b = fit["a"], fit["b"]
    bg = xp.exp(xp.clip(a[:, None] + b[:, None] * x_int[None, :], -700, 700))
    big_b = bg.sum(1)
    big_bx = bg @ x_int
    var_b = (big_b**2 * fit["caa"] + 2 * big_b * big_bx * fit["cab"] + big_bx**2 * fit["cbb"])
    total = chunk[:, win[0] : win[-1] + 1].sum(1)
    return {"signal": total - big_b, "var_counting": xp.maximum(total, 0.0),
            "var_background": var_b, "background": big_b, "total": total,
            "chi2": fit["chi2"], "dof": fit["dof"], "channels": (int(win[0]), int(win[-1]) + 1)}


def noise_gain(chi2: np.ndarray, dof: int) -> float:
    """Variance per count from the pre-edge fit residuals: median Pearson chi2 / dof.

    1 for Poisson counts in electrons; larger for gain-normalised or non-power-law data.
    """
    values = np.asarray(chi2, dtype=float) / max(dof, 1)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else 1.0
