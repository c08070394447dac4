import numpy as np
import pytest

from stemstrain import NoLatticeError
from stemstrain.fourd import choose_basis, gauss_reduce
from stemstrain.fourd._lattice import fit_lattice_batch


def _hex(length=20.0, angle_deg=12.0):
    a = np.deg2rad(angle_deg)
    g1 = length * np.array([np.cos(a), np.sin(a)])
    g2 = length * np.array([np.cos(a + np.pi / 3), np.sin(a + np.pi / 3)])
    return g1, g2


def _peaks(g1, g2, origin, n=3, radius=None):
    hk = np.array([(h, k) for h in range(-n, n + 1) for k in range(-n, n + 1)], dtype=float)
    xy = origin + hk @ np.stack([g1, g2])
    if radius is not None:
        keep = np.linalg.norm(xy - origin, axis=1) <= radius
        xy, hk = xy[keep], hk[keep]
    inten = np.where((hk == 0).all(1), 10.0, 1.0)
    return xy, inten, hk


@pytest.mark.parametrize("angle", [0.0, 12.0, 47.0, -80.0])
def test_hexagonal_basis_is_primitive_and_reduced(angle):
    g1, g2 = _hex(20.0, angle)
    o = np.array([48.3, 47.1])
    xy, inten, _ = _peaks(g1, g2, o, radius=45)
    g, origin = choose_basis(xy, inten)
    np.testing.assert_allclose(origin, o, atol=1e-9)
    area = abs(np.linalg.det(g))
    assert area == pytest.approx(abs(np.cross(g1, g2)), rel=1e-9)  # primitive: not 2x, 3x
    l1, l2 = np.linalg.norm(g, axis=0)
    assert l1 == pytest.approx(20.0) and l2 == pytest.approx(20.0)
    cosang = g[:, 0] @ g[:, 1] / (l1 * l2)
    assert cosang == pytest.approx(0.5)  # 60 degrees
    assert np.linalg.det(g) > 0


def test_hexagonal_basis_not_fooled_by_missing_reflections():
    # kinematically forbidden-looking pattern: every other reflection on one row missing,
    # plus a spurious weak peak; the basis must still index the lattice primitively
    g1, g2 = _hex(18.0, 5.0)
    o = np.array([64.0, 64.0])
    xy, inten, hk = _peaks(g1, g2, o, radius=60)
    drop = (hk[:, 1] == 0) & (hk[:, 0] % 2 == 1)
    xy, inten = xy[~drop], inten[~drop]
    xy = np.vstack([xy, o + [7.3, -3.1]])
    inten = np.append(inten, 0.2)
    g, _ = choose_basis(xy, inten, min_length_px=8.0)
    assert abs(np.linalg.det(g)) == pytest.approx(abs(np.cross(g1, g2)), rel=1e-6)


def test_origin_when_a_bragg_disk_is_brighter_than_the_direct_beam():
    g1, g2 = _hex(20.0, 12.0)
    o = np.array([48.3, 47.1])
    xy, inten, hk = _peaks(g1, g2, o, radius=45)
    inten = inten.copy()
    inten[(hk == [1, 0]).all(1)] = 30.0  # strong (10) reflection (dynamical diffraction)
    g, origin = choose_basis(xy, inten)
    np.testing.assert_allclose(origin, o, atol=1e-9)
    assert abs(np.linalg.det(g)) == pytest.approx(abs(np.cross(g1, g2)), rel=1e-9)


def test_rectangular_basis():
    g1, g2 = np.array([10.0, 0.0]), np.array([0.0, 13.5])
    xy, inten, _ = _peaks(g1, g2, np.array([32.0, 30.0]), radius=40)
    g, _ = choose_basis(xy, inten)
    np.testing.assert_allclose(g, [[10.0, 0.0], [0.0, 13.5]], atol=1e-9)


def test_gauss_reduce_deterministic_for_equivalent_hex_bases():
    g1, g2 = _hex(21.0, 12.0)
    ref = np.array(gauss_reduce(g1, g2))
    for p, q in [(g1 + g2, g2), (-g1, g1 + g2), (g2 - g1, -g1), (g1 + 5 * g2, g2)]:
        np.testing.assert_allclose(np.array(gauss_reduce(p, q)), ref, atol=1e-9)


def test_no_lattice_errors():
    with pytest.raises(NoLatticeError, match="no disks found"):
        choose_basis(np.array([[10.0, 10.0], [20.0, 10.0]]))
    four = np.array([[30.0, 30.0], [40.0, 30.0], [30.0, 41.0], [40.0, 41.0]])
    with pytest.raises(NoLatticeError, match="only 4 of the 4 detected disks"):
        choose_basis(four, np.array([5.0, 1, 1, 1]))
    line = np.array([[10.0 * i, 5.0] for i in range(6)])
    with pytest.raises(NoLatticeError, match="one line"):
        choose_basis(line)


def test_fit_rejects_outliers_and_recovers_exact_lattice():
    g1, g2 = _hex(20.0, 12.0)
    g_true = np.stack([g1, g2], axis=1) * 1.01
    o = np.array([47.5, 48.2])
    xy, inten, _ = _peaks(g_true[:, 0], g_true[:, 1], o, radius=45)
    xy = np.vstack([xy, o + [3.0, 9.0], o + [-25.0, 1.0]])  # two spurious peaks
    inten = np.append(inten, [5.0, 5.0])
    valid = np.ones(len(xy), dtype=bool)
    fit = fit_lattice_batch(np, xy[None], inten[None], valid[None], np.stack([g1, g2], 1), o + 1.5)
    np.testing.assert_allclose(fit["g"][0], g_true, atol=1e-9)
    np.testing.assert_allclose(fit["origin"][0], o, atol=1e-9)
    assert fit["n_peaks"][0] == len(xy) - 2
    assert fit["ok"][0]


def test_fit_too_few_peaks_is_not_ok():
    g = np.diag([10.0, 10.0])
    xy = np.array([[[30.0, 30.0], [40.0, 30.0], [0.0, 0.0]]])
    valid = np.array([[True, True, False]])
    fit = fit_lattice_batch(np, xy, np.ones((1, 3)), valid, g, np.array([30.0, 30.0]))
    assert not fit["ok"][0]
