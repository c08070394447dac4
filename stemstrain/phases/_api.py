"""``phase_map``: phases of a cathode particle, surface-layer thickness and nano-voids.

Algorithm (details in the private modules):

1. Layer frame from the power spectrum (``_lockin.find_frame``): the layer normal
   ``g_n`` and the in-plane row frequency ``g_t``; their ratio gives the zone family
   ("A": 1.92, "B": 3.33 for LiCoO2). A ratio that fits neither means the crystal is not
   a layered-oxide-type lattice: every crystal pixel is "unknown" and a warning says so.
2. Template reflections (``_templates``): the projected ASE models of every phase in
   ``phases`` give the reflections where some phase is strong, and each model's expected
   amplitudes there (column envelope and lock-in response included).
3. Local amplitudes at those reflections (lock-in on a coarse grid, ``_lockin.lockin``),
   for a set of frame rotations (+-20 degrees) so that bent layers are followed; white
   noise bias subtracted.
4. Per point, the best-fitting model (``cos^2`` fit, ``_classify``) gives the phase; a fit
   below ``MIN_FIT`` is "unknown". Low lattice amplitude is vacuum (low mean intensity) or
   amorphous (intensity without lattice). If the median fit over the crystal is below
   ``SET_FIT`` the phase set does not explain the image: a warning, and "unknown".
5. Bent layers: layered vs O1 on the slip-corrected column registry (``_registry``:
   ``stacking_map``), since slipping layers drift in registry with the layer angle.
6. Surface layers and voids (``_surface``); ordering domains (``_domains``).

Several grains (``_grains``): every layered grain of ``ss.lattice_map`` turned >= 10 deg
from the frames already kept gets its own frame (its mean layer normal and in-plane
basis); steps 2-4 run once per frame and each coarse point keeps the frame whose lattice
amplitude, relative to that frame's typical level, is largest (``grain_map``). The misfit
checks of step 4 are made per grain.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

from .. import plot as _plot
from .._validate import image_and_pixel_size
from ..errors import StemstrainError
from ..results import Calibration, ResultBase
from . import _classify, _grains, _lockin, _registry, _surface
from ._domains import ordering_domains
from ._structures import PHASE_MODELS, phase_templates

__all__ = ["phase_map", "PhaseResult", "PHASE_CODES", "phase_key_figures"]

_plot.register("phases", "stemstrain.plot._phases:plot_phases")

#: label codes of ``PhaseResult.label_map``
PHASE_CODES = {
    "vacuum": 0,
    "layered": 1,
    "O1": 2,
    "spinel": 3,
    "rock_salt": 4,
    "C2/m": 5,
    "amorphous": 6,
    "unknown": 255,
}
DEFAULT_PHASES = ("layered", "O1", "spinel", "rock_salt", "C2/m")
MIN_FIT = 0.75
SET_FIT = 0.88
FAMILY_TOL = 0.12
#: layer spacings (nm) of the models: O1 0.43 ... rock salt 2 d111 0.49; +-10 %
SPACING_RANGE_NM = (0.39, 0.55)


@dataclass(frozen=True)
class PhaseResult(ResultBase):
    """Phase map of an image.

    Attributes
    ----------
    label_map : ndarray of uint8 (H, W)
        ``PHASE_CODES``: 0 vacuum, 1 layered (R-3m, O3), 2 O1, 3 spinel, 4 rock salt,
        5 C2/m (Li2MnO3-type), 6 amorphous (intensity without lattice), 255 unknown
        (lattice that no model of ``phases`` explains).
    confidence : ndarray of float32 (H, W)
        ``1 - (1 - fit) / (1 - fit_2)``: the share of the runner-up phase's unexplained
        signal that the winning model explains (0 a tie, 1 a perfect winner); NaN off the
        crystal. Where bent layers were re-labelled layered / O1 from their column
        stacking (``params["slip"]``), ``confidence`` and ``fit`` still describe the
        template reading of the projected pattern.
    fit : ndarray of float32 (H, W)
        ``cos^2`` fit of the winning model (1 = the model explains the local pattern).
    depth_map : ndarray of float32 (H, W)
        Distance from the particle surface (nm, or px uncalibrated); NaN without vacuum.
    domain_map : ndarray of int16 (H, W)
        Ordering domains: 0 off the crystal, 1.. the locally dominant lattice reflection
        (e.g. the two 90-degree superstructure domains of a perovskite).
    fractions : dict
        Area fraction of each phase name within the crystal (layered ... unknown), plus
        "crystal" (crystal area / image area).
    regions : DataFrame
        A row per connected region of one label: ``region, phase, area_nm2``
        (px^2 uncalibrated), ``x, y`` (px, centroid), ``confidence``, ``fit`` (means).
    surface_layers : DataFrame
        ``segment, s_nm, phase, thickness_nm``: a row per surface segment and
        non-layered phase.
    surface_profile : DataFrame
        ``depth_nm`` and the area fraction of each phase at that depth (whole surface).
    surface_summary : dict
        Phase -> ``mean_nm``, ``std_nm``, ``n_segments`` of the segment thicknesses.
    voids : DataFrame
        ``x, y`` (px), ``diameter_nm``, ``area_nm2``, ``depth_contrast``,
        ``distance_to_surface_nm``, ``distance_to_curvature_max_nm`` (NaN without a
        curvature result).
    grain_map : ndarray of int16 (H, W)
        Grain (lattice frame) of each crystal pixel: 1 the main lattice, 2.. a grain whose
        layers ``ss.lattice_map`` finds turned >= 10 deg from every other frame; 0 off
        the crystal.
    domains : DataFrame
        ``domain, gx, gy`` (cycles/px of the reflection), ``area_nm2``, ``fraction``.
    grains : DataFrame
        A row per grain of ``grain_map``: ``grain``, ``normal_deg`` (direction of its
        layer normal, counter-clockwise as displayed, 0..180), ``turn_deg`` (from grain
        1), ``family``, ``spacing_nm`` (px uncalibrated), ``area_fraction`` (of the
        crystal), ``fit_median``, ``lattice_grains`` (ids of the ``lattice_map`` grains
        it follows, comma-separated) and ``fraction_<phase>`` (within the grain).
    phases : tuple of str
        Phases the map was made with.
    pixel_size : float or None
        nm per pixel.
    params : dict
        Frame, zone family, resolution, fit statistics, warnings; ``slip``: the check of
        bent layers (``checked, applied, rotation_spread_deg, relabelled``, slip fit).
    """

    label_map: np.ndarray
    confidence: np.ndarray
    fit: np.ndarray
    depth_map: np.ndarray
    domain_map: np.ndarray
    grain_map: np.ndarray
    fractions: dict
    regions: pd.DataFrame
    surface_layers: pd.DataFrame
    surface_profile: pd.DataFrame
    surface_summary: dict
    voids: pd.DataFrame
    domains: pd.DataFrame
    grains: pd.DataFrame
    phases: tuple
    pixel_size: float | None = None
    params: dict | None = None

    group: ClassVar[str] = "phases"
    map_fields: ClassVar[tuple[str, ...]] = (
        "label_map",
        "confidence",
        "fit",
        "depth_map",
        "domain_map",
        "grain_map",
    )
    table_fields: ClassVar[tuple[str, ...]] = (
        "regions",
        "surface_layers",
        "surface_profile",
        "voids",
        "domains",
        "grains",
    )
    attr_fields: ClassVar[tuple[str, ...]] = ("fractions", "surface_summary", "phases", "params")

    @property
    def calibration(self) -> Calibration:
        """Pixel calibration of the maps."""
        return Calibration.from_pixel_size(self.pixel_size)

    def key_figures(self) -> dict:
        """Batch key figures (see :func:`phase_key_figures`)."""
        return phase_key_figures(self)

    def to_napari_labels(self) -> tuple[np.ndarray, dict, str]:
        """Return a napari layer-data tuple ``(data, kwargs, "labels")`` (names in metadata)."""
        scale = (self.pixel_size, self.pixel_size) if self.pixel_size else (1.0, 1.0)
        names = {v: k for k, v in PHASE_CODES.items()}
        return (
            self.label_map,
            {"name": "phases", "scale": scale, "metadata": {"phase_names": names}},
            "labels",
        )


def phase_key_figures(result: PhaseResult) -> dict:
    """Key figures of a phase map for a batch summary row.

    Parameters
    ----------
    result : PhaseResult

    Returns
    -------
    dict
        ``phase_fraction_<phase>`` (within the crystal), ``surface_<phase>_mean_nm`` and
        ``_std_nm`` per non-layered phase, ``void_count``, ``void_mean_diameter_nm``,
        ``phase_fit_median``.
    """
    out: dict[str, Any] = {}
    for name in (*result.phases, "unknown"):
        out[f"phase_fraction_{name.replace('/', '')}"] = float(result.fractions.get(name, 0.0))
    for name in result.phases:
        if name == "layered":
            continue
        s = result.surface_summary.get(name, {})  # no vacuum in the image: NaN
        out[f"surface_{name.replace('/', '')}_mean_nm"] = float(s.get("mean_nm", np.nan))
        out[f"surface_{name.replace('/', '')}_std_nm"] = float(s.get("std_nm", np.nan))
    out["void_count"] = int(len(result.voids))
    out["void_mean_diameter_nm"] = (
        float(result.voids.diameter_nm.mean()) if len(result.voids) else float("nan")
    )
    out["phase_fit_median"] = float((result.params or {}).get("fit_median", np.nan))
    return out


def _check_phases(phases: Any) -> tuple[str, ...]:
    if isinstance(phases, str) or not hasattr(phases, "__iter__"):
        raise TypeError(f"phases must be a sequence of phase names, got {type(phases).__name__}")
    phases = tuple(phases)
    bad = [p for p in phases if p not in PHASE_MODELS]
    if bad or not phases:
        raise StemstrainError(
            f"phases must be a non-empty subset of {sorted(PHASE_MODELS)}, got {list(phases)!r}"
        )
    if "layered" not in phases:
        raise StemstrainError("phases must include 'layered' (the reference of the frame)")
    return phases


def _family(frame: _lockin.Frame, family: str) -> str | None:
    ref = {f: phase_templates("layered", f)[0] for f in ("A", "B")}
    aspect = {f: c.layer_spacing / c.row_period for f, c in ref.items()}
    if family in ("A", "B"):
        return family
    if family != "auto":
        raise StemstrainError(f"family must be 'auto', 'A' or 'B', got {family!r}")
    best = min(aspect, key=lambda f: abs(frame.ratio / aspect[f] - 1))
    return best if abs(frame.ratio / aspect[best] - 1) < FAMILY_TOL else None


def _sigma_col(columns: Any) -> float | None:
    if columns is None:
        return None
    if not isinstance(columns, pd.DataFrame):
        raise TypeError(f"columns must be a DataFrame (find_columns), got {type(columns).__name__}")
    if "sigma" not in columns or not len(columns):
        raise StemstrainError("columns must have a 'sigma' column (px), as find_columns gives")
    return float(np.median(columns["sigma"]))


def _interp_matrix(n_out: int, n_in: int, stride: int) -> np.ndarray:
    """Dense (n_out, n_in) linear-interpolation weights of pixel i at coarse i / stride."""
    r = np.clip(np.arange(n_out) / stride, 0, n_in - 1)
    i0 = np.minimum(r.astype(int), n_in - 2) if n_in > 1 else np.zeros(n_out, int)
    f = r - i0
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), i0] = 1 - f
    if n_in > 1:
        m[np.arange(n_out), i0 + 1] += f
    return m


def _upsample(a: np.ndarray, stride: int, shape: tuple[int, int], order: int) -> np.ndarray:
    """Coarse map (sample i at pixel i * stride) to full size: nearest or (separable) linear."""
    h, w = shape
    if order == 0:
        ry = np.clip(np.round(np.arange(h) / stride).astype(int), 0, a.shape[0] - 1)
        rx = np.clip(np.round(np.arange(w) / stride).astype(int), 0, a.shape[1] - 1)
        return a[ry][:, rx]
    my = _interp_matrix(h, a.shape[0], stride)
    mx = _interp_matrix(w, a.shape[1], stride)
    return my @ np.asarray(a, np.float32) @ mx.T


def _relative(tot: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Lattice amplitude relative to its typical level over ``where`` (coarse grid)."""
    t = tot[where]
    strong = t > 0.25 * np.percentile(t, 95)
    level = float(np.median(t[strong])) if strong.any() else 0.0
    return tot / max(level, 1e-30)


def _crystal(rel: np.ndarray, stride: int, shape) -> np.ndarray:
    """Crystal mask: lattice amplitude above half its typical level (topology: coarse grid)."""
    coarse = ndi.binary_opening(np.pad(rel > 0.5, 2, mode="edge"), iterations=1)[2:-2, 2:-2]
    coarse = ndi.binary_fill_holes(coarse)
    sure = _upsample(ndi.binary_erosion(coarse, iterations=1, border_value=1), stride, shape, 0)
    near = _upsample(ndi.binary_dilation(coarse, iterations=1), stride, shape, 0)
    crystal = ((_upsample(rel, stride, shape, 1) > 0.5) & near) | sure
    return ndi.binary_fill_holes(crystal)


def _regions(labels: np.ndarray, conf: np.ndarray, fit: np.ndarray, px: float | None):
    """Table the connected regions of one label (8-connected) with bincount statistics."""
    names = {v: k for k, v in PHASE_CODES.items()}
    comp = np.zeros(labels.shape, np.int64)
    offset = 0
    codes = []
    for code in np.unique(labels):
        if code == PHASE_CODES["vacuum"]:
            continue
        lab, n = ndi.label(labels == code, structure=np.ones((3, 3)))
        comp[lab > 0] = lab[lab > 0] + offset
        codes += [int(code)] * n
        offset += n
    cols = ["region", "phase", "area_nm2", "x", "y", "confidence", "fit"]
    if offset == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    flat = comp.ravel()
    yy, xx = np.indices(labels.shape)
    area = np.bincount(flat, minlength=offset + 1)[1:]
    stat = [
        np.bincount(flat, weights=np.nan_to_num(v).ravel(), minlength=offset + 1)[1:] / area
        for v in (xx, yy, conf, fit)
    ]
    return pd.DataFrame(
        {
            "region": np.arange(1, offset + 1),
            "phase": [names[c] for c in codes],
            "area_nm2": area * (px or 1.0) ** 2,
            "x": stat[0],
            "y": stat[1],
            "confidence": stat[2],
            "fit": stat[3],
        }
    )


def phase_map(
    image: Any,
    pixel_size: float | None = None,
    *,
    phases: tuple[str, ...] = DEFAULT_PHASES,
    columns: pd.DataFrame | None = None,
    resolution_nm: float | None = None,
    family: str = "auto",
    segment_nm: float | None = None,
    curvature: Any = None,
    backend: str = "numpy",
) -> PhaseResult:
    """Map layered / O1 / spinel / rock-salt / C2/m phases, surface layers and voids.

    Parameters
    ----------
    image : array (H, W) or hyperspy Signal2D
        HAADF/ADF image with the layers edge-on (a zone of family "A" or "B").
    pixel_size : float, optional
        nm per pixel (taken from a signal's axes otherwise); without it lengths are px.
    phases : tuple of str
        Phase models to use (subset of "layered", "O1", "spinel", "rock_salt", "C2/m";
        "layered" required).
    columns : DataFrame, optional
        ``find_columns`` table; its median ``sigma`` fixes the column width of the
        templates (else a range of widths is tried).
    resolution_nm : float, optional
        Gaussian width of the local analysis (nm; px if uncalibrated); default 0.75 x the
        measured layer spacing.
    family : {"auto", "A", "B"}
        Zone family (along a close-packed O row, or the perpendicular sqrt(3) direction).
    segment_nm : float, optional
        Length of the surface segments for ``surface_layers`` (nm; px if uncalibrated);
        default 2 nm, or 4.3 layer spacings (~2 nm) uncalibrated.
    curvature : CurvatureResult or array (k, 2), optional
        Layer curvature (``ss.layer_curvature``: its ``max_location`` and the columns with
        the top 10 % of ``|curvature|``) or curvature maxima ``(x, y)`` px, for the voids'
        distance to the nearest curvature maximum.
    backend : {"numpy", "cupy", "auto"}
        Only NumPy is implemented; "cupy" computes on the CPU with a warning.

    Returns
    -------
    PhaseResult
        Label map, confidence, fractions, regions, surface layers, voids, domains.

    Raises
    ------
    StemstrainError
        Bad ``phases``, ``family``, sizes; :class:`NoLatticeError` without any lattice.
    TypeError
        ``phases`` or ``columns`` of the wrong type.

    Notes
    -----
    Codes and the algorithm: see :data:`PHASE_CODES` and the module docstring. Where the
    layers bend (rotation spread >= 5 deg) "layered" vs "O1" is read from the stacking of
    the columns after removing the slip drift (``params["slip"]``; ``columns`` is used for
    it, else they are found): slipping layers look O1-like every ~10 deg of turn.
    Grains turned by >= 10 deg (layered grains of ``ss.lattice_map``) are mapped each in
    its own lattice frame (``grain_map``, ``grains``); a grain the phase set misfits is
    "unknown" with a warning that names it.

    Examples
    --------
    >>> from stemstrain.synthetic import cathode_particle
    >>> s = cathode_particle((256, 256), pixel_size=0.04, seed=1)
    >>> r = phase_map(s.image, s.pixel_size)
    >>> bool(r.fractions["rock_salt"] > r.fractions["spinel"] > 0.1)
    True
    >>> abs(r.surface_summary["rock_salt"]["mean_nm"] - 1.5) < 0.3  # truth 1.5 nm
    True
    """
    data, px = image_and_pixel_size(image, pixel_size)
    phases = _check_phases(phases)
    if backend not in ("numpy", "cupy", "auto"):
        raise StemstrainError(f"backend must be 'numpy', 'cupy' or 'auto', got {backend!r}")
    if backend == "cupy":
        warnings.warn("phase_map has no CuPy path; computing with NumPy", UserWarning, stacklevel=2)
    if segment_nm is not None and not segment_nm > 0:
        raise StemstrainError(f"segment_nm must be > 0, got {segment_nm!r}")
    curv_xy = _curvature_points(curvature)  # validated before any work
    img = np.asarray(data, dtype=np.float64)
    if min(img.shape) < 32:
        raise StemstrainError(f"image must be at least 32 x 32 px, got {img.shape}")
    prep = _lockin.prepare(img)
    frame = _lockin.find_frame(prep)
    fits = _misfit(frame, _family(frame, family), px, phases, 1.0) is None
    grains = _grains.grain_frames(img, px, prep, frame, main_fits=fits)
    frame = grains.frames[0]  # a layered grain's when the strongest lattice misfits
    fam = _family(frame, family)
    unit = px or 1.0
    sigma_r = (resolution_nm / unit) if resolution_nm else 0.75 * frame.spacing_px
    if sigma_r <= 0.5:
        raise StemstrainError(f"resolution_nm must be > half a pixel, got {resolution_nm!r}")
    fams = [fam] + [_family(fr, family) for fr in grains.frames[1:]]
    fit = _fit_frames(
        _Fit(img=img, px=px, phases=phases, frame=frame, fam=fam, prep=prep, sigma_r=sigma_r),
        grains,
        fams,
        _sigma_col(columns),
    )
    return _assemble(fit, segment_nm=segment_nm, curv_xy=curv_xy, columns=columns)


def _fit_frames(f: _Fit, grains: _grains.GrainFrames, fams: list, sigma_col: float | None):
    """Lock-in and classification once per grain frame; the frames merged per coarse point."""
    sigma_k = 1.0 / (2 * np.pi * f.sigma_r)
    stride = _lockin.pick_stride(f.sigma_r)
    feats, rels, results = [], [], []
    for k, (frame, fam) in enumerate(zip(grains.frames, fams, strict=True)):
        vecs, owner, points = _classify.templates(f.phases, fam or "A", sigma_k, frame, sigma_col)
        feat = _classify.measure(f.prep, stride, frame, points, sigma_k)
        results.append(_classify.classify(feat, vecs, owner, len(f.phases)))
        rels.append(_relative(feat.total, _grains.level_mask(grains, k, stride, feat.total.shape)))
        feats.append(feat)
    feat, rel, (best, fit_c, margin_c), grain_c = _grains.merge(feats, rels, results)
    return replace(
        f,
        feat=feat,
        stride=stride,
        best=best,
        fit_c=fit_c,
        margin_c=margin_c,
        crystal=_crystal(rel, stride, f.img.shape),
        grains=grains,
        fams=fams,
        grain_c=grain_c,
    )


@dataclass(frozen=True, kw_only=True)
class _Fit:
    """The intermediate results of :func:`phase_map` that the assembly reads."""

    img: np.ndarray  # the image, float64
    px: float | None  # nm per px
    phases: tuple  # phase names, in template order
    frame: _lockin.Frame  # the lattice frame (g_n, g_t, spacing)
    fam: str | None  # zone family, None when neither fits
    prep: Any  # the prepared image of _lockin
    sigma_r: float  # analysis resolution, px
    feat: _classify.Features | None = None  # merged lock-in features on the stride grid
    stride: int = 1  # px between analysis points
    best: np.ndarray | None = None  # index of the best phase per analysis point
    fit_c: np.ndarray | None = None  # its fit (0..1)
    margin_c: np.ndarray | None = None  # its margin over the second best
    crystal: np.ndarray | None = None  # bool image: crystal
    grains: Any = None  # _grains.GrainFrames: the frame of each grain (main first)
    fams: list | None = None  # zone family per frame
    grain_c: np.ndarray | None = None  # frame index per analysis point


def _labels(f: _Fit) -> tuple[np.ndarray, float, list[str]]:
    img, phases, feat = f.img, f.phases, f.feat
    best, fit_c, crystal, stride, sigma_r = f.best, f.fit_c, f.crystal, f.stride, f.sigma_r
    codes = np.array([PHASE_CODES[p] for p in phases], dtype=np.uint8)[best]
    codes = np.where(fit_c < MIN_FIT, PHASE_CODES["unknown"], codes).astype(np.uint8)
    # specks smaller than a disc of radius sigma_r (the analysis resolution) are mixed
    # windows at boundaries: they take the label of the nearest extended region
    crc = crystal[::stride, ::stride][: fit_c.shape[0], : fit_c.shape[1]]
    codes = _surface._drop_specks(codes, min_area=np.pi * (sigma_r / stride) ** 2, inside=crc)
    fit_median = float(np.median(fit_c[crc])) if crc.any() else float("nan")
    misfit = _grain_misfits(f, crc)  # a grain the phase set misfits is "unknown"
    notes = [m for m in misfit if m]
    bad = np.array([m is not None for m in misfit])[f.grain_c[: codes.shape[0], : codes.shape[1]]]
    codes = np.where(bad, PHASE_CODES["unknown"], codes).astype(np.uint8)
    full = _upsample(codes, stride, img.shape, 0)
    out = np.where(crystal, full, PHASE_CODES["vacuum"]).astype(np.uint8)
    if (~crystal).any():
        mean = feat.mean + img.mean()
        crc_all = crystal[::stride, ::stride]
        valid = np.ones(mean.shape, bool)
        vac_level = np.percentile(mean[valid & ~crc_all], 10) if (valid & ~crc_all).any() else 0
        cr_level = np.median(mean[crc_all]) if crc_all.any() else vac_level
        amorph = valid & ~crc_all & (mean > vac_level + 0.5 * (cr_level - vac_level))
        amorph = ndi.binary_opening(amorph, iterations=1)
        out[_upsample(amorph, stride, img.shape, 0) & ~crystal] = PHASE_CODES["amorphous"]
    return out, fit_median, notes


def _misfit(frame: _lockin.Frame, fam: str | None, px, phases, fit_median: float) -> str | None:
    """Why the phase set does not fit a lattice frame (spacing, zone, fit), or None."""
    spacing_nm = frame.spacing_px * px if px else None
    if spacing_nm is not None and not SPACING_RANGE_NM[0] <= spacing_nm <= SPACING_RANGE_NM[1]:
        return (
            f"the layer spacing {spacing_nm:.3f} nm is outside the range of the phase "
            f"models {SPACING_RANGE_NM} nm: the phase set {list(phases)} does not fit "
            "this crystal; phases are 'unknown'"
        )
    if fam is None:
        return (
            f"the lattice (in-plane/normal frequency ratio {frame.ratio:.2f}) is not "
            "a layered-oxide zone of family A (1.92) or B (3.33): the phase set "
            f"{list(phases)} does not fit this crystal; phases are 'unknown'"
        )
    if fit_median < SET_FIT:
        return (
            f"the phase models {list(phases)} explain the column pattern poorly "
            f"(median fit {fit_median:.2f} < {SET_FIT}): the phase set does not fit "
            "this crystal; phases are 'unknown'"
        )
    return None


def _grain_misfits(f: _Fit, crc: np.ndarray) -> list[str | None]:
    """Misfit message (or None) per frame; a further grain's message names the grain."""
    sel = f.grain_c[: crc.shape[0], : crc.shape[1]]
    out: list[str | None] = []
    main = f.grains.frames[0].n_hat
    for k, (frame, fam) in enumerate(zip(f.grains.frames, f.fams, strict=True)):
        m = crc & (sel == k)
        med = float(np.median(f.fit_c[m])) if m.any() else (float("nan") if k else 1.0)
        if k and not m.any():
            out.append(None)  # a frame that wins no crystal point: nothing to label
            continue
        if k and m.sum() < _grains.MIN_GRAIN_FRACTION * crc.sum():
            med = 1.0  # a sliver: its median fit says nothing about the phase set
        msg = _misfit(frame, fam, f.px, f.phases, med)
        if msg and k:
            turn = _grains.turn_deg(frame.n_hat, main)
            msg = f"grain {k + 1} (lattice turned {turn:.0f} deg from grain 1): {msg}"
        out.append(msg)
    return out


def _assemble(
    f: _Fit, *, segment_nm: float | None, curv_xy: np.ndarray | None, columns: Any = None
) -> PhaseResult:
    img, px, crystal, stride = f.img, f.px, f.crystal, f.stride
    labels, fit_median, notes = _labels(f)
    labels, slip = _registry.slip_relabel(f, labels, notes, columns)  # slipping bends
    unknown = None if notes else labels == PHASE_CODES["unknown"]
    missed = _grains.missed_note(f.grains, crystal, unknown)  # grains that got no frame
    notes += [missed] if missed else []
    for msg in notes:
        warnings.warn(msg, UserWarning, stacklevel=3)
    conf = np.where(crystal, _upsample(f.margin_c, stride, img.shape, 0), np.nan)
    fit = np.where(crystal, _upsample(f.fit_c, stride, img.shape, 0), np.nan)
    conf, fit = conf.astype(np.float32), fit.astype(np.float32)
    unit = px or 1.0
    depth, s, length = _surface.surface_geometry(crystal, unit)
    # lengths in nm, or in px scaled by the layer spacing (0.468 nm in LiCoO2)
    per_nm = 1.0 if px else f.frame.spacing_px / 0.468
    segment = segment_nm or 2.0 * per_nm
    layers, profile, summary = _surface.surface_layers(
        labels,
        depth,
        s,
        length,
        {p: PHASE_CODES[p] for p in f.phases},
        segment_nm=segment,
        max_depth_nm=8 * segment,
        bin_nm=0.05 * per_nm,
    )
    voids = _surface.find_voids(
        f.feat.mean + img.mean(),
        crystal,
        labels,
        depth,
        stride,
        unit,
        sigma_b_px=f.sigma_r,
        min_contrast=0.02,
        size_nm=(1.0 * per_nm, 20.0 * per_nm),
        curvature_xy=curv_xy,
    )
    domain_map, domains = ordering_domains(f.prep, crystal, stride, unit)
    grain_map = np.where(crystal, _upsample(f.grain_c + 1, stride, img.shape, 0), 0)
    grain_map = grain_map.astype(np.int16)
    return PhaseResult(
        label_map=labels,
        confidence=conf,
        fit=fit,
        depth_map=depth.astype(np.float32),
        domain_map=domain_map,
        grain_map=grain_map,
        fractions=_fractions(labels, crystal),
        regions=_regions(labels, conf, fit, px),
        surface_layers=layers,
        surface_profile=profile,
        surface_summary=summary,
        voids=voids,
        domains=domains,
        grains=_grains.grain_table(
            f.grains, grain_map, labels, fit, PHASE_CODES, px=px, families=f.fams
        ),
        phases=f.phases,
        pixel_size=px,
        params={**_params(f, fit_median, notes), "slip": slip, "grains": f.grains.info},
    )


def _fractions(labels: np.ndarray, crystal: np.ndarray) -> dict:
    """Area fraction of each phase in the crystal; crystal and amorphous of the image."""
    n_cr = max(int(crystal.sum()), 1)
    fractions = {
        name: float(((labels == code) & crystal).sum() / n_cr)
        for name, code in PHASE_CODES.items()
        if name not in ("vacuum", "amorphous")
    }
    fractions["crystal"] = float(crystal.mean())
    fractions["amorphous"] = float((labels == PHASE_CODES["amorphous"]).mean())
    return fractions


def _params(f: _Fit, fit_median: float, notes: list[str]) -> dict:
    frame = f.frame
    return dict(
        g_n=frame.g_n.tolist(),
        g_t=frame.g_t,
        ratio=frame.ratio,
        family=f.fam or "none",
        spacing_px=frame.spacing_px,
        resolution_px=f.sigma_r,
        stride=f.stride,
        fit_median=fit_median,
        warnings=notes,
        codes=PHASE_CODES,
    )


def _curvature_points(curvature: Any) -> np.ndarray | None:
    if curvature is None:
        return None
    if hasattr(curvature, "max_location"):
        pts = [np.atleast_2d(np.asarray(curvature.max_location, dtype=float))]
        layers = getattr(curvature, "layers", None)
        if layers is not None and len(layers) and {"x", "y", "curvature"} <= set(layers):
            k = np.abs(layers["curvature"].to_numpy(float))
            top = np.isfinite(k) & (k >= np.nanpercentile(k, 90))  # high-|curvature| columns
            pts.append(np.c_[layers["x"].to_numpy(float)[top], layers["y"].to_numpy(float)[top]])
        return np.concatenate(pts)
    arr = np.asarray(curvature, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise StemstrainError(
            f"curvature must be a CurvatureResult or (k, 2) points, got shape {arr.shape}"
        )
    return arr
