import numpy as np
import pytest

import stemstrain as ss
from stemstrain import InputShapeError, StemstrainError
from stemstrain.fourd import DetectorGeometry, detector_to_scan_matrix, measure_detector_rotation


def _deflection(theta_deg, flip, noise=0.0, seed=0, shape=(40, 48)):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    phi = np.zeros(shape)
    for _ in range(25):  # projected potential: random Gaussian "particles"
        x0, y0 = rng.uniform(0, shape[1]), rng.uniform(0, shape[0])
        phi += rng.uniform(0.5, 2) * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / 18.0)
    gy, gx = np.gradient(phi)
    g_scan = np.stack([gx, gy], axis=-1)
    m = detector_to_scan_matrix(theta_deg, flip)  # scan <- detector
    c_det = g_scan @ np.linalg.inv(m).T
    c_det += np.stack([0.02 * xx + 30.0, -0.01 * yy + 31.0], axis=-1)  # descan plane
    return c_det + noise * rng.standard_normal(c_det.shape)


@pytest.mark.parametrize(
    "theta,flip", [(0.0, False), (23.0, False), (-60.0, True), (135.0, True), (200.0, False)]
)
def test_recovers_rotation_and_flip(theta, flip):
    out = measure_detector_rotation(_deflection(theta, flip, noise=2e-3))
    assert out["flip"] == flip
    d = (out["rotation_deg"] - theta) % 180.0
    assert min(d, 180.0 - d) < 1.0
    assert out["curl_fraction"] < 0.05


def test_strain_invariant_to_the_180_degree_ambiguity(small_data):
    m1 = detector_to_scan_matrix(20.0, False)
    m2 = detector_to_scan_matrix(200.0, False)
    np.testing.assert_allclose(m2, -m1, atol=1e-12)  # the two readings differ by a sign only
    g_ref = np.array([[10.0, 3.0], [-2.0, 11.0]])
    g = g_ref @ np.array([[1.01, 0.002], [-0.003, 0.995]])
    d1 = (m1 @ g_ref) @ np.linalg.inv(m1 @ g)
    d2 = (m2 @ g_ref) @ np.linalg.inv(m2 @ g)
    np.testing.assert_allclose(d1, d2, atol=1e-12)
    # through fourd_strain: 20 and 200 degrees give the same maps, 0 degrees does not
    cube, probe, truth = small_data
    kw = {"reference": truth["reference_mask"], "progress": False}
    r20, r200, r0 = (
        ss.fourd_strain(cube, probe, geometry=DetectorGeometry(detector_rotation_deg=a), **kw)
        for a in (20.0, 200.0, 0.0)
    )
    for k in ("exx", "eyy", "exy", "rotation"):
        np.testing.assert_allclose(getattr(r200, k), getattr(r20, k), atol=1e-9, err_msg=k)
    assert np.nanmax(np.abs(r20.exx - r0.exx)) > 1e-3  # the rotation is applied at all


def test_errors():
    with pytest.raises(InputShapeError, match="scan_y, scan_x, 2"):
        measure_detector_rotation(np.zeros((5, 5)))
    with pytest.raises(StemstrainError, match="finite positions"):
        measure_detector_rotation(np.full((4, 4, 2), np.nan))
    yy, xx = np.mgrid[0:6, 0:6].astype(float)
    plane = np.stack([0.1 * xx, 0.2 * yy], axis=-1)
    with pytest.raises(StemstrainError, match="no deflection"):
        measure_detector_rotation(plane)


def test_detector_to_scan_matrix_against_hand_computed_matrices():
    np.testing.assert_allclose(detector_to_scan_matrix(), np.eye(2), atol=1e-15)
    # 90° CCW: x → y, y → −x
    np.testing.assert_allclose(detector_to_scan_matrix(90.0), [[0, -1], [1, 0]], atol=1e-15)
    c, s = np.cos(np.deg2rad(30.0)), np.sin(np.deg2rad(30.0))
    np.testing.assert_allclose(detector_to_scan_matrix(30.0), [[c, -s], [s, c]], atol=1e-15)
    # flip swaps x and y before rotating: R(90) @ [[0, 1], [1, 0]] = [[-1, 0], [0, 1]]
    np.testing.assert_allclose(detector_to_scan_matrix(90.0, True), [[-1, 0], [0, 1]], atol=1e-15)
    np.testing.assert_allclose(detector_to_scan_matrix(0.0, True), [[0, 1], [1, 0]])
    # ellipse along x (theta 0): y is stretched by a/b, x unchanged
    np.testing.assert_allclose(
        detector_to_scan_matrix(ellipse=(1.0, 0.8, 0.0)), [[1, 0], [0, 1.25]], atol=1e-15
    )
    # ellipse with its long axis along y (theta 90): x is stretched
    np.testing.assert_allclose(
        detector_to_scan_matrix(ellipse=(1.0, 0.5, 90.0)), [[2, 0], [0, 1]], atol=1e-15
    )
    # 45°: along (1, 1)/√2 unchanged, along (−1, 1)/√2 scaled by a/b = 2
    m = detector_to_scan_matrix(ellipse=(2.0, 1.0, 45.0))
    np.testing.assert_allclose(m, [[1.5, -0.5], [-0.5, 1.5]], atol=1e-15)
    # the ellipse is removed first, then flip and rotation
    np.testing.assert_allclose(
        detector_to_scan_matrix(90.0, True, (1.0, 0.8, 0.0)),
        np.array([[-1, 0], [0, 1]]) @ np.diag([1, 1.25]),
        atol=1e-15,
    )
    # a point on the distorted ellipse maps back onto the circle of radius a
    t = np.linspace(0, 2 * np.pi, 7)
    th = np.deg2rad(25.0)
    u, v = np.array([np.cos(th), np.sin(th)]), np.array([-np.sin(th), np.cos(th)])
    pts = 3.0 * np.cos(t)[:, None] * u + 2.0 * np.sin(t)[:, None] * v
    r = np.hypot(*(detector_to_scan_matrix(ellipse=(3.0, 2.0, 25.0)) @ pts.T))
    np.testing.assert_allclose(r, 3.0, rtol=1e-12)
    with pytest.raises(StemstrainError, match="ellipse must be"):
        detector_to_scan_matrix(ellipse=(1.0, 2.0))
    with pytest.raises(StemstrainError, match="semi-axes must be > 0"):
        detector_to_scan_matrix(ellipse=(1.0, 0.0, 3.0))


def _spot_pattern(
    lattice, *, px=0.05, ellipse=(1.0, 0.92, 110.0), angle=20.0, shape=(256, 256), seed=0
):
    """Gaussian spots of a 2-D reciprocal lattice (1/nm) through a known elliptical stretch."""
    g1, g2, gam = lattice
    t = np.deg2rad(gam)
    basis = np.array([[g1, g2 * np.cos(t)], [0.0, g2 * np.sin(t)]])
    r = np.deg2rad(angle)
    rot = np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
    a, b, th = ellipse
    c, s = np.cos(np.deg2rad(th)), np.sin(np.deg2rad(th))
    e = np.array([[c, -s], [s, c]]) @ np.diag([1.0, b / a]) @ np.array([[c, s], [-s, c]])
    hk = np.stack(np.meshgrid(np.arange(-8, 9), np.arange(-8, 9)), -1).reshape(-1, 2)
    pos = (e @ rot @ basis @ hk.T).T / px + np.array([130.3, 126.8])
    inside = (
        (pos[:, 0] > 6) & (pos[:, 0] < shape[1] - 7) & (pos[:, 1] > 6) & (pos[:, 1] < shape[0] - 7)
    )
    pos, hk = pos[inside], hk[inside]
    amp = np.where((hk == 0).all(1), 50.0, 5.0 * np.exp(-0.02 * (hk**2).sum(1)))
    off = np.arange(-6, 7)
    oy, ox = np.meshgrid(off, off, indexing="ij")
    px = np.floor(pos[:, 0])[:, None, None].astype(int) + ox  # (n, 13, 13) local windows
    py = np.floor(pos[:, 1])[:, None, None].astype(int) + oy
    val = amp[:, None, None] * np.exp(
        -((px - pos[:, 0, None, None]) ** 2 + (py - pos[:, 1, None, None]) ** 2) / (2 * 1.5**2)
    )
    img = np.zeros(shape)
    np.add.at(img, (py, px), val)
    return img + np.random.default_rng(seed).normal(0, 0.01, shape)


def test_calibrate_detector_recovers_a_known_ellipse():
    lattice = (2.5233, 2.7056, 90.0)
    img = _spot_pattern(lattice)
    geo, rep = ss.calibrate_detector(img, lattice=lattice, full_output=True)
    a, b, theta = geo.ellipse
    assert b / a == pytest.approx(0.92, abs=0.002)
    d = (theta - 110.0) % 180.0
    assert min(d, 180 - d) < 1.0
    assert geo.reciprocal_pixel_size == pytest.approx(0.05, rel=2e-3)
    np.testing.assert_allclose(rep["corrected_lengths"], lattice[:2], rtol=1e-3)
    assert rep["corrected_angle_deg"] == pytest.approx(90.0, abs=0.2)
    assert rep["rms_px"] < 0.1
    # fitted on the first ring only, the outer spots validate it
    geo1, rep1 = ss.calibrate_detector(img, lattice=lattice, fit_order=1, full_output=True)
    assert rep1["held_out_median_rel_error"] < 2e-3
    # the geometry corrects patterns for fourd_strain: a round circle stays round
    assert DetectorGeometry(ellipse=geo.ellipse).matrix().shape == (2, 2)
    # negative control: without the stretch the ratio is 1
    geo0 = ss.calibrate_detector(_spot_pattern(lattice, ellipse=(1, 1, 0)), lattice=lattice)
    assert geo0.ellipse[1] / geo0.ellipse[0] == pytest.approx(1.0, abs=0.002)
    # a square standard has no assignment ambiguity, whatever the ellipse direction
    sq = (2.6, 2.6, 90.0)
    geo_sq = ss.calibrate_detector(_spot_pattern(sq, ellipse=(1.0, 0.93, 30.0)), lattice=sq)
    assert geo_sq.ellipse[1] / geo_sq.ellipse[0] == pytest.approx(0.93, abs=0.002)
    # ellipticity ~ the rectangular lattice's own anisotropy: ambiguous, and it says so
    with pytest.warns(UserWarning, match="nearly the same distortion"):
        ss.calibrate_detector(_spot_pattern(lattice, ellipse=(1.0, 0.92, 30.0)), lattice=lattice)


def test_calibrate_detector_errors():
    with pytest.raises(InputShapeError, match="2-D"):
        ss.calibrate_detector(np.zeros((2, 8, 8)), lattice=(1, 1, 90))
    with pytest.raises(StemstrainError, match="lattice must be"):
        ss.calibrate_detector(np.zeros((64, 64)), lattice=(1, 1))


@pytest.mark.shared_data
def test_calibrate_detector_on_real_moo3(shared_data_dir):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # uncalibrated tif
        sig = ss.load(shared_data_dir / "pyxem-demos__data03__moo3_20cm.tif")
    a, c = 0.3963, 0.3696
    geo, rep = ss.calibrate_detector(
        sig, lattice=(1 / a, 1 / c, 90.0), fit_order=1, full_output=True
    )
    ratio = geo.ellipse[1] / geo.ellipse[0]
    assert 0.90 < ratio < 0.95  # ~8 % ellipticity
    # the fit on all spots gives the same ellipse within 1 %
    geo_all = ss.calibrate_detector(sig, lattice=(1 / a, 1 / c, 90.0))
    assert geo_all.ellipse[1] / geo_all.ellipse[0] == pytest.approx(ratio, abs=0.01)
    # (101)/(10-1): measured spots after the correction, 86.0° apart
    xy, o = np.array(rep["spots_xy"]), np.array(rep["origin_px"])
    q = (geo.matrix() @ (xy - o).T).T * geo.reciprocal_pixel_size
    r = np.linalg.norm(q, axis=1)
    fam = q[np.abs(r - np.hypot(1 / a, 1 / c)) < 0.15]
    th = np.mod(np.degrees(np.arctan2(fam[:, 1], fam[:, 0])), 180.0)
    big = np.ptp(th)
    sep = min(big, 180 - big) if len(fam) >= 2 else np.nan
    groups = [th[np.abs(th - th.min()) < 10], th[np.abs(th - th.min()) >= 10]]
    d = abs(np.mean(groups[1]) - np.mean(groups[0]))
    assert min(d, 180 - d) == pytest.approx(86.0, abs=0.5), (th, sep)


@pytest.mark.shared_data
def test_calibrate_detector_warns_on_a_ring_pattern(shared_data_dir):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        au = ss.load(shared_data_dir / "pyxem-demos__data03__au_xgrating_100kX.hspy")
    with pytest.warns(UserWarning, match="fit the lattice poorly"):
        ss.calibrate_detector(au, lattice=(1 / 0.2355, 1 / 0.2355, 70.53))
