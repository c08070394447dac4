"""Exact truth of the realistic generator cases for GPA maps, relative to GPA's reference.

GPA measures the lattice at r relative to the reference lattice: with the generator's
exact deformation gradient F (undeformed -> deformed), the local reciprocal basis is
``G(r) = G0 F(r)^-1`` (rows g). The reference lattice is the one GPA states (each
grain's refined ``g_vectors``, indexed on the generator's lattice), ``F_ref^-1 = G0^-1
G_ref``, so the truth GPA must report is ``F_rel(r) = F(r) F_ref^-1``, split by polar
decomposition (done here by SVD, not by ``stemstrain._strain``) into the rotation and
the Biot strain ``U - I``. That the stated reference is the lattice of the reference
region (the mean of ``G(r)`` over it: GPA refines g to the mean phase gradient) is
scored separately (``ref_err``).
Cases without one deformed lattice (kink, grains) are piecewise perfect crystals: F is
the rotation of the truth map. Used by ``test_gpa_adaptive*.py`` and
``benchmarks/bench_bends.py``.
"""

from __future__ import annotations

import math

import numpy as np

from stemstrain.synthetic import fields

#: the components scored (GPA attribute names)
COMPONENTS = ("rotation", "exx", "eyy", "exy", "e_nt")


def truth_gradient(rec, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Exact F (..., 2, 2) at pixel positions (image frame, y down)."""
    if rec.lattice is not None:
        f = rec.lattice.deformation_gradient(*rec.lattice.pixel_to_nm(xx, yy))
        f = np.moveaxis(f, (0, 1), (-2, -1))
        if "scan_matrix" in rec.params:  # drift case: the image frame is the scan's
            f = np.asarray(rec.params["scan_matrix"]) @ f
        return f
    w = rec.truth["rotation"][yy, xx].astype(float)  # counter-clockwise as displayed
    c, s = np.cos(w), np.sin(w)
    return np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)


def polar_svd(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation (counter-clockwise as displayed) and U - I of F = R U, by SVD."""
    w, s, vt = np.linalg.svd(f)
    r = w @ vt
    u = np.swapaxes(vt, -1, -2) @ (s[..., :, None] * vt)
    return np.arctan2(r[..., 0, 1], r[..., 0, 0]), u - np.eye(2)


def border_band(shape: tuple[int, int], result, sigmas: float) -> np.ndarray:
    """Mask, False within ``sigmas`` kernel sigmas of the image border."""
    b = int(math.ceil(sigmas / (2 * math.pi * result.g_info["sigma_g"] * _px(result))))
    inner = np.zeros(shape, dtype=bool)
    inner[b:-b, b:-b] = True
    return inner


def _px(result) -> float:
    return float(result.pixel_size) if result.pixel_size else 1.0


def _basis0(rec) -> np.ndarray:
    """The generator's undeformed (003) and in-plane reciprocal vectors (rows, 1/nm)."""
    p = rec.params
    t, n = fields.layer_frame(p["angle_deg"])
    return np.array([n / p["c_spacing"], t / p["a_spacing"] - n / (3 * p["c_spacing"])])


def stated_reference(rec, g_ref: np.ndarray, finv: np.ndarray) -> np.ndarray:
    """F_ref^-1 of GPA's stated reference g (2 rows, 1/nm), indexed on the generator lattice.

    Each stated g is the undeformed lattice point that some part of the reference region
    (``finv``: F^-1 of its pixels, (n, 2, 2)) puts nearest to it (5th percentile of the
    distance over the region), so a reference spanning two orientations still indexes.
    """
    b = _basis0(rec)
    hk = np.stack(np.meshgrid(np.arange(-4, 5), np.arange(-4, 5)), -1).reshape(-1, 2)
    cand = hk @ b  # undeformed lattice points
    seen = np.einsum("ci,nij->cnj", cand, finv)  # where the region's pixels put them
    g0 = []
    for g in np.asarray(g_ref, dtype=float)[:2]:
        dist = np.percentile(np.hypot(*(seen - g).transpose(2, 0, 1)), 5, axis=1)
        g0.append(cand[np.argmin(dist)])
    return np.linalg.solve(np.array(g0), np.asarray(g_ref, dtype=float)[:2])


def reference_masks(rec, result) -> dict[int, np.ndarray]:
    """Full-size reference region of each result grain (box if 'auto', else its crystal)."""
    inner = border_band(rec.shape, result, 3.5)
    out = {}
    for row in result.grain_table:
        gid = int(row["label"])
        box = row.get("reference_box")
        if box is not None:
            sel = np.zeros(rec.shape, dtype=bool)
            sel[box[0] : box[1], box[2] : box[3]] = True
        else:
            sel = inner & (result.grains == gid)
        out[gid] = sel & rec.truth["crystal"]
    return out


def _unresolved(rec, result) -> np.ndarray:
    """Pixels within one resolution of a kink band, grain boundary or O1 band.

    There the truth changes within GPA's resolution (or, in an O1 band, the stacking
    changes: a shear GPA sees and the lattice truth does not carry); not scored.
    """
    from scipy import ndimage as ndi

    bad = np.zeros(rec.shape, dtype=bool)
    for key in ("band", "boundary"):
        if key in rec.truth:
            bad |= np.asarray(rec.truth[key], dtype=bool)
    if "labels_nominal" in rec.truth:
        bad |= rec.truth["labels_nominal"] == 2  # O1 gaps
    if not bad.any():
        return bad
    res_px = result.resolution_nm / _px(result)
    return ndi.distance_transform_edt(~bad) <= res_px


def score(rec, result, step: int = 4) -> dict:
    """Valid fraction of the crystal and median / p95 |error| of each component.

    Errors on pixel samples every ``step`` px inside ``result.mask`` (away from the
    bands of ``_unresolved``); the truth of each sample is relative to its own grain's
    reference (``reference_masks``).
    """
    h, w = rec.shape
    analysable = rec.truth["crystal"] & border_band(rec.shape, result, 2.0)
    scored = result.mask & ~_unresolved(rec, result)
    out = {"valid": float((result.mask & analysable).sum() / max(analysable.sum(), 1))}
    yy, xx = np.mgrid[0:h:step, 0:w:step]
    f = truth_gradient(rec, yy, xx)
    errs = {k: [] for k in COMPONENTS}
    ref_err = []
    n_ref = np.asarray(result.normal, dtype=float)
    t_ref = np.array([n_ref[1], -n_ref[0]])
    for gid, ref in reference_masks(rec, result).items():
        sel = scored[yy, xx] & (result.grains[yy, xx] == gid) & rec.truth["crystal"][yy, xx]
        ry, rx = np.nonzero(ref[::step, ::step])
        if not sel.any() or ry.size == 0:
            continue
        finv_px = np.linalg.inv(f[ry, rx])
        finv_region = finv_px.mean(axis=0)
        row = next(r for r in result.grain_table if int(r["label"]) == gid)
        finv_ref = stated_reference(rec, row["g_vectors"], finv_px)
        ref_err.append(float(np.abs(finv_ref @ np.linalg.inv(finv_region) - np.eye(2)).max()))
        rot, e = polar_svd(f[sel] @ finv_ref)
        truth = {
            "rotation": rot,
            "exx": e[:, 0, 0],
            "eyy": e[:, 1, 1],
            "exy": e[:, 0, 1],
            "e_nt": np.einsum("i,nij,j->n", t_ref, e, n_ref),
        }
        for k in COMPONENTS:
            errs[k].append(getattr(result, k)[yy, xx][sel] - truth[k])
    for k in COMPONENTS:
        d = np.abs(np.concatenate(errs[k])) if errs[k] else np.array([np.nan])
        out[f"{k}_med"] = float(np.median(d))
        out[f"{k}_p95"] = float(np.percentile(d, 95))
    out["ref_err"] = max(ref_err) if ref_err else float("nan")
    out["g_jump_fraction"] = float(result.quality.get("g_jump_fraction", np.nan))
    return out
