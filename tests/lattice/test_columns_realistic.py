"""find_columns on the realistic generator cases (#14): recall, spurious, RMS vs the CRB."""

import numpy as np
import pytest

import stemstrain as ss
from stemstrain.synthetic import CASES, realistic, score_columns

SHAPE = (384, 384)  # 7.7 nm at 0.02 nm/px; the 20-nm fields run in benchmarks/bench_lattice.py


@pytest.mark.parametrize("case", CASES)
def test_columns_on_realistic_case(case):
    rec = realistic(case, shape=SHAPE, pixel_size=0.02, seed=3)
    cols = ss.find_columns(rec.image, pixel_size=rec.pixel_size)
    sc = score_columns(rec, cols.x, cols.y)
    assert sc["n_truth"] > 250
    assert sc["recall"] >= 0.98, sc
    assert sc["spurious"] <= 0.02, sc
    # the Cramer-Rao bound of this image (Poisson, expected counts of the generator)
    assert 0.03 < sc["crb_px"] < 0.15
    assert sc["rms_px"] <= 1.3 * sc["crb_px"], sc
    assert cols.attrs["lattice_source"].startswith("lattice_map")
    if case != "surface":  # (rock salt has no Li layers to separate the TM layers)
        assert (cols.layer >= 0).mean() > 0.9  # traced into layers


def test_kink_and_grains_periods_from_the_local_lattice():
    # one global FFT lattice read the kink's in-plane period as ~70 px; the local map gives a
    for case in ("kink", "grains"):
        rec = realistic(case, shape=SHAPE, pixel_size=0.02, seed=4)
        cols = ss.find_columns(rec.image, pixel_size=0.02, trace=False)
        assert cols.attrs["period_px"] == pytest.approx(0.244 / 0.02, rel=0.03)
        assert cols.attrs["spacing_px"] == pytest.approx(0.468 / 0.02, rel=0.03)
    assert set(np.unique(cols.grain)) >= {1, 2}


def test_columns_not_found_in_vacuum_or_carbon():
    rec = realistic("surface", shape=SHAPE, pixel_size=0.02, seed=5)
    cols = ss.find_columns(rec.image, pixel_size=0.02, trace=False)
    d = rec.truth["surface_distance_nm"][np.round(cols.y).astype(int), np.round(cols.x).astype(int)]
    # none in the vacuum; a carbon clump at the surface may pass (<= 0.5 %, measured 0-1)
    assert (d < -0.15).mean() <= 0.005
    assert not (
        rec.truth["vacuum"][np.round(cols.y).astype(int), np.round(cols.x).astype(int)]
    ).any()


def test_score_columns_fails_on_shifted_columns():
    # negative control: the scorer sees a 0.2 px bias and a missing quarter
    rec = realistic("bend_r30", shape=(256, 256), pixel_size=0.02, seed=1)
    tr = rec.detectable_columns()
    good = score_columns(rec, tr.x, tr.y)
    assert good["recall"] == 1.0 and good["rms_px"] < 1e-9 and good["spurious"] == 0
    keep = slice(0, 3 * len(tr) // 4)
    bad = score_columns(rec, tr.x[keep] + 0.2, tr.y[keep])
    assert bad["recall"] < 0.8 and bad["rms_px"] == pytest.approx(0.2, abs=1e-9)
