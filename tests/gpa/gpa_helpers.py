"""Helpers of the GPA tests: exact reciprocal lattice of the generator, evaluation regions."""

from __future__ import annotations

import numpy as np

from stemstrain.synthetic import fields

ANGLE = 12.0
PX = 0.02
A_SP, C_SP = 0.244, 0.468


def reciprocal_basis(angle_deg: float) -> np.ndarray:
    """Exact (003) and in-plane g (1/nm) of the generator's O3 lattice at angle_deg."""
    t, n = fields.layer_frame(angle_deg)
    return np.array([n / C_SP, t / A_SP - n / (3 * C_SP)])


def truth_region(s, res_nm: float, *, step_along_t: bool = False, edge_px: int = 64):
    """Pixels away from the image edges (and +-2 resolutions from a step at s = 0)."""
    h, w = s.shape
    yy, xx = np.mgrid[0:h, 0:w]
    sel = (xx >= edge_px) & (xx < w - edge_px) & (yy >= edge_px) & (yy < h - edge_px)
    if step_along_t:
        t, _ = fields.layer_frame(s.angle_deg)
        xn, yn = s.pixel_to_nm(xx, yy)
        sel &= np.abs(xn * t[0] + yn * t[1]) > 2 * res_nm
    return sel
