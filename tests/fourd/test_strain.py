import numpy as np
import pytest

import stemstrain as ss
from stemstrain import InputShapeError, NoLatticeError, StemstrainError
from stemstrain.fourd import DetectorGeometry, DiskDetection
from stemstrain.synthetic._fourd import fourd_dataset

from .conftest import median_errors


def test_acceptance_default_dataset_automatic_basis(default_data):
    """Hexagonal, Poisson noise, finite disks, ramp + step + rotation: median |err| <= 1e-3."""
    cube, probe, truth = default_data
    res = ss.fourd_strain(cube, probe, reference=truth["reference_mask"], progress=False)
    err = median_errors(res, truth)
    # measured 2.4e-4 .. 3.4e-4 (noise-limited: dose 2e4 e- in the (000) disk)
    for k, v in err.items():
        assert v <= 5e-4, (k, err)
    assert res.params["basis"] == "auto"
    g = np.asarray(res.params["g_detector_px"])
    assert abs(np.linalg.det(g)) == pytest.approx(abs(np.linalg.det(truth["g0"])), rel=2e-3)
    # rotation sign: positive truth, positive measurement
    sel = truth["rotation"] > 0.005
    assert np.all(res.rotation[sel] > 0.003)
    assert res.exx.shape == (24, 24) and res.g_map.shape == (24, 24, 2, 2)
    assert np.all(res.n_peaks >= 12)


def test_noise_free_is_exact_to_1e4():
    cube, probe, truth = fourd_dataset((10, 12), (96, 96), dose=0, seed=1)
    res = ss.fourd_strain(cube, probe, reference=truth["reference_mask"], progress=False)
    for k, v in median_errors(res, truth).items():
        assert v < 5e-5, k
    for k in ("exx", "eyy", "exy", "rotation"):
        assert np.nanmax(np.abs(getattr(res, k) - truth[k])) < 2e-4
    # fitted g per position vs truth (1/px, scan frame = detector frame here)
    np.testing.assert_allclose(res.g_map, np.swapaxes(truth["g_det"], -1, -2), atol=5e-3)
    np.testing.assert_allclose(res.origin, truth["origin"], atol=0.05)


def test_pure_rotation_sign():
    cube, probe, truth = fourd_dataset(
        (4, 8), (96, 96), ramp=0, step=0, shear=0, rotation=0.02, dose=0
    )
    res = ss.fourd_strain(cube, probe, reference=truth["reference_mask"], progress=False)
    np.testing.assert_allclose(res.rotation, truth["rotation"], atol=1e-4)
    assert res.rotation[-1, -1] == pytest.approx(0.02, abs=1e-4)
    np.testing.assert_allclose(res.exx, 0, atol=3e-4)


def test_rectangular_lattice():
    cube, probe, truth = fourd_dataset(
        (8, 8), (96, 96), lattice="rectangular", g_length_px=15, g_angle_deg=-20, dose=5e4, seed=2
    )
    res = ss.fourd_strain(cube, probe, reference=truth["reference_mask"], progress=False)
    for k, v in median_errors(res, truth).items():
        assert v < 1e-3, k


@pytest.mark.parametrize("rot,flip", [(30.0, False), (-75.0, True)])
def test_detector_rotation_and_flip(rot, flip):
    cube, probe, truth = fourd_dataset(
        (6, 8), (96, 96), detector_rotation_deg=rot, detector_flip=flip, dose=0
    )
    geo = DetectorGeometry(detector_rotation_deg=rot, detector_flip=flip)
    res = ss.fourd_strain(
        cube, probe, reference=truth["reference_mask"], progress=False, geometry=geo
    )
    for k, v in median_errors(res, truth).items():
        assert v < 2e-4, k
    # ignoring the geometry gives the wrong shear/rotation: the check can fail
    bad = ss.fourd_strain(cube, probe, reference=truth["reference_mask"], progress=False)
    assert max(median_errors(bad, truth).values()) > 5e-4


def test_elliptical_distortion_corrected():
    ell = (1.0, 0.96, 35.0)
    cube, probe, truth = fourd_dataset((6, 8), (96, 96), detector_ellipse=ell, dose=0)
    ref = truth["reference_mask"]
    res = ss.fourd_strain(
        cube, probe, reference=ref, progress=False, geometry=DetectorGeometry(ellipse=ell)
    )
    for k, v in median_errors(res, truth).items():
        assert v < 4e-5, k  # measured <= 1.6e-5
    raw = ss.fourd_strain(cube, probe, reference=ref, progress=False)
    assert max(median_errors(raw, truth).values()) > 8e-5  # uncorrected: 1.2e-4
    with pytest.raises(StemstrainError, match="ellipse must be"):
        ss.fourd_strain(cube, probe, geometry=DetectorGeometry(ellipse=(1.0, 0.9)), progress=False)
    with pytest.raises(StemstrainError, match="semi-axes must be > 0"):
        ss.fourd_strain(
            cube, probe, geometry=DetectorGeometry(ellipse=(1.0, 0.0, 0.0)), progress=False
        )


def test_layer_frame():
    cube, probe, truth = fourd_dataset((6, 8), (96, 96), dose=0)
    a = np.deg2rad(25.0)
    n = np.array([-np.sin(a), np.cos(a)])
    res = ss.fourd_strain(
        cube, probe, reference=truth["reference_mask"], progress=False, layer_normal=-n
    )  # sign is canonicalised (n_y > 0)
    from stemstrain.synthetic.fields import strain_from_gradient

    want = strain_from_gradient(np.moveaxis(truth["gradient"], (2, 3), (0, 1)), 25.0)
    for k in ("e_nn", "e_tt", "e_nt"):
        np.testing.assert_allclose(getattr(res, k), want[k], atol=1e-4)
    np.testing.assert_allclose(res.e_nn + res.e_tt, res.exx + res.eyy, atol=1e-12)


def test_estimated_probe_and_vacuum_probe(small_data):
    cube, probe, truth = small_data
    ref = truth["reference_mask"]
    res = ss.fourd_strain(cube, None, reference=ref, progress=False)
    assert abs(res.params["probe_radius_px"] - 3.0) < 0.5
    for k, v in median_errors(res, truth).items():
        assert v < 1.5e-3, k
    # vacuum row: replace scan row 0 by the probe (Poisson), use it as the probe source
    rng = np.random.default_rng(0)
    cube2 = cube.copy()
    cube2[0] = rng.poisson(probe * 2e4 / (np.pi * 9), size=cube2[0].shape)
    ref2 = ref.copy()
    ref2[0] = False
    res2 = ss.fourd_strain(cube2, reference=ref2, vacuum=(slice(0, 1), slice(None)), progress=False)
    err = {
        k: float(np.nanmedian(np.abs(getattr(res2, k) - truth[k])[1:]))
        for k in ("exx", "eyy", "exy", "rotation")
    }
    assert max(err.values()) < 1.5e-3, err


def test_vacuum_positions_are_nan_and_line_scans_work(small_data):
    cube, probe, truth = small_data
    rng = np.random.default_rng(1)
    holes = cube.copy()
    holes[5, 6:] = rng.poisson(probe * 2e4 / (np.pi * 9))  # no crystal: only the (000) disk
    res = ss.fourd_strain(holes, probe, reference=truth["reference_mask"], progress=False)
    assert np.all(np.isnan(res.exx[5, 6:])) and np.all(res.n_peaks[5, 6:] < 5)
    good = np.isfinite(res.exx)
    assert good.sum() == 8 * 10 - 4
    assert np.nanmedian(np.abs(res.exx - truth["exx"])) < 1.5e-3
    line = ss.fourd_strain(cube[3:4], probe, reference=truth["reference_mask"][3:4], progress=False)
    assert line.exx.shape == (1, 10)
    assert np.nanmedian(np.abs(line.exx - truth["exx"][3:4])) < 1.5e-3


def test_given_basis_equals_auto(small_data):
    cube, probe, truth = small_data
    ref = truth["reference_mask"]
    auto = ss.fourd_strain(cube, probe, reference=ref, progress=False)
    g = np.asarray(auto.params["g_detector_px"])
    # a different but equivalent basis: (g1 + g2, -g1)
    given = ss.fourd_strain(
        cube, probe, reference=ref, progress=False, g=np.stack([g[0] + g[1], -g[0]])
    )
    for k in ("exx", "eyy", "exy", "rotation"):
        np.testing.assert_allclose(getattr(given, k), getattr(auto, k), atol=5e-5)


def test_reference_none_and_slices(small_data):
    cube, probe, truth = small_data
    res = ss.fourd_strain(cube, probe, progress=True)  # progress bar path
    # relative to the median lattice: differs from the truth by about a constant
    for k in ("exx", "eyy", "exy", "rotation"):
        d = getattr(res, k) - truth[k]
        assert np.nanmedian(np.abs(d - np.nanmedian(d))) < 1e-3, k
    res2 = ss.fourd_strain(cube, probe, reference=(slice(None), slice(0, 2)), progress=False)
    for k, v in median_errors(res2, truth).items():
        assert v < 1.5e-3, k


def test_input_types_give_the_same_result(small_data, tmp_path):
    cube, probe, truth = small_data
    ref = truth["reference_mask"]
    base = ss.fourd_strain(cube, probe, reference=ref, progress=False)
    np.save(tmp_path / "c.npy", cube)
    mm = np.load(tmp_path / "c.npy", mmap_mode="r")
    import dask.array as da

    inputs = {
        "memmap": mm,
        "dask": da.from_array(cube, chunks=(3, 4, 64, 64)),
        "float32": cube.astype(np.float32),
    }
    hs = pytest.importorskip("hyperspy.api")
    sig = hs.signals.Signal2D(cube)
    sig.axes_manager.navigation_axes[0].scale = 0.5
    sig.axes_manager.navigation_axes[0].units = "nm"
    inputs["signal"] = sig
    inputs["lazy signal"] = sig.as_lazy()
    for name, data in inputs.items():
        r = ss.fourd_strain(
            data, probe, reference=ref, progress=False, detection=DiskDetection(batch_patterns=7)
        )
        for k in ("exx", "eyy", "exy", "rotation"):
            np.testing.assert_allclose(getattr(r, k), getattr(base, k), atol=1e-6, err_msg=name)
    assert ss.fourd_strain(sig, probe, reference=ref, progress=False).pixel_size == 0.5


def test_py4dstem_datacube_input(small_data):
    py4DSTEM = pytest.importorskip("py4DSTEM")
    cube, probe, truth = small_data
    dc = py4DSTEM.DataCube(cube.astype(np.float32))
    dc.calibration.set_R_pixel_size(2.0)
    dc.calibration.set_R_pixel_units("A")
    dc.calibration.set_Q_pixel_size(0.01)
    dc.calibration.set_Q_pixel_units("A^-1")
    res = ss.fourd_strain(dc, probe, reference=truth["reference_mask"], progress=False)
    assert res.pixel_size == pytest.approx(0.2)
    assert res.reciprocal_pixel_size == pytest.approx(0.1)
    assert res.g_units == "1/nm"
    for k, v in median_errors(res, truth).items():
        assert v < 1.5e-3, k


def test_threads_do_not_change_results(small_data):
    cube, probe, truth = small_data
    ref = truth["reference_mask"]
    b16 = DiskDetection(batch_patterns=16)
    one = ss.fourd_strain(cube, probe, reference=ref, progress=False, workers=1, detection=b16)
    three = ss.fourd_strain(cube, probe, reference=ref, progress=False, workers=3, detection=b16)
    for k in ("exx", "eyy", "exy", "rotation", "n_peaks"):
        np.testing.assert_array_equal(getattr(one, k), getattr(three, k))
    from stemstrain.fourd import find_disks

    a = find_disks(cube, probe, workers=1, detection=DiskDetection(batch_patterns=9))
    b = find_disks(cube, probe, workers=2, detection=DiskDetection(batch_patterns=9))
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    with pytest.raises(StemstrainError, match="workers must be"):
        ss.fourd_strain(cube, probe, workers=0, progress=False)


def test_save_plot_signal(small_data, tmp_path):
    cube, probe, truth = small_data
    res = ss.fourd_strain(
        cube, probe, reference=truth["reference_mask"], progress=False, layer_normal=(0, 1)
    )
    path = res.save(tmp_path / "results.h5")
    back = ss.read_results(path)["fourd"]
    np.testing.assert_allclose(back["exx"], res.exx)
    assert back["g_map"].shape == (8, 10, 2, 2)
    fig = res.plot()
    assert len(fig.axes) >= 4
    sig = res.to_signal()
    assert sig.data.shape[0] >= 8


# --- errors ------------------------------------------------------------------------------
def test_error_3d_array(small_data):
    cube, probe, _ = small_data
    with pytest.raises(InputShapeError, match="must be 4-D.*stack of patterns"):
        ss.fourd_strain(cube[0], probe)
    with pytest.raises(InputShapeError, match="must be 4-D.*find_disks"):
        ss.fourd_strain(cube[0, 0], probe)


def test_error_detector_smaller_than_disks():
    cube, probe, _ = fourd_dataset((2, 2), (24, 24), g_length_px=10, disk_radius_px=6, dose=0)
    with pytest.raises(InputShapeError, match="do not fit"):
        ss.fourd_strain(cube, probe, progress=False)
    with pytest.raises(InputShapeError, match="too small"):
        ss.fourd_strain(np.zeros((2, 2, 6, 6)), None, progress=False)


def test_error_no_disks_found():
    rng = np.random.default_rng(0)
    noise = rng.poisson(5.0, size=(3, 3, 64, 64)).astype(np.uint16)
    _, probe, _ = fourd_dataset((1, 1), (64, 64), g_length_px=14, disk_radius_px=3)
    with pytest.raises(NoLatticeError, match="no (disks|lattice) found"):
        ss.fourd_strain(noise, probe, progress=False)
    with pytest.raises(NoLatticeError, match="no disks found"):
        ss.fourd_strain(np.zeros((2, 2, 64, 64)), None, progress=False)


def test_cube_without_a_lattice_is_a_clear_error():
    """A saturated central beam and no Bragg disks (as the real Merlin .mib): no lattice."""
    yy, xx = np.mgrid[0:64, 0:64]
    beam = 60.0 * (np.hypot(xx - 40.0, yy - 30.0) < 5)
    for x0, y0 in ((17.0, 12.0), (22.0, 47.0), (51.0, 53.0)):  # three spots, no lattice
        beam = beam + 20.0 * (np.hypot(xx - x0, yy - y0) < 4)
    cube = np.broadcast_to(beam, (3, 4, 64, 64)) + np.random.default_rng(1).poisson(
        0.5, (3, 4, 64, 64)
    )
    with pytest.raises(NoLatticeError, match="no lattice found.*zone-axis"):
        ss.fourd_strain(cube, progress=False)


@pytest.mark.shared_data
def test_real_4dstem_file_without_a_lattice_is_a_clear_error(shared_data_dir):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # uncalibrated axes
        sig = ss.load(
            shared_data_dir / "rosettasciio__quantumdetector__001_4x2_6bit.mib", lazy=True
        )
    with pytest.raises(NoLatticeError, match="no lattice found.*zone-axis"):
        ss.fourd_strain(sig, progress=False)


def test_reference_box_slices_and_mask_agree(small_data):
    cube, probe, truth = small_data
    box = ss.fourd_strain(cube, probe, reference=(2, 6, 0, 3), progress=False)
    mask = np.zeros(cube.shape[:2], bool)
    mask[2:6, 0:3] = True
    slices = ss.fourd_strain(cube, probe, reference=(slice(2, 6), slice(0, 3)), progress=False)
    masked = ss.fourd_strain(cube, probe, reference=mask, progress=False)
    np.testing.assert_array_equal(box.reference_mask, mask)
    for k in ("exx", "eyy", "exy", "rotation"):
        np.testing.assert_array_equal(getattr(box, k), getattr(slices, k))
        np.testing.assert_array_equal(getattr(box, k), getattr(masked, k))
    # the reference region reads ~zero strain (element-wise median lattice) and the ramp of
    # the truth survives
    assert abs(np.nanmedian(box.exx[mask])) < 3e-4
    d = box.exx - truth["exx"]
    assert np.nanmedian(np.abs(d - np.nanmedian(d))) < 1e-3
    with pytest.raises(StemstrainError, match=r"\(row0, row1, col0, col1\) lies outside"):
        ss.fourd_strain(cube, probe, reference=(6, 2, 0, 3), progress=False)


def test_error_probe_wrong_size(small_data):
    cube, probe, _ = small_data
    with pytest.raises(InputShapeError, match="probe must have the detector shape"):
        ss.fourd_strain(cube, probe[:32], progress=False)


def test_error_bad_parameters(small_data):
    cube, probe, _ = small_data
    with pytest.raises(StemstrainError, match="reference mask has shape"):
        ss.fourd_strain(cube, probe, reference=np.ones((3, 3), bool), progress=False)
    with pytest.raises(StemstrainError, match=r"reference mask selects 0 pixel\(s\)"):
        ss.fourd_strain(cube, probe, reference=np.zeros((8, 10), bool), progress=False)
    with pytest.raises(StemstrainError, match="g must be 'auto'"):
        ss.fourd_strain(cube, probe, g="manual", progress=False)
    with pytest.raises(StemstrainError, match=r"g must be a \(2, 2\)"):
        ss.fourd_strain(cube, probe, g=np.eye(3), progress=False)
    with pytest.raises(StemstrainError, match="layer_normal"):
        ss.fourd_strain(cube, probe, layer_normal=(0, 0), progress=False)
    with pytest.raises(StemstrainError, match="backend"):
        ss.fourd_strain(cube, probe, backend="tpu", progress=False)
    with pytest.raises(StemstrainError, match="datacube is None"):
        ss.fourd_strain(None)
    with pytest.raises(StemstrainError, match="real numbers"):
        ss.fourd_strain(np.zeros((2, 2, 16, 16), dtype=complex))
    with pytest.raises(StemstrainError, match="must be an array"):
        ss.fourd_strain(object())
    with pytest.raises(StemstrainError, match="detection must be a DiskDetection"):
        ss.fourd_strain(cube, probe, detection={"max_peaks": 8}, progress=False)
    with pytest.raises(StemstrainError, match="geometry must be a DetectorGeometry"):
        ss.fourd_strain(cube, probe, geometry=DiskDetection(), progress=False)


def test_settings_dataclasses_reach_the_pipeline(small_data):
    cube, probe, truth = small_data
    ref = truth["reference_mask"]
    base = ss.fourd_strain(cube, probe, reference=ref, progress=False)
    same = ss.fourd_strain(
        cube,
        probe,
        reference=ref,
        progress=False,
        detection=ss.DiskDetection(),
        geometry=ss.DetectorGeometry(),
    )
    for k in ("exx", "eyy", "exy", "rotation", "n_peaks"):
        np.testing.assert_array_equal(getattr(same, k), getattr(base, k))
    assert same.params == base.params
    assert base.n_peaks.max() > 6
    few = ss.fourd_strain(
        cube,
        probe,
        reference=ref,
        progress=False,
        detection=DiskDetection(max_peaks=6, subpixel="poly"),
        geometry=DetectorGeometry(reciprocal_pixel_size=0.05),
    )
    assert np.nanmax(few.n_peaks) <= 6  # max_peaks limits the disks per pattern
    assert few.params["max_peaks"] == 6 and few.params["subpixel"] == "poly"
    assert few.reciprocal_pixel_size == 0.05 and few.g_units == "1/nm"
    np.testing.assert_allclose(few.g_vectors, base.g_vectors * 0.05, rtol=1e-2)


def test_error_signal_with_wrong_axes():
    hs = pytest.importorskip("hyperspy.api")
    with pytest.raises(InputShapeError, match="2 navigation and 2 signal axes"):
        ss.fourd_strain(hs.signals.Signal2D(np.zeros((3, 16, 16))))


@pytest.mark.gpu
def test_cupy_backend_matches_numpy(small_data):
    pytest.importorskip("cupy")
    cube, probe, truth = small_data
    a = ss.fourd_strain(cube, probe, reference=truth["reference_mask"], progress=False)
    b = ss.fourd_strain(
        cube, probe, reference=truth["reference_mask"], progress=False, backend="cupy"
    )
    for k in ("exx", "eyy", "exy", "rotation"):
        np.testing.assert_allclose(getattr(b, k), getattr(a, k), atol=1e-5)


@pytest.mark.parametrize("batch", [4, 7, 10, 30])
def test_iter_batches_covers_every_pattern_in_order(batch):
    from stemstrain.fourd._input import iter_batches

    c = np.arange(3 * 10 * 2 * 2, dtype=np.uint16).reshape(3, 10, 2, 2)
    for cube in (c, np.asfortranarray(c), c[:, 1:9]):
        flat = np.ascontiguousarray(cube).reshape(-1, 2, 2)
        got = np.zeros(flat.shape, np.float32)
        seen = 0
        for i0, blk in iter_batches(cube, batch):
            assert blk.shape[0] <= batch and blk.dtype == np.float32
            got[i0 : i0 + blk.shape[0]] = blk
            seen += blk.shape[0]
        assert seen == flat.shape[0]
        np.testing.assert_array_equal(got, flat)
