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

__all__ = ["PolarGrid", "polar_patterns", "polar_templates", "match_all"]


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
        r = np.log(np.hypot(qx, qy) / self.q_min) / self.dlr
        t = np.mod(np.arctan2(qy, qx), np.pi) / np.pi * self.n_t
        return r, t


def polar_patterns(grid: PolarGrid, pos: np.ndarray, qx: np.ndarray, qy: np.ndarray,
                   w: np.ndarray, n_pos: int) -> np.ndarray:
    """Polar images (n_pos, n_r, n_t) float32 of peaks (``pos`` = flat position each)."""
    r, t = grid.coords(qx, qy)
    keep = (r >= 0) & (r <= grid.n_r - 1) & np.isfinite(r)
    r, t, w, pos = r[keep], t[keep], w[keep], pos[keep]
    out = np.zeros((n_pos, grid.n_r, grid.n_t), dtype=np.float32)
    r0, t0 = np.floor(r).astype(int), np.floor(t).astype(int)
    fr, ft = r - r0, t - t0
    for dr in (0, 1):
        for dt in (0, 1):
            wt = w * (fr if dr else 1 - fr) * (ft if dt else 1 - ft)
            np.add.at(out, (pos, np.minimum(r0 + dr, grid.n_r - 1), (t0 + dt) % grid.n_t), wt)
    return out


def polar_templates(grid: PolarGrid, uv: np.ndarray, weight: np.ndarray, *,
                    sigma_lr: float, sigma_deg: float) -> np.ndarray:
    """Blurred polar images (Z, n_r, n_t) float32 of padded template spots (Z, S, 2)."""
    z, s = weight.shape
    r, t = grid.coords(uv[..., 0], uv[..., 1])
    rb = np.arange(grid.n_r)[None, None, :]
    gr = np.exp(-0.5 * ((rb - r[..., None]) * grid.dlr / sigma_lr) ** 2)  # (Z, S, n_r)
    tb = np.arange(grid.n_t)[None, None, :]
    dt = (tb - t[..., None] + grid.n_t / 2) % grid.n_t - grid.n_t / 2
    gt = np.exp(-0.5 * (dt * 180.0 / grid.n_t / sigma_deg) ** 2)  # (Z, S, n_t)
    wv = np.where(np.isfinite(r) & (r > -3) & (r < grid.n_r + 2), weight, 0.0)
    return np.einsum("zs,zsr,zst->zrt", wv, gr, gt).astype(np.float32)


def match_all(patterns: np.ndarray, templates: np.ndarray, *, chunk: int = 512
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best template and in-plane rotation for every pattern.

    Returns ``score`` (N,) cosine similarity, ``template`` (N,) index, ``angle_deg`` (N,)
    in-plane rotation (template → pattern, counter-clockwise, mod 180°, parabolic
    sub-bin refinement).
    """
    n, n_r, n_t = patterns.shape
    t_hat = np.fft.rfft(templates, axis=2)  # (Z, n_r, K)
    t_norm = np.sqrt((templates.astype(np.float64) ** 2).sum((1, 2))) + 1e-30
    t_h = np.ascontiguousarray(np.conj(t_hat).transpose(2, 1, 0))  # (K, n_r, Z)
    score = np.zeros(n)
    best_z = np.zeros(n, dtype=int)
    angle = np.zeros(n)
    for i0 in range(0, n, chunk):
        p = patterns[i0:i0 + chunk]
        p_norm = np.sqrt((p.astype(np.float64) ** 2).sum((1, 2))) + 1e-30
        p_hat = np.fft.rfft(p, axis=2).transpose(2, 0, 1)  # (K, B, n_r)
        c_hat = np.matmul(p_hat, t_h)  # (K, B, Z)
        corr = np.fft.irfft(c_hat.transpose(1, 2, 0), n=n_t, axis=2)  # (B, Z, n_t)
        corr /= t_norm[None, :, None]
        flat = corr.reshape(len(p), -1)
        k = np.argmax(flat, axis=1)
        zi, ti = np.divmod(k, n_t)
        b = np.arange(len(p))
        c0 = corr[b, zi, ti]
        cm, cp = corr[b, zi, (ti - 1) % n_t], corr[b, zi, (ti + 1) % n_t]
        den = cm - 2 * c0 + cp
        frac = np.where(den < 0, 0.5 * (cm - cp) / np.where(den < 0, den, -1.0), 0.0)
        score[i0:i0 + chunk] = c0 / p_norm
        best_z[i0:i0 + chunk] = zi
        angle[i0:i0 + chunk] = np.mod((ti + np.clip(frac, -0.5, 0.5)) * 180.0 / n_t, 180.0)
    return score, best_z, angle
