"""Per-grain lattice frames of ``phase_map``: grains turned away from the main lattice.

The lock-in of :mod:`._lockin` follows rotations of +-20 deg around one layer frame (that
of the lowest-frequency strong peak). A second grain turned further reads "amorphous" /
vacuum or a wrong phase. :func:`grain_frames` takes the grains of the local lattice model
(:func:`stemstrain.lattice_map`: layered 2-D grains, their mean layer normal) and gives
one frame per orientation: the main frame, plus one for every layered grain whose layer
normal is at least ``MIN_TURN_DEG`` from every frame already kept (largest grains first,
at most ``MAX_FRAMES``). ``phase_map`` runs the lock-in and the classification once per
frame (each frame its own +-20 deg sweep, zone family and templates) and :func:`merge`
keeps, per coarse point, the frame whose lattice amplitude is largest relative to its
own typical level (the level over the lattice-map grains of that frame), which also
decides which grain the point belongs to.

With more than one frame every frame is built from its lattice-map grains' own mean
basis (the layer normal of the member with the largest layer spacing, and the row
frequency from the in-plane basis vector), not from the power spectrum of the whole
image, whose peaks mix the grains. When the strongest lattice misfits the phase set
(spacing, zone), the layered grains' frames come first and it is kept last, so that its
area reads "unknown" with its warning. Lattice-map grains that get no frame (not layered,
< ``MIN_GRAIN_FRACTION``, over ``MAX_FRAMES``) lying outside the phase map's crystal are
warned (:func:`missed_note`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from ..errors import StemstrainError
from ._lockin import Frame, Prepared, frame_from_normal

#: a grain whose layer normal lies within this of a kept frame is followed by that frame's
#: +-20 deg sweep (half of it: the sweep still has 10 deg of bending to follow)
MIN_TURN_DEG = 10.0
#: smallest lattice-map grain (share of the crystalline windows) that gets a frame
MIN_GRAIN_FRACTION = 0.02
#: frames at most (main included): each costs one lock-in sweep
MAX_FRAMES = 4
#: share of the crystal in lattice-map grains without a frame, outside the phase map's
#: crystal, that is warned (as ``_registry.MISSED_FRACTION`` for the columns' layers)
MISSED_FRACTION = 0.05
#: frames whose lattice amplitude is within this factor of the best see the same lattice:
#: the sweep's rotation steps lose up to 25 % half-way (``_classify.measure``)
SAME_LATTICE = 0.75
#: and of those, frames whose fit is within this of the best explain it equally (a frame
#: that sees a pseudo-symmetric match of another grain fits worse)
SAME_FIT = 0.01


@dataclass(frozen=True)
class GrainFrames:
    """Frames of the grains of an image (the first is the main frame)."""

    frames: tuple[Frame, ...]
    members: tuple[tuple[int, ...], ...]  # lattice_map grain ids followed by each frame
    region: np.ndarray | None  # (H, W) int: frame index + 1 of the lattice-map grain, 0 none
    info: dict
    unframed: np.ndarray | None = None  # (H, W) bool: lattice-map grains without a frame
    window_px: float = 0.0  # lattice-map window: its crystal spills up to ~1/2 of it


def turn_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle (deg, 0..90) between two layer normals (sign-free)."""
    c = abs(float(a @ b)) / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.rad2deg(np.arccos(min(c, 1.0))))


def _lattice(img: np.ndarray, px: float | None):
    """``lattice_map`` of the image (its warnings are not the phase map's), or None."""
    from ..lattice import lattice_map

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return lattice_map(img, px)
    except StemstrainError:
        return None


def grain_frames(
    img: np.ndarray, px: float | None, prep: Prepared, main: Frame, *, main_fits: bool = True
) -> GrainFrames:
    """Return the main frame plus one per layered lattice-map grain turned >= ``MIN_TURN_DEG``.

    When the main frame misfits the phase set (``main_fits`` False: spacing or zone), the
    layered grains' frames come first and the main one is kept last (its area "unknown").
    """
    lm = _lattice(img, px)
    info: dict = dict(lattice_map=lm is not None, lattice_grains=0, skipped=[])
    if lm is None or not len(lm.grain_table):
        return GrainFrames((main,), ((),), None, info)
    table = lm.grain_table.sort_values("area_fraction", ascending=False)
    info["lattice_grains"] = int(len(table))
    unit = px or 1.0
    groups: list[list] = [[main.g_n, []]] if main_fits else []  # [normal, member rows]
    for row in table.itertuples():
        g = np.array([row.g1x, row.g1y, row.g2x, row.g2y], float) * unit  # cycles/px
        if not (row.layered and np.all(np.isfinite(g))):
            continue
        turns = [turn_deg(g[:2], grp[0]) for grp in groups] or [np.inf]
        k = int(np.argmin(turns))
        if turns[k] < MIN_TURN_DEG:
            groups[k][1].append(row)
        elif row.area_fraction < MIN_GRAIN_FRACTION or len(groups) >= MAX_FRAMES - 1 + main_fits:
            info["skipped"].append(int(row.grain))
        else:
            groups.append([g[:2], [row]])
    if not groups:  # no layered lattice to map: the main frame alone, as it is
        return GrainFrames((main,), ((),), None, info)
    frames = []
    for k, (_, rows) in enumerate(groups):
        # with several grains every frame is its grain's own mean lattice (the power peaks
        # of the whole image mix the grains); like the main frame (the lowest-frequency
        # strong peak): the largest layer spacing of the group's extended lattice-map
        # grains, O3 rather than an O1 band's
        big = [r for r in rows if r.area_fraction >= MIN_GRAIN_FRACTION]
        if not big or (k == 0 and main_fits and len(groups) == 1):
            frames.append(main)  # one grain: the main frame as it is (session 3)
            continue
        lead = max(big, key=lambda r: np.nan_to_num(r.d1_nm, nan=-1.0))
        g = np.array([lead.g1x, lead.g1y], float) * unit
        g2 = np.array([lead.g2x, lead.g2y], float) * unit
        frames.append(frame_from_normal(prep, g, in_plane=g2))
    members = [[int(r.grain) for r in rows] for _, rows in groups]
    if not main_fits and min(turn_deg(main.g_n, grp[0]) for grp in groups) >= MIN_TURN_DEG:
        # a misfitting lattice of its own orientation stays a frame: its area is "unknown"
        # (one along a layered grain's normal misfits by the other grains' peaks: dropped)
        frames.append(main)
        members.append([])
    lut = np.full(int(lm.grains.max()) + 1, -1, np.int16)  # -1: a grain without a frame
    lut[0] = 0
    for k, ids in enumerate(members):
        lut[list(ids)] = k + 1
    region = lut[np.clip(lm.to_pixels("grains").astype(int), 0, len(lut) - 1)]
    info["unframed"] = sorted(set(table.grain.astype(int)) - {i for m in members for i in m})
    return GrainFrames(
        tuple(frames),
        tuple(tuple(m) for m in members),
        region if len(frames) > 1 else None,
        info,
        unframed=region == -1,
        window_px=float(lm.window_px),
    )


def missed_note(grains: GrainFrames, crystal: np.ndarray, unknown: np.ndarray | None = None):
    """Warn when lattice-map grains without a frame are not mapped.

    Counted: their pixels more than half a lattice-map window outside the phase map's
    crystal (a window that straddles a surface is crystalline over its whole cell), and,
    with ``unknown`` (the "unknown" pixels; passed only when nothing else is warned), those
    inside it that no model explains.
    """
    if grains.unframed is None or not grains.unframed.any():
        return None
    missed = np.zeros(crystal.shape, bool)
    if (grains.unframed & ~crystal).any():
        missed = ndi.distance_transform_edt(~crystal) > 0.5 * grains.window_px
    if unknown is not None:
        missed |= unknown & crystal
    missed &= grains.unframed
    share = float(missed.sum() / max(int((crystal | missed).sum()), 1))
    if share <= MISSED_FRACTION:
        return None
    ids = ", ".join(str(i) for i in grains.info.get("unframed", []))
    return (
        f"{share:.0%} of the crystal that ss.lattice_map finds (its grains {ids}: not layered, "
        f"smaller than {MIN_GRAIN_FRACTION:.0%} of the crystal, or more than {MAX_FRAMES} "
        "orientations) lies outside the crystal of the phase map or reads 'unknown' there: "
        "those grains are not mapped; check the label map"
    )


def level_mask(grains: GrainFrames, k: int, stride: int, shape: tuple[int, int]) -> np.ndarray:
    """Coarse points whose lattice-map grain belongs to frame ``k`` (all when one frame)."""
    if grains.region is None:
        return np.ones(shape, bool)
    sub = grains.region[::stride, ::stride][: shape[0], : shape[1]]
    out = np.zeros(shape, bool)
    out[: sub.shape[0], : sub.shape[1]] = sub == k + 1
    return out if out.any() else np.ones(shape, bool)


def merge(feats, rels, results):
    """Keep, per coarse point, the frame that sees the local lattice best and least turned.

    Frames whose relative lattice amplitude is within ``SAME_LATTICE`` of the largest see
    the same lattice (two frames < 40 deg apart both reach it with their sweeps); of those
    the one whose sweep needs the smallest rotation wins: the grain of that point.
    ``feats``: one ``_classify.Features`` per frame; ``rels``: their lattice amplitude
    relative to the frame's typical level; ``results``: their ``(best, fit, margin)``.
    Returns the merged features (``total``, ``rotation`` of the winning frame; ``amp``,
    ``mean`` of the main one), the winning ``rel``, ``(best, fit, margin)`` and the frame
    index per point.
    """
    rel = np.stack(rels)
    rot = np.abs(np.stack([f.rotation for f in feats]))
    fit = np.stack([r[1] for r in results])
    near = rel >= SAME_LATTICE * rel.max(axis=0, keepdims=True)
    fit = np.where(near, fit, -np.inf)
    same = fit >= fit.max(axis=0, keepdims=True) - SAME_FIT  # equally explained
    sel = np.argmin(np.where(same, rot, np.inf), axis=0)

    def pick(arrays):
        return np.take_along_axis(np.stack(arrays), sel[None], 0)[0]

    merged = replace(
        feats[0],
        total=pick([f.total for f in feats]),
        rotation=pick([f.rotation for f in feats]),
    )
    out = tuple(pick([r[i] for r in results]) for i in range(3))
    return merged, pick(rels), out, sel


def grain_table(
    frames: GrainFrames,
    grain_map: np.ndarray,
    labels: np.ndarray,
    fit: np.ndarray,
    codes: dict,
    *,
    px: float | None,
    families: list,
) -> pd.DataFrame:
    """Tabulate each frame: orientation, turn from grain 1, family, spacing, area, phases."""
    main = frames.frames[0].n_hat
    names = [n for n in codes if n not in ("vacuum", "amorphous")]
    rows = []
    n_all = max(int((grain_map > 0).sum()), 1)
    for k, fr in enumerate(frames.frames):
        m = grain_map == k + 1
        n = max(int(m.sum()), 1)
        ang = float(np.rad2deg(np.mod(np.arctan2(-fr.n_hat[1], fr.n_hat[0]), np.pi)))
        row = dict(
            grain=k + 1,
            normal_deg=ang,
            turn_deg=turn_deg(fr.n_hat, main),
            family=families[k] or "none",
            spacing_nm=fr.spacing_px * (px or 1.0),
            area_fraction=float(m.sum() / n_all),
            fit_median=float(np.nanmedian(fit[m])) if m.any() else float("nan"),
            lattice_grains=",".join(str(i) for i in frames.members[k]),
        )
        for name in names:
            row[f"fraction_{name.replace('/', '')}"] = float((labels[m] == codes[name]).sum() / n)
        rows.append(row)
    return pd.DataFrame(rows)
