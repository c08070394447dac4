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
    """Return indices ``(N, k)`` of the k nearest other columns (host KD-tree; -1 pads)."""
    from scipy.spatial import cKDTree

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


def _model_and_jacobian(theta: Any, off: Any, xp: ModuleType, jac: bool = True):
    """Model ``(N, P)`` and Jacobian ``(N, 5, P)`` on square patches, ``P = m * m``.

    The Gaussian is separable, ``g = g_y(y) g_x(x)``: exponentials are taken on the
    ``m`` row and ``m`` column offsets only and every per-pixel term is one outer
    product, which keeps the cost per pixel to a few multiplications.
    """
    x0, y0, a, s, b = (theta[:, i : i + 1] for i in range(5))
    n, m = theta.shape[0], off.shape[-1]
    inv_s2 = 1.0 / (s * s)
    dx = off - x0
    dy = off - y0
    ex = xp.exp(-0.5 * inv_s2 * dx * dx)
    ey = xp.exp(-0.5 * inv_s2 * dy * dy)
    g = (ey[:, :, None] * ex[:, None, :]).reshape(n, m * m)
    model = a * g + b
    if not jac:
        return model, None
    j = xp.empty((n, 5, m, m), dtype=theta.dtype)
    c = a * inv_s2
    exd = c * ex * dx
    eyd = c * ey * dy
    xp.multiply(ey[:, :, None], exd[:, None, :], out=j[:, 0])
    xp.multiply(eyd[:, :, None], ex[:, None, :], out=j[:, 1])
    j[:, 2] = g.reshape(n, m, m)
    xp.multiply(ey[:, :, None], (exd * dx / s)[:, None, :], out=j[:, 3])
    j[:, 3] += (eyd * dy / s)[:, :, None] * ex[:, None, :]
    j[:, 4] = 1.0
    return model, j.reshape(n, 5, m * m)


def _neighbour_model(theta: Any, nb: Any, shift: Any, off: Any, xp: ModuleType) -> Any:
    """Sum over each column's neighbours of their Gaussians (no background) on its patch.

    ``theta`` holds positions local to each column's patch centre ``shift`` (N, 2);
    ``off`` (1, m) are the patch offsets. Separable: exponentials on m rows/columns only.
    """
    n, m = theta.shape[0], off.shape[-1]
    out = xp.zeros((n, m, m), dtype=off.dtype)
    for k in range(nb.shape[1]):  # loop over k (<= 8) neighbour slots, not over columns
        idx = xp.clip(nb[:, k], 0, None)
        t = theta[idx]
        rel = shift[idx] - shift  # neighbour's patch centre relative to ours
        inv = -0.5 / (t[:, 3:4] * t[:, 3:4])
        dx = off - (t[:, 0:1] + rel[:, 0:1])
        dy = off - (t[:, 1:2] + rel[:, 1:2])
        amp = xp.where(nb[:, k] >= 0, t[:, 2], 0.0)[:, None]
        ex = amp * xp.exp(inv * dx * dx)
        ey = xp.exp(inv * dy * dy)
        out += ey[:, :, None] * ex[:, None, :]
    return out.reshape(n, m * m)


def _lm(theta, off, data, wts, xp, n_iter):
    """Levenberg-Marquardt iterations for all columns at once.

    Each iteration evaluates model and Jacobian once, at the trial point; columns whose
    cost went down take the trial (and its Jacobian), the others raise their damping.
    """
    lam = xp.full(theta.shape[0], 1e-3, dtype=xp.float64)
    model, j = _model_and_jacobian(theta, off, xp)
    res = data - model
    cost = xp.sum(wts * res * res, axis=1, dtype=xp.float64)
    eye = xp.eye(5, dtype=xp.float64)
    for _ in range(n_iter):
        jw = j * wts[:, None, :]
        hess = xp.matmul(jw, j.transpose(0, 2, 1)).astype(xp.float64)
        grad = xp.matmul(jw, res[:, :, None])[:, :, 0].astype(xp.float64)
        diag = xp.diagonal(hess, axis1=1, axis2=2)
        damp = (lam[:, None] * (diag + 1e-9))[:, :, None] * eye[None]
        step = xp.linalg.solve(hess + damp + 1e-12 * eye[None], grad[:, :, None])[:, :, 0]
        trial = theta + step.astype(theta.dtype)
        trial[:, 3] = xp.abs(trial[:, 3]) + 1e-3
        m_t, j_t = _model_and_jacobian(trial, off, xp)
        r_t = data - m_t
        c_t = xp.sum(wts * r_t * r_t, axis=1, dtype=xp.float64)
        better = xp.isfinite(c_t) & (c_t < cost)
        theta = xp.where(better[:, None], trial, theta)
        cost = xp.where(better, c_t, cost)
        lam = xp.where(better, lam * 0.3, lam * 5.0)
        if bool(better.all()):
            j, res = j_t, r_t
        else:
            j = xp.where(better[:, None, None], j_t, j)
            res = xp.where(better[:, None], r_t, res)
    return theta, cost


def refine_gaussians(  # noqa: PLR0913
    img: Any,
    x: Any,
    y: Any,
    *,
    radius: int,
    sigma0: float,
    xp: ModuleType,
    n_iter: int = 8,
    n_iter2: int = 4,
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
        Levenberg-Marquardt iterations of the first (uniform-weight) pass.
    n_iter2 : int
        Iterations of the second pass (neighbours subtracted, shot-noise weights).
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
    dt = xp.float32  # local coordinates keep float32 exact enough (< 1e-4 px)
    if neighbours is None:
        neighbours = neighbour_indices(np.asarray(_host(x)), np.asarray(_host(y)))
    nb = xp.asarray(neighbours)
    off_h = np.arange(-radius, radius + 1)
    oy, ox = np.meshgrid(off_h, off_h, indexing="ij")
    disk = xp.asarray(((ox**2 + oy**2) <= radius**2 + 0.5).ravel())
    ox, oy = xp.asarray(ox.ravel()), xp.asarray(oy.ravel())
    off = xp.asarray(off_h, dtype=dt)[None, :]
    cx = xp.rint(x).astype(xp.int64)
    cy = xp.rint(y).astype(xp.int64)
    _, _, data, valid = _gather(img, cx, cy, ox, oy, xp)
    data = data.astype(dt)
    fx, fy = (x - cx).astype(dt), (y - cy).astype(dt)
    # Voronoi mask against the starting positions of the neighbours (separable distances)
    m = off.shape[-1]

    def dist2(px_, py_):
        return ((off - py_[:, None]) ** 2)[:, :, None] + ((off - px_[:, None]) ** 2)[:, None, :]

    d_own = dist2(fx, fy).reshape(n, m * m)
    d_nb = xp.full_like(d_own, xp.inf)
    for k in range(nb.shape[1]):
        idx = xp.clip(nb[:, k], 0, None)
        far = xp.where(nb[:, k] >= 0, 0.0, 1e6).astype(dt)  # padding slots never win
        xi = (x[idx] - cx).astype(dt) + far
        yi = (y[idx] - cy).astype(dt)
        d_nb = xp.minimum(d_nb, dist2(xi, yi).reshape(n, m * m))
    wts = (valid & disk[None, :] & (d_own <= d_nb)).astype(dt)
    # starting values: background = low value in the patch, amplitude = centre - background
    masked = xp.where(wts > 0, data, xp.inf)
    b0 = xp.min(masked, axis=1)
    b0 = xp.where(xp.isfinite(b0), b0, 0.0).astype(dt)
    centre = img[xp.clip(cy, 0, img.shape[0] - 1), xp.clip(cx, 0, img.shape[1] - 1)].astype(dt)
    theta = xp.stack(
        [fx, fy, xp.maximum(centre - b0, 1e-6).astype(dt), xp.full(n, sigma0, dtype=dt), b0], axis=1
    )
    theta, cost = _lm(theta, off, data, wts, xp, n_iter)
    if (subtract_neighbours or poisson) and n > 1:
        shift = xp.stack([cx, cy], axis=1).astype(dt)
        others = _neighbour_model(theta, nb, shift, off, xp) if subtract_neighbours else 0.0
        w2 = wts
        if poisson:
            own, _ = _model_and_jacobian(theta, off, xp, jac=False)
            floor = 0.05 * xp.abs(theta[:, 2:3]) + 1e-12
            w2 = wts / xp.maximum(own + others, floor)
        theta, cost = _lm(theta, off, data - others, w2, xp, n_iter2)
        if poisson:
            cost = xp.sum(
                wts * (data - others - _model_and_jacobian(theta, off, xp, jac=False)[0]) ** 2,
                axis=1,
            )
    npix = xp.maximum(xp.sum(wts, axis=1), 1.0)
    out = theta.astype(xp.float64)
    out[:, 0] += cx
    out[:, 1] += cy
    return out, xp.sqrt(cost / npix)


def _host(a: Any) -> np.ndarray:
    if type(a).__module__.startswith("cupy"):
        return a.get()
    return np.asarray(a)
