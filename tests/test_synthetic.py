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
    # O3: the layer above is shifted by +1/3 period
    x0 = tm[tm.layer == 0].x.to_numpy()
    x1 = tm[tm.layer == 1].x.to_numpy()
    d = (x1[:, None] - x0[None, :]) * ps / 0.244
    frac = np.mod(d[np.abs(d).argmin(axis=1) == np.abs(d).argmin(axis=1)], 1.0)
    assert np.allclose(np.sort(np.unique(np.round(frac, 6)))[:1], [1 / 3], atol=1e-6)


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
