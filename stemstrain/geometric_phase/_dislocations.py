"""Dislocation cores as phase singularities of the GPA phases.

For each g the unit phasor ``exp(i P_g)`` on GPA's coarse grid gives wrapped phase
differences between neighbouring samples; their circulation around each elementary
plaquette, divided by 2 pi, is an integer *charge* (the discrete winding number). By
Stokes the winding around any loop is the sum of the charges inside, so:

1. charges are kept only inside the crystal: the valid map region with its small
   holes (the amplitude dip at a core) filled, away from the border;
2. charges closer than ``cluster_nm`` are grouped; noise vortices come as +-1 pairs and
   cancel, a real core leaves a net charge ``n_g`` (= -g . b);
3. cores of all g within ``cluster_nm`` are merged into one core with the winding
   vector ``n``; the Burgers vector solves ``G b = -n`` (least squares for > 2 g).
4. every such candidate is *tested* with Burgers circuits on the local phase gradient:
   the distortion ``D_E = I - F^-1`` rebuilt from the maps (``F = R U``, the local
   lattice relative to each grain's reference: the gradient GPA measured, not a phasor
   sampled on the coarse grid) is integrated, ``b = oint D_E dx``, on circles of
   ``_RADII`` GPA resolutions around it. A core is kept only when every circle that
   stays in the crystal (and in one grain) gives the same non-zero integer winding
   ``-G b`` within ``_MAX_RESIDUAL``. Far from the reference g the coarse phasor turns
   by up to half a cycle per sample and a slipping bend relabels g2 by whole g1 (the
   adaptive path), so plaquette charges alone alias into false cores; the circuits do
   not, because the gradient is continuous there.

The loop orientation is x then y (the x -> y sense of the image frame), so ``b`` is
the closure failure ``oint du`` taken in that sense; with the generator's Volterra
field (:func:`stemstrain.synthetic.fields.edge_dislocation`) this returns the b it was
given.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import StemstrainError

__all__ = ["find_dislocations", "phase_charges", "coarse_pass"]

_COLUMNS = [
    "x",
    "y",
    "bx",
    "by",
    "b",
    "n_windings",
    "b_t",
    "b_n",
    "circuit_residual",
    "confidence",
    "amplitude_dip",
    "resolution_nm",
]
# Burgers circuits: radii in GPA resolutions (outside the smoothed core, inside the
# next core of a not-too-dense array), samples per circle, and the largest accepted
# distance of the winding from an integer (half-way between integers is 0.5).
_RADII = (1.25, 1.75, 2.25)
# Near another singularity (a dipole, a pair) only circles passing >= half a resolution
# from it count; when fewer than two of _RADII remain, these tighter ones are used
# (a Gaussian-smoothed core encloses ~0.86 of its winding at 0.85 resolution).
_CLOSE_RADII = (0.85, 1.05)
_N_CIRCLE = 256
_MAX_RESIDUAL = 0.25
# A phase singularity is a zero of the smoothed Bragg amplitude; sampled at the
# coarse-grid core position it reads 0.13-0.75 of the first circle's (measured on the
# synthetic edge dislocations of tests/gpa/test_gpa_dislocations.py, straight and bent);
# a winding with no dip at all (> 0.9) is not a core.
_MAX_DIP = 0.9
_MIN_CIRCUITS = 2  # at least two radii inside the crystal: a single circle may be integer by chance


def phase_charges(phasor: np.ndarray) -> np.ndarray:
    """Integer winding number of each elementary plaquette of a 2-D unit-phasor field.

    Returns an int array of shape (m_y - 1, m_x - 1); entry [i, j] belongs to the square
    with corners (i, j), (i, j + 1), (i + 1, j + 1), (i + 1, j) (traversed in that order).
    """
    dx = np.angle(phasor[:, 1:] * np.conj(phasor[:, :-1]))  # P[i, j+1] - P[i, j], wrapped
    dy = np.angle(phasor[1:, :] * np.conj(phasor[:-1, :]))  # P[i+1, j] - P[i, j]
    circ = dx[:-1, :] + dy[:, 1:] - dx[1:, :] - dy[:, :-1]
    return np.rint(circ / (2 * math.pi)).astype(np.int64)


def _allowed_region(mask_coarse: np.ndarray, hole_px: float) -> np.ndarray:
    """Crystal region on the coarse grid: valid samples plus small enclosed holes."""
    from scipy import ndimage as ndi

    invalid = ~mask_coarse
    lab, n = ndi.label(invalid)
    allowed = mask_coarse.copy()
    if n:
        sizes = ndi.sum_labels(np.ones_like(lab), lab, index=np.arange(1, n + 1))
        border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
        small = (sizes <= hole_px) & ~np.isin(np.arange(1, n + 1), border)
        allowed |= small[np.maximum(lab - 1, 0)] & (lab > 0)
    return ndi.binary_erosion(allowed, iterations=1)


def _cores_one_g(charge: np.ndarray, allowed: np.ndarray, cluster: float) -> list[tuple]:
    """Net-charged clusters: list of (row, col, net) in plaquette-centre coarse units."""
    from scipy import ndimage as ndi

    q = np.where(allowed, charge, 0)
    if not q.any():
        return []
    r = max(1, int(math.ceil(cluster)))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disk = (xx**2 + yy**2) <= r * r
    lab, n = ndi.label(ndi.binary_dilation(q != 0, structure=disk))
    out = []
    rows, cols = np.nonzero(q)
    for k in range(1, n + 1):
        sel = lab[rows, cols] == k
        net = int(q[rows[sel], cols[sel]].sum())
        if net == 0:
            continue
        same = sel & (np.sign(q[rows, cols]) == np.sign(net))
        w = np.abs(q[rows[same], cols[same]]).astype(float)
        out.append(
            (
                float(np.average(rows[same], weights=w)) + 0.5,
                float(np.average(cols[same], weights=w)) + 0.5,
                net,
            )
        )
    return out


def _merge(cores: list[list[tuple]], cluster: float, n_g: int) -> list[dict]:
    """Merge per-g cores closer than ``cluster`` (coarse units) into winding vectors."""
    pts = [(r, c, i, net) for i, lst in enumerate(cores) for (r, c, net) in lst]
    used = [False] * len(pts)
    merged = []
    for a, (r, c, i, net) in enumerate(pts):
        if used[a]:
            continue
        used[a] = True
        group = [(r, c, i, net)]
        for b in range(a + 1, len(pts)):
            if not used[b] and math.hypot(pts[b][0] - r, pts[b][1] - c) <= cluster:
                used[b] = True
                group.append(pts[b])
        n = np.zeros(n_g)
        for _, _, gi, nt in group:
            n[gi] += nt
        if np.any(n != 0):
            merged.append(
                {
                    "row": float(np.mean([p[0] for p in group])),
                    "col": float(np.mean([p[1] for p in group])),
                    "n": n,
                }
            )
    return merged


def _distortion(rot: Any, exx: Any, eyy: Any, exy: Any) -> np.ndarray:
    """Eulerian distortion ``D_E = I - F^-1`` (2, 2, ...) from rotation and Biot strain.

    ``F = R U`` with ``U = I + E``, in the convention of
    :func:`stemstrain._strain.polar_decomposition`; the phase gradient of each g is
    ``grad P_g = -2 pi g . D_E``. NaN where the maps are.
    """
    c, s = np.cos(rot), np.sin(rot)
    f00, f01 = c * (1 + exx) + s * exy, c * exy + s * (1 + eyy)
    f10, f11 = -s * (1 + exx) + c * exy, -s * exy + c * (1 + eyy)
    det = f00 * f11 - f01 * f10
    return np.stack([np.stack([1 - f11 / det, f01 / det]), np.stack([f10 / det, 1 - f00 / det])])


def _bilinear(img: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Bilinear samples at (row, col) ``coords`` (2, N); NaN off the image or near NaN."""
    from scipy import ndimage as ndi

    return ndi.map_coordinates(img, coords, order=1, mode="constant", cval=np.nan)


def distortion_sampler(result: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``coords (2, N) -> D_E (2, 2, N)`` from a GPA result's maps, sampled where needed.

    The four maps are interpolated at the circle points only (no image-size copies).
    """
    maps = [np.asarray(getattr(result, k)) for k in ("rotation", "exx", "eyy", "exy")]
    return lambda coords: _distortion(*(_bilinear(m, coords).astype(np.float64) for m in maps))


def _array_sampler(dist: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Sampler of a given distortion array (2, 2, H, W)."""
    return lambda coords: np.stack(
        [np.stack([_bilinear(dist[a, b], coords) for b in range(2)]) for a in range(2)]
    )


def _circle(centres: np.ndarray, radius: Any) -> tuple[np.ndarray, np.ndarray]:
    """Circle points (n_c, N, 2) (row, col) and their x -> y line elements (n_c, N, 2)."""
    t = np.arange(_N_CIRCLE) * (2 * math.pi / _N_CIRCLE)
    ct, st = np.cos(t), np.sin(t)
    rad = np.broadcast_to(np.asarray(radius, dtype=float), (len(centres),))[:, None, None]
    pts = centres[:, None, :] + rad * np.stack([st, ct], axis=-1)[None]
    dl = (2 * math.pi * rad / _N_CIRCLE) * np.stack([-st, ct], axis=-1)[None]  # (dx, dy)
    return pts, dl


def burgers_circuits(
    dist: Any, centres: np.ndarray, radius: Any, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Closure failure ``oint D_E dx`` (n_c, 2; px, image frame) on circles around centres.

    ``dist`` is the distortion (2, 2, H, W) or a sampler (:func:`distortion_sampler`).
    ``radius`` (px) is one number or one per centre (NaN: no circle, NaN result).
    ``centres`` (n_c, 2) are (row, col) px. A circle that leaves the image, touches a
    NaN of the maps or crosses two grain ``labels`` gives NaN; the second return is
    True where it crossed a grain boundary.
    """
    from scipy import ndimage as ndi

    rad = np.broadcast_to(np.asarray(radius, dtype=float), (len(centres),))
    none = ~np.isfinite(rad)
    pts, dl = _circle(np.asarray(centres, dtype=float), np.where(none, 1.0, rad))
    coords = pts.reshape(-1, 2).T
    sample = dist if callable(dist) else _array_sampler(dist)
    d = sample(coords).reshape((2, 2) + pts.shape[:2])
    bvec = np.einsum("abkn,knb->ka", d, dl)
    bvec[none] = np.nan
    boundary = np.zeros(len(pts), dtype=bool)
    if labels is not None:
        lab = ndi.map_coordinates(np.asarray(labels), coords, order=0, mode="nearest")
        lab = lab.astype(np.int64).reshape(pts.shape[:2])
        lo = np.where(lab > 0, lab, np.iinfo(np.int64).max).min(axis=1)
        boundary = (lab.max(axis=1) > 0) & (lo < lab.max(axis=1))
        bvec[boundary] = np.nan
    return bvec, boundary


def _radii(centres: np.ndarray, res_px: float) -> np.ndarray:
    """Circle radii (n_r, n_c) px, NaN where a circle would pass near another centre."""
    d = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    room = d.min(axis=1) - 0.5 * res_px  # (n_c,): a circle must stay inside
    main = np.asarray(_RADII)[:, None] * res_px * np.ones(len(centres))
    close = np.asarray(_CLOSE_RADII)[:, None] * res_px * np.ones(len(centres))
    main = np.where(main <= room, main, np.nan)
    tight = np.isfinite(main).sum(axis=0) < _MIN_CIRCUITS
    close = np.where(tight & (close <= room), close, np.nan)
    return np.concatenate([close, main])


def circuit_test(
    dist: np.ndarray, centres: np.ndarray, g_px: np.ndarray, res_px: float, labels: Any = None
) -> dict:
    """Burgers-circuit significance test of candidate cores.

    Parameters
    ----------
    dist : ndarray (2, 2, H, W) or callable
        The distortion, or :func:`distortion_sampler` of a GPA result.
    centres : ndarray (n_c, 2)
        Candidate (row, col), px.
    g_px : ndarray (n_c, n_g, 2)
        Reference g of each candidate's grain, cycles/px.
    res_px : float
        GPA resolution, px (the circles have ``_RADII`` times it, or ``_CLOSE_RADII``
        near another candidate).
    labels : ndarray of int (H, W), optional
        Grain labels: a circle crossing two grains is not a test.

    Returns
    -------
    dict
        ``keep`` (n_c,) bool, ``n`` (n_c, n_g) integer windings, ``residual`` (largest
        distance of a winding from its integer over the valid circles), ``n_valid``
        (circles inside the crystal and one grain), ``tested`` (``n_valid >=
        _MIN_CIRCUITS``), ``distributed`` (tested, rejected, yet some circle encloses
        more than half a winding: Burgers content spread over a tilt boundary or kink
        band, growing with the radius), ``boundary`` (some circle crossed two grains).
    """
    wind, bound = [], []
    for rad in _radii(centres, res_px):
        bvec, on_b = burgers_circuits(dist, centres, rad, labels)
        wind.append(-np.einsum("cga,ca->cg", g_px, bvec))  # n_g = -g . b
        bound.append(on_b)
    w = np.stack(wind)  # (n_r, n_c, n_g)
    ok = np.isfinite(w).all(axis=2)
    n_int = np.rint(np.where(ok[..., None], w, 0.0))
    resid = np.where(ok[..., None], np.abs(w - n_int), 0.0).max(axis=(0, 2))
    first = np.argmax(ok, axis=0)  # the innermost valid circle
    n_ref = np.take_along_axis(n_int, first[None, :, None], axis=0)[0]
    same = np.where(ok[..., None], n_int == n_ref[None], True).all(axis=(0, 2))
    n_valid = ok.sum(axis=0)
    tested = n_valid >= _MIN_CIRCUITS
    keep = tested & same & (resid <= _MAX_RESIDUAL) & (np.abs(n_ref).sum(axis=1) > 0)
    return {
        "keep": keep,
        "n": n_ref.astype(np.int64),
        "residual": np.where(n_valid > 0, resid, np.nan),
        "n_valid": n_valid,
        "tested": tested,
        "distributed": tested
        & ~keep
        & (np.abs(np.where(ok[..., None], w, 0.0)).max(axis=(0, 2)) > 0.5),
        "boundary": np.stack(bound).any(axis=0),
    }


def _amplitude_dip(result: Any, centres: np.ndarray, n: np.ndarray, res_px: float) -> np.ndarray:
    """Bragg amplitude at each core over its median on the first circle.

    The largest over the g with ``n_g != 0``; a phase singularity is a zero of the
    smoothed amplitude.
    """
    amp = getattr(result, "amplitude", None)
    if amp is None or not len(centres):
        return np.full(len(centres), np.nan)
    pts, _ = _circle(centres, _RADII[0] * res_px)
    ratio = np.empty(n.shape)
    for i in range(n.shape[1]):  # the few g, not the cores
        a_i = np.asarray(amp[i])
        ring = _bilinear(a_i, pts.reshape(-1, 2).T).reshape(pts.shape[:2]).astype(np.float64)
        at = _bilinear(a_i, centres.T).astype(np.float64)
        ratio[:, i] = at / np.maximum(np.median(ring, axis=1), 1e-30)
    ratio = np.where(n != 0, ratio, -np.inf).max(axis=1)
    return np.where(np.isfinite(ratio), ratio, np.nan)


def _grain_g(result: Any, centres: np.ndarray) -> tuple[np.ndarray, Any]:
    """Return the reference g (n_c, n_g, 2; 1/nm) of each centre's grain, and the grain labels."""
    g = np.asarray(result.g_vectors, dtype=float)
    out = np.broadcast_to(g, (len(centres),) + g.shape).copy()
    labels = getattr(result, "grains", None)
    table = getattr(result, "grain_table", ())
    if labels is None or len(table) < 2:
        return out, None
    labels = np.asarray(labels)
    rc = np.clip(np.rint(centres).astype(int), 0, np.array(labels.shape) - 1)
    at = labels[rc[:, 0], rc[:, 1]]
    for row in table:
        gv = np.asarray(row["g_vectors"], dtype=float)
        if gv.shape == g.shape:
            out[at == row["label"]] = gv
    return out, labels


def _candidates(result: Any, cluster_nm: float | None) -> tuple[list, float]:
    """Net-charged phasor clusters (merged over g) and the resolution in coarse units."""
    phasor = result.phasor_lowres
    step_y, step_x = result.lowres_step
    px = result.pixel_size or 1.0
    n_g, m_y, m_x = phasor.shape
    rows = np.minimum(np.round(np.arange(m_y) * step_y).astype(int), result.mask.shape[0] - 1)
    cols = np.minimum(np.round(np.arange(m_x) * step_x).astype(int), result.mask.shape[1] - 1)
    mask_c = np.asarray(result.mask)[rows[:, None], cols[None, :]]
    res_coarse = result.resolution_nm / px / step_x
    cluster = (cluster_nm / px / step_x) if cluster_nm else res_coarse
    # plaquette-level allowed region: all four corners allowed
    allowed = _allowed_region(mask_c, hole_px=(2.0 * res_coarse) ** 2)
    allowed_q = allowed[:-1, :-1] & allowed[1:, :-1] & allowed[:-1, 1:] & allowed[1:, 1:]
    cores = [_cores_one_g(phase_charges(phasor[i]), allowed_q, cluster) for i in range(n_g)]
    return _merge(cores, cluster, n_g), res_coarse


def _warn_untested(test: dict) -> None:
    """Say which candidates could not be tested (circuits leave the crystal / grain)."""
    untested = ~test["tested"]
    n_b = int((untested & test["boundary"]).sum())
    n_o = int((untested & ~test["boundary"]).sum())
    n_d = int(test["distributed"].sum())
    if n_d:
        warnings.warn(
            f"find_dislocations: {n_d} phase singularit{'y' if n_d == 1 else 'ies'} in a region "
            "whose Burgers circuits grow with their radius (a tilt boundary or kink band: "
            "distributed dislocation content, not point cores), not reported",
            UserWarning,
            stacklevel=3,
        )
    if n_b:
        warnings.warn(
            f"find_dislocations: {n_b} phase singularit{'y' if n_b == 1 else 'ies'} on a grain "
            "boundary not reported (a boundary is not a lattice; its dislocation content is "
            "not measured)",
            UserWarning,
            stacklevel=3,
        )
    if n_o:
        warnings.warn(
            f"find_dislocations: {n_o} phase singularit{'y' if n_o == 1 else 'ies'} too close "
            "to the crystal edge (or to another one) for two Burgers circuits, not reported",
            UserWarning,
            stacklevel=3,
        )


def _core_table(result: Any, centres: np.ndarray, keep: np.ndarray, test: dict, dip: Any) -> Any:
    """Tabulate the kept cores (the DataFrame of :func:`find_dislocations`)."""
    import pandas as pd

    b = np.zeros((len(keep), 2))
    if len(keep):
        g_nm, _ = _grain_g(result, centres[keep])
        b = -np.einsum("cag,cg->ca", np.linalg.pinv(g_nm), test["n"][keep].astype(float))
    nvec = np.asarray(result.normal, dtype=float)
    tvec = np.array([nvec[1], -nvec[0]])
    conf = np.minimum(test["n_valid"] / len(_RADII), 1.0) * (1 - 2 * test["residual"])
    table = {
        "x": centres[keep, 1],
        "y": centres[keep, 0],
        "bx": b[:, 0],
        "by": b[:, 1],
        "b": np.hypot(b[:, 0], b[:, 1]),
        "n_windings": [tuple(int(v) for v in test["n"][k]) for k in keep],  # the few cores
        "b_t": b @ tvec,
        "b_n": b @ nvec,
        "circuit_residual": test["residual"][keep],
        "confidence": conf[keep],
        "amplitude_dip": np.asarray(dip, dtype=float)[keep],
        "resolution_nm": np.full(len(keep), float(result.resolution_nm)),
    }
    return pd.DataFrame(table, columns=_COLUMNS)


def coarse_pass(result: Any, cluster_nm: float | None, *, warn: bool = True) -> tuple[Any, dict]:
    """Find the tested cores of one GPA result, and the candidates it could not decide.

    Returns the core table and ``{"close": (k, 2), "no_dip": (k, 2)}`` (row, col px):
    untested singularities with another one within reach of the circuits, and integer
    circuits without an amplitude dip (two cores inside the smallest circle).
    """
    empty = {"close": np.zeros((0, 2)), "no_dip": np.zeros((0, 2))}
    merged, res_coarse = _candidates(result, cluster_nm)
    if not merged:
        return _core_table(result, np.zeros((0, 2)), np.zeros(0, int), _NO_TEST, []), empty
    step_y, step_x = result.lowres_step
    px = result.pixel_size or 1.0
    centres = np.array([[c["row"] * step_y, c["col"] * step_x] for c in merged])
    g_nm, labels = _grain_g(result, centres)
    res_px = res_coarse * step_x
    test = circuit_test(distortion_sampler(result), centres, g_nm * px, res_px, labels)
    if warn:
        _warn_untested(test)
    dip = _amplitude_dip(result, centres, test["n"], res_px)
    no_dip = test["keep"] & (dip > _MAX_DIP)
    if warn and no_dip.any():
        warnings.warn(
            f"find_dislocations: {int(no_dip.sum())} integer Burgers circuit(s) without a dip "
            f"of the Bragg amplitude (> {_MAX_DIP} of the circuit's) not reported",
            UserWarning,
            stacklevel=3,
        )
    d = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    close = ~test["tested"] & ~test["boundary"] & (d.min(axis=1) <= (_RADII[-1] + 0.5) * res_px)
    keep = np.nonzero(test["keep"] & ~no_dip)[0]
    return _core_table(result, centres, keep, test, dip), {
        "close": centres[close],
        "no_dip": centres[no_dip],
    }


_NO_TEST = {"n": np.zeros((0, 0), int), "n_valid": np.zeros(0), "residual": np.zeros(0)}


def find_dislocations(result: Any, *, cluster_nm: float | None = None, image: Any = None) -> Any:
    """Dislocation cores from the phase singularities of a GPA result, each tested.

    Parameters
    ----------
    result : GPAResult
        From :func:`stemstrain.gpa.gpa`.
    cluster_nm : float, optional
        Charges closer than this are one core (default: the GPA resolution), nm
        (px when the result is uncalibrated).
    image : ndarray (H, W) or hyperspy Signal2D, optional
        The image ``result`` was computed from. With it, regions where the coarse maps
        show a strain concentration that no reported core explains (a close dipole or
        pair: their windings cancel or merge at the GPA resolution) are measured again
        with the finest GPA mask the lattice allows, on a crop; without it they are
        only listed and warned about.

    Returns
    -------
    pandas.DataFrame
        A row per core: ``x, y`` (px), ``bx, by`` (nm, Burgers vector in the image frame,
        the closure failure of a loop in the x -> y sense), ``b`` (nm), ``n_windings``
        (per g, tuple), ``b_t, b_n`` (nm, in the layer frame of ``result.normal``),
        ``circuit_residual`` (largest distance of a circuit's winding from the integer,
        0 ... 0.25), ``confidence`` (share of the circuits inside the crystal times
        ``1 - 2 circuit_residual``), ``amplitude_dip`` (Bragg amplitude at the core
        over that on the first circuit; ~0 at a true singularity) and
        ``resolution_nm`` (the GPA resolution of the pass that found it: the result's,
        or the finer one of the second pass). ``attrs["unresolved"]`` is a list of
        records (dicts; ``pandas.DataFrame(table.attrs["unresolved"])`` tabulates them) of
        what neither pass resolved (``x, y`` px, ``kind``, ``excess`` and its
        ``excess_sigma``, ``fine_resolution_nm``), empty when all is explained.

    Raises
    ------
    StemstrainError
        If ``result`` is not a GPA result with phases, or ``image`` does not have its shape.

    Warns
    -----
    UserWarning
        When phase singularities lie on a grain boundary or too near the crystal edge to
        be tested (they are not reported), and for every unresolved strain
        concentration ("consistent with a close dislocation pair ... below the
        resolution", with its position).
    """
    from . import _disloc_pairs as pairs

    if getattr(result, "phasor_lowres", None) is None or getattr(result, "mask", None) is None:
        raise StemstrainError(
            f"find_dislocations needs a GPAResult from stemstrain.gpa() (with phases), got "
            f"{type(result).__name__}"
        )
    cores, info = coarse_pass(result, cluster_nm)
    return pairs.second_look(result, cores, info, image)
