"""Large images are tiled; where the crystal is sparse (particles) the tiles are refined."""

from __future__ import annotations

import numpy as np
import pytest
from latticemap_helpers import column_image, square_basis

import stemstrain as ss

PX = 0.02
N = 1152  # above the ~1100^2 px where lattice_map tiles by default
R = 230  # particle radius, px


def test_sparse_particle_is_refined_at_half_steps_and_vacuum_stays_empty():
    lat = column_image(
        (N, N),
        square_basis(0.39, 12.0),
        PX,
        region=lambda x, y: (x - 400) ** 2 + (y - 700) ** 2 < R**2,
    )
    img = np.random.default_rng(0).poisson((lat + 0.5) * 50).astype(np.float32)
    m = ss.lattice_map(img, PX)
    assert m.step_px == m.window_px // 2  # refined
    gy, gx = np.meshgrid(m.grid_y, m.grid_x, indexing="ij")
    r = np.hypot(gx - 400, gy - 700)
    core = r < R - m.window_px / np.sqrt(2)
    far = r > R + m.window_px / np.sqrt(2)
    assert core.sum() >= 4 and m.lattice_2d[core].all()
    assert not m.crystalline[far].any()
    d = m.spacings_nm[core]
    assert np.allclose(d, 0.39, rtol=0.01)


def test_dense_crystal_keeps_tiles():
    img = column_image((N, N), square_basis(0.39, 12.0), PX, dose=50.0)
    m = ss.lattice_map(img, PX)
    assert m.step_px == m.window_px and m.crystalline_fraction == 1.0


# ---------------------------------------------------------------- survey=True
def test_survey_maps_every_other_window_of_a_dense_crystal():
    img = column_image((320, 320), square_basis(0.39, 12.0), PX, dose=50.0)
    full = ss.lattice_map(img, PX)
    m = ss.lattice_map(img, PX, survey=True)
    assert m.window_px == full.window_px and m.step_px == 2 * m.window_px
    assert np.all(np.diff(m.grid_x) == m.step_px) and len(m.grid_x) < len(full.grid_x)
    assert m.crystalline.all() and np.allclose(m.spacings_nm, 0.39, rtol=0.01)
    o = np.degrees(np.nanmedian(m.orientation)) % 90  # 12 deg, either sense of display
    assert min(o, 90 - o) == pytest.approx(12.0, abs=0.3)


def test_survey_of_a_sparse_crystal_is_the_default_map():
    """A particle on a small fraction of the field: the survey grid could miss it."""
    inside = lambda x, y: (x - 150) ** 2 + (y - 330) ** 2 < 70**2  # noqa: E731
    lat = column_image((512, 512), square_basis(0.39, 12.0), PX, region=inside)
    img = np.random.default_rng(1).poisson((lat + 0.5) * 50).astype(np.float32)
    full = ss.lattice_map(img, PX)
    m = ss.lattice_map(img, PX, survey=True)
    assert m.step_px == full.step_px == full.window_px // 2
    assert np.array_equal(m.g, full.g, equal_nan=True) and np.array_equal(m.grains, full.grains)
    assert 0 < m.crystalline_fraction < 0.4


def test_survey_option_errors():
    img = column_image((128, 128), square_basis(0.39, 0.0), PX)
    with pytest.raises(ss.StemstrainError, match="survey=True sets the grid step"):
        ss.lattice_map(img, PX, survey=True, step_nm=0.5)
    with pytest.raises(TypeError, match="survey must be True or False"):
        ss.lattice_map(img, PX, survey="yes")
