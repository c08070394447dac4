"""Vectorised orientation matching of Bragg peaks against kinematic spot templates.

Every pattern and every template is a polar image: log-radius bins (width ``dlr``) ×
angle bins over [0, π) (patterns are centrosymmetric: Friedel). Templates are blurred by
a Gaussian (``sigma_lr`` in log radius, ``sigma_deg`` in angle); measured peaks are
deposited bilinearly. The correlation over every in-plane rotation φ at once is the
product of the angular Fourier transforms summed over radius:
``C[n, z, φ] = IFFT_k Σ_r P̂[n, r, k] conj(T̂[z, r, k])`` — one complex matrix product
per angular frequency, for all positions and templates together. The score is the
cosine ``max_φ C / (‖P‖ ‖T‖)`` in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PolarGrid", "LazyPolarPatterns", "polar_patterns", "polar_templates", "match_all"]


@dataclass(frozen=True)
class PolarGrid:
    """Log-radius × angle grid: ``n_r`` bins from ``q_min`` (1/nm), ``n_t`` over [0, π)."""

    q_min: float
    q_max: float
    dlr: float = 0.02
    n_t: int = 90

    @property
    def n_r(self) -> int:
        """Number of log-radius bins."""
        return int(np.ceil(np.log(self.q_max / self.q_min) / self.dlr))

    def coords(self, qx: np.ndarray, qy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (radius bin, angle bin) of vectors."""
        with np.errstate(divide="ignore", invalid="ignore"):  # padding at q = 0 → -inf
            r = np.log(np.hypot(qx, qy) / self.q_min) / self.dlr
        t = np.mod(np.arctan2(qy, qx), np.pi) / np.pi * self.n_t
        return r, t


def polar_patterns(
    grid: PolarGrid, pos: np.ndarray, qx: np.ndarray, qy: np.ndarray, w: np.ndarray, n_pos: int
) -> np.ndarray:
    """Polar images (n_pos, n_r, n_t) float32 of peaks (``pos`` = flat position each)."""
    r, t = grid.coords(qx, qy)
    keep = (r >= 0) & (r <= grid.n_r - 1) & np.isfinite(r)
    r, t, w, pos = r[keep], t[keep], w[keep], pos[keep]
    r0, t0 = np.floor(r).astype(np.int64), np.floor(t).astype(np.int64)
    fr, ft = r - r0, t - t0
    idx, wts = [], []
    for dr in (0, 1):
        for dt in (0, 1):
            rr, tt = np.minimum(r0 + dr, grid.n_r - 1), (t0 + dt) % grid.n_t
            idx.append((pos * grid.n_r + rr) * grid.n_t + tt)
            wts.append(w * (fr if dr else 1 - fr) * (ft if dt else 1 - ft))
    size = n_pos * grid.n_r * grid.n_t
    out = np.bincount(np.concatenate(idx), weights=np.concatenate(wts), minlength=size)
    return out.astype(np.float32).reshape(n_pos, grid.n_r, grid.n_t)


class LazyPolarPatterns:
    """Polar images of the peaks of any positions, made when indexed (memory: one chunk).

    ``pos`` (sorted flat position of each peak), ``qx, qy, w`` as for
    :func:`polar_patterns`; ``self[i0:i1]`` or ``self[index array]`` →
    (k, n_r, n_t) float32; ``subset(index)`` → the same object over those positions.
    """

    def __init__(self, grid: PolarGrid, pos, qx, qy, w, n_pos: int, index=None):
        self.grid, self.pos, self.qx, self.qy, self.w = grid, pos, qx, qy, w
        self.index = np.arange(n_pos) if index is None else np.asarray(index)
        self.shape = (len(self.index), grid.n_r, grid.n_t)

    def subset(self, index: np.ndarray) -> LazyPolarPatterns:
        """Return the patterns of ``self.index[index]``."""
        return LazyPolarPatterns(
            self.grid, self.pos, self.qx, self.qy, self.w, 0, index=self.index[index]
        )

    def __getitem__(self, key) -> np.ndarray:
        """Return the polar images of the selected positions."""
        want = self.index[key]
        lo = np.searchsorted(self.pos, want, side="left")
        hi = np.searchsorted(self.pos, want, side="right")
        cnt = hi - lo
        peak = np.repeat(lo - np.cumsum(np.r_[0, cnt[:-1]]), cnt) + np.arange(cnt.sum())
        local = np.repeat(np.arange(len(want)), cnt)
        return polar_patterns(
            self.grid, local, self.qx[peak], self.qy[peak], self.w[peak], len(want)
        )


def polar_templates(
    grid: PolarGrid, uv: np.ndarray, weight: np.ndarray, *, sigma_lr: float, sigma_deg: float
) -> np.ndarray:
    """Blurred polar images (Z, n_r, n_t) float32 of padded template spots (Z, S, 2)."""
    z, s = weight.shape
    r, t = grid.coords(uv[..., 0], uv[..., 1])
    rb = np.arange(grid.n_r)[None, None, :]
    gr = np.exp(-0.5 * ((rb - r[..., None]) * grid.dlr / sigma_lr) ** 2)  # (Z, S, n_r)
    tb = np.arange(grid.n_t)[None, None, :]
    dt = (tb - t[..., None] + grid.n_t / 2) % grid.n_t - grid.n_t / 2
    gt = np.exp(-0.5 * (dt * 180.0 / grid.n_t / sigma_deg) ** 2)  # (Z, S, n_t)
    wv = np.where(np.isfinite(r) & (r > -3) & (r < grid.n_r + 2), weight, 0.0)
    gr = np.nan_to_num(gr * wv[..., None], nan=0.0)  # padding spots (r = -inf) → 0
    return np.matmul(np.swapaxes(gr, 1, 2), gt).astype(np.float32)  # (Z, n_r, n_t), BLAS


def match_all(
    patterns: np.ndarray, templates: list[np.ndarray], *, chunk: int = 512, workers: int = 2
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Best template and in-plane rotation of every pattern, for each template bank.

    ``templates``: one (Z_i, n_r, n_t) bank per structure; they are matched in one pass
    (the patterns are transformed once). Returns, per bank, ``score`` (N,) cosine
    similarity, ``template`` (N,) index in the bank and ``angle_deg`` (N,) in-plane
    rotation (template → pattern, counter-clockwise, mod 180°, parabolic sub-bin
    refinement).
    """
    from scipy import fft as sfft

    n, n_r, n_t = patterns.shape  # an array or LazyPolarPatterns
    bank = np.concatenate(templates, axis=0)
    bounds = np.cumsum([0] + [len(t) for t in templates])
    t_norm = np.sqrt((bank.astype(np.float64) ** 2).sum((1, 2))) + 1e-30
    t_hat = sfft.rfft(bank, axis=2, workers=workers) / t_norm[:, None, None]  # (Z, n_r, K)
    t_h = np.ascontiguousarray(np.conj(t_hat).transpose(2, 1, 0), dtype=np.complex64)
    out = [(np.zeros(n), np.zeros(n, dtype=int), np.zeros(n)) for _ in templates]
    for i0 in range(0, n, chunk):
        p = patterns[i0 : i0 + chunk]
        p_norm = np.linalg.norm(p.reshape(len(p), -1), axis=1).astype(np.float64) + 1e-30
        # contiguous (K, B, n_r) complex64: one BLAS product per angular frequency
        p_hat = np.ascontiguousarray(
            sfft.rfft(p, axis=2, workers=workers).transpose(2, 0, 1), dtype=np.complex64
        )
        # (n_t, B, Z): the inverse transform along the first axis, no transposed copy
        corr = sfft.irfft(np.matmul(p_hat, t_h), n=n_t, axis=0, workers=workers)
        for j in range(len(templates)):
            score, zi, ang = _best(corr[:, :, bounds[j] : bounds[j + 1]])
            sl = slice(i0, i0 + len(p))
            out[j][0][sl], out[j][1][sl], out[j][2][sl] = score / p_norm, zi, ang
    return out


def _best(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(max, template, angle deg with parabolic sub-bin) of a (n_t, B, Z) correlation."""
    n_t, nb = corr.shape[:2]
    b = np.arange(nb)
    zi = np.argmax(corr.max(axis=0), axis=1)  # (B,)
    prof = corr[:, b, zi]  # (n_t, B)
    ti = np.argmax(prof, axis=0)
    c0, cm, cp = prof[ti, b], prof[(ti - 1) % n_t, b], prof[(ti + 1) % n_t, b]
    den = cm - 2 * c0 + cp
    frac = np.where(den < 0, 0.5 * (cm - cp) / np.where(den < 0, den, -1.0), 0.0)
    return c0, zi, np.mod((ti + np.clip(frac, -0.5, 0.5)) * 180.0 / n_t, 180.0)
