"""Layer curvature from GPA (``layer_curvature(..., method="gpa")``).

The (003) fringes are the TM layers. A material line along ``t`` tilts towards ``n``
by ``phi = n . D . t`` (D = displacement gradient), which in the API.md quantities is

    phi = e_nt - rotation

(``rotation`` is positive counter-clockwise as displayed, and t -> n is clockwise as
displayed, so a pure rotation tilts the layers by ``-rotation``; a shear along the
layers adds ``e_nt``). The curvature is ``kappa = d(phi)/ds`` along ``t``, taken with
a Gaussian-derivative filter of width ``window_nm / 4`` (NaN-aware), in 1/nm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["curvature_from_gpa", "tilt_derivative"]


def tilt_derivative(
    phi: np.ndarray, valid: np.ndarray, tangent: np.ndarray, sigma_px: float, pixel_size: float
) -> np.ndarray:
    """``d(phi)/ds`` along ``tangent`` by normalised Gaussian-derivative filtering (1/nm)."""
    import scipy.ndimage as ndi

    w = valid.astype(float)
    f = np.where(valid, phi, 0.0)
    norm = ndi.gaussian_filter(w, sigma_px)
    out = []
    for axis in (1, 0):  # d/dx, d/dy
        order = [0, 0]
        order[axis] = 1
        num = ndi.gaussian_filter(f, sigma_px, order=order)
        dw = ndi.gaussian_filter(w, sigma_px, order=order)
        sm = ndi.gaussian_filter(f, sigma_px)
        # derivative of (f*G)/(w*G) by the quotient rule
        out.append((num * norm - sm * dw) / np.maximum(norm, 1e-12) ** 2)
    dphi = (tangent[0] * out[0] + tangent[1] * out[1]) / pixel_size
    return np.where(valid & (norm > 0.5), dphi, np.nan)


def curvature_from_gpa(
    image: Any, pixel_size: float, *, window_nm: float, backend: str, columns: Any = None
) -> Any:
    """CurvatureResult from the GPA rotation and shear maps (see module docstring).

    ``columns`` (a traced table, e.g. from :func:`find_columns`) is where the map is
    sampled per column; it is found from the image only when not given.
    """
    import warnings

    import pandas as pd

    from ..geometric_phase import gpa
    from ._columns import find_columns
    from ._curvature import CurvatureResult

    with warnings.catch_warnings():
        # kappa = d(phi)/ds does not depend on the reference lattice (a constant offset of
        # phi): the "maps are relative to the mean lattice" warning does not apply here
        warnings.filterwarnings("ignore", message="gpa: reference=None", category=UserWarning)
        res = gpa(image, pixel_size=pixel_size, backend=backend)
    n = np.asarray(res.normal, dtype=float)
    t = np.array([n[1], -n[0]])
    phi = np.asarray(res.e_nt, dtype=float) - np.asarray(res.rotation, dtype=float)
    valid = np.isfinite(phi)
    if res.mask is not None:
        valid &= np.asarray(res.mask, dtype=bool)
    sigma_px = 0.25 * window_nm / pixel_size
    kmap = tilt_derivative(phi, valid, t, sigma_px, pixel_size)
    # keep a border of one window free of filter edge effects
    b = int(np.ceil(2 * sigma_px))
    inner = np.zeros(kmap.shape, dtype=bool)
    inner[b : -b or None, b : -b or None] = True
    cols = (
        columns
        if columns is not None
        else find_columns(image, pixel_size=pixel_size, backend=backend)
    )
    if "layer" not in cols or "chain" not in cols:
        from ._layers import trace_layers

        cols = trace_layers(cols)
    xi = np.clip(np.rint(cols.x).astype(int), 0, kmap.shape[1] - 1)
    yi = np.clip(np.rint(cols.y).astype(int), 0, kmap.shape[0] - 1)
    table = pd.DataFrame(
        {
            "layer": cols.layer.to_numpy(),
            "chain": cols.chain.to_numpy(),
            "x": cols.x.to_numpy(),
            "y": cols.y.to_numpy(),
            "curvature": kmap[yi, xi],
            "full_window": inner[yi, xi],
        }
    )
    search = np.where(inner, np.abs(kmap), np.nan)
    if np.isfinite(search).any():
        iy, ix = np.unravel_index(int(np.nanargmax(search)), kmap.shape)
    else:
        iy, ix = np.unravel_index(int(np.nanargmax(np.abs(np.nan_to_num(kmap)))), kmap.shape)
    return CurvatureResult(
        layers=table,
        map=kmap,
        max_location=(float(ix), float(iy)),
        max_curvature=float(kmap[iy, ix]),
        pixel_size=pixel_size,
        method="gpa",
        window_nm=window_nm,
        normal=(float(n[0]), float(n[1])),
    )
