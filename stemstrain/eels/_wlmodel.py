"""White-line-aware linear edge model: hydrogenic continua + free ELNES, vectorised.

Every spectrum is modelled over one energy range as

    c(E) = B_i(E) + u_0 P(E) + u_1 P(E) x + sum_X n_X sigma_X(E) + sum_X sum_j w_Xj g_j(E)

* ``B_i``: the power law fitted to the pre-edge window of the first edge (Poisson ML,
  per spectrum), subtracted; ``P = E^-r0`` (median exponent) and ``P x`` absorb its
  amplitude and slope errors (``x = ln E/E_ref``), so the background extrapolation error
  is part of the least-squares covariance;
* ``sigma_X``: hydrogenic dsigma/dE of every edge X in the range (O K, the TM L2,3 and
  the TM L edges named in ``other_edges``), amplitude ``n_X`` proportional to the number of atoms;
* ``g_j``: Gaussians (2 eV apart, 1.5 eV sigma) over the near-edge region of every edge
  (O K: onset - 7 to +20 eV; L: L3 - 7 eV to L2 + 15 eV) with free weights: they absorb
  the white lines and the O K fine structure, so ``n_X`` is set by the continuum beyond,
  where the hydrogenic shape holds.

With ``low_loss`` the edge and ELNES columns are convolved with each position's
low-loss spectrum over its zero-loss intensity (plural scattering is forward-modelled,
not deconvolved: the white lines' plasmon replicas are then part of the model).
The fit is linear: without low loss one pseudo-inverse serves every spectrum (one
matrix product), with low loss a batched normal-equation solve. Edge variances are the
sandwich ``M diag(g mu) M^T`` (``mu`` the fitted counts, ``g`` the noise gain = median
Pearson chi^2/dof of the fits).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..errors import StemstrainError
from ._crosssection import edge_cross_section, l_edge_onsets
from ._input import EDGE_ONSETS_EV, SpectrumInput
from ._integration import fit_power_law, pearson_chi2

__all__ = ["model_fit", "fit_range"]

_CHUNK = 4096
PRE_EV, GAP_EV, LEAD_EV = 60.0, 6.0, 7.0
#: eV of continuum modelled beyond the highest of O K and the TM onset
SPAN_EV = 150.0


def _elnes_limits(element: str) -> tuple[float, float]:
    """Near-edge region (eV) given free ELNES weights: white lines / O K fine structure."""
    if element == "O":
        return EDGE_ONSETS_EV["O"] - LEAD_EV, EDGE_ONSETS_EV["O"] + 20.0
    l3, l2 = l_edge_onsets(element)
    return l3 - LEAD_EV, l2 + 15.0


def fit_range(
    energy: np.ndarray, tm: str, *, stop_ev: float | None = None, other_edges: tuple = ()
) -> dict:
    """Background window, fit range and the edges inside it, checked against the axis."""
    lo_axis, hi_axis = float(energy[0]), float(energy[-1])
    hi = min(hi_axis, max(EDGE_ONSETS_EV["O"], EDGE_ONSETS_EV[tm]) + SPAN_EV)
    if stop_ev is not None:
        hi = min(hi, float(stop_ev))
    for el in other_edges:
        if el not in EDGE_ONSETS_EV or el in ("O", tm):
            raise StemstrainError(
                f"other_edges: {el!r} is not a tabulated TM L edge other than tm "
                f"({', '.join(k for k in EDGE_ONSETS_EV if k not in ('O', tm))})"
            )
    edges = ["O", tm] + sorted(
        (el for el in other_edges if lo_axis + 25 < EDGE_ONSETS_EV[el] < hi - 30),
        key=EDGE_ONSETS_EV.get,
    )
    first = min(EDGE_ONSETS_EV[el] for el in edges)
    pre = (max(lo_axis, first - LEAD_EV - GAP_EV - PRE_EV), first - LEAD_EV - GAP_EV)
    if pre[1] - pre[0] < 15.0:
        raise StemstrainError(
            f"spectrum: the model needs a background window below the first edge ({first:g} "
            f"eV), but the energy axis starts at {lo_axis:.1f} eV; record from "
            f"{first - LEAD_EV - GAP_EV - 20:.0f} eV or lower"
        )
    for el in ("O", tm):
        top = _elnes_limits(el)[1] + 20.0
        if top > hi:
            edge = "O K" if el == "O" else f"{el} L2,3"
            raise StemstrainError(
                f"spectrum: the {edge} continuum needs the range up to {top:.0f} eV, but the "
                f"model stops at {hi:.1f} eV (axis end or stop_ev); record a wider range"
            )
    return {"pre": pre, "range": (pre[0], hi), "edges": edges}


def _design(
    energy: np.ndarray,
    edges: list,
    micro: dict,
    r0: float,
    e_ref: float,
    n_bg: int,
) -> np.ndarray:
    """Shared columns: background correction (n_bg), edges (len(edges)), ELNES Gaussians."""
    x = np.log(energy / e_ref)
    p = np.exp(-r0 * x)
    cols = [p * x**k for k in range(n_bg)]
    for el in edges:
        sub = "O_K" if el == "O" else f"{el}_L3"
        sig = edge_cross_section(sub, energy, **micro)
        cols.append(sig / max(float(sig.max()), 1e-300))  # unit peak; rescaled below
    step = max(2.0, 2.0 * float(np.median(np.diff(energy))))
    width = max(1.5, float(np.median(np.diff(energy))))
    for el in edges:
        lo, hi = _elnes_limits(el)
        for c in np.arange(lo, hi, step):
            cols.append(np.exp(-0.5 * ((energy - c) / width) ** 2))
    return np.column_stack(cols)


def _kernels(low_loss: Any, scale: float, n_out: int) -> tuple:
    """Low-loss spectra / I0 on the core-loss dispersion, the ZLP index and t/lambda.

    Each spectrum is resampled (linear interpolation) onto a grid whose zero is its own
    zero-loss centroid, so a drifted or miscalibrated ZLP does not shift the convolved
    edges; ``zlp_offset_ev`` (the centroids) goes into the fit info.
    """
    axis = low_loss.axes_manager.signal_axes[0]
    e_ll = np.asarray(axis.axis, dtype=float)
    ll = np.asarray(low_loss.data, dtype=float).reshape(-1, e_ll.size)
    peak = e_ll[np.argmax(ll, axis=1)]
    # the ZLP neighbourhood only (N x ~40 channels, not N x C temporaries)
    zone = slice(
        int(np.searchsorted(e_ll, peak.min() - 15.0)),
        int(np.searchsorted(e_ll, peak.max() + 11.0)) + 1,
    )
    e_z, ll_z = e_ll[zone], ll[:, zone]
    threshold = _elastic_threshold(ll_z, e_z, peak)  # (N,) eV, absolute
    below = e_z[None, :] < threshold[:, None]
    i0 = ll[:, : zone.start].sum(1) + (ll_z * below).sum(1)
    # centroid over a window symmetric about the ZLP maximum, up to the elastic threshold
    near = below & (e_z[None, :] > 2 * peak[:, None] - threshold[:, None])
    centre = (ll_z * near) @ e_z / (ll_z * near).sum(1)
    thickness = np.log(ll.sum(1) / i0)
    grid = np.arange(e_ll[0], min(e_ll[-1], e_ll[0] + scale * n_out), scale)
    pos = (grid[None, :] + centre[:, None] - e_ll[0]) / float(axis.scale)  # fractional index
    lo = np.clip(np.floor(pos).astype(int), 0, e_ll.size - 2)
    frac = np.clip(pos - lo, 0.0, 1.0)
    ker = np.take_along_axis(ll, lo, 1) * (1 - frac) + np.take_along_axis(ll, lo + 1, 1) * frac
    ker *= scale / float(axis.scale)
    return ker / i0[:, None], int(round(-e_ll[0] / scale)), thickness, centre


def _elastic_threshold(
    ll: np.ndarray, e_ll: np.ndarray, peak: np.ndarray, window_ev: float = 10.0
) -> np.ndarray:
    """End of the zero-loss peak per spectrum: the first minimum after the ZLP maximum.

    The minimum of the 3-channel running mean within ``window_ev`` above the maximum
    ``peak`` (between the ZLP and the first losses), found relative to each spectrum's own
    ZLP, so that a drifted ZLP does not move it (exspy's estimate searches from 0 eV).
    """
    smooth = np.copy(ll)
    smooth[:, 1:-1] = (ll[:, :-2] + ll[:, 1:-1] + ll[:, 2:]) / 3.0
    after = (e_ll[None, :] > peak[:, None]) & (e_ll[None, :] <= peak[:, None] + window_ev)
    return e_ll[np.argmin(np.where(after, smooth, np.inf), axis=1)]


def _convolve(cols: np.ndarray, ker: np.ndarray, zlp: int) -> np.ndarray:
    """Columns (C, K) convolved with kernels (N, L) -> (N, C, K), energy-aligned."""
    from scipy import fft

    n = cols.shape[0]
    size = fft.next_fast_len(n + ker.shape[1])
    fc = fft.rfft(cols, size, axis=0)  # (F, K)
    fk = fft.rfft(ker, size, axis=1)  # (N, F)
    out = fft.irfft(fk[:, :, None] * fc[None], size, axis=1)
    return out[:, zlp : zlp + n, :]


def _as_slice(mask: np.ndarray) -> slice:
    """Return the contiguous channel range of a window mask as a slice (views, not copies)."""
    idx = np.flatnonzero(mask)
    return slice(int(idx[0]), int(idx[-1]) + 1)


def _rows(data2d: Any, idx: np.ndarray, sel: slice) -> Any:
    """Spectra ``idx`` restricted to the channels ``sel``; a view for contiguous rows."""
    if idx.size and idx[-1] - idx[0] == idx.size - 1:
        return data2d[int(idx[0]) : int(idx[-1]) + 1, sel]
    return data2d[idx][:, sel]


def _prepare(
    inp: SpectrumInput, tm: str, *, low_loss: Any, stop_ev: Any, other_edges: tuple
) -> dict:
    """Fit range, per-spectrum pre-edge power laws, low-loss kernels: what every solve needs."""
    e = inp.energy_ev
    rng = fit_range(e, tm, stop_ev=stop_ev, other_edges=tuple(other_edges))
    sel = _as_slice((e >= rng["range"][0]) & (e < rng["range"][1]))
    psel = _as_slice((e >= rng["pre"][0]) & (e < rng["pre"][1]))
    data2d = inp.data.reshape(-1, e.size)
    e_ref = float(np.exp(np.log(e[psel]).mean()))
    x_pre = np.log(e[psel] / e_ref)
    n = data2d.shape[0]
    fits = [
        fit_power_law(np.asarray(data2d[i : i + _CHUNK, psel], dtype=float), x_pre, np)
        for i in range(0, n, _CHUNK)
    ]
    rows = np.unique(np.linspace(0, n - 1, min(n, 1024)).astype(int))
    pre_counts = np.asarray(_rows(data2d, rows, psel), dtype=float)
    a_all = np.concatenate([f["a"] for f in fits])[rows]
    b_all = np.concatenate([f["b"] for f in fits])[rows]
    chi2_pre = pearson_chi2(pre_counts, x_pre, np.nan_to_num(a_all), np.nan_to_num(b_all), np)
    gain_pre = float(np.nanmedian(chi2_pre / max(x_pre.size - 2, 1)))
    micro = inp.microscope
    energy = e[sel]
    return {
        "rng": rng,
        "sel": sel,
        "energy": energy,
        "data2d": data2d,
        "e_ref": e_ref,
        "x_fit": np.log(energy / e_ref),
        "micro": micro,
        "n": n,
        "a": np.nan_to_num(np.concatenate([f["a"] for f in fits])),
        "b": np.nan_to_num(np.concatenate([f["b"] for f in fits])),
        "gain_pre": gain_pre,
        "kernels": None
        if low_loss is None
        else _kernels(low_loss, float(np.median(np.diff(e))), energy.size),
    }


def _bg_projection(pinv: np.ndarray, x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_c pinv[k, c] exp(a + b x_c)`` for every spectrum without forming exp(a + b x).

    Power series in ``b`` about the centre of ``x`` (40 terms, exact to ~1e-14 while
    ``|b| max|x - centre| <= 6``); rows beyond that are evaluated directly.
    """
    centre = 0.5 * (x.max() + x.min())
    dx = x - centre
    n_terms = 40
    fact = np.cumprod(np.r_[1.0, np.arange(1, n_terms)])
    moments = (dx[None, :] ** np.arange(n_terms)[:, None] / fact[:, None]) @ pinv.T  # (M, K)
    acc = np.zeros((b.size, pinv.shape[0])) + moments[-1]
    for m in range(n_terms - 2, -1, -1):  # Horner in b
        acc = acc * b[:, None] + moments[m]
    out = np.exp(a + b * centre)[:, None] * acc
    far = np.abs(b) * np.abs(dx).max() > 6.0
    if far.any():
        out[far] = np.exp(a[far, None] + b[far, None] * x[None, :]) @ pinv.T
    return out


def _solve(setup: dict, n_bg: int, rows: np.ndarray, stats: np.ndarray | None = None) -> dict:
    """Linear fit of the spectra ``rows`` with ``n_bg`` background-correction columns.

    ``stats`` (positions within ``rows``, default all): where the fitted spectrum is formed
    for the Pearson chi^2 (noise gain, BIC); elsewhere only the amplitudes and their
    covariance are computed.
    """
    energy = setup["energy"]
    r0 = float(-np.median(setup["b"]))
    design = _design(energy, setup["rng"]["edges"], setup["micro"], r0, setup["e_ref"], n_bg)
    stats = np.arange(rows.size) if stats is None else stats
    if setup["kernels"] is None:
        out = _solve_shared(setup, design, n_bg, rows)
    else:
        out = _solve_convolved(setup, design, n_bg, rows)
    out.update(_fit_stats(setup, design, n_bg, rows[stats]))
    out["dof"] = max(energy.size - design.shape[1], 1)
    out["n_elnes"] = design.shape[1] - n_bg - len(setup["rng"]["edges"])
    return out


def _solve_shared(setup: dict, design: np.ndarray, n_bg: int, rows: np.ndarray) -> dict:
    """One pseudo-inverse for all spectra; variances from the counts (sandwich)."""
    pinv = np.linalg.pinv(design)
    edge = pinv[n_bg : n_bg + 2]
    dtype = np.float32 if setup["data2d"].dtype == np.float32 else np.float64
    p_t = pinv[n_bg : n_bg + 2].T.astype(dtype)
    q_t = np.stack([edge[0] ** 2, edge[0] * edge[1], edge[1] ** 2]).T.astype(dtype)
    coef = np.empty((rows.size, 2))
    cov = np.empty((rows.size, 2, 2))
    for i0 in range(0, rows.size, _CHUNK):
        idx = rows[i0 : i0 + _CHUNK]
        part = slice(i0, i0 + idx.size)
        y = np.asarray(_rows(setup["data2d"], idx, setup["sel"]), dtype=dtype)
        coef[part] = (y @ p_t) - _bg_projection(
            edge, setup["x_fit"], setup["a"][idx], setup["b"][idx]
        )
        v = np.maximum(y, 1.0) @ q_t  # Poisson variance ~ counts
        cov[part] = v[:, [0, 1, 1, 2]].reshape(-1, 2, 2)
    return {"coef": coef, "cov": cov}


def _solve_convolved(setup: dict, design: np.ndarray, n_bg: int, rows: np.ndarray) -> dict:
    """Per-spectrum design (edges convolved with the low loss): batched normal equations."""
    energy, kernels = setup["energy"], setup["kernels"]
    k = design.shape[1]
    coef = np.empty((rows.size, 2))
    cov = np.empty((rows.size, 2, 2))
    for i0 in range(0, rows.size, 256):
        idx = rows[i0 : i0 + 256]
        part = slice(i0, i0 + idx.size)
        y = np.asarray(_rows(setup["data2d"], idx, setup["sel"]), dtype=float)
        y_net = y - np.exp(setup["a"][idx, None] + setup["b"][idx, None] * setup["x_fit"])
        a_i = _convolved_design(design, n_bg, kernels, idx, energy.size)
        gram = np.einsum("nck,ncl->nkl", a_i, a_i)
        ridge = 1e-12 * np.trace(gram, axis1=1, axis2=2)[:, None, None] / k
        m_e = np.linalg.solve(gram + ridge * np.eye(k), np.swapaxes(a_i, 1, 2))[:, n_bg : n_bg + 2]
        coef[part] = np.einsum("nkc,nc->nk", m_e, y_net)
        cov[part] = np.einsum("nkc,nlc,nc->nkl", m_e, m_e, np.maximum(y, 1.0))
    return {"coef": coef, "cov": cov}


def _convolved_design(
    design: np.ndarray, n_bg: int, kernels: tuple, idx: np.ndarray, n_ch: int
) -> np.ndarray:
    conv = _convolve(design[:, n_bg:], kernels[0][idx], kernels[1])  # kernels: _kernels()
    return np.concatenate([np.broadcast_to(design[:, :n_bg], (idx.size, n_ch, n_bg)), conv], axis=2)


def _fit_stats(setup: dict, design: np.ndarray, n_bg: int, rows: np.ndarray) -> dict:
    """Pearson chi^2 and mean fitted counts of the spectra ``rows`` (full fit formed)."""
    kernels = setup["kernels"]
    y = np.asarray(_rows(setup["data2d"], rows, setup["sel"]), dtype=float)
    bg = np.exp(setup["a"][rows, None] + setup["b"][rows, None] * setup["x_fit"])
    if kernels is None:
        mu = ((y - bg) @ np.linalg.pinv(design).T) @ design.T + bg
    else:
        a_i = _convolved_design(design, n_bg, kernels, rows, design.shape[0])
        c = np.stack(
            [np.linalg.lstsq(a, yy, rcond=None)[0] for a, yy in zip(a_i, y - bg, strict=True)]
        )
        mu = np.einsum("nck,nk->nc", a_i, c) + bg
    z = (y - mu) / np.sqrt(np.maximum(mu, 1.0))
    chi2 = (z**2).sum(1)
    return {
        "chi2": chi2,
        "level": mu.mean(1),
        "z_mean": z.mean(0),
        "excess": (y - mu).mean(0) / np.maximum(mu.mean(0), 1e-12),
    }


def _select_background(setup: dict) -> tuple[int, dict, float]:
    """2 or 3 background columns, by the BIC of the fits of <= 512 spectra (gain of 2).

    Also returns the background-model systematic: the median relative change of O/TM
    between the two choices over the spectra whose TM amplitude exceeds 3 sigma in both
    (0 where none does). The two models fit the data about equally on real spectra and
    move O/TM by up to ~20 % (docs/notes/eels.md), which the fit covariance of either
    alone does not contain.
    """
    rows = np.unique(np.linspace(0, setup["n"] - 1, min(setup["n"], 512)).astype(int))
    fits = {nb: _solve(setup, nb, rows) for nb in (2, 3)}
    gain = _gain(fits[2])
    n_ch = setup["energy"].size
    bic = {
        nb: float(np.nansum(f["chi2"])) / gain + rows.size * nb * np.log(n_ch)
        for nb, f in fits.items()
    }
    chosen = min(bic, key=bic.get)
    return chosen, bic, _model_spread(fits[chosen], fits[5 - chosen], gain)


def _model_spread(chosen: dict, other: dict, gain: float) -> float:
    """Median |R_other / R_chosen - 1| over spectra with a > 3 sigma TM amplitude in both."""
    ok = np.ones(chosen["coef"].shape[0], dtype=bool)
    for fit in (chosen, other):
        tm, var_tm = fit["coef"][:, 1], gain * fit["cov"][:, 1, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            ok &= (tm / np.sqrt(var_tm) > 3.0) & (fit["coef"][:, 0] > 0)
    if not ok.any():
        return 0.0
    r_chosen = chosen["coef"][ok, 0] / chosen["coef"][ok, 1]
    r_other = other["coef"][ok, 0] / other["coef"][ok, 1]
    return float(np.median(np.abs(r_other / r_chosen - 1.0)))


def _gain(fit: dict) -> float:
    """Noise gain: median Pearson chi^2/dof over spectra with > 10 counts per channel."""
    ratio = fit["chi2"] / fit["dof"]
    busy = fit["level"] > 10
    return float(np.nanmedian(ratio[busy] if busy.any() else ratio))


#: strong edges not in the model (M5 onsets, eV) that distort O/TM when inside the range
UNMODELLED = {"Ba M5": 781.0, "La M5": 832.0, "Ce M5": 883.0, "Pr M5": 931.0, "Nd M5": 978.0}


def _warn_unmodelled(setup: dict, fit: dict, gain: float, n_rows: int) -> None:
    """Warn when the mean fit residual shows an edge the model lacks (e.g. La M4,5).

    The residual is scaled by the noise gain of the pre-edge fits (``gain``), which a
    misfit of the edge region cannot inflate.
    """
    energy = setup["energy"]
    for name, onset in UNMODELLED.items():
        win = (energy >= onset - 2.0) & (energy < onset + 6.0)
        if np.count_nonzero(win) < 3:
            continue
        z = float(fit["z_mean"][win].mean()) * np.sqrt(
            np.count_nonzero(win) * n_rows / max(gain, 1e-12)
        )
        excess = float(fit["excess"][win].mean())
        # counts above the model (a deficit is a continuum misfit), significant and > 2 %
        if z > 5.0 and excess > 0.02:
            warnings.warn(
                f"spectrum: the fit residual shows an edge at {onset:g} eV ({name}?) that the "
                f"model lacks (+{100 * excess:.0f} %, {z:.0f} sigma); O/TM is unreliable: set "
                f"stop_ev below {onset - 5:g} eV if the TM continuum allows it (Ni L3 overlaps "
                "La M4: not supported)",
                UserWarning,
                stacklevel=6,
            )


def _replica(setup: dict, fit: dict, n_bg: int, tm: str) -> float | None:
    """Median plural-replica weight of <= 256 spectra with a > 10 sigma TM edge, or None.

    Warns above ``REPLICA_WARN`` (used when no low loss is given).
    """
    from ._lowloss import REPLICA_WARN, replica_weight

    with np.errstate(invalid="ignore", divide="ignore"):
        sig = fit["coef"][:, 1] / np.sqrt(fit["cov"][:, 1, 1] * setup["gain_pre"])
    strong = np.flatnonzero(sig >= 10.0)
    if strong.size == 0:
        return None
    rows = strong[np.unique(np.linspace(0, strong.size - 1, min(strong.size, 256)).astype(int))]
    design = _design(
        setup["energy"],
        setup["rng"]["edges"],
        setup["micro"],
        float(-np.median(setup["b"])),
        setup["e_ref"],
        n_bg,
    )
    y = np.asarray(_rows(setup["data2d"], rows, setup["sel"]), dtype=float)
    y_net = y - np.exp(setup["a"][rows, None] + setup["b"][rows, None] * setup["x_fit"])
    scale = float(np.median(np.diff(setup["energy"])))
    weight = float(np.nanmedian(replica_weight(design, n_bg, y_net, scale)))
    if weight > REPLICA_WARN:
        warnings.warn(
            f"spectrum: plural scattering: the near-edge structure has a plasmon replica of "
            f"weight {weight:.2f} (about t/lambda), which the model without low_loss reads as "
            f"{tm} continuum: O/{tm} is biased low (synthetic: -16 % at t/lambda 0.3, -37 % at "
            "1.0); pass low_loss= (the matching low-loss spectra)",
            UserWarning,
            stacklevel=6,
        )
    return weight


def model_fit(
    inp: SpectrumInput,
    tm: str,
    *,
    low_loss: Any = None,
    stop_ev: float | None = None,
    other_edges: tuple = (),
    n_background: int | None = None,
) -> tuple[dict, dict, float, dict]:
    """Edge amplitudes (atoms, arbitrary common unit) and variances of every spectrum.

    Returns
    -------
    parts : dict
        ``o``, ``tm`` and ``var_o``, ``var_tm``, ``cov`` (navigation shape).
    sigmas : dict
        Peak cross-sections (barn/eV) of the O and TM columns.
    gain : float
        Noise gain (median Pearson chi^2 / dof of the fits).
    info : dict
        Fit range, edges, background columns and their BIC, ``background_model_relative``
        (relative O/TM change between 2 and 3 background columns, 0 when ``n_background``
        is given), ``thickness`` (t/lambda with low loss, else None).
    """
    setup = _prepare(inp, tm, low_loss=low_loss, stop_ev=stop_ev, other_edges=other_edges)
    bic, spread = None, 0.0
    if n_background is None:
        n_background, bic, spread = _select_background(setup)
    rows = np.arange(setup["n"])
    stats = np.unique(np.linspace(0, setup["n"] - 1, min(setup["n"], 1024)).astype(int))
    fit = _solve(setup, int(n_background), rows, stats)
    gain = _gain(fit)
    _warn_unmodelled(setup, fit, setup["gain_pre"], stats.size)
    replica = None if low_loss is not None else _replica(setup, fit, int(n_background), tm)
    energy, micro = setup["energy"], setup["micro"]
    peaks = {
        el: float(edge_cross_section("O_K" if el == "O" else f"{el}_L3", energy, **micro).max())
        for el in ("O", tm)
    }
    scale = np.array([peaks["O"], peaks[tm]])
    amp = fit["coef"] / scale  # atoms (common unit): amplitude / peak cross-section
    cov = gain * fit["cov"] / (scale[:, None] * scale[None, :])
    shape = inp.nav_shape
    parts = {
        "o": amp[:, 0].reshape(shape),
        "tm": amp[:, 1].reshape(shape),
        "var_o": cov[:, 0, 0].reshape(shape),
        "var_tm": cov[:, 1, 1].reshape(shape),
        "cov": cov[:, 0, 1].reshape(shape),
    }
    rng = setup["rng"]
    info = {
        "fit_range_ev": [float(v) for v in rng["range"]],
        "edges": rng["edges"],
        "background_window_ev": [float(v) for v in rng["pre"]],
        "n_background": int(n_background),
        "background_bic": bic,
        "background_model_relative": spread,
        "noise_gain_pre_edge": float(setup["gain_pre"]),
        "plural_replica_weight": replica,
        "thickness": None if setup["kernels"] is None else setup["kernels"][2].reshape(shape),
        "zlp_offset_ev": None
        if setup["kernels"] is None
        else float(np.median(setup["kernels"][3])),
        "n_elnes_columns": int(fit["n_elnes"]),
    }
    return parts, peaks, gain, info
