"""stemstrain._strain: the strain conventions against hand-computed cases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from stemstrain._strain import (
    StrainMaps,
    lagrangian_from_eulerian,
    layer_normal,
    layer_tangent,
    polar_decomposition,
    principal_strain,
    strain_from_gradient,
    to_layer_frame,
)

S2 = np.sqrt(0.5)


@pytest.mark.parametrize(
    ("g", "n"),
    [((1, -1), (-S2, S2)), ((-2, 0), (1, 0)), ((0, -3), (0, 1)), ((0.6, 0.8), (0.6, 0.8))],
)
def test_layer_normal_sign(g, n):
    np.testing.assert_allclose(layer_normal(g), n, atol=1e-12)


def test_layer_tangent_and_bad_normal():
    np.testing.assert_allclose(layer_tangent((0, 1)), (1, 0))
    np.testing.assert_allclose(layer_tangent((1, 0)), (0, -1))
    for bad in ((0, 0), (np.nan, 1), (1, 2, 3)):
        with pytest.raises(ValueError, match="normal"):
            layer_normal(bad)


def test_lagrangian_of_isotropic_expansion():
    """A lattice 2 % larger: D_E = 1 - 1/1.02 per axis; Lagrangian reads exactly 0.02."""
    d = 1 - 1 / 1.02
    l00, l01, l10, l11 = lagrangian_from_eulerian(d, 0.0, 0.0, d)
    assert l00 == pytest.approx(0.02, abs=1e-12) and l11 == pytest.approx(0.02, abs=1e-12)
    assert l01 == 0 and l10 == 0


def test_lagrangian_is_inverse_deformation():
    """(I + D_L)(I - D_E) = I for arbitrary distortions (F and its inverse)."""
    rng = np.random.default_rng(0)
    de = rng.normal(scale=0.2, size=(50, 2, 2))
    ll = lagrangian_from_eulerian(de[:, 0, 0], de[:, 0, 1], de[:, 1, 0], de[:, 1, 1])
    f = np.eye(2) + np.stack(ll, -1).reshape(50, 2, 2)
    np.testing.assert_allclose(
        f @ (np.eye(2) - de), np.broadcast_to(np.eye(2), f.shape), atol=1e-12
    )


def test_strain_from_gradient_hand_case():
    out = strain_from_gradient(0.01, 0.03, 0.01, -0.02, normal=(0, 1), finite=False)
    expected = {
        "exx": 0.01,
        "eyy": -0.02,
        "exy": 0.02,
        "rotation": 0.01,
        "dilatation": -0.01,
        "e_nn": -0.02,
        "e_tt": 0.01,
        "e_nt": 0.02,
    }
    for k, v in expected.items():
        assert out[k] == pytest.approx(v, abs=1e-15), k


def test_layer_frame_hand_cases():
    e = to_layer_frame(0.01, -0.02, 0.005, (1, 0))  # t = (0, -1)
    assert (e["e_nn"], e["e_tt"], e["e_nt"]) == pytest.approx((0.01, -0.02, -0.005))
    e = to_layer_frame(0.01, 0.0, 0.0, (1, 1))  # uniaxial along x, 45-degree layers
    assert (e["e_nn"], e["e_tt"], e["e_nt"]) == pytest.approx((0.005, 0.005, 0.005))
    e = to_layer_frame(np.float32([0.01]), np.float32([0.0]), np.float32([0.0]), (1, 1))
    assert e["e_nn"].dtype == np.float32


def test_principal_hand_cases():
    p = principal_strain(0.0, 0.0, 0.01)  # e1 along (1, 1) in (x, y-down): -45 deg displayed
    assert (p["e1"], p["e2"], p["max_shear"]) == pytest.approx((0.01, -0.01, 0.01))
    assert p["angle"] == pytest.approx(-np.pi / 4)
    p = principal_strain(np.array([0.02, -0.01, 0.01]), np.array([-0.01, 0.02, 0.01]), np.zeros(3))
    np.testing.assert_allclose(p["e1"], [0.02, 0.02, 0.01])
    np.testing.assert_allclose(p["e2"], [-0.01, -0.01, 0.01])
    np.testing.assert_allclose(p["angle"][:2], [0.0, np.pi / 2])
    assert np.isnan(p["angle"][2])  # isotropic: no axis


@dataclass(frozen=True)
class _Maps(StrainMaps):
    exx: np.ndarray
    eyy: np.ndarray
    exy: np.ndarray
    rotation: np.ndarray


def test_strain_maps_mixin():
    m = _Maps(np.full((2, 3), 0.01), np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)))
    assert m.strain_tensor().shape == (2, 2, 2, 3)
    fr = m.in_frame((0, -1))
    np.testing.assert_allclose(fr["e_tt"], 0.01)
    np.testing.assert_allclose(fr["e_nn"], 0.0)
    np.testing.assert_allclose(m.principal()["e1"], 0.01)


def test_polar_of_pure_rotation_and_stretch():
    """F = R(20 deg) diag(1.02, 0.99): rotation 20 deg, Biot strain (0.02, -0.01, 0)."""
    th = np.radians(20.0)
    c, s = np.cos(th), np.sin(th)
    rot_m = np.array([[c, s], [-s, c]])  # counter-clockwise as displayed (y down)
    f = rot_m @ np.diag([1.02, 0.99])
    rot, exx, eyy, exy = polar_decomposition(f[0, 0] - 1, f[0, 1], f[1, 0], f[1, 1] - 1)
    assert rot == pytest.approx(th, abs=1e-12)
    assert (exx, eyy, exy) == pytest.approx((0.02, -0.01, 0.0), abs=1e-12)
    small = strain_from_gradient(f[0, 0] - 1, f[0, 1], f[1, 0], f[1, 1] - 1, finite=False)
    assert small["rotation"] == pytest.approx(0.5 * (1.02 + 0.99) * s)  # the small-strain value
    assert small["exx"] == pytest.approx(1.02 * c - 1)


def test_polar_matches_scipy_and_small_strain_limit():
    from scipy.linalg import polar

    rng = np.random.default_rng(1)
    ll = rng.normal(scale=0.15, size=(20, 2, 2))
    rot, exx, eyy, exy = polar_decomposition(ll[:, 0, 0], ll[:, 0, 1], ll[:, 1, 0], ll[:, 1, 1])
    for i in range(20):
        r, u = polar(np.eye(2) + ll[i])  # F = R U
        assert rot[i] == pytest.approx(np.arctan2(r[0, 1], r[0, 0]), abs=1e-12)
        assert (exx[i], eyy[i], exy[i]) == pytest.approx(
            (u[0, 0] - 1, u[1, 1] - 1, u[0, 1]), abs=1e-12
        )
    tiny = ll * 1e-4
    fin = strain_from_gradient(*(tiny[:, a, b] for a in (0, 1) for b in (0, 1)))
    sml = strain_from_gradient(*(tiny[:, a, b] for a in (0, 1) for b in (0, 1)), finite=False)
    for k in ("exx", "eyy", "exy", "rotation"):
        np.testing.assert_allclose(fin[k], sml[k], atol=1e-7)
