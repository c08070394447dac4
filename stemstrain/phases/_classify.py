"""Per-pixel phase classification from local Fourier features (coarse grid).

For every coarse-grid point the measured feature vector ``M`` (local amplitudes at the
template reflections, best of a set of rotations of the frame so that bent crystals are
followed) is compared with every template vector ``T`` (unit norm) of every phase model,
zone variant and column width: the fit is ``cos^2 = (M.T)^2 / |M|^2`` (scale-free, so
thickness and dose do not matter). The phase of the best template wins; the confidence
is ``1 - (1 - fit) / (1 - fit_2)`` with ``fit_2`` the best template of any other phase: the
fraction of the runner-up's unexplained signal that the winner explains (0: a tie).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._lockin import Frame, Prepared, lockin, noise_floor
from ._templates import feature_points, template_vectors

MAX_ROTATION = np.deg2rad(20.0)
SIGMA_COL_REF = np.array([0.07, 0.085, 0.1, 0.12, 0.15])  # column sigma / layer spacing


@dataclass(frozen=True)
class Features:
    """Local features on the coarse grid."""

    amp: np.ndarray  # (k, mh, mw) best-rotation feature amplitudes (noise-corrected)
    total: np.ndarray  # (mh, mw) sqrt(sum amp^2)
    mean: np.ndarray  # (mh, mw) local mean intensity
    rotation: np.ndarray  # (mh, mw) rad, best rotation of the frame
    points: np.ndarray  # (k, 2) feature points (reference units)


def _lockin_vectors(frame: Frame, points: np.ndarray, theta: float):
    c, s = np.cos(theta), np.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    t_hat, n_hat = rot @ frame.t_hat, rot @ frame.n_hat
    gn = np.linalg.norm(frame.g_n)
    vec, feat = [], []
    for i, (ht, hn) in enumerate(points):
        vec.append(ht * frame.g_t * t_hat + hn * gn * n_hat)
        feat.append(i)
        if ht != 0 and hn != 0:
            vec.append(ht * frame.g_t * t_hat - hn * gn * n_hat)
            feat.append(i)
    return np.array(vec), np.array(feat)


def _edge_fix(a: np.ndarray, band: int, valid: tuple[int, int]) -> np.ndarray:
    """Replace the outer ``band`` samples of the valid area (and the padding) by edge values.

    The FFT lock-in wraps around the image borders, which corrupts the last ~2 sigma.
    """
    vh, vw = valid
    mh, mw = a.shape[-2:]
    if vh <= 2 * band + 1 or vw <= 2 * band + 1:
        return a
    inner = a[..., band : vh - band, band : vw - band]
    pad = [(0, 0)] * (a.ndim - 2) + [(band, mh - vh + band), (band, mw - vw + band)]
    return np.pad(inner, pad, mode="edge")


def measure(
    prep: Prepared, stride: int, frame: Frame, points: np.ndarray, sigma_k: float
) -> Features:
    """Feature amplitudes at the best rotation per coarse point (every ``stride`` px)."""
    fft, noise_psd = prep.fft, prep.noise
    crop, valid = prep.grid(stride)
    gmax = max(float(np.linalg.norm(v)) for v in _lockin_vectors(frame, points, 0.0)[0])
    step = 1.25 * sigma_k / max(gmax, 1e-9)  # <= 25 % amplitude loss half-way
    n_rot = int(np.ceil(MAX_ROTATION / step))
    thetas = np.linspace(-MAX_ROTATION, MAX_ROTATION, 2 * n_rot + 1)
    floor = noise_floor(noise_psd, sigma_k, fft.shape)
    k = len(points)
    best_p = None
    for th in thetas:
        vec, feat = _lockin_vectors(frame, points, th)
        loc = lockin(fft, vec, sigma_k, crop)
        p2 = np.zeros((k, *crop), dtype=np.float32)
        power = np.abs(loc) ** 2
        for i, fi in enumerate(feat):
            p2[fi] += power[i]
        p2 = np.clip(p2 - floor * np.bincount(feat, minlength=k)[:, None, None], 0, None)
        tot = p2.sum(0)
        if best_p is None:
            best_p, best_tot, best_th = p2, tot, np.full(crop, th)
            continue
        better = tot > best_tot
        best_p = np.where(better[None], p2, best_p)
        best_tot = np.where(better, tot, best_tot)
        best_th = np.where(better, th, best_th)
    mean = lockin(fft, np.zeros((1, 2)), sigma_k, crop)[0].real
    band = int(np.ceil(1.5 / (2 * np.pi * sigma_k) / stride))

    def fix(a):
        return _edge_fix(a, band, valid)[..., : valid[0], : valid[1]]

    return Features(
        amp=np.sqrt(fix(best_p)),
        total=np.sqrt(fix(best_tot)),
        mean=fix(mean),
        rotation=fix(best_th),
        points=points,
    )


def templates(
    phases: tuple[str, ...], family: str, sigma_k: float, frame: Frame, sigma_col_px: float | None
):
    """Template vectors for the measured frame: (vectors (m, k), owner (m,), points)."""
    points = feature_points(phases, family)
    gn = float(np.linalg.norm(frame.g_n))
    if sigma_col_px is not None:
        sig = np.array([0.8, 0.9, 1.0, 1.15, 1.3]) * sigma_col_px * gn
    else:
        sig = SIGMA_COL_REF
    vecs, owner = template_vectors(phases, family, points, sig, sigma_k / gn)
    return vecs, owner, points


def classify(feat: Features, vecs: np.ndarray, owner: np.ndarray, n_phases: int):
    """Best phase, its fit (cos^2) and its confidence over the runner-up phase per coarse point."""
    k, mh, mw = feat.amp.shape
    m = feat.amp.reshape(k, -1)
    norm2 = (m**2).sum(0) + 1e-30
    cos2 = (vecs @ m) ** 2 / norm2  # (n_templates, npix)
    per_phase = np.full((n_phases, cos2.shape[1]), -1.0)
    for ip in range(n_phases):
        sel = owner == ip
        if sel.any():
            per_phase[ip] = cos2[sel].max(0)
    order = np.argsort(per_phase, axis=0)
    best = order[-1]
    fit = np.take_along_axis(per_phase, best[None], 0)[0]
    second = np.take_along_axis(per_phase, order[-2][None], 0)[0] if n_phases > 1 else 0 * fit
    # confidence: how much less of the pattern the winner leaves unexplained than the runner-up
    conf = 1.0 - (1.0 - fit) / np.maximum(1.0 - second, 1e-6)
    return best.reshape(mh, mw), fit.reshape(mh, mw), np.clip(conf, 0, 1).reshape(mh, mw)
