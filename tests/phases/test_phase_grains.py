"""phase_map over several grains: one lattice frame per grain of ss.lattice_map (truth known)."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

import stemstrain as ss
from stemstrain.phases import PHASE_CODES, _grains
from stemstrain.results import read_results
from stemstrain.synthetic import grains_case, layered_oxide, realistic, render_columns

LAYERED, UNKNOWN = PHASE_CODES["layered"], PHASE_CODES["unknown"]


@functools.lru_cache(maxsize=None)
def _case(name: str, size: int = 320):
    rec = realistic(name, shape=(size, size))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = ss.phase_map(rec.image, rec.pixel_size)
    return rec, r, [str(w.message) for w in caught]


def test_second_grain_turned_35_deg_is_mapped_in_its_own_frame():
    rec, r, msgs = _case("grains")  # session 3: grain 2 read 78 % vacuum / amorphous here
    grain = rec.truth["grain"]
    for k in (1, 2):  # both grains are pure O3: measured 1.000 / 1.000
        assert np.mean(r.label_map[grain == k] == LAYERED) >= 0.97
    assert msgs == []
    assert len(r.grains) == 2
    g2 = r.grains.iloc[1]
    assert g2.turn_deg == pytest.approx(35.0, abs=1.0)  # measured 35.0 (truth 35)
    assert g2.spacing_nm == pytest.approx(0.468, rel=0.02)
    assert g2.family == "A" and g2.fraction_layered >= 0.97
    assert r.grains.area_fraction.sum() == pytest.approx(1.0)
    # the grain of each pixel: truth grain 1 -> grain 1, 2 -> 2 (measured 0.992 of the pixels)
    assert np.mean(r.grain_map == grain) >= 0.97
    frac2 = np.mean(grain == 2)
    assert g2.area_fraction == pytest.approx(frac2, abs=0.03)


def test_single_grain_cases_keep_their_labels():
    rec, r, msgs = _case("surface")  # one grain: the session-3 path, measured acc 0.964
    t = rec.truth
    cr = t["crystal"] & ~t["rocksalt"]
    assert np.mean(r.label_map[cr] == LAYERED) >= 0.95
    rs = r.label_map == PHASE_CODES["rock_salt"]
    assert (rs & t["rocksalt"]).sum() / (rs | t["rocksalt"]).sum() >= 0.75  # measured 0.780
    assert len(r.grains) == 1 and msgs == []
    assert set(np.unique(r.grain_map)) <= {0, 1}
    assert np.all((r.grain_map == 1) == (r.label_map != PHASE_CODES["vacuum"]))


def test_kink_band_frames_keep_o3_everywhere():
    rec, r, _ = _case("kink")  # two lattice-map grains 20 deg apart: a second frame
    assert np.mean(r.label_map[rec.truth["crystal"]] == LAYERED) >= 0.99  # measured 1.000
    assert r.fractions["O1"] <= 0.005


def test_grain_outside_the_phase_set_is_unknown_and_named():
    # grain 2: a layered lattice with a 0.62 nm layer spacing (no model has it) at 40 deg
    a = layered_oxide((256, 256), angle_deg=5.0, dose=200, seed=1)
    b = layered_oxide((256, 256), angle_deg=45.0, c_spacing=0.62, dose=200, seed=2)
    image = np.where(np.arange(256)[None, :] < 128, a.image, b.image)
    with pytest.warns(UserWarning, match=r"grain 2 \(lattice turned 40 deg .*outside the range"):
        r = ss.phase_map(image, 0.02)
    right = r.grain_map[:, 150:] == 2
    assert right.mean() > 0.9
    assert np.all(r.label_map[:, 150:][right] == UNKNOWN)
    assert np.mean(r.label_map[:, :110] == LAYERED) >= 0.97  # grain 1 keeps its labels


def test_grain_table_and_map_are_saved(tmp_path):
    _, r, _ = _case("grains")
    back = read_results(r.save(tmp_path / "g.h5"))["phases"]
    np.testing.assert_array_equal(back["grain_map"], r.grain_map)
    assert list(back["grains"].family) == list(r.grains.family)
    np.testing.assert_allclose(back["grains"].turn_deg, r.grains.turn_deg)


def test_layered_grain_is_mapped_next_to_a_stronger_non_layered_lattice():
    # right half: a square lattice (0.28 nm, not a layered zone) whose peaks spoil the
    # frame of the whole image; session 3: everything "unknown" with a zone warning
    a = layered_oxide((256, 256), angle_deg=5.0, dose=200, seed=1)
    yy, xx = np.mgrid[0:40, 0:40] * 0.28 / 0.02
    c, s = np.cos(np.deg2rad(20)), np.sin(np.deg2rad(20))
    x, y = (xx * c - yy * s).ravel() - 100, (xx * s + yy * c).ravel() - 100
    square = render_columns(x, y, np.ones(x.size), 2.25, (256, 256)) + 0.05
    square = np.random.default_rng(0).poisson(square * 200).astype(np.float32)
    image = np.where(np.arange(256)[None, :] < 128, a.image, square)
    with pytest.warns(UserWarning, match=r"ss.lattice_map finds \(its grains 2.* reads 'unknown'"):
        r = ss.phase_map(image, 0.02)
    assert np.mean(r.label_map[:, :110] == LAYERED) >= 0.97  # measured 1.000
    assert np.all(r.label_map[:, 150:] == UNKNOWN)
    assert r.grains.family.tolist()[0] == "A"


def test_grain_without_a_frame_is_warned(monkeypatch):
    rec, _, _ = _case("grains")
    monkeypatch.setattr(_grains, "MAX_FRAMES", 1)  # as in session 3: one frame
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = ss.phase_map(rec.image, rec.pixel_size)
    msgs = [str(w.message) for w in caught]  # the columns' missed-layers warning is there too
    assert any("of the crystal that ss.lattice_map finds (its grains 2" in m for m in msgs)
    assert r.params["grains"]["unframed"] == [2] and len(r.grains) == 1


def test_missed_share_against_masks():
    unframed = np.zeros((100, 100), bool)
    unframed[:, 50:] = True
    crystal = np.zeros((100, 100), bool)
    crystal[:, :50] = True
    g = _grains.GrainFrames((None,), ((),), None, {"unframed": [2]}, unframed, window_px=20.0)
    msg = _grains.missed_note(g, crystal)  # 40 columns lie > 10 px from the crystal: 40 / 90
    assert msg.startswith("44% of the crystal that ss.lattice_map finds (its grains 2")
    crystal[:, :90] = True  # what is left lies within half a window: a surface spill
    assert _grains.missed_note(g, crystal) is None


def test_grain_turned_70_deg_is_not_read_as_a_pseudo_symmetric_match():
    # session 3 (one frame): grain 2 read 3.7 % right here, without a warning
    rec = grains_case(shape=(320, 320), misorientation_deg=70.0)
    r = ss.phase_map(rec.image, rec.pixel_size)
    grain = rec.truth["grain"]
    for k in (1, 2):
        assert np.mean(r.label_map[grain == k] == LAYERED) >= 0.97  # measured 1.000 / 1.000
    assert np.mean(r.grain_map == grain) >= 0.95  # measured 0.988
    assert r.grains.turn_deg.iloc[1] == pytest.approx(70.0, abs=1.5)


def test_widget_summary_names_the_grains():
    pytest.importorskip("magicgui")
    from napari_stemstrain._widgets._phases import phase_summary

    _, r, _ = _case("grains")
    turn = r.grains.turn_deg.iloc[1]
    assert f"; 2 grains (turned {turn:.0f} deg from grain 1); " in phase_summary(r)
