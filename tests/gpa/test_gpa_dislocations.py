"""Dislocation cores: found once at the right place with the right Burgers vector;
no false cores in bent, strained, kinked or O1-banded crystals; Burgers circuits on
analytic distortion fields."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from gpa_helpers import ANGLE, PX

import stemstrain as ss
from stemstrain.errors import StemstrainError
from stemstrain.geometric_phase import _dislocations as disloc
from stemstrain.synthetic import fields, layered_oxide, realistic

# between columns: not on a TM site, not on a layer
CORE_NM = (0.3 * 0.244 + 0.05, 0.5 * 0.468 + 0.02)


def _edge_image(b_in, angle, **kw):
    """512^2 layered oxide with one edge dislocation at CORE_NM (dose 200, seed 4)."""
    disp = fields.edge_dislocation(CORE_NM, b_in, angle_deg=angle)
    return layered_oxide(
        (512, 512), pixel_size=PX, angle_deg=angle, displacement=disp, dose=200.0, seed=4, **kw
    )


@pytest.mark.parametrize("angle", [ANGLE, -25.0])
def test_edge_dislocation_found_once(angle):
    b_in = (0.244, 0.0)  # one in-plane period
    s = _edge_image(b_in, angle)
    r = ss.gpa(s.image, pixel_size=PX, reference="auto")
    cores = ss.find_dislocations(r)
    assert len(cores) == 1
    c = cores.iloc[0]
    x0 = CORE_NM[0] / PX + (s.shape[1] - 1) / 2
    y0 = CORE_NM[1] / PX + (s.shape[0] - 1) / 2
    assert np.hypot(c.x - x0, c.y - y0) * PX <= 0.3
    assert c.b == pytest.approx(0.244, rel=0.15)
    assert c.circuit_residual < 0.1 and c.confidence > 0.8 and c.amplitude_dip < 0.9
    t, n = fields.layer_frame(angle)
    b_true = b_in[0] * t + b_in[1] * n
    np.testing.assert_allclose([c.bx, c.by], b_true, atol=0.15 * 0.244)
    assert c.b_t == pytest.approx(0.244, rel=0.15) and abs(c.b_n) < 0.03


@pytest.mark.parametrize("case", ["bent", "strained", "o1_band", "ripple", "step"])
def test_no_false_cores(case):
    kw = {
        "bent": {"bend_radius_nm": 30.0},
        "strained": {"displacement": fields.uniform(exx=0.02, eyy=-0.01, exy=0.005)},
        "o1_band": {"o1_gaps": (-1, 1)},
        "ripple": {"displacement": fields.ripple(0.3, 1.5, angle_deg=ANGLE)},
        "step": {"displacement": fields.strain_step(-0.01, 0.02, angle_deg=ANGLE)},
    }[case]
    s = layered_oxide((512, 512), pixel_size=PX, angle_deg=ANGLE, dose=200.0, seed=7, **kw)
    if case == "ripple":  # curved everywhere: no window is undistorted, and gpa says so
        with pytest.warns(UserWarning, match="reference is distorted"):
            r = ss.gpa(s.image, pixel_size=PX, reference="auto")
    else:
        r = ss.gpa(s.image, pixel_size=PX, reference="auto")
    assert r.mask.mean() > 0.6
    cores = ss.find_dislocations(r, image=s.image)  # a pair warning would fail (error filter)
    assert len(cores) == 0 and len(cores.attrs["unresolved"]) == 0


def test_find_dislocations_needs_gpa_result():
    with pytest.raises(StemstrainError, match="GPAResult"):
        ss.find_dislocations(np.zeros((8, 8)))


@pytest.mark.parametrize("b_in", [(0.244, 0.0), (0.0, 0.468)])
def test_core_found_in_bent_crystal(b_in):
    """Adaptive GPA of an R = 30 nm bend: the true core is still found, b right."""
    s = _edge_image(b_in, ANGLE, bend_radius_nm=30.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gpa: distorted reference (a bend has none other)
        r = ss.gpa(s.image, pixel_size=PX, reference="auto")
    assert r.mask.mean() > 0.6
    with warnings.catch_warnings(record=True) as caught:  # an untested edge singularity
        warnings.simplefilter("always")
        cores = ss.find_dislocations(r)
    assert all("not reported" in str(w.message) for w in caught)
    x0 = CORE_NM[0] / PX + (s.shape[1] - 1) / 2
    y0 = CORE_NM[1] / PX + (s.shape[0] - 1) / 2
    near = cores[np.hypot(cores.x - x0, cores.y - y0) * PX <= 0.3]
    assert len(near) == 1
    t, n = fields.layer_frame(ANGLE)
    b_true = b_in[0] * t + b_in[1] * n
    # |b| and the component along b are right (b is the lattice vector of the windings)
    assert near.iloc[0].b == pytest.approx(np.hypot(*b_in), rel=0.15)
    assert float(np.dot([near.iloc[0].bx, near.iloc[0].by], b_true)) == pytest.approx(
        np.dot(b_true, b_true), rel=0.1
    )


def _gpa_quiet(image, px):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the gpa quality warnings are not under test here
        return ss.gpa(image, pixel_size=px, reference="auto")


@pytest.mark.parametrize("case", ["bend_r15", "o1_bend", "kink", "grains"])
def test_realistic_cases_without_dislocations(case):
    """10-nm fields of the slipping bends, a kink band, two grains: no core reported.

    The phasor charges alone (the candidates) do report cores here (aliasing of the
    coarse phasor far from g_ref, g2 relabelled by whole g1 on the slipping bend, the
    distributed Burgers content of a kink band or a grain boundary): the circuits
    reject them; a kink band or boundary is named in a warning.
    """
    rec = realistic(case, seed=1, shape=(256, 256), pixel_size=0.04)
    r = _gpa_quiet(rec.image, 0.04)
    assert len(disloc._candidates(r, None)[0]) >= 1  # the test discriminates
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cores = ss.find_dislocations(r, image=rec.image)
    assert len(cores) == 0 and len(cores.attrs["unresolved"]) == 0  # no false pair warning
    msgs = [str(w.message) for w in caught]
    assert not any("close dislocation pair" in m for m in msgs)
    assert all(m.startswith("find_dislocations:") and "not reported" in m for m in msgs)
    if case in ("kink", "grains"):
        assert any("tilt boundary or kink band" in m for m in msgs)


def _volterra(shape, centre, b):
    """Analytic D_E of u = b theta / 2 pi (closure failure b on any loop around centre)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    dx, dy = xx - centre[1], yy - centre[0]
    r2 = dx * dx + dy * dy
    dth = np.stack([-dy / r2, dx / r2]) / (2 * math.pi)  # grad theta (x, y)
    return np.stack([b[0] * dth, b[1] * dth])  # D[a][b] = b_a dtheta/dx_b


def test_burgers_circuits_analytic():
    shape = (128, 128)
    dist = _volterra(shape, (60.3, 70.7), (3.0, -2.0))
    # a second core outside every circle, and a uniform strain (no closure failure)
    dist = dist + _volterra(shape, (10.5, 10.5), (5.0, 5.0))
    dist[0, 0] += 0.01
    dist[1, 0] += 0.004
    bvec, on_b = disloc.burgers_circuits(dist, np.array([[60.3, 70.7], [100.0, 30.0]]), 12.0)
    np.testing.assert_allclose(bvec[0], [3.0, -2.0], atol=1e-3)
    np.testing.assert_allclose(bvec[1], [0.0, 0.0], atol=1e-3)
    assert not on_b.any()
    # a circle leaving the image is NaN, not a number
    bvec, _ = disloc.burgers_circuits(dist, np.array([[5.0, 64.0]]), 12.0)
    assert np.isnan(bvec).all()
    # a circle across two grain labels is not a test
    labels = np.ones(shape, dtype=np.int16)
    labels[:, 75:] = 2
    bvec, on_b = disloc.burgers_circuits(dist, np.array([[60.3, 70.7]]), 12.0, labels)
    assert on_b[0] and np.isnan(bvec).all()


def test_circuit_test_integer_and_distributed():
    """Integer windings on every radius pass; a winding growing with radius is rejected."""
    shape = (160, 160)
    g_px = np.array([[1 / 12.0, 0.0], [0.0, 1 / 8.0]])  # cycles/px
    core = _volterra(shape, (80.5, 80.5), (-12.0, 0.0))  # n = -g.b = (1, 0)
    res = 10.0
    out = disloc.circuit_test(core, np.array([[80.5, 80.5]]), g_px[None], res)
    assert out["keep"][0] and out["n"][0].tolist() == [1, 0] and out["residual"][0] < 1e-3
    # a uniform density of Burgers vector (tilt wall smeared): b = alpha * area
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    wall = np.zeros((2, 2) + shape)
    wall[0, 0] = -0.01 * (yy - 80.0)  # curl of row 0 = 0.01 / px^2
    out = disloc.circuit_test(wall, np.array([[80.0, 80.0]]), g_px[None], res)
    assert not out["keep"][0] and out["distributed"][0]
    # noise-size winding: kept by nobody, not "distributed"
    out = disloc.circuit_test(wall * 0.01, np.array([[80.0, 80.0]]), g_px[None], res)
    assert not out["keep"][0] and not out["distributed"][0]


def test_circuit_test_close_pair():
    """Two cores 2 resolutions apart: tighter circles that exclude the other one."""
    shape, res = (160, 160), 10.0
    g_px = np.array([[1 / 12.0, 0.0], [0.0, 1 / 8.0]])
    pair = _volterra(shape, (80.5, 70.5), (-12.0, 0.0)) + _volterra(
        shape, (80.5, 90.5), (12.0, 0.0)
    )
    centres = np.array([[80.5, 70.5], [80.5, 90.5]])
    out = disloc.circuit_test(pair, centres, np.stack([g_px, g_px]), res)
    assert out["keep"].all() and out["n"].tolist() == [[1, 0], [-1, 0]]
    # the same pair with all of _RADII around it would enclose both: (1, 0) then (0, 0)
    big = disloc.burgers_circuits(pair, centres[:1], 2.25 * res)[0]
    np.testing.assert_allclose(big[0], [0.0, 0.0], atol=0.1)  # passes 2.5 px from a core


def test_distortion_from_maps_inverts_polar_decomposition():
    """D_E rebuilt from (rotation, Biot strain) is I - (I + L)^-1 for a finite L."""
    from stemstrain._strain import polar_decomposition

    lag = np.array([[0.03, 0.25], [-0.31, -0.02]])  # ~16 deg rotation with strain
    rot, exx, eyy, exy = polar_decomposition(*lag.ravel())
    d = disloc._distortion(np.float64(rot), exx, eyy, exy)
    np.testing.assert_allclose(d, np.eye(2) - np.linalg.inv(np.eye(2) + lag), atol=1e-12)


def _pair_image(sep_res, sign, along, **kw):
    """512^2 pair of edge dislocations (b = one in-plane period, +-) around CORE_NM.

    Separated by ``sep_res`` default GPA resolutions (0.79 nm) along t or n; returns the
    image and the true cores (x, y) px.
    """
    t, n = fields.layer_frame(ANGLE)
    d = 0.5 * sep_res * 0.79 * (t if along == "t" else n)
    c1, c2 = np.array(CORE_NM) - d, np.array(CORE_NM) + d
    disp = fields.combine(
        fields.edge_dislocation(tuple(c1), (0.244, 0.0), angle_deg=ANGLE),
        fields.edge_dislocation(tuple(c2), (sign * 0.244, 0.0), angle_deg=ANGLE),
    )
    s = layered_oxide(
        (512, 512), pixel_size=PX, angle_deg=ANGLE, displacement=disp, dose=200.0, seed=4, **kw
    )
    return s.image, np.array([c1, c2]) / PX + 255.5


def test_close_dipole_below_resolution_is_warned_at_its_place():
    """A dipole 1 resolution apart: no winding is left, the strain concentration is named."""
    image, truth = _pair_image(1.0, -1, "t")
    r = _gpa_quiet(image, PX)
    assert len(disloc._candidates(r, None)[0]) == 0  # the coarse phase has no singularity
    for img, hint in ((None, "pass image="), (image, "finer pass either")):
        with pytest.warns(UserWarning, match=f"close dislocation pair.*{hint}"):
            cores = ss.find_dislocations(r, image=img)
        assert len(cores) == 0
        un = pd.DataFrame(cores.attrs["unresolved"])
        assert len(un) == 1
        mid = truth.mean(axis=0)
        assert np.hypot(un.x[0] - mid[0], un.y[0] - mid[1]) * PX <= 0.3
        assert "strain concentration" in un.kind[0] and un.excess[0] > 8 * un.excess_sigma[0]
    assert un.fine_resolution_nm[0] == pytest.approx(0.46, abs=0.02)  # gpa's finest x 1.05


@pytest.mark.parametrize("along", ["t", "n"])
def test_close_dipole_found_by_the_finer_pass(along):
    """A dipole 2 resolutions apart: the coarse pass misses both, the finer one finds both."""
    image, truth = _pair_image(2.0, -1, along)
    r = _gpa_quiet(image, PX)
    with pytest.warns(UserWarning, match="close dislocation pair"):
        assert len(ss.find_dislocations(r)) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # resolved: no warning
        cores = ss.find_dislocations(r, image=image)
    assert len(cores) == 2 and len(cores.attrs["unresolved"]) == 0
    # the table prints and concatenates (a DataFrame in attrs made pandas raise in both)
    assert "resolution_nm" in repr(cores) and len(pd.concat([cores, cores])) == 4
    d = np.hypot(
        cores.x.to_numpy()[:, None] - truth[:, 0], cores.y.to_numpy()[:, None] - truth[:, 1]
    )
    assert sorted(d.argmin(axis=1)) == [0, 1] and d.min(axis=1).max() * PX <= 0.3
    np.testing.assert_allclose(cores.b, 0.244, rtol=0.05)
    assert abs(cores.bx.sum()) < 0.02 and abs(cores.by.sum()) < 0.02  # opposite signs
    assert (cores.resolution_nm < 0.6).all() and (cores.confidence > 0.6).all()


def test_close_dipole_in_a_bend_found_by_the_finer_pass():
    """R = 30 nm bend (adaptive maps, no hole at the pair): the pair is compact as a pair."""
    image, truth = _pair_image(2.0, -1, "t", bend_radius_nm=30.0)
    r = _gpa_quiet(image, PX)
    assert r.quality["adaptive"]
    with pytest.warns(UserWarning, match="close dislocation pair"):
        assert len(ss.find_dislocations(r)) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cores = ss.find_dislocations(r, image=image)
    d = np.hypot(
        cores.x.to_numpy()[:, None] - truth[:, 0], cores.y.to_numpy()[:, None] - truth[:, 1]
    )
    assert (
        len(cores) == 2 and sorted(d.argmin(axis=1)) == [0, 1] and d.min(axis=1).max() * PX <= 0.3
    )
    assert abs(cores.bx.sum()) < 0.02 and abs(cores.by.sum()) < 0.02


def _result_like(shape, res):
    """The attributes of a GPA result that the concentration map reads (1 px per sample)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        lowres_step=(1.0, 1.0),
        phasor_lowres=np.ones((2,) + shape, complex),
        resolution_nm=res,
        pixel_size=None,
        uncertainty=None,
        mask=np.ones(shape, bool),
    )


def test_strain_concentration_analytic():
    """Compact blob: found at its centre; linear gradient and a straight ridge: nothing."""
    from stemstrain.geometric_phase import _disloc_pairs as pairs

    shape, res = (96, 96), 8.0
    r = _result_like(shape, res)

    def sampler(profile):
        def f(coords):
            d = np.zeros((2, 2, coords.shape[1]))
            d[0, 1] = profile(*coords)
            return d

        return f

    blob = sampler(lambda y, x: 0.1 * np.exp(-((y - 50.3) ** 2 + (x - 40.7) ** 2) / (2 * 3.0**2)))
    found = pairs.strain_concentrations(r, blob)
    assert len(found) == 1
    np.testing.assert_allclose(found[0, :2], [50.3, 40.7], atol=1.0)
    assert found[0, 2] == pytest.approx(0.1, rel=0.3)
    gradient = sampler(lambda y, x: 0.002 * (x - 48) + 0.001 * (y - 48))  # a bend: excess 0
    c = pairs.concentration_map(r, gradient)
    assert np.nanmax(c["excess"]) < 1e-9 and len(pairs.strain_concentrations(r, gradient)) == 0
    two = sampler(
        lambda y, x: (
            0.1 * np.exp(-((y - 48) ** 2 + (x - 38) ** 2) / 18.0)
            + 0.1 * np.exp(-((y - 48) ** 2 + (x - 56) ** 2) / 18.0)
        )
    )  # 2.25 resolutions apart: each blob on the other's compactness circle
    assert np.nanmax(pairs.concentration_map(r, two)["compact"]) < 2.0
    found = pairs.strain_concentrations(r, two)  # found as a pair
    np.testing.assert_allclose(sorted(found[:, 1]), [38, 56], atol=1.0)
    ridge = sampler(lambda y, x: 0.2 * np.exp(-((x - 48 + 0.3 * (y - 48)) ** 2) / (2 * 3.0**2)))
    c = pairs.concentration_map(r, ridge)
    assert np.nanmax(c["excess"]) > 0.1  # strong, but a line: not compact
    assert np.nanmax(np.where(c["excess"] > 0.03, c["compact"], 0)) < 1.5
    assert len(pairs.strain_concentrations(r, ridge)) == 0
    beads = sampler(  # a ridge with maxima along it (a kink band's modulation): no pair
        lambda y, x: (0.2 + 0.05 * np.cos(2 * np.pi * y / 16.0)) * np.exp(-((x - 48) ** 2) / 18.0)
    )
    assert len(pairs.strain_concentrations(r, beads)) == 0


def test_find_dislocations_image_must_match():
    s = _edge_image((0.244, 0.0), ANGLE)
    r = _gpa_quiet(s.image, PX)
    with pytest.raises(StemstrainError, match="image is 256x256"):
        ss.find_dislocations(r, image=s.image[:256, :256])
