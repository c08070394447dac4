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
