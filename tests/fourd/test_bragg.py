"""BraggVectors: py4DSTEM files (EMD 0.13 and 1.0), find_disks round trip, fourd_strain input."""

import warnings

import numpy as np
import pytest

import stemstrain as ss
from stemstrain import InputShapeError, StemstrainError
from stemstrain.fourd import BraggVectors
from stemstrain.synthetic._fourd import two_phase_vectors

BRAGG = "py4DSTEM__test_unit_test_data_crystal__braggdisks_cali.h5"


def test_from_disks_save_load_round_trip_and_strain(small_data, tmp_path):
    cube, probe, truth = small_data
    disks = ss.find_disks(cube, probe)
    bv = BraggVectors.from_disks(disks, cube.shape[:2], reciprocal_pixel_size=0.2)
    assert bv.n_peaks.sum() == len(disks)
    np.testing.assert_array_equal(bv.n_peaks.ravel(), np.bincount(disks["index"], minlength=80))
    back = ss.load(bv.save(tmp_path / "bv.h5"))
    assert isinstance(back, BraggVectors) and back.units == "px"
    assert back.reciprocal_pixel_size == pytest.approx(0.2)
    for k in ("x", "y", "intensity", "offsets"):
        np.testing.assert_array_equal(getattr(back, k), getattr(bv, k))
    # fourd_strain on the vectors = on the cube (same disks, same fits)
    ref = truth["reference_mask"]
    r_cube = ss.fourd_strain(cube, probe, reference=ref, progress=False)
    r_vec = ss.fourd_strain(back, reference=ref)
    for k in ("exx", "eyy", "exy", "rotation"):
        np.testing.assert_allclose(getattr(r_vec, k), getattr(r_cube, k), atol=1e-9)
    assert r_vec.g_units == "1/nm"
    np.testing.assert_allclose(
        r_vec.g_vectors, r_cube.g_vectors * 0.2 / (r_cube.reciprocal_pixel_size or 1.0), rtol=1e-9
    )


def test_calibrated_vectors_round_trip_in_inverse_angstrom(tmp_path):
    bv, _, _ = two_phase_vectors((3, 4))
    path = bv.save(tmp_path / "cal.h5")
    import h5py

    with h5py.File(path, "r") as h5:  # py4DSTEM units on disk: 1/Å, qx = row
        d = h5["braggvectors_root/braggpeaks_cal/data"][0, 1]
    p = bv.peaks(0, 1)
    np.testing.assert_allclose(d["qx"], p[:, 1] / 10.0)
    np.testing.assert_allclose(d["qy"], p[:, 0] / 10.0)
    back = ss.load(path)
    assert back.units == "1/nm" and back.origin == (0.0, 0.0)
    np.testing.assert_allclose(back.x, bv.x, atol=1e-12)


def test_emd1_file_written_by_py4dstem(tmp_path):
    py4DSTEM = pytest.importorskip("py4DSTEM")
    from emdfile import PointListArray

    dt = [("qx", float), ("qy", float), ("intensity", float)]
    pla = PointListArray(dtype=dt, shape=(2, 3))
    for i in range(2):
        for j in range(3):
            n = i * 3 + j + 1
            pla[i, j].add(np.array([(10.0 + k, 20.0 + 2 * k, 1.0 + k) for k in range(n)], dt))
    bvp = py4DSTEM.BraggVectors(Rshape=(2, 3), Qshape=(64, 64))
    bvp._v_uncal = pla
    bvp.calibration.set_Q_pixel_size(0.01)
    bvp.calibration.set_Q_pixel_units("A^-1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        py4DSTEM.save(str(tmp_path / "p4.h5"), bvp, mode="o")
    bv = ss.load(tmp_path / "p4.h5")
    assert isinstance(bv, BraggVectors)
    assert bv.scan_shape == (2, 3) and bv.units == "px"
    assert bv.reciprocal_pixel_size == pytest.approx(0.1)  # 0.01 1/Å = 0.1 1/nm
    np.testing.assert_array_equal(bv.n_peaks, [[1, 2, 3], [4, 5, 6]])
    p = bv.peaks(1, 2)
    np.testing.assert_allclose(p[:, 0], 20.0 + 2 * np.arange(6))  # x = py4DSTEM qy
    np.testing.assert_allclose(p[:, 1], 10.0 + np.arange(6))  # y = py4DSTEM qx
    # and py4DSTEM reads what stemstrain writes (a BraggVectors with its calibration)
    bv.save(tmp_path / "ours.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = py4DSTEM.read(str(tmp_path / "ours.h5"))
    np.testing.assert_allclose(again.raw[1, 2].data["qx"], 10.0 + np.arange(6))
    assert again.calibration.get_Q_pixel_size() == pytest.approx(0.01)


@pytest.mark.shared_data
def test_real_emd013_file(shared_data_dir):
    bv = ss.load(shared_data_dir / BRAGG)
    assert isinstance(bv, BraggVectors)
    assert bv.scan_shape == (80, 58) and bv.units == "1/nm"
    assert len(bv.x) == 121390 and bv.n_peaks.min() >= 1 and bv.n_peaks.max() == 70
    # calibrated in 1/Å on disk: the spinel (440) ring at 1.458 Å -> 6.86 1/nm
    q = np.hypot(bv.x, bv.y)
    h, e = np.histogram(q, bins=np.arange(6.0, 7.6, 0.1), weights=bv.intensity)
    assert 6.7 < e[np.argmax(h)] < 7.0


def test_validation():
    with pytest.raises(InputShapeError, match="offsets"):
        BraggVectors((2, 2), [0.0], [0.0], [1.0], [0, 1, 1, 1])
    with pytest.raises(StemstrainError, match="units"):
        BraggVectors((1, 1), [0.0], [0.0], [1.0], [0, 1], units="mrad")
    bv = BraggVectors.from_arrays([[np.zeros((1, 3)), np.ones((2, 3))]])
    assert bv.n_peaks.tolist() == [[1, 2]]
    xy, w, v = bv.padded()
    assert xy.shape == (2, 2, 2) and v.tolist() == [[True, False], [True, True]]


def test_weak_disks_next_to_a_bright_direct_beam_are_a_lattice():
    # real scans: the (000) beam is 10-100x any Bragg disk. A rectangular lattice
    # (3.0 x 4.0 1/nm) of disks at 1 % of the direct beam, with a known uniform strain
    # (exx = +0.4 % in the right half): the basis must come from those disks
    rng = np.random.default_rng(3)
    sy, sx = 6, 8
    hk = np.array([(h, k) for h in range(-2, 3) for k in range(-2, 3) if (h, k) != (0, 0)])
    pats = []
    for _r in range(sy):
        for c in range(sx):
            d = 0.004 if c >= sx // 2 else 0.0
            g = hk * np.array([3.0 / (1 + d), 4.0])  # q = G0 (I + D)^-T: x shrinks
            xy = g + rng.normal(0, 0.003, g.shape)
            inten = 0.01 * rng.uniform(0.5, 1.0, len(g))
            pats.append(np.vstack([[0.0, 0.0, 1.0], np.column_stack([xy, inten])]))
    bv = BraggVectors.from_arrays([pats[r * sx : (r + 1) * sx] for r in range(sy)], units="1/nm")
    res = ss.fourd_strain(bv, reference=(0, sy, 0, sx // 2))
    assert np.isfinite(res.exx).all()
    assert np.abs(res.exx[:, : sx // 2]).max() < 5e-4
    np.testing.assert_allclose(res.exx[:, sx // 2 :], 0.004, atol=5e-4)
    assert np.abs(res.eyy).max() < 5e-4


def test_info_describes_a_bragg_vector_file(tmp_path, capsys):
    from stemstrain.cli import main

    bv, _, _ = two_phase_vectors((3, 4))
    path = bv.save(tmp_path / "bv.h5")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "kind:        bragg" in out and "(navigation (3, 4)" in out
    assert f"{len(bv.x)} peaks" in out and "calibrated:  yes" in out
