"""Structure models of cathode phases and their projected atom columns (ASE).

Every phase is an ASE ``Atoms`` cell (built from published lattice parameters with
:func:`ase.spacegroup.crystal`, or read from a CIF with :func:`ase.io.read`) viewed along
a zone axis that shows the close-packed O layers edge-on. The topotactic relation
layered (003) || spinel (111) || rock-salt (111) is built in: every model's layer normal
(``normal_hkl``) is its close-packed plane, so all projections share one frame
``(t, n)``: ``n`` along the layer normal, ``t`` in the layer plane, perpendicular to the
zone axis ``u`` (``t = n x u``).

A projection is a 2-D periodic cell (two projected lattice vectors) with a basis of
columns; each column's HAADF weight is ``sum(Z ** 1.7)`` of its atoms per nm along the
zone axis (Z-contrast, exponent ~1.7 [1]_), relative to one Co column of LiCoO2 along
[100]_hex (= 1).

Zone families: ``"A"`` views along a close-packed O row (layered [100]_hex, cubic
[1-10], C2/m [010]_mono): in-plane column period ``a_O * sqrt(3)/2`` (0.244 nm in
LiCoO2). ``"B"`` views along the perpendicular sqrt(3) direction (layered [1-10]_hex,
cubic [11-2], C2/m [100]_mono / [110]_mono): in-plane period ``a_O / 2``; the Li2MnO3
honeycomb order then shows as two bright Mn columns and one dark Li column.

References
----------
.. [1] Pennycook, S. J. & Jesson, D. E. (1991). High-resolution Z-contrast imaging of
   crystals. Ultramicroscopy 37, 14-38. doi:10.1016/0304-3991(91)90004-P
.. [2] Akimoto, J., Gotoh, Y. & Oosawa, Y. (1998). Synthesis and structure refinement
   of LiCoO2 single crystals. J. Solid State Chem. 141, 298-302. doi:10.1006/jssc.1998.7966
.. [3] Amatucci, G. G., Tarascon, J. M. & Klein, L. C. (1996). CoO2, the end member of
   the LixCoO2 solid solution. J. Electrochem. Soc. 143, 1114. doi:10.1149/1.1836594
.. [4] Mosbah, A., Verbaere, A. & Tournoux, M. (1983). Phases LixMnO2 lambda rattachees
   au type spinelle. Mater. Res. Bull. 18, 1375-1381. doi:10.1016/0025-5408(83)90045-4
.. [5] Smith, W. L. & Hobson, A. D. (1973). The structure of cobalt oxide, Co3O4.
   Acta Cryst. B 29, 362-363. doi:10.1107/S0567740873002505
.. [6] Sasaki, S., Fujino, K. & Takeuchi, Y. (1979). X-ray determination of
   electron-density distributions in oxides MgO, MnO, CoO and NiO. Proc. Japan Acad. B 55,
   43-48. doi:10.2183/pjab.55.43
.. [7] Strobel, P. & Lambert-Andron, B. (1988). Crystallographic and magnetic structure
   of Li2MnO3. J. Solid State Chem. 75, 90-98. doi:10.1016/0022-4596(88)90305-2
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import StemstrainError

__all__ = ["ProjectedCell", "structure", "project", "phase_templates", "STRUCTURES"]

Z_EXPONENT = 1.7


def _spinel(symbols: list[str], a: float, ref: str) -> dict[str, Any]:
    """Describe a normal spinel AB2O4 (Fd-3m, origin choice 2, O at u = 0.2631), cubic ``a``."""
    return dict(
        spacegroup=227,
        symbols=symbols,
        basis=[(0.125, 0.125, 0.125), (0.5, 0.5, 0.5), (0.2631, 0.2631, 0.2631)],
        cellpar=[a, a, a, 90, 90, 90],
        setting=2,
        ref=ref,
    )


def _rock_salt(symbols: list[str], a: float, ref: str) -> dict[str, Any]:
    """Describe a rock-salt MO (Fm-3m, M at 0, O at 1/2), cubic ``a``."""
    return dict(
        spacegroup=225,
        symbols=symbols,
        basis=[(0, 0, 0), (0.5, 0.5, 0.5)],
        cellpar=[a, a, a, 90, 90, 90],
        ref=ref,
    )


# name -> (spacegroup, basis symbols, basis fractional positions, cellpar, reference)
STRUCTURES: dict[str, dict[str, Any]] = {
    "LiCoO2": dict(
        spacegroup=166,
        symbols=["Li", "Co", "O"],
        basis=[(0, 0, 0.5), (0, 0, 0), (0, 0, 0.2396)],
        cellpar=[2.8156, 2.8156, 14.0542, 90, 90, 120],
        ref="Akimoto 1998",
    ),
    "CoO2_O1": dict(
        spacegroup=164,
        symbols=["Co", "O"],
        basis=[(0, 0, 0), (1 / 3, 2 / 3, 0.22)],
        cellpar=[2.822, 2.822, 4.29, 90, 90, 120],
        ref="Amatucci 1996",
    ),
    "LiMn2O4": _spinel(["Li", "Mn", "O"], 8.245, "Mosbah 1983"),
    "Co3O4": _spinel(["Co", "Co", "O"], 8.0837, "Smith & Hobson 1973"),
    "CoO": _rock_salt(["Co", "O"], 4.2615, "Sasaki 1979"),
    "NiO": _rock_salt(["Ni", "O"], 4.1771, "Sasaki 1979"),
    "Li2MnO3": dict(
        spacegroup=12,
        symbols=["Li", "Li", "Li", "Mn", "O", "O"],
        basis=[
            (0, 0.5, 0),
            (0, 0, 0.5),
            (0, 0.6606, 0.5),
            (0, 0.16708, 0),
            (0.2189, 0, 0.2273),
            (0.2540, 0.3212, 0.2234),
        ],
        cellpar=[4.937, 8.532, 5.030, 90, 109.46, 90],
        ref="Strobel 1988",
    ),
}

# (phase name used by phase_map) -> (structure, layer normal hkl, {family: [zones]})
PHASE_MODELS: dict[str, tuple[str, tuple, dict[str, list[tuple]]]] = {
    "layered": ("LiCoO2", (0, 0, 3), {"A": [(1, 0, 0)], "B": [(1, -1, 0)]}),
    "O1": ("CoO2_O1", (0, 0, 1), {"A": [(1, 0, 0)], "B": [(1, -1, 0)]}),
    "spinel": ("Co3O4", (1, 1, 1), {"A": [(1, -1, 0)], "B": [(1, 1, -2)]}),
    "rock_salt": ("CoO", (0.5, 0.5, 0.5), {"A": [(1, -1, 0)], "B": [(1, 1, -2)]}),
    # family A ([010]_mono) projects Li + 2 Mn into every column: the honeycomb order is
    # invisible there, so C2/m is only identified in family B (two bright, one dark)
    "C2/m": ("Li2MnO3", (0, 0, 1), {"A": [], "B": [(1, 0, 0), (1, 1, 0)]}),
}

#: zones that can be projected but are not used as templates (no distinguishing contrast)
EXTRA_ZONES = {"C2/m": {"A": [(0, 1, 0)]}}


def structure(name: str) -> Any:
    """Return an ASE ``Atoms`` unit cell of a built-in structure (see ``STRUCTURES``).

    Parameters
    ----------
    name : str
        One of ``STRUCTURES`` ("LiCoO2", "CoO2_O1", "LiMn2O4", "Co3O4", "CoO", "NiO",
        "Li2MnO3").

    Returns
    -------
    ase.Atoms
        The conventional cell (Angstrom, as ASE).
    """
    from ase.spacegroup import crystal

    if name not in STRUCTURES:
        raise StemstrainError(f"structure must be one of {sorted(STRUCTURES)}, got {name!r}")
    s = STRUCTURES[name]
    return crystal(
        s["symbols"],
        basis=s["basis"],
        spacegroup=s["spacegroup"],
        cellpar=s["cellpar"],
        setting=s.get("setting", 1),
        primitive_cell=False,
    )


@dataclass(frozen=True)
class ProjectedCell:
    """Atom columns of a structure projected along a zone axis (nm, layer frame).

    Attributes
    ----------
    name : str
        Structure and zone, e.g. ``"LiCoO2 [1 0 0]"``.
    lattice : ndarray (2, 2)
        Rows: the two projected lattice vectors ``(t, n)`` in nm.
    t, n : ndarray
        Column positions in the cell (nm).
    weight : ndarray
        HAADF weight per column: ``sum(Z**1.7)`` per nm, relative to a LiCoO2 Co column.
    layer_spacing : float
        Distance between close-packed cation layer pairs along ``n`` (nm): d003 of the
        layered cell, 2 d111 of rock salt, d111 of spinel.
    row_period : float
        In-plane O-row period along ``t`` (nm): ``a_O sqrt(3)/2`` (family A) or
        ``a_O / 2`` (family B), with ``a_O`` the O-O distance in a close-packed layer.
    species : tuple of str
        Per column, the chemical symbols joined (e.g. "Co", "LiMn").
    """

    name: str
    lattice: np.ndarray
    t: np.ndarray
    n: np.ndarray
    weight: np.ndarray
    layer_spacing: float
    row_period: float
    species: tuple

    def tile(self, t_range: tuple[float, float], n_range: tuple[float, float]):
        """Every column with ``t`` and ``n`` in the given ranges (nm): arrays ``t, n, weight``."""
        lat = self.lattice
        inv = np.linalg.inv(lat.T)
        corners = np.array(list(itertools.product(t_range, n_range)))
        ij = corners @ inv.T
        lo, hi = np.floor(ij.min(0)) - 1, np.ceil(ij.max(0)) + 1
        ii, jj = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1))
        origins = np.c_[ii.ravel(), jj.ravel()] @ lat
        tt = (origins[:, None, 0] + self.t[None]).ravel()
        nn = (origins[:, None, 1] + self.n[None]).ravel()
        ww = np.broadcast_to(self.weight, (len(origins), self.t.size)).ravel()
        keep = (tt >= t_range[0]) & (tt < t_range[1]) & (nn >= n_range[0]) & (nn < n_range[1])
        return tt[keep], nn[keep], ww[keep]


def _unimodular_basis(u: np.ndarray) -> np.ndarray:
    """Integer 3x3 matrix with last row ``u`` and determinant +-1 (a basis containing u)."""
    cands = [np.array(v) for v in itertools.product(range(-2, 3), repeat=3) if any(v)]
    cands.sort(key=lambda v: np.abs(v).sum())
    for v1 in cands:
        for v2 in cands:
            m = np.array([v1, v2, u])
            if abs(round(np.linalg.det(m))) == 1:
                return m
    raise StemstrainError(f"zone axis {tuple(u)} is not a primitive lattice direction")


def project(atoms: Any, zone: tuple, normal_hkl: tuple, *, name: str = "") -> ProjectedCell:
    """Project a crystal along a zone axis into atom columns with HAADF weights.

    Parameters
    ----------
    atoms : ase.Atoms
        Unit cell (Angstrom).
    zone : tuple of 3 int
        Zone axis ``[uvw]`` in the cell's direct lattice.
    normal_hkl : tuple of 3 float
        Layer plane ``(hkl)``; its normal becomes ``n`` and its spacing the
        ``layer_spacing``. Must be perpendicular to ``zone``.
    name : str
        Label of the result.

    Returns
    -------
    ProjectedCell
        Columns in nm, in the layer frame ``(t, n)``.
    """
    cell = np.asarray(atoms.cell)
    u = np.asarray(zone, dtype=int)
    g = np.asarray(normal_hkl, dtype=float) @ np.linalg.inv(cell).T  # 1/Angstrom, no 2 pi
    u_cart = u @ cell
    if abs(np.dot(u_cart, g)) > 1e-6 * np.linalg.norm(u_cart) * np.linalg.norm(g):
        raise StemstrainError(
            f"zone {tuple(zone)} is not perpendicular to the normal of "
            f"({normal_hkl}); choose a zone in the layer plane"
        )
    ez = u_cart / np.linalg.norm(u_cart)
    en = g / np.linalg.norm(g)
    et = np.cross(en, ez)
    m = _unimodular_basis(u)
    new_cell = m @ cell
    frac = np.linalg.solve(new_cell.T, atoms.positions.T).T % 1.0
    pos = frac @ new_cell
    lat = np.array([[new_cell[i] @ et, new_cell[i] @ en] for i in (0, 1)]) / 10.0
    tn = np.c_[pos @ et, pos @ en] / 10.0
    # wrap into the 2-D cell and merge atoms of one column
    f2 = np.linalg.solve(lat.T, tn.T).T % 1.0
    key = np.round(f2 * 2000).astype(int) % 2000
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.ravel()
    z = atoms.get_atomic_numbers().astype(float)
    length_nm = np.linalg.norm(u_cart) / 10.0
    w = np.bincount(inv, weights=z**Z_EXPONENT) / length_nm
    sym = np.array(atoms.get_chemical_symbols())
    species = tuple("".join(sorted(set(sym[inv == k]))) for k in range(len(uniq)))
    first = np.zeros(len(uniq), int)
    first[inv[::-1]] = np.arange(len(inv))[::-1]  # exact position of one atom per column
    cols = f2[first] @ lat
    a_o, fam_b = _in_layer_oo(atoms, en, u_cart)
    row = a_o / 20.0 if fam_b else a_o * np.sqrt(3) / 20.0
    w_ref = 27.0**Z_EXPONENT / 0.28156
    return ProjectedCell(
        name=name or f"{atoms.get_chemical_formula()} {list(zone)}",
        lattice=lat,
        t=cols[:, 0],
        n=cols[:, 1],
        weight=w / w_ref,
        layer_spacing=1.0 / np.linalg.norm(g) / 10.0,
        row_period=row,
        species=species,
    )


def _in_layer_oo(atoms: Any, en: np.ndarray, u_cart: np.ndarray) -> tuple[float, bool]:
    """O-O distance within a close-packed O layer (Angstrom) and whether ``u`` is off those rows."""
    from ase.neighborlist import neighbor_list

    ox = atoms[[s == "O" for s in atoms.get_chemical_symbols()]]
    dvec = neighbor_list("D", ox, 4.5)
    dist = np.linalg.norm(dvec, axis=1)
    flat = np.abs(dvec @ en) < 0.05 * dist
    d_in = dist[flat]
    d_min = float(np.min(d_in))
    a_o = float(np.mean(d_in[d_in < 1.3 * d_min]))  # spinel O layers are slightly buckled
    rows = dvec[flat][d_in < 1.3 * d_min]
    cosang = np.abs(rows @ u_cart) / (np.linalg.norm(rows, axis=1) * np.linalg.norm(u_cart))
    return a_o, not bool(np.any(cosang > 0.995))


@lru_cache(maxsize=None)
def phase_templates(phase: str, family: str) -> tuple[ProjectedCell, ...]:
    """Projected cells of one phase in one zone family ("A" or "B").

    Parameters
    ----------
    phase : str
        One of "layered", "O1", "spinel", "rock_salt", "C2/m".
    family : str
        "A" (along a close-packed O row) or "B" (the perpendicular sqrt(3) direction).

    Returns
    -------
    tuple of ProjectedCell
        One per zone variant.
    """
    if phase not in PHASE_MODELS:
        raise StemstrainError(f"phases must be among {sorted(PHASE_MODELS)}, got {phase!r}")
    if family not in ("A", "B"):
        raise StemstrainError(f"zone family must be 'A' or 'B', got {family!r}")
    name, hkl, zones = PHASE_MODELS[phase]
    atoms = structure(name)
    return tuple(project(atoms, z, hkl, name=f"{name} {list(z)}") for z in zones[family])
