"""phase_map on bent layers that slip over each other (registry drift is not O1; truth known)."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

import stemstrain as ss
from stemstrain.phases import PHASE_CODES, _registry
from stemstrain.synthetic import layered_oxide, realistic

LAYERED, O1 = PHASE_CODES["layered"], PHASE_CODES["O1"]


@functools.lru_cache(maxsize=None)
def _case(name: str, size: int = 320):
    rec = realistic(name, shape=(size, size))
    return rec, ss.phase_map(rec.image, rec.pixel_size)


def _o1_scores(labels: np.ndarray, nominal: np.ndarray) -> tuple[float, float]:
    """Layered / O1 accuracy and O1 IoU against the built stacking, on the crystal."""
    cr = (nominal > 0) & (labels > 0)
    truth = np.where(nominal[cr] == 2, O1, LAYERED)
    pred = labels[cr]
    t, p = truth == O1, pred == O1
    return float(np.mean(pred == truth)), float((t & p).sum() / (t | p).sum())


def test_o1_band_in_a_slipping_bend_follows_the_band_not_the_drift():
    rec, r = _case("o1_bend", 384)  # R = 25 nm, O1 gaps -2..1, layers turn by +-4.4 deg
    acc, iou = _o1_scores(r.label_map, rec.truth["labels_nominal"])
    assert acc >= 0.95 and iou >= 0.85  # template labels alone: 0.77 / 0.21 at 512^2
    slip = r.params["slip"]
    assert slip["checked"] and slip["applied"] and not slip["doubtful"]
    assert slip["beta"] == pytest.approx(1.0, abs=0.05)  # layers keep their arc length
    assert slip["theta0_deg"] == pytest.approx(rec.params["angle_deg"], abs=0.5)
    assert r.params["warnings"] == []
    # the O1-like registry of the drift is where the old labels put O1: it is not O1 here
    drift_o1 = (rec.truth["labels"] == 2) & (rec.truth["labels_nominal"] == 1)
    assert drift_o1.mean() > 0.05
    assert np.mean(r.label_map[drift_o1] == O1) < 0.02


@pytest.mark.parametrize("name", ["bend_r15", "bend_r30", "ripple"])
def test_pure_o3_bends_and_ripple_read_no_o1(name):
    rec, r = _case(name)
    assert np.all(rec.truth["labels_nominal"][rec.truth["crystal"]] == 1)  # built pure O3
    assert r.fractions["O1"] <= 0.01
    assert r.fractions["layered"] >= 0.98
    assert r.params["slip"]["applied"]


def test_straight_crystal_is_not_checked_and_keeps_template_labels():
    lat = layered_oxide((256, 256), pixel_size=0.02, o1_gaps=(-2, 2), seed=3)
    r = ss.phase_map(lat.image, lat.pixel_size)
    assert r.params["slip"]["checked"] is False
    assert r.params["slip"]["rotation_spread_deg"] < 5.0
    truth, pred = lat.label_map_truth() == 2, r.label_map == O1
    assert (truth & pred).sum() / (truth | pred).sum() > 0.7


def test_slip_that_cannot_be_measured_warns_that_o3_o1_is_doubtful():
    rec, _ = _case("bend_r30")
    cols = rec.detectable_columns().head(8).assign(sigma=2.25)  # too few for a stacking map
    with pytest.warns(UserWarning, match="'layered' / 'O1' labels are doubtful"):
        r = ss.phase_map(rec.image, rec.pixel_size, columns=cols)
    assert r.params["slip"]["checked"] is False


def test_registry_without_one_slip_law_warns_that_o3_o1_is_doubtful():
    rec, _ = _case("bend_r30")
    cols = rec.detectable_columns()
    # every layer displaced along itself by a random fraction of the period: the registry
    # of the gaps follows no slip law and ~1/3 of it is neither O3 nor O1
    rng = np.random.default_rng(0)
    off = rng.uniform(-0.5, 0.5, int(cols.layer.max() - cols.layer.min()) + 1)
    shift_px = off[cols.layer.to_numpy(int) - int(cols.layer.min())] * 0.244 / rec.pixel_size
    t = np.deg2rad(rec.params["angle_deg"])
    cols = cols.assign(x=cols.x + shift_px * np.cos(t), y=cols.y + shift_px * np.sin(t))
    with pytest.warns(UserWarning, match="O3 / O1 .* labels are doubtful"):
        r = ss.phase_map(rec.image, rec.pixel_size, columns=cols.assign(sigma=2.25))
    assert r.params["slip"]["checked"]


def test_a_grain_the_lockin_frame_misses_is_warned_not_silent():
    # grain 2 turns 35 deg from grain 1, past the +-20 deg the lock-in frame follows
    rec = realistic("grains", shape=(320, 320))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = ss.phase_map(rec.image, rec.pixel_size)
    msgs = [str(w.message) for w in caught]
    g2 = rec.truth["grain"] == 2
    mapped = np.mean(np.isin(r.label_map[g2], (LAYERED, PHASE_CODES["unknown"])))
    assert mapped >= 0.9 or any("is not mapped" in m for m in msgs)
    assert r.fractions["O1"] <= 0.01  # the column registry: both grains O3


def test_missed_lattice_share_against_masks():
    painted = np.zeros((100, 100), bool)
    painted[:, :50] = True
    crystal = np.zeros((100, 100), bool)
    notes: list[str] = []
    crystal[:, :48] = True  # 4 % of the layered area outside: an edge, not warned
    _registry._check_missed_lattice(painted, crystal, notes)
    assert notes == []
    crystal[:, 40:] = False  # 20 % outside
    _registry._check_missed_lattice(painted, crystal, notes)
    assert len(notes) == 1 and notes[0].startswith("20% of the layered area")
