"""``calibrate_detector``: ellipticity, orientation and pixel size from a known standard.

Model: a reciprocal vector ``t`` (1/nm, crystal frame) of the standard lands on the
detector at ``p = o + K R t`` (px), ``R`` the in-plane orientation of the crystal and
``K`` symmetric positive (the elliptical distortion times 1/pixel size). Steps: spots of
the pattern (smoothed local maxima, 3×3 centroid), (000) = centre of symmetry, primitive
basis of the spots (``choose_basis``), least-squares lattice fit of the indexed spots
(optionally only up to ``fit_order``), then ``G_meas = K R T`` solved for the
equivalent assignment of the given basis ``T`` that makes ``K`` the most isotropic;
``K = V diag(k1, k2) Vᵀ`` gives the ellipse (semi-axes ``k1`` along ``V[:, 0]``, ``k2``
across) and the pixel size ``1/k1`` (1/nm per px after the correction).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import ndimage

from .._validate import as_array
from ..errors import InputShapeError, NoLatticeError, StemstrainError
from ._lattice import choose_basis
from ._settings import DetectorGeometry

__all__ = ["calibrate_detector", "find_spots"]


def find_spots(
    pattern: np.ndarray, *, sigma_px: float = 1.5, max_spots: int = 80, min_snr: float = 6.0
) -> tuple[np.ndarray, np.ndarray]:
    """Sharp diffraction spots: local maxima of the smoothed pattern above the noise.

    Returns ``xy`` (n, 2) (x = column, sub-pixel centroid) and heights (n,), strongest first.
    """
    img = ndimage.gaussian_filter(np.asarray(pattern, dtype=float), sigma_px)
    bg = ndimage.median_filter(img, size=15)
    d = img - bg
    noise = 1.4826 * np.median(np.abs(d - np.median(d))) + 1e-12
    peak = (img == ndimage.maximum_filter(img, size=7)) & (d > min_snr * noise)
    peak[:3], peak[-3:], peak[:, :3], peak[:, -3:] = False, False, False, False
    r, c = np.nonzero(peak)
    order = np.argsort(-d[r, c])[:max_spots]
    r, c = r[order], c[order]
    # centroid over a 7×7 window of the part above half the peak height (broad, flat-topped
    # spots of a parallel beam are not resolved by a 3×3 fit)
    off = np.arange(-3, 4)
    pad = np.pad(d, 3)
    win = np.stack([pad[r + 3 + a, c + 3 + b] for a in off for b in off], 1)
    win = np.clip(win - 0.5 * d[r, c][:, None], 0, None) + 1e-12
    da, db = np.repeat(off, 7), np.tile(off, 7)
    x = c + (win * db).sum(1) / win.sum(1)
    y = r + (win * da).sum(1) / win.sum(1)
    return np.column_stack([x, y]), d[r, c]


def _true_basis(lattice: Any) -> np.ndarray:
    try:
        g1, g2, ang = (float(v) for v in lattice)
    except (TypeError, ValueError):
        raise StemstrainError(
            f"lattice must be (|g1|, |g2|, angle_deg) of the standard's "
            f"reciprocal basis in 1/nm, got {lattice!r}"
        ) from None
    if not (g1 > 0 and g2 > 0 and 0 < ang < 180):
        raise StemstrainError(
            f"lattice lengths must be > 0 and the angle in (0, 180) deg, got {lattice!r}"
        )
    t = np.deg2rad(ang)
    return np.array([[g1, g2 * np.cos(t)], [0.0, g2 * np.sin(t)]])  # columns t1, t2


def _best_k(g_meas: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric K and the equivalent basis t' (columns) with ``g_meas = K R t'``."""
    t1, t2 = t[:, 0], t[:, 1]
    base = (t1, t2, t1 + t2, t1 - t2)
    cands = [s * v for v in base for s in (1, -1)]
    det0 = abs(np.linalg.det(t))
    best = None
    found = []
    for a in cands:
        for b in cands:
            tt = np.column_stack([a, b])
            ratio = abs(np.linalg.det(tt)) / det0
            if not np.isclose(ratio, 1.0, rtol=1e-6):
                continue
            m = g_meas @ np.linalg.inv(tt)
            if np.linalg.det(m) <= 0:
                continue
            u, s, vt = np.linalg.svd(m)
            k = u @ np.diag(s) @ u.T
            cond = s[0] / s[1]
            found.append((cond, k))
            if best is None or cond < best[0] - 1e-12:
                best = (cond, k, tt)
    if best is None:
        raise NoLatticeError(
            "the spots do not fit the given lattice (no orientation-preserving "
            "match); check lattice="
        )
    others = [c for c, k in found if not np.allclose(k, best[1], rtol=1e-6)]
    if others and min(others) < best[0] * 1.02:
        warnings.warn(
            f"calibrate_detector: two assignments of the lattice fit with nearly the same "
            f"distortion (axis ratios {1 / best[0]:.3f} and {1 / min(others):.3f}); the "
            "ellipticity is as large as the standard's own anisotropy: the smaller one is "
            "returned",
            UserWarning,
            stacklevel=3,
        )
    return best[1], best[2]


def calibrate_detector(
    pattern: Any,
    *,
    lattice: Any,
    fit_order: int | None = None,
    sigma_px: float = 1.5,
    max_spots: int = 80,
    full_output: bool = False,
) -> Any:
    """Ellipticity, orientation and reciprocal pixel size from a pattern of a known standard.

    Parameters
    ----------
    pattern : array (H, W) or Signal2D
        One diffraction pattern of a single-crystal standard (sharp spots) on zone axis.
    lattice : tuple (g1_norm, g2_norm, angle_deg)
        The standard's primitive reciprocal basis of the visible spots, 1/nm and degrees
        of the *visible* spots. α-MoO3 [010], whose kinematically forbidden (100)/(001)
        spots are lit by double diffraction: ``(1/0.3963, 1/0.3696, 90.0)``. Among the
        equivalent bases of that lattice, the one making the distortion most isotropic
        is matched to the measured basis (a ``UserWarning`` says when two assignments
        are nearly as isotropic: the distortion is then as large as the lattice's own
        anisotropy and a square or hexagonal standard is safer).
    fit_order : int, optional
        Fit only spots with ``max(|h|, |k|) <= fit_order`` (the others then validate the
        calibration); default all indexed spots.
    sigma_px : float
        Smoothing of the spot finder.
    max_spots : int
        Strongest spots kept.
    full_output : bool
        Also return a report dict.

    Returns
    -------
    DetectorGeometry or (DetectorGeometry, dict)
        ``ellipse=(a, b, theta_deg)`` and ``reciprocal_pixel_size`` (1/nm per px, after the
        correction). The report holds ``axis_ratio`` (b/a), ``orientation_deg`` (angle of
        g1 on the detector), ``corrected_lengths`` (1/nm), ``corrected_angle_deg``,
        ``rms_px`` (all indexed spots), ``held_out_max_rel_error`` /
        ``held_out_median_rel_error`` (spots beyond ``fit_order``: ``|q|`` vs the lattice),
        ``n_spots``, ``origin_px``, ``spots_xy`` / ``spots_hk``
        (the indexed spots, detector px, and their indices in the measured basis).

    Raises
    ------
    InputShapeError
        Not a 2-D pattern.
    NoLatticeError
        Too few spots or no 2-D lattice.

    Warns
    -----
    UserWarning
        The rms residual of the fitted spots exceeds 6 % of ``|g1|`` (not a spot pattern of
        this lattice), or two lattice assignments are nearly equally isotropic.
    """
    data = getattr(pattern, "data", pattern) if not isinstance(pattern, np.ndarray) else pattern
    img = as_array(data, "pattern", "a 2-D diffraction pattern")
    if img.ndim != 2:
        raise InputShapeError(
            f"pattern must be 2-D (one diffraction pattern), got shape {img.shape}"
        )
    t = _true_basis(lattice)
    xy, h = find_spots(img, sigma_px=sigma_px, max_spots=max_spots)
    g_px, origin = choose_basis(xy, h)
    vec = xy - origin
    hk = vec @ np.linalg.inv(g_px).T
    idx = np.rint(hk)
    ok = np.abs(hk - idx).max(1) < 0.2
    ok &= np.abs(idx).sum(1) > 0
    use = ok if fit_order is None else ok & (np.abs(idx).max(1) <= int(fit_order))
    if use.sum() < 4:
        raise NoLatticeError(f"only {int(use.sum())} spots indexed for the fit; need >= 4")
    a_mat = np.column_stack([np.ones(use.sum()), idx[use]])
    beta, *_ = np.linalg.lstsq(a_mat, xy[use], rcond=None)
    origin, g_fit = beta[0], beta[1:].T  # columns g1, g2 (px)
    k, t_eq = _best_k(g_fit, t)
    evals, evecs = np.linalg.eigh(k)
    k1, k2 = evals[1], evals[0]
    v1 = evecs[:, 1]
    theta = float(np.degrees(np.arctan2(v1[1], v1[0])))
    geo = DetectorGeometry(
        ellipse=(float(k1), float(k2), theta), reciprocal_pixel_size=float(1.0 / k1)
    )
    res_fit = np.linalg.norm(xy[use] - (origin + idx[use] @ g_fit.T), axis=1)
    rel = float(np.sqrt(np.mean(res_fit**2)) / np.linalg.norm(g_fit, axis=0).min())
    if rel > 0.06:
        warnings.warn(
            f"calibrate_detector: the spots fit the lattice poorly (rms residual "
            f"{rel:.0%} of |g1|): not a single-crystal spot pattern of this lattice?"
            " The calibration is unreliable",
            UserWarning,
            stacklevel=2,
        )
    if not full_output:
        return geo
    spots = {
        "xy": xy,
        "idx": idx,
        "ok": ok,
        "use": use,
        "origin": origin,
        "g": g_fit,
        "t": t_eq,
        "rel": rel,
    }
    return geo, _report(geo, spots)


def _angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    c = u @ v / (np.linalg.norm(u) * np.linalg.norm(v))
    return float(np.degrees(np.arccos(np.clip(c, -1, 1))))


def _report(geo: DetectorGeometry, sp: dict) -> dict:
    """Diagnostics of a calibration (see ``calibrate_detector``)."""
    xy, idx, ok, use, origin, g_fit = (sp[k] for k in ("xy", "idx", "ok", "use", "origin", "g"))
    k1, k2 = geo.ellipse[:2]
    corr = geo.matrix() @ g_fit * geo.reciprocal_pixel_size  # 1/nm, corrected
    res = np.linalg.norm(xy[ok] - (origin + idx[ok] @ g_fit.T), axis=1)
    held = ok & ~use
    held_err = held_med = float("nan")
    if held.any():
        q_true = np.linalg.norm(idx[held] @ sp["t"].T, axis=1)
        q_meas = (
            np.linalg.norm((geo.matrix() @ (xy[held] - origin).T).T, axis=1)
            * geo.reciprocal_pixel_size
        )
        err = np.abs(q_meas / q_true - 1)
        held_err, held_med = float(np.max(err)), float(np.median(err))
    return {
        "axis_ratio": float(k2 / k1),
        "ellipse": geo.ellipse,
        "reciprocal_pixel_size": geo.reciprocal_pixel_size,
        "orientation_deg": float(np.degrees(np.arctan2(g_fit[1, 0], g_fit[0, 0]))),
        "corrected_lengths": np.linalg.norm(corr, axis=0).tolist(),
        "corrected_angle_deg": _angle_deg(corr[:, 0], corr[:, 1]),
        "measured_lengths_px": np.linalg.norm(g_fit, axis=0).tolist(),
        "measured_angle_deg": _angle_deg(g_fit[:, 0], g_fit[:, 1]),
        "rms_px": float(np.sqrt(np.mean(res**2))),
        "rms_rel": sp["rel"],
        "n_spots": int(ok.sum()),
        "n_fit": int(use.sum()),
        "held_out_max_rel_error": held_err,
        "held_out_median_rel_error": held_med,
        "origin_px": origin.tolist(),
        "spots_xy": xy[ok].tolist(),
        "spots_hk": idx[ok].astype(int).tolist(),
    }
