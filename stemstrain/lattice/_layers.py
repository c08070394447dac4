"""Linking TM columns into layers (:func:`trace_layers`).

1. In-plane links and upper neighbours from the one layer-geometry engine
   (:mod:`._geometry`): mutual nearest neighbours on each side along the *local* layer
   direction (up to one missing column), so bends, ripples and kinks are followed.
2. Chains: paths of linked columns. Chain ends are bridged across missing columns
   (gap of 2-3 periods, collinear with the end of the chain within 20 deg).
3. Numbering: for every column the nearest column one layer up (along the local
   normal, from the chain's local tangent) votes for "chain B = chain A + 1"; a
   maximum-vote spanning tree of the chain graph gives each chain an integer layer,
   so a terminating half-plane (dislocation) only breaks the numbering locally.
   Further components of the chain graph (beyond a planar fault) are numbered alike and
   offset to continue the numbering along the normal (nearest integer of their distance
   from the numbered layers). Lone chains take the layer of their nearest numbered
   neighbours offset by their distance along the normal; chains lying half-way between
   layers (cation columns on Li sites, rock-salt regions) stay unassigned (-1). Layers are
   renumbered
   0, 1, 2... in order along the canonical normal ``n`` (n_y > 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import NoLatticeError, StemstrainError

__all__ = ["trace_layers"]


def _best_per_key(keys: np.ndarray, dist: np.ndarray, vals: np.ndarray, n: int) -> np.ndarray:
    """For each key in 0..n-1 the ``vals`` entry with the smallest ``dist`` (-1 if none)."""
    out = np.full(n, -1, dtype=np.int64)
    if keys.size == 0:
        return out
    order = np.lexsort((dist, keys))
    k_sorted = keys[order]
    first = np.r_[True, k_sorted[1:] != k_sorted[:-1]]
    out[k_sorted[first]] = vals[order][first]
    return out


def _chains(left: np.ndarray, right: np.ndarray) -> list[np.ndarray]:
    """Ordered index arrays of the linked paths (one Python step per column, no fits)."""
    chains = []
    for head in np.nonzero(left < 0)[0]:
        path = [head]
        nxt = right[head]
        while nxt >= 0:
            path.append(nxt)
            nxt = right[nxt]
        chains.append(np.asarray(path, dtype=np.int64))
    return chains


def _end_direction(xy: np.ndarray, path: np.ndarray, t: np.ndarray, tail: bool) -> np.ndarray:
    seg = path[-4:] if tail else path[:4]
    if len(seg) < 2:
        return t
    v = xy[seg[-1]] - xy[seg[0]]
    return v / np.hypot(*v)


def _bridge(
    xy: np.ndarray, chains: list[np.ndarray], t: np.ndarray, period: float, spacing: float
) -> list[np.ndarray]:
    """Join chain ends across missing columns (2-3 periods apart, collinear)."""
    from scipy.spatial import cKDTree

    if len(chains) < 2:
        return chains
    heads = np.array([c[0] for c in chains])
    tails = np.array([c[-1] for c in chains])
    tree = cKDTree(xy[heads])
    cand = []
    for a, tail in enumerate(tails):
        direc = _end_direction(xy, chains[a], t, tail=True)
        for b in tree.query_ball_point(xy[tail], 3.3 * period):
            if b == a:
                continue
            d = xy[heads[b]] - xy[tail]
            dist = np.hypot(*d)
            along = d @ direc
            m = along / period
            if (
                along <= 0
                or abs(m - round(m)) > 0.3
                or round(m) < 2
                or abs(d[0] * direc[1] - d[1] * direc[0]) > 0.2 * spacing
            ):
                continue
            cand.append((dist, a, b))
    cand.sort()
    nxt, prev = {}, {}
    for _, a, b in cand:
        if a in nxt or b in prev:
            continue
        # no cycles: walk back from a
        c = a
        while c in prev and c != b:
            c = prev[c]
        if c == b:
            continue
        nxt[a], prev[b] = b, a
    merged = []
    for a in range(len(chains)):
        if a in prev:
            continue
        parts = [chains[a]]
        while a in nxt:
            a = nxt[a]
            parts.append(chains[a])
        merged.append(np.concatenate(parts))
    return merged


def _local_frames(xy: np.ndarray, chains: list[np.ndarray], t: np.ndarray, n: np.ndarray):
    """Per-column unit tangent (from chain neighbours), oriented like ``t``."""
    tan = np.tile(t, (len(xy), 1)).astype(float)
    for path in chains:
        if len(path) < 2:
            continue
        p = xy[path]
        d = np.gradient(p, axis=0)
        d /= np.hypot(d[:, 0], d[:, 1])[:, None]
        tan[path] = d
    nor = np.c_[-tan[:, 1], tan[:, 0]]
    nor *= np.sign(nor @ n + 1e-12)[:, None]
    return tan, nor


def _up_votes(geo, chain_of, period, spacing):
    """Pairs (chain below, chain above, votes) from each column's nearest upper neighbour.

    The upper neighbour comes from the layer-geometry engine (local frame of the column):
    0.55-1.45 spacings along the local normal, within 0.62 periods along the tangent.
    """
    up = geo.upper(min_u=0.55 * spacing, max_u=1.45 * spacing, max_s=0.62 * period)
    ok = up >= 0
    ok[ok] = chain_of[ok] != chain_of[up[ok]]
    src = np.nonzero(ok)[0]
    ab = np.c_[chain_of[src], chain_of[up[src]]]
    if ab.size == 0:
        return np.zeros((0, 3), dtype=np.int64)
    uniq, counts = np.unique(ab, axis=0, return_counts=True)
    return np.c_[uniq, counts]


def _number_chains(n_chains: int, votes: np.ndarray, sizes: np.ndarray):
    """Integer layer per chain from a maximum-vote spanning forest (-10**9 = none).

    Every connected component of the chain graph is numbered from its largest chain;
    returns (layer, component id: 0 the largest component, -1 lone chains).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

    layer = np.full(n_chains, -(10**9), dtype=np.int64)
    if votes.size == 0:
        return layer, np.full(n_chains, -1, dtype=np.int64)
    a, b, c = votes[:, 0], votes[:, 1], votes[:, 2].astype(float)
    # symmetric weights; MST of (max - votes) = maximum-vote spanning forest
    w = coo_matrix((c, (np.minimum(a, b), np.maximum(a, b))), shape=(n_chains, n_chains)).tocsr()
    cost = w.copy()
    cost.data = (w.data.max() + 1.0) - w.data
    tree = minimum_spanning_tree(cost)
    tree = tree + tree.T
    count = {(int(x), int(y)): int(k) for x, y, k in zip(a, b, votes[:, 2], strict=True)}
    visited = np.zeros(n_chains, dtype=bool)
    comp = np.full(n_chains, -1, dtype=np.int64)
    n_comp = 0
    for root in np.argsort(sizes)[::-1]:
        if visited[root]:
            continue
        order, pred = breadth_first_order(tree, root, directed=False, return_predecessors=True)
        visited[order] = True
        if len(order) == 1:
            continue  # a lone chain: attached later by its neighbours
        layer[root] = 0
        for node in order[1:]:
            p = pred[node]
            up_votes = count.get((int(p), int(node)), 0)
            step = 1 if up_votes >= count.get((int(node), int(p)), 0) else -1
            layer[node] = layer[p] + step
        comp[order] = n_comp
        n_comp += 1
    return layer, comp


def _align_components(xy, chains, layer_of_chain, comp, nor, spacing):
    """Offset each further component's numbering to continue along the normal.

    (Components beyond a planar fault or a grain boundary, numbered on their own.) A
    component lying half-way between the layers is left unnumbered unless it holds at
    least 35 % of the columns (rows of filled Li sites in rock salt, not a fault).
    """
    from scipy.spatial import cKDTree

    if comp.max() < 1:
        return layer_of_chain
    cidx = [
        np.concatenate([chains[c] for c in np.nonzero(comp == k)[0]]) for k in range(comp.max() + 1)
    ]
    clay = [
        np.concatenate(
            [np.full(len(chains[c]), layer_of_chain[c]) for c in np.nonzero(comp == k)[0]]
        )
        for k in range(comp.max() + 1)
    ]
    done_idx, done_lay = cidx[0], clay[0]
    for k in range(1, comp.max() + 1):
        p = cidx[k]
        tree = cKDTree(xy[done_idx])
        _, nb = tree.query(xy[p], k=min(4, len(done_idx)))
        nb = nb.reshape(len(p), -1)
        dn = np.einsum("ikj,ij->ik", xy[p][:, None, :] - xy[done_idx[nb]], nor[p])
        est = done_lay[nb] + dn / spacing - clay[k][:, None]
        off = int(np.floor(np.median(est) + 0.5))
        if np.median(np.abs(est - np.rint(est))) > 0.25 and len(p) < 0.35 * len(
            xy
        ):  # a small half-way set (filled Li sites)
            layer_of_chain[comp == k] = -(10**9)
            continue
        layer_of_chain[comp == k] += off
        done_idx = np.r_[done_idx, p]
        done_lay = np.r_[done_lay, clay[k] + off]
    return layer_of_chain


def _attach_rest(xy, chains, layer_of_chain, nor, spacing):
    """Give chains outside the main graph the layer of their nearest numbered columns."""
    from scipy.spatial import cKDTree

    done = layer_of_chain > -(10**9)
    if done.all() or not done.any():
        return layer_of_chain
    idx_done = np.concatenate([chains[c] for c in np.nonzero(done)[0]])
    lay_done = np.concatenate(
        [np.full(len(chains[c]), layer_of_chain[c]) for c in np.nonzero(done)[0]]
    )
    tree = cKDTree(xy[idx_done])
    for c in np.nonzero(~done)[0]:
        p = chains[c]
        _, k = tree.query(xy[p], k=min(4, len(idx_done)))
        k = np.atleast_2d(k.T).T if k.ndim == 1 else k
        dn = np.einsum("ikj,ij->ik", xy[p][:, None, :] - xy[idx_done[k]], nor[p])
        est_f = lay_done[k] + dn / spacing
        if np.median(np.abs(est_f - np.rint(est_f))) > 0.25:
            continue  # half-way between layers (TM on Li sites, rock salt): leave unassigned
        vals, cnt = np.unique(np.rint(est_f).astype(np.int64), return_counts=True)
        layer_of_chain[c] = vals[np.argmax(cnt)]
    return layer_of_chain


def _positions(xy, chains, layer_of_chain, t, period):
    """Index along the layer: cumulative within a chain, chains of a layer aligned along t."""
    pos = np.zeros(len(xy), dtype=np.int64)
    origin: dict[int, np.ndarray] = {}
    for c in np.argsort([-len(p) for p in chains]):
        path = chains[c]
        step = np.hypot(*np.diff(xy[path], axis=0).T) / period
        p = np.r_[0, np.cumsum(np.maximum(np.rint(step), 1))].astype(np.int64)
        lay = int(layer_of_chain[c])
        if lay in origin:
            p += int(np.rint((xy[path[0]] - origin[lay]) @ t / period))
        elif lay > -(10**9):
            origin[lay] = xy[path[0]]
        pos[path] = p
    return pos


def _engine_links(xy, df, n, period):
    """Layer geometry of the columns and its in-layer links up to 1.45 periods long.

    Links across a missing column are left to :func:`_bridge` (collinearity-checked).
    """
    from ._geometry import layer_geometry, table_reference

    geo = layer_geometry(xy, normal=n, reference=table_reference(df))
    right = geo.right.copy()
    far = (right >= 0) & (np.hypot(*(xy[np.maximum(right, 0)] - xy).T) > 1.45 * period)
    right[far] = -1
    left = np.full(len(xy), -1)
    left[right[right >= 0]] = np.nonzero(right >= 0)[0]
    return geo, left, right


def trace_layers(
    columns: Any,
    *,
    normal: tuple[float, float] | None = None,
    period_px: float | None = None,
    spacing_px: float | None = None,
) -> Any:
    """Link TM columns into layers and number the layers along the normal.

    Parameters
    ----------
    columns : pandas.DataFrame
        Columns with ``x, y`` (px), e.g. from :func:`find_columns`; its ``attrs``
        supply the defaults of the other parameters.
    normal : (float, float), optional
        Layer normal ``(n_x, n_y)`` (sign is made canonical: n_y > 0).
    period_px : float, optional
        In-plane column period, px (default: ``attrs["period_px"]``, else the median
        nearest-neighbour distance).
    spacing_px : float, optional
        Interlayer spacing, px (default: ``attrs["spacing_px"]``).

    Returns
    -------
    pandas.DataFrame
        A copy of ``columns`` with ``layer`` (0, 1, ... along ``n``; -1 unassigned),
        ``layer_pos`` (index along the layer; consecutive columns differ by 1),
        ``chain`` (linked-path id), ``s, n`` (layer-frame coordinates, px) and
        ``attrs`` updated (``normal``, ``tangent``, ``period_px``, ``spacing_px``,
        ``n_layers``).

    Raises
    ------
    StemstrainError
        Missing ``x``/``y`` columns, no normal or spacing known.
    NoLatticeError
        Fewer than 4 columns.
    """
    if not hasattr(columns, "columns") or not {"x", "y"} <= set(columns.columns):
        raise StemstrainError(
            "columns must be a DataFrame with 'x' and 'y' (px), e.g. from find_columns"
        )
    df = columns.copy()
    df.attrs = dict(columns.attrs)
    if len(df) < 4:
        raise NoLatticeError(f"columns: only {len(df)} columns, need at least 4 to trace layers")
    normal = normal if normal is not None else df.attrs.get("normal")
    spacing = spacing_px if spacing_px is not None else df.attrs.get("spacing_px")
    if normal is None or spacing is None:
        raise StemstrainError(
            "trace_layers needs normal= and spacing_px= (or columns from "
            "find_columns, whose attrs hold them)"
        )
    n = np.asarray(normal, dtype=float)
    n = n / np.hypot(*n)
    if n[1] < 0 or (n[1] == 0 and n[0] < 0):
        n = -n
    t = np.array([n[1], -n[0]])
    xy = df[["x", "y"]].to_numpy(float)
    period = period_px if period_px is not None else df.attrs.get("period_px")
    if period is None or not np.isfinite(period):
        from scipy.spatial import cKDTree

        dd, _ = cKDTree(xy).query(xy, k=2)
        period = float(np.median(dd[:, 1]))
    period, spacing = float(period), float(spacing)
    geo, left, right = _engine_links(xy, df, n, period)
    chains = _bridge(xy, _chains(left, right), t, period, spacing)
    chain_of = np.empty(len(xy), dtype=np.int64)
    for c, path in enumerate(chains):
        chain_of[path] = c
    tan, nor = _local_frames(xy, chains, t, n)
    votes = _up_votes(geo, chain_of, period, spacing)
    sizes = np.array([len(c) for c in chains])
    layer_of_chain, comp = _number_chains(len(chains), votes, sizes)
    layer_of_chain = _align_components(xy, chains, layer_of_chain, comp, nor, spacing)
    layer_of_chain = _attach_rest(xy, chains, layer_of_chain, nor, spacing)
    ok = layer_of_chain > -(10**9)
    if ok.any():
        layer_of_chain = np.where(ok, layer_of_chain - layer_of_chain[ok].min(), -1)
    else:
        layer_of_chain[:] = -1
    pos = _positions(xy, chains, layer_of_chain, t, period)
    df["layer"] = layer_of_chain[chain_of]
    df["layer_pos"] = pos
    df["chain"] = chain_of
    df["s"] = xy @ t
    df["n"] = xy @ n
    df.attrs.update(
        normal=(float(n[0]), float(n[1])),
        tangent=(float(t[0]), float(t[1])),
        period_px=period,
        spacing_px=spacing,
        n_layers=int(df["layer"].max() + 1) if ok.any() else 0,
    )
    return df
