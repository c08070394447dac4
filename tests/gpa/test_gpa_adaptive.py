"""Adaptive GPA, grains, surfaces and reference='auto' on the realistic generator cases.

Truth: the generator's own exact geometry (``stemstrain.synthetic.realistic``); for a
bend, the rotation of the polar decomposition of the analytic deformation gradient,
computed here with scipy (independent of ``stemstrain._strain``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from bend_truth import score
from scipy.linalg import polar

import stemstrain as ss
from stemstrain.geometric_phase._adaptive import lattice_labels
from stemstrain.synthetic import fields, realistic

PX = 0.04  # 256 px = a 10-nm field, 512 px = 20 nm


def _gpa_quiet(image, **kw):
    """GPA, with the RuntimeWarning of lattice_map's anisotropy on partial crystals ignored.

    (``stemstrain/lattice/_map.py::_anisotropy`` takes a nanmedian of an empty slice on
    images with vacuum; reported to the lattice_map owner.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return ss.gpa(image, pixel_size=PX, **kw)


def _gpa_with(image, reference):
    """GPA with ``reference``; None (the mean lattice) on these fields warns 'non-uniform'."""
    if reference is None:
        with pytest.warns(UserWarning, match="non-uniform"):
            return ss.gpa(image, pixel_size=PX, reference=None)
    return ss.gpa(image, pixel_size=PX, reference=reference)


def _analysable(r, mask):
    b = int(round(2 / (2 * np.pi * r.g_info["sigma_g"] * PX)))
    inner = np.zeros_like(mask)
    inner[b:-b, b:-b] = True
    return mask & inner


@pytest.fixture(scope="module")
def kink():
    return realistic("kink", shape=(256, 256), pixel_size=PX, seed=1)


@pytest.mark.parametrize("reference", [None, "auto"])
def test_kink_rotation_jump(kink, reference):
    """Acceptance: 20-deg kink, rotation jump within 0.02 rad, >= 80 % of the crystal valid."""
    r = _gpa_with(kink.image, reference)
    side = kink.truth["side"]
    assert r.quality["adaptive"]
    crystal = _analysable(r, kink.truth["crystal"])
    assert (r.mask & crystal).sum() / crystal.sum() >= 0.8
    jump = np.median(r.rotation[(side == 1) & r.mask]) - np.median(r.rotation[(side == 2) & r.mask])
    truth = np.median(kink.truth["rotation"][side == 1]) - np.median(
        kink.truth["rotation"][side == 2]
    )
    assert truth == pytest.approx(np.radians(20), abs=1e-3)
    assert abs(jump - truth) <= 0.02
    if reference is None:  # the mean of two orientations is no lattice: strain is relative
        return
    for k in ("exx", "eyy", "exy"):  # both sides are perfect O3: no strain after the rotation
        assert abs(np.median(getattr(r, k)[(side > 0) & r.mask])) < 2e-3


def test_kink_needs_adaptive(kink):
    """Negative control: without adaptive masks the rotated side is lost."""
    with pytest.warns(UserWarning, match="valid maps"):
        r = ss.gpa(kink.image, pixel_size=PX, adaptive=False, grains=None, reference="auto")
    assert not r.quality["adaptive"] and r.quality["valid_fraction"] < 0.8


def _polar_rotation(lat, step):
    h, w = lat.shape
    yy, xx = np.mgrid[0:h:step, 0:w:step].astype(float)
    x0, y0 = lat._reference_of(*lat.pixel_to_nm(xx, yy))
    grad = fields.gradient(
        lambda x, y: tuple(
            np.subtract(v, r) for v, r in zip(lat._mapping(x, y), (x, y), strict=True)
        ),
        x0,
        y0,
    )
    f = np.eye(2)[:, :, None, None] + grad
    rot = np.empty(f.shape[2:])
    for i, j in np.ndindex(rot.shape):
        rmat, _ = polar(f[:, :, i, j])
        rot[i, j] = np.arctan2(rmat[0, 1], rmat[0, 0])  # counter-clockwise as displayed
    return rot


def test_bend_rotation_field():
    """Slipping bend R = 30 nm (10-nm field): valid >= 80 %, rotation = exact field."""
    rec = realistic("bend_r30", shape=(256, 256), pixel_size=PX, seed=2)
    r = ss.gpa(rec.image, pixel_size=PX, reference="auto")
    crystal = _analysable(r, rec.truth["crystal"])
    assert (r.mask & crystal).sum() / crystal.sum() >= 0.8
    step = 8
    truth = _polar_rotation(rec.lattice, step)
    got = r.rotation[::step, ::step]
    ok = np.isfinite(got)
    d = got[ok] - truth[ok]
    d -= np.median(d)  # the reference's own rotation
    assert np.ptp(truth[ok]) > 0.12  # the field turns by +-4.5 deg in 10 nm
    assert np.median(np.abs(d)) < 3e-3 and np.percentile(np.abs(d), 90) < 1e-2


def test_two_grains_each_against_its_own_reference():
    """Acceptance: two grains 35 deg apart -> per-grain maps, >= 80 % valid, |exx| <= 2e-3."""
    rec = realistic("grains", shape=(512, 512), pixel_size=PX, seed=1)
    with pytest.warns(UserWarning, match="2 grains found"):
        r = _gpa_quiet(rec.image, reference="auto")
    assert len(r.grain_table) == 2
    orient = sorted(row["orientation_deg"] for row in r.grain_table)
    assert orient[1] - orient[0] == pytest.approx(35.0, abs=2.0)
    assert "2 grains" in " ".join(r.warnings)
    for gid in (1, 2):
        sel = _analysable(r, rec.truth["grain"] == gid)
        assert (r.mask & sel).sum() / sel.sum() >= 0.8
        assert np.nanmedian(np.abs(r.exx[sel])) <= 2e-3
        labels, counts = np.unique(r.grains[sel & r.mask], return_counts=True)
        assert counts.max() / counts.sum() > 0.95  # one result grain per true grain


def test_surface_nan_outside_the_crystal():
    rec = realistic("surface", shape=(256, 256), pixel_size=PX, seed=1)
    with pytest.warns(UserWarning, match="without the \\(003\\)"):  # g on the fundamentals
        r = _gpa_quiet(rec.image, reference="auto")
    assert not (r.mask & rec.truth["vacuum"]).any()
    assert not (r.mask & rec.truth["carbon"]).any()
    assert r.quality["valid_fraction"] >= 0.8
    assert r.crystalline is not None and not (r.crystalline & rec.truth["vacuum"]).any()


def test_reference_auto_is_uniform_region():
    """reference='auto' on a strain step picks one side: it reads zero there."""
    rec = realistic("drift", shape=(256, 256), pixel_size=PX, seed=1)
    r = ss.gpa(rec.image, pixel_size=PX, reference="auto")
    box = r.grain_table[0]["reference_box"]
    assert r.grain_table[0]["reference"] == "auto" and box is not None
    r0, r1, c0, c1 = box
    assert abs(np.nanmedian(r.e_tt[r0:r1, c0:c1])) < 1e-3


@pytest.mark.parametrize("reference", [None, "auto"])
def test_slipping_bend_r15_maps_are_right(reference):
    """Slipping bend R = 15 nm (10-nm crop, the slip moves g2 by up to 1.4 g1): exact maps.

    Truth: the generator's deformation gradient relative to GPA's stated reference
    (``bend_truth.score``). Before the row bank + lattice relabelling, ~10 % of the
    field read g2 + g1 as g2 (rotation p95 error 0.26 rad, g_jump 7 %).
    """
    rec = realistic("bend_r15", shape=(256, 256), pixel_size=PX, seed=1)
    r = _gpa_with(rec.image, reference)
    s = score(rec, r)
    assert s["valid"] >= 0.95
    assert s["ref_err"] < 0.02  # the stated reference is the reference region's lattice
    assert s["rotation_p95"] < 5e-3 and s["rotation_med"] < 1.5e-3
    for k in ("exx", "eyy", "exy", "e_nt"):
        assert s[f"{k}_p95"] < 5e-3, k
    assert r.quality["g_jump_fraction"] < 0.01
    assert not any("jumps" in w for w in r.warnings)


def test_kink_far_side_keeps_its_lattice(kink):
    """The kink band slips by ~a period within a resolution: not unwrapped through.

    Both sides are perfect O3, so the far side must read zero strain (the least-sheared
    labelling), not one lattice shear from following the slip across the band.
    """
    r = ss.gpa(kink.image, pixel_size=PX, reference="auto")
    s = score(kink, r)
    assert s["rotation_p95"] < 5e-3 and s["e_nt_p95"] < 5e-3
    assert r.quality["g_jump_fraction"] < 0.01
    assert r.grain_table[0]["g_bridged_fraction"] > 0.2  # one side placed across the band


def test_lattice_labels_unwraps_a_slip_ramp():
    """Unit: a wrapped slip ramp c = 0.3 + 2.2 x (labels g2 + m g1) is restored exactly."""
    m_y, m_x = 40, 60
    xx = np.mgrid[0:m_y, 0:m_x][1] / m_x
    c_true = 0.3 + 2.2 * xx
    m_true = np.round(c_true - 0.3 + 0.2 * np.sin(7 * xx)).astype(int)  # any labelling
    g1 = np.array([0.0, 0.08])
    g_loc = np.zeros((2, 2, m_y, m_x))
    g_loc[0] = g1[:, None, None]
    g_loc[1, 0] = 0.16
    g_loc[1, 1] = (c_true - m_true) * g1[1]
    known = np.ones((m_y, m_x), bool)
    ref = np.zeros_like(known)
    ref[:, :5] = True
    g_ref = np.array([g1, [0.16, 0.3 * g1[1]]])
    m, resolved, anchored = lattice_labels(g_loc, known, ref, g_ref, 0)
    assert np.array_equal(m[1], -m_true)  # g2 - m g1 = the continuous g2
    assert (m[0] == 0).all() and resolved.all() and anchored.all()


@pytest.mark.shared_data
def test_real_layered_image_forced_adaptive_is_consistent(shared_data_dir):
    """Real YBCO image (no large rotation, a planar fault): the slip pass must not invent shear.

    Forced ``adaptive=True`` runs the row bank and the relabelling on real noise; away from
    the fault (where half a period is a tie) the maps agree with the plain GPA.
    """
    img = ss.load(shared_data_dir / "SciLink__data__YBCO_tem.tif")
    with pytest.warns(UserWarning, match="non-uniform"):
        r = ss.gpa(img, adaptive=True)
    with pytest.warns(UserWarning, match="non-uniform"):
        plain = ss.gpa(img, adaptive=False, grains=None)
    assert r.quality["valid_fraction"] >= 0.95 and r.quality["g_jump_fraction"] < 0.01
    both = np.isfinite(r.rotation) & np.isfinite(plain.rotation)
    d = np.abs(r.rotation - plain.rotation)[both]
    assert both.mean() > 0.7
    assert np.median(d) < 5e-3 and np.mean(d > 0.1) < 0.02  # no lattice shear off anywhere
