"""Phase and orientation maps from 4D-STEM: ``fourd_phases``.

For each structure (CIF path or ASE ``Atoms``): kinematic reflections (``_crystal``), a
library of zone axes reduced by the diffraction symmetry, the spot pattern of each zone
axis (excitation error, Ewald sphere) as a blurred polar template, and one vectorised
match of every scan position against every template and in-plane rotation
(``_match``). The best structure wins at each position (cosine score; ``-1`` below
``min_score``). Then, per phase, the measured peaks are indexed with the matched,
rotated template and the cell (a, b, c; tied by the crystal system, angles kept) is
fitted by robust least squares on ``|q|² = hᵀ G* h``; with ``PhaseLibrary.refine`` the
templates are rebuilt with the fitted cell and the match is repeated (so a CIF whose
cell is a few % off still finds the data's own lattice).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import StemstrainError
from ..io import BraggVectors, electron_wavelength_nm
from ..results import Calibration, ResultBase
from ._cellfit import assign, fit_cells
from ._crystal import Crystal, load_structure, zone_axes, zone_spots
from ._match import LazyPolarPatterns, PolarGrid, match_all, polar_templates
from ._settings import DetectorGeometry

__all__ = ["fourd_phases", "FourDPhasesResult", "PhaseLibrary", "phase_fractions"]


@dataclass(frozen=True)
class PhaseLibrary:
    """Settings of the orientation library and of the matching of ``fourd_phases``.

    Parameters
    ----------
    zone_axes : "low-index", "sphere", list of [u, v, w] or dict
        Beam directions: all ``[uvw]`` up to ``max_index``; a Fibonacci grid of the sphere
        at ``zone_step_deg``; or the given directions (applied to every structure); or a
        dict ``{phase name: one of those}`` (phases not in it: "low-index"). The first two
        are reduced to one direction per symmetry class.
    max_index, zone_step_deg : int, float
    sigma_excitation : float
        Excitation-error width (1/nm) of the spot weights.
    beam_kv : float
        Beam energy (Ewald-sphere curvature).
    q_min, q_max : float, optional
        Radial range (1/nm) matched; default from 0.6 × the shortest strong reflection to
        the 99.5th percentile of the measured ``|q|``.
    radial_tolerance : float
        Relative radial blur of the templates and log-radius bin width (final pass; the
        first pass uses twice it).
    angular_tolerance_deg : float
        Angular blur of the templates.
    angular_step_deg : float
        In-plane rotation step (angle bins over 180°).
    intensity_power : float
        Peak and spot intensities are raised to this power.
    refine : bool
        Search an isotropic scale of each structure's templates (within ``scale_range``),
        fit the cells on the positions each phase wins, and match again with the fitted
        cells (a CIF cell a few % off converges to the data's own lattice).
    scale_range : float
        Relative range (±) of the isotropic cell-scale search of ``refine``, in steps of
        ``radial_tolerance`` (0: no search, the fit starts from the input cells).
    n_search : int
        Scan positions (a regular subset of those with peaks) matched at every scale.
    """

    zone_axes: Any = "low-index"
    max_index: int = 2
    zone_step_deg: float = 2.0
    sigma_excitation: float = 0.2
    beam_kv: float = 300.0
    q_min: float | None = None
    q_max: float | None = None
    radial_tolerance: float = 0.025
    angular_tolerance_deg: float = 2.0
    angular_step_deg: float = 3.0
    intensity_power: float = 0.5
    refine: bool = True
    scale_range: float = 0.06
    n_search: int = 1024

    def __post_init__(self) -> None:
        """Validate the fields (the message names the field)."""
        for za in self.zone_axes.values() if isinstance(self.zone_axes, dict) else [self.zone_axes]:
            if isinstance(za, str) and za not in ("low-index", "sphere"):
                raise StemstrainError(
                    f"zone_axes must be 'low-index', 'sphere', a list of "
                    f"[u, v, w] or a dict of those, got {za!r}"
                )
        for name in (
            "sigma_excitation",
            "beam_kv",
            "radial_tolerance",
            "angular_tolerance_deg",
            "zone_step_deg",
            "angular_step_deg",
        ):
            v = getattr(self, name)
            if not (isinstance(v, (int, float, np.number)) and v > 0):
                raise StemstrainError(f"{name} must be a number > 0, got {v!r}")
        if not (isinstance(self.scale_range, (int, float)) and 0 <= self.scale_range <= 0.3):
            raise StemstrainError(f"scale_range must be in [0, 0.3], got {self.scale_range!r}")
        if int(self.n_search) < 16:
            raise StemstrainError(f"n_search must be >= 16, got {self.n_search!r}")
        if int(self.max_index) < 1:
            raise StemstrainError(f"max_index must be >= 1, got {self.max_index!r}")


@dataclass(frozen=True)
class FourDPhasesResult(ResultBase):
    """Phase and orientation map over the scan (``fourd_phases``).

    Attributes
    ----------
    label_map : ndarray of int (scan_y, scan_x)
        Index into ``phases``; -1 where no structure matches (score below ``min_score``
        or fewer than 3 peaks).
    phases : tuple of str
        Phase names (CIF file stems unless given).
    score : ndarray (scan_y, scan_x)
        Cosine similarity (0..1) of the best template of the assigned phase.
    scores : ndarray (n_phases, scan_y, scan_x)
        Best score of each structure (the margin between them says how sure the label is).
    zone_axis : ndarray (scan_y, scan_x, 3)
        Beam direction in the lattice of the assigned phase, ``[u, v, w]`` scaled to a
        largest component of 1 (NaN where unassigned).
    inplane_rotation : ndarray (scan_y, scan_x)
        Rotation (deg, mod 180, counter-clockwise in the scan frame) of the template.
    lattice_parameters : dict
        Per phase: ``a, b, c`` (nm) as ``(value, sigma)``, ``alpha, beta, gamma`` (deg,
        kept from the structure), ``n_peaks`` used, ``cif`` (a, b, c of the input), ``rms``
        relative ``|q|`` residual.
    n_peaks : ndarray of int (scan_y, scan_x)
    pixel_size : float or None
        Scan step, nm.
    params : dict
    """

    label_map: np.ndarray
    phases: tuple
    score: np.ndarray
    scores: np.ndarray
    zone_axis: np.ndarray
    inplane_rotation: np.ndarray
    n_peaks: np.ndarray
    lattice_parameters: dict = field(default_factory=dict)
    pixel_size: float | None = None
    params: dict = field(default_factory=dict)

    group: ClassVar[str] = "fourd_phases"
    map_fields: ClassVar[tuple[str, ...]] = ("label_map", "score", "inplane_rotation", "n_peaks")
    array_fields: ClassVar[tuple[str, ...]] = ("scores", "zone_axis")
    attr_fields: ClassVar[tuple[str, ...]] = ("phases", "lattice_parameters", "params")

    @property
    def calibration(self) -> Calibration:
        """Sampling of the scan grid (nm, or px when uncalibrated)."""
        return Calibration.from_pixel_size(self.pixel_size)

    @property
    def orientation(self) -> tuple[np.ndarray, np.ndarray]:
        """(zone_axis, inplane_rotation) per position."""
        return self.zone_axis, self.inplane_rotation

    def fractions(self) -> dict[str, float]:
        """Fraction of the scan positions per phase (and "unassigned")."""
        return phase_fractions(self)

    def key_figures(self) -> dict[str, float]:
        """Batch key figures: phase fractions, median score, fitted lattice parameters."""
        out = {f"fraction_{k}": v for k, v in self.fractions().items()}
        ok = self.label_map >= 0
        out["median_score"] = float(np.median(self.score[ok])) if ok.any() else float("nan")
        for name, lp in self.lattice_parameters.items():
            for axis in ("a", "b", "c"):
                out[f"{name}_{axis}_nm"] = float(lp[axis][0])
        return out


def phase_fractions(result: FourDPhasesResult) -> dict[str, float]:
    """Fraction of scan positions assigned to each phase, and ``unassigned``.

    Parameters
    ----------
    result : FourDPhasesResult

    Returns
    -------
    dict
        ``{phase name: fraction, ..., "unassigned": fraction}`` (sums to 1).
    """
    lab = np.asarray(result.label_map)
    n = lab.size
    out = {name: float((lab == i).sum() / n) for i, name in enumerate(result.phases)}
    out["unassigned"] = float((lab < 0).sum() / n)
    return out


def _as_vectors(
    data: Any, geometry: DetectorGeometry | None, probe: Any, detection: Any
) -> tuple[BraggVectors, float | None]:
    """Bragg vectors of the input (cubes: ``find_disks``) and the scan step."""
    if isinstance(data, BraggVectors):
        return data, None
    from ._core import find_disks
    from ._disks import estimate_probe
    from ._input import as_cube, read_positions

    cube, scan_px, recip = as_cube(data, "bragg_or_cube")
    if geometry is not None and geometry.reciprocal_pixel_size is not None:
        recip = float(geometry.reciprocal_pixel_size)
    if recip is None:
        raise StemstrainError(
            "fourd_phases needs a calibrated detector to compare with structures: pass "
            "geometry=DetectorGeometry(reciprocal_pixel_size=...) (1/nm per pixel) or a "
            "calibrated signal"
        )
    if probe is None:
        n = cube.shape[0] * cube.shape[1]
        idx = np.linspace(0, n - 1, min(n, 256)).astype(int)
        probe = estimate_probe(read_positions(cube, np.unique(idx)).mean(axis=0))
    disks = find_disks(cube, probe, detection=detection)
    return BraggVectors.from_disks(disks, cube.shape[:2], reciprocal_pixel_size=recip), scan_px


def _centred_q(
    bv: BraggVectors, geometry: DetectorGeometry | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(position, qx, qy, intensity) in 1/nm, scan frame, (000) beam removed."""
    pos = bv.position_index()
    if bv.origin is None:  # per pattern: the strongest peak is the (000) beam
        xy, inten, valid = bv.padded()
        ox = np.repeat(xy[:, 0, 0], np.diff(bv.offsets))
        oy = np.repeat(xy[:, 0, 1], np.diff(bv.offsets))
        x, y = bv.x - ox, bv.y - oy
        scale = bv.reciprocal_pixel_size
        if scale is None:
            raise StemstrainError(
                "fourd_phases needs calibrated Bragg vectors (1/nm) or a reciprocal_pixel_size"
            )
        x, y = x * scale, y * scale
    else:
        x, y, units = bv.centred()
        if units != "1/nm":
            raise StemstrainError(
                "fourd_phases needs calibrated Bragg vectors (1/nm) or a reciprocal_pixel_size"
            )
    if geometry is not None:
        m = geometry.matrix()
        x, y = m[0, 0] * x + m[0, 1] * y, m[1, 0] * x + m[1, 1] * y
    return pos, x, y, bv.intensity.copy()


def _library(crystal: Crystal, lib: PhaseLibrary) -> np.ndarray:
    za = lib.zone_axes
    if isinstance(za, dict):
        za = za.get(crystal.name, "low-index")
    if isinstance(za, str):
        return zone_axes(crystal, mode=za, max_index=lib.max_index, step_deg=lib.zone_step_deg)
    return zone_axes(crystal, axes=za)


def _match_structures(
    crystals: list[Crystal],
    lib: PhaseLibrary,
    grid: PolarGrid,
    patterns: LazyPolarPatterns,
    n_step: int = 0,
) -> list[dict]:
    """Library, spots and templates of each structure (at each q-scale), one matching pass.

    Scales ``exp(k · dlr)``, ``k = -n_step..n_step``: a scale is a shift of ``k`` bins
    along log-radius, so each structure's templates are computed once on a grid extended
    by ``n_step`` bins at both ends and sliced. Per structure: ``axes``, ``spots`` and,
    per scale (first axis), the ``score``, ``template`` and ``angle`` of every pattern.
    """
    ext = PolarGrid(
        grid.q_min * np.exp(-n_step * grid.dlr),
        grid.q_min * np.exp((grid.n_r + n_step) * grid.dlr),
        dlr=grid.dlr,
        n_t=grid.n_t,
    )
    banks, out = [], []
    for crystal in crystals:
        w = _library(crystal, lib)
        spots = zone_spots(
            crystal,
            w,
            wavelength_nm=electron_wavelength_nm(lib.beam_kv),
            sigma_exc=lib.sigma_excitation,
            q_range=(ext.q_min, ext.q_max),
        )
        t_ext = polar_templates(
            ext,
            spots["uv"],
            spots["weight"] ** lib.intensity_power,
            sigma_lr=lib.radial_tolerance,
            sigma_deg=lib.angular_tolerance_deg,
        )
        for k in range(-n_step, n_step + 1):  # template scaled by exp(k dlr) on ``grid``
            banks.append(t_ext[:, n_step - k : n_step - k + grid.n_r])
        out.append({"axes": w, "spots": spots})
    res = match_all(patterns, banks)
    nf = 2 * n_step + 1
    for i, m in enumerate(out):
        part = res[i * nf : (i + 1) * nf]
        m.update({k: np.stack([r[j] for r in part]) for j, k in enumerate(_MATCH_KEYS)})
    return out


_MATCH_KEYS = ("score", "template", "angle")


def _at_factor(m: dict, k: int, f: float) -> dict:
    """One scale of a structure's matches, the spots scaled by ``f`` (for the indexing)."""
    spots = dict(m["spots"], uv=m["spots"]["uv"] * f)
    return {"axes": m["axes"], "spots": spots, **{key: m[key][k] for key in _MATCH_KEYS}}


def _choose_scales(matches: list[dict], min_score: float) -> list[int]:
    """Per structure, the scale whose templates score best on the positions it wins."""
    s = np.stack([m["score"] for m in matches])  # (C, F, N)
    best = s.max(axis=1)  # (C, N)
    winner = np.where(best.max(axis=0) >= min_score, np.argmax(best, axis=0), -1)
    out = []
    for i in range(len(matches)):
        won = winner == i
        if won.sum() < 3:  # wins nowhere: its own best-explained positions
            won = best[i] >= np.quantile(best[i], 0.9)
        out.append(int(np.argmax(s[i][:, won].sum(axis=1))))
    return out


def _scale_search(crystals, lib, grid, patterns, n_used, peaks, keep, min_score, k_max):
    """Find the starting cells of the full match (``refine``) by a scale search on a subset.

    A regular subset of the positions is matched at every isotropic scale of each
    structure; each structure keeps its best scale and its cell is fitted on the subset
    positions it wins. Returns (fitted crystals, {name: fitted / input cell size}).
    """
    n_step = int(np.floor(lib.scale_range / lib.radial_tolerance + 1e-9))
    factors = np.exp(np.arange(-n_step, n_step + 1) * lib.radial_tolerance)
    cand = np.flatnonzero(n_used >= 3)
    sub = cand[np.unique(np.linspace(0, len(cand) - 1, min(len(cand), lib.n_search)).astype(int))]
    if len(sub) == 0:
        return crystals, {c.name: 1.0 for c in crystals}
    matches = _match_structures(crystals, lib, grid, patterns.subset(sub), n_step)
    ks = _choose_scales(matches, min_score)
    n = len(n_used)
    full = []
    for m, k in zip(matches, ks, strict=True):
        one = _at_factor(m, k, factors[k])
        for key in _MATCH_KEYS:  # back onto the whole scan (only ``sub`` is labelled)
            arr = np.zeros(n, dtype=one[key].dtype)
            arr[sub] = one[key]
            one[key] = arr
        full.append(one)
    labels = np.full(n, -1)
    labels[sub] = assign([{"score": m["score"][sub]} for m in full], n_used[sub], min_score)
    scales = [float(factors[k]) for k in ks]
    _, fitted = fit_cells(
        crystals,
        full,
        labels,
        peaks,
        keep,
        k_max=k_max,
        tol=2.5 * lib.radial_tolerance,
        scales=scales,
    )
    ratio = {}
    for c0, c1 in zip(crystals, fitted, strict=True):
        ratio[c0.name] = float(np.cbrt(abs(np.linalg.det(c1.cell) / np.linalg.det(c0.cell))))
        if n_step and not 1 / factors[-1] - 0.01 < ratio[c0.name] < 1 / factors[0] + 0.01:
            warnings.warn(
                f"fourd_phases: {c0.name}: the fitted cell is x{ratio[c0.name]:.3f} the input "
                f"cell, outside the searched scales ±{lib.scale_range:.0%}: widen "
                "PhaseLibrary.scale_range or check the calibration",
                UserWarning,
                stacklevel=3,
            )
    return fitted, ratio


#: relative change of a fitted cell length from the input structure's beyond which the
#: label is flagged (a calibration is rarely off by more than ~1 %)
CELL_CHANGE_WARN = 0.02


def _flag_cell_changes(lattice: dict, labels: np.ndarray, crystals0: list[Crystal]) -> None:
    """Record ``cell_change`` per phase; warn where the data's cell is not the structure's."""
    for i, c in enumerate(crystals0):
        lp = lattice[c.name]
        fit = np.array([lp[k][0] for k in "abc"])
        change = float(np.max(np.abs(fit / np.asarray(lp["cif"]) - 1.0)))
        lp["cell_change"] = change
        if change > CELL_CHANGE_WARN and (labels == i).any():
            warnings.warn(
                f"fourd_phases: {c.name}: the fitted cell (a, b, c = "
                f"{', '.join(f'{v:.4f}' for v in fit)} nm) differs from the structure's by "
                f"{change:.1%}: the positions labelled {c.name} hold a lattice of that "
                "pattern type but not this cell (another phase, or a calibration error)",
                UserWarning,
                stacklevel=3,
            )


def _read_structures(structures: Any, names: Any) -> list[tuple[str, Any]]:
    if isinstance(structures, (str, bytes)) or not hasattr(structures, "__len__"):
        structures = [structures]
    if len(structures) == 0:
        raise StemstrainError("structures must list at least one CIF path or ase.Atoms")
    out = []
    with warnings.catch_warnings():  # ASE: "crystal system ... not interpreted" notes
        warnings.simplefilter("ignore", UserWarning)
        for s in structures:
            out.append(load_structure(s))
    if names is not None:
        names = list(names)
        if len(names) != len(out):
            raise StemstrainError(
                f"names must have one entry per structure ({len(out)}), got {len(names)}"
            )
        out = [(str(n), a) for n, (_, a) in zip(names, out, strict=True)]
    return out


def fourd_phases(
    bragg_or_cube: Any,
    structures: Any,
    *,
    names: Any = None,
    library: PhaseLibrary | None = None,
    geometry: DetectorGeometry | None = None,
    probe: Any = None,
    detection: Any = None,
    min_score: float = 0.25,
) -> FourDPhasesResult:
    """Phase, orientation and lattice-parameter maps by kinematic template matching.

    Parameters
    ----------
    bragg_or_cube : BraggVectors or 4-D data
        Calibrated Bragg vectors (``ss.load`` of a py4DSTEM file, or
        ``BraggVectors.from_disks``), or a 4D-STEM cube (disks found by ``find_disks``;
        the detector must be calibrated: signal axes in 1/nm or
        ``geometry.reciprocal_pixel_size``).
    structures : list of CIF paths or ase.Atoms
        Candidate phases.
    names : list of str, optional
        Phase names (default: the CIF file stems, the formula for ``Atoms``).
    library : PhaseLibrary, optional
        Zone-axis library and matching settings. Default ``PhaseLibrary()``.
    geometry : DetectorGeometry, optional
        Detector rotation/flip/ellipse applied to the vectors before matching (the
        orientations are then in the scan frame), detector pixel size for cubes.
    probe : ndarray, optional
        Vacuum probe for the disk detection of a cube.
    detection : DiskDetection, optional
        Disk-detection settings for a cube.
    min_score : float
        Positions whose best score is below this are unassigned (-1).

    Returns
    -------
    FourDPhasesResult

    Raises
    ------
    StemstrainError
        Uncalibrated vectors, unreadable structures, bad settings.

    Examples
    --------
    >>> from stemstrain.synthetic._fourd import two_phase_vectors
    >>> bv, structures, truth = two_phase_vectors((6, 8))
    >>> res = fourd_phases(bv, structures)
    >>> float((res.label_map == truth["label_map"]).mean()) > 0.95
    True
    """
    lib = library if library is not None else PhaseLibrary()
    if not isinstance(lib, PhaseLibrary):
        raise StemstrainError(f"library must be a PhaseLibrary or None, got {type(lib).__name__}")
    if geometry is not None and not isinstance(geometry, DetectorGeometry):
        raise StemstrainError(
            f"geometry must be a DetectorGeometry or None, got {type(geometry).__name__}"
        )
    structs = _read_structures(structures, names)
    bv, scan_px = _as_vectors(bragg_or_cube, geometry, probe, detection)
    pos, qx, qy, inten = _centred_q(bv, geometry)
    q = np.hypot(qx, qy)
    q_max = lib.q_max or float(np.percentile(q, 99.5)) * 1.02 if len(q) else 10.0
    crystals = [Crystal.from_atoms(n, a, k_max=q_max * 1.1) for n, a in structs]
    crystals0 = list(crystals)
    q_min = lib.q_min or 0.6 * min(
        float(np.linalg.norm(c.g[c.intensity > 0.01], axis=1).min()) for c in crystals
    )
    n = bv.n_positions
    keep = (q >= q_min) & (q <= q_max)
    w = np.clip(inten, 0, None) ** lib.intensity_power
    n_used = np.bincount(pos[keep], minlength=n)
    grid = PolarGrid(
        q_min, q_max, dlr=lib.radial_tolerance, n_t=int(round(180 / lib.angular_step_deg))
    )
    patterns = LazyPolarPatterns(grid, pos[keep], qx[keep], qy[keep], w[keep], n)  # by chunk
    peaks, k_max = (pos, qx, qy), q_max * 1.1
    cell_scale = {c.name: 1.0 for c in crystals}
    if lib.refine:
        # cell-scale search + cell fit on a subset, then the full match with those cells
        crystals, cell_scale = _scale_search(
            crystals, lib, grid, patterns, n_used, peaks, keep, min_score, k_max
        )
    matches = [_at_factor(m, 0, 1.0) for m in _match_structures(crystals, lib, grid, patterns)]
    labels = assign(matches, n_used, min_score)
    lattice, crystals = fit_cells(
        crystals,
        matches,
        labels,
        peaks,
        keep,
        k_max=k_max,
        tol=2.5 * lib.radial_tolerance,
        cif={c.name: {"cif": list(c.parameters[:3])} for c in crystals0},
    )
    _flag_cell_changes(lattice, labels, crystals0)
    return _result(
        bv,
        crystals,
        matches,
        labels,
        lattice,
        n_used,
        scan_px,
        {
            "min_score": min_score,
            "q_range": [q_min, q_max],
            "library": {
                k: (v if not isinstance(v, np.ndarray) else v.tolist())
                for k, v in lib.__dict__.items()
            },
            "n_zone_axes": [len(m["axes"]) for m in matches],
            "cell_scale_search": cell_scale,
            "source": bv.source,
        },
    )


def _result(bv, crystals, matches, labels, lattice, n_used, scan_px, params):
    sy, sx = bv.scan_shape
    n = sy * sx
    scores = np.stack([m["score"] for m in matches])
    ok = labels >= 0
    li = np.where(ok, labels, 0)
    score = np.where(ok, scores[li, np.arange(n)], np.nan)
    zone = np.full((n, 3), np.nan)
    angle = np.full(n, np.nan)
    for i, (c, m) in enumerate(zip(crystals, matches, strict=True)):
        sel = labels == i
        d = m["axes"][m["template"][sel]]
        uvw = d @ np.linalg.inv(c.cell)  # direction = uvw @ cell
        zone[sel] = uvw / np.abs(uvw).max(axis=1, keepdims=True)
        angle[sel] = m["angle"][sel]
    return FourDPhasesResult(
        label_map=labels.reshape(sy, sx),
        phases=tuple(c.name for c in crystals),
        score=score.reshape(sy, sx),
        scores=scores.reshape(-1, sy, sx),
        zone_axis=zone.reshape(sy, sx, 3),
        inplane_rotation=angle.reshape(sy, sx),
        n_peaks=n_used.reshape(sy, sx),
        lattice_parameters=lattice,
        pixel_size=scan_px,
        params=params,
    )
