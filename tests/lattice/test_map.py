"""lattice_map against analytic truth: local g, crystalline mask, grains, kinks, anisotropy."""

from __future__ import annotations

import numpy as np
import pytest
from latticemap_helpers import column_image, square_basis

import stemstrain as ss
from stemstrain.errors import StemstrainError
from stemstrain.synthetic import fields, layered_oxide

PX = 0.02


def _angle_err_deg(g, truth):
    """Angle between g and +-truth (..., 2), degrees."""
    c = np.abs((g * truth).sum(-1)) / (np.linalg.norm(g, axis=-1) * np.linalg.norm(truth, axis=-1))
    return np.degrees(np.arccos(np.clip(c, 0, 1)))


def _rel_err(g, truth):
    return np.abs(np.linalg.norm(g, axis=-1) / np.linalg.norm(truth, axis=-1) - 1)


def _layered_truth(angle_deg, c=0.468, a=0.244):
    t, n = fields.layer_frame(angle_deg)
    return n / c, t / a - n / (3 * c)  # (003) normal and the O3 in-plane basis vector


@pytest.fixture(scope="module")
def o3_map():
    lat = layered_oxide((384, 384), pixel_size=PX, angle_deg=20.0, dose=200.0, seed=1)
    return lat, ss.lattice_map(lat.image, PX)


def test_layered_oxide_local_g_within_1pct_and_half_degree(o3_map):
    _, m = o3_map
    gn, gt = _layered_truth(20.0)
    assert m.crystalline_fraction == 1.0 and m.grains.max() == 1
    assert m.layered and m.normal_index == 0
    g1 = m.g[..., 0, :]
    assert np.max(_rel_err(g1, gn)) < 0.01
    assert np.max(_angle_err_deg(g1, gn)) < 0.5
    # g2 is the in-plane basis vector up to a multiple of the normal: index it
    g2 = m.g[..., 1, :]
    k = np.rint(((g2 - gt) @ gn) / (gn @ gn))
    cands = np.stack(
        [gt + k[..., None] * gn, -gt + np.rint(((g2 + gt) @ gn) / (gn @ gn))[..., None] * gn]
    )
    err = np.minimum(np.linalg.norm(g2 - cands[0], axis=-1), np.linalg.norm(g2 - cands[1], axis=-1))
    assert np.max(err / np.linalg.norm(g2, axis=-1)) < 0.01
    assert np.nanmedian(m.spacings_nm[..., 0]) == pytest.approx(0.468, rel=0.003)
    assert m.g[..., 0, 1].min() > 0  # layer normal n_y > 0
    assert np.isnan(m.anisotropy.ratio)  # an O3 projection is not an isotropic net
    assert (m.confidence > 0.5).all()


def test_vacuum_mask_95pct_correct():
    def vac(x, y):
        return y > 0.25 * x + 1.0  # a surface across the field (nm, image centred)

    lat = layered_oxide((384, 384), pixel_size=PX, angle_deg=5.0, vacuum=vac, dose=200.0)
    m = ss.lattice_map(lat.image, PX)
    yy, xx = np.meshgrid(m.grid_y, m.grid_x, indexing="ij")
    xn, yn = lat.pixel_to_nm(xx, yy)
    # the surface's distance to the window centre, in window sizes
    dist = (yn - 0.25 * xn - 1.0) / np.hypot(1, 0.25) / (m.window_px * PX)
    truth = dist < 0
    clear = np.abs(dist) > 0.25  # windows that are not cut by the surface
    assert (m.crystalline[clear] == truth[clear]).mean() >= 0.95
    assert (m.crystalline == truth).mean() >= 0.85
    pix = m.to_pixels("confidence")
    assert np.isnan(pix[-5:, :5]).all()  # vacuum corner is NaN
    gf = m.g_field(0)
    assert gf.shape == (384, 384, 2) and np.isnan(gf[-5:, :5]).all()
    assert np.isfinite(gf[5:20, -20:]).all()


def test_two_grains_35_degrees_apart():
    b1, b2 = square_basis(0.39, 10.0), square_basis(0.39, 45.0)
    img = column_image((512, 512), b1, PX, region=lambda x, y: x < 256, dose=200) + column_image(
        (512, 512), b2, PX, region=lambda x, y: x >= 256, dose=200
    )
    m = ss.lattice_map(img, PX)
    assert int(m.grains.max()) == 2
    gt = m.grain_table
    assert list(gt.lattice) == ["square", "square"]
    x = m.grid_x[None, :] * np.ones_like(m.grid_y[:, None])
    left = m.grains == m.grains[m.grid_y.size // 2, 0]
    right = m.grains == m.grains[m.grid_y.size // 2, -1]
    assert m.grains[left][0] != m.grains[right][0]
    clear = np.abs(x - 256) > m.window_px / 4  # windows not cut in half by the boundary
    assert (x[left & clear] < 256).all() and (x[right & clear] > 256).all()
    inside = np.abs(x - 256) > m.window_px / 2
    assert (m.grains[inside] > 0).mean() >= 0.95
    for sel, b in ((left & inside, b1), (right & inside, b2)):
        for g in m.g[sel].reshape(-1, 2):
            err = min(np.linalg.norm(g - s * v) for v in b for s in (1, -1))
            assert err / np.linalg.norm(g) < 0.01
    orient = np.degrees(np.array([np.median(m.orientation[left]), np.median(m.orientation[right])]))
    diff = np.abs((orient[1] - orient[0] + 45) % 90 - 45)  # square net: 90 deg symmetry
    assert diff == pytest.approx(35.0, abs=0.5)


def test_kink_of_two_rotated_halves_gives_a_20_degree_jump():
    a = dict(pixel_size=PX, dose=200.0, seed=2)
    top = layered_oxide((512, 512), angle_deg=0.0, **a).image
    bottom = layered_oxide((512, 512), angle_deg=20.0, **a).image
    img = np.where(np.arange(512)[:, None] < 256, top, bottom)
    m = ss.lattice_map(img, PX)
    yy = m.grid_y[:, None] * np.ones_like(m.grid_x[None, :])
    upper = (yy < 256 - m.window_px / 2) & m.crystalline
    lower = (yy > 256 + m.window_px / 2) & m.crystalline
    assert upper.mean() + lower.mean() > 0.5
    assert len(set(m.grains[upper])) == 1 and len(set(m.grains[lower])) == 1
    assert m.grains[upper][0] != m.grains[lower][0]
    jump = np.degrees(np.median(m.orientation[upper]) - np.median(m.orientation[lower]))
    assert jump == pytest.approx(20.0, abs=0.5)
    assert m.layered


def test_square_lattice_with_4pct_xy_scale_difference():
    img = column_image((512, 512), square_basis(0.39, 20.0, sx=1.04), PX, dose=300)
    with pytest.warns(UserWarning, match="x/y scale ratio 1.04"):
        m = ss.lattice_map(img, PX)
    assert m.anisotropy.lattice == "square"
    assert m.anisotropy.ratio == pytest.approx(1.04, abs=0.005)
    assert 0 < m.anisotropy.sigma < 0.005
    assert "x/y scale ratio" in " ".join(m.messages)


def test_isotropic_square_lattice_reports_no_anisotropy_and_false_disables_it():
    img = column_image((384, 384), square_basis(0.39, 33.0), PX, dose=300)
    m = ss.lattice_map(img, PX)
    assert m.anisotropy.ratio == pytest.approx(1.0, abs=0.003)
    assert not m.layered
    off = ss.lattice_map(img, PX, isotropic=False)
    assert np.isnan(off.anisotropy.ratio) and off.anisotropy.lattice == "none"


@pytest.mark.parametrize("kind", ["vacuum", "amorphous"])
def test_no_lattice_in_vacuum_or_amorphous_carbon(kind):
    from scipy import ndimage as ndi

    rng = np.random.default_rng(4)
    if kind == "vacuum":
        img = rng.poisson(5.0, (384, 384)).astype(float)
    else:  # amorphous: speckle with a ring-like spectrum (0.1-0.3 nm correlations) + counts
        speckle = ndi.gaussian_filter(rng.normal(size=(384, 384)), 3.0)
        speckle -= ndi.gaussian_filter(speckle, 8.0)
        img = rng.poisson(np.clip(50 + 400 * speckle, 0, None)).astype(float)
    with pytest.warns(UserWarning, match="no crystalline window"):
        m = ss.lattice_map(img, PX, window_nm=64 * PX)
    assert m.crystalline_fraction <= 0.02
    assert np.isnan(m.g).all() or np.isnan(m.g[~m.crystalline]).all()


def test_bend_stays_one_grain_with_continuous_g():
    lat = layered_oxide((384, 384), pixel_size=PX, angle_deg=0.0, bend_radius_nm=40.0, dose=200.0)
    m = ss.lattice_map(lat.image, PX)
    assert int(m.grains.max()) == 1
    # the layer normal turns with x: orientation spans ~ field / R
    o = np.degrees(m.orientation[m.crystalline])
    span = np.degrees(384 * PX / 40.0)
    assert (o.max() - o.min()) == pytest.approx(span, rel=0.3)
    steps = np.abs(np.diff(m.g[..., 0, :], axis=1)).max()
    assert steps < 0.1 * np.linalg.norm(m.g[0, 0, 0])  # no sign flips or swaps


def test_fringes_only_are_crystalline_with_one_g():
    yy, xx = np.mgrid[0:384, 0:384]
    g = np.array([1 / 0.235 * np.cos(0.3), 1 / 0.235 * np.sin(0.3)]) * PX
    img = 100 + 30 * np.cos(2 * np.pi * (g[0] * xx + g[1] * yy))
    img = np.random.default_rng(0).poisson(img).astype(float)
    m = ss.lattice_map(img, PX, window_nm=64 * PX)
    assert m.crystalline.mean() > 0.9 and not m.lattice_2d.any()
    assert set(m.grain_table.lattice) == {"fringes"}
    d = np.nanmedian(m.spacings_nm[..., 0])
    assert d == pytest.approx(0.235, rel=0.01)
    assert np.isnan(m.g[..., 1, :]).all()


def test_result_save_plot_signal_and_pixel_views(o3_map, tmp_path):
    lat, m = o3_map
    path = m.save(tmp_path / "r.h5")
    back = ss.read_results(path)["lattice_map"]
    np.testing.assert_allclose(back["g"], m.g)
    assert list(back["grain_table"].grain) == list(m.grain_table.grain)
    assert back["attrs"]["window_px"] == m.window_px
    fig = m.plot(image=lat.image)
    assert len(fig.axes) >= 4
    sig = m.to_signal()
    assert sig.data.shape[1:] == m.crystalline.shape
    assert sig.axes_manager.signal_axes[0].scale == pytest.approx(m.step_px * PX)
    g = m.local_g(np.array([100.0, 200.0]), np.array([150.0, 250.0]))
    assert g.shape == (2, 2, 2) and np.isfinite(g).all()
    gp = m.g_field(unit="cycles/px")
    assert gp.shape == (384, 384, 2, 2)
    np.testing.assert_allclose(
        np.nanmedian(gp[..., 0, :].reshape(-1, 2), 0),
        np.nanmedian(m.g_px[..., 0, :].reshape(-1, 2), 0),
        rtol=1e-3,
    )
    o = m.to_pixels("orientation")
    assert o.shape == (384, 384) and np.nanmax(np.abs(o - np.median(m.orientation))) < 0.02


def test_float32_and_float64_agree():
    lat = layered_oxide((256, 256), pixel_size=PX, angle_deg=7.0, dose=None)
    m32 = ss.lattice_map(lat.image.astype(np.float32), PX)
    m64 = ss.lattice_map(lat.image.astype(np.float64), PX)
    np.testing.assert_allclose(m32.g, m64.g, rtol=1e-4, atol=1e-6)


def test_uncalibrated_image_gives_pixels():
    lat = layered_oxide((256, 256), pixel_size=PX, angle_deg=0.0, dose=None)
    m = ss.lattice_map(lat.image)
    assert m.pixel_size is None
    assert np.nanmedian(m.spacings_nm[..., 0]) == pytest.approx(0.468 / PX, rel=0.005)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window_nm": -1.0}, "window_nm"),
        ({"window_nm": 100.0}, "window_nm"),
        ({"step_nm": 0}, "step_nm"),
        ({"d_range_nm": (3.0, 0.1)}, "d_range_nm"),
        ({"d_range_nm": "wide"}, "d_range_nm"),
        ({"misorientation_deg": 45.0}, "misorientation_deg"),
        ({"backend": "tpu"}, "backend"),
    ],
)
def test_bad_options_raise(kwargs, match):
    img = np.zeros((128, 128))
    with pytest.raises(StemstrainError, match=match):
        ss.lattice_map(img, PX, **kwargs)


def test_bad_inputs_raise():
    with pytest.raises(StemstrainError, match="at least 32"):
        ss.lattice_map(np.zeros((16, 64)), PX)
    with pytest.raises(StemstrainError, match="2-D"):
        ss.lattice_map(np.zeros((4, 64, 64)), PX)
    with pytest.raises(StemstrainError, match="image"):
        ss.lattice_map(None, PX)
    bad = np.ones((64, 64))
    bad[3, 4] = np.nan
    with pytest.raises(StemstrainError, match="NaN"):
        ss.lattice_map(bad, PX)
    with pytest.raises(StemstrainError, match="real numbers"):
        ss.lattice_map(np.ones((64, 64), complex), PX)
    with pytest.warns(UserWarning, match="no crystalline"):
        flat = ss.lattice_map(np.full((64, 64), 7, dtype=np.uint16), PX)
    assert flat.crystalline_fraction == 0 and len(flat.grain_table) == 0
    m = ss.lattice_map(layered_oxide((128, 128), dose=None).image, PX)
    with pytest.raises(StemstrainError, match="name"):
        m.to_pixels("strain")
    with pytest.raises(StemstrainError, match="unit"):
        m.g_field(unit="1/A")
