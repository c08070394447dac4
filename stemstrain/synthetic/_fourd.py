"""Synthetic 4D-STEM (nanobeam diffraction) with analytic strain/rotation truth.

:func:`fourd_dataset` builds a cube ``(scan_y, scan_x, det_y, det_x)`` of diffraction
patterns from a hexagonal (or rectangular) crystal whose real-space lattice is deformed
by a known displacement gradient ``D(x, y)`` at each scan position: a strain ramp, a
strain step and a rotation field, zero in a reference region (the left quarter of the
scan). Disks of finite radius (a soft-edged vacuum probe) sit at the reciprocal lattice
points, Poisson noise on top.

Physics: with real-space lattice vectors ``A = [a1 a2]`` (columns) deformed as
``A = (I + D) A0``, the reciprocal lattice ``G = A^{-T}`` transforms with the inverse
transpose, ``G = (I + D)^{-T} G0``. Truth maps follow API.md: ``exx = D[0, 0]``,
``eyy = D[1, 1]``, ``exy = (D[0, 1] + D[1, 0]) / 2``, ``rotation = (D[0, 1] - D[1, 0]) / 2``
(counter-clockwise as displayed, y down) in the frame of the scan (x = scan column).

Detector geometry: a reciprocal vector ``g_scan`` in the scan frame lands on the detector
at ``g_det = R(-detector_rotation) g_scan``, then (x, y) swapped when ``detector_flip``,
then stretched by the elliptical distortion ``detector_ellipse=(a, b, theta_deg)`` (a circle
of radius a becomes an ellipse with semi-axes a along theta and b across);
stemstrain's ``fourd_strain(geometry=DetectorGeometry(...))`` (same names) inverts this.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["fourd_dataset", "fourd_truth_gradient", "write_fourd_memmap", "soft_disk"]


def soft_disk(shape, center_xy, radius_px, edge_px=0.6, dtype=np.float32) -> np.ndarray:
    """Render a disk of ``radius_px`` with a logistic edge of width ``edge_px`` at ``center_xy``."""
    yy, xx = np.indices(shape, dtype=np.float64)
    r = np.hypot(xx - center_xy[0], yy - center_xy[1])
    return (0.5 * (1.0 - np.tanh((r - radius_px) / (2.0 * edge_px)))).astype(dtype)


def fourd_truth_gradient(scan_shape, *, ramp=0.01, step=0.006, rotation=0.01, shear=0.004):
    """Displacement gradient ``D`` (scan_y, scan_x, 2, 2) of the default synthetic fields.

    Zero in the reference region ``x < scan_x / 4``. Beyond it: ``exx`` ramps linearly
    from 0 to ``ramp`` across the scan; ``eyy`` steps to ``step`` in the lower half;
    ``rotation`` ramps with y up to ``rotation`` (rad); ``exy`` ramps with x·y up to ``shear``.
    """
    ny, nx = scan_shape
    y, x = np.meshgrid(np.arange(ny, dtype=float), np.arange(nx, dtype=float), indexing="ij")
    x0 = nx / 4.0
    fx = np.clip((x - x0 + 1) / max(nx - x0, 1), 0, 1) * (x >= x0)
    fy = y / max(ny - 1, 1)
    exx = ramp * fx
    eyy = step * ((y >= ny / 2) & (x >= x0))
    rot = rotation * fy * (x >= x0)
    exy = shear * fx * fy
    d = np.zeros((ny, nx, 2, 2))
    d[..., 0, 0] = exx
    d[..., 1, 1] = eyy
    d[..., 0, 1] = exy + rot
    d[..., 1, 0] = exy - rot
    return d


def _reciprocal_basis(lattice, g_length_px, g_angle_deg):
    a = np.deg2rad(g_angle_deg)
    g1 = g_length_px * np.array([np.cos(a), np.sin(a)])
    if lattice == "hexagonal":
        b = a + np.deg2rad(60.0)
        g2 = g_length_px * np.array([np.cos(b), np.sin(b)])
    elif lattice == "rectangular":
        b = a + np.deg2rad(90.0)
        g2 = 1.35 * g_length_px * np.array([np.cos(b), np.sin(b)])
    else:
        raise ValueError(f"lattice must be 'hexagonal' or 'rectangular', got {lattice!r}")
    return np.stack([g1, g2], axis=1)  # columns g1, g2 in (x, y) detector px


def ellipse_matrix(a, b, theta_deg):
    """Linear map taking a circle of radius ``a`` to the ellipse (a along theta, b across)."""
    t = np.deg2rad(theta_deg)
    r = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return r @ np.diag([1.0, b / a]) @ r.T


def _detector_matrix(rotation_deg, flip, ellipse=None):
    """Matrix taking scan-frame vectors to detector-frame vectors."""
    t = np.deg2rad(rotation_deg)
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])  # R(-t)
    swap = np.array([[0.0, 1.0], [1.0, 0.0]]) if flip else np.eye(2)
    dist = np.eye(2) if ellipse is None else ellipse_matrix(*ellipse)
    return dist @ swap @ rot


def _render(centers, amps, det_shape, radius, edge, window):  # noqa: PLR0913
    """Sum soft disks: centers (B, J, 2) xy px, amps (J,) -> (B, H, W) float64."""
    b, j = centers.shape[:2]
    h, w = det_shape
    off = np.arange(-window, window + 1)
    oy, ox = np.meshgrid(off, off, indexing="ij")
    cx = np.floor(centers[..., 0]).astype(int)
    cy = np.floor(centers[..., 1]).astype(int)
    px = cx[..., None, None] + ox  # (B, J, S, S)
    py = cy[..., None, None] + oy
    r = np.hypot(px - centers[..., 0, None, None], py - centers[..., 1, None, None])
    val = amps[None, :, None, None] * 0.5 * (1.0 - np.tanh((r - radius) / (2.0 * edge)))
    ok = (px >= 0) & (px < w) & (py >= 0) & (py < h)
    flat = (np.arange(b)[:, None, None, None] * h + py) * w + px
    out = np.bincount(flat[ok], weights=val[ok], minlength=b * h * w)
    return out.reshape(b, h, w)


def _disk_list(g0, det_shape, radius):
    """(h, k) of reciprocal lattice points within the detector (plus margin) and amplitudes."""
    h, w = det_shape
    half = 0.5 * np.hypot(h, w) + radius
    gmin = min(np.linalg.norm(g0[:, 0]), np.linalg.norm(g0[:, 1]))
    n = int(np.ceil(2 * half / gmin)) + 2
    hh, kk = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
    hk = np.stack([hh.ravel(), kk.ravel()], axis=1)
    vec = hk @ g0.T
    keep = (np.abs(vec[:, 0]) < w / 2 + radius + 2) & (np.abs(vec[:, 1]) < h / 2 + radius + 2)
    hk = hk[keep]
    gl = np.linalg.norm(hk @ g0.T, axis=1)
    # smooth fall-off with |g| plus a fixed pseudo-random structure factor per (h, k)
    sf = 0.55 + 0.45 * np.abs(np.sin(1.7 * hk[:, 0] + 2.3 * hk[:, 1] + 0.4))
    amp = 0.35 * sf * np.exp(-0.5 * (gl / (0.9 * gmin * 1.8)) ** 2)
    amp[(hk == 0).all(axis=1)] = 1.0
    return hk, amp


def fourd_dataset(  # noqa: PLR0913
    scan_shape=(24, 24),
    detector_shape=(96, 96),
    *,
    lattice="hexagonal",
    g_length_px=21.0,
    g_angle_deg=12.0,
    disk_radius_px=4.0,
    edge_px=0.6,
    dose=2.0e4,
    ramp=0.01,
    step=0.006,
    rotation=0.01,
    shear=0.004,
    descan_px=(1.5, -1.0),
    detector_rotation_deg=0.0,
    detector_flip=False,
    detector_ellipse=None,
    background=0.02,
    seed=0,
):
    """Synthetic 4D-STEM cube with a hexagonal reciprocal lattice and known strain.

    Parameters
    ----------
    scan_shape, detector_shape : tuple of int
        ``(scan_y, scan_x)`` and ``(det_y, det_x)``. The default cube is 24×24×96×96
        uint16 (10.6 MB raw, a few MB compressed).
    lattice : {"hexagonal", "rectangular"}
        Reciprocal lattice of the unstrained crystal.
    g_length_px, g_angle_deg : float
        Length (detector px) and angle (from +x towards +y, degrees) of g1 in the scan frame.
    disk_radius_px, edge_px : float
        Disk (convergence) radius and logistic edge width, detector px.
    dose : float
        Expected electrons in the central (000) disk per pattern; Poisson noise.
        ``dose=0`` gives the noise-free float pattern scaled to 1000 per unit amplitude.
    ramp, step, rotation, shear : float
        Amplitudes of the fields of :func:`fourd_truth_gradient`.
    descan_px : tuple of float
        Shift (x, y) of the pattern origin across the full scan (linear, detector px).
    detector_rotation_deg, detector_flip, detector_ellipse :
        Geometry from the scan frame to the detector (module docstring); the ellipse is
        ``(a, b, theta_deg)`` or None.
    background : float
        Diffuse background (fraction of the (000) disk amplitude), a broad Gaussian.
    seed : int
        Seed of the noise.

    Returns
    -------
    cube : ndarray, uint16 (float32 when ``dose=0``), shape scan_shape + detector_shape
    probe : ndarray, float32, detector_shape
        Noise-free vacuum probe centred on the detector, peak 1.
    truth : dict
        ``exx, eyy, exy, rotation`` (scan_shape), ``gradient`` (scan_shape + (2, 2)),
        ``g0`` (2, 2) reference reciprocal basis (columns g1, g2) in the scan frame (px),
        ``g_det`` (scan_shape + (2, 2)) per-position basis on the detector, ``origin``
        (scan_shape + (2,)) (x, y) px, ``hk`` (J, 2) and ``peaks`` (scan_shape + (J, 2)) true
        disk centres (x, y) on the detector, ``reference_mask`` (bool, scan_shape), ``radius``.
    """
    ny, nx = scan_shape
    det_shape = tuple(int(s) for s in detector_shape)
    g0 = _reciprocal_basis(lattice, g_length_px, g_angle_deg)
    grad = fourd_truth_gradient(scan_shape, ramp=ramp, step=step, rotation=rotation, shear=shear)
    f_inv_t = np.linalg.inv(np.eye(2) + grad).transpose(0, 1, 3, 2)
    m = _detector_matrix(detector_rotation_deg, detector_flip, detector_ellipse)
    g_det = m @ f_inv_t @ g0  # (ny, nx, 2, 2)
    hk, amp = _disk_list(g0, det_shape, disk_radius_px)
    yy, xx = np.meshgrid(np.linspace(0, 1, ny), np.linspace(0, 1, nx), indexing="ij")
    centre = np.array([(det_shape[1] - 1) / 2.0, (det_shape[0] - 1) / 2.0])
    origin = centre + np.stack([descan_px[0] * (xx - 0.5), descan_px[1] * (yy - 0.5)], axis=-1)
    peaks = origin[..., None, :] + np.einsum("yxij,nj->yxni", g_det, hk)
    window = int(np.ceil(disk_radius_px + 4 * edge_px)) + 1
    rng = np.random.default_rng(seed)
    cube = np.empty((ny, nx) + det_shape, dtype=np.float32 if dose == 0 else np.uint16)
    bg = None
    if background > 0:
        by, bx = np.indices(det_shape)
        bg = background * np.exp(-0.5 * ((bx - centre[0]) ** 2 + (by - centre[1]) ** 2)
                                 / (0.35 * min(det_shape)) ** 2)
    flat_peaks = peaks.reshape(ny * nx, -1, 2)
    per = max(1, 4096 // len(hk))
    for i0 in range(0, ny * nx, per):
        pats = _render(flat_peaks[i0:i0 + per], amp, det_shape, disk_radius_px, edge_px, window)
        if bg is not None:
            pats += bg
        if dose == 0:
            cube.reshape(ny * nx, *det_shape)[i0:i0 + per] = 1000.0 * pats
        else:
            scale = dose / (np.pi * disk_radius_px**2)
            counts = rng.poisson(np.clip(pats * scale, 0, None))
            cube.reshape(ny * nx, *det_shape)[i0:i0 + per] = np.minimum(counts, 65535)
    probe = soft_disk(det_shape, centre, disk_radius_px, edge_px)
    exx, eyy = grad[..., 0, 0], grad[..., 1, 1]
    truth = {
        "exx": exx,
        "eyy": eyy,
        "exy": 0.5 * (grad[..., 0, 1] + grad[..., 1, 0]),
        "rotation": 0.5 * (grad[..., 0, 1] - grad[..., 1, 0]),
        "gradient": grad,
        "g0": g0,
        "g_det": g_det,
        "origin": origin,
        "hk": hk,
        "peaks": peaks,
        "reference_mask": np.arange(nx)[None, :].repeat(ny, 0) < nx / 4.0,
        "radius": float(disk_radius_px),
    }
    return cube, probe, truth


def write_fourd_memmap(path, scan_shape, detector_shape=(128, 128), *, tile=(32, 32),
                       seed=0, **kwargs):
    """Write a large uint16 cube to a raw ``.npy`` memmap by tiling a synthetic tile.

    A ``tile``-sized :func:`fourd_dataset` (with its own strain fields and noise) is
    rendered once and repeated across ``scan_shape`` (which must be a multiple of the
    tile), row block by row block, so the writer itself needs only ~2 tiles of memory.

    Returns
    -------
    cube : numpy.memmap (read-only), probe : ndarray, truth : dict
        ``truth`` holds the tiled ``exx, eyy, exy, rotation`` maps.
    """
    ty, tx = tile
    ny, nx = scan_shape
    if ny % ty or nx % tx:
        raise ValueError(f"scan_shape {scan_shape} must be a multiple of tile {tile}")
    tile_cube, probe, tile_truth = fourd_dataset(tile, detector_shape, seed=seed, **kwargs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint16,
                                    shape=(ny, nx) + tuple(detector_shape))
    row_block = np.tile(tile_cube, (1, nx // tx, 1, 1))
    from ..fourd._input import _release_pages  # noqa: PLC0415

    for r0 in range(0, ny, ty):
        out[r0:r0 + ty] = row_block
        out.flush()
        _release_pages(out[r0:r0 + ty])  # written pages leave this process's RSS
    del out, row_block
    os.sync() if hasattr(os, "sync") else None
    truth = {k: np.tile(tile_truth[k], (ny // ty, nx // tx))
             for k in ("exx", "eyy", "exy", "rotation", "reference_mask")}
    truth["g0"] = tile_truth["g0"]
    return np.load(path, mmap_mode="r"), probe, truth
