"""4D-STEM strain and rotation maps: ``fourd_strain`` and ``find_disks``.

Pipeline (one pass over the data, chunk by chunk):

1. Mean pattern of up to ``DiskDetection.n_basis_samples`` scan positions (the reference region when
   given) → probe (given, from ``vacuum`` positions, or synthesised from the (000) disk)
   → correlation kernel → disks of the mean pattern → primitive basis ``G0`` and origin.
2. For each batch of ``DiskDetection.batch_patterns`` patterns (float32, on the backend's device):
   batched FFT correlation, local maxima, sub-pixel refinement (``_disks``), indexing and a
   weighted, outlier-rejecting least-squares fit of origin, g1 and g2 (``_lattice``).
3. Detector → scan frame (``DetectorGeometry``: rotation, flip, ellipse), reference
   lattice = median over the reference region, displacement gradient
   ``D = (G_ref G^-1)^T - I`` per position (reciprocal vectors transform with the inverse
   transpose of the real-space deformation), strain and rotation in API.md conventions.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._backend import asnumpy, resolve_backend, to_device
from .._compat import keyword_only_after
from .._regions import region_mask
from .._strain import STRAIN_COMPONENTS, StrainFields, strain_from_gradient, to_layer_frame
from ..errors import InputShapeError, NoLatticeError, StemstrainError
from ..io import BraggVectors
from ..results import Calibration, ResultBase
from ._disks import DiskKernel, detect_batch, estimate_probe, make_kernel
from ._input import as_cube, iter_batches, read_positions
from ._lattice import choose_basis, fit_lattice_batch, friedel_origin, gauss_reduce
from ._settings import DetectorGeometry, DiskDetection, detector_to_scan_matrix

__all__ = [
    "fourd_strain",
    "fourd_probe",
    "FourDStrainResult",
    "find_disks",
    "detector_to_scan_matrix",
    "DiskDetection",
    "DetectorGeometry",
]


@dataclass(frozen=True)
class FourDStrainResult(StrainFields, ResultBase):
    """Strain and rotation maps over the scan grid from 4D-STEM (API.md conventions).

    Attributes
    ----------
    exx, eyy, exy, rotation, dilatation : ndarray (scan_y, scan_x)
        Lagrangian small strain and rotation (rad, + = counter-clockwise as displayed)
        relative to the reference region, in the frame of the scan (x = scan column).
        NaN where the lattice fit failed.
    e_nn, e_tt, e_nt : ndarray or None
        Layer-frame strain when ``layer_normal`` was given.
    g_map : ndarray (scan_y, scan_x, 2, 2)
        Fitted lattice vectors per position: ``g_map[..., i, :]`` = (gx, gy) of g_(i+1), in the
        scan frame, in ``g_units``.
    origin : ndarray (scan_y, scan_x, 2)
        Fitted (000) disk position (x, y) on the detector, px (descan).
    n_peaks, residual_px : ndarray (scan_y, scan_x)
        Disks used in the fit and their weighted rms residual (px).
    g_vectors : ndarray (2, 2)
        Reference lattice vectors (rows g1, g2 as (gx, gy)), ``g_units``.
    reference_mask : ndarray of bool (scan_y, scan_x)
    pixel_size : float or None
        Scan step, nm.
    reciprocal_pixel_size : float or None
        Detector pixel, 1/nm.
    g_units : str
        "1/nm" or "1/px".
    params : dict
        Parameters of the run (basis choice, probe radius, detector geometry...).
    """

    g_map: np.ndarray
    origin: np.ndarray
    n_peaks: np.ndarray
    residual_px: np.ndarray
    g_vectors: np.ndarray
    reference_mask: np.ndarray
    pixel_size: float | None = None
    reciprocal_pixel_size: float | None = None
    g_units: str = "1/px"
    params: dict = field(default_factory=dict)

    group: ClassVar[str] = "fourd"
    map_fields: ClassVar[tuple[str, ...]] = (*STRAIN_COMPONENTS, "n_peaks", "residual_px")
    array_fields: ClassVar[tuple[str, ...]] = ("g_map", "origin", "g_vectors", "reference_mask")
    attr_fields: ClassVar[tuple[str, ...]] = ("reciprocal_pixel_size", "g_units", "params")

    @property
    def calibration(self) -> Calibration:
        """Sampling of the scan grid (nm, or px when uncalibrated)."""
        return Calibration.from_pixel_size(self.pixel_size)

    def predicted_disks(
        self, row: int, col: int, detector_shape: tuple[int, int], *, order: int = 4
    ) -> np.ndarray:
        """Disk centres predicted by the lattice fitted at scan position (row, col).

        Parameters
        ----------
        row, col : int
            Scan position.
        detector_shape : (int, int)
            (det_y, det_x); only centres on the detector are returned.
        order : int
            Largest |h|, |k| of ``origin + h g1 + k g2``.

        Returns
        -------
        ndarray (n, 2)
            (x, y) detector px; empty where the fit failed at that position.
        """
        g = np.asarray(self.g_map[row, col], dtype=np.float64)  # rows g1, g2 as (gx, gy)
        origin = np.asarray(self.origin[row, col], dtype=np.float64)
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(origin))):
            return np.empty((0, 2))
        if self.g_units == "1/nm" and self.reciprocal_pixel_size:
            g = g / float(self.reciprocal_pixel_size)
        params = self.params or {}
        m = detector_to_scan_matrix(
            params.get("detector_rotation_deg", 0.0), params.get("detector_flip", False)
        )
        g_det = g @ np.linalg.inv(m).T  # each row: detector vector of g_i
        h, k = np.meshgrid(np.arange(-order, order + 1), np.arange(-order, order + 1))
        pts = origin + np.stack([h.ravel(), k.ravel()], axis=1) @ g_det
        inside = (
            (pts[:, 0] >= 0)
            & (pts[:, 0] <= detector_shape[1] - 1)
            & (pts[:, 1] >= 0)
            & (pts[:, 1] <= detector_shape[0] - 1)
        )
        return pts[inside]


def _prepare_probe(probe, vacuum, cube, mean_pattern, det_shape):
    if probe is None and vacuum is not None:
        vmask = region_mask(vacuum, cube.shape[:2], "vacuum", min_size=1)
        idx = np.flatnonzero(vmask)[:256]
        probe = read_positions(cube, idx).mean(axis=0)
    if probe is None:
        probe = estimate_probe(mean_pattern)
    if is_signal_like(probe):
        probe = probe.data
    probe = np.asarray(probe, dtype=np.float64)
    if probe.shape != tuple(det_shape):
        raise InputShapeError(
            f"probe must have the detector shape {tuple(det_shape)}, got {probe.shape}; "
            "pass the vacuum probe recorded with the same camera binning"
        )
    return probe


def _mean_pattern(cube: Any, mask: np.ndarray, n_samples: int) -> np.ndarray:
    """Mean pattern of up to ``n_samples`` positions spread over ``mask``."""
    pool = np.flatnonzero(mask)
    sample = pool[np.linspace(0, len(pool) - 1, min(len(pool), n_samples)).astype(int)]
    return read_positions(cube, np.unique(sample)).mean(axis=0)


@keyword_only_after(2, order=("reference",))
def fourd_probe(
    datacube: Any,
    probe: Any = None,
    *,
    reference: Any = None,
    vacuum: Any = None,
    detection: DiskDetection | None = None,
) -> np.ndarray:
    """Return the vacuum probe :func:`fourd_strain` uses for these arguments.

    Parameters
    ----------
    datacube : array (scan_y, scan_x, det_y, det_x) or anything ``fourd_strain`` reads
    probe : ndarray (det_y, det_x), optional
        Given probe (returned as float64 after the shape check).
    reference : region, optional
        As in ``fourd_strain``: the positions whose mean pattern gives the (000) disk.
    vacuum : region, optional
        Scan positions without specimen, averaged into the probe.
    detection : DiskDetection, optional
        Its ``n_basis_samples`` sets how many positions make the mean pattern.

    Returns
    -------
    ndarray (det_y, det_x)
        The probe: given, the vacuum mean, or a soft disk of the (000) radius.
    """
    det = _as_settings(detection, DiskDetection, "detection")
    cube, _, _ = as_cube(datacube)
    sy, sx, h, w = (int(s) for s in cube.shape)
    mean_pattern = None
    if probe is None and vacuum is None:
        mean_pattern = _mean_pattern(
            cube, region_mask(reference, (sy, sx), min_size=1), det.n_basis_samples
        )
    return _prepare_probe(probe, vacuum, cube, mean_pattern, (h, w))


def is_signal_like(obj: Any) -> bool:
    """Tell whether ``obj`` carries its array in ``.data`` (HyperSpy, py4DSTEM)."""
    return hasattr(obj, "data") and not isinstance(obj, np.ndarray)


def _correlation_noise(pattern: np.ndarray, kernel: DiskKernel) -> float:
    """Estimate the noise sigma of the correlation of ``pattern``.

    Pixel noise (robust MAD of the residual of a 4-neighbour mean) times the norm of the
    smoothed kernel (white noise).
    """
    m = np.asarray(pattern, dtype=np.float64)
    d = m[1:-1, 1:-1] - 0.25 * (m[:-2, 1:-1] + m[2:, 1:-1] + m[1:-1, :-2] + m[1:-1, 2:])
    sigma_px = 1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(1.25)
    if sigma_px == 0:  # sparse counts (mostly zeros): MAD vanishes, use the plain spread
        sigma_px = float(np.std(d)) / np.sqrt(1.25)
    k = np.fft.irfft2(asnumpy(kernel.kernel_ft), s=kernel.shape)
    return float(sigma_px * np.sqrt((k**2).sum()))


def _basis(xp, mean_pattern, kernel, g, det_kw, min_snr=8.0):
    xy, inten, valid = detect_batch(
        xp, xp.asarray(mean_pattern[None].astype(np.float32)), kernel, **det_kw
    )
    xy, inten, valid = asnumpy(xy)[0], asnumpy(inten)[0], asnumpy(valid)[0]
    # significance: a disk must stand out of the correlation's noise (robust sigma), so
    # that pure noise gives "no disks found" rather than a lattice of noise peaks
    valid &= inten > min_snr * _correlation_noise(mean_pattern, kernel)
    xy, inten = xy[valid], inten[valid]
    if len(xy) == 0:
        raise NoLatticeError(
            "no disks found in the mean diffraction pattern; check the probe "
            "and the data (is the beam on the detector?)"
        )
    if isinstance(g, str):
        if g != "auto":
            raise StemstrainError(f"g must be 'auto' or a (2, 2) array of g1, g2, got {g!r}")
        return choose_basis(xy, inten)
    g = np.asarray(g, dtype=float)
    if g.shape != (2, 2):
        raise StemstrainError(
            f"g must be a (2, 2) array (rows g1, g2 as (gx, gy) px), got {g.shape}"
        )
    # the reduced (canonical) form of the given basis: strain does not depend on the basis,
    # and the median reference lattice is then the same for every equivalent choice
    g1, g2 = gauss_reduce(g[0], g[1])
    return np.stack([g1, g2], axis=1), friedel_origin(xy, inten)


def _strain_from_g(g_scan, ok, mask):
    """D = (G_ref G^-1)^T - I per position; returns (gradient (N, 2, 2), G_ref)."""
    sel = ok & mask.ravel()
    if not sel.any():
        raise NoLatticeError("the lattice fit failed at every position of the reference region")
    g_ref = np.median(g_scan[sel], axis=0)
    good = ok & (np.abs(np.linalg.det(g_scan)) > 1e-12)
    safe = np.where(good[:, None, None], g_scan, g_ref)
    d = np.swapaxes(g_ref @ np.linalg.inv(safe), 1, 2) - np.eye(2)
    d[~good] = np.nan
    return d, g_ref


def _layer_frame(layer_normal, exx, eyy, exy):
    """(e_nn, e_tt, e_nt) in the layer frame (``stemstrain._strain`` conventions)."""
    try:
        out = to_layer_frame(exx, eyy, exy, layer_normal)
    except ValueError:
        raise StemstrainError(
            f"layer_normal must be a nonzero (nx, ny) vector, got {layer_normal!r}"
        ) from None
    return out["e_nn"], out["e_tt"], out["e_nt"]


def _progress(total, enabled):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, disable=not enabled, unit="pattern", desc="4D-STEM disks", leave=False)


def _as_settings(value: Any, cls: type, name: str) -> Any:
    """``None`` → ``cls()``; an instance of ``cls`` as is; anything else is an error."""
    if value is None:
        return cls()
    if not isinstance(value, cls):
        raise StemstrainError(
            f"{name} must be a {cls.__name__} or None, got "
            f"{type(value).__name__}; e.g. {name}={cls.__name__}(...)"
        )
    return value


def _check_disk_size(kernel: DiskKernel, det_shape) -> None:
    r = kernel.radius_px
    if 4 * r + 4 > min(det_shape):
        raise InputShapeError(
            f"disks of radius {r:.1f} px do not fit the {det_shape[0]}×{det_shape[1]} px "
            f"detector: it must be at least ~4 radii + 4 px ({4 * r + 4:.0f} px) across to hold "
            "the (000) disk and its neighbours; bin less or check probe="
        )
    if r < 0.5:
        raise InputShapeError(
            f"probe disk radius {r:.2f} px is below half a pixel; pass the "
            "vacuum probe image (a disk), not a point"
        )


def _threads(xp: Any, workers: int | None) -> int:
    if workers is None:
        return 1 if xp is not np else max(1, min(2, os.cpu_count() or 1))
    if int(workers) < 1:
        raise StemstrainError(f"workers must be >= 1 or None, got {workers!r}")
    return int(workers)


def run_batches(cube: Any, batch_patterns: int, fn: Any, threads: int):
    """Yield ``(first index, n, fn(block))`` in scan order, ``threads`` batches at a time.

    The main thread reads the next blocks (memmap page faults, Dask computes) while the
    worker threads process earlier ones (NumPy, SciPy FFT and the fits release the GIL);
    at most ``threads + 1`` blocks are in flight, so memory stays bounded.
    """
    if threads <= 1:
        for i0, block in iter_batches(cube, batch_patterns):
            yield i0, block.shape[0], fn(block)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: deque = deque()
        for i0, block in iter_batches(cube, batch_patterns):
            pending.append((i0, block.shape[0], pool.submit(fn, block)))
            if len(pending) > threads:
                i, n, fut = pending.popleft()
                yield i, n, fut.result()
        while pending:
            i, n, fut = pending.popleft()
            yield i, n, fut.result()


@keyword_only_after(2, order=("reference", "backend"))
def fourd_strain(  # noqa: PLR0913 - 13: the agreed 12 + phase
    datacube: Any,
    probe: Any = None,
    *,
    reference: Any = None,
    backend: str = "numpy",
    vacuum: Any = None,
    g: Any = "auto",
    layer_normal: Any = None,
    geometry: DetectorGeometry | None = None,
    detection: DiskDetection | None = None,
    scan_pixel_size: float | None = None,
    progress: bool = True,
    workers: int | None = None,
    phase: Any = None,
) -> FourDStrainResult:
    """Strain and rotation maps from a 4D-STEM dataset, chunk by chunk (larger than RAM).

    Parameters
    ----------
    datacube : array (scan_y, scan_x, det_y, det_x), numpy.memmap, dask array,
        HyperSpy Signal2D with 2 navigation axes (lazy allowed), py4DSTEM DataCube, or
        :class:`BraggVectors` (peaks already detected: ``probe``, ``vacuum`` and the disk
        detection are skipped). Read in blocks of ``detection.batch_patterns`` patterns;
        never loaded whole.
    probe : ndarray (det_y, det_x), optional
        Vacuum probe image. Default: the mean of the ``vacuum`` positions if given, else a
        soft disk of the radius of the (000) disk of the mean pattern.
    reference : (row0, row1, col0, col1) box, tuple of two slices or bool mask, optional
        Unstrained reference region (default: the whole scan, i.e. strain relative to the
        median lattice). The box is in scan pixels, end-exclusive (as ``gpa``).
    backend : {"numpy", "cupy", "auto"}
    vacuum : bool mask or tuple of slices, optional
        Scan positions without specimen, averaged into the probe.
    g : "auto" or array (2, 2)
        Reciprocal basis (rows g1, g2 as (gx, gy), detector px). "auto": a primitive basis
        chosen from the mean pattern (Lagrange–Gauss reduced; hexagonal-safe).
    layer_normal : (nx, ny), optional
        Direction of the (003) g-vector (layer normal) in the scan frame; adds ``e_nn, e_tt,
        e_nt``.
    geometry : DetectorGeometry, optional
        Detector-to-scan rotation and flip, elliptical distortion and detector pixel size
        (1/nm, overrides the calibration of a signal). Default ``DetectorGeometry()``:
        no rotation, flip or ellipse; calibration from the input.
    detection : DiskDetection, optional
        Disk-detection settings (sub-pixel method, correlation power, kernel, smoothing,
        thresholds, ``batch_patterns``, ``n_basis_samples``). Default ``DiskDetection()``.
    scan_pixel_size : float, optional
        Scan step (nm); overrides the calibration of a signal.
    progress : bool
        tqdm progress bar.
    workers : int, optional
        Batches processed concurrently (threads); default 2 on CPU (1 with one core),
        1 on GPU. Results do not depend on it.
    phase : (FourDPhasesResult, name or index), optional
        Strain of one phase of a :func:`fourd_phases` map: positions of other phases are
        NaN and the reference region is restricted to that phase (the whole phase when
        ``reference`` is None).

    Returns
    -------
    FourDStrainResult

    Raises
    ------
    InputShapeError
        Not 4-D, probe of the wrong shape, disks too large for the detector.
    NoLatticeError
        No disks, or no 2-D lattice, found.
    StemstrainError
        ``geometry`` or ``detection`` not of their dataclass types, other bad values.

    Notes
    -----
    With real-space lattice ``A = (I + D) A0`` the reciprocal basis is ``G = (I + D)^-T G0``,
    so ``D = (G0 G^-1)^T - I``; ``exx = D00``, ``eyy = D11``, ``exy = (D01 + D10)/2``,
    ``rotation = (D01 - D10)/2`` (Lagrangian, relative to the reference lattice).

    Examples
    --------
    >>> from stemstrain.synthetic._fourd import fourd_dataset
    >>> cube, probe, truth = fourd_dataset((8, 8), (64, 64), g_length_px=14, disk_radius_px=3)
    >>> res = fourd_strain(cube, probe, reference=truth["reference_mask"], progress=False)
    >>> bool(abs(res.exx - truth["exx"]).max() < 5e-3)
    True
    """
    geo = _as_settings(geometry, DetectorGeometry, "geometry")
    det = _as_settings(detection, DiskDetection, "detection")
    xp = resolve_backend(backend)
    if layer_normal is not None:
        _layer_frame(layer_normal, 0.0, 0.0, 0.0)  # validate before the long pass
    if isinstance(datacube, BraggVectors):
        from ._vectors import strain_from_vectors

        phase_mask = phase_region(phase, datacube.scan_shape)
        mask = region_mask(reference, datacube.scan_shape, min_size=1) & phase_mask
        if not mask.any():
            raise StemstrainError("reference selects no scan position of that phase")
        return strain_from_vectors(
            datacube,
            mask,
            phase_mask,
            g=g,
            geo=geo,
            layer_normal=layer_normal,
            scan_pixel_size=scan_pixel_size,
            max_peaks=det.max_peaks,
        )
    cube, scan_px, recip_px = as_cube(datacube)
    scan_px = scan_px if scan_pixel_size is None else float(scan_pixel_size)
    recip_px = recip_px if geo.reciprocal_pixel_size is None else float(geo.reciprocal_pixel_size)
    sy, sx, h, w = (int(s) for s in cube.shape)
    det_kw = det.detect_kw()
    phase_mask = phase_region(phase, (sy, sx))
    mask = region_mask(reference, (sy, sx), min_size=1) & phase_mask
    if not mask.any():
        raise StemstrainError("reference selects no scan position of that phase")
    mean_pattern = _mean_pattern(cube, mask, det.n_basis_samples)
    probe_arr = _prepare_probe(probe, vacuum, cube, mean_pattern, (h, w))
    kern = make_kernel(probe_arr, kind=det.kernel, sigma_cc_px=det.sigma_cc_px, xp=xp)
    _check_disk_size(kern, (h, w))
    g0, o0 = _basis(xp, mean_pattern, kern, g, det_kw)
    n = sy * sx
    g_det = np.full((n, 2, 2), np.nan)
    origin = np.full((n, 2), np.nan)
    n_used = np.zeros(n, dtype=np.int32)
    rms = np.full(n, np.nan)
    ok = np.zeros(n, dtype=bool)
    bar = _progress(n, progress)

    def process(block):
        xy, inten, valid = detect_batch(xp, to_device(block, xp), kern, **det_kw)
        fit = fit_lattice_batch(xp, xy, inten, valid, g0, o0)
        return {k: asnumpy(v) for k, v in fit.items()}

    threads = _threads(xp, workers)
    for i0, nb, fit in run_batches(cube, int(det.batch_patterns), process, threads):
        sl = slice(i0, i0 + nb)
        g_det[sl], origin[sl] = fit["g"], fit["origin"]
        n_used[sl], rms[sl], ok[sl] = fit["n_peaks"], fit["rms_px"], fit["ok"]
        if bar is not None:
            bar.update(nb)
    if bar is not None:
        bar.close()
    ok &= phase_mask.ravel()
    params = {
        "probe_radius_px": kern.radius_px,
        "g_detector_px": g0.T.tolist(),
        "origin_px": np.asarray(o0).tolist(),
        "basis": "auto" if isinstance(g, str) else "given",
        **det_kw,
        "kernel": det.kernel,
        "sigma_cc_px": det.sigma_cc_px,
    }
    fits = {"g": g_det, "origin": origin, "n_peaks": n_used, "rms_px": rms, "ok": ok}
    return strain_result(
        fits,
        (sy, sx),
        mask,
        geo=geo,
        layer_normal=layer_normal,
        scale=(recip_px, scan_px),
        params=params,
    )


def strain_result(
    fits: dict,
    scan_shape: tuple[int, int],
    mask: np.ndarray,
    *,
    geo: DetectorGeometry,
    layer_normal: Any,
    scale: tuple,
    params: dict,
) -> FourDStrainResult:
    """Per-position lattice fits (detector frame, px) → ``FourDStrainResult``.

    ``fits``: ``g`` (N, 2, 2) columns g1, g2, ``origin`` (N, 2), ``n_peaks``, ``rms_px``,
    ``ok`` (N,); ``scale`` = (detector pixel in 1/nm or None, scan step nm or None).
    """
    sy, sx = scan_shape
    recip_px, scan_px = scale
    ok = fits["ok"]
    g_scan = geo.matrix() @ fits["g"]  # validated in DetectorGeometry.__post_init__
    grad, g_ref = _strain_from_g(g_scan, ok, mask)
    grad = grad.reshape(sy, sx, 2, 2)
    comp = strain_from_gradient(grad[..., 0, 0], grad[..., 0, 1], grad[..., 1, 0], grad[..., 1, 1])
    exx, eyy, exy = comp["exx"], comp["eyy"], comp["exy"]
    layer = (None, None, None)
    if layer_normal is not None:
        layer = _layer_frame(layer_normal, exx, eyy, exy)
    unit = recip_px if recip_px is not None else 1.0
    g_map = np.swapaxes(g_scan, 1, 2).reshape(sy, sx, 2, 2) * unit
    origin = np.array(fits["origin"], dtype=float).reshape(sy, sx, 2)
    origin[~ok.reshape(sy, sx)] = np.nan
    params = {
        **params,
        "detector_rotation_deg": geo.detector_rotation_deg,
        "detector_flip": bool(geo.detector_flip),
        "ellipse": geo.ellipse,
    }
    return FourDStrainResult(
        exx=exx,
        eyy=eyy,
        exy=exy,
        rotation=comp["rotation"],
        dilatation=comp["dilatation"],
        g_map=g_map,
        origin=origin,
        n_peaks=np.asarray(fits["n_peaks"]).reshape(sy, sx),
        residual_px=np.asarray(fits["rms_px"]).reshape(sy, sx),
        g_vectors=g_ref.T * unit,
        reference_mask=mask,
        e_nn=layer[0],
        e_tt=layer[1],
        e_nt=layer[2],
        pixel_size=scan_px,
        reciprocal_pixel_size=recip_px,
        g_units="1/nm" if recip_px is not None else "1/px",
        params=params,
    )


def phase_region(phase: Any, scan_shape: tuple[int, int]) -> np.ndarray:
    """``phase=`` of ``fourd_strain`` → boolean mask of the scan (all True for None)."""
    if phase is None:
        return np.ones(scan_shape, dtype=bool)
    if not (isinstance(phase, tuple) and len(phase) == 2 and hasattr(phase[0], "label_map")):
        raise StemstrainError(
            "phase must be None or (FourDPhasesResult, phase name or index), got "
            f"{type(phase).__name__}"
        )
    res, which = phase
    names = list(res.phases)
    if isinstance(which, str):
        if which not in names:
            raise StemstrainError(f"phase {which!r} is not one of {names}")
        which = names.index(which)
    if not isinstance(which, (int, np.integer)) or not 0 <= int(which) < len(names):
        raise StemstrainError(f"phase index must be in 0..{len(names) - 1}, got {which!r}")
    lab = np.asarray(res.label_map)
    if lab.shape != tuple(scan_shape):
        raise InputShapeError(
            f"phase map of shape {lab.shape} does not match the scan {tuple(scan_shape)}"
        )
    region = lab == int(which)
    if not region.any():
        raise StemstrainError(f"phase {names[int(which)]!r} is assigned to no scan position")
    return region


def find_disks(
    patterns: Any,
    probe: Any,
    *,
    detection: DiskDetection | None = None,
    backend: str = "numpy",
    workers: int | None = None,
) -> Any:
    """Bragg disks of one pattern, a stack or a 4-D cube (batched FFT correlation).

    Parameters
    ----------
    patterns : array (H, W), (N, H, W) or (scan_y, scan_x, H, W)
        Diffraction pattern(s); NumPy, memmap or dask (read in batches).
    probe : ndarray (H, W)
        Vacuum probe image.
    detection : DiskDetection, optional
        Disk-detection settings (``batch_patterns`` = patterns per FFT batch;
        ``n_basis_samples`` is not used here). Default ``DiskDetection()``.
    backend : {"numpy", "cupy", "auto"}
    workers : int, optional
        Batches processed concurrently (threads); default 2 on CPU, 1 on GPU.

    Returns
    -------
    pandas.DataFrame
        A row per disk: ``index`` (flat pattern index), ``scan_y, scan_x`` (4-D input),
        ``x, y`` (detector px, sub-pixel; x = column), ``intensity`` (correlation height),
        strongest first within each pattern.
    """
    import pandas as pd

    det = _as_settings(detection, DiskDetection, "detection")
    xp = resolve_backend(backend)
    ndim = getattr(patterns, "ndim", np.ndim(patterns))
    if ndim not in (2, 3, 4):
        raise InputShapeError(f"patterns must be 2-D, 3-D or 4-D, got {ndim}-D")
    cube = patterns
    if ndim < 4:
        cube = patterns[None, None] if ndim == 2 else patterns[None]
    det_kw = det.detect_kw()
    probe = np.asarray(probe, dtype=np.float64)
    if probe.shape != tuple(cube.shape[2:]):
        raise InputShapeError(
            f"probe must have the detector shape {tuple(cube.shape[2:])}, got {probe.shape}"
        )
    kern = make_kernel(probe, kind=det.kernel, sigma_cc_px=det.sigma_cc_px, xp=xp)
    _check_disk_size(kern, cube.shape[2:])

    def process(block):
        xy, inten, valid = detect_batch(xp, to_device(block, xp), kern, **det_kw)
        return asnumpy(xy), asnumpy(inten), asnumpy(valid)

    rows = []
    for i0, _, (xy, inten, valid) in run_batches(
        cube, int(det.batch_patterns), process, _threads(xp, workers)
    ):
        bi, ki = np.nonzero(valid)
        rows.append((bi + i0, xy[bi, ki, 0], xy[bi, ki, 1], inten[bi, ki]))
    idx, x, y, val = (np.concatenate(c) for c in zip(*rows, strict=True))
    df = pd.DataFrame({"index": idx, "x": x, "y": y, "intensity": val})
    if ndim == 4:
        df.insert(1, "scan_y", idx // cube.shape[1])
        df.insert(2, "scan_x", idx % cube.shape[1])
    return df
