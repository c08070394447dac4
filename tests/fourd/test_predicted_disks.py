"""FourDStrainResult.predicted_disks and fourd_probe (what the napari widget draws)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import stemstrain as ss
from stemstrain.synthetic import fourd_dataset


@pytest.fixture(scope="module")
def small_cube():
    cube, probe, truth = fourd_dataset((6, 6), (64, 64), g_length_px=14, disk_radius_px=3)
    return cube, probe, truth


def test_predicted_disks_lie_on_detected_disks(small_cube):
    cube, probe, truth = small_cube
    res = ss.fourd_strain(cube, probe, reference=truth["reference_mask"], progress=False)
    pred = res.predicted_disks(2, 3, cube.shape[-2:])
    found = ss.find_disks(np.asarray(cube[2, 3], dtype=np.float32), probe)[["x", "y"]].to_numpy()
    assert len(pred) >= 9 and len(found) >= 5
    d = np.hypot(*(found[:, None] - pred[None]).transpose(2, 0, 1)).min(axis=1)
    assert np.median(d) < 0.3
    # a position where the fit failed predicts nothing
    g_map = res.g_map.copy()
    g_map[0, 0] = np.nan
    broken = dataclasses.replace(res, g_map=g_map)
    assert broken.predicted_disks(0, 0, cube.shape[-2:]).shape == (0, 2)


def test_fourd_probe_has_the_disk_radius(small_cube):
    cube, probe, _ = small_cube
    est = ss.fourd_probe(cube)
    assert est.shape == cube.shape[-2:]
    radius = np.sqrt(est.sum() / np.pi)  # soft disk: area = pi r^2
    assert radius == pytest.approx(3.0, abs=0.6)
    assert np.array_equal(ss.fourd_probe(cube, probe), np.asarray(probe, dtype=np.float64))
    with pytest.raises(ss.InputShapeError):
        ss.fourd_probe(cube, np.ones((8, 8)))
