"""Profiles from the surface and the curvature correlation helper on synthetic truth."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from stemstrain.eels import correlate_with_curvature, o_tm_ratio, ratio_profile
from stemstrain.errors import StemstrainError
from stemstrain.synthetic._eels import default_profile, eels_spectrum_image


def test_linescan_profile_band(linescans):
    sig, truth = linescans[3]
    r = o_tm_ratio(sig)
    prof = ratio_profile(r)
    assert list(prof.columns) == ["distance_nm", "ratio", "uncertainty", "n", "lower", "upper"]
    assert prof["distance_nm"].iloc[0] == 0.0 and len(prof) == 36
    assert np.allclose(prof["upper"] - prof["lower"], 2 * prof["uncertainty"])
    true = default_profile(prof["distance_nm"].to_numpy())
    z = (prof["ratio"] - true) / prof["uncertainty"]
    assert np.mean(np.abs(z) < 2) >= 0.9
    # a given surface shifts the distances
    shifted = ratio_profile(r, surface=6)
    assert shifted["distance_nm"].iloc[0] == 0.0 and len(shifted) == 34


def test_spectrum_image_profile_against_truth(small_si):
    sig, truth = small_si
    r = o_tm_ratio(sig)
    prof = ratio_profile(r)
    # surface at column 2: the first inside column is at distance 0
    assert prof["distance_nm"].iloc[0] == 0.0
    assert prof["n"].iloc[0] == 12
    true = default_profile(prof["distance_nm"].to_numpy())
    z = (prof["ratio"] - true) / prof["uncertainty"]
    assert np.all(np.abs(z) < 3.5)
    assert prof["ratio"].iloc[0] == pytest.approx(1.3, abs=0.06)
    given = ratio_profile(r, surface=np.isfinite(truth["ratio"]), bin_nm=1.0)
    assert given["distance_nm"].diff().dropna().eq(1.0).all()
    with pytest.raises(StemstrainError, match="surface mask has shape"):
        ratio_profile(r, surface=np.ones((3, 3), bool))
    with pytest.raises(StemstrainError, match="empty or fills the map"):
        ratio_profile(r, surface=np.ones((12, 16), bool))


@pytest.fixture(scope="module")
def spot_map():
    """O-depleted 3x3 spot (O/Co 1.5) centred at SI (row 6, col 10); 2.0 elsewhere."""
    truth = np.full((12, 16), 2.0)
    truth[5:8, 9:12] = 1.5
    sig, _ = eels_spectrum_image(shape=(12, 16), o_tm_map=truth, seed=5)
    return o_tm_ratio(sig), truth


def _curvature(x, y, shape=(120, 160), pixel_size=0.05):
    cmap = np.full(shape, 0.01)
    cmap[int(y), int(x)] = 0.5
    cmap[30, 120] = -0.3  # a second, weaker maximum far from the spot
    cmap[5, 159] = 0.4  # maps outside the SI with the offset registration
    return SimpleNamespace(map=cmap, max_location=(float(x), float(y)), pixel_size=pixel_size)


def test_correlate_samples_the_spot(spot_map):
    r, truth = spot_map
    # HAADF 0.05 nm/px, SI 0.5 nm/px: default scale 0.1, same origin
    curv = _curvature(100, 60)
    df = correlate_with_curvature(r, curv)
    row = df.iloc[0]
    assert (row["col"], row["row"]) == (10, 6)
    assert row["ratio"] == pytest.approx(1.5, abs=3 * row["uncertainty"])
    assert row["difference_sigma"] < -3
    assert row["ratio_elsewhere"] == pytest.approx(2.0, abs=0.05)
    assert row["curvature"] == pytest.approx(0.5)


def test_registration_forms_agree(spot_map):
    r, _ = spot_map
    # HAADF shifted by (+20, -10) px relative to the SI origin
    curv = _curvature(80, 70)
    by_dict = correlate_with_curvature(r, curv, registration={"scale": 0.1, "offset": (2.0, -1.0)})
    by_matrix = correlate_with_curvature(r, curv, registration=[[0.1, 0, 2.0], [0, 0.1, -1.0]])
    assert (by_dict.iloc[0]["col"], by_dict.iloc[0]["row"]) == (10, 6)
    assert by_dict.equals(by_matrix)
    two = correlate_with_curvature(
        r, curv, registration={"scale": 0.1, "offset": (2.0, -1.0)}, n_points=2
    )
    assert len(two) == 2 and two.iloc[1]["curvature"] == pytest.approx(-0.3)
    with pytest.raises(StemstrainError, match="outside the"):
        correlate_with_curvature(r, _curvature(100, 60), registration={"scale": 1.0})
    with pytest.raises(StemstrainError, match="2x3 affine"):
        correlate_with_curvature(r, curv, registration=np.eye(2))
    no_px = SimpleNamespace(map=None, max_location=(1.0, 1.0), pixel_size=None)
    with pytest.raises(StemstrainError, match="pixel sizes unknown"):
        correlate_with_curvature(r, no_px)


def test_correlate_with_real_layer_curvature():
    """End to end with ss.layer_curvature on a bent synthetic HAADF image (0.02 nm/px) and a
    13 x 13 spectrum image (0.4 nm/px) of the same area, common origin."""
    import stemstrain as ss
    from stemstrain.synthetic import layered_oxide

    lat = layered_oxide((256, 256), pixel_size=0.02, bend_radius_nm=5.0, seed=1)
    curv = ss.layer_curvature(lat.image, pixel_size=0.02)
    x, y = curv.max_location
    col, row = int(round(x * 0.05)), int(round(y * 0.05))
    truth = np.full((13, 13), 2.0)
    truth[max(row - 1, 0) : row + 2, max(col - 1, 0) : col + 2] = 1.5
    sig, _ = eels_spectrum_image(shape=(13, 13), o_tm_map=truth, pixel_size_nm=0.4, seed=2)
    df = correlate_with_curvature(o_tm_ratio(sig), curv)
    first = df.iloc[0]
    assert (first["col"], first["row"]) == (col, row)
    assert first["curvature"] == pytest.approx(curv.max_curvature, rel=0.05)
    assert first["ratio"] == pytest.approx(1.5, abs=3 * first["uncertainty"])
    assert first["difference_sigma"] < -3


def test_mean_profile_sigma_is_that_of_the_mean(small_si):
    """Column mean of a map: sigma = sqrt(sum sigma_i^2) / n, not the per-pixel RMS (#18)."""
    from stemstrain.eels import mean_profile

    sig, truth = small_si
    r = o_tm_ratio(sig, method="integration")  # no systematic part
    mean, sigma, n = mean_profile(r, axis=0)
    col = 8
    ok = np.isfinite(r.ratio[:, col])
    assert n[col] == ok.sum() == 12
    assert mean[col] == pytest.approx(np.mean(r.ratio[ok, col]))
    rms = np.sqrt(np.mean(r.uncertainty[ok, col] ** 2))
    assert sigma[col] == pytest.approx(rms / np.sqrt(12), rel=1e-6)
    assert np.isnan(mean[0]) and n[0] == 0  # vacuum column
    # the mean is as close to the truth as its sigma says (columns 2..15, 14 of them)
    z = (mean[2:] - truth["ratio"][0, 2:]) / sigma[2:]
    assert np.mean(np.abs(z) < 2) >= 0.85
    # the model's cross-section systematic is common to all pixels: it does not average down
    rm = o_tm_ratio(sig)
    mm, sm, _ = mean_profile(rm, axis=0)
    assert sm[col] == pytest.approx(np.hypot(0.05, 0.15) * mm[col], rel=0.05)


def test_correlate_with_curvature_takes_a_valence_map():
    """A reduced (valence 2.5) spot among 3.0, sampled at the curvature maximum."""
    from stemstrain.eels import ValenceResult

    val = np.full((12, 16), 3.0)
    val[5:8, 9:12] = 2.5
    sigma = np.full((12, 16), 0.05)
    res = ValenceResult(
        valence=val,
        uncertainty=sigma,
        l3_l2_ratio=val * 0,
        l3_l2_uncertainty=sigma,
        l3_position_ev=val * 0,
        pixel_size=0.5,
    )
    df = correlate_with_curvature(res, _curvature(100, 60))
    row = df.iloc[0]
    assert (row["col"], row["row"]) == (10, 6)
    assert row["valence"] == pytest.approx(2.5)
    assert row["valence_elsewhere"] == pytest.approx(3.0, abs=0.02)
    assert row["difference_sigma"] < -9
