"""One layer-geometry engine for columns, layers, spacing, curvature, stacking, occupancy.

:func:`layer_geometry` links atom columns into layers once, for every consumer
(:func:`trace_layers` numbers the layers from it, :func:`stacking_map` and
:func:`li_layer_occupancy` measure the gaps with it):

1. Neighbours: the k = 20 nearest columns within 2.8 in-plane periods ``a0`` (the
   median nearest-neighbour distance).
2. Reference direction per column, *local*: the axial mean (doubled angle) of the
   nearest-neighbour directions over its 25 nearest columns where that agrees with the
   mean over 150 (else the latter), signed like the global layer direction; where it
   lies within 25 deg of the global direction or more than 55 deg from it, the global
   direction itself (inside the +-31 deg link cone; not misled by a rock-salt rim, whose
   rows at ~70 deg are as dense as the layers). The in-plane neighbour (0.24 nm in a
   layered oxide) is half as far as any column of the next layer, so this follows
   bends, ripples, kinks and grains (one global direction does not: a 40 deg bend
   leaves the link cone).
3. In-layer links: on each side the nearest column within 2.4 a0 and within ~31 deg of
   the reference direction (24 deg beyond 1.35 a0, so that a filled Li-site row is never
   taken); links are kept when mutual (a column has at most one left, one right).
4. Local tangent from the two neighbours, local period (a neighbour 2 periods away
   counts as a missing column), chains = connected paths numbered along n.
5. Upper neighbour (:meth:`LayerGeometry.upper`): the nearest band of columns above
   along the local normal, the column nearest along the local tangent; with its shift
   (fraction of the local period) and spacing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import NoLatticeError

__all__ = ["LayerGeometry", "layer_geometry"]


@dataclass(frozen=True)
class LayerGeometry:
    """Neighbours, local frames, chains and upper layer of every column (px).

    Attributes
    ----------
    pts : ndarray (M, 2)
        Column positions ``(x, y)``.
    a0 : float
        Median nearest-neighbour distance (in-plane period), px.
    t, n : ndarray (2,)
        Global layer direction and canonical normal (``n_y > 0``, ``t = (n_y, -n_x)``).
    left, right : ndarray of int (M,)
        Mutual in-layer neighbours (-1 none).
    tan, nrm : ndarray (M, 2)
        Local unit tangent (oriented like ``t``) and normal (``nrm . n > 0``).
    a_loc, a_l, a_r : ndarray (M,)
        Local in-plane period (both sides, left, right), px.
    chain : ndarray of int (M,)
        Linked path id, numbered in order of the chains' mean position along ``n``.
    up : ndarray of int (M,)
        Column of the layer above (stacking rule: normal offset > 0.6 a, nearest band).
    shift_raw : ndarray (M,)
        In-plane shift of ``up`` along the local tangent, fraction of the local period,
        wrapped to (-1/2, 1/2]; NaN without ``up``.
    spacing : ndarray (M,)
        Normal offset of ``up``, px (NaN without).
    """

    pts: np.ndarray
    a0: float
    t: np.ndarray
    n: np.ndarray
    left: np.ndarray
    right: np.ndarray
    tan: np.ndarray
    nrm: np.ndarray
    a_loc: np.ndarray
    a_l: np.ndarray
    a_r: np.ndarray
    chain: np.ndarray
    up: np.ndarray
    shift_raw: np.ndarray
    spacing: np.ndarray
    _idx: np.ndarray = field(repr=False)
    _vec: np.ndarray = field(repr=False)
    _valid: np.ndarray = field(repr=False)

    def upper(self, *, min_u: float, max_u: float, max_s: float) -> np.ndarray:
        """Nearest column above each column (-1 none) in a window of the local frame.

        Candidates lie ``min_u < u < max_u`` along the local normal and ``|s| < max_s``
        along the local tangent (px); the one with the smallest ``|s|`` is returned.
        """
        s = np.einsum("mkc,mc->mk", self._vec, self.tan)
        u = np.einsum("mkc,mc->mk", self._vec, self.nrm)
        ok = self._valid & (u > min_u) & (u < max_u) & (np.abs(s) < max_s)
        score = np.where(ok, np.abs(s), np.inf)
        j = np.argmin(score, axis=1)
        rows = np.arange(len(self.pts))
        return np.where(np.isfinite(score[rows, j]), self._idx[rows, j], -1)


def _global_frame(vecs: np.ndarray, normal=None) -> tuple[np.ndarray, np.ndarray]:
    """Layer direction t and normal n (n_y > 0): given, or from nearest-neighbour vectors."""
    if normal is not None:
        n = np.asarray(normal, float)
        n = n / np.hypot(*n)
    else:
        ang = 0.5 * np.angle(np.mean(np.exp(2j * np.arctan2(vecs[:, 1], vecs[:, 0]))))
        n = np.array([-np.sin(ang), np.cos(ang)])
    if n[1] < 0 or (n[1] == 0 and n[0] < 0):
        n = -n
    return np.array([n[1], -n[0]]), n


def _reference_directions(pts: np.ndarray, tree, t: np.ndarray) -> np.ndarray:
    """Local layer direction per column, for the in-layer link cone.

    The axial mean (doubled angle) of nearest-neighbour directions over the 25 nearest
    columns ("local") and over the 150 nearest ("wide"): the local one where it is
    coherent (mean resultant >= 0.8) and both agree within 15 deg, else the wide one if
    coherent, else the global one; and the global ``t`` wherever that lies within 25 deg
    (the link cone is +-31 deg) and beyond 55 deg: in rock salt (filled Li sites) the
    Li site is as near as the in-plane neighbour and rows at ~70 deg are as good as the
    layers; a rim of it must not turn the layers. (Layers bent by more than 55 deg from
    the mean direction are thus linked with the global cone and may break there.)
    """
    _, nb = tree.query(pts, k=min(len(pts), 2))
    v = pts[nb[:, 1]] - pts
    z = np.exp(2j * np.arctan2(v[:, 1], v[:, 0]))
    dirs, coherent = [], []
    for k in (25, 150):
        _, around = tree.query(pts, k=min(len(pts), k))
        zm = z[around].mean(axis=1)
        ang = 0.5 * np.angle(zm)
        d = np.c_[np.cos(ang), np.sin(ang)]
        dirs.append(d * np.sign(d @ t + 1e-12)[:, None])
        coherent.append(np.abs(zm) >= 0.8)
    local, wide = dirs
    agree = (np.einsum("ij,ij->i", local, wide) >= np.cos(np.deg2rad(15))) & coherent[0]
    ref = np.where(agree[:, None], local, wide)
    ref[~agree & ~coherent[1]] = t  # mixed directions (rock salt): no local direction
    return _snap(ref, t)


def _snap(ref: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Use the global direction within 25 deg of it and beyond 55 deg (see the notes)."""
    c = ref @ t
    ref = ref.copy()
    ref[(c >= np.cos(np.deg2rad(25))) | (c < np.cos(np.deg2rad(55)))] = t
    return ref


def _chains(left: np.ndarray, right: np.ndarray, pts: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Label the connected chains of in-layer links, numbered by mean position along n."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m = len(pts)
    src = np.r_[np.nonzero(right >= 0)[0], np.nonzero(left >= 0)[0]]
    dst = np.r_[right[right >= 0], left[left >= 0]]
    graph = coo_matrix((np.ones(src.size), (src, dst)), shape=(m, m))
    _, comp = connected_components(graph, directed=False)
    mean_n = np.bincount(comp, weights=pts @ n) / np.bincount(comp)
    return np.argsort(np.argsort(mean_n))[comp]


def _links(vec, dist, valid, idx, ref, a0):
    """Mutual nearest in-layer neighbours on each side of the reference direction."""
    m = len(ref)
    s_g = np.einsum("mkc,mc->mk", vec, ref)
    u_g = np.einsum("mkc,mc->mk", vec, np.c_[-ref[:, 1], ref[:, 0]])
    inlayer = valid & (np.abs(u_g) < np.where(dist < 1.35 * a0, 0.6, 0.45) * np.abs(s_g))
    inlayer &= dist < 2.4 * a0
    dr = np.where(inlayer & (s_g > 0), dist, np.inf)
    dl = np.where(inlayer & (s_g < 0), dist, np.inf)
    rows = np.arange(m)
    jr, jl = np.argmin(dr, axis=1), np.argmin(dl, axis=1)
    right = np.where(np.isfinite(dr[rows, jr]), idx[rows, jr], -1)
    left = np.where(np.isfinite(dl[rows, jl]), idx[rows, jl], -1)
    right = np.where((right >= 0) & (left[np.maximum(right, 0)] == rows), right, -1)
    left = np.full(m, -1)
    left[right[right >= 0]] = np.nonzero(right >= 0)[0]
    return left, right


def _local_period(pts, left, right, a0, t):
    """Local tangent, normal and period from the in-layer neighbours."""
    p_r = np.where((right >= 0)[:, None], pts[np.maximum(right, 0)], pts)
    p_l = np.where((left >= 0)[:, None], pts[np.maximum(left, 0)], pts)
    tan = p_r - p_l
    norm = np.hypot(tan[:, 0], tan[:, 1])
    has_t = norm > 0
    tan = np.where(has_t[:, None], tan / np.where(has_t, norm, 1)[:, None], t)
    nrm = np.c_[-tan[:, 1], tan[:, 0]]
    d_r, d_l = np.hypot(*(p_r - pts).T), np.hypot(*(p_l - pts).T)
    a_r = np.where(right >= 0, d_r / np.maximum(1, np.round(d_r / a0)), np.nan)
    a_l = np.where(left >= 0, d_l / np.maximum(1, np.round(d_l / a0)), np.nan)
    both = np.c_[a_r, a_l]
    n_ok = np.isfinite(both).sum(axis=1)
    a_loc = np.where(n_ok > 0, np.nansum(both, axis=1) / np.maximum(n_ok, 1), np.nan)
    a_loc = np.where(np.isfinite(a_loc), a_loc, a0)
    return (
        tan,
        nrm,
        a_loc,
        np.where(np.isfinite(a_l), a_l, a_loc),
        np.where(np.isfinite(a_r), a_r, a_loc),
        has_t,
    )


def _stacking_up(vec, valid, idx, tan, nrm, a_loc, a_l, a_r, has_t):
    """Upper neighbour by the stacking rule, its shift (periods) and spacing (px)."""
    rows = np.arange(len(tan))
    s_loc = np.einsum("mkc,mc->mk", vec, tan)
    u_loc = np.einsum("mkc,mc->mk", vec, nrm)
    cand = valid & (u_loc > 0.6 * a_loc[:, None]) & (np.abs(s_loc) < 1.6 * a_loc[:, None])
    u_min = np.min(np.where(cand, u_loc, np.inf), axis=1)
    band = cand & (u_loc < u_min[:, None] + 0.5 * a_loc[:, None])
    score = np.where(band, np.abs(s_loc), np.inf)
    jb = np.argmin(score, axis=1)
    has_up = np.isfinite(score[rows, jb]) & has_t
    up = np.where(has_up, idx[rows, jb], -1)
    s_up, u_up = s_loc[rows, jb], u_loc[rows, jb]
    shift = np.where(s_up >= 0, s_up / a_r, s_up / a_l)
    shift = np.where(has_up, (shift + 0.5) % 1.0 - 0.5, np.nan)
    shift = np.where(shift == -0.5, 0.5, shift)
    return up, shift, np.where(has_up, u_up, np.nan)


def table_reference(table) -> np.ndarray | None:
    """Per-column layer direction ``(t_x, t_y)`` of a columns table (find_columns), or None."""
    if table is None or not {"t_x", "t_y"} <= set(getattr(table, "columns", ())):
        return None
    return table[["t_x", "t_y"]].to_numpy(float)


def layer_geometry(pts: np.ndarray, *, normal=None, reference=None) -> LayerGeometry:
    """Link columns ``pts`` (M, 2) px into layers: neighbours, frames, chains, upper layer.

    ``normal`` (optional) fixes the global frame's sign convention. ``reference``
    (M, 2), optional: the local layer direction per column, e.g. from the lattice map
    (``t_x, t_y`` of :func:`find_columns`); NaN rows and a missing ``reference`` are
    estimated from the columns' nearest-neighbour directions. Raises
    :class:`~stemstrain.errors.NoLatticeError` when no period can be measured.
    """
    from scipy.spatial import cKDTree

    pts = np.asarray(pts, float)
    m = len(pts)
    tree = cKDTree(pts)
    dist, idx = tree.query(pts, k=min(m, 2))
    a0 = float(np.median(dist[:, -1])) if m > 1 else np.nan
    if not np.isfinite(a0) or a0 <= 0:
        raise NoLatticeError("columns: could not measure an in-plane period (duplicate positions?)")
    t, n = _global_frame(pts[idx[:, -1]] - pts, normal)
    ref = _reference_directions(pts, tree, t)
    if reference is not None:
        given = np.asarray(reference, float)
        ok = np.isfinite(given).all(axis=1)
        given = given * np.sign(given @ t + 1e-12)[:, None]
        ref[ok] = _snap(given[ok], t)
    dist, idx = tree.query(pts, k=min(m, 20), distance_upper_bound=2.8 * a0)
    valid = np.isfinite(dist) & (idx < m)
    valid[:, 0] = False
    idx = np.where(valid, idx, 0)
    dist = np.where(valid, dist, np.inf)
    vec = pts[idx] - pts[:, None, :]
    left, right = _links(vec, dist, valid, idx, ref, a0)
    tan, nrm, a_loc, a_l, a_r, has_t = _local_period(pts, left, right, a0, t)
    tan = np.where(has_t[:, None], tan, ref)
    nrm = np.c_[-tan[:, 1], tan[:, 0]]
    up, shift, spacing = _stacking_up(vec, valid, idx, tan, nrm, a_loc, a_l, a_r, has_t)
    return LayerGeometry(
        pts=pts,
        a0=a0,
        t=t,
        n=n,
        left=left,
        right=right,
        tan=tan,
        nrm=nrm,
        a_loc=a_loc,
        a_l=a_l,
        a_r=a_r,
        chain=_chains(left, right, pts, n),
        up=up,
        shift_raw=shift,
        spacing=spacing,
        _idx=idx,
        _vec=vec,
        _valid=valid,
    )
