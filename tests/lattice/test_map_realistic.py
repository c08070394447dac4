"""lattice_map on the realistic generator cases (stemstrain.synthetic realistic, exact truth)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

import stemstrain as ss
from stemstrain.synthetic import realistic

SHAPE = (512, 512)
# the quick cases; all ten at 1024 px run in benchmarks/bench_latticemap.py
CASES = ("kink", "grains", "surface", "bend_r30", "drift")


def _at_windows(m, arr):
    iy = np.rint(m.grid_y).astype(int)
    ix = np.rint(m.grid_x).astype(int)
    return arr[np.ix_(iy, ix)]


def _truth_orientation(angle_deg):
    """Orientation of the layer normal (LatticeMap convention) for layers at ``angle_deg``."""
    th = np.radians(angle_deg)
    return np.mod(np.arctan2(-np.cos(th), -np.sin(th)), np.pi)


@pytest.fixture(scope="module", params=CASES)
def case_map(request):
    rec = realistic(request.param, shape=SHAPE)
    return rec, ss.lattice_map(rec.image, rec.pixel_size)


def test_crystal_mask_at_least_95pct_correct(case_map):
    rec, m = case_map
    frac = _at_windows(m, ndi.uniform_filter(rec.truth["crystal"].astype(float), m.window_px))
    clear = (frac > 0.9) | (frac < 0.1)  # windows not cut by a surface or a grain boundary
    assert (m.crystalline == (frac > 0.5))[clear].mean() >= 0.95
    assert m.layered


def test_layer_normal_within_half_a_degree_and_spacing_within_1pct(case_map):
    rec, m = case_map
    ang = rec.truth["layer_angle_deg"]
    inside = ndi.uniform_filter(rec.truth["crystal"].astype(float), m.window_px) > 0.99
    # skip windows across a kink band or a grain boundary (the true layer angle spans
    # > 8 deg inside them; a bend to R = 15 nm spans 6 deg in a 1.6-nm window)
    a0 = np.nan_to_num(ang, nan=0.0)
    spread = ndi.maximum_filter(a0, m.window_px) - ndi.minimum_filter(a0, m.window_px)
    smooth = spread < 8.0
    sel = m.lattice_2d & _at_windows(m, inside & smooth)
    assert sel.sum() >= 0.3 * sel.size
    o_true = _truth_orientation(_at_windows(m, ang))
    err = np.degrees(np.abs(np.mod(m.orientation - o_true + np.pi / 2, np.pi) - np.pi / 2))
    assert np.percentile(err[sel], 95) < 0.5
    d = m.spacings_nm[..., 0][sel]
    assert np.median(d) == pytest.approx(0.468, rel=0.01)


def test_grains_recovered(case_map):
    rec, m = case_map
    big = m.grain_table[m.grain_table.n_windows >= 0.1 * m.grains.size]
    if rec.case in ("grains", "kink"):
        assert len(big) == 2
        o = np.sort(big.orientation_deg.to_numpy())
        expect = 35.0 if rec.case == "grains" else 20.0
        assert o[1] - o[0] == pytest.approx(expect, abs=0.5)
    else:
        assert len(big) == 1
    assert np.isnan(m.anisotropy.ratio)  # O3 edge-on is not an isotropic net
