"""layer_spacing: O1 band (contracted) and a strain step against the generator."""

from __future__ import annotations

import numpy as np
import pytest

from stemstrain import CalibrationError, NoLatticeError, StemstrainError
from stemstrain.lattice import SpacingResult, find_columns, layer_spacing
from stemstrain.results import read_results
from stemstrain.synthetic import fields, layered_oxide

ANGLE = 20.0
E_TT, E_NN = 0.03, 0.04


@pytest.fixture(scope="module")
def o1_step():
    u = fields.strain_step(E_TT, E_NN, angle_deg=ANGLE, position_nm=1.0, width_nm=0.3)
    lat = layered_oxide(
        (384, 384), angle_deg=ANGLE, o1_gaps=(-5, -3), displacement=u, dose=200, seed=1
    )
    return lat, layer_spacing(lat.image, pixel_size=lat.pixel_size)


def s_of(lat, x, y):
    xn, yn = lat.pixel_to_nm(np.asarray(x), np.asarray(y))
    return xn * np.cos(np.deg2rad(ANGLE)) + yn * np.sin(np.deg2rad(ANGLE))


def gap_truth(lat, res):
    """Truth label of each measured gap: the generator's gap of the truth layer below."""
    from scipy.spatial import cKDTree

    tm = lat.tm_columns(inside=False)
    g = res.gaps
    # the column below the gap midpoint: step half a spacing against the normal
    n = np.array([-np.sin(np.deg2rad(ANGLE)), np.cos(np.deg2rad(ANGLE))])
    xb = g.x.to_numpy() - n[0] * 0.23 / lat.pixel_size
    yb = g.y.to_numpy() - n[1] * 0.23 / lat.pixel_size
    _, i = cKDTree(np.c_[tm.x, tm.y]).query(np.c_[xb, yb])
    lab = lat.gaps.set_index("gap").loc[tm.layer.to_numpy()[i]]
    return lab.label.to_numpy(), lab.spacing_nm.to_numpy()


def test_o1_band_and_strain_step(o1_step):
    lat, res = o1_step
    assert isinstance(res, SpacingResult)
    label, truth = gap_truth(lat, res)
    s = s_of(lat, res.gaps.x, res.gaps.y)
    sp = res.gaps.spacing_nm.to_numpy()
    flat, step = s < 0.0, s > 2.0  # away from the tanh step at 1.0 +- 0.3 nm
    assert (label == "O1").sum() > 30
    for lab, d0 in (("O3", 0.468), ("O1", 0.445)):
        assert np.median(sp[flat & (label == lab)]) == pytest.approx(d0, abs=0.002)
        assert np.median(sp[step & (label == lab)]) == pytest.approx(d0 * (1 + E_NN), abs=0.003)
    # per-gap precision: spread < 0.003 nm
    assert np.std(sp[flat & (label == "O3")]) < 0.003
    assert res.reference_nm == pytest.approx(0.468, abs=0.003)


def test_in_plane_spacing_step(o1_step):
    lat, res = o1_step
    ip = res.in_plane
    s = s_of(lat, ip.x, ip.y)
    assert np.median(ip.spacing_nm[s < 0.0]) == pytest.approx(0.244, abs=0.002)
    assert np.median(ip.spacing_nm[s > 2.0]) == pytest.approx(0.244 * (1 + E_TT), abs=0.002)
    assert res.in_plane_reference_nm == pytest.approx(0.244, abs=0.008)


def test_maps(o1_step, tmp_path):
    lat, res = o1_step
    assert res.spacing.shape == lat.image.shape
    assert np.isfinite(res.spacing[150:250, 150:250]).all()
    ok = np.isfinite(res.spacing)
    assert np.allclose(res.deviation[ok], res.spacing[ok] / res.reference_nm - 1)
    assert 0.44 < np.nanmin(res.spacing) and np.nanmax(res.spacing) < 0.50
    assert np.nanmedian(res.in_plane_spacing) == pytest.approx(0.244, rel=0.04)
    back = read_results(res.save(tmp_path / "r.h5"))["spacing"]
    assert np.allclose(back["spacing"], res.spacing, equal_nan=True)
    assert len(back["gaps"]) == len(res.gaps)


def test_columns_input_and_reference():
    lat = layered_oxide((256, 256), angle_deg=-10.0, seed=2)
    cols = find_columns(lat.image, pixel_size=0.02)
    res = layer_spacing(cols, reference_nm=0.45, shape=(256, 256))
    assert res.reference_nm == 0.45
    assert np.median(res.gaps.deviation) == pytest.approx(0.468 / 0.45 - 1, abs=0.005)
    res2 = layer_spacing(lat.image, pixel_size=0.02, columns=cols)
    assert np.allclose(res2.gaps.spacing_nm, res.gaps.spacing_nm)


def test_errors():
    lat = layered_oxide((128, 128), seed=1)
    with pytest.raises(CalibrationError, match="pixel_size"):
        layer_spacing(lat.image)
    with pytest.raises(StemstrainError, match="reference_nm"):
        layer_spacing(lat.image, pixel_size=0.02, reference_nm=0.0)
    cols = find_columns(lat.image, pixel_size=0.02)
    with pytest.raises(NoLatticeError, match="two traced"):
        layer_spacing(cols[cols.layer == 1])
    with pytest.raises(StemstrainError, match="shape"):
        layer_spacing(cols, shape=(5, 5, 5))
