"""Batched 2-D Gaussian refinement of many atom columns at once (NumPy/CuPy via ``xp``).

All columns are fitted together: the pixels around every column are gathered into a
``(N, P)`` stack (``P`` pixels of a disk of radius ``radius`` px), and one
Levenberg-Marquardt step is taken for all columns with batched 5x5 normal equations.
There is no Python loop over columns.

Model of one column (isotropic Gaussian on a local constant background)::

    m(x, y) = A exp(-((x - x0)^2 + (y - y0)^2) / (2 sigma^2)) + B

Neighbour awareness: a pixel of column i's patch takes part in i's fit only if it is
closer to column i than to any of its ``k`` nearest neighbours (a Voronoi mask), and
in a second pass the current Gaussians of the neighbours are subtracted from the
patch, so that overlapping tails of adjacent columns do not pull the fit.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["refine_gaussians", "neighbour_indices"]


def neighbour_indices(x: np.ndarray, y: np.ndarray, k: int = 8) -> np.ndarray:
    """Indices ``(N, k)`` of the k nearest other columns (host-side KD-tree; -1 pads)."""
    from scipy.spatial import cKDTree  # noqa: PLC0415

    n = len(x)
    kk = min(k, max(n - 1, 0))
    if kk == 0:
        return np.full((n, 1), -1, dtype=np.int64)
    tree = cKDTree(np.c_[x, y])
    _, idx = tree.query(np.c_[x, y], k=kk + 1)
    idx = np.asarray(idx).reshape(n, kk + 1)[:, 1:]
    idx[idx >= n] = -1
    return idx.astype(np.int64)


def _gather(img: Any, cx: Any, cy: Any, ox: Any, oy: Any, xp: ModuleType):
    """Pixel coordinates, values and in-image flags of all patches: (N, P) each."""
    h, w = img.shape
    px = cx[:, None] + ox[None, :]
    py = cy[:, None] + oy[None, :]
    valid = (px >= 0) & (px < w) & (py >= 0) & (py < h)
    vals = img[xp.clip(py, 0, h - 1), xp.clip(px, 0, w - 1)]
    return px.astype(img.dtype), py.astype(img.dtype), vals, valid


def _model_and_jacobian(theta: Any, px: Any, py: Any, xp: ModuleType, jac: bool = True):
    x0, y0, a, s, b = (theta[:, i : i + 1] for i in range(5))
    dx = px - x0
    dy = py - y0
    r2 = dx * dx + dy * dy
    inv_s2 = 1.0 / (s * s)
    g = xp.exp(-0.5 * r2 * inv_s2)
    model = a * g + b
    if not jac:
        return model, None
    ag = a * g
    j = xp.stack(
        [ag * dx * inv_s2, ag * dy * inv_s2, g, ag * r2 * inv_s2 / s, xp.ones_like(g)], axis=-1
    )
    return model, j


def _neighbour_model(theta: Any, nb: Any, px: Any, py: Any, xp: ModuleType) -> Any:
    """Sum over each column's neighbours of their Gaussians (no background) on its patch."""
    out = xp.zeros_like(px)
    for k in range(nb.shape[1]):  # loop over k (<= 8) neighbour slots, not over columns
        idx = nb[:, k]
        ok = (idx >= 0)[:, None]
        t = theta[xp.clip(idx, 0, None)]
        dx = px - t[:, 0:1]
        dy = py - t[:, 1:2]
        g = t[:, 2:3] * xp.exp(-0.5 * (dx * dx + dy * dy) / (t[:, 3:4] * t[:, 3:4]))
        out += xp.where(ok, g, 0.0)
    return out


def _lm(theta, px, py, data, wts, xp, n_iter):
    """Levenberg-Marquardt iterations for all columns at once."""
    lam = xp.full(theta.shape[0], 1e-3, dtype=theta.dtype)
    model, j = _model_and_jacobian(theta, px, py, xp)
    res = data - model
    cost = xp.sum(wts * res * res, axis=1)
    eye = xp.eye(5, dtype=theta.dtype)
    for _ in range(n_iter):
        jw = j * wts[:, :, None]
        hess = xp.einsum("npi,npj->nij", jw, j)
        grad = xp.einsum("npi,np->ni", jw, res)
        diag = xp.diagonal(hess, axis1=1, axis2=2)
        damp = (lam[:, None] * (diag + 1e-9))[:, :, None] * eye[None]
        step = xp.linalg.solve(hess + damp + 1e-12 * eye[None], grad[:, :, None])[:, :, 0]
        trial = theta + step
        trial[:, 3] = xp.abs(trial[:, 3]) + 1e-3
        m_t, _ = _model_and_jacobian(trial, px, py, xp, jac=False)
        r_t = data - m_t
        c_t = xp.sum(wts * r_t * r_t, axis=1)
        better = xp.isfinite(c_t) & (c_t < cost)
        theta = xp.where(better[:, None], trial, theta)
        cost = xp.where(better, c_t, cost)
        lam = xp.where(better, lam * 0.3, lam * 5.0)
        model, j = _model_and_jacobian(theta, px, py, xp)
        res = data - model
    return theta, cost


def refine_gaussians(
    img: Any,
    x: Any,
    y: Any,
    *,
    radius: int,
    sigma0: float,
    xp: ModuleType,
    n_iter: int = 10,
    neighbours: np.ndarray | None = None,
    subtract_neighbours: bool = True,
    poisson: bool = True,
) -> tuple[Any, Any]:
    """Fit an isotropic 2-D Gaussian + constant to every column, all at once.

    Parameters
    ----------
    img : xp.ndarray (H, W)
        Image (float).
    x, y : xp.ndarray (N,)
        Starting positions, px.
    radius : int
        Patch radius, px (a disk of this radius around the rounded start).
    sigma0 : float
        Starting Gaussian width, px.
    xp : module
        numpy or cupy.
    n_iter : int
        Levenberg-Marquardt iterations per pass.
    neighbours : ndarray (N, k) of int, optional
        Nearest-neighbour indices (-1 pads) for the Voronoi mask and the neighbour
        subtraction; computed when omitted.
    subtract_neighbours : bool
        Run a second pass with the neighbours' fitted Gaussians subtracted.
    poisson : bool
        In the second pass weight each pixel by the inverse of the model intensity
        (own + neighbours + background, floored at 5 % of the amplitude): the
        maximum-likelihood weighting for shot noise, which brings the precision to
        the Cramer-Rao bound. With an offset detector it degrades gracefully to
        uniform weights.

    Returns
    -------
    theta : xp.ndarray (N, 5)
        ``x0, y0, amplitude, sigma, background`` per column (px and image units).
    rms : xp.ndarray (N,)
        Weighted RMS residual of each fit.
    """
    n = int(x.shape[0])
    dt = img.dtype
    if neighbours is None:
        neighbours = neighbour_indices(np.asarray(_host(x)), np.asarray(_host(y)))
    nb = xp.asarray(neighbours)
    off = np.arange(-radius, radius + 1)
    oy, ox = np.meshgrid(off, off, indexing="ij")
    disk = (ox**2 + oy**2) <= radius**2 + 0.5
    ox, oy = xp.asarray(ox[disk]), xp.asarray(oy[disk])
    cx = xp.rint(x).astype(xp.int64)
    cy = xp.rint(y).astype(xp.int64)
    px, py, data, valid = _gather(img, cx, cy, ox, oy, xp)
    # Voronoi mask against the starting positions of the neighbours
    d_own = (px - x[:, None]) ** 2 + (py - y[:, None]) ** 2
    d_nb = xp.full_like(d_own, xp.inf)
    for k in range(nb.shape[1]):
        idx = nb[:, k]
        okk = (idx >= 0)[:, None]
        xi = x[xp.clip(idx, 0, None)][:, None]
        yi = y[xp.clip(idx, 0, None)][:, None]
        d_nb = xp.where(okk, xp.minimum(d_nb, (px - xi) ** 2 + (py - yi) ** 2), d_nb)
    wts = (valid & (d_own <= d_nb)).astype(dt)
    # starting values: background = low value in the patch, amplitude = centre - background
    masked = xp.where(wts > 0, data, xp.inf)
    b0 = xp.min(masked, axis=1)
    b0 = xp.where(xp.isfinite(b0), b0, 0.0)
    centre = img[xp.clip(cy, 0, img.shape[0] - 1), xp.clip(cx, 0, img.shape[1] - 1)]
    theta = xp.stack(
        [x.astype(dt), y.astype(dt), xp.maximum(centre - b0, 1e-6), xp.full(n, sigma0, dtype=dt),
         b0.astype(dt)], axis=1)
    theta, cost = _lm(theta, px, py, data, wts, xp, n_iter)
    if (subtract_neighbours or poisson) and n > 1:
        others = _neighbour_model(theta, nb, px, py, xp) if subtract_neighbours else 0.0 * px
        w2 = wts
        if poisson:
            own, _ = _model_and_jacobian(theta, px, py, xp, jac=False)
            floor = 0.05 * xp.abs(theta[:, 2:3]) + 1e-12
            w2 = wts / xp.maximum(own + others, floor)
        theta, cost = _lm(theta, px, py, data - others, w2, xp, max(3, n_iter // 2))
        if poisson:
            cost = xp.sum(wts * (data - others - _model_and_jacobian(
                theta, px, py, xp, jac=False)[0]) ** 2, axis=1)
    npix = xp.maximum(xp.sum(wts, axis=1), 1.0)
    return theta, xp.sqrt(cost / npix)


def _host(a: Any) -> np.ndarray:
    if type(a).__module__.startswith("cupy"):
        return a.get()
    return np.asarray(a)
