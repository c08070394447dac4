"""Close dislocation pairs: what the coarse phase cannot resolve, looked at again.

Two cores closer than ~2 GPA resolutions are invisible to :func:`find_dislocations`'
phase singularities: at the GPA resolution the windings of a dipole cancel (the
smoothed Bragg image has no zero left) and those of a same-sign pair merge into one
winding without an amplitude zero. What remains at the coarse resolution is a
*strain concentration*: a compact excess of the distortion over its surroundings, an
enclosed hole of the valid map with a strained rim (the Bragg amplitude collapses where
the lattice turns within the kernel), or a phase singularity that could not be tested
for the other one next to it. This module finds those *suspects* on the coarse grid,
looks at each again with a finer GPA mask on a crop of the image (when the image is
given), and lists what neither pass resolves.

Strain concentration (on the coarse grid, vectorised over all samples):

* ``excess = || D(p) - <D>_ring(p) ||_F``, the distortion ``D_E`` (rebuilt from the
  maps, see :mod:`._dislocations`) at ``p`` minus its mean over a circle of
  ``_RING`` resolutions: exactly 0 for a uniform or linearly varying field (bends,
  strain gradients), ``-R^2/4 lap D`` for a smooth curvature (ripples);
* *compact*: the excess at ``p`` is at least ``_MIN_COMPACT`` times its largest value
  on the circles of ``_DECAY_RINGS`` resolutions around ``p``. A ridge (a kink band, an O1
  band, a tilt boundary) keeps its excess along its own line and a broad bump (a
  ripple) around its top, so neither is compact; a dipole's field decays as 1/r^2 in
  every direction;
* significant: ``excess >= _MIN_EXCESS`` (absolute: far beyond the noise of the maps,
  whose 1-sigma ``uncertainty`` is also required below ``excess / _MIN_SIGMAS``).

Thresholds were chosen on the generator (pairs of Volterra edge dislocations and the
realistic cases without dislocations of :func:`stemstrain.synthetic.realistic`), never
on a real file; ``docs/notes/gpa.md`` ("dislocpair") has the measurements.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..errors import StemstrainError
from ._core import FWHM_FACTOR
from ._dislocations import _grain_g, burgers_circuits, coarse_pass, distortion_sampler

__all__ = ["strain_concentrations", "mask_holes", "second_look"]

_RING = 1.5  # excess: centre minus the mean on this circle (GPA resolutions)
_DECAY_RINGS = (1.5, 2.0, 2.5)  # compactness: largest excess on these circles (resolutions)
_N_RING = 32
_MIN_COMPACT = 2.0
_PAIR_REACH = 3.0  # two blobs this near (resolutions) are tested for compactness as a pair
_MIN_EXCESS = 0.03  # |D_E| excess: 20 sigma of the maps at dose 200 (sigma ~0.0015 measured)
_MIN_SIGMAS = 8.0
# A suspect this near (resolutions) a reported core with a primitive Burgers vector is
# that core's own field (measured on single synthetic cores: concentration <= 0.9 res,
# amplitude hole <= 0.3 res away).
_EXPLAINED = 1.25
_GROUP = 2.0  # suspects closer than this (resolutions) are one region, looked at once
# Finer pass: half the resolution, but no finer than 1.05 x gpa's limit (the mask must
# not reach the neighbouring reflections); pointless above 0.8 of the coarse resolution.
_FINE_FACTOR = 0.5
_FINE_LIMIT = 1.05
_FINE_USEFUL = 0.8
# A hole counts only when this share of the circle 2 resolutions off its edge is valid.
_INTACT = 0.9
_UNRESOLVED_COLUMNS = ["x", "y", "kind", "excess", "excess_sigma", "fine_resolution_nm"]


def coarse_grid(result: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """Sample positions (rows, cols; px) of the GPA coarse grid and its step (px)."""
    step_y, step_x = result.lowres_step
    m_y, m_x = np.asarray(result.phasor_lowres).shape[1:]
    return np.arange(m_y) * step_y, np.arange(m_x) * step_x, float(step_x)


def _ring_reduce(field: np.ndarray, radius: float, how: str) -> np.ndarray:
    """Reduce ``field`` (k, m_y, m_x) on a circle of ``radius`` (grid units) around each sample.

    Accumulated one direction at a time (memory: one field).

    ``"mean"``: NaN when any sample on the circle is NaN or off the grid; ``"max"``:
    over the finite samples only (-inf when none).
    """
    from scipy import ndimage as ndi

    k, m_y, m_x = field.shape
    yy, xx = np.mgrid[:m_y, :m_x].astype(float)
    acc = np.zeros(field.shape) if how == "mean" else np.full(field.shape, -np.inf)
    for t in np.arange(_N_RING) * (2 * math.pi / _N_RING):  # the directions, not the pixels
        coords = np.stack([yy + radius * math.sin(t), xx + radius * math.cos(t)])
        for i in range(k):
            v = ndi.map_coordinates(field[i], coords, order=1, mode="constant", cval=np.nan)
            acc[i] = acc[i] + v if how == "mean" else np.fmax(acc[i], v)
    return acc / _N_RING if how == "mean" else acc


def _coarse_distortion(result: Any, sampler: Any) -> tuple[np.ndarray, np.ndarray]:
    """``D_E`` (4, m_y, m_x) on the coarse grid and the 1-sigma of its norm (m_y, m_x)."""
    rows, cols, _ = coarse_grid(result)
    yy, xx = np.meshgrid(rows, cols, indexing="ij")
    coords = np.stack([yy.ravel(), xx.ravel()])
    d = sampler(coords).reshape((4,) + yy.shape)
    sigma = _sigma_sampler(result)
    sig = np.full(yy.shape, np.nan) if sigma is None else sigma(coords).reshape(yy.shape)
    return d, sig


def concentration_map(result: Any, sampler: Any) -> dict:
    """Excess, compactness and sigma of the distortion on the coarse grid (see module doc)."""
    rows, cols, step = coarse_grid(result)
    res_c = result.resolution_nm / (result.pixel_size or 1.0) / step
    d, sig = _coarse_distortion(result, sampler)
    mean = _ring_reduce(d, _RING * res_c, "mean")
    excess = np.sqrt(np.sum((d - mean) ** 2, axis=0))  # NaN if any sample is
    peak = np.max([_ring_reduce(excess[None], k * res_c, "max")[0] for k in _DECAY_RINGS], axis=0)
    compact = np.where(np.isfinite(peak), excess / np.maximum(peak, 1e-12), np.nan)
    return {"excess": excess, "compact": compact, "sigma": sig, "res_c": res_c}


def strain_concentrations(result: Any, sampler: Any) -> np.ndarray:
    """Compact, significant strain concentrations: (k, 4) rows ``row, col`` (px), excess, sigma."""
    from scipy import ndimage as ndi

    c = concentration_map(result, sampler)
    ex = np.where(np.isfinite(c["excess"]), c["excess"], 0.0)
    size = max(3, int(2 * round(c["res_c"]) + 1))
    local_max = ex == ndi.maximum_filter(ex, size=size, mode="constant", cval=0.0)
    sig = c["sigma"]
    ok_sig = ~np.isfinite(sig) | (ex >= _MIN_SIGMAS * sig)
    with np.errstate(invalid="ignore"):
        strong = local_max & (ex >= _MIN_EXCESS) & ok_sig
        sel = strong & (c["compact"] >= _MIN_COMPACT)
    sel[tuple(_compact_pairs(c["excess"], np.argwhere(strong & ~sel), c["res_c"]).T)] = True
    iy, ix = np.nonzero(sel)
    rows, cols, _ = coarse_grid(result)
    return np.stack([rows[iy], cols[ix], ex[iy, ix], sig[iy, ix]], axis=1)


def _compact_pairs(excess: np.ndarray, peaks: np.ndarray, res_c: float) -> np.ndarray:
    """Keep the peaks (k, 2; grid indices) that are compact as a pair of blobs.

    Two blobs within ``_PAIR_REACH`` resolutions sit on each other's compactness
    circle; tested together instead: their smaller excess must be ``_MIN_COMPACT``
    times the largest on circles of ``d / 2 + _DECAY_RINGS`` resolutions around their
    midpoint (a ridge still crosses those circles; a pair's field has decayed).
    Returns the peaks kept, (m, 2).
    """
    from scipy import ndimage as ndi

    if len(peaks) < 2:
        return np.zeros((0, 2), int)
    i, j = np.triu_indices(len(peaks), k=1)
    d = np.hypot(*(peaks[i] - peaks[j]).T.astype(float))
    near = d <= _PAIR_REACH * res_c
    i, j, d = i[near], j[near], d[near]
    if not len(i):
        return np.zeros((0, 2), int)
    mid = 0.5 * (peaks[i] + peaks[j])  # (n_p, 2)
    t = np.arange(_N_RING) * (2 * math.pi / _N_RING)
    rad = d[:, None] / 2 + np.asarray(_DECAY_RINGS)[None] * res_c  # (n_p, n_r)
    pts = mid[:, None, None, :] + rad[..., None, None] * np.stack([np.sin(t), np.cos(t)], -1)
    ring = ndi.map_coordinates(excess, pts.reshape(-1, 2).T, order=1, cval=np.nan)
    ring = ring.reshape(len(i), -1)
    peak = np.where(np.isfinite(ring), ring, -np.inf).max(axis=1)
    low = np.minimum(excess[tuple(peaks[i].T)], excess[tuple(peaks[j].T)])
    ok = np.isfinite(peak) & (low >= _MIN_COMPACT * peak)
    return np.unique(np.concatenate([peaks[i[ok]], peaks[j[ok]]]), axis=0).reshape(-1, 2)


def _sigma_sampler(result: Any) -> Any:
    """``coords (2, N) px -> 1-sigma of || D_E ||_F`` from the coarse ``uncertainty`` maps.

    None when the result carries no coarse uncertainty.
    """
    from scipy import ndimage as ndi

    unc = getattr(result, "uncertainty", None)
    if unc is None or not hasattr(unc, "coarse"):
        return None
    c = {k: np.asarray(unc.coarse(k), dtype=float) for k in ("exx", "eyy", "exy", "rotation")}
    sig = np.sqrt(c["exx"] ** 2 + c["eyy"] ** 2 + 2 * c["exy"] ** 2 + 2 * c["rotation"] ** 2)
    step = np.asarray(result.lowres_step, dtype=float)[:, None]
    return lambda coords: ndi.map_coordinates(sig, coords / step, order=1, cval=np.nan)


def _rim_strain(result: Any, sampler: Any, holes: tuple, res_px: float) -> np.ndarray:
    """Largest ``|| D - D_around ||_F`` just outside each hole (0.5 resolution off its edge).

    ``holes`` = (centres (k, 2) px, equivalent radii (k,) px). ``D_around`` is the median
    distortion 2 resolutions off the edge; only rim points where the excess is at least
    ``_MIN_SIGMAS`` sigma of the maps count (phase noise grows where the amplitude
    fades). NaN when under half of the rim circle, or under ``_INTACT`` of the outer
    one, lies in the valid map: a pair's hole sits in intact crystal, a chain of holes
    along a boundary or a ragged crystal edge does not.
    """
    sigma = _sigma_sampler(result)
    t = np.arange(_N_RING * 2) * (math.pi / _N_RING)
    unit = np.stack([np.sin(t), np.cos(t)])  # (2, n)
    out = np.full(len(holes[0]), np.nan)
    for i, (c, r) in enumerate(zip(*holes, strict=True)):  # the few holes
        pts = c[:, None] + (r + 0.5 * res_px) * unit
        rim = sampler(pts).reshape(4, -1)
        far = sampler(c[:, None] + (r + 2.0 * res_px) * unit).reshape(4, -1)
        ok_r, ok_f = np.isfinite(rim).all(axis=0), np.isfinite(far).all(axis=0)
        if ok_r.mean() < 0.5 or ok_f.mean() < _INTACT:
            continue
        ref = np.median(far[:, ok_f], axis=1)
        ex = np.sqrt(((rim - ref[:, None]) ** 2).sum(axis=0))
        if sigma is not None:
            sg = sigma(pts)
            ex = np.where(np.isfinite(sg) & (ex < _MIN_SIGMAS * sg), 0.0, ex)
        out[i] = float(ex[ok_r].max())
    return out


def mask_holes(result: Any, sampler: Any, max_area_res2: float = 4.0) -> np.ndarray:
    """Find the strained enclosed holes of the valid map, smaller than ``max_area_res2`` res^2.

    A hole (the Bragg amplitude collapsed) counts only when the distortion just outside it
    departs from its surroundings by ``_MIN_EXCESS`` or more (``_rim_strain``): a pair
    of cores leaves a strain concentration at the rim, a domain whose superstructure
    spot fades or a thin or dirty patch does not. Holes touching the image edge are not
    enclosed. Returns (k, 3) rows ``row, col`` (px, centroid) and the rim excess.
    """
    from scipy import ndimage as ndi

    rows, cols, step = coarse_grid(result)
    ri = np.minimum(np.round(rows).astype(int), result.mask.shape[0] - 1)
    ci = np.minimum(np.round(cols).astype(int), result.mask.shape[1] - 1)
    invalid = ~np.asarray(result.mask)[ri[:, None], ci[None, :]]
    lab, n = ndi.label(invalid)
    if not n:
        return np.zeros((0, 3))
    idx = np.arange(1, n + 1)
    area = ndi.sum_labels(np.ones_like(lab), lab, index=idx) * step * step
    edge = np.isin(idx, np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    res_px = result.resolution_nm / (result.pixel_size or 1.0)
    keep = ~edge & (area <= max_area_res2 * res_px**2)
    if not keep.any():
        return np.zeros((0, 3))
    com = np.array(ndi.center_of_mass(invalid, lab, idx[keep])).reshape(-1, 2) * step
    rim = _rim_strain(result, sampler, (com, np.sqrt(area[keep] / math.pi)), res_px)
    strained = rim >= _MIN_EXCESS
    return np.concatenate([com, rim[:, None]], axis=1)[strained]


def _primitive(cores: Any) -> np.ndarray:
    """Return True per core whose winding vector is primitive (gcd 1): one lattice vector."""
    if not len(cores):
        return np.zeros(0, bool)
    n = np.array([list(v) for v in cores["n_windings"]], dtype=np.int64)
    return np.gcd.reduce(np.abs(n), axis=1) == 1


def _suspects(result: Any, cores: Any, info: dict, sampler: Any) -> dict:
    """Unexplained suspects: positions (k, 2) row/col px, kind, excess and its sigma."""
    conc = strain_concentrations(result, sampler)
    holes = mask_holes(result, sampler)
    prim = _primitive(cores)
    xy = np.stack([cores["y"].to_numpy(float), cores["x"].to_numpy(float)], axis=1)
    res_px = result.resolution_nm / (result.pixel_size or 1.0)
    own = np.concatenate([conc[:, :2], holes[:, :2]])
    if len(own) and prim.any():
        d = np.hypot(*(own[:, None, :] - xy[prim][None]).transpose(2, 0, 1)).min(axis=1)
        far = d > _EXPLAINED * res_px
    else:
        far = np.ones(len(own), bool)
    parts = [
        (conc[:, :2], "strain concentration", conc[:, 2], conc[:, 3]),
        (holes[:, :2], "strained amplitude hole", holes[:, 2], np.full(len(holes), np.nan)),
    ]
    n_c = len(conc)
    parts = [
        (p[far[sl]], k, e[far[sl]], sg[far[sl]])
        for (p, k, e, sg), sl in zip(parts, (slice(0, n_c), slice(n_c, None)), strict=True)
    ]
    parts += [
        (info["close"], "singularities too close for Burgers circuits", None, None),
        (info["no_dip"], "integer winding without amplitude dip", None, None),
        (xy[~prim], "Burgers vector of several lattice vectors", None, None),
    ]
    pos = np.concatenate([p for p, *_ in parts]).reshape(-1, 2)
    kind = [k for p, k, *_ in parts for _ in range(len(p))]
    nan = [np.full(len(p), np.nan) if e is None else e for p, _, e, _ in parts]
    sig = [np.full(len(p), np.nan) if e is None else e for p, _, _, e in parts]
    return {"pos": pos, "kind": kind, "excess": np.concatenate(nan), "sigma": np.concatenate(sig)}


def _groups(pos: np.ndarray, radius: float) -> list[np.ndarray]:
    """Group suspects chained within ``radius`` px (single linkage): lists of indices."""
    from scipy.sparse.csgraph import connected_components

    if not len(pos):
        return []
    d = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))
    n, lab = connected_components(d <= radius, directed=False)
    return [np.nonzero(lab == k)[0] for k in range(n)]


def _local_g(result: Any, centre: np.ndarray, sampler: Any, res_px: float) -> np.ndarray:
    """Return the local g (n_g, 2; 1/nm) around ``centre``: ``g_ref (I - D_E)``, D_E's median."""
    g_ref = _grain_g(result, centre[None])[0][0]
    t = np.arange(64) * (2 * math.pi / 64)
    ring = centre[:, None] + 2.5 * res_px * np.stack([np.sin(t), np.cos(t)])
    d = sampler(ring).reshape(2, 2, -1)
    if not np.isfinite(d).all(axis=(0, 1)).any():
        return g_ref
    d_med = np.nanmedian(d, axis=2)
    return g_ref - g_ref @ d_med


def _fine_resolution(result: Any, g_nm: np.ndarray) -> float:
    """Resolution (nm; px uncalibrated) of the finer pass, NaN when it would not be finer."""
    g_min = float(np.hypot(g_nm[:, 0], g_nm[:, 1]).min())
    res = float(result.resolution_nm)
    fine = max(_FINE_FACTOR * res, _FINE_LIMIT * FWHM_FACTOR * 2.5 / g_min)
    return fine if fine <= _FINE_USEFUL * res else float("nan")


def _fine_pass(data: np.ndarray, result: Any, centre: np.ndarray, spread: float, sampler: Any):
    """Cores and undecided singularities near ``centre`` from a finer GPA of a crop.

    Returns (table in image px, undecided (k, 2) row/col px, resolution, note).
    """
    from ._api import gpa

    px = result.pixel_size or 1.0
    res_px = result.resolution_nm / px
    g_nm = _local_g(result, centre, sampler, res_px)
    res_f = _fine_resolution(result, g_nm)
    if not np.isfinite(res_f):
        return None, np.zeros((0, 2)), res_f, "the lattice allows no finer mask"
    half = int(math.ceil(3.5 * res_f / px + 1.5 * res_px + spread))
    r0, c0 = (max(0, int(round(v)) - half) for v in centre)
    crop = np.asarray(data[r0 : r0 + 2 * half, c0 : c0 + 2 * half], dtype=np.float32)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the crop's gpa/circuit notes are summarised below
            fine = gpa(
                crop,
                pixel_size=result.pixel_size,
                g=g_nm.tolist(),
                resolution_nm=res_f,
                adaptive=False,
                grains=None,
            )
            table, info = coarse_pass(fine, None, warn=False)
    except StemstrainError as exc:
        return None, np.zeros((0, 2)), res_f, f"finer pass failed: {exc}"
    table = table.assign(x=table["x"] + c0, y=table["y"] + r0)
    undecided = np.concatenate([info["close"], info["no_dip"]]).reshape(-1, 2) + [r0, c0]
    return table, undecided, res_f, ""


def _image_data(image: Any, result: Any) -> np.ndarray | None:
    """Return the image as a host array of the result's shape, or None."""
    from .._backend import asnumpy
    from .._validate import image_and_pixel_size

    if image is None:
        return None
    data, _ = image_and_pixel_size(image, result.pixel_size, "image")
    data = np.asarray(asnumpy(data))
    if data.shape != tuple(result.mask.shape):
        raise StemstrainError(
            f"image is {data.shape[0]}x{data.shape[1]} px but the GPA result is "
            f"{result.mask.shape[0]}x{result.mask.shape[1]}; pass the image it was computed from"
        )
    return data


def _replaced(cores: Any, inside: Any, region: tuple) -> np.ndarray:
    """Flag the coarse cores of several lattice vectors that the finer cores add up to.

    Only in ``region`` and when ``inside`` has >= 2 cores (Burgers vectors within a
    quarter of the smallest |b|).
    """
    centre, radius = region
    near = np.hypot(cores["y"] - centre[0], cores["x"] - centre[1]).to_numpy() <= radius
    cand = near & ~_primitive(cores)
    if len(inside) < 2 or not cand.any():
        return np.zeros(len(cores), bool)
    total = cores.loc[cand, ["bx", "by"]].to_numpy().sum(axis=0)
    fine = inside[["bx", "by"]].to_numpy().sum(axis=0)
    ok = np.hypot(*(total - fine)) <= 0.25 * float(inside["b"].min())
    return cand if ok else np.zeros(len(cores), bool)


def _look_again(data, result, cores, sus, idx, sampler) -> tuple:
    """Look at one suspect region again.

    Returns the finer cores to add, the coarse cores they replace, the unresolved row
    (None when resolved) and the region's row (with its ``region``) when it was searched.
    """
    res_px = result.resolution_nm / (result.pixel_size or 1.0)
    pos = sus["pos"][idx]
    centre = pos.mean(axis=0)
    spread = float(np.hypot(*(pos - centre).T).max())
    ex = sus["excess"][idx]
    best = int(np.nanargmax(ex)) if np.isfinite(ex).any() else 0
    row = {
        "x": float(centre[1]),
        "y": float(centre[0]),
        "kind": ", ".join(sorted({sus["kind"][i] for i in idx})),
        "excess": float(ex[best]),
        "excess_sigma": float(sus["sigma"][idx][best]),
        "fine_resolution_nm": float("nan"),
    }
    none = np.zeros(len(cores), bool)
    if data is None:
        return None, none, row, None
    table, undecided, res_f, _ = _fine_pass(data, result, centre, spread, sampler)
    row["fine_resolution_nm"] = res_f
    if table is None:
        return None, none, row, None
    radius = 1.5 * res_px + spread
    inside = table[np.hypot(table["y"] - centre[0], table["x"] - centre[1]).to_numpy() <= radius]
    replaced = _replaced(cores, inside, (centre, radius))
    keep = cores[~replaced]
    if len(keep) and len(inside):
        d = np.hypot(
            inside["y"].to_numpy()[:, None] - keep["y"].to_numpy()[None],
            inside["x"].to_numpy()[:, None] - keep["x"].to_numpy()[None],
        ).min(axis=1)
        inside = inside[d > 0.5 * res_px]  # the same core, already reported
    und = np.hypot(*(undecided - centre).T) <= radius if len(undecided) else np.zeros(0, bool)
    resolved = (len(inside) > 0 or replaced.any()) and not und.any()
    row["region"] = (centre, radius)
    return (inside if len(inside) else None), replaced, (None if resolved else row), row


def _closes(result: Any, sampler: Any, region: tuple, cores: Any) -> bool:
    """Whether the cores found account for the region's Burgers content.

    The coarse circuit one resolution outside the region (the closure failure of the
    maps) must equal the sum of the Burgers vectors of the ``cores`` inside it, within
    half the smallest |b|. True (no test) when that circuit leaves the crystal or passes
    within 0.75 resolution of a core.
    """
    centre, radius = region
    px = result.pixel_size or 1.0
    res_px = result.resolution_nm / px
    outer = radius + res_px
    d = np.hypot(cores["y"] - centre[0], cores["x"] - centre[1]).to_numpy()
    b_net = burgers_circuits(sampler, centre[None], outer)[0][0] * px  # nm, image frame
    if not np.isfinite(b_net).all() or (np.abs(d - outer) < 0.75 * res_px).any():
        return True
    inside = cores[d < outer]
    b_found = inside[["bx", "by"]].to_numpy().sum(axis=0)
    b_min = float(inside["b"].min()) if len(inside) else float("inf")
    return bool(np.hypot(*(b_net - b_found)) <= 0.5 * b_min)


def _warn_unresolved(rows: list, searched: bool) -> None:
    where = "; ".join(f"({r['x']:.0f}, {r['y']:.0f})" for r in rows[:6])
    more = f" and {len(rows) - 6} more" if len(rows) > 6 else ""
    hint = (
        "not resolved by a finer pass either" if searched else "pass image= for a finer second pass"
    )
    warnings.warn(
        f"find_dislocations: {len(rows)} compact strain concentration(s) that no reported core "
        f"explains at (x, y) = {where}{more} px: consistent with a close dislocation pair "
        f"(dipole or same-sign pair below the GPA resolution), or another local defect or "
        f"fault of the maps; not reported as cores ({hint}); see attrs['unresolved']",
        UserWarning,
        stacklevel=3,
    )


def _plain(value: Any) -> Any:
    """Return a NumPy scalar as the Python number (records that compare and print plainly)."""
    return value.item() if isinstance(value, np.generic) else value


def second_look(result: Any, cores: Any, info: dict, image: Any) -> Any:
    """Add the cores a finer pass finds in unexplained strain concentrations; list the rest.

    ``cores``/``info`` from :func:`coarse_pass`; returns the final table with
    ``attrs["unresolved"]``.
    """
    import pandas as pd

    data = _image_data(image, result)
    sampler = distortion_sampler(result)
    sus = _suspects(result, cores, info, sampler)
    res_px = result.resolution_nm / (result.pixel_size or 1.0)
    added, rows = [], []
    replaced = np.zeros(len(cores), bool)
    searched = []
    for idx in _groups(sus["pos"], _GROUP * res_px):  # the few suspect regions
        new, rep, row, seen = _look_again(data, result, cores, sus, idx, sampler)
        replaced |= rep
        added += [new] if new is not None else []
        rows += [row] if row is not None else []
        searched += [seen] if seen is not None and row is None else []
    parts = [t for t in [cores[~replaced], *added] if len(t)]
    out = pd.concat(parts, ignore_index=True) if parts else cores.iloc[:0]
    rows += [r for r in searched if not _closes(result, sampler, r["region"], out)]
    for r in rows:
        r.pop("region", None)
    # plain records, not a DataFrame: pandas compares attrs when it prints or concatenates
    # the table, and a DataFrame there makes that comparison raise
    out.attrs["unresolved"] = [{k: _plain(r.get(k)) for k in _UNRESOLVED_COLUMNS} for r in rows]
    if rows:
        _warn_unresolved(rows, data is not None)
    return out
