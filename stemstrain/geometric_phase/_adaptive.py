"""Adaptive GPA for large rotations, the orientation survey and grain segmentation.

A Gaussian mask centred on the reference g passes only the part of the image whose
local g lies within about ``sigma_g`` of it: in a lattice rotated by ``theta`` the
spot moves by ``|g| theta`` and the amplitude drops as ``exp(-(|g| theta)^2 / 2
sigma_g^2)``, so a bend of +-40 deg is lost outside a narrow band. Following Mahr et al.
(adaptive GPA: the demodulation follows the local g), the masks are re-centred on
rotated copies of the reference g-vectors, ``g_k = R(theta_k) g_ref``:

1. **survey**: the first g is demodulated (amplitude only, one small batched inverse
   FFT) at a fan of angles ``theta_k`` (step ``sigma_g / 2|g1|``) within the range that
   cannot reach another reflection. Per coarse pixel: the best angle (sub-step by a
   log-parabola), its amplitude, the amplitude at ``theta = 0`` and a crystalline mask
   (amplitude above 5 noise sigmas and above ``amp_frac`` of the crystal median);
2. **grains**: the best angles of the crystal are histogrammed; clusters of occupied
   angle bins separated by more than ``grain_gap_deg`` are different grains (a bend or a
   kink fills the angles in between, a grain boundary does not); connected components
   of each cluster larger than 2 % of the crystal are labelled;
3. **bank**: where a grain's angles spread beyond ``sigma_g / |g|max``, every g is
   demodulated at ``theta_k`` over that spread (step ``0.8 sigma_g / |g|max``); the phase
   gradient of mask k, relative to its own centre, is moved to the reference by
   ``+ 2 pi (g_k - g_ref)`` (exact: ``P_ref = P_k + 2 pi (g_k - g_ref).r``) and the masks
   are averaged with weights ``|h_k|^4`` (smooth hand-over between masks; for a locally
   plane lattice every mask gives the same gradient). The full tensor is then relative to
   the reference lattice everywhere, however far the lattice has turned.

References
----------
.. [1] C. Mahr, K. Mueller-Caspary, T. Grieb, F. F. Krause, M. Schowalter, A. Rosenauer,
   Ultramicroscopy 221, 113196 (2021), doi:10.1016/j.ultramic.2020.113196
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from .._backend import asnumpy
from ._core import Spectrum, _phasor

__all__ = [
    "rotate_g",
    "survey",
    "segment_grains",
    "bank_pass",
    "survey_range",
    "local_bank",
    "lattice_labels",
    "row_bank",
    "relabel",
]

_MAX_SURVEY_DEG = 50.0
_MIN_GRAIN_FRACTION = 0.02


def rotate_g(g_px: np.ndarray, theta: float) -> np.ndarray:
    """Rows (gx, gy) rotated by ``theta`` (rad, from +x towards +y in the array frame)."""
    c, s = np.cos(theta), np.sin(theta)
    g = np.asarray(g_px, dtype=np.float64)
    return np.stack([c * g[..., 0] - s * g[..., 1], s * g[..., 0] + c * g[..., 1]], axis=-1)


def survey_range(g_px: np.ndarray, sigma_px: float) -> tuple[float, float]:
    """Largest safe survey angle (rad) for the first g and the survey step (rad)."""
    g = np.asarray(g_px, dtype=float)
    g1 = float(np.hypot(*g[0]))
    m = np.arange(-4, 5)
    pts = (m[:, None, None] * g[0] + m[None, :, None] * g[1]).reshape(-1, 2)
    r = np.hypot(*pts.T)
    near = (np.abs(r - g1) < 3 * sigma_px) & (r > 1e-12)
    ang = np.degrees(np.arccos(np.clip(pts[near] @ g[0] / (r[near] * g1), -1, 1)))
    ang = ang[(ang > 1e-6) & (ang < 180 - 1e-6)]
    folded = np.minimum(ang, 180 - ang) if ang.size else np.array([180.0])
    limit = min(_MAX_SURVEY_DEG, 0.5 * float(folded.min()))
    return math.radians(limit), sigma_px / (2 * g1)


def survey(
    xp: ModuleType,
    sp: Spectrum,
    g_px: np.ndarray,
    sigma_px: float,
    s2: Any,
    amp_frac: float,
) -> dict:
    """Orientation survey of the first g (see module notes); host arrays on the coarse grid."""
    limit, step = survey_range(g_px, sigma_px)
    n_half = max(1, int(limit // step))
    angles = np.arange(-n_half, n_half + 1) * step
    gs = rotate_g(np.asarray(g_px)[0], angles[:, None]).reshape(-1, 2)
    hh, _ = sp.demodulate(xp, gs, sigma_px, grads=False)
    amp = asnumpy(xp.abs(hh)).astype(np.float64)
    k = np.argmax(amp, axis=0)
    best = np.take_along_axis(amp, k[None], 0)[0]
    lo = np.take_along_axis(amp, np.clip(k - 1, 0, len(angles) - 1)[None], 0)[0]
    hi = np.take_along_axis(amp, np.clip(k + 1, 0, len(angles) - 1)[None], 0)[0]
    la, lb, lc = (np.log(np.maximum(v, 1e-30)) for v in (lo, best, hi))
    den = la - 2 * lb + lc
    frac = np.where(
        (den < 0) & (k > 0) & (k < len(angles) - 1),
        0.5 * (la - lc) / np.where(den < 0, den, -1.0),
        0.0,
    )
    best_angle = angles[k] + np.clip(frac, -0.5, 0.5) * step
    amp0 = amp[n_half]
    noise_amp = (
        math.sqrt(s2 * math.pi * sigma_px**2)
        if np.isscalar(s2)
        else np.sqrt(np.asarray(asnumpy(s2)) * math.pi * sigma_px**2)
    )
    noise_amp = np.nan_to_num(noise_amp, nan=0.0)
    sig = best > 5 * noise_amp
    med = float(np.median(best[sig])) if sig.any() else float(np.median(best))
    crystal = sig & (best >= amp_frac * med)
    return {
        "angles": angles,
        "step": step,
        "limit": limit,
        "best_angle": best_angle,
        "best_amp": best,
        "amp0": amp0,
        "crystal": crystal,
        "k_best": k,
    }


def segment_grains(sv: dict, *, gap_deg: float) -> np.ndarray:
    """Grain labels (coarse grid, 0 = none) from the survey's orientation clusters."""
    from scipy import ndimage as ndi

    crystal, k = sv["crystal"], sv["k_best"]
    n_cr = int(crystal.sum())
    labels = np.zeros(crystal.shape, dtype=np.int32)
    if n_cr == 0:
        return labels
    counts = np.bincount(k[crystal], minlength=len(sv["angles"]))
    occupied = np.nonzero(counts >= max(3, 0.005 * n_cr))[0]
    if occupied.size == 0:
        occupied = np.array([int(np.argmax(counts))])
    gap_bins = max(1, int(math.ceil(math.radians(gap_deg) / sv["step"])))
    cluster_of_bin = np.full(len(sv["angles"]), -1)
    cid = 0
    for a, b in zip(occupied[:-1], occupied[1:], strict=True):
        cluster_of_bin[a] = cid
        if b - a > gap_bins:
            cid += 1
    cluster_of_bin[occupied[-1]] = cid
    # unoccupied bins join the nearest occupied bin's cluster
    near = occupied[np.argmin(np.abs(np.arange(len(counts))[:, None] - occupied[None]), axis=1)]
    cluster_of_bin = cluster_of_bin[near]
    pix_cluster = np.where(crystal, cluster_of_bin[k], -1)
    nxt = 1
    for c in range(cid + 1):
        if cid == 0:  # one orientation family: one grain, connected or not
            labels[pix_cluster == 0] = 1
            return labels
        comp, n = ndi.label(pix_cluster == c)
        sizes = np.bincount(comp.ravel(), minlength=n + 1)
        for j in np.argsort(sizes[1:])[::-1] + 1:
            if sizes[j] < _MIN_GRAIN_FRACTION * n_cr:
                break
            labels[comp == j] = nxt
            nxt += 1
    return labels


def bank_pass(
    xp: ModuleType,
    sp: Spectrum,
    g_ref: np.ndarray,
    sigma_px: float,
    span: tuple[float, float],
    theta_loc: np.ndarray,
) -> dict:
    """Demodulate every g at rotated mask centres over ``span`` (rad) (module notes).

    ``theta_loc`` (coarse grid, rad, relative to ``g_ref``) is the surveyed local
    orientation: mask k counts at a pixel with weight ``|h_k|^2 exp(-(|g| (theta_k -
    theta_loc))^2 / sigma_g^2)``, so a mask that has turned onto *another* reflection
    of the local lattice never contributes. Returns ``grad`` (n_g, 2, m_y, m_x) relative
    to ``g_ref``, ``amp`` (the best mask near the local g), ``phasor`` (unit exp(i P_g) of
    that mask, relative to ``g_ref``) and the angles.
    """
    g_ref = np.asarray(g_ref, dtype=np.float64)
    gnorm = np.hypot(g_ref[:, 0], g_ref[:, 1])
    step = 0.8 * sigma_px / float(gnorm.max())
    k_lo, k_hi = math.floor(span[0] / step) - 1, math.ceil(span[1] / step) + 1
    angles = np.arange(k_lo, k_hi + 1) * step
    loc = xp.asarray(np.asarray(theta_loc, dtype=np.float32))
    gn = xp.asarray((gnorm / sigma_px).astype(np.float32))[:, None, None]
    num = den = amp_best = phasor = None
    for theta in angles:
        g_k = rotate_g(g_ref, float(theta))
        hh, grad = sp.demodulate(xp, g_k, sigma_px)
        shift = xp.asarray((2 * math.pi * (g_k - g_ref)).astype(grad.dtype))
        grad += shift[:, :, None, None]
        amp = xp.abs(hh)
        off = (gn * (float(theta) - loc)[None]) ** 2  # (mask offset / sigma_g)^2 per g
        w = (amp * amp * xp.exp(-off)).astype(amp.dtype)
        near = xp.where(off < 1.0, amp, 0)
        ph = xp.stack([_phasor(xp, hh[i], sp.shape, g_k[i], g_ref[i]) for i in range(len(g_ref))])
        if num is None:
            num, den, amp_best, phasor = grad * w[:, None], w, near, ph
            continue
        num += grad * w[:, None]
        den += w
        better = near > amp_best
        amp_best = xp.where(better, near, amp_best)
        phasor = xp.where(better, ph, phasor)
    grad = num / (den[:, None] + xp.finfo(den.dtype).tiny)
    return {"grad": grad, "amp": amp_best, "phasor": phasor, "angles": angles}


def _fill_nearest(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill unknown cells (..., m_y, m_x): a plane fitted to the nearest known ring.

    Each unknown cell takes the value of a least-squares plane through the known cells
    of its neighbourhood (normalised Gaussian convolution of value, x- and y-moments, 6
    cells), so a smoothly changing local g (a bend, a slip shear) is extrapolated
    rather than frozen; cells with no known neighbour take the nearest known value.
    """
    from scipy import ndimage as ndi

    if known.all() or not known.any():
        return values
    m_y, m_x = known.shape
    yy, xx = np.mgrid[0:m_y, 0:m_x].astype(float)
    w = known.astype(float)
    sm = lambda a: ndi.gaussian_filter(a, 6.0, mode="nearest")  # noqa: E731
    s0, sx, sy = sm(w), sm(w * xx), sm(w * yy)
    sxx, syy, sxy = sm(w * xx * xx), sm(w * yy * yy), sm(w * xx * yy)
    flat = values.reshape(-1, m_y, m_x)
    out = flat.copy()
    idx = ndi.distance_transform_edt(~known, return_distances=False, return_indices=True)
    ok = (s0 > 1e-3) & ~known
    mat = np.stack(
        [
            np.stack([s0[ok], sx[ok], sy[ok]], -1),
            np.stack([sx[ok], sxx[ok], sxy[ok]], -1),
            np.stack([sy[ok], sxy[ok], syy[ok]], -1),
        ],
        -2,
    )
    with np.errstate(all="ignore"):
        inv = np.linalg.inv(mat + 1e-9 * np.eye(3))  # one 3x3 inverse per cell to fill
    xo, yo = xx[ok], yy[ok]
    for j, v in enumerate(flat):
        v0 = np.where(known, v, 0.0)
        rhs = np.stack([sm(w * v0)[ok], sm(w * v0 * xx)[ok], sm(w * v0 * yy)[ok]], -1)
        coef = np.einsum("nij,nj->ni", inv, rhs)
        fit = np.full(known.shape, np.nan)
        fit[ok] = coef[:, 0] + coef[:, 1] * xo + coef[:, 2] * yo
        fill = np.where(np.isfinite(fit), fit, v[idx[0], idx[1]])
        out[j] = np.where(known, v, fill)
    return out.reshape(values.shape)


def _centre_grid(pts: np.ndarray, sigma_px: float, max_centres: int) -> np.ndarray:
    """Occupied cells of a grid (spacing 0.8 sigma_g, coarser if needed) over points (n, 2)."""
    spacing = 0.8 * sigma_px
    pts = np.asarray(pts, dtype=np.float64)
    while True:
        cells = np.round(pts / spacing).astype(np.int64)
        lo = cells.min(axis=0)
        span = int(cells[:, 1].max() - lo[1]) + 1
        key = np.unique((cells[:, 0] - lo[0]) * span + (cells[:, 1] - lo[1]))  # 1-D: fast
        cells = np.stack([key // span + lo[0], key % span + lo[1]], -1)
        if len(cells) <= max_centres:
            return cells * spacing
        pts, spacing = cells * spacing, spacing * 1.25  # coarsen the occupied cells only


def local_bank(
    xp: ModuleType,
    sp: Spectrum,
    g_ref: np.ndarray,
    sigma_px: float,
    g_loc: np.ndarray,
    known: np.ndarray,
    max_centres: int = 48,
) -> dict:
    """Masks centred on the measured local g field (the iteration of adaptive GPA).

    ``g_loc`` (n_g, 2, m_y, m_x, cycles/px) is the local g of a previous pass, trusted
    where ``known``; elsewhere the nearest known value is used. For each g, mask centres
    are the occupied cells of a grid of spacing 0.8 sigma_g over the local-g cloud (so
    both rotation and spacing changes are followed); each pixel averages the masks with
    weights ``|h_k|^2 exp(-|c_k - g_loc|^2 / sigma_g^2)``.
    """
    g_ref = np.asarray(g_ref, dtype=np.float64)
    g_loc = _fill_nearest(np.asarray(g_loc, dtype=np.float64), known)
    n_g, _, m_y, m_x = g_loc.shape
    rd = sp.rdtype
    grad_out = xp.zeros((n_g, 2, m_y, m_x), dtype=rd)
    amp_out = xp.zeros((n_g, m_y, m_x), dtype=rd)
    ph_out = xp.zeros((n_g, m_y, m_x), dtype=sp.cdtype)
    n_centres = []
    for i in range(n_g):
        pts = g_loc[i][:, known].T if known.any() else g_ref[i][None]
        centres = _centre_grid(pts, sigma_px, max_centres)
        n_centres.append(len(centres))
        gl = xp.asarray(g_loc[i].astype(np.float32))
        num = den = best = None
        for c0 in range(0, len(centres), 8):
            cs = centres[c0 : c0 + 8]
            hh, grad = sp.demodulate(xp, cs, sigma_px)
            grad += xp.asarray((2 * math.pi * (cs - g_ref[i])).astype(grad.dtype))[:, :, None, None]
            amp = xp.abs(hh)
            cd = xp.asarray(cs.astype(np.float32))
            off = (
                (cd[:, 0, None, None] - gl[0][None]) ** 2
                + (cd[:, 1, None, None] - gl[1][None]) ** 2
            ) / sigma_px**2
            w = (amp * amp * xp.exp(-off)).astype(amp.dtype)
            near = xp.where(off < 1.0, amp, 0)
            num_c = (grad * w[:, None]).sum(axis=0)
            den_c = w.sum(axis=0)
            k = xp.argmax(near, axis=0)
            best_c = xp.take_along_axis(near, k[None], 0)[0]
            ph_all = xp.stack(
                [_phasor(xp, hh[j], sp.shape, cs[j], g_ref[i]) for j in range(len(cs))]
            )
            ph_c = xp.take_along_axis(ph_all, k[None], 0)[0]
            if num is None:
                num, den, best, ph = num_c, den_c, best_c, ph_c
                continue
            num, den = num + num_c, den + den_c
            better = best_c > best
            best = xp.where(better, best_c, best)
            ph = xp.where(better, ph_c, ph)
        grad_out[i] = num / (den[None] + xp.finfo(den.dtype).tiny)
        amp_out[i] = best
        ph_out[i] = ph
    return {"grad": grad_out, "amp": amp_out, "phasor": ph_out, "n_centres": n_centres}


def _resolved(
    g_loc: np.ndarray, known: np.ndarray, i: int, first: int, limit: float, span: float
) -> np.ndarray:
    """Return the cells where the lattice is resolved.

    The change of the local g_first and of g_i (modulo g_first) over ``span`` cells (one
    resolution: the sum of that many neighbour differences, so white noise partly
    cancels and a systematic turn or slip adds up) must stay below ``limit``; cells
    within ``span / 2`` of a change that does not are unresolved (a kink band or a
    stacking-fault edge, where g turns or slips within a resolution).
    """
    from scipy import ndimage as ndi

    n = max(1, int(round(span)))
    bad = np.zeros(known.shape, dtype=bool)
    for axis in (0, 1):
        lo = tuple(slice(None, -1) if a == axis else slice(None) for a in range(2))
        hi = tuple(slice(1, None) if a == axis else slice(None) for a in range(2))
        both = known[lo] & known[hi]
        g1m = 0.5 * (g_loc[first][(slice(None),) + lo] + g_loc[first][(slice(None),) + hi])
        nm = np.maximum(g1m[0] ** 2 + g1m[1] ** 2, 1e-30)
        d1 = np.diff(g_loc[first], axis=axis + 1)
        di = np.diff(g_loc[i], axis=axis + 1)
        di = di - np.round((di[0] * g1m[0] + di[1] * g1m[1]) / nm) * g1m
        change = 0.0
        for d in (d1, di):
            d = np.where(both, d, 0.0)
            tot = ndi.uniform_filter1d(d, n, axis=axis + 1, mode="constant") * n
            change = np.maximum(change, np.hypot(*tot))
        jump = change > limit
        bad[lo] |= jump
        bad[hi] |= jump
    r = max(1, int(round(span / 2)))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return ~ndi.binary_dilation(bad & known, structure=yy**2 + xx**2 <= r * r) & known


def lattice_labels(
    g_loc: np.ndarray,
    known: np.ndarray,
    ref: np.ndarray,
    g_ref: np.ndarray,
    first: int = 0,
    limit: float = np.inf,
    span: float = 1.0,
) -> tuple:
    """Integer m_i per cell such that ``g_i - m_i g_first`` is continuous from the reference.

    Under a slip shear (layers sliding over each other) every in-plane reflection moves
    along the layer normal ``g_first``; the lattice is the same when ``g_i`` has moved by
    a whole ``g_first``, so a mask that follows a nearby reflection labels ``g_i + m
    g_first`` as ``g_i``. The component ``c = g_i . g1 / |g1|^2`` (local g1) is known
    only modulo 1: ``2 pi c`` is phase-unwrapped (quality-guided,
    ``skimage.restoration.unwrap_phase``, Herraez et al. 2002) over the cells where the
    lattice is resolved (local g changing by < ``limit``, cycles/px, over ``span`` cells,
    one resolution), each connected part separately. The part with the reference is anchored so that
    the reference reads its own ``c`` (m = 0 there); the other parts, nearest first, and
    finally the unresolved cells take the integer offset that matches a plane fitted to
    the cells already placed (so a smooth slip is followed across a gap, and a kink
    band, which slips by a period within a resolution, is not unwrapped through: the
    far side keeps the least-sheared reading of its lattice). g vectors (anti)parallel
    to ``g_first`` are never relabelled. ``g_loc`` (n_g, 2, m_y, m_x).

    Returns ``m`` (n_g, m_y, m_x), the resolved cells and the cells of the reference's
    resolved part (those placed by continuity; the rest by the plane-fit rule).
    """
    n_g = g_loc.shape[0]
    m = np.zeros((n_g,) + known.shape, dtype=np.int64)
    resolved, anchored = known.copy(), known.copy()
    g_ref = np.asarray(g_ref, dtype=np.float64)
    g1 = g_loc[first]
    n1 = np.maximum(g1[0] ** 2 + g1[1] ** 2, 1e-30)
    r1 = g_ref[first]
    for i in range(n_g):
        cross = abs(g_ref[i, 0] * r1[1] - g_ref[i, 1] * r1[0])
        if i == first or cross < 1e-3 * float(np.hypot(*g_ref[i]) * np.hypot(*r1)):
            continue
        c = (g_loc[i, 0] * g1[0] + g_loc[i, 1] * g1[1]) / n1
        c = np.where(known & np.isfinite(c), c, 0.0)
        ok = _resolved(g_loc, known, i, first, limit, span)
        c_ref = float(g_ref[i] @ r1 / (r1 @ r1))
        placed, part = _unwrap_parts(c, ok, ref, c_ref)
        m[i] = np.where(known, np.round(c - placed), 0).astype(np.int64)
        resolved &= ok
        anchored &= part
    return m, resolved, anchored


def _unwrap_parts(c: np.ndarray, ok: np.ndarray, ref: np.ndarray, c_ref: float) -> tuple:
    """Continuous c: parts of ``ok`` unwrapped, placed one by one against a plane fit.

    Returns the continuous c and the mask of the first (reference) part.
    """
    from scipy import ndimage as ndi
    from skimage.restoration import unwrap_phase

    out = c.copy()
    lab, n_parts = ndi.label(ok)
    if n_parts == 0:
        return out, ok
    phase = np.angle(np.exp(2j * np.pi * c))
    unw = np.asarray(unwrap_phase(np.ma.masked_array(phase, mask=~ok), rng=0).filled(0.0))
    unw /= 2 * np.pi
    sizes = np.bincount(lab.ravel(), minlength=n_parts + 1)
    big = [p for p in range(1, n_parts + 1) if sizes[p] >= 16]
    hits = np.bincount(lab[ref & ok], minlength=n_parts + 1)
    first = int(np.argmax(hits)) if hits[1:].any() else int(np.argmax(sizes[1:]) + 1)
    sel = lab == first
    anchor = sel & ref if (sel & ref).any() else sel
    out[sel] = unw[sel] - np.round(np.median(unw[anchor]) - c_ref)
    placed, part = sel.copy(), sel
    todo = [p for p in big if p != first]
    while todo:
        pred = _fill_nearest(np.where(placed, out, 0.0)[None], placed)[0]
        dist = ndi.distance_transform_edt(~placed)
        p = min(todo, key=lambda q: float(dist[lab == q].min()))
        todo.remove(p)
        sel = lab == p
        near = sel & (dist <= float(dist[sel].min()) + 6)
        out[sel] = unw[sel] - np.round(np.median(unw[near] - pred[near]))
        placed |= sel
    if not placed.all():
        pred = _fill_nearest(np.where(placed, out, 0.0)[None], placed)[0]
        rest = ~placed
        out[rest] = c[rest] - np.round(c[rest] - pred[rest])
    return out, part


def relabel(
    xp: ModuleType,
    m: np.ndarray,
    grad: Any,
    phasor: Any,
    g_ref: np.ndarray,
    shape: tuple[int, int],
    first: int = 0,
) -> tuple[Any, Any]:
    """Phase gradients and phasors of ``g_i - m_i g_first`` from those of ``g_i``.

    ``P_cont = P_i - m P_first - 2 pi m g_ref,first . r`` (phases relative to their own
    reference g), so ``grad P_cont = grad P_i - m (grad P_first + 2 pi g_ref,first)``.
    """
    g_ref = np.asarray(g_ref, dtype=np.float64)
    if not m.any():
        return grad, phasor
    _, m_y, m_x = m.shape
    md = xp.asarray(m.astype(np.float32))
    r1 = g_ref[first]
    g1_grad = grad[first] + xp.asarray((2 * math.pi * r1).astype(np.float32))[:, None, None]
    grad = grad - md[:, None] * g1_grad[None].astype(grad.dtype)
    ry = np.arange(m_y) * (shape[0] / m_y)
    rx = np.arange(m_x) * (shape[1] / m_x)
    ramp = np.exp(-2j * np.pi * (r1[1] * ry[:, None] + r1[0] * rx[None, :]))
    base = phasor[first] * xp.asarray(ramp.astype(np.complex64)).astype(phasor.dtype)
    # integer powers of the unit phasor, per cell: exp(-i m arg(base))
    ang = xp.angle(base)
    phasor = phasor * xp.exp(-1j * md * ang[None]).astype(phasor.dtype)
    return grad, phasor


def row_bank(
    xp: ModuleType,
    sp: Spectrum,
    g_loc: np.ndarray,
    known: np.ndarray,
    g_ref: np.ndarray,
    sigma_px: float,
    *,
    index: int,
    first: int = 0,
    max_centres: int = 96,
) -> tuple[Any, Any, Any]:
    """Demodulate the strongest reflection of the row ``g_i + s g_first`` (``|s| <= 1/2``) per cell.

    Masks are laid on a grid over the local rows (previous local ``g_i`` plus up to half
    a ``g_first`` either way); each cell takes the phase gradient of the *one* mask of
    largest amplitude within ``sigma_g`` of its row (no averaging, so a cell never mixes
    two reflections of the row: its ``g_i`` is exact up to a whole ``g_first``, which
    :func:`lattice_labels` then restores). Returns ``grad`` (2, m_y, m_x) relative to
    ``g_ref[index]``, the amplitude and the phasor.
    """
    g_ref = np.asarray(g_ref, dtype=np.float64)
    g_loc = _fill_nearest(np.asarray(g_loc, dtype=np.float64), known)
    gi, g1 = g_loc[index], g_loc[first]
    sel = known if known.any() else np.ones(known.shape, dtype=bool)
    s_fan = np.linspace(-0.5, 0.5, 5)[:, None, None]
    pts = (gi[:, sel][None] + s_fan * g1[:, sel][None]).transpose(0, 2, 1).reshape(-1, 2)
    centres = _centre_grid(pts, sigma_px, max_centres)
    gid, g1d = (xp.asarray(v.astype(np.float32)) for v in (gi, g1))
    n1 = g1d[0] ** 2 + g1d[1] ** 2
    best = grad_out = ph_out = None
    for c0 in range(0, len(centres), 8):
        cs = centres[c0 : c0 + 8]
        hh, grad = sp.demodulate(xp, cs, sigma_px)
        grad += xp.asarray((2 * math.pi * (cs - g_ref[index])).astype(grad.dtype))[:, :, None, None]
        cd = xp.asarray(cs.astype(np.float32))
        dx, dy = cd[:, 0, None, None] - gid[0][None], cd[:, 1, None, None] - gid[1][None]
        along = (dx * g1d[0] + dy * g1d[1]) / n1
        perp2 = dx * dx + dy * dy - along * along * n1
        ok = (perp2 < sigma_px**2) & (xp.abs(along) <= 0.6)
        score = xp.where(ok, xp.abs(hh), 0)
        k = xp.argmax(score, axis=0)
        best_c = xp.take_along_axis(score, k[None], 0)[0]
        grad_c = xp.take_along_axis(grad, k[None, None], 0)[0]
        ph_all = xp.stack(
            [_phasor(xp, hh[j], sp.shape, cs[j], g_ref[index]) for j in range(len(cs))]
        )
        ph_c = xp.take_along_axis(ph_all, k[None], 0)[0]
        if best is None:
            best, grad_out, ph_out = best_c, grad_c, ph_c
            continue
        better = best_c > best
        best = xp.where(better, best_c, best)
        grad_out = xp.where(better[None], grad_c, grad_out)
        ph_out = xp.where(better, ph_c, ph_out)
    return grad_out, best, ph_out
