"""GPA over a layered crystal with a rock-salt region: g on the shared fundamental reflections.

The rock salt (TM on the Li sites) has no (003) superstructure reflection; the (006) and
the in-plane fundamentals (h + k even in the generator's (003), g2 basis) exist on both
sides (topotactic R-3m -> Fm-3m). The automatic choice must then use those, say so, and
measure the rock-salt region against the layered reference.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from bend_truth import score
from gpa_helpers import reciprocal_basis

import stemstrain as ss
from stemstrain.synthetic import fields, layered_oxide, realistic

ANGLE = 12.0
SWITCH = r"without the \(003\)"


def _quiet(image, px, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # lattice_map anisotropy on vacuum
        return ss.gpa(image, pixel_size=px, **kw)


def _half_rocksalt(e_nn: float):
    """Layered (w < 0) / rock salt (w > 0) along t, the rock salt strained by e_nn."""
    px = 0.03
    t, _ = fields.layer_frame(ANGLE)
    disp = fields.strain_step(0.0, e_nn, angle_deg=ANGLE, along="t", width_nm=0.3)

    def occ(x, y):
        return ((x * t[0] + y * t[1]) > 0).astype(float)

    s = layered_oxide(
        (256, 256), pixel_size=px, angle_deg=ANGLE, displacement=disp, li_occupancy=occ, seed=4
    )
    yy, xx = np.mgrid[0:256, 0:256]
    w = ((xx - 127.5) * t[0] + (yy - 127.5) * t[1]) * px
    return s, px, w


def test_rocksalt_half_measured_against_the_layered_reference():
    """Analytic truth: e_nn = 0.02 in the rock salt, 0 in the layered half (its reference)."""
    s, px, w = _half_rocksalt(0.02)
    ref = (w < -1.5) & (np.abs(w) < 3.2)
    with pytest.warns(UserWarning, match=SWITCH):
        r = ss.gpa(s.image, pixel_size=px, reference=ref)
    assert r.quality["g_fundamental"] and r.g_info["fundamental"]["used"]
    g0 = reciprocal_basis(ANGLE)
    # g[0] is the (006) = 2 x (003) (the layer normal), g[1] an h + k even fundamental
    assert np.allclose(r.g_vectors[0], 2 * g0[0], rtol=0, atol=0.02)
    hk = np.linalg.solve(g0.T, r.g_vectors[1])
    assert np.allclose(hk, np.rint(hk), atol=0.05) and int(np.rint(hk).sum()) % 2 == 0
    assert abs(abs(r.normal @ (g0[0] / np.linalg.norm(g0[0]))) - 1) < 1e-4
    inner = np.zeros_like(ref)
    inner[40:-40, 40:-40] = True
    rock, lay = inner & (w > 1.5), inner & (w < -1.5)
    assert r.mask[rock].mean() > 0.95 and r.mask[lay].mean() > 0.95
    assert abs(np.nanmedian(r.e_nn[rock]) - 0.02) < 1.5e-3
    assert abs(np.nanmedian(r.e_tt[rock])) < 1.5e-3
    assert abs(np.nanmedian(r.e_nn[lay])) < 1e-3 and abs(np.nanmedian(r.e_tt[lay])) < 1e-3


def test_given_003_pair_is_blind_in_the_rocksalt():
    """The peer: the (003) pair (given by the user: no switch) is NaN in the rock salt."""
    s, px, w = _half_rocksalt(0.0)
    g0 = reciprocal_basis(ANGLE)
    r = ss.gpa(s.image, pixel_size=px, g=g0, reference=(w < -1.5))
    assert not r.quality["g_fundamental"]
    inner = np.zeros(s.shape, dtype=bool)
    inner[40:-40, 40:-40] = True
    assert r.mask[inner & (w > 1.5)].mean() < 0.05


def test_surface_case_valid_and_right_in_the_rocksalt_band():
    """realistic('surface'): >= 80 % of the truth crystal valid, band strain ~0 (truth)."""
    px = 0.04
    rec = realistic("surface", shape=(256, 256), pixel_size=px, seed=1)
    with pytest.warns(UserWarning, match=SWITCH):
        r = _quiet(rec.image, px)
    s = score(rec, r)
    assert s["valid"] >= 0.8
    assert s["rotation_p95"] < 5e-3 and s["exx_p95"] < 6e-3 and s["eyy_p95"] < 6e-3
    band = rec.truth["rocksalt"] & r.mask
    assert band.sum() > 200
    for k in ("exx", "eyy", "exy", "rotation"):
        assert abs(np.nanmedian(getattr(r, k)[band])) < 3e-3, k
    assert not (r.mask & ~rec.truth["crystal"]).any()


def test_layered_crystal_without_rocksalt_keeps_the_003_pair():
    """An ordinary layered image: no switch, g[0] is the (003), no extra warning."""
    s = layered_oxide((256, 256), pixel_size=0.03, angle_deg=ANGLE, seed=5)
    r = ss.gpa(s.image, pixel_size=0.03)
    assert not r.quality["g_fundamental"]
    assert r.g_info["fundamental"]["gap_share"] < 0.01
    assert np.allclose(r.g_vectors[0], reciprocal_basis(ANGLE)[0], atol=0.02)
