"""Interlayer slip of bent layers: the registry drift that is not a change of stacking.

When bent layers slip over each other (each keeps its arc length) the registry of a gap
drifts with the local layer angle: two layers ``d`` apart that turn by ``theta - theta0``
from the orientation at which they were stacked are displaced along the layers by
``d (theta - theta0)`` (the outer layer's arc is longer by ``d`` per radian), so the
measured shift of the upper layer reads ``delta + beta * (d / a) * (theta - theta0)``
periods, with ``delta`` the stacking (+1/3 O3, -1/3 O3 twin, 0 O1) and ``beta = 1``;
``beta = 0`` when the registry is kept (a bend about a neutral plane, strained layers),
``beta = -1`` when every layer is displaced by the same field along the normal (a
ripple). Away from ``theta0`` an O3 gap of a slipping bend passes through O1-like
registry every ~10 deg of tilt (``a / (3 d)`` rad) without any change of its stacking
sequence.

:func:`fit_slip` measures ``beta`` and the offset from the gaps themselves. The three
stacking shifts are equally spaced modulo 1, so ``exp(2 pi i 3 shift)`` is the same for
every gap whatever its stacking, and its coherence across the image after removing a
trial drift does not depend on where the O1 gaps are:

    C(beta) = | mean exp(2 pi i 3 (shift - beta (d / a) theta)) |,

maximised over ``beta`` on a grid (the offset is then its phase, modulo 1/3 period).
That leaves candidate offsets 1/3 apart (they permute O3, O3 twin and O1), anchored by,
in this order: (1) the most common stacking of the image (its matrix) is O3, not O1;
(2) the two offsets that keep the matrix O3 tell "an O1 band in an O3 matrix" from "a
twin band in the other O3 variant" (a uniform 1/3 shift apart): a twin is the matrix
mirrored and has its interlayer spacing, an O1 band is another phase with its own
(O1 CoO2 0.424 nm, O3 LiCoO2 0.468 nm), so a minority class whose spacing differs by
more than 2 % is O1 and one that does not is the twin; (3) where the spacing does not
tell, the candidate whose unslipped orientation ``theta0`` lies nearest the median layer
orientation of the field (the layers are taken to be in their as-grown registry at
their typical orientation). When (3) is undecided or contradicts (2) the result is
flagged ``doubtful`` and the caller warns. Limit: an O1 band with the matrix's spacing
is read as a twin band unless (3) says otherwise (then with the warning).

The correction is applied only when it explains the registry much better than no
correction (gain in coherence >= ``_MIN_GAIN``), so straight and non-slipping crystals
are measured exactly as without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SlipFit", "fit_slip", "gap_angle"]

_BETAS = np.round(np.arange(-1.5, 1.5001, 0.01), 2)
_MIN_GAIN = 0.15  # coherence gain needed to apply a slip correction
_SPACING = 0.02  # relative d / a difference that tells O1 from an O3 twin
_DOUBT = 0.3  # the two nearest allowed theta0 closer than this x their step: doubtful


@dataclass(frozen=True)
class SlipFit:
    """Fitted registry drift ``beta * (d / a) * theta + offset`` (periods), per gap.

    Attributes
    ----------
    applied : bool
        Whether the drift is removed (False: ``drift`` is all zero).
    beta : float
        Slip coefficient: 1 = the layers keep their arc length, 0 = registry kept.
    theta0 : float
        Layer angle (rad, from ``t`` towards ``n``) at which the drift is zero.
    coherence_raw, coherence : float
        ``|mean exp(2 pi i 3 shift)|`` before and after removing the drift (1 = every
        gap exactly on a stacking shift).
    doubtful : bool
        The O1 / twin anchoring is not settled (the spacing does not tell and the median
        orientation lies between two candidates, or the two disagree): the stacking may
        be off by a uniform third of a period.
    drift : ndarray (M,)
        Drift removed from each column's raw shift, periods (0 where not applied).
    """

    applied: bool
    beta: float
    theta0: float
    coherence_raw: float
    coherence: float
    doubtful: bool
    drift: np.ndarray

    def params(self, t: np.ndarray) -> dict:
        """Scalars for ``StackingResult.params["slip"]``; ``t`` the global layer direction.

        ``theta0_deg`` is the unslipped layer angle in the image, degrees from the x axis
        towards +y (the ``angle_deg`` convention of the generator).
        """
        return dict(
            applied=bool(self.applied),
            beta=float(self.beta),
            theta0_deg=float(np.rad2deg(self.theta0 + np.arctan2(t[1], t[0]))),
            coherence_raw=float(self.coherence_raw),
            coherence=float(self.coherence),
            doubtful=bool(self.doubtful),
        )


def gap_angle(geo) -> np.ndarray:
    """Layer angle of each column's gap (rad, from the global ``t`` towards ``n``).

    The mean of the lower column's and the upper column's local tangents; NaN without
    an upper column.
    """
    up = geo.up
    tan = geo.tan + np.where((up >= 0)[:, None], geo.tan[np.maximum(up, 0)], 0.0)
    theta = np.arctan2(tan @ geo.n, tan @ geo.t)
    return np.where(up >= 0, theta, np.nan)


def _coherence(phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|mean| and angle of exp(2 pi i 3 phase) over the last axis."""
    z = np.exp(6j * np.pi * phase).mean(axis=-1)
    return np.abs(z), np.angle(z)


def wrap(x: np.ndarray) -> np.ndarray:
    """Registry shifts (periods) wrapped into [-0.5, 0.5)."""
    return (x + 0.5) % 1.0 - 0.5


def _classes(rel: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Stacking class of each gap relative to the matrix: 0 matrix, 1 = +1/3, 2 = -1/3.

    ``rel`` is the shift after removing the whole drift up to a multiple of 1/3; the
    matrix is the most common class. Returns (class, on) with ``on`` = within ``tol``.
    """
    q = np.round(3 * rel)
    on = np.abs(rel - q / 3) < tol
    q = q.astype(int) % 3
    m = int(np.argmax(np.bincount(q[on], minlength=3))) if on.any() else 0
    return (q - m) % 3, on


def _variant_from_spacing(cls: np.ndarray, on: np.ndarray, rho: np.ndarray) -> int:
    """Matrix variant (+1 / -1) told by the spacing of the minority classes, 0 if untold.

    An O3 twin is the same structure mirrored (the matrix's interlayer spacing); an O1
    band is another phase (O1 CoO2 0.424 nm vs O3 LiCoO2 0.468 nm). A minority class
    whose median d / a differs from the matrix's by more than ``_SPACING`` is O1, one
    that does not is the twin. With the matrix at +1/3, class 2 (matrix - 1/3) is O1 and
    class 1 the twin; at -1/3 the reverse. Each minority class present (>= 10 gaps and
    2 %) votes; 0 unless the votes agree.
    """
    ref = np.median(rho[on & (cls == 0)])
    votes = set()
    for c in (1, 2):
        sel = on & (cls == c)
        if sel.sum() >= max(10, 0.02 * on.sum()):
            is_o1 = abs(np.median(rho[sel]) / ref - 1) > _SPACING
            votes.add(1 if (c == 2) == is_o1 else -1)
    return votes.pop() if len(votes) == 1 else 0


def _has_minority(cls: np.ndarray, on: np.ndarray) -> bool:
    """Whether a stacking class other than the matrix covers >= 2 % of the gaps."""
    return bool(np.sum(on & (cls > 0)) >= max(10, 0.02 * on.sum()))


def _anchor(u, c0, beta, rho, theta_med, tol) -> tuple[float, float, bool]:
    """Offset (periods) anchoring the stacking, its unslipped angle (rad), doubtful flag.

    Candidates ``c0 + k / 3``; allowed: the matrix reads O3, of the variant the
    spacing tells when it does (:func:`_variant_from_spacing`); chosen: the allowed one
    whose unslipped angle lies nearest ``theta_med``. Doubtful (only when a minority class
    exists: O1 vs twin) when the spacing does not tell the variant and the next allowed
    candidate is nearly as near (margin < ``_DOUBT`` x the spacing of candidates), or
    when the spacing and the orientation prior disagree.
    """
    rel = wrap(u - c0)
    cls, on = _classes(rel, tol)
    ks = np.arange(-9, 10)
    offsets = c0 + ks / 3
    rho_med = float(np.median(rho))
    theta0 = -offsets / (beta * rho_med)
    matrix = float(np.median(rel[on & (cls == 0)]))
    reading = wrap(matrix - ks / 3)  # what the matrix reads with each candidate
    allowed = np.abs(np.abs(reading) - 1 / 3) < 1 / 6
    near = np.where(allowed, np.abs(theta0 - theta_med), np.inf)
    variant = _variant_from_spacing(cls, on, rho)
    dist = np.where(np.sign(reading) == variant, near, np.inf) if variant else near
    order = np.argsort(dist)
    step = 1 / (3 * abs(beta) * rho_med)
    # doubtful: the orientation prior alone is undecided, or it contradicts the spacing
    undecided = np.diff(np.sort(near)[:2])[0] < _DOUBT * step
    doubtful = _has_minority(cls, on) and (
        (undecided and not variant) or int(np.argmin(near)) != int(order[0])
    )
    return float(offsets[order[0]]), float(theta0[order[0]]), bool(doubtful)


def _fit_beta(u_r: np.ndarray, rt: np.ndarray) -> tuple[float, float, float]:
    """Slip coefficient maximising C(beta) on a 0.01 grid, refined twice: beta, C, phase."""
    best = (0.0, -1.0, 0.0)
    grid = _BETAS
    for step in (0.01, 0.001, 0.0001):
        for lo in range(0, grid.size, 64):
            b = grid[lo : lo + 64]
            c, ph = _coherence(u_r[None, :] - b[:, None] * rt[None, :])
            j = int(np.argmax(c))
            if c[j] > best[1]:
                best = (float(b[j]), float(c[j]), float(ph[j]))
        grid = best[0] + np.arange(-10, 11) * step / 10
    return best


def fit_slip(
    shift_raw: np.ndarray, theta: np.ndarray, rho: np.ndarray, *, tol: float = 0.12
) -> SlipFit:
    """Fit the registry drift ``beta * rho * (theta - theta0)`` of every gap (vectorised).

    Parameters
    ----------
    shift_raw : ndarray (M,)
        Measured shift of each column's upper layer, periods (NaN without).
    theta : ndarray (M,)
        Layer angle of each gap, rad (:func:`gap_angle`).
    rho : ndarray (M,)
        Interlayer spacing over in-plane period of each gap (d / a).
    tol : float
        Stacking tolerance (periods), used to tell an O3 matrix from an O1 one.

    Returns
    -------
    SlipFit
        ``drift`` per column (0 when the fit does not explain the registry better than
        no drift, or where undefined).
    """
    ok = np.isfinite(shift_raw) & np.isfinite(theta) & np.isfinite(rho)
    zero = np.zeros(shift_raw.shape)
    c_raw = float(_coherence(shift_raw[ok])[0]) if ok.sum() else float("nan")
    none = SlipFit(False, 0.0, float("nan"), c_raw, c_raw, False, zero)
    if ok.sum() < 20:
        return none
    r, th, rh = shift_raw[ok], theta[ok], rho[ok]
    beta, c_fit, phase = _fit_beta(r, rh * th)
    if not (c_fit - c_raw >= _MIN_GAIN and abs(beta) > 0.05):
        return none
    u = r - beta * rh * th
    offset, theta0, doubtful = _anchor(u, phase / (6 * np.pi), beta, rh, float(np.median(th)), tol)
    drift = zero.copy()
    drift[ok] = beta * rh * th + offset
    return SlipFit(True, beta, theta0, c_raw, c_fit, doubtful, drift)
