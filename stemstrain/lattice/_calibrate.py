"""Pixel-size calibration on a known crystal: :func:`calibrate_scale`.

The 2-D nets a :func:`~stemstrain.lattice_map` finds are matched, scale-free (length
ratio and angle of the reduced basis), to the nets of the low-index zone axes of a known
structure; the ratio of measured to true ``|g|`` is then the factor between the true and
the stored pixel size. Allowed reflections come from a kinematic structure factor over
the ASE positions (``f = Z``), so lattice extinctions (fcc, bcc) are respected.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._basis import reduce_basis
from ..errors import ConfigError, NoLatticeError
from ..results import ResultBase

# name -> (symbols, fractional basis, space group, a in Angstrom) for non-elemental names
_STRUCTURES = {
    "SrTiO3": (("Sr", "Ti", "O"), ((0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0)), 221, 3.905),
}


@dataclass(frozen=True)
class ScaleCalibration(ResultBase):
    """Pixel-size calibration against a known crystal.

    Attributes
    ----------
    scale_factor, sigma : float
        True pixel size over the stored one (robust median over the matched windows) and
        its sigma (MAD / sqrt(n_eff), n_eff = windows at least one window size apart).
    pixel_size_nm : float
        Corrected pixel size, nm (the stored one times ``scale_factor``; with an
        uncalibrated input, ``scale_factor`` itself).
    stored_pixel_size : float or None
        The pixel size the lattice map was measured with, nm.
    zone_axis : tuple of int
        ``[uvw]`` of the matched net.
    reflections : tuple of two (h, k, l)
        The net's two basis reflections (shorter first).
    d_nm : tuple of float
        Their true spacings, nm.
    residual_deg : float
        Median |measured - true| angle of the net over the matched windows, deg.
    n_windows : int
        Windows matched to the chosen net (of ``n_2d`` 2-D windows).
    n_2d : int
        2-D lattice windows of the lattice map.
    anisotropy : tuple
        The lattice map's ``(ratio, sigma, lattice, shear_deg)`` (reported, not corrected).
    structure : str
        Chemical formula of the reference structure.
    messages : tuple of str
        Warnings issued.
    """

    scale_factor: float
    sigma: float
    pixel_size_nm: float
    stored_pixel_size: float | None
    zone_axis: tuple
    reflections: tuple
    d_nm: tuple
    residual_deg: float
    n_windows: int
    n_2d: int
    anisotropy: tuple
    structure: str
    messages: tuple = ()

    group: ClassVar[str] = "calibration"
    attr_fields: ClassVar[tuple[str, ...]] = (
        "scale_factor",
        "sigma",
        "residual_deg",
        "n_windows",
        "n_2d",
        "structure",
    )

    @property
    def pixel_size(self) -> float:
        """The corrected pixel size, nm (what ``save`` writes as ``pixel_size_nm``)."""
        return self.pixel_size_nm

    def attrs(self) -> dict[str, Any]:
        """Scalars plus zone axis, reflections and spacings as arrays."""
        out = super().attrs()
        out["zone_axis"] = np.asarray(self.zone_axis, dtype=int)
        out["reflections"] = np.asarray(self.reflections, dtype=int)
        out["d_nm"] = np.asarray(self.d_nm, dtype=float)
        out["stored_pixel_size"] = float(self.stored_pixel_size or np.nan)
        out["messages"] = "\n".join(self.messages)
        return out


def _atoms(structure: Any) -> Any:
    """Return ASE Atoms from Atoms, a CIF/structure file path, or a name."""
    if hasattr(structure, "get_scaled_positions"):
        return structure
    if not isinstance(structure, (str, os.PathLike)):
        raise ConfigError(
            f"structure must be ASE Atoms, a file path or a name, not {type(structure).__name__}"
        )
    if os.path.exists(structure):
        import ase.io

        return ase.io.read(structure)
    name = str(structure)
    if name in _STRUCTURES:
        from ase.spacegroup import crystal

        sym, basis, sg, a = _STRUCTURES[name]
        return crystal(sym, basis=basis, spacegroup=sg, cellpar=[a, a, a, 90, 90, 90])
    from ase.build import bulk

    try:
        return bulk(name, cubic=True)
    except Exception as exc:  # ase raises ValueError/KeyError/RuntimeError
        raise ConfigError(
            f"structure {name!r}: not a file and ase.build.bulk does not know it ({exc})"
        ) from exc


def _allowed(atoms: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """List the allowed hkl within ``|h|,|k|,|l| <= n`` and their g (1/nm, Cartesian)."""
    r = np.arange(-n, n + 1)
    hkl = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    hkl = hkl[np.any(hkl != 0, axis=1)]
    frac = atoms.get_scaled_positions()
    z = atoms.get_atomic_numbers().astype(float)
    f = (z * np.exp(2j * np.pi * hkl @ frac.T)).sum(axis=1)
    keep = np.abs(f) ** 2 > 1e-6 * (z.sum() ** 2)
    g = hkl[keep] @ (np.asarray(atoms.cell.reciprocal()) * 10.0)  # 1/Angstrom -> 1/nm
    return hkl[keep], g


def _zone_nets(atoms: Any, max_index: int) -> list[dict]:
    """Per zone axis ``[uvw]`` (|u|,|v|,|w| <= max_index): the net of its two shortest allowed g."""
    hkl, g = _allowed(atoms, 2 * max_index + 2)
    glen = np.linalg.norm(g, axis=1)
    r = np.arange(-max_index, max_index + 1)
    uvw = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    first = uvw[np.arange(len(uvw)), np.argmax(uvw != 0, axis=1)]
    gcd = np.gcd.reduce(np.abs(uvw), axis=1)
    uvw = uvw[(gcd == 1) & (first > 0)]
    uvw = uvw[np.argsort(np.abs(uvw).sum(axis=1), kind="stable")]
    nets, seen = [], set()
    for zone in uvw:  # a few dozen zones: the per-zone work is vectorised over hkl
        inz = np.flatnonzero(hkl @ zone == 0)
        if len(inz) < 2:
            continue
        order = inz[np.argsort(glen[inz], kind="stable")]
        i1 = order[0]
        cross = np.abs(np.cross(g[order], g[i1])).reshape(len(order), -1).max(axis=1)
        rest = order[cross > 1e-6 * glen[i1] * glen[order]]
        if not len(rest):
            continue
        i2 = rest[0]
        cosang = abs(g[i1] @ g[i2]) / (glen[i1] * glen[i2])
        key = (round(glen[i1], 4), round(glen[i2], 4), round(cosang, 4))
        if key in seen:  # a symmetry-equivalent zone: same net, same scale
            continue
        seen.add(key)
        nets.append(
            {
                "zone": tuple(int(v) for v in zone),
                "hkl": (tuple(int(v) for v in hkl[i1]), tuple(int(v) for v in hkl[i2])),
                "g": (float(glen[i1]), float(glen[i2])),
                "ratio": float(glen[i2] / glen[i1]),
                "angle": math.degrees(math.acos(min(cosang, 1.0))),
            }
        )
    return nets


def _reduce(g: np.ndarray, n_iter: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """|g1| <= |g2| and the angle in (0, 90] of the Lagrange-reduced bases (n, 2, 2)."""
    b = reduce_basis(g, iterations=n_iter)
    a, c = b[:, 0], b[:, 1]
    la, lb = np.linalg.norm(a, axis=1), np.linalg.norm(c, axis=1)
    lo, hi = np.minimum(la, lb), np.maximum(la, lb)
    ang = np.degrees(np.arccos(np.clip(np.abs((a * c).sum(1)) / (la * lb), 0, 1)))
    return lo, hi, ang


def _measured(lm: Any, pixel_size: float | None) -> tuple[np.ndarray, float | None, int]:
    """Reduced 2-D bases of the map's 2-D windows in 1/nm (1/px uncalibrated)."""
    stored = pixel_size if pixel_size is not None else lm.pixel_size
    g = np.asarray(lm.g_px, dtype=float)  # cycles/px
    ok = np.asarray(lm.lattice_2d) & np.asarray(lm.crystalline) & np.isfinite(g).all(axis=(-1, -2))
    gw = g[ok] / (stored or 1.0)
    overlap = min(1.0, (lm.step_px / lm.window_px) ** 2)
    return gw, stored, overlap


def _match(
    lo: np.ndarray, hi: np.ndarray, ang: np.ndarray, nets: list[dict], tol: float
) -> np.ndarray:
    """Boolean (n_windows, n_nets): the window's ratio and angle fit the net within ``tol`` deg."""
    ratio = np.array([n["ratio"] for n in nets])
    angle = np.array([n["angle"] for n in nets])
    dang = np.abs(ang[:, None] - angle[None, :])
    dratio = np.abs(hi / lo)[:, None] / ratio[None, :] - 1.0
    return (dang <= tol) & (np.abs(dratio) <= math.radians(tol))


def _choose(hits: np.ndarray, nets: list[dict], msgs: list) -> int:
    """Pick the net matched by most windows (lowest index on ties); note ambiguity."""
    counts = hits.sum(axis=0)
    if counts.max() == 0:
        return -1
    order = sorted(range(len(nets)), key=lambda i: (-counts[i], sum(map(abs, nets[i]["zone"]))))
    best = order[0]
    rivals = [i for i in order[1:] if counts[i] >= 0.5 * counts[best]]
    scales = [nets[i]["g"][0] / nets[best]["g"][0] for i in rivals]
    other = [nets[i]["zone"] for i, s in zip(rivals, scales, strict=True) if abs(s - 1) > 0.01]
    if other:
        msgs.append(
            f"calibrate_scale: ambiguous: the windows also match zone(s) {other} (another scale); "
            f"chose {list(nets[best]['zone'])} (most windows, lowest index)"
        )
    return best


def calibrate_scale(
    image_or_latticemap: Any,
    structure: Any,
    *,
    pixel_size: float | None = None,
    max_index: int = 3,
    tolerance_deg: float = 2.0,
) -> ScaleCalibration:
    """Calibrate the pixel size on a known crystal seen in the image.

    Parameters
    ----------
    image_or_latticemap : ndarray, hyperspy Signal2D or LatticeMap
        The micrograph (mapped with :func:`lattice_map`) or its lattice map.
    structure : ase.Atoms, str or path
        The crystal: ASE Atoms, a CIF (any ``ase.io`` file), or a name (``"SrTiO3"``,
        or anything ``ase.build.bulk(name, cubic=True)`` knows, e.g. ``"Au"``).
    pixel_size : float, optional
        Stored pixel size, nm (default: the image's / lattice map's).
    max_index : int
        Zone axes ``[uvw]`` with ``|u|, |v|, |w| <= max_index`` are tried.
    tolerance_deg : float
        Match tolerance of the net angle, deg (the length ratio within the same in rad).

    Returns
    -------
    ScaleCalibration
        ``scale_factor`` (true / stored pixel size) with sigma, the corrected
        ``pixel_size_nm``, the matched zone and reflections. Apply it yourself
        (``pixel_size=cal.pixel_size_nm``); the input is not modified.

    Raises
    ------
    NoLatticeError
        No 2-D lattice window matches a net of the structure.
    """
    if max_index < 1 or not tolerance_deg > 0:
        raise ConfigError("calibrate_scale: max_index >= 1 and tolerance_deg > 0 are required")
    atoms = _atoms(structure)
    lm = image_or_latticemap
    if not hasattr(lm, "lattice_2d"):
        from ._map import lattice_map

        lm = lattice_map(image_or_latticemap, pixel_size)
    gw, stored, overlap = _measured(lm, pixel_size)
    if not len(gw):
        raise NoLatticeError("calibrate_scale: the lattice map has no 2-D lattice window to match")
    nets = _zone_nets(atoms, max_index)
    lo, hi, ang = _reduce(gw)
    hits = _match(lo, hi, ang, nets, tolerance_deg)
    msgs: list[str] = []
    best = _choose(hits, nets, msgs)
    formula = atoms.get_chemical_formula()
    if best < 0:
        raise NoLatticeError(
            f"calibrate_scale: none of {len(gw)} 2-D windows matches a zone-axis net of {formula} "
            f"(max_index={max_index}, tolerance {tolerance_deg} deg); measured median ratio "
            f"{np.median(hi / lo):.3f}, angle {np.median(ang):.1f} deg"
        )
    net, sel = nets[best], hits[:, best]
    per = np.sqrt(lo[sel] * hi[sel] / (net["g"][0] * net["g"][1]))
    factor = float(np.median(per))
    n_eff = max(1.0, sel.sum() * overlap)
    sigma = float(1.4826 * np.median(np.abs(per - factor)) / math.sqrt(n_eff))
    if sel.sum() < 5:
        msgs.append(f"calibrate_scale: only {int(sel.sum())} window(s) matched: sigma is rough")
    for m in msgs:
        warnings.warn(m, UserWarning, stacklevel=2)
    an = lm.anisotropy
    return ScaleCalibration(
        scale_factor=factor,
        sigma=sigma,
        pixel_size_nm=factor * (stored or 1.0),
        stored_pixel_size=stored,
        zone_axis=net["zone"],
        reflections=net["hkl"],
        d_nm=(1.0 / net["g"][0], 1.0 / net["g"][1]),
        residual_deg=float(np.median(np.abs(ang[sel] - net["angle"]))),
        n_windows=int(sel.sum()),
        n_2d=len(gw),
        anisotropy=(an.ratio, an.sigma, an.lattice, an.shear_deg),
        structure=formula,
        messages=tuple(msgs),
    )
