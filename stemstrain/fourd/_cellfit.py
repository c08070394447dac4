"""Phase labels from match scores, and the cell fit of each phase from its indexed peaks.

Indexing: each measured peak of a position assigned to a phase is paired with the
nearest spot of the matched template rotated by the matched in-plane angle (accepted
within ``tol`` × |g|); its ``hkl`` is the spot's. Fit: ``|q| = |hᵀ B|`` with
``B = cell^-T`` and the cell lengths tied by the crystal system (cubic: a; hexagonal,
tetragonal: a, c; otherwise a, b, c; angles kept), robust least squares
(``scipy.optimize.least_squares``, soft-L1) on the relative residual; σ = standard error
from the Jacobian with a robust (MAD) residual scale.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import least_squares

from ._crystal import Crystal, cell_from_parameters

__all__ = ["assign", "fit_cells", "index_peaks"]


def assign(matches: list[dict], n_used: np.ndarray, min_score: float) -> np.ndarray:
    """Label per position: the structure with the best score, -1 below ``min_score``."""
    scores = np.stack([m["score"] for m in matches])
    best = np.argmax(scores, axis=0)
    ok = (scores.max(axis=0) >= min_score) & (n_used >= 3)
    return np.where(ok, best, -1)


def index_peaks(
    crystal: Crystal,
    match: dict,
    pos: np.ndarray,
    qx: np.ndarray,
    qy: np.ndarray,
    tol: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Index the peaks with the matched template: ``hkl`` (n, 3) and a fit mask (n,).

    Each peak is rotated back by its position's matched angle into the template frame and
    paired with the nearest spot of its position's template (one k-d tree over all
    templates, the template index as a far-apart third coordinate).
    """
    from scipy.spatial import cKDTree

    spots = match["spots"]
    z_all, s_all = np.nonzero(spots["weight"] > 0)
    if len(pos) == 0 or len(z_all) == 0:
        return np.zeros((len(pos), 3), dtype=int), np.zeros(len(pos), dtype=bool)
    uv = spots["uv"][z_all, s_all]
    sep = 4.0 * (np.abs(uv).max() + np.abs(qx).max() + np.abs(qy).max() + 1.0)
    tree = cKDTree(np.column_stack([uv, z_all * sep]))
    z = match["template"][pos]
    phi = np.deg2rad(match["angle"][pos])
    c, s = np.cos(phi), np.sin(phi)
    u, v = c * qx + s * qy, -s * qx + c * qy  # R(-phi) q
    d, j = tree.query(np.column_stack([u, v, z * sep]), k=1)
    g2 = (uv[j] ** 2).sum(axis=1)
    ok = (d**2 < (tol**2) * g2) & (z_all[j] == z)
    hkl = crystal.hkl[spots["index"][z_all[j], s_all[j]]]
    return hkl, ok


def _cell(params: np.ndarray, system: str, angles: np.ndarray) -> np.ndarray:
    if system == "cubic":
        a = b = c = params[0]
    elif system in ("hexagonal", "tetragonal"):
        a = b = params[0]
        c = params[1]
    else:
        a, b, c = params
    return cell_from_parameters(a, b, c, *angles)


def _fit_one(
    crystal: Crystal, hkl: np.ndarray, q: np.ndarray, tol: float, scale: float = 1.0
) -> dict:
    par = crystal.parameters
    angles = par[3:]
    x0 = {"cubic": par[:1], "hexagonal": par[[0, 2]], "tetragonal": par[[0, 2]]}.get(
        crystal.system, par[:3]
    ) / scale  # a template scaled by ``scale`` in q is a cell 1/scale as large

    def resid(p):
        g = hkl @ np.linalg.inv(_cell(p, crystal.system, angles)).T
        qm = np.linalg.norm(g, axis=1)
        return (q - qm) / qm

    fit = least_squares(resid, x0, loss="soft_l1", f_scale=max(tol / 3, 1e-4))
    r = resid(fit.x)
    scale = 1.4826 * np.median(np.abs(r - np.median(r)))
    try:
        cov = np.linalg.inv(fit.jac.T @ fit.jac) * scale**2
        sig = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        sig = np.full(len(x0), np.nan)
    cell = _cell(fit.x, crystal.system, angles)
    lengths = _cell(fit.x + sig, crystal.system, angles)
    sig3 = np.abs(np.linalg.norm(lengths, axis=1) - np.linalg.norm(cell, axis=1))
    return {
        "cell": cell,
        "sigma": sig3,
        "rms": float(np.sqrt(np.mean(r**2))),
        "robust_scale": float(scale),
    }


def fit_cells(
    crystals: list[Crystal],
    matches: list[dict],
    labels: np.ndarray,
    peaks: tuple,
    keep: np.ndarray,
    *,
    k_max: float,
    tol: float,
    cif: dict | None = None,
    fit_fraction: float = 0.0,
    scales: list[float] | None = None,
) -> tuple[dict, list[Crystal]]:
    """Fit each phase's cell; returns (lattice_parameters dict, crystals with fitted cells).

    ``scales``: the isotropic q-scale of each phase's matched templates (the fit starts
    from the structure's cell divided by it).
    """
    pos, qx, qy = peaks
    out, new = {}, []
    scales = scales or [1.0] * len(crystals)
    for i, (c, m) in enumerate(zip(crystals, matches, strict=True)):
        # the positions this structure explains best (its own top scores), not only those
        # it wins: a CIF cell a few % off must not lose its own region before it is fitted
        own = m["score"] >= max(np.quantile(m["score"], 1.0 - fit_fraction), 1e-9)
        use = (labels == i) | own if fit_fraction > 0 else labels == i
        sel = keep & use[pos]
        hkl, ok = index_peaks(c, m, pos[sel], qx[sel], qy[sel], tol)
        q = np.hypot(qx[sel], qy[sel])[ok]
        start = (cif or {}).get(c.name, {}).get("cif") or c.parameters[:3].tolist()
        entry = {
            "cif": [float(v) for v in start],
            "alpha": float(c.parameters[3]),
            "beta": float(c.parameters[4]),
            "gamma": float(c.parameters[5]),
            "n_peaks": int(ok.sum()),
            "system": c.system,
        }
        if ok.sum() < 10:
            warnings.warn(
                f"fourd_phases: {c.name}: only {int(ok.sum())} indexed peaks, the "
                "cell is not fitted (kept from the structure)",
                UserWarning,
                stacklevel=3,
            )
            lengths = c.parameters[:3]
            entry.update({k: (float(v), float("nan")) for k, v in zip("abc", lengths, strict=True)})
            entry["rms"] = float("nan")
            out[c.name] = entry
            new.append(c)
            continue
        fit = _fit_one(c, hkl[ok], q, tol, scales[i])
        lengths = np.linalg.norm(fit["cell"], axis=1)
        entry.update(
            {k: (float(v), float(s)) for k, v, s in zip("abc", lengths, fit["sigma"], strict=True)}
        )
        entry["rms"] = fit["rms"]
        out[c.name] = entry
        new.append(c.with_cell(fit["cell"], k_max))
    return out, new
