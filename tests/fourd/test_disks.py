import numpy as np
import pytest

from stemstrain import InputShapeError, StemstrainError
from stemstrain.fourd import DetectorGeometry, DiskDetection, find_disks, make_kernel
from stemstrain.fourd._disks import detect_batch
from stemstrain.synthetic._fourd import fourd_dataset

requires_cupy = pytest.mark.gpu


@pytest.fixture(scope="module")
def clean():
    return fourd_dataset((3, 4), (128, 128), g_length_px=26.0, disk_radius_px=5.0, dose=0)


def _match(df, truth_peaks, det=128, margin=7):
    errs = []
    for idx, grp in df.groupby("index"):
        tp = truth_peaks.reshape(-1, truth_peaks.shape[-2], 2)[idx]
        inside = ((tp > margin) & (tp < det - 1 - margin)).all(1)
        tp = tp[inside]
        p = grp[["x", "y"]].to_numpy()
        d = np.linalg.norm(p[:, None] - tp[None], axis=-1)
        assert (d.min(0) < 1.0).all(), "every interior disk is found"
        errs.append(p[d.argmin(0)] - tp)
    return np.concatenate(errs)


@pytest.mark.parametrize(
    "subpixel,tol", [("quadratic", 0.05), ("poly", 0.05), ("gaussian", 0.05), ("none", 0.75)]
)
def test_find_disks_positions_against_truth(clean, subpixel, tol):
    cube, probe, truth = clean
    df = find_disks(cube, probe, detection=DiskDetection(subpixel=subpixel))
    assert {"index", "scan_y", "scan_x", "x", "y", "intensity"} <= set(df.columns)
    err = _match(df, truth["peaks"])
    assert np.abs(err).max() < tol
    if subpixel != "none":
        assert np.sqrt((err**2).mean()) < 0.015


@pytest.mark.parametrize("kernel", ["ring", "flat"])
def test_hybrid_correlation_finds_all_disks(clean, kernel):
    # hybrid correlation trades accuracy for robustness to uneven disk interiors:
    # on these patterns it is good to ~0.3 px (cross correlation: ~0.01 px)
    cube, probe, truth = clean
    df = find_disks(cube[:1, :2], probe, detection=DiskDetection(corr_power=0.8, kernel=kernel))
    err = _match(df, truth["peaks"][:1, :2])
    assert np.abs(err).max() < 0.4
    assert np.sqrt((err**2).mean()) < 0.15


def test_phase_correlation_strongest_peak_is_the_central_disk(clean):
    cube, probe, truth = clean
    df = find_disks(cube[:1, :1], probe, detection=DiskDetection(corr_power=0.0, kernel="flat"))
    np.testing.assert_allclose(df[["x", "y"]].to_numpy()[0], truth["origin"][0, 0], atol=0.1)


def test_find_disks_single_pattern_and_stack(clean):
    cube, probe, truth = clean
    one = find_disks(cube[1, 2], probe)
    stack = find_disks(cube.reshape(-1, 128, 128), probe)
    assert set(one["index"]) == {0}
    full = stack[stack["index"] == 6][["x", "y"]].to_numpy()
    np.testing.assert_allclose(one[["x", "y"]].to_numpy(), full, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_detect_batch_dtype_and_order(clean, dtype):
    cube, probe, _ = clean
    k = make_kernel(probe, dtype=dtype)
    assert k.kernel_ft.dtype == (np.complex64 if dtype == np.float32 else np.complex128)
    xy, inten, valid = detect_batch(np, cube[0].astype(dtype), k)
    assert xy.shape[:2] == inten.shape == valid.shape
    # strongest first: the (000) disk leads
    np.testing.assert_allclose(xy[:, 0], [[63.5, 63.5]] * 4, atol=1.5)
    assert np.all(np.diff(inten, axis=1)[valid[:, 1:]] <= 0)


def test_matches_py4dstem_find_bragg_disks(clean):
    """Same data, same kernel: py4DSTEM 'poly' and ours agree within 0.1 px."""
    py4DSTEM = pytest.importorskip("py4DSTEM")
    from py4DSTEM.braggvectors.diskdetection import find_Bragg_disks

    cube, probe, truth = clean
    k = make_kernel(probe, kind="ring", sigma_cc_px=0.0)
    dc = py4DSTEM.DataCube(cube[:1, :3].astype(np.float32))
    ours = find_disks(
        cube[:1, :3],
        probe,
        detection=DiskDetection(subpixel="poly", sigma_cc_px=2.0, min_relative_intensity=0.005),
    )
    for j in range(3):
        q = find_Bragg_disks(
            (dc, 0, j),
            template=k.kernel,
            corrPower=1,
            sigma_cc=2,
            subpixel="poly",
            minRelativeIntensity=0.005,
            minPeakSpacing=5,
            edgeBoundary=6,
            maxNumPeaks=64,
        )
        theirs = np.column_stack([q.data["qy"], q.data["qx"]])  # py4DSTEM qx = row
        mine = ours[ours["index"] == j][["x", "y"]].to_numpy()
        d = np.linalg.norm(mine[:, None] - theirs[None], axis=-1)
        assert d.min(1).max() < 0.1  # each of ours is one of theirs within 0.1 px
        inner = ((theirs > 8) & (theirs < 119)).all(1)  # edge exclusions differ by a pixel
        assert d.min(0)[inner].max() < 0.1
        assert len(mine) >= 15


def test_find_disks_errors(clean):
    cube, probe, _ = clean
    with pytest.raises(InputShapeError, match="2-D, 3-D or 4-D"):
        find_disks(np.zeros(5), probe)
    with pytest.raises(InputShapeError, match="detector shape"):
        find_disks(cube, probe[:64, :64])
    with pytest.raises(StemstrainError, match="subpixel"):
        find_disks(cube, probe, detection=DiskDetection(subpixel="spline"))
    with pytest.raises(StemstrainError, match="kernel"):
        find_disks(cube, probe, detection=DiskDetection(kernel="sigmoid"))
    with pytest.raises(StemstrainError, match="kernel must be 'ring' or 'flat'"):
        make_kernel(probe, kind="sigmoid")
    with pytest.raises(StemstrainError, match="corr_power"):
        find_disks(cube, probe, detection=DiskDetection(corr_power=2.0))
    with pytest.raises(StemstrainError, match="max_peaks"):
        find_disks(cube, probe, detection=DiskDetection(max_peaks=1))
    with pytest.raises(StemstrainError, match="detection must be a DiskDetection"):
        find_disks(cube, probe, detection={"max_peaks": 8})
    with pytest.raises(StemstrainError, match="positive intensity"):
        find_disks(cube, np.zeros_like(probe))
    with pytest.raises(InputShapeError, match="2-D image"):
        make_kernel(probe[None])


@pytest.mark.parametrize(
    "field,value",
    [
        ("subpixel", "spline"),
        ("corr_power", -0.1),
        ("corr_power", 1.5),
        ("kernel", "sigmoid"),
        ("max_peaks", 2),
        ("batch_patterns", 0),
        ("n_basis_samples", 0),
    ],
)
def test_disk_detection_validation(field, value):
    with pytest.raises(StemstrainError, match=field):
        DiskDetection(**{field: value})


def test_disk_detection_defaults_and_frozen():
    d = DiskDetection()
    assert (
        d.subpixel,
        d.corr_power,
        d.kernel,
        d.sigma_cc_px,
        d.min_relative_intensity,
        d.max_peaks,
        d.batch_patterns,
        d.n_basis_samples,
    ) == ("quadratic", 1.0, "ring", 2.0, 0.005, 64, 256, 256)
    with pytest.raises(AttributeError):
        d.max_peaks = 3  # frozen
    assert DiskDetection(max_peaks=8.0).max_peaks == 8  # counts become ints


@pytest.mark.parametrize(
    "field,value,msg",
    [
        ("ellipse", (1.0, 0.9), "ellipse must be"),
        ("ellipse", (1.0, 0.0, 0.0), "ellipse semi-axes"),
        ("reciprocal_pixel_size", 0.0, "reciprocal_pixel_size"),
        ("reciprocal_pixel_size", "0.1", "reciprocal_pixel_size"),
        ("detector_rotation_deg", "thirty", "detector_rotation_deg"),
        ("detector_flip", "yes", "detector_flip"),
    ],
)
def test_detector_geometry_validation(field, value, msg):
    with pytest.raises(StemstrainError, match=msg):
        DetectorGeometry(**{field: value})


def test_max_peaks_limits_peaks_per_pattern(clean):
    cube, probe, _ = clean
    full = find_disks(cube, probe)
    assert full.groupby("index").size().min() > 5  # ~20 disks per pattern by default
    few = find_disks(cube, probe, detection=DiskDetection(max_peaks=5))
    counts = few.groupby("index").size()
    assert (counts == 5).all() and len(counts) == cube.shape[0] * cube.shape[1]
    # the strongest 5 of the default run, in the same order
    top = full.groupby("index").head(5)
    np.testing.assert_allclose(few[["x", "y"]].to_numpy(), top[["x", "y"]].to_numpy(), atol=1e-9)


def test_batch_patterns_does_not_change_peaks(clean):
    cube, probe, _ = clean
    a = find_disks(cube, probe)
    b = find_disks(cube, probe, detection=DiskDetection(batch_patterns=5))
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


@requires_cupy
def test_cupy_matches_numpy(clean):
    pytest.importorskip("cupy")
    cube, probe, _ = clean
    a = find_disks(cube, probe)
    b = find_disks(cube, probe, backend="cupy")
    np.testing.assert_allclose(a[["x", "y"]].to_numpy(), b[["x", "y"]].to_numpy(), atol=1e-3)
