"""Analytic test images for lattice_map: sums of cosines / Gaussian columns with exact g."""

from __future__ import annotations

import numpy as np


def rot(theta_deg: float) -> np.ndarray:
    """Rotation matrix (counter-clockwise in array x, y coordinates)."""
    t = np.radians(theta_deg)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def column_image(
    shape,
    basis_nm,
    pixel_size,
    *,
    sigma_nm=0.04,
    dose=None,
    seed=0,
    region=None,
    origin=(0.0, 0.0),
    weight=None,
):
    """Gaussian columns on the real-space lattice dual to ``basis_nm`` (rows g, 1/nm).

    ``region(x_px, y_px) -> bool`` keeps only columns inside; ``weight(i, j) -> array``
    scales column (i a1 + j a2) (a superstructure). Returns counts (float64).
    """
    h, w = shape
    real = np.linalg.inv(np.asarray(basis_nm, float)).T  # rows a1, a2 (nm), a_i . g_j = d_ij
    a_px = real / pixel_size
    span = np.hypot(h, w)
    nmax = int(span / np.linalg.norm(a_px, axis=1).min()) + 2
    i, j = np.meshgrid(np.arange(-nmax, nmax + 1), np.arange(-nmax, nmax + 1))
    pos = i.ravel()[:, None] * a_px[0] + j.ravel()[:, None] * a_px[1]
    x = pos[:, 0] + w / 2 + origin[0]
    y = pos[:, 1] + h / 2 + origin[1]
    s = sigma_nm / pixel_size
    keep = (x > -4 * s) & (x < w + 4 * s) & (y > -4 * s) & (y < h + 4 * s)
    if region is not None:
        keep &= region(x, y)
    amp = np.ones(len(x)) if weight is None else weight(i.ravel(), j.ravel())
    x, y, amp = x[keep], y[keep], amp[keep]
    img = np.zeros(shape)
    r = int(np.ceil(4 * s))
    oy, ox = np.mgrid[-r : r + 1, -r : r + 1]
    cx, cy = np.floor(x).astype(int), np.floor(y).astype(int)
    px_ = cx[:, None, None] + ox[None]
    py_ = cy[:, None, None] + oy[None]
    val = amp[:, None, None] * np.exp(
        -((px_ - x[:, None, None]) ** 2 + (py_ - y[:, None, None]) ** 2) / (2 * s * s)
    )
    ok = (px_ >= 0) & (px_ < w) & (py_ >= 0) & (py_ < h)
    np.add.at(img, (py_[ok], px_[ok]), val[ok])
    img += 0.05
    if dose is not None:
        img = np.random.default_rng(seed).poisson(img * dose).astype(float)
    return img


def square_basis(a_nm: float, theta_deg: float = 0.0, sx: float = 1.0) -> np.ndarray:
    """Reciprocal basis (rows, 1/nm) of a square lattice of period a, rotated, x stretched by sx."""
    real = np.array([[a_nm, 0.0], [0.0, a_nm]]) @ rot(theta_deg).T
    real = real * np.array([sx, 1.0])
    return np.linalg.inv(real).T
