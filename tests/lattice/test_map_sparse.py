"""Large images are tiled; where the crystal is sparse (particles) the tiles are refined."""

from __future__ import annotations

import numpy as np
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
