"""Kinematic electron diffraction of a crystal: structure factors, symmetry, zone axes, spots.

Units: lengths in nm, scattering vectors ``q = 1/d`` in 1/nm. Structures come from ASE
(``ase.io.read`` of a CIF, or an ``ase.Atoms``); the CIF's space group is expanded by ASE.

* Structure factors ``F(hkl) = Σ_j f_j(q) exp(2πi h·x_j)`` with a screened-Coulomb
  (Wentzel) electron scattering factor ``f ∝ Z R² / (1 + (2π q R)²)``,
  ``R = 0.885 a0 Z^(-1/3)``, and an isotropic Debye–Waller factor ``exp(-B q²/4)``
  (B = 0.005 nm²): relative intensities good enough to rank spots, not to refine
  occupancies.
* Symmetry: the proper rotations ``R = L M L^-1`` (``M`` integer in {-1, 0, 1}, ``L`` the
  real-space cell as columns) that keep the lattice and every ``|F|²``; they reduce the
  zone-axis library to one Dirichlet cell of the sphere.
* Spots of a zone axis ``w`` (beam direction, unit, Cartesian): excitation error
  ``s = g·w + λ|g|²/2`` (Ewald sphere of the beam energy), weight ``|F|² exp(-s²/2σ²)``,
  projected on the plane normal to ``w``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StemstrainError

__all__ = [
    "Crystal",
    "load_structure",
    "zone_axes",
    "zone_spots",
    "cell_from_parameters",
]

_A0_NM = 0.0529177


def cell_from_parameters(
    a: float, b: float, c: float, alpha: float, beta: float, gamma: float
) -> np.ndarray:
    """Real-space cell (rows a, b, c; nm) from lengths (nm) and angles (deg), a along x."""
    al, be, ga = np.deg2rad([alpha, beta, gamma])
    va = np.array([a, 0.0, 0.0])
    vb = np.array([b * np.cos(ga), b * np.sin(ga), 0.0])
    cx = c * np.cos(be)
    cy = c * (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga)
    vc = np.array([cx, cy, np.sqrt(max(c * c - cx * cx - cy * cy, 0.0))])
    return np.stack([va, vb, vc])


def load_structure(structure: Any) -> tuple[str, Any]:
    """``(name, ase.Atoms)`` from a CIF path or an ASE ``Atoms`` (or pymatgen Structure)."""
    if isinstance(structure, (str, Path)):
        import ase.io

        p = Path(structure)
        if not p.is_file():
            raise StemstrainError(
                f"structures: file {p} not found (give a CIF path or an ase.Atoms)"
            )
        try:
            atoms = ase.io.read(p)
        except Exception as exc:
            raise StemstrainError(
                f"structures: cannot read {p.name} as a crystal structure "
                f"({type(exc).__name__}: {exc})"
            ) from None
        name = p.stem.rsplit("__", 1)[-1]
        return name, atoms
    if type(structure).__name__ == "Structure" and hasattr(structure, "lattice"):
        from ase import Atoms

        atoms = Atoms(
            numbers=[s.specie.Z for s in structure],
            scaled_positions=structure.frac_coords,
            cell=structure.lattice.matrix,
            pbc=True,
        )
        return str(structure.composition.reduced_formula), atoms
    if hasattr(structure, "get_scaled_positions") and hasattr(structure, "cell"):
        return str(structure.info.get("name") or structure.get_chemical_formula()), structure
    raise TypeError(
        f"structures: each entry must be a CIF path or an ase.Atoms, got {type(structure).__name__}"
    )


def _lattice_system(par: np.ndarray) -> str:
    a, b, c, al, be, ga = par
    eq = np.isclose
    if eq(a, b, rtol=1e-4) and eq(b, c, rtol=1e-4) and np.allclose([al, be, ga], 90, atol=1e-3):
        return "cubic"
    if eq(a, b, rtol=1e-4) and np.allclose([al, be], 90, atol=1e-3) and eq(ga, 120, atol=1e-3):
        return "hexagonal"
    if eq(a, b, rtol=1e-4) and np.allclose([al, be, ga], 90, atol=1e-3):
        return "tetragonal"
    if np.allclose([al, be, ga], 90, atol=1e-3):
        return "orthorhombic"
    if sum(np.isclose([al, be, ga], 90, atol=1e-3)) == 2:
        return "monoclinic"
    return "triclinic"


@dataclass(frozen=True)
class Crystal:
    """A structure with its kinematic reflections (built by :meth:`from_atoms`)."""

    name: str
    cell: np.ndarray  # (3, 3) rows a, b, c, nm
    frac: np.ndarray  # (N, 3) fractional positions
    numbers: np.ndarray  # (N,) atomic numbers
    hkl: np.ndarray  # (M, 3) int, reflections with |F|² above the tolerance
    g: np.ndarray  # (M, 3) Cartesian reciprocal vectors, 1/nm
    intensity: np.ndarray  # (M,) |F|², max 1
    rotations: np.ndarray  # (R, 3, 3) proper rotations of the diffraction symmetry
    system: str

    @classmethod
    def from_atoms(
        cls,
        name: str,
        atoms: Any,
        *,
        k_max: float,
        cell: np.ndarray | None = None,
        tol_intensity: float = 1e-3,
    ) -> Crystal:
        """Reflections up to ``k_max`` (1/nm) of ``atoms`` (ASE; Å), optionally with a new cell."""
        frac = np.asarray(atoms.get_scaled_positions(wrap=True), dtype=float)
        numbers = np.asarray(atoms.get_atomic_numbers(), dtype=int)
        cell0 = np.asarray(atoms.cell.array, dtype=float) / 10.0  # Å → nm
        if cell is None:
            par = np.asarray(atoms.cell.cellpar(), dtype=float)
            cell = cell_from_parameters(par[0] / 10, par[1] / 10, par[2] / 10, *par[3:])
        cell = np.asarray(cell, dtype=float)
        if abs(np.linalg.det(cell0)) < 1e-12:
            raise StemstrainError(f"structures: {name} has no 3-D cell")
        hkl, g, inten = _reflections(cell, frac, numbers, k_max, tol_intensity)
        par = _cellpar(cell)
        key = (cell.tobytes(), frac.tobytes(), numbers.tobytes())
        rots = _ROTATIONS.get(key)
        if rots is None:  # a property of the structure: kept for later calls
            rots = _ROTATIONS[key] = _rotations(cell, hkl, inten)
            while len(_ROTATIONS) > 64:
                _ROTATIONS.pop(next(iter(_ROTATIONS)))
        return cls(name, cell, frac, numbers, hkl, g, inten, rots, _lattice_system(par))

    @property
    def parameters(self) -> np.ndarray:
        """(a, b, c) nm and (alpha, beta, gamma) deg of the cell."""
        return _cellpar(self.cell)

    def with_cell(self, cell: np.ndarray, k_max: float) -> Crystal:
        """Return the same atoms (fractional) in a new cell (e.g. the fitted one)."""
        hkl, g, inten = _reflections(cell, self.frac, self.numbers, k_max, 1e-3)
        return Crystal(
            self.name,
            np.asarray(cell, float),
            self.frac,
            self.numbers,
            hkl,
            g,
            inten,
            self.rotations_for(cell),
            self.system,
        )

    def rotations_for(self, cell: np.ndarray) -> np.ndarray:
        """Express the symmetry rotations for another cell of the same lattice type."""
        lat0, lat1 = self.cell.T, np.asarray(cell, float).T
        m = np.linalg.inv(lat0) @ self.rotations @ lat0  # integer matrices
        return lat1 @ m @ np.linalg.inv(lat1)


_ROTATIONS: dict[tuple, np.ndarray] = {}  # (cell, frac, numbers) → symmetry rotations


def _cellpar(cell: np.ndarray) -> np.ndarray:
    a, b, c = (np.linalg.norm(v) for v in cell)
    ang = [
        np.degrees(
            np.arccos(
                np.clip(
                    cell[i] @ cell[j] / (np.linalg.norm(cell[i]) * np.linalg.norm(cell[j])), -1, 1
                )
            )
        )
        for i, j in ((1, 2), (0, 2), (0, 1))
    ]
    return np.array([a, b, c, *ang])


def _scattering_factor(z: np.ndarray, q: np.ndarray) -> np.ndarray:
    r = 0.885 * _A0_NM * z.astype(float) ** (-1.0 / 3.0)
    return z * r**2 / (1.0 + (2 * np.pi * q[:, None] * r) ** 2)


def _reflections(cell, frac, numbers, k_max, tol):
    recip = np.linalg.inv(cell).T  # rows a*, b*, c* (1/nm, no 2π)
    nmax = [int(np.ceil(k_max * np.linalg.norm(v))) for v in cell]
    rng = [np.arange(-n, n + 1) for n in nmax]
    hkl = np.stack(np.meshgrid(*rng, indexing="ij"), -1).reshape(-1, 3)
    g = hkl @ recip
    q = np.linalg.norm(g, axis=1)
    keep = (q > 0) & (q <= k_max)
    hkl, g, q = hkl[keep], g[keep], q[keep]
    # exp(2πi h·x) as a product of per-axis tables (one complex exp per index and atom),
    # summed per element so the scattering factor is evaluated per element, not per atom
    tables = [np.exp(2j * np.pi * np.outer(r, frac[:, i])) for i, r in enumerate(rng)]
    phase = tables[0][hkl[:, 0] + nmax[0]]
    phase *= tables[1][hkl[:, 1] + nmax[1]]
    phase *= tables[2][hkl[:, 2] + nmax[2]]
    species, inverse = np.unique(numbers, return_inverse=True)
    onehot = (inverse[:, None] == np.arange(len(species))[None, :]).astype(float)
    f = _scattering_factor(species, q) * np.exp(-0.005 * q[:, None] ** 2 / 4)
    inten = np.abs((f * (phase @ onehot)).sum(1)) ** 2
    inten = inten / inten.max()
    keep = inten > tol
    return hkl[keep], g[keep], inten[keep]


def _rotations(cell: np.ndarray, hkl: np.ndarray, inten: np.ndarray) -> np.ndarray:
    """Proper rotations of the lattice that keep every |F|² (Laue group ∩ SO(3))."""
    lat = cell.T
    mats = np.array(list(itertools.product((-1, 0, 1), repeat=9))).reshape(-1, 3, 3)
    mats = mats[np.isclose(np.linalg.det(mats), 1.0)]
    rot = lat @ mats @ np.linalg.inv(lat)
    orth = np.abs(np.swapaxes(rot, 1, 2) @ rot - np.eye(3)).max(axis=(1, 2)) < 1e-6
    mats, rot = mats[orth], rot[orth]
    # reciprocal indices transform with M^-T: h' = M^-T h; keep rotations mapping the
    # strong reflections onto reflections of the same intensity
    strong = inten > 1e-2
    key = {tuple(h): v for h, v in zip(hkl.tolist(), inten.tolist(), strict=True)}
    good = []
    for m, r in zip(mats, rot, strict=True):
        hp = np.rint(hkl[strong] @ np.linalg.inv(m)).astype(int)
        ok = all(
            abs(key.get(tuple(h), -1.0) - v) < 1e-3 * max(v, 1e-2)
            for h, v in zip(hp.tolist(), inten[strong].tolist(), strict=True)
        )
        if ok:
            good.append(r)
    return np.array(good) if good else np.eye(3)[None]


def _fibonacci_sphere(step_deg: float) -> np.ndarray:
    n = max(16, int(round(4 * np.pi / np.deg2rad(step_deg) ** 2)))
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = np.pi * (1 + 5**0.5) * i
    r = np.sqrt(1 - z * z)
    return np.column_stack([r * np.cos(phi), r * np.sin(phi), z])


def zone_axes(
    crystal: Crystal,
    *,
    mode: str = "low-index",
    max_index: int = 3,
    step_deg: float = 2.0,
    axes: Any = None,
) -> np.ndarray:
    """Return unit beam directions (Cartesian, (Z, 3)), one per symmetry-equivalent class.

    ``mode="low-index"``: the directions ``[uvw]`` (real-space lattice) with
    ``max(|u|, |v|, |w|) <= max_index``; ``"sphere"``: a Fibonacci grid of spacing
    ``step_deg``; ``axes``: explicit ``[uvw]`` list (no reduction). Symmetry-equivalent
    directions are reduced to the Dirichlet cell of the rotation group around a generic
    pole, so each class appears once.
    """
    if axes is not None:
        uvw = np.asarray(axes, dtype=float).reshape(-1, 3)
        d = uvw @ crystal.cell
        return d / np.linalg.norm(d, axis=1, keepdims=True)
    if mode == "sphere":
        d = _fibonacci_sphere(step_deg)
    elif mode == "low-index":
        n = int(max_index)
        uvw = np.array(
            [
                v
                for v in itertools.product(range(-n, n + 1), repeat=3)
                if any(v) and np.gcd.reduce(np.abs(v)) == 1
            ]
        )
        d = uvw @ crystal.cell
        d /= np.linalg.norm(d, axis=1, keepdims=True)
    else:
        raise StemstrainError(
            f"zone_axes must be 'low-index', 'sphere' or a list of [uvw], got {mode!r}"
        )
    pole = np.array([0.1234, 0.3456, 0.9301])
    pole /= np.linalg.norm(pole)
    images = np.einsum("rij,nj->nri", crystal.rotations, d)  # (N, R, 3)
    best = images[np.arange(len(d)), np.argmax(images @ pole, axis=1)]
    if mode == "sphere":
        return d[(d @ pole) >= (best @ pole) - 1e-9]
    _, first = np.unique(np.round(best, 6), axis=0, return_index=True)
    return best[np.sort(first)]


def in_plane_frame(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return unit vectors (e1, e2) ⟂ each beam direction ``w`` (Z, 3), right-handed."""
    ref = np.where(np.abs(w[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(ref, w)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(w, e1)
    return e1, e2


def zone_spots(
    crystal: Crystal,
    w: np.ndarray,
    *,
    wavelength_nm: float,
    sigma_exc: float,
    q_range: tuple[float, float],
    min_weight: float = 1e-3,
    max_spots: int = 256,
) -> dict:
    """Spots of every zone axis ``w`` (Z, 3): padded (Z, S) arrays.

    Returns ``uv`` (Z, S, 2) in-plane coordinates (1/nm) in the frame of
    :func:`in_plane_frame`, ``weight`` (Z, S) (0 = padding), ``index`` (Z, S) into
    ``crystal.hkl``.
    """
    g = crystal.g
    q = np.linalg.norm(g, axis=1)
    sel = (q >= q_range[0]) & (q <= q_range[1])
    g, q, inten, ridx = g[sel], q[sel], crystal.intensity[sel], np.flatnonzero(sel)
    e1, e2 = in_plane_frame(w)
    s = w @ g.T + 0.5 * wavelength_nm * q**2  # (Z, M)
    wt = inten[None, :] * np.exp(-0.5 * (s / sigma_exc) ** 2)
    wt[wt < min_weight * inten.max()] = 0.0
    k = int(min(max_spots, max(1, (wt > 0).sum(1).max())))
    order = np.argsort(-wt, axis=1)[:, :k]
    wsel = np.take_along_axis(wt, order, 1)
    gsel = g[order]  # (Z, k, 3)
    uv = np.stack([np.einsum("zkc,zc->zk", gsel, e1), np.einsum("zkc,zc->zk", gsel, e2)], -1)
    return {"uv": uv, "weight": wsel, "index": ridx[order]}
