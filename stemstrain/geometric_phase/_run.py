"""The GPA pipeline on the coarse grid: survey, grains, per-grain reference, adaptive bank.

Everything here works on the coarse grid of the windowed demodulation (a few hundred
samples across, identical for every g and every grain because it depends on the mask
width only); the full-size maps are produced once at the end by :func:`upsample_all`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

import numpy as np

from .._backend import asnumpy
from .._strain import layer_normal
from ._adaptive import (
    bank_pass,
    lattice_labels,
    local_bank,
    relabel,
    rotate_g,
    row_bank,
    segment_grains,
    survey,
)
from ._core import (
    MAP_NAMES,
    Spectrum,
    _phasor,
    coarse_strain,
    lowres_shape,
    reference_pass,
)
from ._precision import coarse_sigma, poisson_factor

__all__ = ["RunOptions", "run_gpa", "least_distorted", "combine", "to_full_nearest", "to_grid"]

#: adaptive when more than this fraction of a grain turns beyond the mask's reach
_ADAPT_FRACTION = 0.02
#: passes of masks centred on the local g field after the rotated bank
_LOCAL_ITERATIONS = 1
#: the lattice counts as resolved where the local g changes by less than this many sigma_g
#: (the mask width) over one resolution; slip is unwrapped through resolved cells only.
#: Chosen on the generator (seed 1): a 20-deg kink band changes by up to ~4.6 sigma_g,
#: a slipping bend R = 15 nm by 0.2 (median) to 0.5 (p90); limits 0.5 ... 1.5 all gave
#: exact maps on kink, bend_r15/r30 and o1_bend at 256^2-1024^2, 2.0 unwrapped the kink
_RESOLVED_SIGMAS = 1.0
#: a grain's interior (edge band removed) must be at least this fraction of the crystal
_MIN_GRAIN_CORE = 0.02


@dataclass(frozen=True)
class RunOptions:
    """Options of one GPA run (validated by :func:`stemstrain.gpa.gpa`)."""

    amp_frac: float = 0.3
    refine: bool = True
    adaptive: Any = "auto"
    grains: Any = "auto"
    grain_gap_deg: float = 15.0
    normal_index: int = 0
    auto_size_px: int | None = None
    mean_intensity: float = 0.0
    poisson_fraction: float = 0.0
    relabel: bool = True
    notes: list = field(default_factory=list)


def _grid_positions(n_full: int, m: int) -> np.ndarray:
    return np.minimum(np.round(np.arange(m) * n_full / m).astype(int), n_full - 1)


def to_grid(mask: np.ndarray, m_y: int, m_x: int) -> np.ndarray:
    """Nearest-sample a full-size (host) array onto the coarse grid."""
    h, w = mask.shape
    return mask[_grid_positions(h, m_y)[:, None], _grid_positions(w, m_x)[None, :]]


def to_full_nearest(
    coarse: np.ndarray, shape: tuple[int, int], at: tuple | None = None
) -> np.ndarray:
    """Coarse (host) array to full size by the nearest coarse sample of each pixel.

    ``at`` = (rows, cols) pixel indices: only those pixels (their outer product grid).
    """
    m_y, m_x = coarse.shape
    rows, cols = (np.arange(shape[0]), np.arange(shape[1])) if at is None else at
    ry = np.minimum(np.round(rows * m_y / shape[0]).astype(int) % m_y, m_y - 1)
    rx = np.minimum(np.round(cols * m_x / shape[1]).astype(int) % m_x, m_x - 1)
    return np.take(np.take(np.asarray(asnumpy(coarse)), ry, axis=0), rx, axis=1)


def border_cells(shape: tuple[int, int], sigma_px: float, m_y: int, m_x: int) -> np.ndarray:
    """Coarse mask, False within 3.5 kernel sigmas of the image border (reference use)."""
    b = int(math.ceil(3.5 / (2 * math.pi * sigma_px)))
    h, w = shape
    if 2 * b >= min(h, w) - 4:
        return np.ones((m_y, m_x), dtype=bool)
    ry, rx = _grid_positions(h, m_y), _grid_positions(w, m_x)
    return ((ry >= b) & (ry < h - b))[:, None] & ((rx >= b) & (rx < w - b))[None, :]


def erode_band(xp: ModuleType, valid: Any, shape: tuple[int, int], sigma_px: float) -> Any:
    """Drop a band of 2 kernel sigmas along every crystal edge (surface, vacuum, grain).

    The same band as at the image border: within it the Bragg image mixes the crystal
    with its surroundings and the phase is biased (errors > 1e-2). Small holes (a
    dislocation core's amplitude dip, smaller than the band's disk) do not erode; image
    edges are handled by the border band.
    """
    from scipy import ndimage as ndi

    host = np.asarray(asnumpy(valid), dtype=bool)
    m_y = host.shape[0]
    cells = int(math.ceil((2.0 / (2 * math.pi * sigma_px)) * m_y / shape[0]))
    if cells < 1 or host.all():
        return valid
    lab, n = ndi.label(~host)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    big = sizes > math.pi * cells**2
    big[0] = False
    yy, xx = np.mgrid[-cells : cells + 1, -cells : cells + 1]
    near = ndi.binary_dilation(big[lab], structure=yy**2 + xx**2 <= cells**2)
    return xp.asarray(host & ~near)


def continuous_part(g_loc: np.ndarray, resolved: np.ndarray, sigma_px: float) -> np.ndarray:
    """Return the resolved cells consistent with their part (no jump of the local g).

    A jump of more than a mask width (sigma_g) between neighbouring resolved cells means
    the demodulation switched to another reflection there (g2 -> g2 + g1 under a slip
    shear) without the relabelling catching it. Within each connected part of the
    resolved cells, jump-bounded pieces other than the largest are returned False (the
    check: ~0 when every cell is on the continuous lattice; a kink band or a grain
    boundary is unresolved, not a jump).
    """
    from scipy import ndimage as ndi

    jump = np.zeros(resolved.shape, dtype=bool)
    for axis in (0, 1):
        d = np.hypot(*np.diff(g_loc, axis=axis + 2).transpose(1, 0, 2, 3)).max(axis=0)
        cut = d > sigma_px
        both = resolved[1:] & resolved[:-1] if axis == 0 else resolved[:, 1:] & resolved[:, :-1]
        cut &= both
        if axis == 0:
            jump[1:] |= cut
            jump[:-1] |= cut
        else:
            jump[:, 1:] |= cut
            jump[:, :-1] |= cut
    parts, n = ndi.label(resolved)
    pieces, _ = ndi.label(resolved & ~jump)
    keep = np.zeros(resolved.shape, dtype=bool)
    for p in range(1, n + 1):
        ids = pieces[(parts == p) & (pieces > 0)]
        if ids.size:
            keep |= pieces == np.bincount(ids).argmax()
    return keep | ~resolved


def _row_indices(g_ref: np.ndarray, first: int) -> list:
    """Return the indices of the g not (anti)parallel to ``g_ref[first]`` (a slip moves them)."""
    g = np.asarray(g_ref, dtype=float)
    r1 = g[first]
    cross = np.abs(g[:, 0] * r1[1] - g[:, 1] * r1[0])
    return [i for i in range(len(g)) if cross[i] > 1e-3 * np.hypot(*g[i]) * np.hypot(*r1)]


def _local_g(g_ref: np.ndarray, grad: Any) -> np.ndarray:
    """Local g (n_g, 2, m_y, m_x, cycles/px, host) from phase gradients relative to g_ref."""
    return np.asarray(g_ref)[:, :, None, None] + np.asarray(asnumpy(grad), dtype=np.float64) / (
        2 * math.pi
    )


def least_distorted(maps: np.ndarray, valid: np.ndarray, k: int) -> tuple | None:
    """Top-left (i, j) of the k x k window, fully valid, of least summed local variance."""
    from scipy import ndimage as ndi

    k = int(max(1, k))
    frac = ndi.uniform_filter(valid.astype(float), k, mode="constant")
    score = np.zeros(valid.shape)
    for m in maps:
        v = np.where(valid, m, 0.0)
        mean = ndi.uniform_filter(v, k, mode="constant")
        mean2 = ndi.uniform_filter(v * v, k, mode="constant")
        score += np.maximum(mean2 - mean * mean, 0.0)
    half = k // 2
    ok = frac >= 0.999
    ok[:half, :] = False
    ok[:, :half] = False
    tail = k - half - 1
    if tail > 0:
        ok[-tail:, :] = False
        ok[:, -tail:] = False
    if not ok.any():
        return None
    score = np.where(ok, score, np.inf)
    i, j = np.unravel_index(int(np.argmin(score)), score.shape)
    return int(i - half), int(j - half)


def _grain_pass(
    xp: ModuleType,
    sp: Spectrum,
    g0: np.ndarray,
    sigma_px: float,
    ref_small: np.ndarray,
    grain: np.ndarray,
    sv: dict | None,
    theta: float,
    s2: Any,
    opt: RunOptions,
) -> dict | None:
    """Run the reference pass, adaptive bank, coarse maps and sigmas of one grain."""
    res = reference_pass(
        xp, sp, g0, sigma_px, xp.asarray(ref_small), amp_frac=opt.amp_frac, refine=opt.refine
    )
    if res is None:
        return None
    g_ref, amp, grad = res["g_ref"], res["amp"], res["grad"]
    phasor = xp.stack(
        [_phasor(xp, res["hh"][i], sp.shape, res["g_in"][i], g_ref[i]) for i in range(len(g_ref))]
    )
    span = (0.0, 0.0)
    jump_frac = bridged = 0.0
    adapt = opt.adaptive is True and sv is not None
    if sv is not None and opt.adaptive is not False:
        inner = grain & sv["crystal"] & border_cells(sp.shape, sigma_px, *grain.shape)
        d = (sv["best_angle"] - theta)[inner]
        reach = sigma_px / float(np.hypot(g_ref[:, 0], g_ref[:, 1]).max())
        if d.size:
            span = (float(min(np.percentile(d, 1), 0.0)), float(max(np.percentile(d, 99), 0.0)))
            adapt = adapt or float(np.mean(np.abs(d) > reach)) > _ADAPT_FRACTION
    thr = xp.asarray((res["ref_amp"] * opt.amp_frac).astype(amp.dtype))[:, None, None]
    if adapt:
        b = bank_pass(xp, sp, g_ref, sigma_px, span, sv["best_angle"] - theta)
        grad, amp, phasor = b["grad"], b["amp"], b["phasor"]
        for _ in range(_LOCAL_ITERATIONS):  # masks re-centred on the measured local g
            known = np.asarray(asnumpy((amp >= thr).all(axis=0))) & grain
            g_loc = np.asarray(g_ref)[:, :, None, None] + np.asarray(
                asnumpy(grad), dtype=np.float64
            ) / (2 * math.pi)
            rows = _row_indices(g_ref, opt.normal_index) if opt.relabel else []
            own = [i for i in range(len(g_ref)) if i not in rows]  # rows: the row bank's
            b = local_bank(xp, sp, g_ref[own], sigma_px, g_loc[own], known)
            for j, i in enumerate(own):
                grad[i], amp[i], phasor[i] = b["grad"][j], b["amp"][j], b["phasor"][j]
        if opt.relabel:
            grad, amp, phasor, jump_frac, bridged = _slip_pass(
                xp, sp, g_ref, sigma_px, (grad, amp, phasor), thr, grain, ref_small, opt
            )
    valid = erode_band(xp, (amp >= thr).all(axis=0) & xp.asarray(grain), sp.shape, sigma_px)
    nvec = layer_normal(g_ref[opt.normal_index])
    fac = poisson_factor(xp, sp, g_ref, sigma_px, phasor, opt.mean_intensity, opt.poisson_fraction)
    return {
        "coarse": coarse_strain(xp, grad, g_ref, amp, nvec),
        "sigma": coarse_sigma(xp, amp, g_ref, s2, sigma_px, nvec, fac),
        "amp": amp,
        "phasor": phasor,
        "valid": valid,
        "g_ref": g_ref,
        "normal": nvec,
        "adaptive": bool(adapt),
        "span_deg": tuple(math.degrees(v) for v in span),
        "jump_fraction": jump_frac,
        "bridged_fraction": bridged,
    }


def _slip_pass(
    xp: ModuleType,
    sp: Spectrum,
    g_ref: np.ndarray,
    sigma_px: float,
    bank: tuple,
    thr: Any,
    grain: np.ndarray,
    ref_small: Any,
    opt: RunOptions,
) -> tuple:
    """Follow a slip shear: one clean row reflection per cell, then g2 -> g2 - m g1.

    ``bank`` = (grad, amp, phasor) of the local-g pass. Returns them relabelled, the
    g-jump fraction (resolved cells inconsistent with their part: the check, ~0) and the
    bridged fraction (cells placed across an unresolved band by the plane-fit rule).
    """
    grad, amp, phasor = bank
    known = np.asarray(asnumpy((amp >= thr).all(axis=0))) & grain
    g_loc = _local_g(g_ref, grad)
    for i in _row_indices(g_ref, opt.normal_index):  # one clean reflection per cell
        grad[i], amp[i], phasor[i] = row_bank(
            xp, sp, g_loc, known, g_ref, sigma_px, index=i, first=opt.normal_index
        )
    known = np.asarray(asnumpy((amp >= thr).all(axis=0))) & grain
    res_cells = (0.3748 / sigma_px) * grain.shape[0] / sp.shape[0]
    labels_m, resolved, anchored = lattice_labels(
        _local_g(g_ref, grad),
        known,
        np.asarray(asnumpy(ref_small)),
        g_ref,
        opt.normal_index,
        _RESOLVED_SIGMAS * sigma_px,  # local g change over one resolution
        res_cells,
    )
    grad, phasor = relabel(xp, labels_m, grad, phasor, g_ref, sp.shape, opt.normal_index)
    cont = continuous_part(_local_g(g_ref, grad), resolved & known, sigma_px)
    n_known = max(int(known.sum()), 1)
    jump = float((known & ~cont).sum() / n_known)
    return grad, amp, phasor, jump, float((known & ~anchored).sum() / n_known)


def _auto_reference(xp, sp, g0, sigma_px, base, grain, sv, theta, s2, opt):
    """Least-distorted window of a grain: a first pass on the grain, then the window."""
    quick = replace(opt, relabel=False)  # the window choice needs no slip relabelling
    first = _grain_pass(xp, sp, g0, sigma_px, base, grain, sv, theta, s2, quick)
    if first is None:
        return base, None
    h, w = sp.shape
    m_y, m_x = base.shape
    step = h / m_y
    res_px = 0.3748 / sigma_px
    size_px = opt.auto_size_px or int(max(min(h, w) // 4, 4 * res_px))
    valid = np.asarray(asnumpy(first["valid"])) & base
    maps = np.asarray(asnumpy(first["coarse"][:4]), dtype=float)
    k = int(math.ceil(size_px / step))
    k_min = max(2, int(math.ceil(2 * res_px / step)))
    while k >= k_min:
        ij = least_distorted(maps, valid, k)
        if ij is not None:
            win = np.zeros_like(base)
            win[ij[0] : ij[0] + k, ij[1] : ij[1] + k] = True
            box = (
                int(round(ij[0] * step)),
                int(round((ij[0] + k) * step)),
                int(round(ij[1] * w / m_x)),
                int(round((ij[1] + k) * w / m_x)),
            )
            return win & base, box
        k = k // 2 if k // 2 >= k_min or k == k_min else k_min
    return base, None


def run_gpa(  # noqa: PLR0915
    xp: ModuleType,
    sp: Spectrum,
    g_px: np.ndarray,
    sigma_px: float,
    region: Any,
    s2: Any,
    opt: RunOptions,
) -> dict:
    """Survey, grains and per-grain passes; coarse results combined over grains."""
    shape = sp.shape
    _, _, m_y, m_x = lowres_shape(shape, sigma_px)
    use_survey = opt.adaptive is not False or isinstance(opt.grains, str)
    sv = survey(xp, sp, g_px, sigma_px, s2, opt.amp_frac) if use_survey else None
    crystal = sv["crystal"] if sv is not None else np.ones((m_y, m_x), dtype=bool)
    if isinstance(opt.grains, np.ndarray):
        labels = to_grid(opt.grains, m_y, m_x).astype(np.int32)
    elif isinstance(opt.grains, str) and sv is not None:
        labels = segment_grains(sv, gap_deg=opt.grain_gap_deg)
    else:
        labels = np.ones((m_y, m_x), dtype=np.int32)
    ids = [int(v) for v in np.unique(labels) if v > 0]
    if len(ids) > 1:  # a grain must keep an analysable interior once its edge band is dropped
        core = {
            i: int(np.asarray(erode_band(np, (labels == i) & crystal, shape, sigma_px)).sum())
            for i in ids
        }
        keep = [i for i in ids if core[i] >= _MIN_GRAIN_CORE * max(int(crystal.sum()), 1)]
        labels = np.where(np.isin(labels, keep), labels, 0)
        ids = keep
    if not ids:  # no crystal found by the survey: one grain over the image, as before
        labels, ids, crystal = np.ones((m_y, m_x), np.int32), [1], np.ones((m_y, m_x), bool)
    edge = border_cells(shape, sigma_px, m_y, m_x)
    user_ref = None
    if isinstance(region, np.ndarray):
        from ._core import reference_grid

        user_ref = np.asarray(asnumpy(reference_grid(xp, region, sigma_px)))
    if user_ref is not None and not (user_ref & (labels > 0)).any():
        return {
            "grains": [],
            "failed": ids,
            "labels": labels,
            "crystal": crystal,
            "survey": sv,
            "grid": (m_y, m_x),
        }
    grains, failed = [], []
    for gid in ids:
        grain = labels == gid
        theta = (
            float(np.median(sv["best_angle"][grain & crystal]))
            if (sv is not None and (grain & crystal).any() and len(ids) > 1)
            else 0.0
        )
        g0 = rotate_g(g_px, theta) if theta else np.asarray(g_px, dtype=float)
        base = grain & crystal & edge
        if base.sum() < 4:
            base = grain & crystal if (grain & crystal).sum() >= 4 else grain
        box, ref_kind = (
            None,
            "grain" if len(ids) > 1 else ("crystal" if sv is not None else "whole image"),
        )
        if user_ref is not None and (user_ref & grain).any():
            ref, ref_kind = user_ref & grain, "given"
        elif isinstance(region, str) or user_ref is not None:
            ref, box = _auto_reference(xp, sp, g0, sigma_px, base, grain, sv, theta, s2, opt)
            ref_kind = "auto" if box is not None else "grain (no undistorted window)"
            if box is not None and sv is not None and (ref & crystal).any():
                theta = float(np.median(sv["best_angle"][ref & crystal]))  # local g there
                g0 = rotate_g(g_px, theta)
            if user_ref is not None:
                opt.notes.append(
                    f"grain {gid} does not contain the given reference; it is "
                    "measured against its own least-distorted region"
                )
        else:
            ref = base
        out = _grain_pass(xp, sp, g0, sigma_px, ref, grain, sv, theta, s2, opt)
        if out is None:
            failed.append(gid)
            continue
        out.update(
            {
                "label": gid,
                "theta": theta,
                "reference_box": box,
                "reference_kind": ref_kind,
                "n_cells": int(grain.sum()),
                "ref_small": ref,
            }
        )
        grains.append(out)
    return {
        "grains": grains,
        "failed": failed,
        "labels": labels,
        "crystal": crystal,
        "survey": sv,
        "grid": (m_y, m_x),
    }


def combine(xp: ModuleType, run: dict) -> dict:
    """Per-grain coarse arrays merged into one set (each cell from its own grain)."""
    grains = run["grains"]
    main = max(grains, key=lambda g: g["n_cells"])
    coarse = xp.zeros_like(main["coarse"])
    sigma = xp.zeros_like(main["sigma"])
    amp, phasor = main["amp"].copy(), main["phasor"].copy()
    valid = xp.zeros(main["valid"].shape, dtype=bool)
    for g in grains:
        sel = g["valid"]
        coarse = xp.where(sel[None], g["coarse"], coarse)
        sigma = xp.where(sel[None], g["sigma"], sigma)
        inside = xp.asarray(run["labels"] == g["label"])
        amp = xp.where(inside[None], g["amp"], amp)
        phasor = xp.where(inside[None], g["phasor"], phasor)
        valid |= sel
    sigma = xp.where(valid[None] & xp.isfinite(sigma), sigma, 0)
    return {
        "coarse": coarse,
        "sigma": sigma,
        "amp": amp,
        "phasor": phasor,
        "valid": valid,
        "main": main,
        "names": MAP_NAMES,
    }
