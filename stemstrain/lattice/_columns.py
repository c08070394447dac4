"""Atom-column detection and batched sub-pixel refinement (:func:`find_columns`).

Pipeline: (1) lattice from the FFT - the (003) spot (shortest strong reciprocal
vector) gives the layer normal and the interlayer spacing, the strongest spot off the
(003) line gives the in-plane period; (2) candidates = local maxima of a lightly
smoothed image within a footprint set by the in-plane period; (3) an adaptive
threshold on the height above a local background keeps the bright (TM) columns and
drops O columns and noise; (4) all columns are refined at once by batched
Levenberg-Marquardt 2-D Gaussian fits (:mod:`._fit`); (5) the columns are linked
into TM layers (:func:`stemstrain.lattice.trace_layers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from .._backend import asnumpy, fft_workers, get_fft, get_ndimage, resolve_backend
from .._validate import check_finite, float_dtype, image_and_pixel_size
from ..errors import NoLatticeError, StemstrainError

__all__ = ["find_columns", "LatticeEstimate", "estimate_lattice"]


@dataclass(frozen=True)
class LatticeEstimate:
    """Lattice of a layered-oxide image measured from its FFT.

    Attributes
    ----------
    normal : (float, float)
        Unit layer normal ``(n_x, n_y)`` (direction of the (003) g-vector, n_y > 0).
    tangent : (float, float)
        In-plane direction ``t = (n_y, -n_x)``.
    spacing_px : float
        Interlayer (003) spacing, px.
    period_px : float
        In-plane column period along ``t``, px (NaN when no in-plane spot was found).
    """

    normal: tuple[float, float]
    tangent: tuple[float, float]
    spacing_px: float
    period_px: float


def _canonical_normal(gx: float, gy: float) -> np.ndarray:
    v = np.array([gx, gy], dtype=float)
    v /= np.hypot(*v)
    if v[1] < 0 or (v[1] == 0 and v[0] < 0):
        v = -v
    return v


def _fft_peaks(img: np.ndarray, xp: ModuleType):
    """Spectrum peaks of a (cropped, windowed) image: (kx, ky) cycles/px, power, noise level."""
    h, w = img.shape
    size = int(min(h, w, 1024))
    y0, x0 = (h - size) // 2, (w - size) // 2
    crop = xp.asarray(img[y0 : y0 + size, x0 : x0 + size], dtype=xp.float64)
    crop = crop - crop.mean()
    win = xp.asarray(np.hanning(size))
    fft = get_fft(xp)
    windowed = crop * win[:, None] * win[None, :]
    spec = xp.abs(fft.fftshift(fft.fft2(windowed, **fft_workers(xp)))) ** 2
    spec = asnumpy(spec)
    import scipy.ndimage as ndi

    k = (np.arange(size) - size // 2) / size
    ky, kx = np.meshgrid(k, k, indexing="ij")
    kr = np.hypot(kx, ky)
    kmin = max(3.0 / size, 1.0 / 120.0)
    band = (kr >= kmin) & (kr <= 0.5)
    if not band.any():
        raise NoLatticeError(f"image of shape {img.shape} is too small to find a lattice")
    is_max = (spec == ndi.maximum_filter(spec, size=5)) & band & (kx > 0) | (
        (spec == ndi.maximum_filter(spec, size=5)) & band & (kx == 0) & (ky > 0)
    )
    iy, ix = np.nonzero(is_max)
    power = spec[iy, ix]
    order = np.argsort(power)[::-1][:40]
    iy, ix, power = iy[order], ix[order], power[order]
    # sub-pixel peak position: centroid of the 3x3 neighbourhood
    # sub-pixel peak position: centroid of the 3x3 neighbourhood (vectorised over peaks)
    d = np.arange(-1, 2)
    gy = np.clip(iy[:, None, None] + d[None, :, None], 0, size - 1)
    gx = np.clip(ix[:, None, None] + d[None, None, :], 0, size - 1)
    p = spec[gy, gx]
    tot = np.maximum(p.sum(axis=(1, 2)), 1e-300)
    subx = (p * kx[gy, gx]).sum(axis=(1, 2)) / tot
    suby = (p * ky[gy, gx]).sum(axis=(1, 2)) / tot
    noise = float(np.median(spec[band]))
    return subx, suby, power, noise


def estimate_lattice(
    image: Any, *, backend: str = "numpy", min_snr: float = 40.0
) -> LatticeEstimate:
    """Layer normal, (003) spacing and in-plane period (px) of a layered-oxide image.

    Parameters
    ----------
    image : array (H, W)
        HAADF image.
    backend : {"numpy", "cupy", "auto"}
        Array backend of the FFT.
    min_snr : float
        The strongest spot must exceed ``min_snr`` times the median spectral power,
        else :class:`~stemstrain.errors.NoLatticeError` is raised.

    Returns
    -------
    LatticeEstimate
    """
    xp = resolve_backend(backend)
    kx, ky, power, noise = _fft_peaks(image, xp)
    if power.size == 0 or power[0] < min_snr * max(noise, 1e-300):
        ratio = float(power[0] / max(noise, 1e-300)) if power.size else 0.0
        raise NoLatticeError(
            f"image: no lattice found (strongest FFT spot is {ratio:.1f}x the median power, "
            f"need {min_snr:g}x); check that the image shows resolved atom columns"
        )
    strong = power >= 0.1 * power[0]
    kr = np.hypot(kx, ky)
    i003 = int(np.argmin(np.where(strong, kr, np.inf)))
    n = _canonical_normal(kx[i003], ky[i003])
    t = np.array([n[1], -n[0]])
    spacing = 1.0 / kr[i003]
    along_t = np.abs(kx * t[0] + ky * t[1])
    off_line = strong & (along_t > 0.25 * kr[i003])
    if not off_line.any():
        off_line = (power >= 0.02 * power[0]) & (along_t > 0.25 * kr[i003])
    period = 1.0 / float(np.min(along_t[off_line])) if off_line.any() else float("nan")
    return LatticeEstimate(
        (float(n[0]), float(n[1])), (float(t[0]), float(t[1])), float(spacing), float(period)
    )


def _detect(img: Any, lat: LatticeEstimate, xp: ModuleType, threshold: float):
    """Candidate column positions (integer px) and their heights above the background."""
    ndi = get_ndimage(xp)
    period = lat.period_px if np.isfinite(lat.period_px) else 0.5 * lat.spacing_px
    sm = ndi.gaussian_filter(img, max(0.8, 0.12 * period))
    # local background: min then mean filter over ~one interlayer spacing, on a subsampled grid
    f = max(1, int(period // 4))
    bsize = max(3, int(round(lat.spacing_px / f)))
    small = sm[::f, ::f]
    bg = ndi.uniform_filter(ndi.minimum_filter(small, size=bsize), size=bsize)
    r = max(1, int(0.42 * period))
    peaks = sm == ndi.maximum_filter(sm, size=2 * r + 1)
    iy, ix = xp.nonzero(peaks)
    height = sm[iy, ix] - bg[iy // f, ix // f]
    pos = height > 0
    iy, ix, height = iy[pos], ix[pos], height[pos]
    if int(height.shape[0]) == 0:
        raise NoLatticeError("image: no atom columns found (no local maxima above the background)")
    ref = float(xp.percentile(height, 95))
    keep = height >= threshold * ref
    return ix[keep], iy[keep], height[keep]


def _candidates(img: Any, px_size: float | None, xp: ModuleType, threshold: float, backend: str):
    """Lattice summary, local lattice (or None), candidate positions, period, crystal area."""
    local = _local_lattice(asnumpy(img), px_size, backend)
    if local is not None:
        lat = LatticeEstimate(
            local.normal, (local.normal[1], -local.normal[0]), local.row_spacing_px, local.period_px
        )
        x0, y0 = _detect_local(img, local, xp, threshold)
        return lat, local, x0, y0, local.period_px, local.crystalline_fraction
    # no local lattice map: one lattice from the FFT of the whole image
    lat = estimate_lattice(img, backend=backend)
    ix, iy, _ = _detect(img, lat, xp, threshold)
    x0 = asnumpy(ix).astype(float)
    y0 = asnumpy(iy).astype(float)
    period = lat.period_px if np.isfinite(lat.period_px) else _nn_period(x0, y0)
    keep = _dedupe(x0, y0, 0.5 * period)
    return lat, None, x0[keep], y0[keep], period, 1.0


def _local_lattice(img: np.ndarray, pixel_size: float | None, backend: str):
    """Local lattice of the image (None when the lattice map finds no 2-D lattice)."""
    from ._local import local_lattice

    return local_lattice(img, pixel_size, backend=backend)


def _detect_local(img: Any, local: Any, xp: ModuleType, threshold: float):
    """Candidate columns (integer px) with the period and crystal mask of the local lattice.

    Maxima within ``0.42 x`` the smallest local period are found with one maximum
    filter; a candidate is then dropped when a higher one lies within 0.42 of *its*
    local period (vectorised non-maximum suppression), or when it is more than one
    window away from the crystal. Heights are taken above a local background (min then
    mean filter over one row spacing) and kept above ``threshold`` x the 95th
    percentile of the crystal's candidates.
    """
    from scipy.spatial import cKDTree

    ndi = get_ndimage(xp)
    nn = local.nn_px[local.crystalline]
    p_min = float(np.nanpercentile(nn, 2))
    period = local.period_px
    sm = ndi.gaussian_filter(img, max(0.8, 0.12 * p_min))
    f = max(1, int(p_min // 4))
    bsize = max(3, int(round(np.nanpercentile(local.spacing_px[local.crystalline], 90) / f)))
    small = sm[::f, ::f]
    bg = ndi.uniform_filter(ndi.minimum_filter(small, size=bsize), size=bsize)
    r = max(1, int(0.42 * p_min))
    peaks = sm == ndi.maximum_filter(sm, size=2 * r + 1)
    iy, ix = xp.nonzero(peaks)
    height = asnumpy(sm[iy, ix] - bg[iy // f, ix // f])
    x0, y0 = asnumpy(ix).astype(float), asnumpy(iy).astype(float)
    near = local.sample("crystalline", x0, y0, dilate=1) & (height > 0)
    x0, y0, height = x0[near], y0[near], height[near]
    if x0.size == 0:
        raise NoLatticeError("image: no atom columns found (no local maxima above the background)")
    local_p = local.sample("nn_px", x0, y0)
    local_p = np.where(np.isfinite(local_p), local_p, period)
    pairs = cKDTree(np.c_[x0, y0]).query_pairs(
        0.5 * float(np.nanmax(local_p)), output_type="ndarray"
    )
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        lo = np.where(height[i] < height[j], i, j)
        d = np.hypot(x0[i] - x0[j], y0[i] - y0[j])
        drop = np.zeros(x0.size, bool)
        drop[lo[d < 0.5 * local_p[lo]]] = True
        x0, y0, height = x0[~drop], y0[~drop], height[~drop]
    inside = local.sample("crystalline", x0, y0)
    ref = float(np.percentile(height[inside] if inside.any() else height, 95))
    keep = height >= threshold * ref
    return x0[keep], y0[keep]


def _dedupe(x: np.ndarray, y: np.ndarray, min_dist: float) -> np.ndarray:
    """Boolean mask keeping one of every pair of positions closer than ``min_dist``."""
    from scipy.spatial import cKDTree

    keep = np.ones(len(x), dtype=bool)
    if len(x) < 2:
        return keep
    pairs = cKDTree(np.c_[x, y]).query_pairs(min_dist, output_type="ndarray")
    keep[pairs[:, 1]] = False
    return keep


def find_columns(
    image: Any,
    pixel_size: float | None = None,
    *,
    threshold: float = 0.3,
    refine: bool = True,
    n_iter: int = 4,
    trace: bool = True,
    backend: str = "numpy",
) -> Any:
    """Find the bright (TM) atom columns of a HAADF image with sub-pixel precision.

    Parameters
    ----------
    image : array (H, W) or HyperSpy Signal2D
        HAADF-STEM image (columns bright).
    pixel_size : float, optional
        nm per pixel (taken from a calibrated signal when omitted).
    threshold : float
        Keep maxima whose height above the local background is at least this fraction
        of the 95th percentile of all maxima heights (rejects O columns and noise).
    refine : bool
        Refine every column by a 2-D Gaussian fit (batched over all columns).
    n_iter : int
        Levenberg-Marquardt iterations of the refinement (first pass; the second,
        neighbour-subtracted shot-noise-weighted pass takes half as many, at least 2).
    trace : bool
        Link columns into TM layers (``layer``, ``layer_pos``, ``chain``); when False,
        ``layer`` is -1 everywhere.
    backend : {"numpy", "cupy", "auto"}
        Array backend of detection and refinement; the result is always NumPy/pandas.

    Returns
    -------
    pandas.DataFrame
        A row per TM column:

        - ``x, y`` : sub-pixel position, px (x = column index, y = row index).
        - ``amplitude`` : Gaussian peak height above the local background (image units).
        - ``sigma`` : Gaussian width, px.
        - ``background`` : local constant background of the fit (image units).
        - ``layer`` : TM-layer index (int), numbered 0, 1, 2... in order along the layer
          normal ``n`` (increasing with ``x n_x + y n_y``); -1 if unassigned.
        - ``layer_pos`` : integer index along the layer (consecutive neighbours differ by
          1, a missing column by 2...; origin arbitrary per layer but consistent
          within a layer).
        - ``chain`` : id of the linked chain of columns (a layer may be split into several
          chains at gaps; -1 if unassigned).
        - ``s, n`` : position in the layer frame, px: ``s = x t_x + y t_y``,
          ``n = x n_x + y n_y`` (about pixel (0, 0)).
        - ``residual`` : RMS residual of the fit (image units).
        - ``grain``, ``t_x, t_y`` : lattice-map grain and local layer direction (unit,
          signed like ``tangent``) at the column, when a local lattice was mapped.

        ``df.attrs`` holds ``pixel_size`` (nm/px or None), ``normal`` ``(n_x, n_y)``
        (canonical: direction of the (003) g-vector, n_y > 0), ``tangent``
        ``(t_x, t_y) = (n_y, -n_x)``, ``period_px`` (in-plane column period),
        ``spacing_px`` (d003, px) and ``n_layers``.

    Raises
    ------
    StemstrainError
        Non-finite values, a non-2-D image, a bad parameter.
    NoLatticeError
        No lattice in the FFT or too few columns (< 4).

    Examples
    --------
    >>> from stemstrain.synthetic import layered_oxide
    >>> lat = layered_oxide((256, 256), seed=1)
    >>> cols = find_columns(lat.image, pixel_size=lat.pixel_size)
    >>> bool(abs(len(cols) - len(lat.tm_columns())) <= 3)
    True
    """
    import pandas as pd

    data, px_size = image_and_pixel_size(image, pixel_size, "image")
    if not 0 < float(threshold) < 1:
        raise StemstrainError(f"threshold must be in (0, 1), got {threshold!r}")
    if not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
        raise StemstrainError(f"n_iter must be an integer >= 1, got {n_iter!r}")
    xp = resolve_backend(backend)
    img = xp.asarray(data).astype(float_dtype(data.dtype), copy=False)
    check_finite(img, "image")
    if min(img.shape) < 16:
        raise NoLatticeError(f"image of shape {img.shape} is too small to find atom columns")
    lat, local, x0, y0, period, area = _candidates(img, px_size, xp, float(threshold), backend)
    _check_density(x0.size, img.shape, lat.spacing_px, period, area=area)
    cols = _refine(img, x0, y0, period, xp, n_iter) if refine else _unrefined(img, x0, y0, xp)
    h, w = img.shape
    inside = (
        (cols["x"] >= -0.5) & (cols["x"] <= w - 0.5) & (cols["y"] >= -0.5) & (cols["y"] <= h - 0.5)
    )
    if refine:  # blobs much wider or narrower than a column (carbon clumps, noise) are not columns
        sig = cols["sigma"]
        med = float(np.nanmedian(sig)) if np.isfinite(sig).any() else np.nan
        inside &= ~((sig > 1.8 * med) | (sig < 0.5 * med))
    df = pd.DataFrame({k: v[inside] for k, v in cols.items()})
    df = df.reset_index(drop=True)
    df.attrs.update(
        pixel_size=px_size,
        normal=lat.normal,
        tangent=lat.tangent,
        period_px=float(period),
        spacing_px=lat.spacing_px,
        lattice_source=local.source if local is not None else "fft",
        crystalline_fraction=area,
    )
    if local is not None:
        df["grain"] = local.sample("grains", df.x.to_numpy(), df.y.to_numpy()).astype(int)
        tl = local.sample("tangent", df.x.to_numpy(), df.y.to_numpy())
        tl = tl * np.sign(tl @ np.asarray(lat.tangent) + 1e-12)[:, None]
        df["t_x"], df["t_y"] = tl[:, 0], tl[:, 1]
        df.attrs["lattice_messages"] = local.messages
    if trace:
        from ._layers import trace_layers

        df = trace_layers(df)
    else:
        nx, ny = lat.normal
        df["layer"] = -1
        df["layer_pos"] = -1
        df["chain"] = -1
        df["s"] = df.x * ny - df.y * nx
        df["n"] = df.x * nx + df.y * ny
        df.attrs["n_layers"] = 0
    return df


def _check_density(
    n_found: int, shape: tuple, spacing_px: float, period_px: float, *, area: float = 1.0
) -> None:
    """Raise NoLatticeError unless the columns found fill the crystal like a lattice.

    ``area`` is the crystalline fraction of the image (1 without a lattice map).
    """
    if n_found < 4:
        raise NoLatticeError(f"image: only {n_found} atom columns found, need at least 4")
    if not period_px >= 2.0 or not spacing_px >= 2.0:
        raise NoLatticeError(
            f"image: lattice periods of {period_px:.2g} and {spacing_px:.2g} px are below 2 px; "
            "the columns are not resolved (use a finer pixel size)"
        )
    expected = area * shape[0] * shape[1] / (period_px * spacing_px)
    if n_found < 0.1 * expected:
        raise NoLatticeError(
            f"image: found {n_found} atom columns where the FFT lattice predicts ~{expected:.0f}; "
            "no lattice of resolved columns (or mostly vacuum): crop to the crystal"
        )


def _nn_period(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.spatial import cKDTree

    if x.size < 2:
        raise NoLatticeError(f"image: only {x.size} atom columns found, need at least 4")
    d, _ = cKDTree(np.c_[x, y]).query(np.c_[x, y], k=2)
    return float(np.median(d[:, 1]))


def _refine(
    img: Any,
    x0: np.ndarray,
    y0: np.ndarray,
    period: float,
    xp: ModuleType,
    n_iter: int,
) -> dict:
    from ._fit import neighbour_indices, refine_gaussians

    nb = neighbour_indices(x0, y0, k=8)
    radius = max(2, int(round(0.5 * period)))
    theta, rms = refine_gaussians(
        img,
        xp.asarray(x0),
        xp.asarray(y0),
        radius=radius,
        sigma0=max(0.7, 0.18 * period),
        xp=xp,
        n_iter=n_iter,
        n_iter2=max(2, n_iter // 2),
        neighbours=nb,
    )
    theta = asnumpy(theta)
    rms = asnumpy(rms)
    x, y, a, s, b = theta.T
    # fits that ran away (noise, a column cut by the edge): keep the start, flag by NaN sigma
    bad = ~np.isfinite(theta).all(axis=1) | (np.hypot(x - x0, y - y0) > 0.35 * period) | (a <= 0)
    x = np.where(bad, x0, x)
    y = np.where(bad, y0, y)
    s = np.where(bad, np.nan, np.abs(s))
    keep = ~(bad & (a <= 0))
    return {
        "x": x[keep],
        "y": y[keep],
        "amplitude": a[keep],
        "sigma": s[keep],
        "background": b[keep],
        "residual": rms[keep],
    }


def _unrefined(img: Any, x0: np.ndarray, y0: np.ndarray, xp: ModuleType) -> dict:
    vals = asnumpy(img[xp.asarray(y0.astype(np.int64)), xp.asarray(x0.astype(np.int64))])
    nan = np.full(x0.shape, np.nan)
    return {
        "x": x0,
        "y": y0,
        "amplitude": vals.astype(float),
        "sigma": nan,
        "background": nan,
        "residual": nan,
    }
