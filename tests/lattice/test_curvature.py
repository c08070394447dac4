"""layer_curvature against the generator's exact curvature (bend and ripple)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from stemstrain import CalibrationError, NoLatticeError, StemstrainError
from stemstrain.lattice import CurvatureResult, find_columns, layer_curvature
from stemstrain.results import read_results
from stemstrain.synthetic import fields, layered_oxide


def truth_layer(lat, table):
    tm = lat.tm_columns(inside=False)
    _, i = cKDTree(np.c_[tm.x, tm.y]).query(np.c_[table.x, table.y])
    return tm.layer.to_numpy()[i], tm.n.to_numpy()[i]


@pytest.mark.parametrize("radius,angle", [(25.0, 0.0), (-35.0, 30.0), (50.0, -65.0)])
def test_bent_crystal_per_layer(radius, angle):
    """Every layer k is an arc of radius R - n_k: kappa_k = 1/(R - n_k) (10-15 % apart)."""
    lat = layered_oxide((320, 320), bend_radius_nm=radius, angle_deg=angle, dose=200, seed=1)
    res = layer_curvature(lat.image, pixel_size=lat.pixel_size)
    tl, n_ref = truth_layer(lat, res.layers)
    t = res.layers.assign(tl=tl, truth=1.0 / (radius - n_ref))
    t = t[t.full_window]  # columns whose window lies entirely on the layer
    per = t.groupby("tl").agg(
        k=("curvature", "median"), truth=("truth", "first"), size=("curvature", "size")
    )
    per = per[per["size"] >= 10]
    assert len(per) >= 7
    assert per.truth.abs().max() / per.truth.abs().min() > 1.05  # radius varies by layer
    rel = per.k / per.truth - 1.0
    assert np.all(np.abs(rel) <= 0.06)
    assert np.sign(res.max_curvature) == np.sign(radius)


@pytest.mark.parametrize("amp,width,angle", [(0.3, 2.0, 0.0), (-0.4, 2.5, -25.0)])
def test_ripple_peak_and_location(amp, width, angle):
    s0 = 0.5
    u = fields.ripple(amp, width, angle_deg=angle, s0_nm=s0)
    lat = layered_oxide((400, 400), angle_deg=angle, displacement=u, dose=200, seed=2)
    res = layer_curvature(lat.image, pixel_size=lat.pixel_size)
    k_true = fields.ripple_curvature(s0, amp, width, s0)
    assert res.max_curvature == pytest.approx(k_true, rel=0.2)
    xn, yn = lat.pixel_to_nm(*res.max_location)
    t = np.array([np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))])
    assert abs(xn * t[0] + yn * t[1] - s0) <= 1.0
    # the whole profile, not only the peak: per-column curvature vs the analytic one
    lay = res.layers[res.layers.full_window]
    xs, ys = lat.pixel_to_nm(lay.x.to_numpy(), lay.y.to_numpy())
    s = xs * t[0] + ys * t[1] - u(xs, ys)[0] * 0  # s is unchanged by the ripple (along n)
    err = lay.curvature.to_numpy() - fields.ripple_curvature(s, amp, width, s0)
    assert np.sqrt(np.mean(err**2)) < 0.15 * abs(k_true)


def test_flat_crystal_has_no_false_curvature():
    lat = layered_oxide((320, 320), angle_deg=14.0, dose=200, seed=3)
    res = layer_curvature(lat.image, pixel_size=lat.pixel_size)
    assert np.median(np.abs(res.layers.curvature)) <= 0.005
    assert np.nanmedian(np.abs(res.map)) <= 0.005


def test_map_and_result_layout(tmp_path):
    lat = layered_oxide((256, 256), bend_radius_nm=30.0, angle_deg=5.0, seed=4)
    cols = find_columns(lat.image, pixel_size=lat.pixel_size)
    res = layer_curvature(lat.image, columns=cols)  # pixel size from columns.attrs
    assert isinstance(res, CurvatureResult)
    assert res.map.shape == lat.image.shape
    assert list(res.layers.columns[:5]) == ["layer", "chain", "x", "y", "curvature"]
    inner = res.map[64:192, 64:192]
    assert np.isfinite(inner).all()
    assert np.nanmedian(res.map) == pytest.approx(1 / 30.0, rel=0.1)
    # the map passes through the column values
    xi = np.rint(res.layers.x).astype(int).clip(0, 255)
    yi = np.rint(res.layers.y).astype(int).clip(0, 255)
    vals = res.map[yi, xi]
    ok = np.isfinite(vals)
    assert np.median(np.abs(vals[ok] - res.layers.curvature[ok])) < 0.003
    path = res.save(tmp_path / "results.h5")
    back = read_results(path)["curvature"]
    assert np.allclose(back["map"], res.map, equal_nan=True)
    assert np.allclose(back["layers"]["curvature"], res.layers.curvature)
    # columns only: map shape from the columns' extent
    res2 = layer_curvature(columns=cols[["x", "y"]].assign(), pixel_size=0.02)
    assert np.allclose(np.sort(res2.layers.curvature), np.sort(res.layers.curvature))


def test_window_trades_noise():
    lat = layered_oxide((256, 256), angle_deg=0.0, dose=100, seed=5)
    cols = find_columns(lat.image, pixel_size=0.02)
    narrow = layer_curvature(columns=cols, window_nm=1.5)
    wide = layer_curvature(columns=cols, window_nm=4.0)
    assert wide.layers.curvature.std() < 0.5 * narrow.layers.curvature.std()


def test_errors():
    lat = layered_oxide((128, 128), seed=1)
    with pytest.raises(CalibrationError, match="pixel_size"):
        layer_curvature(lat.image)
    with pytest.raises(StemstrainError, match="method"):
        layer_curvature(lat.image, pixel_size=0.02, method="spline")
    with pytest.raises(StemstrainError, match="window_nm"):
        layer_curvature(lat.image, pixel_size=0.02, window_nm=-1.0)
    with pytest.raises(StemstrainError, match="image or a columns"):
        layer_curvature()
    with pytest.raises(StemstrainError, match="min_points"):
        layer_curvature(lat.image, pixel_size=0.02, min_points=2)
    with pytest.raises(NoLatticeError, match="columns"):
        layer_curvature(lat.image, pixel_size=0.02, min_points=40)
    nan = lat.image.copy()
    nan[3, 3] = np.nan
    with pytest.raises(StemstrainError, match="NaN"):
        layer_curvature(nan, pixel_size=0.02)
    with pytest.raises(StemstrainError, match="'x' and 'y'"):
        layer_curvature(columns=np.zeros((3, 2)), pixel_size=0.02)


@pytest.mark.filterwarnings("ignore:gpa. the border band:UserWarning")  # small field
def test_gpa_method_agrees_with_columns():
    """Cross-check: GPA (d(e_nt - rotation)/ds) vs column fits on a bent, rotated crystal."""
    lat = layered_oxide((320, 320), bend_radius_nm=-30.0, angle_deg=25.0, dose=200, seed=6)
    by_gpa = layer_curvature(lat.image, pixel_size=lat.pixel_size, method="gpa")
    by_cols = layer_curvature(lat.image, pixel_size=lat.pixel_size)
    assert by_gpa.method == "gpa"
    inner = (slice(80, 240), slice(80, 240))
    k_gpa = np.nanmedian(by_gpa.map[inner])
    k_col = np.nanmedian(by_cols.map[inner])
    assert k_gpa == pytest.approx(k_col, rel=0.15)
    assert k_gpa == pytest.approx(-1 / 30.0, rel=0.15)
    # per column: same sign everywhere in the interior, 15 % agreement in the median
    lay = by_gpa.layers[by_gpa.layers.full_window]
    assert np.all(np.sign(lay.curvature.dropna()) == -1)
    lay_c = by_cols.layers[by_cols.layers.full_window]
    assert np.median(lay.curvature.dropna()) == pytest.approx(np.median(lay_c.curvature), rel=0.15)
    with pytest.raises(StemstrainError, match="needs the image"):
        layer_curvature(columns=find_columns(lat.image, pixel_size=0.02), method="gpa")


@pytest.mark.filterwarnings("ignore:gpa. the border band:UserWarning")  # small field
def test_gpa_method_samples_the_given_columns():
    # #18: method="gpa" ignored columns= and found the columns again
    lat = layered_oxide((256, 256), bend_radius_nm=30.0, seed=8)
    cols = find_columns(lat.image, pixel_size=0.02)
    sub = cols.iloc[::3].reset_index(drop=True)
    res = layer_curvature(lat.image, pixel_size=0.02, columns=sub, method="gpa")
    assert len(res.layers) == len(sub)
    assert np.allclose(res.layers.x, sub.x) and np.allclose(res.layers.y, sub.y)


def test_plots_of_lattice_results():
    from stemstrain.lattice import layer_spacing
    from stemstrain.results import TableResult

    lat = layered_oxide((160, 160), bend_radius_nm=20.0, seed=7)
    cols = find_columns(lat.image, pixel_size=0.02)
    fig = layer_curvature(columns=cols).plot()
    assert len(fig.axes) >= 2
    fig = layer_spacing(cols, shape=(160, 160)).plot()
    assert len(fig.axes) >= 3
    fig = TableResult("columns", cols, pixel_size=0.02).plot(image=lat.image)
    assert "layers" in fig.axes[0].get_title()


def test_hyperspy_signal_input_calibrated_in_angstrom():
    hs = pytest.importorskip("hyperspy.api")
    lat = layered_oxide((192, 192), bend_radius_nm=25.0, seed=9)
    sig = hs.signals.Signal2D(lat.image)
    for ax in sig.axes_manager.signal_axes:
        ax.scale, ax.units = 0.2, "Å"  # 0.02 nm
    cols = find_columns(sig)
    assert cols.attrs["pixel_size"] == pytest.approx(0.02)
    res = layer_curvature(sig, columns=cols)
    assert res.pixel_size == pytest.approx(0.02)
    assert np.median(res.layers.curvature) == pytest.approx(1 / 25.0, rel=0.1)
    assert res.to_signal().data.shape == (1, 192, 192)


def test_per_layer_curvature_of_a_slipping_bend_r15():
    # #14: every layer of an R = 15 nm bend (layers slip, arc length kept) within 10 %
    from scipy.spatial import cKDTree

    from stemstrain.synthetic import realistic

    rec = realistic("bend_r15", shape=(384, 384), pixel_size=0.02, seed=3)
    res = layer_curvature(rec.image, pixel_size=0.02)
    lay = res.layers[res.layers.full_window]
    tm = rec.columns[rec.columns.detectable]
    _, i = cKDTree(np.c_[tm.x, tm.y]).query(np.c_[lay.x, lay.y])
    k_true = 1.0 / (15.0 - tm.layer.to_numpy()[i] * 0.468)
    per = (
        lay.assign(kt=k_true, tl=tm.layer.to_numpy()[i])
        .groupby("tl")
        .agg(k=("curvature", "median"), kt=("kt", "first"), n=("curvature", "size"))
    )
    per = per[per.n >= 8]
    assert len(per) >= 10
    assert per.kt.max() / per.kt.min() > 1.3  # the radius varies by > 30 % across the field
    assert np.all(np.abs(per.k / per.kt - 1) <= 0.10)
