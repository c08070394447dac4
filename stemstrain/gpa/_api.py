"""Public GPA entry point: validation, g choice, reference, resolution -> :class:`GPAResult`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import asnumpy, resolve_backend, to_device
from .._validate import check_finite, check_positive, image_and_pixel_size
from ..errors import InputShapeError, NoLatticeError, StemstrainError
from ..results import Calibration
from ._core import FWHM_FACTOR, gpa_arrays
from ._gvectors import find_g_vectors, given_g_vectors
from ._result import GPAResult

__all__ = ["gpa", "reference_mask", "default_sigma"]

_MIN_SIZE = 32
#: default mask sigma = (distance from a chosen g to its nearest reciprocal-lattice point) / this
_SIGMA_DIVISOR = 4.5


def reference_mask(reference: Any, shape: tuple[int, int]) -> np.ndarray:
    """Boolean reference mask (host) from None, (row0, row1, col0, col1) or a mask."""
    h, w = shape
    if reference is None:
        return np.ones(shape, dtype=bool)
    if hasattr(reference, "shape") and getattr(reference, "ndim", 0) == 2:
        mask = np.asarray(asnumpy(reference))
        if mask.shape != tuple(shape):
            raise StemstrainError(
                f"reference mask has shape {mask.shape}, the image {tuple(shape)}; "
                "pass a boolean mask of the image's shape or (row0, row1, col0, col1)")
        if mask.dtype != bool:
            raise StemstrainError(f"reference mask must be boolean, got dtype {mask.dtype}")
        if mask.sum() < 4:
            raise StemstrainError("reference mask selects fewer than 4 pixels; select a region")
        return mask
    try:
        vals = [v for v in reference]
        if len(vals) != 4 or any(float(v) != int(v) for v in vals):
            raise TypeError
        r0, r1, c0, c1 = (int(v) for v in vals)
    except (TypeError, ValueError):
        raise StemstrainError(
            f"reference must be None, (row0, row1, col0, col1) in px or a boolean mask, "
            f"got {reference!r}") from None
    if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
        raise StemstrainError(
            f"reference {(r0, r1, c0, c1)} (row0, row1, col0, col1) lies outside the "
            f"{h}x{w} image or is empty; need 0 <= row0 < row1 <= {h}, 0 <= col0 < col1 <= {w}")
    mask = np.zeros(shape, dtype=bool)
    mask[r0:r1, c0:c1] = True
    return mask


def default_sigma(g_px: np.ndarray) -> float:
    """Mask sigma (cycles/px): nearest other reciprocal-lattice point (or origin) / 4.5."""
    g_px = np.asarray(g_px, dtype=float)
    m = np.arange(-3, 4)
    mm, nn = np.meshgrid(m, m, indexing="ij")
    pts = mm.ravel()[:, None] * g_px[0] + nn.ravel()[:, None] * g_px[1]
    d_min = np.inf
    for gv in g_px:
        d = np.hypot(*(pts - gv).T)
        d_min = min(d_min, float(d[d > 1e-9 * np.hypot(*gv)].min()))
    return d_min / _SIGMA_DIVISOR


def _check_image(data: Any, xp: Any) -> None:
    h, w = data.shape
    if min(h, w) < _MIN_SIZE:
        raise InputShapeError(
            f"image is {h}x{w} px; GPA needs at least {_MIN_SIZE} px along each axis "
            "and several lattice periods")
    check_finite(data, "image")
    if float(data.max()) == float(data.min()):
        raise NoLatticeError("image is constant (no lattice fringes); check the frame/channel")


def _sigma_from_resolution(resolution_nm: Any, pixel_size: float | None,
                           g_px: np.ndarray, shape: tuple[int, int]) -> float:
    if resolution_nm is None:
        sigma = default_sigma(g_px)
    else:
        res = check_positive(resolution_nm, "resolution_nm")
        sigma = FWHM_FACTOR * (pixel_size or 1.0) / res
    g_min = float(np.hypot(g_px[:, 0], g_px[:, 1]).min())
    unit = "nm" if pixel_size else "px"
    if sigma > g_min / 2.5:
        best = FWHM_FACTOR * (pixel_size or 1.0) * 2.5 / g_min
        raise StemstrainError(
            f"resolution_nm={resolution_nm!r} is finer than this lattice allows (the mask would "
            f"reach the neighbouring reflections); use resolution_nm >= {best:.3g} {unit}")
    if sigma * min(shape) < 1.0:
        raise StemstrainError(
            f"resolution_nm={resolution_nm!r} is coarser than the image can resolve "
            f"({min(shape)} px); use a smaller value or a larger image")
    return sigma


def gpa(  # noqa: PLR0913
    image: Any,
    pixel_size: float | None = None,
    *,
    g: Any = "auto",
    reference: Any = None,
    resolution_nm: float | None = None,
    backend: str = "numpy",
    dtype: Any = np.float32,
    amplitude_threshold: float = 0.3,
    phases: bool = False,
    refine: bool = True,
) -> GPAResult:
    """Geometric phase analysis: strain, rotation and layer-frame maps of a lattice image.

    Parameters
    ----------
    image : ndarray (H, W) or hyperspy Signal2D
        HRSTEM/HRTEM image (NumPy or CuPy array, or a calibrated signal).
    pixel_size : float, optional
        nm per pixel (taken from the signal's axes when omitted); without it lengths are px.
    g : "auto" or sequence of (gx, gy)
        g-vectors in 1/nm. ``"auto"``: the shortest strong reflection (the (003) of a
        layered oxide) and the shortest strong one not collinear with it (see ``g_info``).
        The first g defines the layer normal. More than two: least-squares tensor.
    reference : None, (row0, row1, col0, col1) or ndarray of bool
        Region defining zero strain (px, half-open); None = the whole image.
    resolution_nm : float, optional
        FWHM (nm) of the real-space smoothing of the maps. The Gaussian mask has
        ``sigma_g = 0.3748 / resolution_nm`` (1/nm). Default: ``sigma_g`` = distance from a
        g to its nearest other reciprocal-lattice point / 4.5 (0.79 nm for LiCoO2 [100]).
    backend : {"numpy", "cupy", "auto"}
        Array module; results always come back as NumPy.
    dtype : {numpy.float32, numpy.float64}
        Working precision (complex64 / complex128 FFTs).
    amplitude_threshold : float
        Maps are NaN where any Bragg amplitude is below this fraction of its median in
        the reference.
    phases : bool
        Also return full-size wrapped phases ``P_g`` (n_g, H, W).
    refine : bool
        Refine the g-vectors on the reference region so that it reads zero strain
        (default). With ``refine=False`` the given g *are* the reference lattice (e.g. a
        calibrated lattice, to measure a uniform rotation or strain of the whole image).

    Returns
    -------
    GPAResult
        Maps ``exx, eyy, exy, rotation, dilatation, e_nn, e_tt, e_nt``, ``amplitude``,
        refined ``g_vectors`` and the metadata described in :class:`GPAResult`.

    Raises
    ------
    StemstrainError
        Not 2-D, NaN/inf, constant image, no lattice, collinear g, a reference outside
        the image or without lattice, a resolution the lattice cannot support.

    Notes
    -----
    ``P_g = arg H_g - 2 pi g.r`` with ``H_g`` the Gaussian-masked Bragg image;
    ``grad P_g = Im(H_g* grad H_g)/|H_g|^2 - 2 pi g``; ``D_E = -(1/2 pi) G^-1 grad P``
    (deformed frame), reported as ``D_L = D_E (I - D_E)^-1`` [1]_ [2]_.

    References
    ----------
    .. [1] M. J. Hytch, E. Snoeck, R. Kilaas, Ultramicroscopy 74, 131 (1998),
       doi:10.1016/S0304-3991(98)00035-7
    .. [2] J.-L. Rouviere, E. Sarigiannidou, Ultramicroscopy 106, 1 (2005),
       doi:10.1016/j.ultramic.2005.06.001

    Examples
    --------
    >>> from stemstrain.synthetic import layered_oxide
    >>> s = layered_oxide((256, 256), angle_deg=10, dose=None)
    >>> r = gpa(s.image, pixel_size=s.pixel_size)
    >>> bool(abs(np.nanmedian(r.exx)) < 1e-3)
    True
    """
    data, px = image_and_pixel_size(image, pixel_size, "image")
    xp = resolve_backend(backend)
    rdtype = np.dtype(dtype)
    if rdtype not in (np.float32, np.float64):
        raise StemstrainError(f"dtype must be float32 or float64, got {dtype!r}")
    amp_frac = float(amplitude_threshold)
    if not 0.0 <= amp_frac < 1.0:
        raise StemstrainError(
            f"amplitude_threshold must be in [0, 1), got {amplitude_threshold!r}")
    _check_image(data, xp)
    if not refine and isinstance(g, str):
        raise StemstrainError("refine=False needs explicit g=[(gx, gy), ...] in 1/nm (the "
                              "reference lattice); with g='auto' the reference is refined")
    shape = tuple(int(s) for s in data.shape)
    if isinstance(g, str) and g == "auto":
        g_px, g_info = find_g_vectors(data, px)
    elif isinstance(g, str):
        raise StemstrainError(f"g must be 'auto' or a list of (gx, gy) in 1/nm, got {g!r}")
    else:
        g_px, g_info = given_g_vectors(g, px, shape)
    ref_mask = reference_mask(reference, shape)
    sigma = _sigma_from_resolution(resolution_nm, px, g_px, shape)
    out = gpa_arrays(xp, to_device(data, xp), g_px, sigma, ref_mask, normal_index=0,
                     amp_frac=amp_frac,
                     dtype=rdtype, phases=phases, refine=bool(refine))
    if "error" in out and reference is None:
        raise StemstrainError(
            "reference=None (whole image) but most of the image has weak Bragg amplitude for "
            f"the chosen g ({g_info['reason'][:60]}...); pass reference=(row0, row1, col0, "
            "col1) on a crystalline region, or choose g explicitly")
    if "error" in out:
        raise StemstrainError(
            "reference region has no lattice (Bragg amplitude too low there, or it lies in "
            "vacuum); choose a crystalline, undistorted region (see propose_reference)")
    scale = 1.0 / px if px else 1.0
    g_info = dict(g_info, initial_g=(np.asarray(g_px) * scale).tolist(),
                  sigma_g=sigma * scale,
                  resolution_rule="resolution_nm = FWHM of real-space kernel = 0.3748 / sigma_g")
    maps = {k: asnumpy(out[k]) for k in ("exx", "eyy", "exy", "rotation", "dilatation",
                                         "e_nn", "e_tt", "e_nt", "amplitude")}
    return GPAResult(
        **maps,
        g_vectors=np.asarray(out["g_px"]) * scale,
        pixel_size=px,
        calibration=Calibration.from_pixel_size(px),
        reference=reference,
        resolution_nm=FWHM_FACTOR * (px or 1.0) / sigma,
        normal=np.asarray(out["normal"]),
        g_info=g_info,
        mask=np.isfinite(maps["exx"]),
        phases=asnumpy(out["phases"]) if phases else None,
        phasor_lowres=asnumpy(out["phasor_lowres"]),
        lowres_step=tuple(float(v) for v in out["lowres_step"]),
        backend="numpy" if xp is np else "cupy",
    )

