"""``stemstrain/_basis.py``: the one Lagrange-Gauss reduction (lattice map, calibrate_scale, 4D)."""

from __future__ import annotations

import numpy as np

from stemstrain._basis import reduce_basis
from stemstrain.fourd import gauss_reduce


def test_skewed_bases_reduce_to_the_primitive_cell():
    """A square and a hexagonal net, each written as g2 + k g1 for k = -7..7 and swapped."""
    square = np.array([[1.0, 0.0], [0.0, 1.0]])
    hexagonal = np.array([[1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    for net in (square, hexagonal):
        skewed = np.stack([[net[0], net[1] + k * net[0]] for k in range(-7, 8)])
        b = reduce_basis(np.concatenate([skewed, skewed[:, ::-1]]), iterations=20)
        lengths = np.linalg.norm(b, axis=-1)
        assert np.allclose(lengths, 1.0)  # both the shortest vectors of the net
        dots = np.abs(np.einsum("ni,ni->n", b[:, 0], b[:, 1]))
        assert np.all(dots <= 0.5 + 1e-12)  # |g1.g2| <= |g1|^2 / 2
        cross = b[:, 0, 0] * b[:, 1, 1] - b[:, 0, 1] * b[:, 1, 0]
        assert np.allclose(cross, abs(np.linalg.det(net)))  # right-handed, same cell area


def test_a_fibonacci_basis_needs_several_rounds_and_gauss_reduce_finishes_it():
    """``[[13, 8], [8, 5]]`` (det 1) of the unit square: the slowest case of the reduction."""
    b = np.array([[13.0, 8.0], [8.0, 5.0]])
    assert np.linalg.norm(reduce_basis(b, iterations=1), axis=-1).max() > 1.5  # not yet
    assert np.allclose(np.linalg.norm(reduce_basis(b, iterations=20), axis=-1), 1.0)
    g1, g2 = gauss_reduce(b[0], b[1])
    assert np.allclose(g1, [1.0, 0.0]) and np.allclose(np.abs(g2), [0.0, 1.0])
