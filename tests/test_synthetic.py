"""The generator is the ground truth of every other test: check it against geometry by hand."""

import numpy as np
import pytest

from stemstrain.synthetic import fields, layered_oxide, render_columns


def test_render_columns_peak_and_integral():
    img = render_columns([20.3], [30.7], [2.0], 2.5, (64, 64))
    assert img.max() == pytest.approx(2.0, rel=0.05)
    # integral of a 2-D Gaussian = 2 pi sigma^2 A
    assert img.sum() == pytest.approx(2 * np.pi * 2.5**2 * 2.0, rel=1e-3)
    yy, xx = np.mgrid[0:64, 0:64]
    assert (img * xx).sum() / img.sum() == pytest.approx(20.3, abs=1e-3)
    assert (img * yy).sum() / img.sum() == pytest.approx(30.7, abs=1e-3)


def test_flat_o3_geometry():
    s = layered_oxide((256, 256), angle_deg=0.0, dose=None, o_amplitude=0.0)
    tm = s.tm_columns()
    ps = s.pixel_size
    # layers are rows spaced by d003; columns in a layer spaced by a
    for k in (-2, 0, 3):
        row = tm[tm.layer == k].sort_values("x")
        assert np.allclose(row.y.to_numpy(), (255 / 2) + k * 0.468 / ps)
        assert np.allclose(np.diff(row.x.to_numpy()), 0.244 / ps)
    # O3: every column of the layer above is shifted by +1/3 period from the layer below
    x0 = tm[tm.layer == 0].x.to_numpy()
    x1 = tm[tm.layer == 1].x.to_numpy()
    d = (x1[:, None] - x0[None, :]) * ps / 0.244
    nearest_below = d[np.arange(len(x1)), np.argmin(np.where(d >= 0, d, np.inf), axis=1)]
    assert np.allclose(nearest_below, 1 / 3, atol=1e-9)


def test_o1_band_has_no_shift_and_contracted_spacing():
    s = layered_oxide((256, 256), o1_gaps=(0, 0), dose=None)
    tm = s.tm_columns()
    x0 = np.sort(tm[tm.layer == 0].x.to_numpy())
    x1 = np.sort(tm[tm.layer == 1].x.to_numpy())
    d = np.mod((x1[:, None] - x0[None, :]) * s.pixel_size / 0.244 + 0.5, 1.0) - 0.5
    assert np.min(np.abs(d), axis=1).max() < 1e-9
    y0, y1 = tm[tm.layer == 0].y.mean(), tm[tm.layer == 1].y.mean()
    assert (y1 - y0) * s.pixel_size == pytest.approx(0.445)
    lm = s.label_map_truth()
    assert set(np.unique(lm)) <= {0, 1, 2}
    assert (lm == 2).mean() == pytest.approx(0.445 / (256 * s.pixel_size), rel=0.15)


@pytest.mark.parametrize("angle", [0.0, 17.0, -31.0])
def test_uniform_strain_truth_and_positions(angle):
    u = fields.uniform(exx=0.01, eyy=-0.02, exy=0.005, rotation=0.003)
    s = layered_oxide((128, 128), angle_deg=angle, displacement=u, dose=None)
    st = s.strain_truth(step=16)
    for k, v in dict(exx=0.01, eyy=-0.02, exy=0.005, rotation=0.003).items():
        assert np.allclose(st[k], v, atol=1e-7)
    t = np.array([np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))])
    n = np.array([-t[1], t[0]])
    E = np.array([[0.01, 0.005], [0.005, -0.02]])
    assert np.allclose(st["e_tt"], t @ E @ t, atol=1e-7)
    assert np.allclose(st["e_nn"], n @ E @ n, atol=1e-7)
    assert np.allclose(st["e_nt"], t @ E @ n, atol=1e-7)
    # the columns moved by exactly u(reference position)
    flat = layered_oxide((128, 128), angle_deg=angle, dose=None)
    a = flat.columns[flat.columns.species == "TM"].set_index(["layer", "index"])
    b = s.columns[s.columns.species == "TM"].set_index(["layer", "index"])
    common = a.index.intersection(b.index)
    xr, yr = flat.pixel_to_nm(a.loc[common].x.to_numpy(), a.loc[common].y.to_numpy())
    ux, uy = u(xr, yr)
    xd, yd = s.pixel_to_nm(b.loc[common].x.to_numpy(), b.loc[common].y.to_numpy())
    assert np.allclose(xd - xr, ux, atol=1e-9) and np.allclose(yd - yr, uy, atol=1e-9)


def test_rotation_sign_is_counter_clockwise_as_displayed():
    # a CCW rotation as displayed (y down) moves a point on +x towards -y (up)
    u = fields.uniform(rotation=0.01)
    ux, uy = u(np.array(1.0), np.array(0.0))
    assert uy < 0 and abs(ux) < 1e-12


def test_bend_curvature_per_layer():
    s = layered_oxide((256, 256), bend_radius_nm=25.0, dose=None)
    tm = s.tm_columns()
    for k in (-3, 0, 4):
        pts = tm[tm.layer == k]
        x, y = s.pixel_to_nm(pts.x.to_numpy(), pts.y.to_numpy())
        # fit a circle: x^2 + y^2 + D x + E y + F = 0
        A = np.c_[x, y, np.ones_like(x)]
        sol, *_ = np.linalg.lstsq(A, -(x**2 + y**2), rcond=None)
        r = np.sqrt(sol[0] ** 2 / 4 + sol[1] ** 2 / 4 - sol[2])
        kappa = float(s.gaps.set_index("gap").curvature.loc[k])
        assert 1 / r == pytest.approx(kappa, rel=1e-6)
        # centre on the +n side (y down for angle 0): layer concave towards +n
        assert -sol[1] / 2 > y.mean()


def test_edge_dislocation_burgers_circuit():
    b = (0.244, 0.0)
    u = fields.edge_dislocation((0.06, 0.11), b)
    theta = np.linspace(0, 2 * np.pi, 2001)
    x = 0.06 + 0.8 * np.cos(theta)
    y = 0.11 + 0.8 * np.sin(theta)
    ux, uy = u(x, y)
    # closure failure of the displacement around the core = b (one jump at the cut)
    jumps_x = np.diff(ux)
    assert np.abs(jumps_x).max() == pytest.approx(0.244, rel=1e-3)


def test_ripple_curvature_matches_numeric():
    s = np.linspace(-3, 3, 601)
    k = fields.ripple_curvature(s, 0.2, 1.0)
    f = 0.2 * np.exp(-(s**2) / 2)
    f1 = np.gradient(f, s)
    f2 = np.gradient(f1, s)
    assert np.allclose(k[5:-5], (f2 / (1 + f1**2) ** 1.5)[5:-5], atol=2e-3)
    assert k[300] == pytest.approx(-0.2, rel=1e-9)


def test_poisson_noise_is_seeded():
    a = layered_oxide((64, 64), seed=3).image
    b = layered_oxide((64, 64), seed=3).image
    c = layered_oxide((64, 64), seed=4).image
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.dtype == np.float32


def test_localized_ripple_amplitude_per_layer():
    u = fields.ripple(0.1, 1.0, s0_nm=0.5, n0_nm=0.936, depth_nm=1.0)
    flat = layered_oxide((256, 256), dose=None, o_amplitude=0.0)
    bent = layered_oxide((256, 256), dose=None, o_amplitude=0.0, displacement=u)
    a = flat.tm_columns().set_index(["layer", "index"])
    b = bent.tm_columns().set_index(["layer", "index"])
    common = a.index.intersection(b.index)
    dy = (b.loc[common].y - a.loc[common].y).to_numpy() * flat.pixel_size
    s = a.loc[common].s.to_numpy()
    layer = np.asarray(common.get_level_values("layer"))
    a_k = fields.ripple_amplitude(layer * 0.468, 0.1, n0_nm=0.936, depth_nm=1.0)
    assert np.allclose(dy, a_k * np.exp(-((s - 0.5) ** 2) / 2), atol=1e-12)
    # layer 2 sits at n0: full amplitude, curvature -A/w^2 at s0
    assert fields.ripple_amplitude(2 * 0.468, 0.1, n0_nm=0.936, depth_nm=1.0) == pytest.approx(0.1)
    assert fields.ripple_curvature(0.5, 0.1, 1.0, 0.5) == pytest.approx(-0.1)


# ------------------------------------------------------------------ realistic cases (#14)
from stemstrain.synthetic import (  # noqa: E402
    CASES,
    bend_case,
    drift_case,
    grains_case,
    jpeg_case,
    kink_case,
    low_dose_case,
    realistic,
    ripple_case,
    surface_case,
)


def _layer_xy_nm(rec, k, species="TM"):
    c = rec.columns
    pts = c[(c.species == species) & (c.layer == k)]
    h, w = rec.shape
    return (
        (pts.x.to_numpy() - (w - 1) / 2) * rec.pixel_size,
        (pts.y.to_numpy() - (h - 1) / 2) * rec.pixel_size,
        pts,
    )


def _circle(x, y):
    A = np.c_[x, y, np.ones_like(x)]
    sol, *_ = np.linalg.lstsq(A, -(x**2 + y**2), rcond=None)
    cx, cy = -sol[0] / 2, -sol[1] / 2
    return cx, cy, np.sqrt(cx**2 + cy**2 - sol[2])


@pytest.mark.parametrize("radius", [15.0, 30.0])
def test_slip_bend_keeps_arc_length_on_every_layer(radius):
    rec = bend_case(radius, shape=(256, 256), pixel_size=0.07, angle_deg=5.0, dose=None)
    t, n = fields.layer_frame(5.0)
    for k in (-15, -4, 0, 6, 14):
        x, y, pts = _layer_xy_nm(rec, k)
        pts_order = np.argsort(pts["index"].to_numpy())
        x, y = x[pts_order], y[pts_order]
        cx, cy, r = _circle(x, y)
        # layer k is an arc of radius R - n_k about the centre R n
        assert r == pytest.approx(radius - k * 0.468, rel=1e-9)
        assert (cx, cy) == pytest.approx((radius * n[0], radius * n[1]), abs=1e-8)
        # consecutive columns: chord of an arc of length a (arc length kept, no strain)
        chord = np.hypot(np.diff(x), np.diff(y))
        assert np.allclose(chord, 2 * r * np.sin(0.244 / (2 * r)), rtol=1e-9)
    # the same field bent about its neutral plane would strain layer k by -n_k / R
    neutral = layered_oxide(
        (256, 256), pixel_size=0.07, angle_deg=5.0, bend_radius_nm=radius, dose=None
    )
    xn, yn, pn = _layer_xy_nm(neutral, 14)
    order = np.argsort(pn["index"].to_numpy())
    r14 = radius - 14 * 0.468
    chord_n = np.hypot(np.diff(xn[order]), np.diff(yn[order]))
    # arc per column a r / R (strain -n_k / R), not a
    assert np.allclose(chord_n, 2 * r14 * np.sin(0.244 / (2 * radius)), rtol=1e-9)
    # truth maps: no in-plane or normal strain, tilt = layer angle, curvature 1/r
    m = rec.truth["crystal"]
    assert np.nanmax(np.abs(rec.truth["e_tt"][m])) < 1e-6
    assert np.nanmax(np.abs(rec.truth["e_nn"][m])) < 1e-6
    assert np.nanmax(np.abs(rec.truth["rotation"])) > 10 / radius * 0.9


def test_slip_bend_registry_drift_matches_columns():
    rec = bend_case(25.0, shape=(300, 300), pixel_size=0.04, angle_deg=0.0, dose=None)
    reg = rec.truth["registry"]
    # registry measured from the columns of gap 0 near a tilt theta
    x0, y0, p0 = _layer_xy_nm(rec, 0)
    x1, y1, p1 = _layer_xy_nm(rec, 1)
    cx, cy = 0.0, 25.0
    th0 = np.arctan2(x0 - cx, cy - y0)
    th1 = np.arctan2(x1 - cx, cy - y1)
    r0 = np.hypot(x0 - cx, y0 - cy)
    for target in (-0.15, 0.0, 0.1):
        j1 = np.argmin(np.abs(th1 - target))
        # upper column's angle, in units of the lower layer's angular period a / r0
        frac = (th1[j1] - th0) * r0[0] / 0.244
        meas = np.mod(frac[np.argmin(np.abs(frac))] + 0.5, 1) - 0.5
        expect = np.mod(1 / 3 + 0.468 * th1[j1] / 0.244 + 0.5, 1) - 0.5
        assert meas == pytest.approx(expect, abs=0.02)
        # and the truth map says the same at the midpoint of the gap
        px = p1.x.to_numpy()[j1], p1.y.to_numpy()[j1]
        xm, ym = int(round(px[0])), int(round(px[1] - 0.234 / 0.04))
        assert np.mod(reg[ym, xm] - meas + 0.5, 1) - 0.5 == pytest.approx(0, abs=0.03)


def test_kink_turns_20_deg_and_both_sides_are_perfect_o3():
    rec = kink_case(shape=(400, 400), pixel_size=0.04, angle_deg=3.0, dose=None)
    c = rec.columns
    tm = c[c.species == "TM"]
    h, w = rec.shape
    x = (tm.x.to_numpy() - (w - 1) / 2) * rec.pixel_size
    y = (tm.y.to_numpy() - (h - 1) / 2) * rec.pixel_size
    from scipy.ndimage import distance_transform_edt

    side = np.where(distance_transform_edt(~rec.truth["band"]) * 0.04 > 0.4, rec.truth["side"], 0)
    xi = np.clip(np.round(tm.x.to_numpy()).astype(int), 0, w - 1)
    yi = np.clip(np.round(tm.y.to_numpy()).astype(int), 0, h - 1)
    s_of = side[yi, xi]
    for sd, ang in ((1, 3.0), (2, 23.0)):
        t, n = fields.layer_frame(ang)
        sel = (s_of == sd) & tm.inside.to_numpy()
        u = x[sel] * t[0] + y[sel] * t[1]
        v = x[sel] * n[0] + y[sel] * n[1]
        lay = tm.layer.to_numpy()[sel]
        # every layer is a straight line along t at spacing d: v = v0 + k d
        v0 = v - lay * 0.468
        assert np.ptp(v0) < 1e-9
        # in-plane positions: period a, registry +1/3 per layer (perfect O3)
        phase = np.mod((u - lay * 0.244 / 3) / 0.244, 1.0)
        phase = np.mod(phase - phase[0] + 0.5, 1) - 0.5
        assert np.abs(phase).max() < 1e-9
    # the turn happens along an arc 1.5 nm long (the band)
    assert rec.params["radius_nm"] * np.deg2rad(20) == pytest.approx(1.5)
    band_frac = rec.truth["band"].mean()
    assert band_frac == pytest.approx(1.5 * np.cos(np.deg2rad(10)) / (400 * 0.04), rel=0.15)
    assert np.nanmin(rec.truth["rotation"]) == pytest.approx(-np.deg2rad(20), abs=1e-6)


def test_drift_and_jitter_are_applied_to_the_scan():
    rec = drift_case(
        shape=(256, 256),
        pixel_size=0.04,
        dose=None,
        jitter_px=0.3,
        drift_x_px_per_row=0.05,
        stretch_y=0.02,
    )
    lat = rec.lattice
    spec = lat.columns
    det = rec.columns
    # y: the row where the beam passes the column centre; x: shifted by that row's offset
    c = 127.5
    assert np.allclose(det.y, c + (spec.y - c) / 1.02, atol=1e-9)
    offs = rec.params["row_offsets_px"]
    jit = offs - 0.05 * (np.arange(256) - c)
    assert 0.2 < jit.std() < 0.4
    inner = det.inside.to_numpy() & (det.species == "TM").to_numpy() & (det.y > 8) & (det.y < 247)
    dx = (spec.x - det.x).to_numpy()[inner]
    row = np.round(det.y.to_numpy()[inner]).astype(int)
    assert np.corrcoef(dx, offs[row])[0, 1] > 0.9
    # a column rendered alone through the same scan appears where the truth says
    from stemstrain.synthetic._realistic_cases import _render_scanned

    sig = 0.045 / 0.04
    y_rows = rec.params["row_y_px"]
    for i in np.flatnonzero(inner)[::60]:
        one = _render_scanned(
            spec.x.to_numpy()[i : i + 1],
            spec.y.to_numpy()[i : i + 1],
            np.ones(1),
            sig,
            (256, 256),
            offs,
            y_rows,
        )
        yy, xx = np.mgrid[0:256, 0:256]
        assert (one * xx).sum() / one.sum() == pytest.approx(det.x.iloc[i], abs=0.01)
        assert (one * yy).sum() / one.sum() == pytest.approx(det.y.iloc[i], abs=0.03)
    # truth strain: the step of e_tt = 1 % across s = 0 (specimen frame)
    s = rec.truth["s_nm"]
    assert np.median(rec.truth["e_tt"][s > 2]) == pytest.approx(0.01, abs=1e-6)
    assert np.median(np.abs(rec.truth["e_tt"][s < -2])) < 1e-5


def test_surface_masks_and_rock_salt_band():
    rec = surface_case(shape=(256, 256), pixel_size=0.04, dose=None)
    tr = rec.truth
    assert not (tr["crystal"] & (tr["vacuum"] | tr["carbon"])).any()
    assert (tr["crystal"] | tr["vacuum"] | tr["carbon"]).all()
    assert tr["vacuum"].mean() > 0.02 and tr["carbon"].mean() > 0.05
    c = rec.columns
    h, w = rec.shape
    xi = np.clip(np.round(c.x).astype(int), 0, w - 1)
    yi = np.clip(np.round(c.y).astype(int), 0, h - 1)
    d = tr["surface_distance_nm"][yi, xi]
    assert (d > -0.1).all()  # no column in the vacuum
    li = c[c.species == "Li"]
    dl = tr["surface_distance_nm"][yi[li.index], xi[li.index]]
    assert li.detectable[dl < 1.1].all() and not li.detectable[dl > 1.3].any()
    assert (tr["labels"][tr["rocksalt"]] == 3).all()
    # the image is darker in the vacuum than in the carbon than in the crystal
    img = rec.image
    assert img[tr["vacuum"]].mean() < img[tr["carbon"]].mean() < img[tr["crystal"]].mean()


def test_grains_35_deg_apart():
    rec = grains_case(shape=(256, 256), pixel_size=0.04, dose=None)
    c = rec.columns
    for g, ang in ((1, 5.0), (2, 40.0)):
        t, n = fields.layer_frame(ang)
        tm = c[(c.species == "TM") & (c.grain == g)]
        x = tm.x.to_numpy() * 0.04
        y = tm.y.to_numpy() * 0.04
        v = x * n[0] + y * n[1]
        ph = np.mod(v / 0.468 + 0.5, 1)
        assert np.ptp(ph) < 1e-6  # layers along t at spacing d in this grain
    assert set(np.unique(rec.truth["grain"])) == {1, 2}
    assert np.rad2deg(np.ptp(rec.truth["rotation"])) == pytest.approx(35.0)
    from scipy.spatial import cKDTree

    xy = c[c.species == "TM"][["x", "y"]].to_numpy() * 0.04
    d, _ = cKDTree(xy).query(xy, k=2)
    assert d[:, 1].min() >= 0.15 - 1e-9


def test_low_dose_thickness_gradient_counts():
    rec = low_dose_case(shape=(256, 256), pixel_size=0.04, seed=2)
    tm = rec.detectable_columns(margin_px=3)
    xi = np.round(tm.x).astype(int)
    yi = np.round(tm.y).astype(int)
    peak = rec.image[yi, xi]
    left, right = peak[tm.x < 64], peak[tm.x > 192]
    # ~40 counts x thickness (0.5 -> 1.5) + background; Poisson
    assert 15 < left.mean() < 35 and 45 < right.mean() < 75
    assert tm.amplitude[tm.x > 192].mean() / tm.amplitude[tm.x < 64].mean() == pytest.approx(
        right.mean() / left.mean(), rel=0.25
    )


def test_ripple_tilt_10_deg_and_jpeg_roundtrip():
    rec = ripple_case(shape=(256, 256), pixel_size=0.04, dose=None)
    assert rec.params["max_tilt_deg"] == pytest.approx(10.0, abs=0.3)
    tilt = np.rad2deg(np.nanmax(np.abs(rec.truth["rotation"])))
    # the layer direction F t of a normal displacement f(s): tan(tilt) = f'(s), largest
    # A / w exp(-1/2) for one ripple (the other, 10 nm away, adds < 0.01 deg)
    assert tilt == pytest.approx(np.rad2deg(np.arctan(0.58 / 2 * np.exp(-0.5))), abs=0.05)
    j = jpeg_case(shape=(160, 160), pixel_size=0.04, seed=1)
    assert j.image.dtype == np.float32 and j.image.max() <= 255 and j.image.min() >= 0
    assert np.array_equal(j.image, np.round(j.image))
    raw = ripple_case(shape=(160, 160), pixel_size=0.04, amplitude_nm=0.29, angle_deg=3.0, seed=1)
    scaled = (raw.image - j.params["intensity_offset"]) * j.params["intensity_scale"]
    err = np.abs(np.clip(scaled, 0, 255) - j.image)
    assert 0.5 < err.mean() < 20  # lossy, but the same image
    pd_testing = __import__("pandas").testing
    pd_testing.assert_frame_equal(j.columns, raw.columns)


def test_realistic_entry_point_every_case():
    for case in CASES:
        rec = realistic(case, shape=(64, 64), pixel_size=0.04, seed=1)
        assert rec.case == case and rec.image.shape == (64, 64)
        assert rec.truth["crystal"].shape == (64, 64)
        assert rec.columns.detectable.sum() > 20
        assert np.isfinite(rec.image).all()
    with pytest.raises(ValueError, match="case must be one of"):
        realistic("banana")
    with pytest.raises(TypeError, match="case must be a str"):
        realistic(3)
