"""Reciprocal lattice: primitive basis choice, indexing and per-pattern least-squares fits.

Conventions: a peak position is ``p = o + h g1 + k g2`` with ``o`` the (000) disk and
``G = [g1 g2]`` (columns, (x, y) in detector px). The basis is *primitive*: among the
candidate pairs built from the shortest peak vectors, the one that indexes the most
peaks (to within ``tol`` in index units) wins, ties going to the smallest cell area; it
is then Lagrange–Gauss reduced, so a hexagonal pattern gives two vectors of equal length
at 60° (or 120°), never a centred rectangular cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._basis import reduce_basis
from ..errors import NoLatticeError

__all__ = ["choose_basis", "gauss_reduce", "fit_lattice_batch", "friedel_origin"]


def gauss_reduce(g1: np.ndarray, g2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lagrange–Gauss reduction of a 2-D basis: shortest g1, then shortest g2 (|g1·g2| ≤ |g1|²/2).

    The result is oriented so that ``det([g1 g2]) > 0`` (g2 counter-clockwise from g1 in
    x-right/y-up maths convention, i.e. clockwise as displayed with y down).
    """
    g1, g2 = reduce_basis(np.stack([g1, g2]).astype(float), iterations=100)
    return _canonical(g1, g2)


def _canonical(g1: np.ndarray, g2: np.ndarray, rtol: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Pick one deterministic basis among the equivalent reduced ones.

    g1: among the shortest lattice vectors (within ``rtol``), the one closest in angle to +x;
    g2: the shortest vector making ``det([g1 g2]) > 0`` with an acute or right angle to g1.
    """
    cands = [s * v for v in (g1, g2, g1 + g2, g1 - g2) for s in (1.0, -1.0)]
    lens = np.array([np.hypot(*v) for v in cands])
    short = [v for v, n in zip(cands, lens, strict=True) if n <= lens.min() * (1 + rtol)]
    a = min(short, key=lambda v: (abs(np.arctan2(v[1], v[0])), -v[0]))
    rest = [v for v in cands if a[0] * v[1] - a[1] * v[0] > 1e-9 * (a @ a) and a @ v >= -1e-9]
    b = min(rest, key=lambda v: (round(float(np.hypot(*v)) / (lens.min() * rtol)), -(a @ v)))
    return a, b


def _index_score(vecs, g, tol):
    hk = vecs @ np.linalg.inv(g).T
    err = np.abs(hk - np.round(hk)).max(axis=1)
    return err < tol


def friedel_origin(
    xy: np.ndarray, w: np.ndarray, *, n_candidates: int = 5, tol_px: float = 1.5
) -> np.ndarray:
    """Pick the (000) disk as the centre of symmetry of the pattern (Friedel pairs).

    Among the ``n_candidates`` strongest peaks, the one about which the most peaks have
    an inverted partner (``2 o - p`` within ``tol_px``) wins; ties go to the stronger peak.
    Robust when a Bragg disk is brighter than the direct beam (thick crystals).
    """
    order = np.argsort(-w)[:n_candidates]
    best, best_key = xy[order[0]], None
    for rank, i in enumerate(order):
        mirror = 2 * xy[i] - xy
        d = np.linalg.norm(mirror[:, None, :] - xy[None, :, :], axis=-1).min(axis=1)
        key = (int((d < tol_px).sum()), -rank)
        if best_key is None or key > best_key:
            best, best_key = xy[i], key
    return best


def choose_basis(
    xy: np.ndarray,
    intensity: np.ndarray | None = None,
    *,
    origin: np.ndarray | None = None,
    min_length_px: float = 2.0,
    n_candidates: int = 10,
    tol: float = 0.15,
    min_indexed: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """Choose a primitive reciprocal basis from one set of peaks (e.g. of a mean pattern).

    Parameters
    ----------
    xy : ndarray (N, 2)
        Peak positions (x, y), detector px.
    intensity : ndarray (N,), optional
        Peak strengths; they weight the final least-squares refinement and rank the
        origin candidates.
    origin : ndarray (2,), optional
        Position of the (000) disk (default: :func:`friedel_origin`).
    min_length_px : float
        Vectors shorter than this are ignored (double detections).
    n_candidates : int
        How many of the shortest origin-to-peak vectors are paired into candidate bases.
    tol : float
        Indexing tolerance in index units.
    min_indexed : int
        Disks (the (000) included) the basis must index: 5 = (000), ±g1, ±g2.

    Returns
    -------
    g : ndarray (2, 2)
        Columns g1, g2 (x, y) in detector px, Gauss reduced, least-squares refined.
    origin : ndarray (2,)

    Raises
    ------
    NoLatticeError
        Fewer than three disks, or all disks on one line.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    w = np.ones(len(xy)) if intensity is None else np.asarray(intensity, dtype=float)
    if len(xy) < 3:
        raise NoLatticeError(
            f"no disks found: only {len(xy)} Bragg disk(s) detected, need the (000) disk "
            "and two non-collinear reflections; lower min_relative_intensity or check probe="
        )
    o = friedel_origin(xy, w) if origin is None else np.asarray(origin, dtype=float)
    vecs = xy - o
    lengths = np.linalg.norm(vecs, axis=1)
    cand = vecs[lengths > min_length_px]
    cand = cand[np.argsort(np.linalg.norm(cand, axis=1))][:n_candidates]
    best = None
    for i in range(len(cand)):
        for j in range(i + 1, len(cand)):
            g = np.stack([cand[i], cand[j]], axis=1)
            area = abs(np.linalg.det(g))
            if area < 0.2 * np.linalg.norm(cand[i]) * np.linalg.norm(cand[j]):
                continue  # nearly collinear
            n_ok = int(_index_score(vecs, g, tol).sum())
            key = (n_ok, -area)
            if best is None or key > best[0]:
                best = (key, g)
    if best is None:
        raise NoLatticeError(
            f"no lattice found: the {len(xy)} detected disks lie on one line; a 2-D "
            "reciprocal lattice (zone-axis pattern) is needed"
        )
    if best[0][0] < min_indexed:
        raise NoLatticeError(
            f"no lattice found: only {best[0][0]} of the {len(xy)} detected disks lie on a 2-D "
            f"lattice, need at least {min_indexed} ((000), ±g1, ±g2); is this a zone-axis "
            "diffraction pattern?"
        )
    g1, g2 = gauss_reduce(best[1][:, 0], best[1][:, 1])
    g = np.stack([g1, g2], axis=1)
    # least-squares refinement of (o, g1, g2) on the indexed peaks
    hk = np.round(vecs @ np.linalg.inv(g).T)
    ok = _index_score(vecs, g, tol)
    a = np.column_stack([np.ones(ok.sum()), hk[ok]])
    sw = np.sqrt(np.clip(w[ok], 0, None))[:, None]
    beta, *_ = np.linalg.lstsq(a * sw, xy[ok] * sw, rcond=None)
    return beta[1:].T.copy(), beta[0].copy()


def _solve_weighted(xp, hk, xy, wts):
    """Batched weighted LSQ of p = o + h g1 + k g2. Returns beta (B, 3, 2) and det (B,)."""
    b, n = wts.shape
    a = xp.concatenate([xp.ones((b, n, 1), dtype=xy.dtype), hk], axis=2)  # (B, N, 3)
    aw = a * wts[..., None]
    ata = xp.einsum("bni,bnj->bij", aw, a)
    atb = xp.einsum("bni,bnj->bij", aw, xy)
    det = xp.linalg.det(ata)
    ok = xp.abs(det) > 1e-9 * (wts.sum(1) ** 3 + 1e-30)
    eye = xp.broadcast_to(xp.eye(3, dtype=ata.dtype), ata.shape)
    ata = xp.where(ok[:, None, None], ata, eye)
    beta = xp.linalg.solve(ata, atb)
    return beta, ok


def fit_lattice_batch(  # noqa: PLR0913
    xp: Any,
    xy: Any,
    intensity: Any,
    valid: Any,
    g0: np.ndarray,
    origin0: np.ndarray,
    *,
    tol: float = 0.25,
    reject_sigma: float = 3.0,
    min_residual_px: float = 0.5,
    iterations: int = 3,
    max_index: int | None = None,
    min_peaks: int = 5,
) -> dict:
    """Index the peaks of a batch and fit origin, g1, g2 per pattern (weighted, robust).

    Each pattern's (000) disk is taken as the detected peak nearest ``origin0``; peaks are
    indexed with the basis ``g0``, and ``p = o + h g1 + k g2`` is fitted by least squares
    weighted by peak intensity. Then, ``iterations`` times: re-index with the fitted
    lattice, drop peaks whose residual exceeds ``max(reject_sigma × 1.4826 × median
    residual, min_residual_px)``, refit. Positions with fewer than ``min_peaks`` disks
    indexed are flagged not ok (NaN strain).

    Returns
    -------
    dict
        ``g`` (B, 2, 2) columns g1, g2 in px, ``origin`` (B, 2), ``n_peaks`` (B,) peaks used,
        ``rms_px`` (B,) weighted rms residual, ``ok`` (B,) bool (fit determined).
    """
    g0 = xp.asarray(g0, dtype=xp.float64)
    xy = xy.astype(xp.float64)
    wts0 = xp.where(valid, xp.clip(intensity.astype(xp.float64), 0, None), 0.0)
    d_o = xp.where(valid, ((xy - xp.asarray(origin0)) ** 2).sum(-1), xp.inf)
    o = xp.take_along_axis(xy, xp.argmin(d_o, axis=1)[:, None, None], axis=1)[:, 0]
    g = xp.broadcast_to(g0, (xy.shape[0], 2, 2)).copy()  # contiguous for batched inv
    wts = wts0
    for it in range(iterations + 1):
        ginv = xp.linalg.inv(g)
        hkf = xp.einsum("bij,bnj->bni", ginv, xy - o[:, None, :])
        hk = xp.rint(hkf)
        keep = valid & (xp.abs(hkf - hk).max(-1) < tol)
        if max_index is not None:
            keep &= xp.abs(hk).max(-1) <= max_index
        if it > 0:
            pred = o[:, None, :] + xp.einsum("bij,bnj->bni", g, hk)
            res = xp.sqrt(((xy - pred) ** 2).sum(-1))
            med = _masked_median(xp, res, keep)
            lim = xp.maximum(reject_sigma * 1.4826 * med, min_residual_px)
            keep &= res <= lim[:, None]
        wts = xp.where(keep, wts0, 0.0)
        beta, ok = _solve_weighted(xp, hk, xy, wts)
        o = beta[:, 0, :]
        g = xp.swapaxes(beta[:, 1:, :], 1, 2)  # columns g1, g2
        g = xp.where(ok[:, None, None], g, g0)
    pred = o[:, None, :] + xp.einsum("bij,bnj->bni", g, hk)
    res2 = ((xy - pred) ** 2).sum(-1)
    wsum = xp.maximum(wts.sum(1), 1e-30)
    rms = xp.sqrt((wts * res2).sum(1) / wsum)
    n_used = (wts > 0).sum(1)
    ok = ok & (n_used >= min_peaks)
    return {"g": g, "origin": o, "n_peaks": n_used, "rms_px": rms, "ok": ok}


def _masked_median(xp, values, mask):
    v = xp.where(mask, values, xp.nan)
    med = _nanmedian_xp(xp, v)
    return xp.where(xp.isfinite(med), med, 0.0)


def _nanmedian_xp(xp, v):
    s = xp.sort(v, axis=1)  # NaN sort last
    n = xp.isfinite(v).sum(1)
    lo = xp.clip((n - 1) // 2, 0, None)
    hi = xp.clip(n // 2, 0, None)
    a = xp.take_along_axis(s, lo[:, None], 1)[:, 0]
    b = xp.take_along_axis(s, hi[:, None], 1)[:, 0]
    return xp.where(n > 0, 0.5 * (a + b), xp.nan)
