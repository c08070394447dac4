"""O3/O1 stacking of layered oxides from the TM columns on either side of each Li layer.

Geometry (API.md layer frame): the layer normal ``n`` points along the (003) direction
with ``n_y > 0`` (``n_x > 0`` if ``n_y == 0``) and the in-plane direction is
``t = (n_y, -n_x)``. Across a Li layer (a *gap*) the upper TM layer (the one on the +n
side) is shifted along ``t`` relative to the lower one by a fraction ``shift`` of the
in-plane period: +1/3 for O3, -1/3 for the O3 twin variant, 0 for O1.

Everything is measured *locally* so that bent, rotated and dislocated crystals work:

1. The in-plane period ``a`` is the median nearest-neighbour distance of the TM columns
   (in-plane neighbours are the closest: ``a`` = 0.244 nm < d003 = 0.468 nm).
2. Each column's in-layer neighbours (left/right along ``t``) are the neighbours closer
   than ``1.35 a`` whose direction is within ~30 degrees of the global layer direction;
   they give the local tangent ``t_i`` and normal ``n_i``. The links make chains
   (TM layers, numbered along ``n`` when no ``layer`` column is given).
3. For each column ``i`` the *upper* layer is found locally: the neighbours whose offset
   along ``n_i`` is larger than ``0.6 a``, the smallest such offset band. The upper column
   ``j`` nearest along ``t_i`` gives ``shift = s_j / a_side``, its position along ``t_i``
   over the lower layer's local period on that side (i.e. the phase of the lower layer's
   column sequence at the upper column), which lies in ``(-1/2, 1/2]``.
   Because upper layers are found per column, a layer that ends at a dislocation simply
   hands over to the next one (layers are renumbered locally).
4. The shift is smoothed by a median over ``2 * smooth + 1`` consecutive lower columns
   that see the same upper layer and classified: ``|shift - 1/3| < tol`` -> O3
   (variant +1), ``|shift + 1/3| < tol`` -> O3 (variant -1), ``|shift| < tol`` -> O1,
   otherwise other; fewer than ``smooth + 1`` valid samples or a median absolute
   deviation above ``tol`` -> unknown.
5. ``label_map`` paints every pixel with the label of the nearest point on the gap
   mid-lines (sampled four times per column), up to ``0.55 d`` from it: the boundaries
   fall on the TM layers, like the generator's truth.
6. Interlayer slip (``slip="auto"``, :mod:`._slip`): bent layers that keep their arc
   length slip over each other, so the registry of a gap drifts by
   ``beta d (theta - theta0) / a`` periods (1.9 per rad in a layered oxide: an O3 gap
   passes through O1-like registry every ~10 deg of tilt with its stacking sequence
   unchanged). ``beta`` and ``theta0`` are fitted over the whole image from the
   coherence of ``exp(6 pi i shift)``, the same for the three stacking shifts, and the
   drift is removed before step 4 when it explains the registry clearly better than no
   drift (straight and non-slipping crystals are not changed). The drift fixes the
   stacking up to a uniform 1/3 shift, anchored by "the matrix is O3", the spacing of
   the minority gaps (a twin keeps the matrix spacing, O1 does not) and the median layer
   orientation; a ``UserWarning`` says when that anchoring is doubtful or the drift does
   not follow one slip law. Li sites, half-way up, slip by half the drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .._compat import keyword_only_after
from .._validate import image_and_pixel_size
from ..errors import NoLatticeError, NotLayeredError, StemstrainError
from ..results import Calibration, ResultBase
from ._geometry import LayerGeometry, layer_geometry, table_reference
from ._slip import SlipFit, fit_slip, gap_angle, wrap

__all__ = ["stacking_map", "StackingResult", "LABEL_CODES"]

LABEL_CODES = {"unknown": 0, "O3": 1, "O1": 2, "other": 3}
_CODE_NAMES = {v: k for k, v in LABEL_CODES.items()}


@dataclass(frozen=True)
class StackingResult(ResultBase):
    """Stacking of every gap between adjacent TM layers.

    Attributes
    ----------
    gaps : DataFrame
        A row per lower-layer column that has a TM layer above it: ``layer_below``,
        ``layer_above`` (layer numbers of the input table, or of the traced chains),
        ``x, y`` (px, the gap mid-point above the column), ``shift`` (smoothed, fraction
        of the in-plane period, in (-1/2, 1/2]), ``shift_raw`` (this column alone),
        ``spread`` (median absolute deviation in the smoothing window), ``spacing``
        (px, distance between the layers along the normal), ``label`` ("O3", "O1",
        "other", "unknown"), ``variant`` (+1 / -1 for the two O3 variants, 0 else),
        ``registry`` (the measured shift, smoothed, before removing the slip drift),
        ``slip`` (the interlayer-slip drift removed, periods, = registry - shift modulo 1;
        0 when none was found), ``column`` (row index of the lower column in the input
        table).
    label_map : ndarray of uint8 (H, W)
        0 unknown / outside the crystal, 1 O3, 2 O1, 3 other, painted over each gap.
    shift_map : ndarray of float (H, W)
        Smoothed shift painted like ``label_map``; NaN where no gap.
    variant_map : ndarray of int8 (H, W)
        +1 / -1 for the O3 variant, 0 else.
    fractions : dict
        Area fraction of "O3", "O1", "other", "unknown" within the painted gap area (sum 1);
        "O3+" and "O3-" split O3 by variant; "coverage" = painted area / image area.
    pixel_size : float or None
        nm per pixel.
    params : dict
        Parameters used (tolerance, smoothing, period in px, layer direction) and
        ``slip``: the drift fit (``applied, beta, theta0_deg, coherence_raw, coherence,
        doubtful``).
    slip_map : ndarray of float (H, W) or None
        Slip drift removed (periods), painted like ``shift_map``; NaN where no gap.
    """

    gaps: pd.DataFrame
    label_map: np.ndarray
    shift_map: np.ndarray
    variant_map: np.ndarray
    fractions: dict
    pixel_size: float | None = None
    params: dict | None = None
    slip_map: np.ndarray | None = None

    group: ClassVar[str] = "stacking"
    map_fields: ClassVar[tuple[str, ...]] = ("label_map", "shift_map", "variant_map", "slip_map")
    table_fields: ClassVar[tuple[str, ...]] = ("gaps",)
    attr_fields: ClassVar[tuple[str, ...]] = ("fractions", "params")

    @property
    def calibration(self) -> Calibration:
        """Pixel calibration of the maps."""
        return Calibration.from_pixel_size(self.pixel_size)

    def summary(self) -> pd.DataFrame:
        """One row per pair of adjacent layers: the majority label and the median shift.

        Returns
        -------
        DataFrame
            ``layer_below, layer_above, n`` (columns measured), ``shift`` (median),
            ``spacing`` (median, px), ``label`` (most common, "unknown" rows ignored
            unless all are unknown), ``variant`` (most common), ``agreement`` (fraction of
            the rows with that label).
        """
        g = self.gaps

        def majority(labels: pd.Series) -> str:
            known = labels[labels != "unknown"]
            return (known if len(known) else labels).mode().iloc[0]

        out = g.groupby(["layer_below", "layer_above"], sort=True).agg(
            n=("shift", "size"),
            shift=("shift", "median"),
            spacing=("spacing", "median"),
            label=("label", majority),
            variant=("variant", lambda v: v.mode().iloc[0]),
        )
        out = out.reset_index()
        merged = g.merge(
            out[["layer_below", "layer_above", "label"]],
            on=["layer_below", "layer_above"],
            suffixes=("", "_major"),
        )
        agree = (
            (merged["label"] == merged["label_major"])
            .groupby([merged["layer_below"], merged["layer_above"]])
            .mean()
        )
        out["agreement"] = agree.to_numpy()
        return out


# ----------------------------------------------------------------------------- inputs
def _columns_table(
    image: Any, pixel_size: float | None, columns: Any, backend: str
) -> pd.DataFrame:
    """TM columns as a DataFrame with x, y (and layer/amplitude/sigma when known)."""
    if columns is None:
        from ._columns import find_columns

        table = pd.DataFrame(find_columns(image, pixel_size=pixel_size, backend=backend))
    else:
        if not isinstance(columns, pd.DataFrame):
            try:
                columns = pd.DataFrame(columns)
            except Exception:
                raise StemstrainError(
                    "columns must be a DataFrame with 'x' and 'y' (px), got "
                    f"{type(columns).__name__}"
                ) from None
        missing = [c for c in ("x", "y") if c not in columns.columns]
        if missing:
            raise StemstrainError(
                f"columns is missing {missing}; pass a table with 'x' and 'y' in px "
                "(e.g. the output of ss.find_columns)"
            )
        table = columns
        xy = table[["x", "y"]].to_numpy(dtype=float)
        if not np.isfinite(xy).all():
            raise StemstrainError("columns has NaN/inf in 'x' or 'y'; drop those rows")
    table = _keep_tm(table)
    if len(table) < 12:
        raise NoLatticeError(
            f"found only {len(table)} TM columns; need a lattice of at least a few layers "
            "(check the image, its pixel size, or pass columns=)"
        )
    table = table.reset_index(drop=True)
    amp = table["amplitude"].to_numpy(float) if "amplitude" in table.columns else None
    li_rows = _li_site_rows(
        layer_geometry(table[["x", "y"]].to_numpy(dtype=float), reference=table_reference(table)),
        amp,
    )
    if li_rows.any() and (~li_rows).sum() >= 12:
        table = table[~li_rows].reset_index(drop=True)
    return table


def _li_site_rows(geo: LayerGeometry, amplitude: np.ndarray | None = None) -> np.ndarray:
    """Columns of rows that are filled Li-layer sites (rock salt), not TM layers.

    Where the Li sites are as bright as TM columns (rock-salt surface), they form rows
    half-way between the TM layers. Chains (rows) are linked to the chain above them;
    a link shorter than 1.4 in-plane periods is a half step (d003 is ~1.9 periods).
    Starting from TM rows next to full steps, the parity flips across every half step;
    rows of odd parity are Li-site rows. Where no TM row next to a full step is reached
    (rock salt all over) the brighter parity (``amplitude``, when known) is TM.
    """
    chain, up, spacing = geo.chain, geo.up, geo.spacing
    ok = up >= 0
    if ok.sum() < 4:
        return np.zeros(chain.size, dtype=bool)
    # layered oxides: d003 / a = 0.468 / 0.244 = 1.9 (O1: 1.8); a half step is ~0.95 a
    half = ok & (spacing < 1.4 * geo.a0)
    if not half.any():
        return np.zeros(chain.size, dtype=bool)
    n_chain = int(chain.max()) + 1
    # chain -> chain above (majority of its columns) and whether that link is a half step
    pairs = pd.DataFrame({"c": chain[ok], "u": chain[up[ok]], "half": half[ok]})
    link = pairs.groupby(["c", "u"]).agg(n=("half", "size"), half=("half", "mean")).reset_index()
    link = link.sort_values("n", ascending=False).drop_duplicates("c")
    adj: dict[int, list[tuple[int, bool]]] = {c: [] for c in range(n_chain)}
    for c, u, h in zip(link.c, link.u, link.half > 0.5, strict=True):
        adj[int(c)].append((int(u), bool(h)))
        adj[int(u)].append((int(c), bool(h)))
    parity = np.full(n_chain, -1)
    anchors = [int(c) for c, h in zip(link.c, link.half, strict=True) if h <= 0.5]
    anchors += [int(u) for u, h in zip(link.u, link.half, strict=True) if h <= 0.5]
    _propagate_parity(parity, adj, list(dict.fromkeys(anchors)))
    # chains not reached from a TM anchor (rock salt all over): parity by component,
    # oriented so that the brighter rows are the TM rows when amplitudes are known
    for seed in np.unique(link.c.to_numpy()):
        if parity[seed] < 0:
            m = np.asarray(_propagate_parity(parity, adj, [int(seed)]))
            odd, even = m[parity[m] == 1], m[parity[m] == 0]
            if amplitude is None or not (odd.size and even.size):
                parity[m] = 2  # undecidable (e.g. a square lattice): drop nothing
                continue
            mean_amp = np.bincount(chain, weights=amplitude, minlength=n_chain) / np.maximum(
                np.bincount(chain, minlength=n_chain), 1
            )
            a_odd, a_even = mean_amp[odd].mean(), mean_amp[even].mean()
            if abs(a_odd - a_even) < 0.1 * max(a_odd, a_even):
                parity[m] = 2
            elif a_odd > a_even:
                parity[m] ^= 1
    return parity[chain] == 1


def _propagate_parity(parity: np.ndarray, adj: dict, seeds: list[int]) -> list[int]:
    """Breadth-first parity (0 at the seeds) across chain links; flips across half steps."""
    reached = []
    for c in seeds:
        parity[c] = 0
    queue = list(seeds)
    while queue:
        c = queue.pop(0)
        reached.append(c)
        for nb, h in adj[c]:
            if parity[nb] < 0:
                parity[nb] = parity[c] ^ int(h)
                queue.append(nb)
    return reached


def _keep_tm(table: pd.DataFrame) -> pd.DataFrame:
    """Drop weak columns (partly filled Li sites, O) when the table has an ``amplitude``.

    A column is weak when its amplitude is below 0.55 x the 75th percentile of its 12
    nearest columns' amplitudes (local, so a thickness gradient does not drop the columns
    of the thin side). Rows are kept regardless of ``layer``: layers are traced here.
    """
    if "amplitude" not in table.columns or len(table) <= 12:
        return table
    from scipy.spatial import cKDTree

    amp = table["amplitude"].to_numpy(float)
    xy = table[["x", "y"]].to_numpy(float)
    _, nb = cKDTree(xy).query(xy, k=13)
    ref = np.nanpercentile(amp[nb], 75, axis=1)
    return table[amp > 0.55 * ref]


# ----------------------------------------------------------------------------- geometry
# The column links, local frames and upper layer come from the one engine (_geometry.py).


def _smooth_shift(
    geo: LayerGeometry, smooth: int, raw: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median of ``raw`` over +-smooth lower columns seeing the same upper chain; spread; count."""
    up, left, right, chain = geo.up, geo.left, geo.right, geo.chain
    up_chain = np.where(up >= 0, chain[np.maximum(up, 0)], -1)
    m = raw.size
    window = [np.arange(m)]
    for step in (left, right):
        cur = np.arange(m)
        for _ in range(smooth):
            cur = np.where(cur >= 0, step[np.maximum(cur, 0)], -1)
            cur = np.where(cur >= 0, cur, -1)
            window.append(cur.copy())
    win = np.stack(window, axis=1)
    ok = win >= 0
    wi = np.maximum(win, 0)
    ok &= (up_chain[wi] == up_chain[:, None]) & (up_chain[:, None] >= 0)
    vals = np.where(ok, raw[wi], np.nan)
    count = np.sum(np.isfinite(vals), axis=1)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(vals, axis=1)
            spread = np.nanmedian(np.abs(vals - med[:, None]), axis=1)
    return med, spread, count


def _classify(
    shift: np.ndarray, spread: np.ndarray, count: np.ndarray, tol: float, min_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Label codes (0 unknown, 1 O3, 2 O1, 3 other) and O3 variant (+1/-1/0)."""
    code = np.full(shift.shape, LABEL_CODES["other"], dtype=np.uint8)
    variant = np.zeros(shift.shape, dtype=np.int8)
    plus = np.abs(shift - 1 / 3) < tol
    minus = np.abs(shift + 1 / 3) < tol
    code[plus | minus] = LABEL_CODES["O3"]
    variant[plus] = 1
    variant[minus] = -1
    code[np.abs(shift) < tol] = LABEL_CODES["O1"]
    unknown = ~np.isfinite(shift) | (count < min_count) | ~(spread <= tol)
    code[unknown] = LABEL_CODES["unknown"]
    variant[unknown] = 0
    return code, variant


def _site_positions(
    pts: np.ndarray, geo: LayerGeometry, gap: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Li-site positions (K, 2) and the lower-column index of each, from the gap geometry."""
    i = np.nonzero((geo.up >= 0) & np.isfinite(gap["shift"]))[0]
    delta = gap["shift"][i].copy()
    code = gap["code"][i]
    o3 = code == LABEL_CODES["O3"]
    delta[o3] = np.sign(delta[o3]) / 3.0
    delta[code == LABEL_CODES["O1"]] = 0.0
    if gap["fit"].applied:
        # the site, mid-way up, slips by half the gap's drift; not wrapped: the drift is
        # smooth along a layer, a wrap would give two columns one site and miss one
        delta = delta - 0.5 * gap["slip"][i]
    a_side = np.where(delta > 0, geo.a_l[i], geo.a_r[i])
    low = pts[i] - (delta * a_side)[:, None] * geo.tan[i]
    site = low + 0.5 * geo.spacing[i, None] * geo.nrm[i]
    return site, i


def _check_li_layers_dark(img: Any, pts: np.ndarray, geo: LayerGeometry, gap: dict) -> None:
    """Warn when the Li-layer sites are > 65 % as bright as the TM columns (median).

    That happens for a crystal that is not a layered oxide but whose column finding missed
    every other row (e.g. a perovskite), or for rock salt all over; the stacking labels
    then mean little.
    """
    from scipy import ndimage as ndi

    site, i = _site_positions(pts, geo, gap)
    if site.shape[0] < 10:
        return
    sm = ndi.gaussian_filter(np.asarray(img, dtype=float), sigma=max(1.0, geo.a0 / 8))
    lo = float(np.percentile(sm, 1))
    at_site = ndi.map_coordinates(sm, [site[:, 1], site[:, 0]], order=1) - lo
    at_tm = ndi.map_coordinates(sm, [pts[i, 1], pts[i, 0]], order=1) - lo
    ratio = float(np.nanmedian(at_site / np.where(at_tm > 0, at_tm, np.nan)))
    if ratio > 0.65:
        import warnings

        warnings.warn(
            f"image: the Li-layer sites are {ratio:.0%} as bright as the TM columns (median): "
            "heavy cation mixing or rock salt all over, or not a layered oxide (a lattice "
            "whose columns were only partly found); check the columns before trusting the "
            "stacking labels",
            UserWarning,
            stacklevel=3,
        )


# ----------------------------------------------------------------------------- painting
def paint_nearest(
    shape: tuple[int, int],
    px: np.ndarray,
    py: np.ndarray,
    values: list,
    max_dist: float,
    fill: list,
) -> list[np.ndarray]:
    """Paint each pixel with the values of the nearest sample point within ``max_dist`` px.

    Samples are rounded to pixels and the nearest one found with a Euclidean distance
    transform (linear time), so boundaries are placed to within half a pixel.

    Parameters
    ----------
    shape : (int, int)
        Output shape.
    px, py : ndarray (K,)
        Sample positions, px.
    values : list of ndarray (K,)
        Values to paint (one map each).
    max_dist : float
        Pixels farther than this from every sample get ``fill``.
    fill : list
        Fill value per map.

    Returns
    -------
    list of ndarray
        One (H, W) map per entry of ``values``, plus a final boolean ``painted`` mask.
    """
    from scipy import ndimage as ndi

    h, w = shape
    maps = [np.full(shape, f, dtype=np.asarray(v).dtype) for v, f in zip(values, fill, strict=True)]
    ix, iy = np.round(px).astype(int), np.round(py).astype(int)
    ok = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    if not ok.any():
        return maps + [np.zeros(shape, dtype=bool)]
    owner = np.full(shape, -1, dtype=np.int64)
    owner[iy[ok], ix[ok]] = np.nonzero(ok)[0]
    dist, (jy, jx) = ndi.distance_transform_edt(owner < 0, return_indices=True)
    painted = dist <= max_dist
    src = owner[jy[painted], jx[painted]]
    for out, v in zip(maps, values, strict=True):
        out[painted] = np.asarray(v)[src]
    return maps + [painted]


def _gap_samples(pts: np.ndarray, geo: LayerGeometry, keep: np.ndarray, n_sub: int = 4):
    """Points on the gap mid-lines: above each kept column, ``n_sub`` per column spacing."""
    i = np.nonzero(keep)[0]
    mid = pts[i] + 0.5 * geo.spacing[i, None] * geo.nrm[i]
    right = geo.right[i]
    step = np.where((right >= 0)[:, None], pts[np.maximum(right, 0)] - pts[i], 0.0)
    fr = np.arange(n_sub) / n_sub
    xs = mid[:, None, 0] + fr[None, :] * step[:, None, 0]
    ys = mid[:, None, 1] + fr[None, :] * step[:, None, 1]
    has_r = right >= 0
    owner = np.repeat(i, n_sub)
    sel = np.ones((i.size, n_sub), dtype=bool)
    sel[~has_r, 1:] = False
    return xs[sel], ys[sel], owner[sel.ravel()]


# ----------------------------------------------------------------------------- public
def measure_gaps(
    pts: np.ndarray,
    *,
    smooth: int = 2,
    tol: float = 0.12,
    reference: np.ndarray | None = None,
    slip: str = "auto",
) -> tuple[LayerGeometry, dict]:
    """Local geometry and smoothed, classified shift of every column's gap (vectorised).

    Parameters
    ----------
    pts : ndarray (N, 2)
        TM column positions (x, y) in px.
    smooth : int
        Half-width of the median window along the layer, in columns.
    tol : float
        Classification tolerance on the shift (fraction of the period).
    reference : ndarray (N, 2), optional
        Local layer direction per column (see :func:`layer_geometry`).
    slip : {"auto", "off"}
        "auto": fit the interlayer-slip drift of the registry (:func:`fit_slip`) and
        classify the shift after removing it, when the fit explains the registry.

    Returns
    -------
    geo : LayerGeometry
        Geometry arrays (see ``_layer_geometry``).
    gap : dict
        ``shift, spread, count, code, variant, registry, slip`` per column (NaN / 0 where
        no upper layer; ``shift`` = ``registry`` - ``slip``) and ``fit`` (the SlipFit).
    """
    geo = layer_geometry(pts, reference=reference)
    ratio = float(np.nanmedian(geo.spacing)) / geo.a0 if (geo.up >= 0).any() else 0.0
    if (geo.up >= 0).any() and not 1.5 < ratio < 3.0:
        raise NotLayeredError(
            f"columns do not form a layered lattice: interlayer spacing / in-plane period = "
            f"{ratio:.2f} (layered oxides along [100]: ~1.9); pass the TM columns of a layered "
            "crystal seen edge-on"
        )
    fit = _fit_gap_slip(geo, tol) if slip == "auto" else _no_slip(geo)
    registry = _smooth_shift(geo, smooth, geo.shift_raw)
    if fit.applied:
        raw = wrap(geo.shift_raw - fit.drift)
        shift, spread, count = _smooth_shift(geo, smooth, np.where(raw == -0.5, 0.5, raw))
    else:
        shift, spread, count = registry
    code, variant = _classify(shift, spread, count, tol, min_count=smooth + 1)
    gap = dict(shift=shift, spread=spread, count=count, code=code, variant=variant)
    gap.update(registry=registry[0], slip=np.where(geo.up >= 0, fit.drift, np.nan), fit=fit)
    return geo, gap


def _fit_gap_slip(geo: LayerGeometry, tol: float) -> SlipFit:
    """Slip drift of every gap from its raw shift, layer angle and spacing / period."""
    a_side = np.where(geo.shift_raw >= 0, geo.a_r, geo.a_l)
    return fit_slip(geo.shift_raw, gap_angle(geo), geo.spacing / a_side, tol=tol)


def _no_slip(geo: LayerGeometry) -> SlipFit:
    zero = np.zeros(len(geo.pts))
    return SlipFit(False, 0.0, float("nan"), float("nan"), float("nan"), False, zero)


def _check_backend(backend: Any) -> None:
    """Accept the backend names of API.md (the work here is on the CPU; see Notes)."""
    if backend not in ("numpy", "cupy", "auto", "cpu", "gpu"):
        raise StemstrainError(f"backend must be 'numpy', 'cupy' or 'auto', got {backend!r}")


def _check_params(smooth: Any, tol: Any) -> tuple[int, float]:
    if isinstance(smooth, bool) or not isinstance(smooth, (int, np.integer)) or smooth < 0:
        raise StemstrainError(f"smooth must be an integer >= 0 (columns), got {smooth!r}")
    try:
        tol_f = float(tol)
    except (TypeError, ValueError):
        tol_f = float("nan")
    if not (0 < tol_f < 1 / 6):
        raise StemstrainError(
            f"tol must be a shift tolerance in (0, 1/6) of the in-plane period, got {tol!r}"
        )
    return int(smooth), tol_f


@keyword_only_after(2, order=("columns",))
def stacking_map(
    image: Any,
    pixel_size: float | None = None,
    *,
    columns: pd.DataFrame | None = None,
    smooth: int = 2,
    tol: float = 0.12,
    slip: str = "auto",
    backend: str = "numpy",
) -> StackingResult:
    """Classify the stacking (O3 / O3 twin / O1 / other) across every Li layer.

    Parameters
    ----------
    image : ndarray (H, W) or hyperspy Signal2D
        HAADF image (bright TM columns); only its shape is used when ``columns`` is given.
    pixel_size : float, optional
        nm per pixel (taken from a calibrated signal when omitted).
    columns : DataFrame, optional
        TM columns with ``x, y`` in px (optionally ``layer``); found with
        :func:`stemstrain.find_columns` when omitted (unassigned and weak columns dropped).
    smooth : int
        Half-width, in columns, of the running median of the shift along each gap.
    tol : float
        Tolerance on the shift, fraction of the in-plane period, in (0, 1/6).
    slip : {"auto", "off"}
        "auto": measure the registry drift of layers that slip over each other in a bend
        (``beta * (d / a) * (theta - theta0)`` periods, theta the local layer angle; see
        Notes) and classify the stacking after removing it; "off": classify the measured
        registry as it is.
    backend : {"numpy", "cupy", "auto"}
        Passed to column finding; the geometry here runs on the CPU (small tables).

    Returns
    -------
    StackingResult
        ``gaps`` table, ``label_map`` (0 unknown, 1 O3, 2 O1, 3 other), ``shift_map``,
        ``variant_map`` and ``fractions``.

    Raises
    ------
    StemstrainError
        Bad ``columns`` table, ``smooth`` or ``tol``.
    NoLatticeError
        Too few columns or no pair of adjacent layers.
    NotLayeredError
        (a ``NoLatticeError``) The columns form a lattice, but not a layered one (interlayer
        spacing / in-plane period outside 1.5-3): O3/O1 stacking does not apply.

    Notes
    -----
    shift = (s_upper - s_lower) / a, measured along the local layer direction ``t`` and
    wrapped to (-1/2, 1/2]; O3 = +1/3 (ABC), its twin -1/3 (ACB), O1 = 0 (AB).

    Bent layers that slip over each other drift in registry by ``d (theta - theta0) / a``
    periods; ``slip="auto"`` fits and removes that drift (module docstring, step 6);
    ``gaps.registry`` keeps the measured shift, ``gaps.slip`` / ``slip_map`` the drift.

    Examples
    --------
    >>> from stemstrain.synthetic import layered_oxide
    >>> lat = layered_oxide((256, 256), o1_gaps=(-1, 1))
    >>> res = stacking_map(lat.image, 0.02, columns=lat.tm_columns())
    >>> round(res.fractions["O1"], 1)
    0.3
    """
    smooth, tol = _check_params(smooth, tol)
    _check_backend(backend)
    if slip not in ("auto", "off"):
        raise StemstrainError(f"slip must be 'auto' or 'off', got {slip!r}")
    data, px_size = image_and_pixel_size(image, pixel_size, "image")
    shape = tuple(int(s) for s in data.shape)
    table = _columns_table(data, px_size, columns, backend)
    pts = table[["x", "y"]].to_numpy(dtype=float)
    geo, gap = measure_gaps(
        pts, smooth=smooth, tol=tol, reference=table_reference(table), slip=slip
    )
    keep = geo.up >= 0
    if not keep.any():
        raise NoLatticeError(
            "columns: no pair of adjacent TM layers found (need at least two layers of columns)"
        )
    if np.ptp(np.asarray(data)) > 0:
        _check_li_layers_dark(data, pts, geo, gap)
    gaps = _gaps_table(table, pts, geo, gap, keep)
    i = np.nonzero(keep)[0]
    sx, sy, owner = _gap_samples(pts, geo, keep)
    d_med = float(np.nanmedian(geo.spacing[i]))
    label_map, shift_map, variant_map, slip_map, painted = paint_nearest(
        shape,
        sx,
        sy,
        [gap["code"][owner], gap["shift"][owner], gap["variant"][owner], gap["slip"][owner]],
        0.55 * d_med,
        [0, np.nan, 0, np.nan],
    )
    fractions = _fractions(label_map, variant_map, painted)
    _warn_quality(gap["fit"], fractions, geo.t)
    params = dict(
        tol=tol,
        smooth=smooth,
        period_px=geo.a0,
        spacing_px=d_med,
        layer_direction=[float(v) for v in geo.t],
        normal=[float(v) for v in geo.n],
        columns_source="given" if columns is not None else "find_columns",
        slip=gap["fit"].params(geo.t),
    )
    return StackingResult(
        gaps=gaps,
        label_map=label_map.astype(np.uint8),
        shift_map=shift_map,
        variant_map=variant_map.astype(np.int8),
        fractions=fractions,
        pixel_size=px_size,
        params=params,
        slip_map=slip_map,
    )


def _warn_quality(fit: SlipFit, fractions: dict, t: np.ndarray) -> None:
    """Warn when the stacking is doubtful: slip anchoring, drift not removed, much "other"."""
    import warnings

    other = fractions["other"]
    if not fit.applied:
        if other > 0.2:
            warnings.warn(
                f"image: {other:.0%} of the gap area has a registry that is neither O3 nor O1 "
                "(label 'other'): sheared or slipping layers, dislocations, or not a layered "
                "oxide; check gaps.registry",
                UserWarning,
                stacklevel=3,
            )
        return
    p = fit.params(t)
    if fit.doubtful:
        warnings.warn(
            f"image: the layers slip over each other (beta {p['beta']:.2f}, taken in registry "
            f"at {p['theta0_deg']:.1f} deg); the spacing of the minority gaps and the median "
            "layer orientation disagree or leave the anchoring of the stacking undecided, so "
            "O1 bands may be twin bands or the reverse; check gaps.registry and gaps.spacing",
            UserWarning,
            stacklevel=3,
        )
    if fit.coherence < 0.6 or other > 0.1:
        warnings.warn(
            f"image: the registry drift of the slipping layers does not follow one slip law "
            f"(coherence {fit.coherence:.2f}, {other:.0%} of the gap area 'other'): the drift "
            "could not be removed there (label 'other' in label_map; slip_map = drift removed)",
            UserWarning,
            stacklevel=3,
        )


def _gaps_table(
    table: pd.DataFrame, pts: np.ndarray, geo: LayerGeometry, gap: dict, keep: np.ndarray
) -> pd.DataFrame:
    """Tabulate each lower column with a layer above (``keep``): position, shift, label."""
    layer_ids = table["layer"].to_numpy() if "layer" in table.columns else geo.chain
    i = np.nonzero(keep)[0]
    mid = pts[i] + 0.5 * geo.spacing[i, None] * geo.nrm[i]
    return pd.DataFrame(
        {
            "layer_below": layer_ids[i],
            "layer_above": layer_ids[geo.up[i]],
            "x": mid[:, 0],
            "y": mid[:, 1],
            "shift": gap["shift"][i],
            "shift_raw": geo.shift_raw[i],
            "spread": gap["spread"][i],
            "spacing": geo.spacing[i],
            "label": [_CODE_NAMES[c] for c in gap["code"][i]],
            "variant": gap["variant"][i],
            "registry": gap["registry"][i],
            "slip": gap["slip"][i],
            "column": i,
        }
    )


def _fractions(label_map: np.ndarray, variant_map: np.ndarray, painted: np.ndarray) -> dict:
    total = int(painted.sum())
    out = {}
    for name, code in LABEL_CODES.items():
        out[name] = float(np.sum(painted & (label_map == code)) / total) if total else 0.0
    o3 = painted & (label_map == LABEL_CODES["O3"])
    out["O3+"] = float(np.sum(o3 & (variant_map > 0)) / total) if total else 0.0
    out["O3-"] = float(np.sum(o3 & (variant_map < 0)) / total) if total else 0.0
    out["coverage"] = float(total / label_map.size)
    return out
