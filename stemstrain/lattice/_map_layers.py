"""Is a grain's lattice layered? The long-period (superstructure) test (private to lattice_map).

A layered crystal seen edge-on repeats along its layer normal with a period D that is
longer than the in-plane period. When the windows of the lattice map resolve D it is a
basis vector and :func:`stemstrain.lattice._map_grains.layer_normal_first` sees it
(LiCoO2 edge-on). When D is long (YBa2Cu3O7: c = 1.17 nm = 3 perovskite sub-cells) and
its reflections are weak or streaked by stacking disorder, the windows see only the
sub-cell. Then the spectrum of a crop over the whole grain decides: a superstructure of
period ``m`` along one reciprocal direction ``u`` of the sub-cell puts reflections at
``(j / m) u + h v`` (j not a multiple of m, v the other basis vector), i.e. rows of
extra spots between the sub-cell reflections along ``u`` only. Real-space layers are
then the planes normal to ``u`` (``u . a_v = 0``), repeating every ``m / |u|``: the
layer normal is ``u`` itself and ``u`` is the ``(00m)`` reflection of the supercell
(the (003) of YBa2Cu3O7).

Significance: at each predicted position the power over the ring mean (geometric mean
x e^gamma: ~exponential with mean 1 for noise) is the maximum over 3 x 3 bins, so for
noise ``P(max > T) ~ 9 exp(-T)``; ``T = ln(9 n / p_fa)`` over the n positions tested
gives ~``p_fa`` false spots per crop. A spot must also stand 4x above the median of the
same line around it (a diffuse streak of planar disorder is not a superstructure spot;
it is reported separately). Layered: one direction has spots at ``>= 25 %`` of its
tested positions for some ``m`` (at least 2 spots) and no other direction has; spots
along two directions are a 2-D supercell (reconstruction, ordering), not layers.
"""

from __future__ import annotations

from math import gcd
from typing import Any

import numpy as np

from .._spectra import hann

__all__ = ["superstructure", "normal_first", "MAX_PERIOD"]

#: largest superstructure multiplicity tested (period along the normal / sub-cell period)
MAX_PERIOD = 6
_MIN_FRACTION = 0.25
_MIN_SPOTS = 2
_OVER_STREAK = 4.0
_MAX_CROP = 1024
_DIRECTIONS = np.array([[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[1, 1], [1, 0]], [[1, -1], [1, 0]]])


def _ratio_spectrum(crop: np.ndarray) -> np.ndarray:
    """Power over the ring mean of a Hann-windowed crop (full plane, FFT order)."""
    h, w = crop.shape
    img = (crop - crop.mean()) * (hann(h)[:, None] * hann(w)[None, :])
    power = np.abs(np.fft.fft2(img.astype(np.float32))) ** 2
    n = min(h, w)
    ring = np.rint(np.hypot(np.fft.fftfreq(h)[:, None] * n, np.fft.fftfreq(w)[None, :] * n)).astype(
        np.int64
    )
    logp = np.log(power + 1e-30)
    cnt = np.maximum(np.bincount(ring.ravel()), 1)
    mean = np.bincount(ring.ravel(), weights=logp.ravel()) / cnt
    mean[:2] = mean[2] if mean.size > 2 else mean[:2]
    return power / np.exp(mean[ring] + np.euler_gamma)


def _max9(ratio: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Largest ratio within +-1 bin of positions ``p`` (..., 2) (gx, gy cycles/px)."""
    h, w = ratio.shape
    r = np.rint(p[..., 1] * h).astype(np.int64)
    c = np.rint(p[..., 0] * w).astype(np.int64)
    out = np.zeros(p.shape[:-1])
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            out = np.maximum(out, ratio[(r + dy) % h, (c + dx) % w])
    return out


def _positions(u: np.ndarray, v: np.ndarray, m: int) -> np.ndarray:
    """Superstructure positions (j / m) u + h v, j = 1 .. 2m - 1 coprime to m, |h| <= 1."""
    js = np.array([j for j in range(1, 2 * m) if gcd(j, m) == 1], dtype=float)
    hs = np.array([-1.0, 0.0, 1.0])
    return (js[:, None, None] / m) * u + hs[None, :, None] * v


def superstructure(
    crop: np.ndarray,
    basis_px: np.ndarray,
    band: tuple[float, float],
    *,
    p_fa: float = 1e-3,
) -> dict:
    """Long period along one direction of the sub-cell ``basis_px`` (2, 2) in a crop.

    Parameters
    ----------
    crop : ndarray (H, W)
        Image crop over the grain (NumPy).
    basis_px : ndarray (2, 2)
        The grain's reduced basis, rows (gx, gy) in cycles/px.
    band : (float, float)
        Searched |g| band, cycles/px.

    Returns
    -------
    dict
        ``axis`` (2,) integer indices of the normal ``u`` in the basis or None,
        ``period`` (m, 0 when none), ``fraction`` (the best direction's spot fraction),
        ``spots`` (its number of spots), ``second`` (best fraction of any other
        direction), ``streak`` (median line level over the ring mean along ``u``, 1 =
        none), ``supercell_2d`` (spots along two directions).
    """
    ratio = _ratio_spectrum(np.asarray(crop, dtype=np.float64))
    h, w = crop.shape
    lo = max(band[0], 2.5 / min(h, w))
    rows = []  # (direction, m, p (..., 2), valid)
    for d, comb in enumerate(_DIRECTIONS):
        u, v = comb.astype(float) @ basis_px
        for m in range(2, MAX_PERIOD + 1):
            p = _positions(u, v, m)
            mag = np.linalg.norm(p, axis=-1)
            ok = (mag >= lo) & (mag <= band[1]) & (np.abs(p) <= 0.4).all(-1)
            rows.append((d, m, p, ok, u))
    n_tested = max(int(sum(r[3].sum() for r in rows)), 1)
    thresh = np.log(9.0 * n_tested / p_fa)
    frac = np.zeros((len(_DIRECTIONS), MAX_PERIOD + 1))
    spots = np.zeros_like(frac)
    streak = np.ones(len(_DIRECTIONS))
    for d, m, p, ok, u in rows:
        if not ok.any():
            continue
        val = _max9(ratio, p)
        offs = np.array([-0.5, -0.4, -0.3, -0.2, 0.2, 0.3, 0.4, 0.5]) / m
        line = np.median(_max9(ratio, p[..., None, :] + offs[:, None] * u), axis=-1)
        hit = ok & (val > thresh) & (val > _OVER_STREAK * line)
        spots[d, m] = hit.sum()
        frac[d, m] = hit.sum() / ok.sum()
        if m == 2:
            streak[d] = float(np.median(line[ok]) / (np.log(9) + np.euler_gamma))
    good = (frac >= _MIN_FRACTION) & (spots >= _MIN_SPOTS)
    dirs = np.flatnonzero(good.any(1))
    out = {"axis": None, "period": 0, "fraction": float(frac.max()), "spots": 0}
    out.update(second=0.0, streak=float(streak.max()), supercell_2d=len(dirs) > 1)
    if len(dirs) != 1:
        return out
    d = int(dirs[0])
    m = int(np.flatnonzero(good[d]).max())  # the longest period whose spots are there
    others = np.delete(np.arange(len(_DIRECTIONS)), d)
    out.update(
        axis=_DIRECTIONS[d][0].copy(),
        period=m,
        fraction=float(frac[d, m]),
        spots=int(spots[d, m]),
        second=float(frac[others].max()),
        streak=float(streak[d]),
    )
    return out


def normal_first(b: np.ndarray, axis: Any) -> np.ndarray:
    """Equivalent basis (2, 2) whose first row is ``axis @ b`` (the layer normal).

    The normal points to +y (n_y > 0, or n_x > 0 when horizontal in y); the second row
    is the basis vector that completes a unimodular, right-handed basis.
    """
    a = np.asarray(axis, dtype=int)
    # second row: a unit vector e with det([a, e]) = +-1 (a is primitive)
    second = np.array([0, 1]) if abs(a[0]) == 1 else np.array([1, 0])
    out = np.stack([a @ b, second @ b]).astype(float)
    if out[0, 1] < 0 or (out[0, 1] == 0 and out[0, 0] < 0):
        out[0] = -out[0]
    if out[0, 0] * out[1, 1] - out[0, 1] * out[1, 0] < 0:
        out[1] = -out[1]
    return out


def layered_by_superstructure(
    crop: np.ndarray, med: np.ndarray, band: tuple[float, float]
) -> dict | None:
    """Layer normal of a grain whose windows see only the sub-cell, or None.

    ``med`` (2, 2) is the grain's median basis (cycles/px). Layered when
    :func:`superstructure` finds a period ``m`` along one direction ``u`` and the
    supercell ``(u / m, v)`` passes the layered test of
    :func:`~stemstrain.lattice._map_grains.layer_normal_first` (period along the normal
    >= 1.47 x the in-plane one: YBa2Cu3O7 c = 3 x 0.39 nm passes; the A/B contrast of a
    perovskite along one axis, a doubled {110} net whose supercell is square, does not).
    Returns ``{"axis", "period" (m), "period_px" (m / |u_perp|), "basis"}`` (basis: ``med``
    with the normal ``u`` first), or None.
    """
    from .._basis import reduce_basis
    from ._map_grains import layer_normal_first

    if min(crop.shape) < 32 or not np.isfinite(med).all():
        return None
    found = superstructure(crop, med, band)
    if found["axis"] is None:
        return None
    new = normal_first(med, found["axis"])
    u, v = new
    m = found["period"]
    sup, layered = layer_normal_first(reduce_basis(np.stack([u / m, v])))
    along = abs(sup[0, 0] * u[1] - sup[0, 1] * u[0]) <= 1e-6 * np.linalg.norm(u) ** 2
    if not (layered and along):
        return None
    return {**found, "period_px": float(m / np.linalg.norm(u)), "basis": new}


def grain_normals(
    image: Any,
    basis: np.ndarray,
    grains: np.ndarray,
    centres: tuple[np.ndarray, np.ndarray],
    size: int,
    band: tuple[float, float],
) -> dict:
    """Run :func:`layered_by_superstructure` on the largest grains the windows call not layered.

    ``image`` (NumPy or CuPy), ``basis`` (ny, nx, 2, 2) aligned bases (cycles/px),
    ``grains`` labels, ``centres`` the window centres (rows, columns), ``size`` the
    window (px). The crop is the grain's bounding box (at most ``_MAX_CROP`` px a side,
    centred), so the cost is at most four 1024^2 FFTs. Returns ``{label: info}``.
    """
    from .._backend import asnumpy
    from ._map_grains import layer_normal_first

    labels, counts = np.unique(grains[grains > 0], return_counts=True)
    out = {}
    h, w = image.shape
    for lab in labels[np.argsort(-counts, kind="stable")][:4]:
        sel = grains == lab
        med = np.nanmedian(basis[sel], axis=0)
        if sel.sum() < 4 or not np.isfinite(med).all() or layer_normal_first(med)[1]:
            continue
        rows, cols = np.nonzero(sel)
        box = []
        for c, n in ((centres[0][rows], h), (centres[1][cols], w)):
            lo, hi = max(0, int(c.min() - size / 2)), min(n, int(c.max() + size / 2) + 1)
            mid, half = (lo + hi) // 2, min(hi - lo, _MAX_CROP) // 2
            box.append(slice(mid - half, mid + half))
        crop = np.asarray(asnumpy(image[box[0], box[1]]), dtype=np.float64)
        found = layered_by_superstructure(crop, med, band)
        if found is not None:
            out[int(lab)] = found
    return out
