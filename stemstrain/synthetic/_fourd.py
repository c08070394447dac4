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

__all__ = [
    "fourd_dataset",
    "fourd_truth_gradient",
    "write_fourd_memmap",
    "soft_disk",
    "two_phase_structures",
    "two_phase_truth",
    "two_phase_vectors",
    "two_phase_dataset",
]


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


def _render(centers, amps, det_shape, radius, edge, window):
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
        bg = background * np.exp(
            -0.5 * ((bx - centre[0]) ** 2 + (by - centre[1]) ** 2) / (0.35 * min(det_shape)) ** 2
        )
    flat_peaks = peaks.reshape(ny * nx, -1, 2)
    per = max(1, 4096 // len(hk))
    for i0 in range(0, ny * nx, per):
        pats = _render(flat_peaks[i0 : i0 + per], amp, det_shape, disk_radius_px, edge_px, window)
        if bg is not None:
            pats += bg
        if dose == 0:
            cube.reshape(ny * nx, *det_shape)[i0 : i0 + per] = 1000.0 * pats
        else:
            scale = dose / (np.pi * disk_radius_px**2)
            counts = rng.poisson(np.clip(pats * scale, 0, None))
            cube.reshape(ny * nx, *det_shape)[i0 : i0 + per] = np.minimum(counts, 65535)
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


def write_fourd_memmap(
    path, scan_shape, detector_shape=(128, 128), *, tile=(32, 32), seed=0, **kwargs
):
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
    out = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.uint16, shape=(ny, nx) + tuple(detector_shape)
    )
    row_block = np.tile(tile_cube, (1, nx // tx, 1, 1))
    from .._memory import release_pages

    for r0 in range(0, ny, ty):
        out[r0 : r0 + ty] = row_block
        out.flush()
        release_pages(out[r0 : r0 + ty])  # written pages leave this process's RSS
    del out, row_block
    os.sync() if hasattr(os, "sync") else None
    truth = {
        k: np.tile(tile_truth[k], (ny // ty, nx // tx))
        for k in ("exx", "eyy", "exy", "rotation", "reference_mask")
    }
    truth["g0"] = tile_truth["g0"]
    return np.load(path, mmap_mode="r"), probe, truth


# -- two phases ----------------------------------------------------------------------------
# Independent of stemstrain.fourd: zone-law spot lists (h u + k v + l w = 0, no excitation
# error), structure factors with f = Z, a hand-built in-plane frame. The analysis only sees
# the spot positions and intensities.


def two_phase_structures():
    """Layered LiCoO2 (R-3m, a = 0.2816, c = 1.405 nm) and spinel LiMn2O4 (Fd-3m, 0.8245 nm).

    Returns a list of two ``ase.Atoms`` (Å, as ASE builds them).
    """
    import warnings

    from ase.spacegroup import crystal

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        lco = crystal(
            ["Li", "Co", "O"],
            basis=[(0, 0, 0.5), (0, 0, 0), (0, 0, 0.2604)],
            spacegroup=166,
            cellpar=[2.816, 2.816, 14.05, 90, 90, 120],
        )
        spinel = crystal(
            ["Li", "Mn", "O"],
            basis=[(0, 0, 0), (0.625, 0.625, 0.625), (0.3875, 0.3875, 0.3875)],
            spacegroup=227,
            cellpar=[8.245, 8.245, 8.245, 90, 90, 90],
        )
    lco.info["name"], spinel.info["name"] = "LCO", "spinel"
    return [lco, spinel]


def _zone_spots_2d(atoms, uvw, angle_deg, g_max):
    """(g_xy (n, 2) in 1/nm, |F|² (n,)) of the zero-order Laue zone of ``uvw``, rotated."""
    cell = np.asarray(atoms.cell.array) / 10.0
    recip = np.linalg.inv(cell).T
    nmax = [int(np.ceil(g_max * np.linalg.norm(v))) + 1 for v in cell]
    hkl = np.stack(np.meshgrid(*[np.arange(-n, n + 1) for n in nmax], indexing="ij"), -1).reshape(
        -1, 3
    )
    hkl = hkl[(hkl @ np.asarray(uvw)) == 0]
    g = hkl @ recip
    q = np.linalg.norm(g, axis=1)
    hkl, g = hkl[(q > 0) & (q <= g_max)], g[(q > 0) & (q <= g_max)]
    f = np.exp(2j * np.pi * hkl @ atoms.get_scaled_positions().T) @ atoms.get_atomic_numbers()
    inten = np.abs(f) ** 2
    keep = inten > 1e-3 * inten.max()
    g, inten = g[keep], inten[keep] / inten.max()
    w = np.asarray(uvw, float) @ cell
    w /= np.linalg.norm(w)
    e1 = np.cross([0.0, 0.0, 1.0] if abs(w[2]) < 0.9 else [1.0, 0.0, 0.0], w)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(w, e1)
    xy = np.column_stack([g @ e1, g @ e2])
    t = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return xy @ rot.T, inten


def two_phase_truth(scan_shape=(12, 16), *, boundary=0.45, ramp=0.006, shear=0.002):
    """Label map (0 left of a sloped boundary, 1 right), per-phase reference masks and D.

    Each phase has its own strain field, zero on its reference strip (its first 3 columns):
    ``exx`` ramps along x by ``ramp`` across the phase, ``exy`` by ``shear`` along y.
    """
    ny, nx = scan_shape
    y, x = np.meshgrid(np.arange(ny, dtype=float), np.arange(nx, dtype=float), indexing="ij")
    edge = boundary * nx + 0.15 * (y - ny / 2)
    label = (x >= edge).astype(int)
    d = np.zeros((ny, nx, 2, 2))
    refs = []
    for p in (0, 1):
        m = label == p
        x0 = np.where(m, x, np.inf).min(axis=1, keepdims=True)  # first column of the phase
        xr = np.clip(x - x0 - 2, 0, None) * m
        ref = m & (x - x0 < 3)
        fx = xr / max(xr.max(), 1)
        d[..., 0, 0] += ramp * fx * (1 if p == 0 else -1)
        d[..., 0, 1] += shear * (y / max(ny - 1, 1)) * m * (~ref)
        d[..., 1, 0] += shear * (y / max(ny - 1, 1)) * m * (~ref)
        refs.append(ref)
    truth = {
        "label_map": label,
        "reference_masks": refs,
        "gradient": d,
        "exx": d[..., 0, 0],
        "eyy": d[..., 1, 1],
        "exy": 0.5 * (d[..., 0, 1] + d[..., 1, 0]),
        "rotation": 0.5 * (d[..., 0, 1] - d[..., 1, 0]),
    }
    return truth


_ZONES = (((1, 0, 0), 17.0), ((1, 1, 0), -25.0))  # LCO [100] (hexagonal axes), spinel [110]


def _phase_spots(scan_shape, g_max, zones, **truth_kw):
    structures = two_phase_structures()
    truth = two_phase_truth(scan_shape, **truth_kw)
    base = [
        _zone_spots_2d(s, uvw, ang, g_max) for s, (uvw, ang) in zip(structures, zones, strict=True)
    ]
    truth["zone_axes"] = [z for z, _ in zones]
    truth["inplane_deg"] = [a for _, a in zones]
    return structures, truth, base


def two_phase_vectors(scan_shape=(12, 16), *, g_max=8.0, noise=0.002, seed=0, **truth_kw):
    """Calibrated Bragg vectors (1/nm) of a two-phase scan: ``(BraggVectors, structures, truth)``.

    The truth is that of :func:`two_phase_truth`.

    Peak positions ``g = (I + D)^-T g0`` per position, Gaussian position noise ``noise``
    (1/nm), the (000) beam included (intensity 1).
    """
    from ..fourd import BraggVectors

    rng = np.random.default_rng(seed)
    structures, truth, base = _phase_spots(scan_shape, g_max, _ZONES, **truth_kw)
    lab, d = truth["label_map"].ravel(), truth["gradient"].reshape(-1, 2, 2)
    inv_t = np.swapaxes(np.linalg.inv(np.eye(2) + d), 1, 2)
    xs, ys, ws, counts = [], [], [], []
    for i in range(lab.size):
        g0, inten = base[lab[i]]
        g = g0 @ inv_t[i].T + noise * rng.standard_normal(g0.shape)
        xs.append(np.r_[0.0, g[:, 0]])
        ys.append(np.r_[0.0, g[:, 1]])
        ws.append(np.r_[1.0, 0.5 * inten])
        counts.append(len(g) + 1)
    off = np.concatenate([[0], np.cumsum(counts)])
    bv = BraggVectors(
        scan_shape,
        np.concatenate(xs),
        np.concatenate(ys),
        np.concatenate(ws),
        off,
        units="1/nm",
        origin=(0.0, 0.0),
        source="two_phase_vectors",
    )
    return bv, structures, truth


def two_phase_dataset(
    scan_shape=(12, 16),
    detector_shape=(128, 128),
    *,
    reciprocal_pixel_size=0.1,
    disk_radius_px=2.5,
    dose=2e4,
    seed=0,
    **truth_kw,
):
    """4D-STEM cube of two phases (disks at the strained spots).

    Returns ``(cube, probe, structures, truth)``; the detector pixel is
    ``reciprocal_pixel_size`` 1/nm, the (000) beam at the centre.
    """
    rng = np.random.default_rng(seed)
    h, w = detector_shape
    g_max = 0.5 * min(h, w) * reciprocal_pixel_size * 0.92
    structures, truth, base = _phase_spots(scan_shape, g_max, _ZONES, **truth_kw)
    lab, d = truth["label_map"].ravel(), truth["gradient"].reshape(-1, 2, 2)
    inv_t = np.swapaxes(np.linalg.inv(np.eye(2) + d), 1, 2)
    centre = np.array([w / 2.0, h / 2.0])
    cube = np.zeros((lab.size, h, w))
    for p in (0, 1):
        idx = np.flatnonzero(lab == p)
        g0, inten = base[p]
        g = np.einsum("nij,sj->nsi", inv_t[idx], g0) / reciprocal_pixel_size
        centres = np.concatenate([np.broadcast_to(centre, (len(idx), 1, 2)), centre + g], axis=1)
        amps = np.r_[1.0, 0.25 + 0.4 * inten]
        cube[idx] = _render(
            centres, amps, (h, w), disk_radius_px, 0.6, int(np.ceil(disk_radius_px + 3))
        )
    cube = rng.poisson(cube * dose / max(cube.max(), 1e-12)).astype(np.float32)
    probe = soft_disk((h, w), centre, disk_radius_px)
    truth["reciprocal_pixel_size"] = reciprocal_pixel_size
    return cube.reshape(*scan_shape, h, w), probe, structures, truth
