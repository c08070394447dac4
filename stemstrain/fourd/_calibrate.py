"""Detector-to-scan rotation measured from the data (curl-free beam deflection).

The deflection of the (000) disk (its centre-of-mass shift, with the linear descan
removed) is ``∝ ∇V``, the gradient of the projected potential, so it is curl-free in the
scan frame. Rotating the measured detector-frame shifts ``c`` by a trial angle θ (after an
optional x/y swap) gives ``v = R(θ) S c`` with

``curl v = sin θ · div(S c) + cos θ · curl(S c)``,

so the mean squared curl is ``a sin²θ + b cos²θ + 2 c sinθ cosθ`` and its minimum has a
closed form (no angle scan). Both flips are tried; the one with the lower residual curl
wins. θ is returned modulo 180°: strain does not depend on that ambiguity (G and G_ref
change sign together).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputShapeError, StemstrainError

__all__ = ["measure_detector_rotation"]


def _plane_removed(v: np.ndarray, ok: np.ndarray) -> np.ndarray:
    sy, sx = v.shape
    yy, xx = np.mgrid[0:sy, 0:sx].astype(float)
    a = np.column_stack([np.ones(ok.sum()), xx[ok], yy[ok]])
    coef, *_ = np.linalg.lstsq(a, v[ok], rcond=None)
    return v - (coef[0] + coef[1] * xx + coef[2] * yy)


def _best_angle(cx: np.ndarray, cy: np.ndarray, ok: np.ndarray) -> tuple[float, float, float]:
    dcx_dy, dcx_dx = np.gradient(cx)
    dcy_dy, dcy_dx = np.gradient(cy)
    div = (dcx_dx + dcy_dy)[ok]
    curl = (dcy_dx - dcx_dy)[ok]
    a, b, c = np.mean(div**2), np.mean(curl**2), np.mean(div * curl)
    phi = np.arctan2(c, (b - a) / 2.0)
    theta = (phi + np.pi) / 2.0
    f = a * np.sin(theta) ** 2 + b * np.cos(theta) ** 2 + 2 * c * np.sin(theta) * np.cos(theta)
    scale = max(a + b, 1e-300)
    return float(np.rad2deg(theta) % 180.0), float(f), float(scale)


def measure_detector_rotation(shifts: Any) -> dict:
    """Measure the detector-to-scan rotation (and flip) from the (000) disk deflection.

    Parameters
    ----------
    shifts : FourDStrainResult or ndarray (scan_y, scan_x, 2)
        Disk-origin positions (x, y) on the detector per scan position (``result.origin``)
        or their shifts; a linear descan plane is removed. NaN positions are ignored.

    Returns
    -------
    dict
        ``rotation_deg`` (in [0, 180)) and ``flip`` to pass to ``fourd_strain(geometry=
        DetectorGeometry(detector_rotation_deg=..., detector_flip=...))``, and
        ``curl_fraction`` (residual mean squared curl over the total mean squared
        divergence + curl: ~0 for a clean measurement, ~0.5 when the field has no usable
        structure).

    Raises
    ------
    InputShapeError
        Not (scan_y, scan_x, 2), or a scan smaller than 3×3.
    StemstrainError
        Fewer than 9 finite positions, or no deflection at all.

    Notes
    -----
    Convention as :func:`~stemstrain.fourd.detector_to_scan_matrix`:
    ``v_scan = R(rotation) · S(flip) · v_detector``.
    """
    field = getattr(shifts, "origin", shifts)
    v = np.asarray(field, dtype=float)
    if v.ndim != 3 or v.shape[-1] != 2 or min(v.shape[:2]) < 3:
        raise InputShapeError(
            f"shifts must be (scan_y, scan_x, 2) with a scan of at least 3×3, got {v.shape}"
        )
    ok = np.isfinite(v).all(axis=-1)
    if ok.sum() < 9:
        raise StemstrainError(f"shifts has only {int(ok.sum())} finite positions, need >= 9")
    vv = np.where(ok[..., None], v, 0.0)
    cx, cy = _plane_removed(vv[..., 0], ok), _plane_removed(vv[..., 1], ok)
    cx[~ok] = 0.0
    cy[~ok] = 0.0
    if not (np.any(np.abs(cx) > 1e-12) or np.any(np.abs(cy) > 1e-12)):
        raise StemstrainError(
            "shifts show no deflection beyond a linear descan; the rotation "
            "cannot be measured from them"
        )
    inner = ok.copy()
    inner[[0, -1], :] = False
    inner[:, [0, -1]] = False
    results = []
    for flip in (False, True):
        sx_, sy_ = (cy, cx) if flip else (cx, cy)
        theta, resid, scale = _best_angle(sx_, sy_, inner if inner.sum() >= 4 else ok)
        results.append((resid / scale, theta, flip))
    frac, theta, flip = min(results)
    return {"rotation_deg": theta, "flip": flip, "curl_fraction": float(frac)}
