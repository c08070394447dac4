"""Template feature vectors: which reflections each phase model has, and how strong.

Reflections are written in the image's layer frame in *reference units*
``(h_t, h_n)``: ``g = h_t g_t t + h_n |g_n| n``, where ``g_t``, ``g_n`` are the measured
in-plane row frequency and layer-normal frequency, identified with those of the layered
model (LiCoO2) of the zone family. A feature is a pair of mirror-related reflections
``(h_t, +h_n)`` and ``(h_t, -h_n)`` (the two O3 twin variants, the two senses of ``t``)
combined as the root of the summed squared amplitudes, so twins do not matter.

For a phase model the feature value is the projected-potential Fourier coefficient of its
columns, ``F(G) = sum_j w_j exp(-2 pi i G.r_j) / area``, times the column envelope
``exp(-2 pi^2 sigma^2 |G|^2)``, summed (in power) over the model's reflections near the
feature point with the lock-in response ``exp(-|G - g|^2 / (2 sigma_k^2))``: models with a
slightly different lattice parameter (rock salt, spinel) are seen through the same
filters as the image.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._structures import ProjectedCell, phase_templates

H_T_MAX = 1.15
H_N_MAX = 2.2


def _reflections(cell: ProjectedCell, row_ref: float, d_ref: float):
    """Reflections of a cell: (h_t, h_n) reference units, |G| 1/nm, complex F (per nm^2)."""
    rec = np.linalg.inv(cell.lattice).T  # rows: reciprocal basis vectors (1/nm)
    m = 40
    i, j = np.meshgrid(np.arange(-m, m + 1), np.arange(-m, m + 1))
    gvec = np.c_[i.ravel(), j.ravel()] @ rec
    ht, hn = gvec[:, 0] * row_ref, gvec[:, 1] * d_ref
    keep = (
        (ht > -0.05)
        & (ht < H_T_MAX + 0.2)
        & (np.abs(hn) < H_N_MAX + 0.2)
        & (np.hypot(ht, hn) > 0.05)
    )
    gvec, ht, hn = gvec[keep], ht[keep], hn[keep]
    area = abs(np.linalg.det(cell.lattice))
    phase = np.exp(-2j * np.pi * (gvec[:, :1] * cell.t[None] + gvec[:, 1:] * cell.n[None]))
    f = phase @ cell.weight / area
    return ht, hn, np.hypot(gvec[:, 0], gvec[:, 1]), f


@lru_cache(maxsize=32)
def feature_points(phases: tuple[str, ...], family: str) -> np.ndarray:
    """Feature positions ``(h_t, h_n >= 0)`` (reference units) where some phase is strong.

    Returns
    -------
    ndarray (k, 2)
    """
    ref = phase_templates("layered", family)[0]
    keys = set()
    for ph in phases:
        for cell in phase_templates(ph, family):
            ht, hn, gabs, f = _reflections(cell, ref.row_period, ref.layer_spacing)
            env = np.abs(f) * np.exp(-2 * np.pi**2 * 0.045**2 * gabs**2)
            strong = env > 0.04 * env.max()
            ok = strong & (ht <= H_T_MAX) & (np.abs(hn) <= H_N_MAX)
            for a, b in zip(ht[ok], np.abs(hn[ok]), strict=True):
                key = (round(a * 6) / 6, round(b * 6) / 6)
                if key[0] == 0 and key[1] == 0:
                    continue
                keys.add(key)
    return np.array(sorted(keys, key=lambda k: (k[0], k[1])), dtype=float)


def template_vectors(
    phases: tuple[str, ...],
    family: str,
    points: np.ndarray,
    sigma_col_ref: np.ndarray,
    sigma_k_ref: float,
):
    """Feature vectors of every (phase, variant, column width).

    Parameters
    ----------
    phases : tuple of str
    family : str
    points : ndarray (k, 2)
        Feature points from :func:`feature_points`.
    sigma_col_ref : ndarray
        Column widths to try, in units of the layered model's layer spacing.
    sigma_k_ref : float
        Lock-in width in reference units of ``|g_n|``.

    Returns
    -------
    vectors : ndarray (m, k)
        Unit-norm feature vectors.
    owner : ndarray (m,) of int
        Index into ``phases`` of each vector.
    """
    ref = phase_templates("layered", family)[0]
    d_l, row_l = ref.layer_spacing, ref.row_period
    aspect = d_l / row_l  # g_t / |g_n| of the reference
    vecs, owner = [], []
    for ip, ph in enumerate(phases):
        for cell in phase_templates(ph, family):
            ht, hn, gabs, f = _reflections(cell, row_l, d_l)
            for s in sigma_col_ref:
                amp = np.abs(f) * np.exp(-2 * np.pi**2 * (s * d_l) ** 2 * gabs**2)
                v = np.zeros(len(points))
                for sgn in (+1, -1):
                    # distance in units of |g_n| between each reflection and each point
                    dt = (ht[:, None] - points[None, :, 0]) * aspect
                    dn = hn[:, None] - sgn * points[None, :, 1]
                    resp = np.exp(-(dt**2 + dn**2) / (2 * sigma_k_ref**2))
                    contrib = (amp[:, None] * resp) ** 2
                    if sgn < 0:
                        contrib[:, points[:, 1] == 0] = 0  # h_n = 0 counted once
                        contrib[:, points[:, 0] == 0] = 0
                    v += contrib.sum(0)
                v = np.sqrt(v)
                vecs.append(v / (np.linalg.norm(v) + 1e-30))
                owner.append(ip)
    return np.array(vecs), np.array(owner)
