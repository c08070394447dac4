"""calibrate_scale: pixel size from a known crystal's zone-axis net (analytic images)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import stemstrain as ss

A_AU = 0.408  # nm, the a of ase.build.bulk("Au")
P_TRUE = 0.02  # nm/px of the synthetic images
FACTOR = 1.116  # true / stored pixel size


def _net_image(d1, d2, angle_deg, n=256, rot_deg=17.0):
    """Sum of cosines on the net of two g (cycles/px) and their sum and difference."""
    t1, t2 = np.radians(rot_deg), np.radians(rot_deg + angle_deg)
    g1 = P_TRUE / d1 * np.array([np.cos(t1), np.sin(t1)])
    g2 = P_TRUE / d2 * np.array([np.cos(t2), np.sin(t2)])
    y, x = np.mgrid[0:n, 0:n].astype(float)
    img = np.zeros((n, n))
    for g, w in ((g1, 1.0), (g2, 1.0), (g1 - g2, 0.5), (g1 + g2, 0.4)):
        img += w * np.cos(2 * np.pi * (g[0] * x + g[1] * y))
    return img + np.random.default_rng(0).normal(0, 0.2, img.shape)


def test_au_110_net_recovers_factor():
    d111 = A_AU / np.sqrt(3)
    img = _net_image(d111, d111, 70.53)
    cal = ss.calibrate_scale(img, "Au", pixel_size=P_TRUE / FACTOR)
    assert cal.scale_factor == pytest.approx(FACTOR, rel=0.005)
    assert cal.pixel_size_nm == pytest.approx(P_TRUE, rel=0.005)
    assert sorted(abs(v) for v in cal.zone_axis) == [0, 1, 1]
    assert all(sorted(abs(v) for v in h) == [1, 1, 1] for h in cal.reflections)
    assert cal.d_nm[0] == pytest.approx(d111, rel=1e-6)
    assert cal.n_windows >= 5 and cal.residual_deg < 1.0
    assert 0 < cal.sigma < 0.005


def test_au_001_net_and_latticemap_input_untouched():
    d200 = A_AU / 2
    lm = ss.lattice_map(_net_image(d200, d200, 90.0), P_TRUE / FACTOR)
    before = lm.pixel_size
    cal = ss.calibrate_scale(lm, "Au")
    assert lm.pixel_size == before
    assert cal.scale_factor == pytest.approx(FACTOR, rel=0.005)
    assert sorted(abs(v) for v in cal.zone_axis) == [0, 0, 1]
    assert all(sorted(abs(v) for v in h) == [0, 0, 2] for h in cal.reflections)  # fcc: no (100)


def test_uncalibrated_srtio3_gives_the_pixel_size():
    a = 0.3905
    from ase.spacegroup import crystal

    sto = crystal(
        ["Sr", "Ti", "O"],
        [(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0)],
        spacegroup=221,
        cellpar=[10 * a] * 3 + [90] * 3,
    )  # ASE: Angstrom
    cal = ss.calibrate_scale(_net_image(a, a, 90.0, rot_deg=5.0), sto)
    assert cal.stored_pixel_size is None
    assert cal.pixel_size_nm == pytest.approx(P_TRUE, rel=0.005)
    assert cal.reflections[0].count(0) == 2  # a {100}: allowed in the perovskite


def test_no_matching_net_raises():
    img = _net_image(0.25, 0.25 / 1.3, 80.0)
    with pytest.raises(ss.errors.NoLatticeError, match="matches a zone-axis net"):
        ss.calibrate_scale(img, "Au", pixel_size=P_TRUE)


def test_bad_structure_name_raises():
    with pytest.raises(ss.StemstrainError, match="ase.build.bulk"):
        ss.calibrate_scale(np.zeros((64, 64)), "NotAnElement")


def test_save_writes_calibration_group(tmp_path):
    d111 = A_AU / np.sqrt(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cal = ss.calibrate_scale(_net_image(d111, d111, 70.53), "Au", pixel_size=P_TRUE)
    path = cal.save(tmp_path / "r.h5")
    import h5py

    with h5py.File(path) as h5:
        attrs = h5["calibration"].attrs
        assert attrs["scale_factor"] == pytest.approx(cal.scale_factor)
        assert list(attrs["zone_axis"]) == list(cal.zone_axis)


@pytest.mark.shared_data
def test_real_au_nanoparticle(shared_data_dir):
    path = shared_data_dir / "TEMUL-pypi-wheel__example_Au_nanoparticle.emd"
    if not path.exists():
        pytest.skip("Au nanoparticle file not in the shared data")
    img = ss.load(path)
    with pytest.warns(UserWarning, match="window"):
        cal = ss.calibrate_scale(img, "Au")
    # the round particle's [110] nets: the stored 0.0074984 nm/px is ~11 % small
    assert sorted(abs(v) for v in cal.zone_axis) == [0, 1, 1]
    assert 1.07 < cal.scale_factor < 1.16


@pytest.mark.shared_data
def test_real_srtio3_acquisition_18(shared_data_dir):
    path = shared_data_dir / "openNCEM__ncempy_data__Acquisition_18.emd"
    if not path.exists():
        pytest.skip("Acquisition_18.emd not in the shared data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the map's x/y anisotropy note
        lm = ss.lattice_map(ss.load(path))
        cal = ss.calibrate_scale(lm, "SrTiO3")
    assert sorted(abs(v) for v in cal.zone_axis) == [0, 0, 1]
    d = lm.spacings_nm[lm.lattice_2d]
    assert cal.scale_factor == pytest.approx(0.3905 / np.median(d), rel=0.01)
    assert cal.n_windows > cal.n_2d / 2 and cal.sigma < 0.01


def test_same_shape_other_scale_is_reported_ambiguous():
    from stemstrain.lattice._calibrate import _choose

    nets = [
        {"zone": (1, 1, 1), "g": (2.0, 2.0)},
        {"zone": (0, 0, 1), "g": (1.0, 1.0)},
        {"zone": (0, 1, 0), "g": (1.0, 1.0)},
    ]
    hits = np.ones((6, 3), bool)
    hits[0, 0] = False  # [111] matched by 5 of the 6 windows
    msgs = []
    assert _choose(hits, nets, msgs) == 1  # most windows, then the lowest index
    assert len(msgs) == 1 and "(1, 1, 1)" in msgs[0]
    msgs = []
    assert _choose(hits[:, 1:], nets[1:], msgs) == 0 and not msgs  # same scale: no ambiguity
