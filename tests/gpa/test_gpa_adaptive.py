"""Adaptive GPA, grains, surfaces and reference='auto' on the realistic generator cases.

Truth: the generator's own exact geometry (``stemstrain.synthetic.realistic``); for a
bend, the rotation of the polar decomposition of the analytic deformation gradient,
computed here with scipy (independent of ``stemstrain._strain``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.linalg import polar

import stemstrain as ss
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
    kw = {"reference": reference}
    if reference is None:
        with pytest.warns(UserWarning, match="non-uniform"):
            r = ss.gpa(kink.image, pixel_size=PX, **kw)
    else:
        r = ss.gpa(kink.image, pixel_size=PX, **kw)
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


def test_g_tracking_jump_is_reported():
    """Slipping bend R = 15 nm: where g2 is followed as g2 +- g1 (slip shear), gpa says so."""
    rec = realistic("bend_r15", shape=(256, 256), pixel_size=PX, seed=1)
    with pytest.warns(UserWarning, match="local g jumps"):
        r = ss.gpa(rec.image, pixel_size=PX, reference="auto")
    assert r.quality["g_jump_fraction"] > 0.05
    assert r.quality["valid_fraction"] >= 0.8
