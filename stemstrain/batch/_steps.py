"""The analysis registry: kind of input -> analysis steps over the public functions.

Each step is a small function ``step(ctx) -> StepOutput`` that calls one public
function of stemstrain (imported lazily, so a step only needs its own module), and
returns the result objects to save (one HDF5 group each), the results to draw
(one PNG each) and key figures for ``summary.csv``. Steps see the results of the
steps before them in ``ctx.done`` (dislocations use the GPA result; curvature,
stacking and occupancy reuse the columns).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError, StemstrainError
from ._discover import find_companion

__all__ = ["StepContext", "StepOutput", "StepNotRun", "STEPS", "KEY_FIGURES", "strain_stats"]


class StepNotRun(Exception):
    """An analysis with nothing to do for this input: recorded as "not run: <reason>"."""


#: summary.csv key-figure columns (in this order) with their meaning
KEY_FIGURES: dict[str, str] = {
    "strain_mean_abs": "mean |principal strain| over the map (GPA or 4D-STEM)",
    "strain_p95_abs": "95th percentile of |principal strain|",
    "e_nn_mean": "mean strain along the layer normal (GPA)",
    "e_tt_mean": "mean strain along the layers (GPA)",
    "n_dislocations": "number of dislocation cores",
    "n_unresolved_strain": "strain concentrations below the resolution (close pairs?), warned",
    "n_columns": "number of atom columns found",
    "max_curvature_per_nm": "largest |TM-layer curvature|, 1/nm (signed)",
    "max_curvature_x_px": "x of the largest |curvature|, px",
    "max_curvature_y_px": "y of the largest |curvature|, px",
    "o1_fraction": "area fraction of O1 stacking",
    "li_occupancy_mean": "mean TM occupancy of Li-layer sites",
    "o_tm_surface": "O/TM ratio at the surface (first position of the profile)",
    "o_tm_interior": "O/TM ratio in the interior (median of the far half)",
    "valence_surface": "TM valence at the surface (first nm of the profile)",
    "valence_interior": "TM valence in the interior (median of the far half)",
    "o_prepeak_surface": "O K pre-peak / main-edge ratio at the surface (first nm)",
    # quality of the GPA maps (GPAResult.quality / grain_table)
    "gpa_valid_fraction": "GPA: fraction of the crystal with valid maps",
    "gpa_crystalline_fraction": "GPA: fraction of the image that is crystal",
    "gpa_n_grains": "GPA: grains measured (each against its own reference)",
    "gpa_g_confidence": "GPA: confidence of the automatic g choice (0-1)",
    "gpa_reference": "GPA: how the reference was chosen (auto / given / grain ...)",
    "gpa_warnings": "GPA: number of warnings of the result (GPAResult.warnings)",
    "series_frames_flagged": "GPA series: frames flagged (bad registration, no lattice), NaN",
    # local lattice model (ss.lattice_map)
    "lattice_crystalline_fraction": "lattice map: fraction of windows that are crystalline",
    "lattice_n_grains": "lattice map: grains segmented",
    "lattice_anisotropy": "lattice map: apparent x/y scale ratio of the scan (NaN: unknown)",
    "lattice_anisotropy_sigma": "lattice map: 1 sigma of the anisotropy ratio",
    "lattice_layered": "lattice map: a layered lattice (a dominant layer normal) was found",
    # phase map (ss.phase_map, ss.phase_key_figures)
    **{
        f"phase_fraction_{p}": f"phase map: fraction of the crystal labelled {p}"
        for p in ("layered", "O1", "spinel", "rock_salt", "C2m", "unknown")
    },
    **{
        f"surface_{p}_{s}_nm": f"phase map: {w} thickness of the {p} surface layer, nm"
        for p in ("spinel", "rock_salt")
        for s, w in (("mean", "mean"), ("std", "spread of the"))
    },
    "void_count": "phase map: nano-voids found",
    "void_mean_diameter_nm": "phase map: mean equivalent diameter of the voids, nm",
    "phase_fit_median": "phase map: median template-fit quality (0-1)",
    # 4D-STEM quality and phases
    "fourd_valid_fraction": "4D-STEM: fraction of scan positions with a lattice fit",
    "fourd_residual_px_median": "4D-STEM: median rms disk-fit residual, detector px",
    "fourd_phase_fractions": "4D-STEM phases: fraction of positions per phase (ss.fourd_phases)",
    "fourd_phase_score_median": "4D-STEM phases: median matching score of assigned positions",
}


@dataclass
class StepContext:
    """What a step sees: the loaded signal, its parameters and earlier results."""

    signal: Any
    path: Path
    params: dict
    backend: str
    done: dict = field(default_factory=dict)
    used_files: list = field(default_factory=list)
    progress: bool = False

    def p(self, name: str) -> dict:
        """Parameters of analysis ``name`` (without kwargs)."""
        out = dict(self.params.get(name, {}))
        out.pop("kwargs", None)
        return out

    def kwargs(self, name: str) -> dict:
        """Return the ``[<name>.kwargs]`` passthrough table."""
        return dict(self.params.get(name, {}).get("kwargs", {}))

    def backend_of(self, name: str) -> str:
        """Return the analysis' backend, or the run-wide one."""
        return self.params.get(name, {}).get("backend") or self.backend


@dataclass
class StepOutput:
    """What a step produced."""

    value: Any
    results: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)


def strain_stats(exx: Any, eyy: Any, exy: Any) -> dict:
    """Mean and 95th percentile of the largest |principal strain| (rotation invariant).

    The principal strains come from the library (``ss.principal_strain``, the one used
    by ``StrainMaps.principal()``).
    """
    import stemstrain as ss

    pr = ss.principal_strain(*(np.asarray(a, dtype=float) for a in (exx, eyy, exy)))
    mag = np.maximum(np.abs(pr["e1"]), np.abs(pr["e2"]))
    mag = mag[np.isfinite(mag)]
    if mag.size == 0:
        return {"strain_mean_abs": float("nan"), "strain_p95_abs": float("nan")}
    return {"strain_mean_abs": float(mag.mean()), "strain_p95_abs": float(np.percentile(mag, 95))}


def _nanmedian(a: Any) -> float:
    a = np.asarray(a, dtype=float)
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else float("nan")


def _nanmean(a: Any) -> float:
    a = np.asarray(a, dtype=float)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else float("nan")


# --------------------------------------------------------------------------- image
def _check_box(ctx: StepContext, rule: list) -> tuple[int, int, int, int]:
    r0, r1, c0, c1 = rule
    h, w = ctx.signal.data.shape[-2:]
    if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
        raise ConfigError(
            f"[gpa] reference box {list(rule)} does not fit the {h}x{w} image {ctx.path.name}; "
            "give [row0, row1, col0, col1] within the image"
        )
    return (r0, r1, c0, c1)


def step_gpa(ctx: StepContext) -> StepOutput:
    """GPA strain maps (``ss.gpa``) with the configured reference rule.

    ``reference = "auto"`` is the library's ``ss.gpa(..., reference="auto")`` (the
    least-distorted crystalline window of each grain; the grain itself when none fits,
    said in ``grain_table``); ``"none"``: the mean lattice of the crystal; a box: fixed.
    The result's quality (valid/crystalline fractions, grains, warnings) goes into the
    key figures.
    """
    import stemstrain as ss

    p = ctx.p("gpa")
    if ctx.signal.data.ndim == 3:
        return _step_gpa_series(ctx, p)
    kw = _gpa_kwargs(ctx, p)
    rule = p.get("reference", "auto")
    ref = rule if rule == "auto" else (None if rule == "none" else _check_box(ctx, rule))
    res = ss.gpa(ctx.signal, reference=ref, **kw)
    for grain in res.grain_table if rule == "auto" else ():
        if grain.get("reference_box") is None and grain.get("reference") != "given":
            warnings.warn(
                f"gpa: no automatic reference region in grain {grain.get('label')} "
                f"(reference: {grain.get('reference')}); its maps are relative to "
                "the mean lattice of that grain",
                UserWarning,
                stacklevel=2,
            )
    keys = strain_stats(res.exx, res.eyy, res.exy)
    keys["e_nn_mean"] = _nanmean(res.e_nn)
    keys["e_tt_mean"] = _nanmean(res.e_tt)
    keys.update(gpa_quality(res))
    return StepOutput(res, [res], {"gpa": res}, keys)


def _gpa_kwargs(ctx: StepContext, p: dict) -> dict:
    """Keyword arguments of ``ss.gpa`` / ``ss.gpa_series`` from the ``[gpa]`` section."""
    kw = {"g": p.get("g", "auto"), "backend": ctx.backend_of("gpa"), **ctx.kwargs("gpa")}
    if isinstance(kw["g"], list):
        kw["g"] = np.asarray(kw["g"], dtype=float)
    if p.get("resolution_nm") is not None:
        kw["resolution_nm"] = float(p["resolution_nm"])
    return kw


def gpa_quality(res: Any) -> dict:
    """Quality key figures of a GPAResult (its ``quality``, ``grain_table``, ``warnings``)."""
    q = dict(getattr(res, "quality", None) or {})
    grains = tuple(getattr(res, "grain_table", ()) or ())
    kinds = sorted({str(g.get("reference", "")) for g in grains if g.get("reference")})

    def num(name: str) -> float:
        v = q.get(name)
        return float(v) if isinstance(v, (int, float)) else float("nan")

    return {
        "gpa_valid_fraction": num("valid_fraction"),
        "gpa_crystalline_fraction": num("crystalline_fraction"),
        "gpa_n_grains": int(q.get("n_grains", len(grains)) or 0),
        "gpa_g_confidence": num("g_confidence"),
        "gpa_reference": "/".join(kinds),
        "gpa_warnings": len(getattr(res, "warnings", ()) or ()),
    }


def _step_gpa_series(ctx: StepContext, p: dict) -> StepOutput:
    """``[run] image_stack = "series"``: drift-corrected GPA of every frame (ss.gpa_series).

    ``reference = "auto"`` proposes the reference box on frame 0 (it follows the drift).
    """
    import stemstrain as ss

    kw = _gpa_kwargs(ctx, p)
    rule = p.get("reference", "auto")
    if rule == "auto":
        frame0 = ctx.signal.inav[0]
        try:
            ref = tuple(int(v) for v in ss.propose_reference(ss.gpa(frame0, g=kw["g"])))
        except StemstrainError as exc:
            warnings.warn(
                f"gpa_series: no automatic reference region ({exc}); the maps are "
                "relative to the mean lattice of frame 0",
                UserWarning,
                stacklevel=2,
            )
            ref = None
    else:
        ref = None if rule == "none" else _check_box(ctx, rule)
    res = ss.gpa_series(ctx.signal, reference=ref, **kw)
    keys = strain_stats(res.exx, res.eyy, res.exy)
    q = res.quality  # a row per frame
    keys["gpa_warnings"] = int((q["gpa_warnings"] != "").sum()) if "gpa_warnings" in q else 0
    keys["series_frames_flagged"] = int((~q["ok"].astype(bool)).sum())
    keys["e_nn_mean"] = _nanmean(res.e_nn)
    keys["e_tt_mean"] = _nanmean(res.e_tt)
    return StepOutput(res, [res], {"gpa_series": res}, keys)


def _single_image(step: Callable[[StepContext], StepOutput]) -> Callable:
    """Image steps other than gpa need one image (not a series kept by image_stack)."""

    def run(ctx: StepContext) -> StepOutput:
        if getattr(ctx.signal, "data", None) is not None and ctx.signal.data.ndim == 3:
            raise StemstrainError(
                f"{step.__name__[5:]} needs a single image; with [run] image_stack = "
                '"series" only "gpa" runs (use ss.series_apply for other analyses)'
            )
        return step(ctx)

    run.__name__ = step.__name__
    run.__doc__ = step.__doc__
    return run


def step_dislocations(ctx: StepContext) -> StepOutput:
    """Dislocation cores of the GPA phases (``ss.find_dislocations``)."""
    import stemstrain as ss

    from ..results import TableResult

    gpa = ctx.done["gpa"]
    kw = {"image": ctx.signal, **ctx.kwargs("dislocations")}  # image=: the finer second look
    table = ss.find_dislocations(gpa, **kw)
    res = TableResult("dislocations", table, getattr(gpa, "pixel_size", None))
    unresolved = table.attrs.get("unresolved", ())
    return StepOutput(
        table,
        [res],
        {},
        {"n_dislocations": int(len(table)), "n_unresolved_strain": int(len(unresolved))},
    )


def step_columns(ctx: StepContext) -> StepOutput:
    """Sub-pixel atom columns (``ss.find_columns``)."""
    import stemstrain as ss

    from ..results import TableResult

    table = ss.find_columns(ctx.signal, backend=ctx.backend_of("columns"), **ctx.kwargs("columns"))
    res = TableResult("columns", table, _pixel_size(ctx.signal))
    return StepOutput(table, [res], {}, {"n_columns": int(len(table))})


def step_curvature(ctx: StepContext) -> StepOutput:
    """TM-layer curvature (``ss.layer_curvature``) from the columns."""
    import stemstrain as ss

    res = ss.layer_curvature(ctx.signal, columns=ctx.done["columns"], **ctx.kwargs("curvature"))
    cmap = np.asarray(res.map, dtype=float)
    keys: dict[str, float] = {
        "max_curvature_per_nm": float("nan"),
        "max_curvature_x_px": float("nan"),
        "max_curvature_y_px": float("nan"),
    }
    loc = getattr(res, "max_location", None)
    if loc is not None and np.all(np.isfinite(loc)):
        x, y = float(loc[0]), float(loc[1])
        keys.update(max_curvature_x_px=x, max_curvature_y_px=y)
        layers = getattr(res, "layers", None)
        if layers is not None and len(layers):
            i = int(np.nanargmax(np.abs(layers["curvature"].to_numpy(float))))
            keys["max_curvature_per_nm"] = float(layers["curvature"].iloc[i])
        elif np.isfinite(cmap).any():
            keys["max_curvature_per_nm"] = float(cmap[int(round(y)), int(round(x))])
    return StepOutput(res, [res], {"curvature": res}, keys)


def step_stacking(ctx: StepContext) -> StepOutput:
    """O3/O1 stacking per Li-layer gap (``ss.stacking_map``)."""
    import stemstrain as ss

    try:
        res = ss.stacking_map(ctx.signal, columns=ctx.done["columns"], **ctx.kwargs("stacking"))
    except ss.NotLayeredError as exc:  # a perovskite, a metal: O3/O1 does not apply here
        raise StepNotRun(f"not a layered lattice ({exc})") from None
    fractions = getattr(res, "fractions", {}) or {}
    o1 = fractions.get("O1", fractions.get(2, float("nan")))
    return StepOutput(res, [res], {"stacking": res}, {"o1_fraction": float(o1)})


def step_occupancy(ctx: StepContext) -> StepOutput:
    """TM on Li-layer sites (``ss.li_layer_occupancy``)."""
    import stemstrain as ss

    res = ss.li_layer_occupancy(ctx.signal, columns=ctx.done["columns"], **ctx.kwargs("occupancy"))
    occ = res.sites["occupancy"] if len(res.sites) else []
    return StepOutput(res, [res], {"occupancy": res}, {"li_occupancy_mean": _nanmean(occ)})


def step_lattice_map(ctx: StepContext) -> StepOutput:
    """Local lattice model (``ss.lattice_map``): crystal, grains, scan anisotropy."""
    import stemstrain as ss

    res = ss.lattice_map(
        ctx.signal, backend=ctx.backend_of("lattice_map"), **ctx.kwargs("lattice_map")
    )
    aniso = res.anisotropy
    keys = {
        "lattice_crystalline_fraction": float(res.crystalline_fraction),
        "lattice_n_grains": int(len(res.grain_table)),
        "lattice_anisotropy": float(aniso.ratio),
        "lattice_anisotropy_sigma": float(aniso.sigma),
        "lattice_layered": bool(res.layered),
    }
    for msg in res.messages:  # what the lattice map says about itself
        warnings.warn(f"lattice_map: {msg}", UserWarning, stacklevel=2)
    return StepOutput(res, [res], {"lattice_map": res}, keys)


def step_phases(ctx: StepContext) -> StepOutput:
    """Phase map (``ss.phase_map``) with the batch's columns and curvature result.

    Key figures: ``ss.phase_key_figures`` (fractions, surface-layer thickness, voids).
    """
    import stemstrain as ss

    p = ctx.p("phases")
    kw: dict[str, Any] = {
        "phases": tuple(p.get("phases", ())) or None,
        "columns": ctx.done.get("columns"),
        "curvature": ctx.done.get("curvature"),
        "backend": ctx.backend_of("phases"),
    }
    kw = {k: v for k, v in kw.items() if v is not None}
    res = ss.phase_map(ctx.signal, **kw, **ctx.kwargs("phases"))
    return StepOutput(res, [res], {"phases": res}, ss.phase_key_figures(res))


# --------------------------------------------------------------------------- eels
def _eels_reference(ctx: StepContext, rule: Any) -> Any:
    if rule == "none":
        return None
    start, stop = (rule[0], None) if len(rule) == 1 else rule
    nav = ctx.signal.data.shape[:-1]
    if len(nav) != 1:
        raise ConfigError(
            f"[eels] reference [start, stop] needs a line scan; {ctx.path.name} has navigation "
            f"shape {nav}; pass a mask through [eels.kwargs] instead"
        )
    idx = np.arange(nav[0])[slice(start, stop)]
    if idx.size == 0:
        raise ConfigError(
            f"[eels] reference {list(rule)} selects no position of the {nav[0]}-point line scan "
            f"{ctx.path.name}"
        )
    mask = np.zeros(nav, dtype=bool)
    mask[idx] = True
    return mask


def _skip_without_o_tm_edges(signal: Any) -> None:
    """Raise StepNotRun where no O/TM can be measured: a low-loss spectrum, or no O K edge."""
    axis = signal.axes_manager.signal_axes[0]
    lo, hi = float(axis.axis[0]), float(axis.axis[-1])
    if lo < 5.0 < hi and hi < 500.0:
        raise StepNotRun(
            f"a low-loss spectrum ({lo:.0f}-{hi:.0f} eV: zero-loss peak, no O K edge); pair it "
            'with its core loss: [eels] low_loss = "<glob>", e.g. "{stem}_low_loss.*" in the '
            "core-loss file's folder"
        )
    if lo > 500.0 or hi < 545.0:
        raise StepNotRun(
            f"no O K edge recorded ({lo:.0f}-{hi:.0f} eV): O/TM needs O K (532 eV) and the TM "
            "L2,3 edge with their pre-edge windows; for the TM valence of such spectra use "
            "ss.tm_valence"
        )


def step_eels(ctx: StepContext) -> StepOutput:
    """O/TM ratio (``ss.o_tm_ratio``), absolute or calibrated on a reference region.

    With ``valence = true`` / ``prepeak = true`` in ``[eels]`` also ``ss.tm_valence`` and
    ``ss.o_prepeak_ratio``; the key figures come from ``ss.eels_key_figures``.
    """
    import stemstrain as ss

    p = ctx.p("eels")
    _skip_without_o_tm_edges(ctx.signal)
    kw: dict[str, Any] = {"tm": p.get("tm", "Co"), "method": p.get("method", "model")}
    ref = _eels_reference(ctx, p.get("reference", "none"))
    if ref is not None:
        kw["reference"] = ref
        kw["reference_ratio"] = float(p["reference_ratio"])
    low = find_companion(ctx.path, p.get("low_loss", "none"))
    if low is not None:
        kw["low_loss"] = ss.load(low)
        ctx.used_files.append(str(low))
    res = ss.o_tm_ratio(ctx.signal, **kw, **ctx.kwargs("eels"))
    val = ss.tm_valence(ctx.signal, kw["tm"]) if p.get("valence", False) else None
    pre = ss.o_prepeak_ratio(ctx.signal) if p.get("prepeak", False) else None
    extra = [r for r in (val, pre) if r is not None]
    keys = ss.eels_key_figures(res, valence=val, prepeak=pre)
    keys.pop("o_prepeak_interior", None)
    figures = {
        "eels": res,
        **({"eels_valence": val} if val is not None else {}),
        **({"eels_prepeak": pre} if pre is not None else {}),
    }
    return StepOutput(res, [res, *extra], figures, keys)


# --------------------------------------------------------------------------- 4D-STEM
def _probe_array(signal: Any) -> np.ndarray:
    data = np.asarray(signal.data, dtype=np.float32)
    while data.ndim > 2:  # a stack of vacuum patterns: their mean
        data = data.mean(axis=0)
    return data


def _fourd_settings(kwargs: dict) -> dict:
    """``[fourd.kwargs]``: flat detection/geometry keys → ``detection=``/``geometry=``.

    Keys that are fields of ``DiskDetection`` (``subpixel``, ``max_peaks``, ...) or of
    ``DetectorGeometry`` (``detector_rotation_deg``, ``ellipse``, ...) are gathered into
    those dataclasses (as are ``detection``/``geometry`` tables), so flat TOML keys keep
    working; the rest pass through unchanged.
    """
    from dataclasses import fields

    from stemstrain.fourd import DetectorGeometry, DiskDetection

    out = dict(kwargs)
    for name, cls in (("detection", DiskDetection), ("geometry", DetectorGeometry)):
        flat = {f.name: out.pop(f.name) for f in fields(cls) if f.name in out}
        if isinstance(out.get(name), dict):  # a [fourd.kwargs.detection] table
            flat = {**out.pop(name), **flat}
        if flat:
            out[name] = cls(**flat)
    return out


def step_fourd(ctx: StepContext) -> StepOutput:
    """4D-STEM strain (``ss.fourd_strain``) with the probe found next to the cube.

    The cube stays lazy (read chunk by chunk); ``reference = [row0, row1, col0, col1]``
    is a box of scan positions.
    """
    import stemstrain as ss

    p = ctx.p("fourd")
    kw: dict[str, Any] = {"backend": ctx.backend_of("fourd"), "progress": ctx.progress}
    bragg = isinstance(ctx.signal, ss.BraggVectors)  # detected peaks: no probe
    probe_path = None if bragg else find_companion(ctx.path, p.get("probe", "none"))
    if probe_path is not None:
        kw["probe"] = _probe_array(ss.load(probe_path))
        ctx.used_files.append(str(probe_path))
    ref = p.get("reference", "none")
    if ref != "none":
        r0, r1, c0, c1 = ref
        kw["reference"] = (slice(r0, r1), slice(c0, c1))
    kw.update(_fourd_settings(ctx.kwargs("fourd")))
    kw.update(_one_phase(ctx.done.get("fourd_phases")))
    res = ss.fourd_strain(ctx.signal, **kw)
    keys = strain_stats(res.exx, res.eyy, res.exy)
    keys["fourd_valid_fraction"] = float(np.isfinite(np.asarray(res.exx, float)).mean())
    keys["fourd_residual_px_median"] = _nanmedian(res.residual_px)
    return StepOutput(res, [res], {"fourd": res}, keys)


def _one_phase(phases: Any) -> dict:
    """``phase=`` of the scan's main phase when ``fourd_phases`` found several, else {}.

    One basis cannot index two lattices: the other phase's positions would get finite but
    meaningless "strain" (a 3.5 % cell difference reads as 3.5 % strain).
    """
    if phases is None:
        return {}
    fr = phases.fractions()
    found = [n for n in phases.phases if fr[n] > 0]
    if len(found) < 2:
        return {}
    main = max(found, key=fr.get)
    warnings.warn(
        f"fourd: the scan holds {len(found)} phases ({', '.join(found)}); strain of {main} "
        f"({fr[main]:.0%} of the positions) against its own reference, NaN elsewhere",
        UserWarning,
        stacklevel=2,
    )
    return {"phase": (phases, main)}


def _structure_paths(ctx: StepContext, names: list) -> list[str]:
    """``[fourd_phases] structures``: CIF paths, relative ones next to the input first."""
    out = []
    for name in names:
        path = Path(name).expanduser()
        cands = [path] if path.is_absolute() else [ctx.path.parent / path, Path.cwd() / path]
        found = next((c for c in cands if c.is_file()), None)
        if found is None:
            raise ConfigError(
                f"[fourd_phases] structures: {name!r} is not a file (looked in "
                f"{', '.join(str(c.parent) for c in cands)}); give CIF paths"
            )
        out.append(str(found.resolve()))
        ctx.used_files.append(str(found.resolve()))
    return out


def step_fourd_phases(ctx: StepContext) -> StepOutput:
    """Phase/orientation maps (``ss.fourd_phases``) against the configured CIF structures.

    The probe is the one ``[fourd] probe`` names (as for ``fourd_strain``). Key figures:
    the phase fractions (``FourDPhasesResult.fractions()``) as ``name=fraction`` pairs
    and the median score; every per-phase figure is in summary.json.
    """
    import stemstrain as ss

    p = ctx.p("fourd_phases")
    if not p.get("structures"):
        raise StepNotRun(
            "no [fourd_phases] structures configured (list the CIF files of the candidate "
            "phases to map them)"
        )
    kw: dict[str, Any] = {}
    probe_path = find_companion(ctx.path, ctx.p("fourd").get("probe", "none"))
    if probe_path is not None and not isinstance(ctx.signal, ss.BraggVectors):
        kw["probe"] = _probe_array(ss.load(probe_path))
    kw.update(_fourd_settings(ctx.kwargs("fourd_phases")))
    res = ss.fourd_phases(ctx.signal, _structure_paths(ctx, p.get("structures", [])), **kw)
    figs = res.key_figures()
    fracs = res.fractions()
    keys = {f"fourd_phase_{k}": v for k, v in figs.items()}
    keys["fourd_phase_fractions"] = "; ".join(f"{k}={v:.3f}" for k, v in fracs.items())
    keys["fourd_phase_score_median"] = float(figs.get("median_score", float("nan")))
    return StepOutput(res, [res], {"fourd_phases": res}, keys)


def _pixel_size(signal: Any) -> float | None:
    try:
        ax = signal.axes_manager.signal_axes[0]
        return float(ax.scale) if str(ax.units) in ("nm",) else None
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


STEPS: dict[str, Callable[[StepContext], StepOutput]] = {
    "gpa": step_gpa,
    "dislocations": _single_image(step_dislocations),
    "columns": _single_image(step_columns),
    "curvature": _single_image(step_curvature),
    "stacking": _single_image(step_stacking),
    "occupancy": _single_image(step_occupancy),
    "lattice_map": _single_image(step_lattice_map),
    "phases": _single_image(step_phases),
    "eels": step_eels,
    "fourd": step_fourd,
    "fourd_phases": step_fourd_phases,
}
