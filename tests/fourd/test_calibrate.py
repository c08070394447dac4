import numpy as np
import pytest

from stemstrain import InputShapeError, StemstrainError
from stemstrain.fourd import detector_to_scan_matrix, measure_detector_rotation


def _deflection(theta_deg, flip, noise=0.0, seed=0, shape=(40, 48)):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
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


@pytest.mark.parametrize("theta,flip", [(0.0, False), (23.0, False), (-60.0, True),
                                        (135.0, True), (200.0, False)])
def test_recovers_rotation_and_flip(theta, flip):
    out = measure_detector_rotation(_deflection(theta, flip, noise=2e-3))
    assert out["flip"] == flip
    d = (out["rotation_deg"] - theta) % 180.0
    assert min(d, 180.0 - d) < 1.0
    assert out["curl_fraction"] < 0.05


def test_strain_invariant_to_the_180_degree_ambiguity():
    m1 = detector_to_scan_matrix(20.0, False)
    m2 = detector_to_scan_matrix(200.0, False)
    g_ref = np.array([[10.0, 3.0], [-2.0, 11.0]])
    g = g_ref @ np.array([[1.01, 0.002], [-0.003, 0.995]])
    d1 = (m1 @ g_ref) @ np.linalg.inv(m1 @ g)
    d2 = (m2 @ g_ref) @ np.linalg.inv(m2 @ g)
    np.testing.assert_allclose(d1, d2, atol=1e-12)


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
    np.testing.assert_allclose(detector_to_scan_matrix(90.0, True), [[-1, 0], [0, 1]],
                               atol=1e-15)
    np.testing.assert_allclose(detector_to_scan_matrix(0.0, True), [[0, 1], [1, 0]])
    # ellipse along x (theta 0): y is stretched by a/b, x unchanged
    np.testing.assert_allclose(detector_to_scan_matrix(ellipse=(1.0, 0.8, 0.0)),
                               [[1, 0], [0, 1.25]], atol=1e-15)
    # ellipse with its long axis along y (theta 90): x is stretched
    np.testing.assert_allclose(detector_to_scan_matrix(ellipse=(1.0, 0.5, 90.0)),
                               [[2, 0], [0, 1]], atol=1e-15)
    # 45°: along (1, 1)/√2 unchanged, along (−1, 1)/√2 scaled by a/b = 2
    m = detector_to_scan_matrix(ellipse=(2.0, 1.0, 45.0))
    np.testing.assert_allclose(m, [[1.5, -0.5], [-0.5, 1.5]], atol=1e-15)
    # the ellipse is removed first, then flip and rotation
    np.testing.assert_allclose(detector_to_scan_matrix(90.0, True, (1.0, 0.8, 0.0)),
                               np.array([[-1, 0], [0, 1]]) @ np.diag([1, 1.25]), atol=1e-15)
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
