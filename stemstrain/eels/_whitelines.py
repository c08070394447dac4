"""White-line features of TM L2,3 edges, vectorised: L3/L2 ratio and L3 position.

Per spectrum (rows of ``(N, C)``):

1. background: the power law fitted (Poisson ML) to up to 30 eV ending 8 eV below the
   tabulated L3 onset when the axis has >= 5 eV there; else the spectrum is taken as
   background-subtracted and its median over the first 2 eV is removed;
2. the L3 maximum (1 eV running mean, parabolic sub-channel refinement) in
   ``[L3 - 10, L3 + 15]`` eV of the (self-calibrated) axis, 20 eV wider on each side when
   the axis is not calibrated (and below ``end - (L2 - L3) - 5`` eV); the L2 maximum within
   +-3 eV of ``L3 max + (L2 - L3)``;
3. the continuum under the white lines: Pearson's double step [1]_, heights 2:1 at the two
   maxima (sharp steps), total height = the mean over ``[L2 max + 6, L2 max + 10]`` eV;
4. ``I3`` = step-subtracted area from L3 max - 5 eV to the midpoint, ``I2`` from the
   midpoint to L2 max + 5 eV; ``l3_l2_ratio = I3 / I2``; the L3 centroid = first moment of
   the step-subtracted L3 line over the ``I3`` window (the chemical-shift feature [2]_: it
   integrates the multiplet structure, where an onset threshold can jump across a dip).
   Window sums come from one cumulative sum per spectrum (no per-pixel masks).

Noise: the per-channel variance of each spectrum is estimated from its second
differences (``var = mean(d2^2) / 6``, exact for white noise), so normalised or
gain-scaled spectra get a meaningful sigma too.

References
----------
.. [1] D. H. Pearson, C. C. Ahn, B. Fultz, Phys. Rev. B 47, 8471 (1993).
   doi:10.1103/PhysRevB.47.8471
.. [2] H. Tan, J. Verbeeck, A. Abakumov, G. Van Tendeloo, Ultramicroscopy 116, 24 (2012).
   doi:10.1016/j.ultramic.2012.03.002
"""

from __future__ import annotations

import numpy as np

from ._crosssection import l_edge_onsets
from ._integration import fit_power_law

__all__ = ["white_line_features"]


def _background(data: np.ndarray, e: np.ndarray, l3: float) -> np.ndarray:
    """Background-subtracted spectra (power law when a pre-edge window is recorded)."""
    hi = l3 - 8.0
    sel = (e >= max(e[0], hi - 30.0)) & (e < hi)
    if np.count_nonzero(sel) >= 5 and hi - e[0] >= 5.0:
        e_ref = float(np.exp(np.log(e[sel]).mean()))
        fit = fit_power_law(np.clip(data[:, sel], 0, None), np.log(e[sel] / e_ref), np)
        bg = np.exp(fit["a"][:, None] + fit["b"][:, None] * np.log(e / e_ref)[None, :])
        return data - np.nan_to_num(bg)
    first = e < e[0] + 2.0
    return data - np.median(data[:, first], axis=1, keepdims=True)


def _band_peak(
    ys: np.ndarray, e: np.ndarray, centre: np.ndarray, half: int
) -> tuple[np.ndarray, np.ndarray]:
    """Index and parabolic sub-channel energy of the maximum within +-half channels."""
    n_ch = e.size
    offs = np.arange(-half, half + 1)
    cols = np.clip(centre[:, None] + offs[None, :], 1, n_ch - 2)
    band = np.take_along_axis(ys, cols, axis=1)
    idx = cols[np.arange(cols.shape[0]), np.argmax(band, axis=1)]
    rows = np.arange(ys.shape[0])
    ym, y0, yp = ys[rows, idx - 1], ys[rows, idx], ys[rows, idx + 1]
    den = ym - 2 * y0 + yp
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.where(den < 0, 0.5 * (ym - yp) / den, 0.0)
    return idx, e[idx] + np.clip(np.nan_to_num(off), -1, 1) * float(np.median(np.diff(e)))


def _centroid(
    y: np.ndarray,
    cs_y: np.ndarray,
    e: np.ndarray,
    h: np.ndarray,
    e3: np.ndarray,
    mid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First moment (eV) of the step-subtracted L3 line over [L3 max - 5 eV, mid).

    Also its variance factors: sum((E - c)^2) / area^2 (channel noise) and the squared
    step-height lever / area^2.
    """
    cs_ey = np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(e * y, axis=1)], axis=1)
    c1 = np.concatenate([[0.0], np.cumsum(e)])[None, :]
    c2 = np.concatenate([[0.0], np.cumsum(e**2)])[None, :]
    c0 = np.arange(e.size + 1, dtype=float)[None, :]

    def part(cs: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _window_sums(np.broadcast_to(cs, (y.shape[0], cs.shape[1])), e, a, b)[0]

    lo = e3 - 5.0
    area = part(cs_y, lo, mid) - (2.0 / 3.0) * h * part(c0, e3, mid)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (part(cs_ey, lo, mid) - (2.0 / 3.0) * h * part(c1, e3, mid)) / area
    n, s1, s2 = part(c0, lo, mid), part(c1, lo, mid), part(c2, lo, mid)
    spread = s2 - 2 * c * s1 + c**2 * n  # sum (E - c)^2 over the window
    step_lever = (2.0 / 3.0) * (part(c1, e3, mid) - c * part(c0, e3, mid))
    return c, spread / area**2, step_lever**2 / area**2


def _window_sums(
    cs: np.ndarray, e: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of the channels with lo <= E < hi (per row) from the cumulative sums, and count."""
    i_lo, i_hi = np.searchsorted(e, lo), np.searchsorted(e, hi)
    rows = np.arange(cs.shape[0])
    return cs[rows, i_hi] - cs[rows, i_lo], (i_hi - i_lo).astype(float)


def white_line_features(
    data: np.ndarray,
    energy_ev: np.ndarray,
    tm: str,
    *,
    calibrated: bool,
) -> dict:
    """L3/L2 ratio, its 1 sigma, L3 and L2 maxima, L3 centroid (eV) of every spectrum (rows)."""
    from scipy.ndimage import uniform_filter1d

    e = np.asarray(energy_ev, dtype=float)
    l3_tab, l2_tab = l_edge_onsets(tm)
    dso = l2_tab - l3_tab
    # only the L2,3 region (and its background window) is read; an uncalibrated axis may
    # be off by up to ~20 eV (the EELSDB LSMO spectra: +7 to +13 eV)
    slack = 0.0 if calibrated else 20.0
    idx = np.flatnonzero((e >= l3_tab - 40.0 - slack) & (e < l2_tab + 30.0 + slack))
    crop = slice(int(idx[0]), int(idx[-1]) + 1)
    e, data = e[crop], data[:, crop]
    y = _background(np.asarray(data, dtype=float), e, l3_tab)
    step = float(np.median(np.diff(e)))
    ys = uniform_filter1d(y, max(1, int(round(1.0 / step))), axis=1)
    m3 = (
        (e >= l3_tab - 10.0 - slack)
        & (e < l3_tab + 15.0 + slack)
        & (e >= e[0] + 2.0)
        & (e < e[-1] - dso - 5.0)
    )
    i3 = np.flatnonzero(m3)[np.argmax(ys[:, m3], axis=1)]
    _, e3 = _band_peak(ys, e, i3, 1)
    _, e2 = _band_peak(ys, e, i3 + int(round(dso / step)), int(round(3.0 / step)))
    cs = np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(y, axis=1)], axis=1)
    h_sum, n_post = _window_sums(cs, e, e2 + 6.0, e2 + 10.0)
    short = n_post < 3
    if short.any():  # the axis ends early: the last 3 eV
        h_sum[short], n_post[short] = _window_sums(
            cs[short], e, np.full(short.sum(), e[-1] - 3), np.full(short.sum(), e[-1] + 1)
        )
    h = h_sum / n_post
    mid = 0.5 * (e3 + e2)
    s3, n3 = _window_sums(cs, e, e3 - 5.0, mid)
    s2, n2 = _window_sums(cs, e, mid, e2 + 5.0)
    # double step (2/3 at L3 max, 1/3 at L2 max) summed over each window
    _, n3_above = _window_sums(cs, e, e3, mid)
    _, n2_above = _window_sums(cs, e, e2, e2 + 5.0)
    k3 = (2.0 / 3.0) * n3_above
    k2 = (2.0 / 3.0) * n2 + (1.0 / 3.0) * n2_above
    i3_net, i2_net = s3 - h * k3, s2 - h * k2
    d2 = y[:, 2:] - 2 * y[:, 1:-1] + y[:, :-2]
    s2var = np.mean(d2**2, axis=1) / 6.0  # white-noise variance per channel
    var_h = s2var / n_post
    var3 = n3 * s2var + k3**2 * var_h
    var2 = n2 * s2var + k2**2 * var_h
    cov32 = k3 * k2 * var_h
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = i3_net / i2_net
        rel = var3 / i3_net**2 + var2 / i2_net**2 - 2 * cov32 / (i3_net * i2_net)
        sigma = np.abs(ratio) * np.sqrt(np.maximum(rel, 0.0))
        snr = (i3_net + i2_net) / np.sqrt(var3 + var2)
    bad = ~np.isfinite(ratio) | (i2_net <= 0) | (i3_net <= 0) | ~(snr > 3.0)
    centroid, k_noise, k_step = _centroid(y, cs, e, h, e3, mid)
    centroid_sigma = np.hypot(np.sqrt(s2var * k_noise + var_h * k_step), 0.1 * step + 0.05)
    return {
        "ratio": np.where(bad, np.nan, ratio),
        "sigma": np.where(bad, np.nan, sigma),
        "l3_ev": np.where(bad, np.nan, e3),
        "l2_ev": np.where(bad, np.nan, e2),
        "snr": snr,
        "l3_sigma_ev": np.full(ratio.shape, 0.1 * step + 0.05),
        "l3_centroid_ev": np.where(bad, np.nan, centroid),
        "l3_centroid_sigma_ev": np.where(bad, np.nan, centroid_sigma),
    }
