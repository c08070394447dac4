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
    chunk: int = 20000,
) -> tuple[np.ndarray, np.ndarray]:
    """Index the peaks with the matched template: ``hkl`` (n, 3) and a fit mask (n,)."""
    spots = match["spots"]
    hkl = np.zeros((len(pos), 3), dtype=int)
    ok = np.zeros(len(pos), dtype=bool)
    for i0 in range(0, len(pos), chunk):
        sl = slice(i0, i0 + chunk)
        z = match["template"][pos[sl]]
        phi = np.deg2rad(match["angle"][pos[sl]])
        c, s = np.cos(phi)[:, None], np.sin(phi)[:, None]
        u, v = spots["uv"][z, :, 0], spots["uv"][z, :, 1]
        px, py = c * u - s * v, s * u + c * v  # (n, S)
        d2 = (px - qx[sl, None]) ** 2 + (py - qy[sl, None]) ** 2
        d2 = np.where(spots["weight"][z] > 0, d2, np.inf)
        j = np.argmin(d2, axis=1)
        rows = np.arange(len(j))
        g2 = px[rows, j] ** 2 + py[rows, j] ** 2
        ok[sl] = d2[rows, j] < (tol**2) * g2
        hkl[sl] = crystal.hkl[spots["index"][z[rows], j]]
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


def _fit_one(crystal: Crystal, hkl: np.ndarray, q: np.ndarray, tol: float) -> dict:
    par = crystal.parameters
    angles = par[3:]
    x0 = {"cubic": par[:1], "hexagonal": par[[0, 2]], "tetragonal": par[[0, 2]]}.get(
        crystal.system, par[:3]
    )

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
) -> tuple[dict, list[Crystal]]:
    """Fit each phase's cell; returns (lattice_parameters dict, crystals with fitted cells)."""
    pos, qx, qy = peaks
    out, new = {}, []
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
        fit = _fit_one(c, hkl[ok], q, tol)
        lengths = np.linalg.norm(fit["cell"], axis=1)
        entry.update(
            {k: (float(v), float(s)) for k, v, s in zip("abc", lengths, fit["sigma"], strict=True)}
        )
        entry["rms"] = fit["rms"]
        out[c.name] = entry
        new.append(c.with_cell(fit["cell"], k_max))
    return out, new
