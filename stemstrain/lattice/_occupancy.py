"""Li-layer occupancy: TM-like intensity on the octahedral Li-layer sites.

Cation mixing (TM on Li sites) and rock-salt / spinel surface reconstruction show in
HAADF as intensity between the TM layers. For every gap measured by
:mod:`._stacking` the octahedral site lies midway between the two TM layers along the
normal, in-plane at phase ``-shift`` of the lower layer (for O3 the position that
neither neighbouring TM layer occupies in projection; for O1 in line with the TM
columns).

The intensities come from one linear least-squares fit of the whole image:

    I(p) = sum_j A_j G(p - r_j) + sum_k L_k G(p - s_k) + B(p),

with ``G`` an isotropic Gaussian of the TM column width (from ``find_columns``' ``sigma``
or measured from the mean radial profile of the TM columns), ``r_j`` the TM columns,
``s_k`` the Li sites and ``B`` a bilinear background on a coarse grid (nodes every
``~3 d003``). Only pixels within ``fit_radius`` Gaussian widths of a TM column or a Li
site enter the fit, which keeps the weak O columns (between them) from leaking into
``L_k``. The normal equations are sparse (each Gaussian touches ~150 pixels) and are
solved directly. The occupancy of a site is ``L_k`` over the mean amplitude of the
lower and upper TM columns next to it: 0 for an ideal layered crystal, ~1 for rock salt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .._compat import keyword_only_after
from .._validate import check_finite, image_and_pixel_size
from ..errors import NoLatticeError, StemstrainError
from ..results import Calibration, ResultBase
from ._geometry import LayerGeometry, table_reference
from ._stacking import (
    LABEL_CODES,
    _check_backend,
    _columns_table,
    _site_positions,
    measure_gaps,
    paint_nearest,
)

__all__ = ["li_layer_occupancy", "OccupancyResult", "occupancy_profile"]


@dataclass(frozen=True)
class OccupancyResult(ResultBase):
    """Occupancy of the Li-layer octahedral sites.

    Attributes
    ----------
    sites : DataFrame
        A row per site: ``x, y`` (px), ``occupancy`` (site amplitude / neighbouring TM
        amplitude), ``occupancy_smooth`` (median over +-2 sites along the layer),
        ``amplitude`` (fitted site amplitude, image units), ``tm_amplitude`` (mean of the
        two neighbouring TM columns), ``shift`` and ``label`` of the gap, ``layer_below``,
        ``layer_above``, ``edge`` (True within 2 column widths of the image border, where
        columns outside the field of view are not modelled).
    map : ndarray (H, W)
        Occupancy painted over each Li layer (nearest site); NaN outside.
    crystal : ndarray of bool (H, W)
        Pixels of the specimen (False = vacuum), from the smoothed image.
    pixel_size : float or None
        nm per pixel.
    params : dict
        Column width (px), background grid, fit radius.
    """

    sites: pd.DataFrame
    map: np.ndarray
    crystal: np.ndarray
    pixel_size: float | None = None
    params: dict | None = None

    group: ClassVar[str] = "occupancy"
    map_fields: ClassVar[tuple[str, ...]] = ("map",)
    table_fields: ClassVar[tuple[str, ...]] = ("sites",)
    array_fields: ClassVar[tuple[str, ...]] = ("crystal",)
    attr_fields: ClassVar[tuple[str, ...]] = ("params",)

    @property
    def calibration(self) -> Calibration:
        """Pixel calibration of the map."""
        return Calibration.from_pixel_size(self.pixel_size)

    def profile(self, surface: Any = None, *, bin_nm: float | None = None) -> pd.DataFrame:
        """Occupancy against distance from a surface; see :func:`occupancy_profile`."""
        return occupancy_profile(self, surface=surface, bin_nm=bin_nm)


# ----------------------------------------------------------------------------- sites
def _o_positions(
    pts: np.ndarray,
    geo: LayerGeometry,
    d_med: float,
    o_fraction: float | None,
    owner: np.ndarray | None = None,
    slip: np.ndarray | None = None,
) -> np.ndarray:
    """Nuisance O-column positions: +-o_fraction d along n_i, +-a/3 along t_i (4 per column).

    ``owner`` gives, per point of ``pts``, the column whose local frame to use (default:
    the points are the columns themselves). ``slip`` (per column, periods): the
    interlayer-slip drift of the gap above; an O row at +-o_fraction d slips by
    +-o_fraction of it.
    """
    if o_fraction is None:
        return np.empty((0, 2))
    k = np.arange(len(pts)) if owner is None else owner
    d = np.where(np.isfinite(geo.spacing), geo.spacing, d_med)[k]
    drift = np.zeros(len(k)) if slip is None else np.nan_to_num(slip[k])
    out = []
    for side in (1.0, -1.0):
        for phase in (1.0 / 3.0, -1.0 / 3.0):
            along = (phase + side * o_fraction * drift) * geo.a_loc[k]
            out.append(
                pts + (side * o_fraction * d)[:, None] * geo.nrm[k] + along[:, None] * geo.tan[k]
            )
    return np.vstack(out)


def _missing_columns(pts: np.ndarray, geo: LayerGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Positions of columns missing from the table (a right neighbour two periods away)."""
    right = geo.right
    i = np.nonzero(right >= 0)[0]
    span = np.hypot(*(pts[right[i]] - pts[i]).T) / geo.a0
    i = i[np.round(span) == 2]
    return 0.5 * (pts[i] + pts[right[i]]), i


def _gaussian_design(
    cx: np.ndarray, cy: np.ndarray, sigma: float, shape: tuple[int, int], row_of: np.ndarray
):
    """Sparse (centres x fitted pixels) CSR matrix of unit Gaussians, truncated at 3.5 sigma.

    ``row_of`` maps a flat pixel index to its row in the fit (-1 for pixels left out).
    The Gaussian is separable, so only 1-D exponentials are evaluated; each centre's
    pixels come in raster order, so the CSR arrays are built directly (no sorting).
    """
    from scipy.sparse import csr_matrix

    h, w = shape
    r = int(np.ceil(3.5 * sigma))
    off = np.arange(-r, r + 1)
    px = np.round(cx).astype(int)[:, None] + off[None, :]
    py = np.round(cy).astype(int)[:, None] + off[None, :]
    gx = np.exp(-((px - cx[:, None]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((py - cy[:, None]) ** 2) / (2 * sigma**2))
    val = gy[:, :, None] * gx[:, None, :]
    flat = np.clip(py, 0, h - 1)[:, :, None] * w + np.clip(px, 0, w - 1)[:, None, :]
    inside = ((py >= 0) & (py < h))[:, :, None] & ((px >= 0) & (px < w))[:, None, :]
    row = np.where(inside, row_of[flat], -1)
    ok = (row >= 0) & (val > 1e-4)
    indptr = np.r_[0, np.cumsum(ok.reshape(len(cx), -1).sum(axis=1))]
    n_rows = int(row_of.max()) + 1
    return csr_matrix((val[ok], row[ok], indptr), shape=(cx.size, n_rows))


def _background_design(shape: tuple[int, int], node_px: float, pix: np.ndarray):
    """Sparse bilinear 'hat' basis on a grid of nodes every ``node_px`` px, at pixels ``pix``."""
    from scipy.sparse import csr_matrix

    h, w = shape
    ny, nx = int(np.ceil((h - 1) / node_px)) + 1, int(np.ceil((w - 1) / node_px)) + 1
    sy, sx = (h - 1) / max(ny - 1, 1), (w - 1) / max(nx - 1, 1)
    fy = (pix // w) / sy if ny > 1 else np.zeros(pix.size)
    fx = (pix % w) / sx if nx > 1 else np.zeros(pix.size)
    iy0 = np.minimum(np.floor(fy).astype(int), max(ny - 2, 0))
    ix0 = np.minimum(np.floor(fx).astype(int), max(nx - 2, 0))
    wy, wx = fy - iy0, fx - ix0
    rows, cols, vals = [], [], []
    rid = np.arange(pix.size)
    for dy, dx, wgt in (
        (0, 0, (1 - wy) * (1 - wx)),
        (0, 1, (1 - wy) * wx),
        (1, 0, wy * (1 - wx)),
        (1, 1, wy * wx),
    ):
        rows.append(rid)
        cols.append(np.minimum(iy0 + dy, ny - 1) * nx + np.minimum(ix0 + dx, nx - 1))
        vals.append(wgt)
    return csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(pix.size, ny * nx),
    )


def _fit_pixels(centres: np.ndarray, shape: tuple[int, int], radius_px: float) -> np.ndarray:
    """Flat indices of the pixels within ``radius_px`` of any centre (distance transform)."""
    from scipy import ndimage as ndi

    h, w = shape
    marks = np.ones(shape, dtype=bool)
    ix, iy = np.round(centres[:, 0]).astype(int), np.round(centres[:, 1]).astype(int)
    ok = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    marks[iy[ok], ix[ok]] = False
    return np.flatnonzero(ndi.distance_transform_edt(marks) <= radius_px + 0.5)


def _fit_amplitudes(
    img: np.ndarray, centres: np.ndarray, sigma: float, node_px: float, fit_radius: float
) -> np.ndarray:
    """Linear least-squares amplitudes of Gaussians at ``centres`` plus a smooth background.

    The normal equations are solved by conjugate gradients with a Jacobi preconditioner
    (the Gaussians barely overlap, so it converges in a few tens of iterations).
    """
    from scipy.sparse import vstack
    from scipy.sparse.linalg import LinearOperator, cg

    shape = img.shape
    pix = _fit_pixels(centres, shape, fit_radius * sigma)
    row_of = np.full(img.size, -1, dtype=np.int64)
    row_of[pix] = np.arange(pix.size)
    at = vstack(
        [
            _gaussian_design(centres[:, 0], centres[:, 1], sigma, shape, row_of),
            _background_design(shape, node_px, pix).T.tocsr(),
        ]
    ).tocsr()
    b = img.ravel()[pix].astype(float)
    ata = (at @ at.T).tocsr()
    diag = ata.diagonal()
    diag = np.where(diag > 0, diag, 1.0)
    rhs = at @ b
    inv = 1.0 / diag
    jacobi = LinearOperator(ata.shape, matvec=lambda v: inv * np.ravel(v), dtype=float)
    sol, info = cg(ata, rhs, M=jacobi, rtol=1e-10, maxiter=2000)
    if info != 0:  # fall back to a direct solve
        from scipy.sparse.linalg import spsolve

        sol = spsolve((ata + 1e-9 * diag.max() * _eye(ata.shape[0])).tocsc(), rhs)
    return np.asarray(sol)[: centres.shape[0]]


def _eye(n: int):
    from scipy.sparse import identity

    return identity(n, format="csc")


def _estimate_sigma(
    img: np.ndarray, pts: np.ndarray, geo: LayerGeometry, o_offset: np.ndarray | None
) -> float:
    """Column width (px) from the pixels around the TM columns along the layers.

    Only pixels within ~27 degrees of each column's layer direction and closer than half
    its local period are used: the nearest other columns there are the TM neighbours one
    period away, and the tails of the O columns (at ``o_offset`` (N, 2) = (along t, along n)
    px, in the two centrosymmetric arrangements, when given).
    ``A [G(r) + G(r_nb)] + A_O sum G(r_O) + bg`` is fitted.
    """
    from scipy.optimize import curve_fit

    h, w = img.shape
    a_loc, tan = geo.a_loc, geo.tan
    period = float(np.median(a_loc))
    r = int(np.ceil(0.5 * period))
    off = np.arange(-r, r + 1)
    inner = (pts[:, 0] > r) & (pts[:, 0] < w - 1 - r) & (pts[:, 1] > r) & (pts[:, 1] < h - 1 - r)
    if inner.sum() < 3:
        inner[:] = True
    idx = np.nonzero(inner)[0][:: max(1, int(inner.sum()) // 400)]
    sel, t, a_i = pts[idx], tan[idx], a_loc[idx, None, None]
    px = np.clip(np.round(sel[:, 0]).astype(int)[:, None, None] + off[None, None, :], 0, w - 1)
    py = np.clip(np.round(sel[:, 1]).astype(int)[:, None, None] + off[None, :, None], 0, h - 1)
    dx, dy = px - sel[:, 0, None, None], py - sel[:, 1, None, None]
    s_t = dx * t[:, 0, None, None] + dy * t[:, 1, None, None]
    u_n = -dx * t[:, 1, None, None] + dy * t[:, 0, None, None]
    r2 = s_t**2 + u_n**2
    keep = (r2 < (0.5 * a_i) ** 2) & (s_t**2 >= 0.79 * r2)
    rows = [r2, (a_i - np.abs(s_t)) ** 2 + u_n**2]
    if o_offset is not None:
        os_, on = o_offset[idx, 0, None, None], o_offset[idx, 1, None, None]
        # the two centrosymmetric pairs of O sites, each with its own amplitude
        # (and their periodic images one period along t)
        rows += [
            (s_t - fa * os_) ** 2 + (u_n - sb * on) ** 2
            for sa, sb in ((1, 1), (-1, -1), (1, -1), (-1, 1))
            for fa in (sa, -2 * sa)
        ]
    x = np.vstack([v[keep] for v in rows])
    val = img[py, px][keep].astype(float)

    def model(x, amp, sig, bg, amp_a=0.0, amp_b=0.0):
        g = np.exp(-x / (2 * sig**2))
        out = amp * (g[0] + g[1]) + bg
        if len(g) > 2:
            out = out + amp_a * g[2:6].sum(axis=0) + amp_b * g[6:10].sum(axis=0)
        return out

    p0 = [val.max() - val.min(), period / 5, val.min()]
    p0 += [0.0, 0.0] if o_offset is not None else []
    try:
        popt, _ = curve_fit(model, x, val, p0=p0, maxfev=4000)
        sig = abs(float(popt[1]))
    except RuntimeError:
        sig = float("nan")
    if not (0.03 * period < sig < 0.6 * period):
        raise NoLatticeError("image: could not measure the TM column width; pass sigma_px= (px)")
    return sig


# ----------------------------------------------------------------------------- public
@keyword_only_after(2, order=("columns",))
def li_layer_occupancy(
    image: Any,
    pixel_size: float | None = None,
    *,
    columns: pd.DataFrame | None = None,
    sigma_px: float | None = None,
    fit_radius: float = 1.5,
    o_fraction: float | None = 0.22,
    backend: str = "numpy",
) -> OccupancyResult:
    """TM-like intensity on every octahedral Li-layer site, relative to the TM columns.

    Parameters
    ----------
    image : ndarray (H, W) or hyperspy Signal2D
        HAADF image.
    pixel_size : float, optional
        nm per pixel (from a calibrated signal when omitted).
    columns : DataFrame, optional
        TM columns (``x, y`` px; ``sigma`` px as a fallback width); found with
        :func:`stemstrain.find_columns` when omitted.
    sigma_px : float, optional
        Gaussian width of a column, px; default measured from the TM columns (with their
        neighbours and O tails modelled), else the median of ``columns['sigma']``.
    fit_radius : float
        Pixels within this many widths of a column or site enter the fit (> 0).
    o_fraction : float or None
        O columns are modelled (free amplitudes, so they do not leak into the Li sites) at
        this fraction of the interlayer spacing on either side of each TM layer, in-plane
        at +-1/3 of the period (0.22 = 0.103 nm / 0.468 nm in LiCoO2); None leaves them out.
    backend : {"numpy", "cupy", "auto"}
        Passed to column finding; the sparse fit runs on the CPU.

    Returns
    -------
    OccupancyResult
        ``sites`` table, ``map`` and ``crystal`` mask.

    Raises
    ------
    StemstrainError
        Bad ``columns``, ``sigma_px`` or ``fit_radius``.
    NoLatticeError
        Too few columns or no pair of adjacent TM layers.

    Examples
    --------
    >>> from stemstrain.synthetic import layered_oxide
    >>> lat = layered_oxide((192, 192), li_occupancy=0.2, seed=1)
    >>> res = li_layer_occupancy(lat.image, 0.02, columns=lat.tm_columns())
    >>> abs(res.sites.occupancy.median() - 0.2) < 0.03
    True
    """
    data, px_size = image_and_pixel_size(image, pixel_size, "image")
    _check_backend(backend)
    if not (isinstance(fit_radius, (int, float)) and 0 < fit_radius <= 5):
        raise StemstrainError(f"fit_radius must be in (0, 5] column widths, got {fit_radius!r}")
    if o_fraction is not None and not (
        isinstance(o_fraction, (int, float)) and 0 < o_fraction < 0.5
    ):
        raise StemstrainError(f"o_fraction must be in (0, 0.5) or None, got {o_fraction!r}")
    img = np.asarray(data, dtype=float)
    check_finite(img, "image")
    table = _columns_table(data, px_size, columns, backend)
    pts = table[["x", "y"]].to_numpy(dtype=float)
    geo, gap = measure_gaps(pts, reference=table_reference(table))
    site, i = _site_positions(pts, geo, gap)
    slip = gap["slip"] if gap["fit"].applied else None
    if site.shape[0] == 0:
        raise NoLatticeError("columns: no pair of adjacent TM layers found; cannot place Li sites")
    d_med = float(np.nanmedian(geo.spacing[i]))
    o_offset = None
    if o_fraction is not None:
        d_i = np.where(np.isfinite(geo.spacing), geo.spacing, d_med)
        o_offset = np.c_[geo.a_loc / 3.0, o_fraction * d_i]
    sigma = _column_sigma(img, pts, geo, o_offset, table, sigma_px)
    node = max(16.0, 3.0 * d_med)
    # columns missing from the table are modelled too, so that they do not leak into sites
    gone, gone_of = _missing_columns(pts, geo)
    nuisance = [
        _o_positions(pts, geo, d_med, o_fraction, slip=slip),
        gone,
        _o_positions(gone, geo, d_med, o_fraction, owner=gone_of, slip=slip),
    ]
    amps = _fit_amplitudes(img, np.vstack([pts, site, *nuisance]), sigma, node, fit_radius)
    sites = _sites_table(amps, site, i, geo, gap, table, sigma, img.shape)
    occ = sites["occupancy"].to_numpy()
    h, w = img.shape
    (occ_map, _painted) = paint_nearest(
        (h, w), site[:, 0], site[:, 1], [occ], 0.55 * d_med, [np.nan]
    )
    params = dict(
        sigma_px=float(sigma),
        fit_radius=float(fit_radius),
        background_node_px=node,
        period_px=geo.a0,
        spacing_px=d_med,
        layer_direction=[float(v) for v in geo.t],
        columns_source="given" if columns is not None else "find_columns",
        slip=gap["fit"].params(geo.t),
    )
    return OccupancyResult(
        sites=sites,
        map=occ_map,
        crystal=_crystal_mask(img, geo.a0, d_med),
        pixel_size=px_size,
        params=params,
    )


def _sites_table(
    amps: np.ndarray,
    site: np.ndarray,
    i: np.ndarray,
    geo: LayerGeometry,
    gap: dict,
    table: pd.DataFrame,
    sigma: float,
    shape: tuple[int, int],
) -> pd.DataFrame:
    """Sites table from the fitted amplitudes (TM columns first, then the Li sites)."""
    n_tm = len(geo.up)
    a_tm, a_li = amps[:n_tm], amps[n_tm : n_tm + len(site)]
    tm_ref = 0.5 * (a_tm[i] + a_tm[geo.up[i]])
    with np.errstate(divide="ignore", invalid="ignore"):
        occ = np.where(tm_ref > 0, a_li / tm_ref, np.nan)
    h, w = shape
    edge = (
        (site[:, 0] < 2 * sigma)
        | (site[:, 0] > w - 1 - 2 * sigma)
        | (site[:, 1] < 2 * sigma)
        | (site[:, 1] > h - 1 - 2 * sigma)
    )
    layer_ids = table["layer"].to_numpy() if "layer" in table.columns else geo.chain
    names = {v: k for k, v in LABEL_CODES.items()}
    return pd.DataFrame(
        {
            "x": site[:, 0],
            "y": site[:, 1],
            "occupancy": occ,
            "occupancy_smooth": _smooth_along(occ, i, geo),
            "amplitude": a_li,
            "tm_amplitude": tm_ref,
            "shift": gap["shift"][i],
            "label": [names[c] for c in gap["code"][i]],
            "layer_below": layer_ids[i],
            "layer_above": layer_ids[geo.up[i]],
            "edge": edge,
        }
    )


def _column_sigma(
    img: np.ndarray,
    pts: np.ndarray,
    geo: LayerGeometry,
    o_offset: np.ndarray | None,
    table: pd.DataFrame,
    sigma_px: float | None,
) -> float:
    period = float(np.median(geo.a_loc))
    if sigma_px is not None:
        try:
            s = float(sigma_px)
        except (TypeError, ValueError):
            s = float("nan")
        if not (np.isfinite(s) and 0 < s < period):
            raise StemstrainError(
                f"sigma_px must be a column width in (0, {period:.1f}) px, got {sigma_px!r}"
            )
        return s
    try:  # own estimate first: it models the neighbours and O tails that a free fit absorbs
        return _estimate_sigma(img, pts, geo, o_offset)
    except NoLatticeError:
        if "sigma" not in table.columns:
            raise
        s = float(np.nanmedian(table["sigma"].to_numpy(float)))
        if not (np.isfinite(s) and 0 < s < period):
            raise
        return s


def _smooth_along(
    values: np.ndarray, i: np.ndarray, geo: LayerGeometry, half: int = 2
) -> np.ndarray:
    """Median of site values over +-half neighbouring lower columns (same gap)."""
    m = geo.up.size
    full = np.full(m, np.nan)
    full[i] = values
    up_chain = np.where(geo.up >= 0, geo.chain[np.maximum(geo.up, 0)], -1)
    window = [np.arange(m)]
    for step in (geo.left, geo.right):
        cur = np.arange(m)
        for _ in range(half):
            cur = np.where(cur >= 0, step[np.maximum(cur, 0)], -1)
            window.append(cur.copy())
    win = np.stack(window, axis=1)
    ok = (win >= 0) & (up_chain[np.maximum(win, 0)] == up_chain[:, None])
    vals = np.where(ok, full[np.maximum(win, 0)], np.nan)
    out = np.full(m, np.nan)
    good = np.isfinite(vals).any(axis=1)
    out[good] = np.nanmedian(vals[good], axis=1)
    return out[i]


def _crystal_mask(img: np.ndarray, period: float, spacing: float) -> np.ndarray:
    """Specimen pixels (False = vacuum).

    Every specimen pixel lies within half an interlayer spacing of a bright column, so the
    local maximum (window 1.5 spacings wide, so that a layer just outside the field of
    view does not leave a dark band at the border) of the lightly smoothed image is high in the
    specimen and stays at the background in vacuum. The threshold is 30 % of the way from
    the darkest pixels to the upper quartile; no vacuum is reported when nothing falls
    below half the upper quartile.
    """
    from scipy import ndimage as ndi

    sm = ndi.gaussian_filter(img, sigma=max(1.0, period / 6))
    peak = ndi.maximum_filter(sm, size=max(3, int(round(1.5 * spacing)) | 1))
    lo, hi = np.percentile(peak, 1), np.percentile(peak, 75)
    mask = peak > lo + 0.3 * (hi - lo)
    if mask.mean() > 0.98 or not (peak < 0.5 * hi).any():
        return np.ones(img.shape, dtype=bool)
    pad = 3  # edge padding: the image border is not a surface
    opened = ndi.binary_opening(np.pad(mask, pad, mode="edge"), iterations=2)[pad:-pad, pad:-pad]
    return ndi.binary_fill_holes(opened)


def occupancy_profile(
    result: OccupancyResult, surface: Any = None, *, bin_nm: float | None = None
) -> pd.DataFrame:
    """Mean site occupancy against distance from a particle surface, inward.

    Parameters
    ----------
    result : OccupancyResult
        Output of :func:`li_layer_occupancy`.
    surface : ((x0, y0), (x1, y1)) or ndarray of bool, optional
        A surface line through two points (px), or a vacuum mask (True = vacuum) of the
        image's shape. Default: the edge of ``result.crystal`` (vacuum found in the image).
    bin_nm : float, optional
        Bin width, nm (px when uncalibrated); default 0.25 nm or 12 px.

    Returns
    -------
    DataFrame
        ``distance`` (bin centre, nm or px), ``occupancy`` (mean), ``std``, ``n`` (sites);
        ``attrs["unit"]`` is "nm" or "px".

    Raises
    ------
    StemstrainError
        No vacuum in the image and no ``surface`` given, or a malformed ``surface``.
    """
    sites = result.sites[~result.sites["edge"]]
    scale = result.pixel_size or 1.0
    dist_px = _surface_distance(result, sites, surface)
    if bin_nm is None:
        bin_nm = 0.25 if result.pixel_size else 12.0
    width = float(bin_nm)
    if not (np.isfinite(width) and width > 0):
        raise StemstrainError(f"bin_nm must be > 0, got {bin_nm!r}")
    d = dist_px * scale
    keep = np.isfinite(d) & np.isfinite(sites["occupancy"].to_numpy(float))
    k = np.floor(d[keep] / width).astype(int)
    occ = sites["occupancy"].to_numpy(float)[keep]
    frame = pd.DataFrame({"bin": k, "occ": occ}).groupby("bin")["occ"].agg(["mean", "std", "size"])
    out = pd.DataFrame(
        {
            "distance": (frame.index.to_numpy() + 0.5) * width,
            "occupancy": frame["mean"].to_numpy(),
            "std": frame["std"].to_numpy(),
            "n": frame["size"].to_numpy(),
        }
    )
    out.attrs["unit"] = "nm" if result.pixel_size else "px"
    return out


def _surface_distance(result: OccupancyResult, sites: pd.DataFrame, surface: Any) -> np.ndarray:
    from scipy import ndimage as ndi

    x, y = sites["x"].to_numpy(float), sites["y"].to_numpy(float)
    shape = result.map.shape
    if surface is None or (isinstance(surface, np.ndarray) and surface.dtype == bool):
        vac = ~result.crystal if surface is None else surface
        if vac.shape != shape:
            raise StemstrainError(
                f"surface mask must have the image's shape {shape}, got {vac.shape}"
            )
        if not vac.any():
            raise StemstrainError(
                "surface: no vacuum found in the image; pass surface=((x0, y0), (x1, y1)) in px"
            )
        dist = ndi.distance_transform_edt(~vac)
        ix = np.clip(np.round(x).astype(int), 0, shape[1] - 1)
        iy = np.clip(np.round(y).astype(int), 0, shape[0] - 1)
        return dist[iy, ix]
    try:
        (x0, y0), (x1, y1) = np.asarray(surface, dtype=float)
    except (TypeError, ValueError):
        raise StemstrainError(
            f"surface must be ((x0, y0), (x1, y1)) in px or a boolean vacuum mask, got {surface!r}"
        ) from None
    length = np.hypot(x1 - x0, y1 - y0)
    if not length > 0:
        raise StemstrainError("surface: the two points of the line must differ")
    signed = ((x - x0) * (y1 - y0) - (y - y0) * (x1 - x0)) / length
    return signed if np.median(signed) >= 0 else -signed
