import numpy as np
import pytest

from stemstrain.synthetic._fourd import fourd_dataset, fourd_truth_gradient, write_fourd_memmap


def test_default_dataset_shapes_and_size(default_data):
    cube, probe, truth = default_data
    assert cube.shape == (24, 24, 96, 96)
    assert cube.dtype == np.uint16
    assert cube.nbytes < 11e6
    assert probe.shape == (96, 96)
    for k in ("exx", "eyy", "exy", "rotation"):
        assert truth[k].shape == (24, 24)
        assert np.all(truth[k][truth["reference_mask"]] == 0)
    # the fields are really present outside the reference region
    assert truth["exx"].max() == pytest.approx(0.01, rel=1e-6)
    assert truth["eyy"].max() == pytest.approx(0.006)
    assert np.abs(truth["rotation"]).max() == pytest.approx(0.01)


def test_reciprocal_lattice_is_inverse_transpose_of_real_deformation():
    cube, probe, truth = fourd_dataset((4, 8), (64, 64), g_length_px=14, disk_radius_px=3, dose=0)
    grad = truth["gradient"]
    g0 = truth["g0"]
    a0 = np.linalg.inv(g0).T  # real-space basis (columns) of the reference
    a = (np.eye(2) + grad) @ a0  # deformed real-space basis
    g = np.linalg.inv(a).swapaxes(-1, -2)
    np.testing.assert_allclose(truth["g_det"], g, atol=1e-12)
    # a_i . g_j = delta_ij in the deformed state
    np.testing.assert_allclose(
        np.swapaxes(a, -1, -2) @ truth["g_det"], np.broadcast_to(np.eye(2), grad.shape), atol=1e-12
    )


def test_rotation_field_rotates_pattern_counter_clockwise_as_displayed():
    # a pure +theta rotation (API: rotation = (du_x/dy - du_y/dx)/2, CCW as displayed, y down)
    theta = 0.05
    _, _, truth = fourd_dataset(
        (2, 8),
        (64, 64),
        g_length_px=14,
        disk_radius_px=3,
        ramp=0,
        step=0,
        shear=0,
        rotation=theta,
        dose=0,
    )
    iy, ix = 1, 7
    assert truth["rotation"][iy, ix] == pytest.approx(theta)
    g_ref, g = truth["g0"][:, 0], truth["g_det"][iy, ix][:, 0]
    # as displayed (y down) a CCW turn decreases the screen angle atan2(-y, x)... i.e.
    # the maths angle measured with y up increases: atan2(-gy, gx) grows by theta
    ang = np.arctan2(-g[1], g[0]) - np.arctan2(-g_ref[1], g_ref[0])
    assert ang == pytest.approx(np.arctan(theta), rel=1e-9)  # I + D = sqrt(1+t^2) R(atan t)


def test_peaks_are_where_the_disks_are():
    cube, probe, truth = fourd_dataset(
        (1, 2), (64, 64), g_length_px=14, disk_radius_px=3, dose=0, background=0
    )
    pat = cube[0, 1]
    ox, oy = truth["origin"][0, 1]
    # the (000) disk's centroid is the true origin
    yy, xx = np.indices(pat.shape)
    win = np.hypot(xx - ox, yy - oy) < 5
    w = pat * win
    assert (w * xx).sum() / w.sum() == pytest.approx(ox, abs=0.02)
    assert (w * yy).sum() / w.sum() == pytest.approx(oy, abs=0.02)


def test_truth_gradient_zero_in_reference():
    d = fourd_truth_gradient((6, 8))
    assert np.all(d[:, :2] == 0)
    assert np.any(d[:, 2:] != 0)


def test_memmap_writer_tiles(tmp_path):
    cube, probe, truth = write_fourd_memmap(
        tmp_path / "c.npy", (16, 16), (32, 32), tile=(8, 8), g_length_px=8, disk_radius_px=2
    )
    assert isinstance(cube, np.memmap)
    assert cube.shape == (16, 16, 32, 32) and cube.dtype == np.uint16
    np.testing.assert_array_equal(cube[:8, :8], cube[8:, 8:])
    assert truth["exx"].shape == (16, 16)
    with pytest.raises(ValueError, match="multiple of tile"):
        write_fourd_memmap(tmp_path / "d.npy", (10, 16), (32, 32), tile=(8, 8))


def test_bad_lattice_name():
    with pytest.raises(ValueError, match="lattice"):
        fourd_dataset((2, 2), (32, 32), lattice="cubic")
