"""Signed curvature of TM layers (:func:`layer_curvature`).

Column method (default): every traced chain of TM columns is a curve; in the
canonical layer frame (``s`` along ``t``, ``v`` along the normal ``n``, nm) and
parametrised by arc length ``u``, ``s(u)`` and ``v(u)`` are fitted around every
column by local quadratic regression with tricube weights over ``window_nm`` (full
width); the signed curvature is

    kappa = (s' v'' - v' s'') / (s'^2 + v'^2)^(3/2),

which for a layer ``v = f(s)`` is ``f'' / (1 + f'^2)^(3/2)``. It is positive where the
layer is concave towards +n (the side its centre of curvature lies on); units 1/nm.
All columns of a chain are fitted at once (batched 3x3 normal equations).

GPA method: the (003) fringes are the layers, so the lattice rotation ``omega`` of
GPA is the local tilt of the layers and ``kappa = d(theta)/ds`` along the layers,
with ``theta = -omega`` in the (t, n) frame (API.md: rotation positive CCW as
displayed, y down; the layer frame t -> n is clockwise as displayed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._compat import keyword_only_after
from .._validate import check_positive, image_and_pixel_size
from ..errors import CalibrationError, NoLatticeError, StemstrainError
from ..results import ResultBase

__all__ = ["layer_curvature", "CurvatureResult"]


@dataclass(frozen=True)
class CurvatureResult(ResultBase):
    """Curvature of the TM layers.

    Attributes
    ----------
    layers : pandas.DataFrame
        A row per column along each traced layer: ``layer``, ``chain``, ``x, y`` (px),
        ``curvature`` (1/nm, signed: > 0 where the layer is concave towards +n),
        ``full_window`` (the fit window lies entirely on the layer; False near its ends).
    map : ndarray (H, W)
        Curvature interpolated between the columns (1/nm); NaN outside their hull.
    max_location : (float, float)
        ``(x, y)`` px of the largest ``|curvature|`` (full-window columns preferred).
    max_curvature : float
        Signed curvature at ``max_location``, 1/nm.
    pixel_size : float
        nm per pixel.
    method : str
        ``"columns"`` or ``"gpa"``.
    window_nm : float
        Width of the smoothing window along the layer, nm.
    normal : (float, float)
        Canonical layer normal used for the sign.
    """

    layers: Any
    map: np.ndarray
    max_location: tuple[float, float]
    max_curvature: float
    pixel_size: float
    method: str = "columns"
    window_nm: float = 3.0
    normal: tuple[float, float] = (0.0, 1.0)

    group: ClassVar[str] = "curvature"
    map_fields: ClassVar[tuple[str, ...]] = ("map",)
    table_fields: ClassVar[tuple[str, ...]] = ("layers",)
    attr_fields: ClassVar[tuple[str, ...]] = (
        "max_location",
        "max_curvature",
        "method",
        "window_nm",
        "normal",
    )


def _local_quadratic(u: np.ndarray, z: np.ndarray, half: float) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivatives of z(u) at every u by tricube-weighted local quadratics."""
    du = u[None, :] - u[:, None]  # (m, m): row i = offsets from point i
    w = np.clip(1.0 - np.abs(du / half) ** 3, 0.0, None) ** 3
    v = np.stack([np.ones_like(du), du, du * du], axis=-1)  # (m, m, 3)
    vw = v * w[:, :, None]
    a = np.einsum("ijk,ijl->ikl", vw, v) + 1e-12 * np.eye(3)
    b = np.einsum("ijk,ij->ik", vw, z[None, :] * np.ones_like(du))
    c = np.linalg.solve(a, b[:, :, None])[:, :, 0]
    return c[:, 1], 2.0 * c[:, 2]


def _chain_curvature(s: np.ndarray, v: np.ndarray, half: float) -> tuple[np.ndarray, np.ndarray]:
    """Signed curvature and full-window flag along one ordered chain (nm units)."""
    u = np.r_[0.0, np.cumsum(np.hypot(np.diff(s), np.diff(v)))]
    s1, s2 = _local_quadratic(u, s, half)
    v1, v2 = _local_quadratic(u, v, half)
    kappa = (s1 * v2 - v1 * s2) / np.maximum(s1 * s1 + v1 * v1, 1e-12) ** 1.5
    full = (u - u[0] >= half) & (u[-1] - u >= half)
    return kappa, full


def _curvature_from_columns(cols: Any, pixel_size: float, window_nm: float, min_points: int):
    import pandas as pd

    n = np.asarray(cols.attrs["normal"], dtype=float)
    t = np.array([n[1], -n[0]])
    half = 0.5 * window_nm
    rows = []
    use = cols[cols.layer >= 0]
    for chain, g in use.groupby("chain", sort=False):
        if len(g) < min_points:
            continue
        g = g.sort_values("layer_pos")
        x, y = g.x.to_numpy(float), g.y.to_numpy(float)
        s = (x * t[0] + y * t[1]) * pixel_size
        v = (x * n[0] + y * n[1]) * pixel_size
        if s[-1] < s[0]:  # parametrise along +t so that the sign follows the convention
            x, y, s, v = x[::-1], y[::-1], s[::-1], v[::-1]
        kappa, full = _chain_curvature(s, v, half)
        rows.append(
            pd.DataFrame(
                {
                    "layer": int(g.layer.iloc[0]),
                    "chain": int(chain),
                    "x": x,
                    "y": y,
                    "curvature": kappa,
                    "full_window": full,
                }
            )
        )
    if not rows:
        raise NoLatticeError(
            f"columns: no traced layer has {min_points} or more columns; the image is too "
            f"small or too noisy for a {window_nm:g} nm window"
        )
    return pd.concat(rows, ignore_index=True)


def interpolate_map(
    x: np.ndarray,
    y: np.ndarray,
    values: np.ndarray,
    shape: tuple,
    step: int = 1,
    *,
    sigma_px: float | None = None,
) -> np.ndarray:
    """Scattered values on the pixel grid by normalised Gaussian splatting; NaN away from them.

    Values are splatted (bilinear weights) onto a grid every ``step`` px, both the
    weighted values and the weights are Gaussian-filtered (``sigma_px``, default 2 steps),
    and their ratio is resampled bilinearly to every pixel. Pixels whose smoothed weight
    is below 30 % of the median over the covered area (beyond about half a layer spacing
    from any value) are NaN. O(pixels), unlike a Delaunay interpolation.
    """
    import scipy.ndimage as ndi

    step = max(1, int(step))
    ok = np.isfinite(values)
    x, y, v = np.asarray(x, float)[ok] / step, np.asarray(y, float)[ok] / step, values[ok]
    gh, gw = shape[0] // step + 2, shape[1] // step + 2
    if v.size == 0:
        return np.full(shape, np.nan)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    num = np.zeros(gh * gw)
    den = np.zeros(gh * gw)
    for dx, dy, w in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xi, yi = x0 + dx, y0 + dy
        inside = (xi >= 0) & (xi < gw) & (yi >= 0) & (yi < gh)
        idx = yi[inside] * gw + xi[inside]
        num += np.bincount(idx, weights=(w * v)[inside], minlength=gh * gw)
        den += np.bincount(idx, weights=w[inside], minlength=gh * gw)
    sig = 2.0 if sigma_px is None else max(0.5, sigma_px / step)
    num = ndi.gaussian_filter(num.reshape(gh, gw), sig, mode="constant")
    den = ndi.gaussian_filter(den.reshape(gh, gw), sig, mode="constant")
    covered = den > 1e-6
    if not covered.any():
        return np.full(shape, np.nan)
    coarse = np.where(den >= 0.3 * np.median(den[covered]), num / np.maximum(den, 1e-12), np.nan)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float) / step
    return ndi.map_coordinates(
        coarse, [yy.ravel(), xx.ravel()], order=1, mode="nearest", prefilter=False
    ).reshape(shape)


def _max_location(table: Any) -> tuple[tuple[float, float], float]:
    sel = table[table.full_window] if table.full_window.any() else table
    i = int(np.nanargmax(np.abs(sel.curvature.to_numpy())))
    row = sel.iloc[i]
    return (float(row.x), float(row.y)), float(row.curvature)


def _resolve_pixel_size(image: Any, pixel_size: Any, columns: Any) -> tuple[Any, float]:
    data, px = (None, None)
    if image is not None:
        data, px = image_and_pixel_size(image, pixel_size, "image")
    elif pixel_size is not None:
        px = check_positive(pixel_size, "pixel_size")
    if px is None and columns is not None:
        px = columns.attrs.get("pixel_size")
    if px is None:
        raise CalibrationError(
            "layer_curvature needs the pixel size (curvature in 1/nm, window in nm): pass "
            "pixel_size= in nm or a calibrated HyperSpy signal"
        )
    return data, float(px)


@keyword_only_after(2, order=("columns",))
def layer_curvature(
    image: Any = None,
    pixel_size: float | None = None,
    *,
    columns: Any = None,
    window_nm: float = 3.0,
    method: str = "columns",
    min_points: int = 5,
    backend: str = "numpy",
) -> CurvatureResult:
    """Signed curvature of every TM layer, per column and as a map.

    Parameters
    ----------
    image : array (H, W) or HyperSpy Signal2D, optional
        HAADF image; needed unless ``columns`` is given (then only for the map shape).
    pixel_size : float, optional
        nm per pixel (else from the signal, else from ``columns.attrs``).
    columns : pandas.DataFrame, optional
        Output of :func:`find_columns` (found from ``image`` when omitted); columns
        without ``layer`` are traced with :func:`trace_layers`.
    window_nm : float
        Full width of the local-quadratic window along the layer, nm (default 3 nm,
        about 12 columns). Larger windows lower the noise (as window^-2.5) and blur
        features narrower than the window.
    method : {"columns", "gpa"}
        ``"columns"``: fit the traced column chains. ``"gpa"``: derivative of the GPA
        lattice rotation along the layers (needs ``image``).
    min_points : int
        Chains with fewer columns are skipped.
    backend : {"numpy", "cupy", "auto"}
        Backend of column finding / GPA.

    Returns
    -------
    CurvatureResult
        ``layers`` (``layer, chain, x, y, curvature, full_window``), ``map`` (1/nm, NaN
        outside the columns), ``max_location`` (x, y px), ``max_curvature``.

    Raises
    ------
    CalibrationError
        No pixel size.
    StemstrainError
        Bad ``window_nm``/``method``, neither image nor columns.
    NoLatticeError
        No layer long enough to fit.

    Notes
    -----
    Sign convention: ``kappa > 0`` where the layer is concave towards +n (n the
    canonical normal, n_y > 0); a crystal bent about a centre at ``+R n`` has
    ``kappa = +1/R``.

    Examples
    --------
    >>> from stemstrain.synthetic import layered_oxide
    >>> lat = layered_oxide((256, 256), bend_radius_nm=25.0, seed=0)
    >>> res = layer_curvature(lat.image, pixel_size=lat.pixel_size)
    >>> bool(abs(res.layers.curvature.median() - 1 / 25.0) < 0.005)
    True
    """
    if image is None and columns is None:
        raise StemstrainError("layer_curvature needs an image or a columns table")
    window_nm = check_positive(window_nm, "window_nm")
    if not isinstance(min_points, (int, np.integer)) or min_points < 3:
        raise StemstrainError(
            f"min_points must be an integer >= 3 (a quadratic needs 3 points), got {min_points!r}"
        )
    if method not in ("columns", "gpa"):
        raise StemstrainError(f"method must be 'columns' or 'gpa', got {method!r}")
    data, px = _resolve_pixel_size(image, pixel_size, columns)
    if method == "gpa":
        if data is None:
            raise StemstrainError("method='gpa' needs the image")
        from ._curvature_gpa import curvature_from_gpa

        cols = None if columns is None else _prepare_columns(data, px, columns, backend)
        return curvature_from_gpa(data, px, window_nm=window_nm, backend=backend, columns=cols)
    cols = _prepare_columns(data, px, columns, backend)
    table = _curvature_from_columns(cols, px, window_nm, int(min_points))
    shape = data.shape if data is not None else _shape_from_columns(cols)
    step = max(1, int(0.25 * cols.attrs.get("period_px", 4.0)))
    cmap = interpolate_map(
        table.x.to_numpy(),
        table.y.to_numpy(),
        table.curvature.to_numpy(),
        shape,
        step,
        sigma_px=0.4 * cols.attrs.get("spacing_px", 8.0),
    )
    loc, kmax = _max_location(table)
    return CurvatureResult(
        layers=table,
        map=cmap,
        max_location=loc,
        max_curvature=kmax,
        pixel_size=px,
        method="columns",
        window_nm=window_nm,
        normal=tuple(float(v) for v in cols.attrs["normal"]),
    )


def _prepare_columns(data: Any, px: float, columns: Any, backend: str) -> Any:
    from ._columns import find_columns
    from ._layers import trace_layers

    if columns is None:
        return find_columns(data, pixel_size=px, backend=backend)
    if not hasattr(columns, "columns") or not {"x", "y"} <= set(columns.columns):
        raise StemstrainError(
            "columns must be a DataFrame with 'x' and 'y' (px), e.g. from find_columns"
        )
    if {"layer", "chain", "layer_pos"} <= set(columns.columns) and "normal" in columns.attrs:
        return columns
    return trace_layers(columns)


def _shape_from_columns(cols: Any) -> tuple[int, int]:
    return (int(np.ceil(cols.y.max())) + 1, int(np.ceil(cols.x.max())) + 1)
