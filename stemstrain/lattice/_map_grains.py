"""Grains, consistent bases, layered lattices and scan anisotropy (private to lattice_map).

*Same lattice* test between two bases A, B (rows g1, g2): ``U = round(B A^-1)``
must be unimodular (|det U| = 1: any equivalent choice of basis, which covers the
60/90 deg symmetry of hexagonal/square lattices and the sign of g) and
``|B_i - (U A)_i| <= tol |B_i|`` for each row i (tol = sin(misorientation) ~ angle and relative
length). Windows are joined to their 4-neighbours when they pass; grains are the
connected components (largest = 1; 0 = not crystalline).

Within a grain every window's basis is made *the same choice* as the grain's most
confident window by composing the integer matrices along a breadth-first tree
(pointer jumping: log2(depth) vectorised steps), so the g field is continuous
through bends (the basis rotates smoothly instead of flipping sign or swapping).
Sub-/superlattices of small index (a window that misses a weak reflection family, or
sees a superstructure) belong to the grain; the grain's lattice is the most common
cell, and each window's ``cell_ratio`` (its reciprocal cell area over the grain's)
marks superstructure (< 1) or missing reflections (> 1).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "same_lattice",
    "segment_grains",
    "align_bases",
    "layer_normal_first",
    "isotropic_pair",
    "anisotropy_ratio",
]


def _inv2(b: np.ndarray) -> np.ndarray:
    det = b[..., 0, 0] * b[..., 1, 1] - b[..., 0, 1] * b[..., 1, 0]
    inv = np.stack(
        [np.stack([b[..., 1, 1], -b[..., 0, 1]], -1), np.stack([-b[..., 1, 0], b[..., 0, 0]], -1)],
        -2,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return inv / det[..., None, None]


def same_lattice(
    a: np.ndarray, b: np.ndarray, tol: float, max_det: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Whether bases ``b`` and ``a`` (..., 2, 2) describe one crystal, and M with b ~ M a.

    Equivalent bases (M integer, |det M| = 1) and sub-/super-lattices of index up to
    ``max_det`` (M or M^-1 integer: a window where a weak reflection family was missed,
    or where a superstructure appears) pass; M is then rational.
    """
    with np.errstate(all="ignore"):
        m = np.nan_to_num(np.einsum("...ij,...jk->...ik", b, _inv2(a)))
        u = np.rint(m)
        mi = np.nan_to_num(_inv2(m))
        ui = np.rint(mi)
        det_u = u[..., 0, 0] * u[..., 1, 1] - u[..., 0, 1] * u[..., 1, 0]
        det_ui = ui[..., 0, 0] * ui[..., 1, 1] - ui[..., 0, 1] * ui[..., 1, 0]
        use_u = (np.abs(det_u) >= 1) & (np.abs(det_u) <= max_det)
        # prefer the integer direction; otherwise the inverse integer one
        cand = np.where(use_u[..., None, None], u, np.nan_to_num(_inv2(ui)))
        good_det = use_u | ((np.abs(det_ui) >= 1) & (np.abs(det_ui) <= max_det))
        err = np.linalg.norm(b - np.einsum("...ij,...jk->...ik", cand, a), axis=-1)
        size = np.linalg.norm(b, axis=-1)
        ok = good_det & (err <= tol * size).all(-1)
    finite = np.isfinite(a).all((-2, -1)) & np.isfinite(b).all((-2, -1))
    return ok & finite, cand


def segment_grains(
    basis: np.ndarray, crystalline: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Label grid (int, 0 = not crystalline, 1 = largest grain) of bases (ny, nx, 2, 2).

    Also returns the joined edges (m, 2) of flat window indices.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ny, nx = crystalline.shape
    node = np.arange(ny * nx).reshape(ny, nx)
    src, dst = [], []
    for sl_a, sl_b in (
        ((slice(None), slice(0, -1)), (slice(None), slice(1, None))),
        ((slice(0, -1), slice(None)), (slice(1, None), slice(None))),
    ):
        ok, _ = same_lattice(basis[sl_a], basis[sl_b], tol)
        ok &= crystalline[sl_a] & crystalline[sl_b]
        src.append(node[sl_a][ok])
        dst.append(node[sl_b][ok])
    src, dst = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(ny * nx, ny * nx))
    _, comp = connected_components(graph, directed=False)
    # a window alone in its component (often one straddling a boundary, mixing two
    # lattices) joins its best-matching neighbour within 2 x tol
    sizes = np.bincount(comp)
    lone = (sizes[comp] == 1).reshape(ny, nx) & crystalline
    if lone.any():  # join the single best-matching neighbour (never bridge two grains)
        best_err = np.full((ny, nx), np.inf)
        best_nb = np.full((ny, nx), -1)
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            nb = np.roll(basis, (-dy, -dx), axis=(0, 1))
            valid = np.roll(crystalline, (-dy, -dx), axis=(0, 1))
            iy, ix = np.mgrid[0:ny, 0:nx]
            valid &= (iy + dy >= 0) & (iy + dy < ny) & (ix + dx >= 0) & (ix + dx < nx)
            ok, m = same_lattice(nb, basis, 2 * tol)
            with np.errstate(all="ignore"):
                err = np.linalg.norm(basis - np.einsum("...ij,...jk->...ik", m, nb), axis=-1)
                err = (err / np.linalg.norm(basis, axis=-1)).max(-1)
            better = ok & valid & lone & (err < best_err)
            best_err = np.where(better, err, best_err)
            best_nb = np.where(better, np.roll(node, (-dy, -dx), axis=(0, 1)), best_nb)
        has = best_nb >= 0
        src = np.concatenate([src, node[has]])
        dst = np.concatenate([dst, best_nb[has]])
        graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(ny * nx, ny * nx))
        _, comp = connected_components(graph, directed=False)
    comp = np.where(crystalline.ravel(), comp, -1)
    labels, counts = np.unique(comp[comp >= 0], return_counts=True)
    order = labels[np.argsort(-counts, kind="stable")]
    lut = np.zeros(comp.max() + 2 if comp.size else 1, dtype=np.int32)
    lut[order] = np.arange(1, len(order) + 1)
    out = np.where(comp >= 0, lut[np.maximum(comp, 0)], 0)
    return out.reshape(ny, nx).astype(np.int32), np.stack([src, dst], -1)


def align_bases(
    basis: np.ndarray,
    grains: np.ndarray,
    edges: np.ndarray,
    confidence: np.ndarray,
    tol: float,
) -> np.ndarray:
    """Make every window's basis the same choice as its grain's most confident window."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order

    ny, nx = grains.shape
    flat = basis.reshape(-1, 2, 2)
    lab = grains.ravel()
    src, dst = edges[:, 0], edges[:, 1]
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(ny * nx, ny * nx)).tocsr()
    pred = np.arange(ny * nx)
    conf = np.where(lab > 0, np.nan_to_num(confidence.ravel()), -1.0)
    area = np.abs(flat[:, 0, 0] * flat[:, 1, 1] - flat[:, 0, 1] * flat[:, 1, 0])
    for g in range(1, int(lab.max()) + 1):  # one breadth-first tree per grain
        members = np.nonzero(lab == g)[0]
        # root: the most confident window of the most common cell (sub-/superlattices)
        code = np.rint(np.log(area[members]) / 0.05).astype(np.int64)
        vals, counts = np.unique(code, return_counts=True)
        common = np.abs(code - vals[np.argmax(counts)]) <= 1
        root = members[common][np.argmax(conf[members][common])]
        order, p = breadth_first_order(graph, root, directed=False)
        pred[order[1:]] = p[order[1:]]
    # relative integer matrix to the predecessor: B_node ~ U B_pred
    _, u = same_lattice(flat[pred], flat, 2 * tol)
    u = np.where((pred == np.arange(len(pred)))[:, None, None], np.eye(2), u)
    # pointer jumping: T = U_node U_pred ... U_root
    t, p = u.copy(), pred.copy()
    for _ in range(int(np.ceil(np.log2(max(ny * nx, 2)))) + 1):
        t = np.einsum("nij,njk->nik", t, t[p])
        p = p[p]
    aligned = np.einsum("nij,njk->nik", _inv2(t), flat)
    aligned = np.where((lab > 0)[:, None, None], aligned, np.nan)
    return aligned.reshape(basis.shape)


def layer_normal_first(b: np.ndarray, ratio: float = 0.68) -> tuple[np.ndarray, bool]:
    """Put the layer normal first in one basis (2, 2) if the lattice is layered.

    Layered: the shorter basis vector is at most ``ratio`` x the other's component
    perpendicular to it, i.e. the period along one direction is > 1/ratio = 1.67 x the
    in-plane one: 1/ratio = 1.47 (LiCoO2 edge-on 1.9, YBa2Cu3O7 1.5 on its strong (002),
    a doubled perovskite 2; a [110] perovskite, sqrt(2) = 1.41, is not). The normal is
    made to point to +y (n_y > 0), the second vector
    keeps a right-handed basis.
    """
    lengths = np.linalg.norm(b, axis=1)
    i = int(np.argmin(lengths))
    n = b[i] / lengths[i]
    other = b[1 - i]
    perp = abs(other[0] * n[1] - other[1] * n[0])  # other's component across the normal
    layered = bool(lengths[i] <= ratio * perp)
    out = np.stack([b[i], b[1 - i]]) if layered else b.copy()
    if layered:
        if out[0, 1] < 0 or (out[0, 1] == 0 and out[0, 0] < 0):
            out[0] = -out[0]
        cross = out[0, 0] * out[1, 1] - out[0, 1] * out[1, 0]
        if cross < 0:
            out[1] = -out[1]
    return out, layered


def _net_candidates(layered: bool) -> list[tuple[np.ndarray, tuple[str, ...], float, float]]:
    """Index pairs (rows: u, v in the basis) tried as a square/hexagonal net.

    Non-layered: pairs of g1, g2, g1 + g2, g1 - g2 (square or hexagonal). Layered:
    u = k g1 (k = 1..3, harmonics of the layer normal) against v = g2 + m g1 (square
    only: the sub-cell of a layered perovskite such as YBa2Cu3O7, c/3 ~ a).
    """
    low = [(1, 0), (0, 1), (1, 1), (1, -1)]
    if not layered:
        return [
            (np.array([p, q]), ("square", "hexagonal"), 6.0, 0.08)
            for i, p in enumerate(low)
            for q in low[i + 1 :]
        ]
    # layered: the sub-cell must be square to 3 deg and 3.5 % (YBa2Cu3O7: c/3 vs a, b within
    # 2 %); LiCoO2 edge-on (2 (003) vs the in-plane reflection: 4 % and ~10 deg, or 5.6 %
    # and 3 deg where a ripple shears it) must not pass
    return [
        (np.array([(k, 0), (m, 1)]), ("square",), 3.0, 0.035)
        for k in (1, 2, 3)
        for m in range(-3, 4)
    ]


def isotropic_pair(
    b: np.ndarray, *, layered: bool = False, length_tol: float = 0.08, angle_tol_deg: float = 6.0
) -> tuple[str, np.ndarray] | None:
    """Find low-index lattice vectors u, v of basis ``b`` forming a square or hexagonal net.

    Returns ``(kind, idx)`` with idx (2, 2) integer rows (indices of u and v in the
    basis), or None when the lattice is not (near) square/hexagonal.
    """
    best = None
    for idx, kinds, ang_tol, len_tol in _net_candidates(layered):
        u, v = idx.astype(float) @ b
        lu, lv = np.linalg.norm(u), np.linalg.norm(v)
        if not (lu > 0 and lv > 0):
            continue
        rel = abs(lu / lv - 1)
        ang = np.degrees(np.arccos(np.clip(abs(u @ v) / (lu * lv), 0, 1)))
        for kind, target in (("square", 90.0), ("hexagonal", 60.0)):
            if (
                kind not in kinds
                or rel > min(length_tol, len_tol)
                or abs(ang - target) > min(angle_tol_deg, ang_tol)
            ):
                continue
            cost = np.abs(idx).sum() + rel / length_tol + abs(ang - target) / angle_tol_deg
            if best is None or cost < best[0]:
                best = (cost, kind, idx)
    return None if best is None else (best[1], best[2])


def anisotropy_ratio(basis: np.ndarray, kind: str, idx: np.ndarray) -> np.ndarray:
    """Apparent x/y length-scale ratio r of each basis (..., 2, 2) of an isotropic net.

    The true net is ``diag(r, 1)`` applied to the observed g (so lengths along x
    appear r times longer than along y): equal-length pairs give
    ``r^2 (ux^2 - vx^2) + (uy^2 - vy^2) = 0``, solved by least squares.
    """
    u = np.einsum("i,...ij->...j", idx[0].astype(float), basis)
    v = np.einsum("i,...ij->...j", idx[1].astype(float), basis)
    if kind == "square":
        pairs = [(u, v), (u + v, u - v)]
    else:
        w = (
            u - v
            if np.linalg.norm(np.nanmedian((u - v).reshape(-1, 2), 0))
            < np.linalg.norm(np.nanmedian((u + v).reshape(-1, 2), 0))
            else u + v
        )
        pairs = [(u, v), (u, w)]
    num = np.zeros(basis.shape[:-2])
    den = np.zeros(basis.shape[:-2])
    for p, q in pairs:
        ax = p[..., 0] ** 2 - q[..., 0] ** 2
        ay = p[..., 1] ** 2 - q[..., 1] ** 2
        scale = (p**2).sum(-1) + (q**2).sum(-1)
        ax, ay = ax / scale, ay / scale
        num += ax * ay
        den += ax * ax
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = -num / den
    return np.sqrt(np.where(r2 > 0, r2, np.nan))


def _match(f: np.ndarray, p: np.ndarray, tol: float) -> np.ndarray:
    """Whether vectors f (..., 2) equal +-one of p (..., K, 2) within tol |f|."""
    d = np.minimum(
        np.linalg.norm(p - f[..., None, :], axis=-1), np.linalg.norm(p + f[..., None, :], axis=-1)
    )
    return (np.nan_to_num(d, nan=np.inf) <= tol * np.linalg.norm(f, axis=-1)[..., None]).any(-1)


def fringe_windows(
    peaks: np.ndarray,
    lattice_2d: np.ndarray,
    tol: float,
    first_label: int,
    basis: np.ndarray | None = None,
    grains: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows with one set of lattice fringes (a crystal off its zone axis).

    A window without a 2-D lattice whose strongest significant peak is also found in a
    4-neighbour window (so not an isolated noise peak) holds fringes. Connected fringe
    windows with the same g are one grain (labels from ``first_label``).

    Returns
    -------
    fringes : ndarray of bool (ny, nx)
    g : ndarray (ny, nx, 2)
        The fringe g (cycles/px), sign with gy > 0 (or gx > 0), NaN elsewhere.
    labels : ndarray of int (ny, nx)
        Grain labels of fringe windows (0 elsewhere).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ny, nx = lattice_2d.shape
    f = peaks[:, :, 0, :]
    cand = ~lattice_2d & np.isfinite(f).all(-1)
    support = np.zeros((ny, nx), dtype=bool)
    node = np.arange(ny * nx).reshape(ny, nx)
    src, dst = [], []
    for sl_a, sl_b in (
        ((slice(None), slice(0, -1)), (slice(None), slice(1, None))),
        ((slice(0, -1), slice(None)), (slice(1, None), slice(None))),
    ):
        ab = _match(f[sl_a], peaks[sl_b], tol) & cand[sl_a]
        ba = _match(f[sl_b], peaks[sl_a], tol) & cand[sl_b]
        support[sl_a] |= ab
        support[sl_b] |= ba
        both = cand[sl_a] & cand[sl_b] & _match(f[sl_a], f[sl_b][..., None, :], tol)
        src.append(node[sl_a][both])
        dst.append(node[sl_b][both])
    fringes = cand & support
    flip = (f[..., 1] < 0) | ((f[..., 1] == 0) & (f[..., 0] < 0))
    g = np.where(fringes[..., None], np.where(flip[..., None], -f, f), np.nan)
    attached = np.zeros((ny, nx), dtype=np.int32)
    if basis is not None and grains is not None and (grains > 0).any():
        attached = _attach_fringes(g, fringes, basis, grains, tol)
    src, dst = np.concatenate(src), np.concatenate(dst)
    keep = fringes.ravel()[src] & fringes.ravel()[dst]
    graph = coo_matrix((np.ones(int(keep.sum())), (src[keep], dst[keep])), shape=(ny * nx, ny * nx))
    _, comp = connected_components(graph, directed=False)
    comp = np.where(fringes.ravel(), comp, -1)
    # a fringe component touching a 2-D grain whose lattice holds its g joins that grain
    for lab in np.unique(attached[attached > 0]):
        comps = np.unique(comp[(attached.ravel() == lab)])
        comp = np.where(np.isin(comp, comps) & (comps >= 0).all(), -2 - lab, comp)
    joined = comp <= -2
    labels_join = np.where(joined, -2 - comp, 0)
    comp = np.where(joined, -1, comp)
    labels = np.zeros(ny * nx, dtype=np.int32)
    if (comp >= 0).any():
        vals, counts = np.unique(comp[comp >= 0], return_counts=True)
        order = vals[np.argsort(-counts, kind="stable")]
        lut = np.zeros(comp.max() + 1, dtype=np.int32)
        lut[order] = np.arange(first_label, first_label + len(order))
        labels = np.where(comp >= 0, lut[np.maximum(comp, 0)], 0).astype(np.int32)
    labels = np.where(joined, labels_join, labels).astype(np.int32)
    return fringes, g, labels.reshape(ny, nx)


def _attach_fringes(
    g: np.ndarray, fringes: np.ndarray, basis: np.ndarray, grains: np.ndarray, tol: float
) -> np.ndarray:
    """Grain label of the 2-D neighbour whose lattice indexes each fringe g (|h|, |k| <= 3)."""
    ny, nx = fringes.shape
    out = np.zeros((ny, nx), dtype=np.int32)
    iy, ix = np.mgrid[0:ny, 0:nx]
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        nb_b = np.roll(basis, (-dy, -dx), axis=(0, 1))
        nb_g = np.roll(grains, (-dy, -dx), axis=(0, 1))
        inside = (iy + dy >= 0) & (iy + dy < ny) & (ix + dx >= 0) & (ix + dx < nx)
        with np.errstate(all="ignore"):
            coef = np.einsum("yxc,yxcd->yxd", np.nan_to_num(g), _inv2(nb_b))
            rnd = np.rint(coef)
            near = np.linalg.norm(np.einsum("yxd,yxdc->yxc", rnd, nb_b) - g, axis=-1)
            ok = (near <= tol * np.linalg.norm(g, axis=-1)) & (np.abs(rnd).max(-1) <= 3)
        hit = fringes & inside & (nb_g > 0) & (out == 0) & ok & (np.abs(rnd).max(-1) > 0)
        out = np.where(hit, nb_g, out)
    return out


def absorb_mixed(
    basis: np.ndarray,
    grains: np.ndarray,
    peaks: np.ndarray,
    weight: np.ndarray,
    explained: np.ndarray,
    *,
    min_explained: float = 0.6,
    min_windows: int = 3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Give windows that straddle a boundary to the neighbouring grain that indexes them best.

    A window whose own lattice explains less than ``min_explained`` of its peak
    significance (two lattices in one window), or whose grain has fewer than
    ``min_windows`` windows, is re-indexed with each 4-neighbour's (aligned) basis from
    a larger grain; the best-indexing neighbour's grain and basis are taken. Labels are
    then renumbered by size. Returns (basis, grains, fraction explained).
    """
    ny, nx = grains.shape
    sizes = np.bincount(grains.ravel())
    big = (grains > 0) & (sizes[grains] >= min_windows) & (explained >= min_explained)
    weak = (grains > 0) & ~big
    if not weak.any() or not big.any():
        return basis, grains, explained
    basis, grains, explained = basis.copy(), grains.copy(), explained.copy()
    iy, ix = np.mgrid[0:ny, 0:nx]
    for _ in range(3):  # a few passes for boundaries more than one window wide
        best = np.zeros((ny, nx))
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            inside = (iy + dy >= 0) & (iy + dy < ny) & (ix + dx >= 0) & (ix + dx < nx)
            nb_b = np.roll(basis, (-dy, -dx), axis=(0, 1))
            nb_ok = np.roll(big, (-dy, -dx), axis=(0, 1)) & inside & weak
            with np.errstate(all="ignore"):
                coef = np.einsum("yxkc,yxcd->yxkd", np.nan_to_num(peaks), _inv2(nb_b))
                rnd = np.rint(coef)
                idx = (np.abs(coef - rnd).max(-1) < 0.15) & (np.abs(rnd).max(-1) <= 4)
            score = (idx * weight).sum(-1) / np.maximum(weight.sum(-1), 1e-30)
            take = nb_ok & (score > best) & (score >= min_explained)
            best = np.where(take, score, best)
            basis = np.where(take[..., None, None], nb_b, basis)
            grains = np.where(take, np.roll(grains, (-dy, -dx), axis=(0, 1)), grains)
            explained = np.where(take, score, explained)
        moved = best > 0
        big |= moved
        weak &= ~moved
        if not weak.any():
            break
    vals, counts = np.unique(grains[grains > 0], return_counts=True)
    lut = np.zeros(int(grains.max()) + 1, dtype=np.int32)
    lut[vals[np.argsort(-counts, kind="stable")]] = np.arange(1, len(vals) + 1)
    return basis, lut[grains], explained
