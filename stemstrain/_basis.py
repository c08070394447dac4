"""Lagrange-Gauss reduction of 2-D (reciprocal) lattice bases, shared.

One loop for every caller: the local lattice map (``lattice/_map_peaks.fit_basis``, its
layer detection in ``_map_layers``), ``calibrate_scale`` (``lattice/_calibrate``) and the
4D-STEM lattice (``stemstrain.fourd.gauss_reduce``, which adds its deterministic choice
among the equivalent reduced bases).
"""

from __future__ import annotations

import numpy as np

__all__ = ["reduce_basis"]


def reduce_basis(b: np.ndarray, iterations: int = 6) -> np.ndarray:
    """Lagrange-Gauss reduction of bases ``b`` (..., 2, 2) rows (gx, gy): shortest, right-handed.

    Returns an equivalent basis with |g1| <= |g2|, |g1.g2| <= |g1|^2 / 2 and
    ``g1 x g2 > 0`` (g2 counter-clockwise from g1 in array coordinates).
    """
    b = np.array(b, dtype=float, copy=True)
    for _ in range(iterations):
        n1 = np.einsum("...i,...i->...", b[..., 0, :], b[..., 0, :])
        n2 = np.einsum("...i,...i->...", b[..., 1, :], b[..., 1, :])
        swap = n2 < n1
        b[swap] = b[swap][..., ::-1, :]
        n1 = np.einsum("...i,...i->...", b[..., 0, :], b[..., 0, :])
        mu = np.rint(
            np.einsum("...i,...i->...", b[..., 0, :], b[..., 1, :]) / np.where(n1 > 0, n1, np.nan)
        )
        mu = np.nan_to_num(mu)
        if not mu.any():
            break  # reduced: further rounds change nothing
        b[..., 1, :] -= mu[..., None] * b[..., 0, :]
    cross = b[..., 0, 0] * b[..., 1, 1] - b[..., 0, 1] * b[..., 1, 0]
    b[..., 1, :] *= np.where(cross < 0, -1.0, 1.0)[..., None]
    return b
