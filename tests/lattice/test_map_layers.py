"""Layered or not: the superstructure test of lattice_map (issue 14, build item 3).

Analytic truth: Gaussian columns on a square perovskite-like sub-cell whose rows along
one direction repeat with a longer period (intensity weights), as the Ba-Y-Ba rows of
YBa2Cu3O7 edge-on (c = 3 sub-cells). The period and the normal are exact.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from latticemap_helpers import column_image, rot, square_basis

import stemstrain as ss
from stemstrain.lattice._map_layers import superstructure

PX = 0.035
A = 0.39


def _layered_weights(period, axis=1, dim=0.55, fault=0.0, seed=3):
    """Row weights 1, ..., 1, dim along lattice index ``axis`` (random extra rows: faults)."""
    rng = np.random.default_rng(seed)
    seq = []
    while len(seq) < 400:
        block = [1.0] * (period - 1) + [dim]
        if rng.random() < fault:
            block = [1.0] + block  # a stacking fault: one extra bright row
        seq += block
    seq = np.array(seq)
    return lambda i, j: seq[(np.where(axis == 1, j, i) + 200) % len(seq)]


def _map(img):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # anisotropy reports
        return ss.lattice_map(img, PX)


@pytest.mark.parametrize("theta", [0.0, 30.0])
def test_long_period_along_one_axis_is_layered_with_its_period_and_normal(theta):
    b = square_basis(A, theta)
    img = column_image((384, 384), b, PX, weight=_layered_weights(3), dose=200.0, seed=1)
    m = _map(img)
    row = m.grain_table.iloc[0]
    assert m.layered and bool(row.layered) and m.normal_index == 0
    # the normal: the sub-cell reflection along the long period (lattice index j: b[1])
    n_true = b[1]
    g1 = np.array([row.g1x, row.g1y])
    c = abs(g1 @ n_true) / (np.linalg.norm(g1) * np.linalg.norm(n_true))
    assert np.degrees(np.arccos(min(c, 1.0))) < 0.5
    assert np.linalg.norm(g1) == pytest.approx(1 / A, rel=0.01)
    assert row.layer_period_nm == pytest.approx(3 * A, rel=0.02)
    assert row.superstructure == 3  # the 80-px windows see the sub-cell; the crop the period


def test_superstructure_spots_give_the_period_and_streaks_do_not_hide_it():
    b = square_basis(A, 0.0) * PX  # cycles/px
    img = column_image(
        (256, 256), square_basis(A), PX, weight=_layered_weights(3, fault=0.15), dose=200.0
    )
    found = superstructure(img, b, (0.01, 0.45))
    assert found["period"] == 3 and tuple(found["axis"]) == (0, 1)
    assert found["second"] < 0.25 and not found["supercell_2d"]
    img4 = column_image((256, 256), square_basis(A), PX, weight=_layered_weights(4), dose=200.0)
    assert superstructure(img4, b, (0.01, 0.45))["period"] == 4


@pytest.mark.parametrize("kind", ["square", "hexagonal", "supercell_2x2"])
def test_lattices_without_a_long_period_along_one_axis_are_not_layered(kind):
    if kind == "hexagonal":
        real = np.array([[0.3, 0.0], [0.15, 0.3 * np.sqrt(3) / 2]]) @ rot(10.0).T
        b, weight = np.linalg.inv(real).T, None
    else:
        b = square_basis(A, 10.0)
        weight = None
        if kind == "supercell_2x2":  # ordering along both axes: a 2-D supercell, not layers

            def weight(i, j):
                return np.where((i % 2 == 0) & (j % 2 == 0), 1.0, 0.6)

    img = column_image((384, 384), b, PX, weight=weight, dose=200.0, seed=2)
    m = _map(img)
    assert not m.layered and m.normal_index is None
    assert not m.grain_table.layered.any()
    assert (m.grain_table.superstructure == 0).all()
    assert m.grain_table.layer_period_nm.isna().all()


def test_window_resolved_layers_keep_their_period():
    from stemstrain.synthetic import layered_oxide

    lat = layered_oxide((256, 256), pixel_size=0.02, dose=None)
    m = ss.lattice_map(lat.image, 0.02)
    row = m.grain_table.iloc[0]
    assert row.superstructure == 1
    assert row.layer_period_nm == pytest.approx(0.468, rel=0.01)


def test_a_doubling_whose_supercell_is_square_is_not_layered():
    """A {110}-type net doubled along one (100) (perovskite A/B contrast along one axis, as
    the PTO/SRO file shows): spots at 1/2 and 3/2 of b1 - b2, but the supercell is square."""
    from stemstrain.lattice._map_layers import layered_by_superstructure

    n = 256
    b = square_basis(0.26, 45.0) * PX  # the {110} net, cycles/px
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    img = np.full((n, n), 20.0)
    u = b[0] - b[1]
    for g, amp in (
        (b[0], 1.0),
        (b[1], 1.0),
        (b[0] + b[1], 0.5),
        (u, 0.5),
        (u / 2, 0.3),
        (1.5 * u, 0.2),
    ):
        img += amp * np.cos(2 * np.pi * (g[0] * xx + g[1] * yy))
    img = np.random.default_rng(5).poisson(img * 20).astype(float)
    found = superstructure(img, b, (0.01, 0.45))
    assert found["period"] == 2 and tuple(found["axis"]) == (1, -1)
    assert layered_by_superstructure(img, b, (0.01, 0.45)) is None
