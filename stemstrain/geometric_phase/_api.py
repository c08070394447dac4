"""Public GPA entry point: validation, g choice, reference, resolution -> :class:`GPAResult`."""

from __future__ import annotations

import math
import warnings
from functools import partial
from typing import Any

import numpy as np

from .._backend import asnumpy, resolve_backend, to_device
from .._validate import check_finite, check_positive, image_and_pixel_size
from ..errors import InputShapeError, NoLatticeError, StemstrainError
from ..results import Calibration
from ._core import (
    FWHM_FACTOR,
    MAP_NAMES,
    SIGMA_DIVISOR,
    _full_mask,
    _without_border,
    border_width,
    edge_sigmas,
    finish_extras,
    full_amplitude,
    map_plan,
    prepare,
    upsample,
)
from ._fundamental import fundamental_pair
from ._gvectors import find_g_vectors, given_g_vectors
from ._precision import noise_variance_grid
from ._quality import BORDER_WARN, LazyMaps, assess, border_quality
from ._region import parse_region, region_box
from ._result import Deferred, GPAResult
from ._run import RunOptions, combine, erode_band, run_gpa, to_full_nearest

__all__ = ["gpa", "reference_mask", "default_sigma", "small_field_sigma"]

_MIN_SIZE = 32
#: default mask sigma = (distance from a chosen g to its nearest reciprocal-lattice point) / this
_SIGMA_DIVISOR = SIGMA_DIVISOR
#: ... and on small fields at most this much finer (nearest distance / 4.0): measured on the
#: generator at 8-15 periods (docs/notes/gpa.md, session 4), the interior bias p99 from the
#: leaking neighbours is 2-3e-5 at 4.5, 1.4-1.6e-4 at 4.0, 4e-4 at 3.75, 1e-3 at 3.5 (the
#: 1e-3 target); 4.0 keeps it below half the dose-200 shot noise (precision x1.27)
_SIGMA_DIVISOR_MIN = 4.0
#: the first maps of MAP_NAMES (exx, eyy, exy, rotation) are made at image size at once;
#: the others (dilatation and the layer frame) and the amplitudes on first access
_EAGER = 4


def reference_mask(reference: Any, shape: tuple[int, int]) -> np.ndarray:
    """Boolean reference mask (host) from None (whole image), a box, two slices or a mask."""
    mask = parse_region(reference, shape, "reference", allow_auto=False)
    return np.ones(shape, dtype=bool) if mask is None else mask


def _nearest_distance(g_px: np.ndarray) -> float:
    """Smallest distance from a g to another reciprocal-lattice point (or the origin)."""
    g_px = np.asarray(g_px, dtype=float)
    m = np.arange(-3, 4)
    mm, nn = np.meshgrid(m, m, indexing="ij")
    pts = mm.ravel()[:, None] * g_px[0] + nn.ravel()[:, None] * g_px[1]
    d_min = np.inf
    for gv in g_px:
        d = np.hypot(*(pts - gv).T)
        d_min = min(d_min, float(d[d > 1e-9 * np.hypot(*gv)].min()))
    return d_min


def default_sigma(g_px: np.ndarray) -> float:
    """Mask sigma (cycles/px): nearest other reciprocal-lattice point (or origin) / 4.5."""
    return _nearest_distance(g_px) / _SIGMA_DIVISOR


def small_field_sigma(g_px: np.ndarray, shape: tuple[int, int]) -> tuple[float, bool]:
    """Default mask sigma (cycles/px) for this field, and whether it was made finer.

    :func:`default_sigma`, unless its border band (``_core.border_width``) would remove
    more than ``BORDER_WARN`` of the field: then the sigma whose band removes just that
    share, but at most nearest distance / ``_SIGMA_DIVISOR_MIN`` (finer masks let the
    neighbouring reflections leak in: docs/notes/gpa.md, session 4).
    """
    d_near = _nearest_distance(g_px)
    sigma = d_near / _SIGMA_DIVISOR
    h, w = (float(v) for v in shape)
    # band b (px) with (h - 2b)(w - 2b) = (1 - BORDER_WARN) h w, less half a px (rounding)
    b = 0.25 * ((h + w) - math.sqrt((h + w) ** 2 - 4 * BORDER_WARN * h * w)) - 0.5
    need = sigma
    for _ in range(3):  # the band's kernel sigmas grow slowly with the mask (edge_sigmas)
        need = edge_sigmas(need, d_near) / (2 * math.pi * max(b, 1.0))
    if need <= sigma:
        return sigma, False
    return min(need, d_near / _SIGMA_DIVISOR_MIN), True


def _warn_small_reference(region: Any, sigma: float, px: float | None) -> None:
    """Warn when a given reference region is narrower than the GPA resolution.

    The maps are smoothed over the resolution, so a reference smaller than that holds about
    one independent measurement of the lattice: its noise and any local distortion become
    the reference of every strain value.
    """
    if not isinstance(region, np.ndarray) or not region.any():
        return
    r0, r1, c0, c1 = region_box(region)
    extent = min(r1 - r0, c1 - c0)
    res_px = FWHM_FACTOR / sigma
    if extent < res_px:
        unit, scale = ("nm", px) if px else ("px", 1.0)
        warnings.warn(
            f"gpa: the reference region is {extent * scale:.3g} {unit} across, less than the "
            f"GPA resolution ({res_px * scale:.3g} {unit}): the reference lattice rests on "
            "about one independent measurement; choose a region several resolutions wide",
            UserWarning,
            stacklevel=3,
        )


def _check_image(data: Any, xp: Any) -> None:
    h, w = data.shape
    if min(h, w) < _MIN_SIZE:
        raise InputShapeError(
            f"image is {h}x{w} px; GPA needs at least {_MIN_SIZE} px along each axis "
            "and several lattice periods"
        )
    lo, hi = float(data.min()), float(data.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):  # NaN/inf propagate to min/max
        check_finite(data, "image")
    if hi == lo:
        raise NoLatticeError("image is constant (no lattice fringes); check the frame/channel")


def _sigma_from_resolution(
    resolution_nm: Any, pixel_size: float | None, g_px: np.ndarray, shape: tuple[int, int]
) -> tuple[float, bool]:
    """Mask sigma (cycles/px) and whether it is the small-field default."""
    adapted = False
    if resolution_nm is None:
        sigma, adapted = small_field_sigma(g_px, shape)
    else:
        res = check_positive(resolution_nm, "resolution_nm")
        sigma = FWHM_FACTOR * (pixel_size or 1.0) / res
    g_min = float(np.hypot(g_px[:, 0], g_px[:, 1]).min())
    unit = "nm" if pixel_size else "px"
    if sigma > g_min / 2.5:
        best = FWHM_FACTOR * (pixel_size or 1.0) * 2.5 / g_min
        raise StemstrainError(
            f"resolution_nm={resolution_nm!r} is finer than this lattice allows (the mask would "
            f"reach the neighbouring reflections); use resolution_nm >= {best:.3g} {unit}"
        )
    if sigma * min(shape) < 1.0:
        raise StemstrainError(
            f"resolution_nm={resolution_nm!r} is coarser than the image can resolve "
            f"({min(shape)} px); use a smaller value or a larger image"
        )
    return sigma, adapted


def _check_options(
    refine: Any, amplitude_threshold: Any, adaptive: Any, grains: Any, shape: tuple[int, int]
) -> tuple[float, Any]:
    """Validate the option types (TypeError) and values (StemstrainError)."""
    if not isinstance(refine, (bool, np.bool_)):
        raise TypeError(f"refine must be True or False, got {type(refine).__name__} {refine!r}")
    if isinstance(amplitude_threshold, (bool, np.bool_)) or not isinstance(
        amplitude_threshold, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"amplitude_threshold must be a number in [0, 1), got "
            f"{type(amplitude_threshold).__name__} {amplitude_threshold!r}"
        )
    amp_frac = float(amplitude_threshold)
    if not 0.0 <= amp_frac < 1.0:
        raise StemstrainError(f"amplitude_threshold must be in [0, 1), got {amplitude_threshold!r}")
    if not (adaptive == "auto" if isinstance(adaptive, str) else isinstance(adaptive, bool)):
        raise StemstrainError(f"adaptive must be 'auto', True or False, got {adaptive!r}")
    if grains is None or (isinstance(grains, str) and grains == "auto"):
        return amp_frac, grains
    if isinstance(grains, str):
        raise StemstrainError(f"grains must be 'auto', None or a label image, got {grains!r}")
    lab = np.asarray(asnumpy(grains))
    if lab.shape != tuple(shape) or lab.dtype.kind not in "iub":
        raise StemstrainError(
            f"grains must be 'auto', None or an integer label image of shape {tuple(shape)} "
            f"(0 = not crystal), got {lab.dtype} array of shape {lab.shape}"
        )
    return amp_frac, lab.astype(np.int32)


def _poisson_fraction(noise: Any, s2: Any, mean_i: float) -> float:
    """Fraction of the noise variance that follows the intensity (Poisson)."""
    if isinstance(noise, dict):
        gain, read = float(noise["gain"]), float(noise.get("read", 0.0))
        return (mean_i / gain) / (mean_i / gain + read**2) if mean_i > 0 else 0.0
    if noise is None and np.isscalar(s2) and mean_i > 0 and 0.7 < s2 / mean_i < 1.4:
        return 1.0  # the estimated white level equals the mean: counts with Poisson noise
    return 0.0


def _choose_g(data: Any, px: float | None, g: Any, shape: tuple[int, int]) -> tuple:
    if isinstance(g, str) and g == "auto":
        return find_g_vectors(data, px)
    if isinstance(g, str):
        raise StemstrainError(f"g must be 'auto' or a list of (gx, gy) in 1/nm, got {g!r}")
    return given_g_vectors(g, px, shape)


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
    adaptive: Any = "auto",
    grains: Any = "auto",
    noise: Any = None,
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
    reference : None, "auto", (row0, row1, col0, col1), (slice, slice) or ndarray of bool
        Region defining zero strain (px, half-open box). ``None``: the mean lattice of the
        crystal (of each grain). ``"auto"``: the least-distorted crystalline window of
        each grain (a first pass against the grain, then the most uniform window).
    resolution_nm : float, optional
        FWHM (nm) of the real-space smoothing of the maps. The Gaussian mask has
        ``sigma_g = 0.3748 / resolution_nm`` (1/nm). Default: ``sigma_g`` = distance from a
        g to its nearest other reciprocal-lattice point / 4.5 (0.79 nm for LiCoO2 [100]);
        on fields so small that the border band (2 kernel sigmas) would remove more than a
        third of the image, finer, down to that distance / 4.0
        (``quality["resolution_small_field"]``). Maps are NaN within the border band
        (``quality["border_px"]``), where the kernel reaches past the image edge.
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
    adaptive : {"auto", True, False}
        Adaptive GPA for large rotations: the masks follow the local g (rotated mask
        bank). ``"auto"``: only where the orientation survey finds the lattice turning
        beyond what one mask passes.
    grains : "auto", None or ndarray of int (H, W)
        ``"auto"``: grains are lattices of the chosen family more than 15 deg apart with
        no orientations in between (a bend or a kink is one grain); each grain gets its own
        reference and maps, NaN outside it. ``None``: one lattice everywhere. A label
        image (0 = not crystal), e.g. ``ss.lattice_map(...).to_pixels("grains")``.
    noise : None, float, ndarray (H, W) or dict
        Image noise for the ``uncertainty`` maps: None = estimated from the
        high-frequency power (white noise), a sigma per pixel (image units), a sigma map,
        or ``{"gain": counts per image unit, "read": read-noise sigma}``.

    Returns
    -------
    GPAResult
        Maps ``exx, eyy, exy, rotation, dilatation, e_nn, e_tt, e_nt``, ``amplitude``,
        refined ``g_vectors``, ``uncertainty`` (1-sigma maps), ``quality``, ``warnings``,
        ``grains``/``grain_table`` and the metadata described in :class:`GPAResult`.

    Raises
    ------
    StemstrainError
        Not 2-D, NaN/inf, constant image, no lattice, collinear g, a reference outside
        the image or without lattice, a resolution the lattice cannot support.
    TypeError
        ``refine`` not a bool, ``amplitude_threshold`` not a number.

    Warns
    -----
    UserWarning
        When the answer is doubtful (also kept in ``result.warnings``): little of the
        crystal valid, g near Nyquist or unphysical, phase noise far above the shot-noise
        prediction, no reference on a non-uniform image, several grains, a border band
        removing more than a third of the field (or a field too small for one).

    Notes
    -----
    ``P_g = arg H_g - 2 pi g.r`` with ``H_g`` the Gaussian-masked Bragg image;
    ``grad P_g = Im(H_g* grad H_g)/|H_g|^2 - 2 pi g``; ``D_E = -(1/2 pi) G^-1 grad P``
    (deformed frame), ``D_L = D_E (I - D_E)^-1`` (Lagrangian), then the rotation is
    removed by polar decomposition (``stemstrain._strain``) [1]_ [2]_; adaptive masks
    after [3]_.

    References
    ----------
    .. [1] M. J. Hytch, E. Snoeck, R. Kilaas, Ultramicroscopy 74, 131 (1998),
       doi:10.1016/S0304-3991(98)00035-7
    .. [2] J.-L. Rouviere, E. Sarigiannidou, Ultramicroscopy 106, 1 (2005),
       doi:10.1016/j.ultramic.2005.06.001
    .. [3] C. Mahr et al., Ultramicroscopy 221, 113196 (2021),
       doi:10.1016/j.ultramic.2020.113196

    Examples
    --------
    >>> from stemstrain.synthetic import layered_oxide
    >>> s = layered_oxide((512, 512), angle_deg=10, dose=None)
    >>> r = gpa(s.image, pixel_size=s.pixel_size)
    >>> bool(abs(np.nanmedian(r.exx)) < 1e-3)
    True
    """
    data, px = image_and_pixel_size(image, pixel_size, "image")
    xp = resolve_backend(backend)
    rdtype = np.dtype(dtype)
    if rdtype not in (np.float32, np.float64):
        raise StemstrainError(f"dtype must be float32 or float64, got {dtype!r}")
    shape = tuple(int(s) for s in data.shape)
    amp_frac, grains = _check_options(refine, amplitude_threshold, adaptive, grains, shape)
    _check_image(data, xp)
    if not refine and isinstance(g, str):
        raise StemstrainError(
            "refine=False needs explicit g=[(gx, gy), ...] in 1/nm (the "
            "reference lattice); with g='auto' the reference is refined"
        )
    g_px, g_info = _choose_g(data, px, g, shape)
    region = parse_region(reference, shape, "reference")
    sigma, adapted = _sigma_from_resolution(resolution_nm, px, g_px, shape)
    _warn_small_reference(region, sigma, px)
    sp = prepare(xp, to_device(data, xp), rdtype)
    g_px, g_info, note = fundamental_pair(xp, sp, g_px, g_info, sigma)
    s2, noise_src = noise_variance_grid(xp, noise, data, sp, g_px, sigma)
    mean_i = float(np.asarray(asnumpy(data.mean())))
    opt = RunOptions(
        amp_frac=amp_frac,
        refine=bool(refine),
        adaptive=adaptive,
        grains=grains,
        mean_intensity=mean_i,
        poisson_fraction=_poisson_fraction(noise, s2, mean_i),
        notes=[note] if note else [],
    )
    run = run_gpa(xp, sp, g_px, sigma, region, s2, opt)
    if not run["grains"]:
        if reference is None:
            raise StemstrainError(
                "no region of the image has Bragg amplitude for the chosen g "
                f"({g_info['reason'][:60]}...); pass reference=(row0, row1, col0, col1) on a "
                "crystalline region, or choose g explicitly"
            )
        raise StemstrainError(
            "reference region has no lattice (Bragg amplitude too low there, or it lies in "
            "vacuum); choose a crystalline, undistorted region (see propose_reference)"
        )
    return _build_result(
        xp,
        sp,
        run,
        opt,
        dict(
            px=px,
            g_info=g_info,
            sigma=sigma,
            reference=reference,
            region=region,
            s2=s2,
            noise_src=noise_src,
            phases=phases,
            g_px=g_px,
            adapted=adapted,
        ),
    )


def _build_result(xp: Any, sp: Any, run: dict, opt: RunOptions, c: dict) -> GPAResult:
    """Upsample the combined coarse maps and assemble quality, warnings and grains."""
    shape, rdtype, sigma, px = sp.shape, sp.rdtype, c["sigma"], c["px"]
    merged = combine(xp, run)
    main = merged["main"]
    d_near = _nearest_distance(main["g_ref"])
    maps, lazy, mask = _image_maps(xp, merged, shape, sigma, rdtype, d_near)
    extras = finish_extras(
        xp,
        None,
        merged["amp"],
        None,
        main["g_ref"],
        shape,
        rdtype,
        c["phases"],
        phasor=merged["phasor"],
        amplitude=False,
    )
    m_y, m_x = run["grid"]
    unc = LazyMaps(dict(zip(MAP_NAMES, asnumpy(merged["sigma"]), strict=True)), shape, mask)
    scale = 1.0 / px if px else 1.0
    border = border_width(shape, sigma, d_near)  # the image border band, as the maps'
    rows = np.minimum(np.round(np.arange(m_y) * shape[0] / m_y).astype(int), shape[0] - 1)
    cols = np.minimum(np.round(np.arange(m_x) * shape[1] / m_x).astype(int), shape[1] - 1)
    sub = np.ix_(rows, cols)  # quality figures on the coarse sample positions (cheap)
    crystal_c = np.asarray(asnumpy(erode_band(np, run["crystal"], shape, sigma)))
    labels_c = np.asarray(run["labels"], dtype=np.int16)
    crystal_sub = _full_mask(np, crystal_c, shape, border, at=(rows, cols))
    table = _grain_table(
        run, to_full_nearest(labels_c, shape, at=(rows, cols)), mask[sub], crystal_sub, scale
    )
    lazy["crystalline"] = Deferred(partial(_full_mask, np, crystal_c, shape, border))
    lazy["grains"] = Deferred(partial(to_full_nearest, labels_c, shape))
    ref_sub = (
        _without_border(c["region"], sigma)[sub]
        if isinstance(c["region"], np.ndarray)
        else to_full_nearest(main["ref_small"], shape, at=(rows, cols))
    )  # as used by the refinement
    sig_sub = {k: np.where(mask[sub], unc.coarse(k), np.nan) for k in unc}
    quality, warn = assess(
        {k: v[sub] for k, v in maps.items()},
        sig_sub,
        mask[sub],
        crystal_sub,
        _assess_context(c, opt, run, merged, table, ref_sub),
    )
    quality["g_fundamental"] = bool(c["g_info"].get("fundamental", {}).get("used", False))
    band_ctx = (quality["valid_fraction"], c["adapted"], d_near)
    band, band_warn = border_quality(mask, border, sigma, px, band_ctx)
    quality.update(band)
    warn += band_warn
    for msg in warn:
        warnings.warn(f"gpa: {msg}", UserWarning, stacklevel=3)
    g_info = dict(
        c["g_info"],
        initial_g=(np.asarray(c["g_px"]) * scale).tolist(),
        sigma_g=sigma * scale,
        resolution_rule="resolution_nm = FWHM of real-space kernel = 0.3748 / sigma_g",
        resolution_small_field=c["adapted"],
    )
    return GPAResult(
        **maps,
        **lazy,
        g_vectors=np.asarray(main["g_ref"]) * scale,
        pixel_size=px,
        calibration=Calibration.from_pixel_size(px),
        reference=c["reference"],
        resolution_nm=FWHM_FACTOR * (px or 1.0) / sigma,
        normal=np.asarray(main["normal"]),
        g_info=g_info,
        mask=mask,
        phases=asnumpy(extras["phases"]) if c["phases"] else None,
        phasor_lowres=asnumpy(extras["phasor_lowres"]),
        lowres_step=tuple(float(v) for v in extras["lowres_step"]),
        backend="numpy" if xp is np else "cupy",
        uncertainty=unc,
        grain_table=tuple(table),
        quality=quality,
        warnings=tuple(warn),
    )


def _assess_context(
    c: dict, opt: RunOptions, run: dict, merged: dict, table: list, ref_sub: Any
) -> dict:
    """Build the ``ctx`` of :func:`_quality.assess`: reference, grains, noise, amplitudes."""
    s2, sigma = c["s2"], c["sigma"]
    s2_mean = float(np.nanmean(asnumpy(s2))) if not np.isscalar(s2) else float(s2)
    amp_host = asnumpy(merged["amp"])
    valid_host = asnumpy(merged["valid"])
    amp_med = [
        float(np.median(a[valid_host])) if valid_host.any() else float("nan") for a in amp_host
    ]
    return {
        "g_px": merged["main"]["g_ref"],
        "pixel_size": c["px"],
        "reference": c["reference"],
        "ref_mask_full": ref_sub,
        "grains": table,
        "survey": run["survey"] is not None,
        "notes": opt.notes
        + [f"grain {gid}: its reference has no lattice; NaN there" for gid in run["failed"]],
        "amplitude_median": amp_med,
        "noise_sigma": float(np.sqrt(s2_mean)),
        "noise_amp": float(np.sqrt(s2_mean * np.pi * sigma**2)),
        "noise_source": c["noise_src"],
        "g_confidence": c["g_info"].get("confidence"),
    }


def _image_maps(
    xp: Any, merged: dict, shape: tuple, sigma: float, rdtype: Any, d_near: float
) -> tuple:
    """Make the eager maps (host, image size), the deferred ones and the validity mask.

    ``exx, eyy, exy, rotation`` are upsampled now; the other maps and the amplitudes
    are :class:`Deferred` (upsampled on first access, with the same NaN mask).
    """
    coarse, fmask = map_plan(xp, merged["coarse"], merged["valid"], shape, sigma, rdtype, d_near)
    full = xp.empty((_EAGER,) + tuple(shape), dtype=rdtype)
    upsample(xp, coarse[:_EAGER], shape, fmask, out=full)
    maps = {k: asnumpy(v) for k, v in zip(MAP_NAMES[:_EAGER], full, strict=True)}
    lazy = {
        k: Deferred(partial(_host_map, xp, coarse[i], shape, fmask))
        for i, k in enumerate(MAP_NAMES)
        if i >= _EAGER
    }
    lazy["amplitude"] = Deferred(partial(_host_amplitude, xp, merged["amp"], shape, rdtype))
    # the maps are finite exactly where fmask is True when the coarse values they come from are
    finite = bool(xp.isfinite(coarse[:_EAGER]).all())
    return maps, lazy, (asnumpy(fmask) if finite else np.isfinite(maps["exx"]))


def _host_map(xp: Any, coarse: Any, shape: tuple[int, int], mask: Any) -> np.ndarray:
    """One coarse map at image size on the host (a deferred GPAResult field)."""
    return asnumpy(upsample(xp, coarse, shape, mask))


def _host_amplitude(xp: Any, amp: Any, shape: tuple[int, int], rdtype: Any) -> np.ndarray:
    """Return the Bragg amplitudes at image size on the host (a deferred GPAResult field)."""
    return asnumpy(full_amplitude(xp, amp, shape, rdtype))


def _grain_table(
    run: dict,
    labels: np.ndarray,
    mask: np.ndarray,
    crystal: np.ndarray,
    scale: float,
) -> list:
    """One row per grain (fractions over the coarse sample positions ``labels`` etc.)."""
    rows = []
    n_cr = max(int(crystal.sum()), 1)
    for gr in run["grains"]:
        inside = (labels == gr["label"]) & crystal
        n_in = int(inside.sum())
        rows.append(
            {
                "label": gr["label"],
                "fraction": n_in / n_cr,
                "valid_fraction": float((mask & inside).sum() / n_in) if n_in else float("nan"),
                "orientation_deg": float(
                    -np.degrees(gr["theta"])
                ),  # counter-clockwise as displayed
                "g_vectors": (np.asarray(gr["g_ref"]) * scale).tolist(),
                "reference": gr["reference_kind"],
                "reference_box": gr["reference_box"],
                "adaptive": gr["adaptive"],
                "rotation_span_deg": [-gr["span_deg"][1], -gr["span_deg"][0]],
                "g_jump_fraction": gr["jump_fraction"],
                "g_bridged_fraction": gr["bridged_fraction"],
            }
        )
    return rows
