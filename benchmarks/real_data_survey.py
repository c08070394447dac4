"""Run every applicable analysis on every real file in ../shared/data and print a markdown table.

Usage (from the project root, with its virtualenv)::

    .venv/bin/python benchmarks/real_data_survey.py [--out docs/notes/real_data_survey.md] [--timeout 180]

Each file runs in its own subprocess (a per-file time limit; one crash cannot sink the survey). A cell says
what a user gets from the default call: key figures, warnings (``warn:``) or the one-line error. This is a
survey, not a test: the tests that assert numbers on these files are marked ``shared_data``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = (ROOT / ".." / "shared" / "data").resolve()

IMAGES = [
    "SciLink__data__YBCO_tem.tif",
    "AI-STEM__image_test__LLTO.jpg",
    "TEMUL-pypi-wheel__example_Au_nanoparticle.emd",
    "TEMUL__PTO_supercrystal_hadjimichael__Cropped_PTO-SRO_Aligned.hspy",
    "openNCEM__ncempy_data__16_STOimage.emi",
    "openNCEM__ncempy_data__Acquisition_18.emd",
    "atomap__tests_datasets__test_ADF_cropped.hdf5",
    "atomap__tests_datasets__test_ABF_cropped.hdf5",
    "hyperspy-demos__image_data__stem_abf_data.hspy",
    "kemstem__example_data__Cryo_NSMO110_REGISTERED.tif",
    "TEMUL-pypi-wheel__example_Se_implanted_MoS2.dm3",
    "SciFiDatasets__DMReader_Image_SI-Survey.dm3",
    "SciFiDatasets__DMReader_SI-HAADF.dm3",
    "rosettasciio__dm_2D__multi_signal_HAADF.dm3",
]
SERIES = ["hyperspy-demos__image_data__stem_abf_data_imagestack.hspy"]
EELS = {
    "usnistgov-hyperspy_tutorial__05EELS__LSMO_STO_linescan.hdf5": "Mn",
    "SciFiDatasets__DMReader_EELS_STO.dm3": "Ti",
    "SciFiDatasets__DMReader_SpectrumImage_SI-EELS.dm3": "Ti",
    "rosettasciio__dm_3D__EELS_SI.dm4": "Co",
    "nomad-parser-eelsdb__tests__LSMO_STO_film_middle_MnL23.msa": "Mn",
    "nomad-parser-eelsdb__tests__LSMO_STO_interface_Ovac_MnL23.msa": "Mn",
    "nomad-parser-eelsdb__tests__LSMO_brownmillerite_MnL23.msa": "Mn",
}
FOURD = [
    "py4DSTEM__test_unit_test_data_crystal__braggdisks_cali.h5",
    "rosettasciio__blockfile__test1.blo",
    "rosettasciio__quantumdetector__001_4x2_6bit.mib",
]
PATTERNS = ["pyxem-demos__data03__moo3_20cm.tif", "pyxem-demos__data03__au_xgrating_100kX.hspy"]
CIFS = ["LCO", "LiMn2O4", "Li2MnO3"]


def _short(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:160]


def _call(fn, *a, **k):
    """(result, 'warn: ...' text) with warnings captured."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn(*a, **k)
    msgs = sorted(
        {" ".join(str(x.message).split())[:90] for x in w if issubclass(x.category, UserWarning)}
    )
    return out, ("; warn: " + " | ".join(msgs[:2])) if msgs else ""


def _nanfrac(a) -> float:
    import numpy as np

    a = np.asarray(a, dtype=float)
    return float(np.isfinite(a).mean())


def _image_cells(sig) -> dict:
    import numpy as np

    import stemstrain as ss

    cells = {}
    if hasattr(ss, "lattice_map"):
        try:
            lm, w = _call(ss.lattice_map, sig)
            t = lm.grain_table
            lay = ""
            if lm.layered and len(t):
                lay = f", layered (x{int(t.superstructure.iloc[0])}, period {t.layer_period_nm.iloc[0]:.3g})"
            a = lm.anisotropy
            cells["lattice_map"] = (
                f"cryst {lm.crystalline_fraction:.2f} (2-D {np.mean(lm.lattice_2d):.2f}), grains "
                f"{int(np.max(lm.grains))}{lay}, aniso {a.ratio:.4f} +- {a.sigma:.4f} "
                f"({a.lattice}, shear {a.shear_deg:.2f} deg){w}"
            )
        except Exception as e:
            cells["lattice_map"] = _short(e)
    try:
        r, w = _call(ss.gpa, sig)
        d = 1 / np.hypot(*np.asarray(r.g_vectors, float).T)
        cells["gpa"] = (
            f"valid {r.quality['valid_fraction']:.2f} of the crystal (finite on "
            f"{_nanfrac(r.exx):.2f} of the image), d {np.round(d, 3).tolist()}, layered "
            f"{r.g_info.get('layered')}{w}"
        )
    except Exception as e:
        cells["gpa"] = _short(e)
    try:
        cols, w = _call(ss.find_columns, sig)
        cells["columns"] = f"{len(cols)} columns, {int((cols['layer'] >= 0).sum())} in layers{w}"
    except Exception as e:
        cols = None
        cells["columns"] = _short(e)
    for name in ("layer_curvature", "stacking_map"):
        try:
            res, w = _call(getattr(ss, name), sig, columns=cols)
            if name == "stacking_map":
                cells[name] = f"{ {k: round(float(v), 3) for k, v in res.fractions.items()} }{w}"
            else:
                cells[name] = f"max at {tuple(np.round(res.max_location, 1))}{w}"
        except Exception as e:
            cells[name] = _short(e)
    if hasattr(ss, "phase_map"):
        try:
            res, w = _call(ss.phase_map, sig)
            cells["phase_map"] = f"{ {k: round(float(v), 3) for k, v in res.fractions.items()} }{w}"
        except Exception as e:
            cells["phase_map"] = _short(e)
    return cells


def _eels_cells(sig, tm: str) -> dict:
    import numpy as np

    import stemstrain as ss

    cells = {}
    try:
        r, w = _call(ss.o_tm_ratio, sig, tm=tm)
        v = np.asarray(r.ratio, float).ravel()
        cells["o_tm_ratio"] = (
            f"O/{tm} median {np.nanmedian(v):.2f} [{np.nanmin(v):.2f}, {np.nanmax(v):.2f}]{w}"
        )
    except Exception as e:
        cells["o_tm_ratio"] = _short(e)
    if hasattr(ss, "tm_valence"):
        try:
            r, w = _call(ss.tm_valence, sig, tm=tm)
            v = np.asarray(r.valence, float).ravel()
            cells["tm_valence"] = f"{tm} valence median {np.nanmedian(v):.2f}{w}"
        except Exception as e:
            cells["tm_valence"] = _short(e)
    return cells


def _fourd_cells(obj, name: str) -> dict:
    import numpy as np

    import stemstrain as ss

    cells = {}
    try:
        r, w = _call(ss.fourd_strain, obj, progress=False)
        cells["fourd_strain"] = (
            f"valid {_nanfrac(r.exx):.2f}, median |exx| {np.nanmedian(np.abs(r.exx)):.1e}{w}"
        )
    except Exception as e:
        cells["fourd_strain"] = _short(e)
    if hasattr(ss, "fourd_phases") and name.endswith("braggdisks_cali.h5"):
        cifs = [str(DATA / f"py4DSTEM__test_unit_test_data_crystal__{c}.cif") for c in CIFS]
        try:
            r, w = _call(ss.fourd_phases, obj, structures=cifs)
            lab = np.asarray(r.label_map)
            fr = {p: round(float((lab == i).mean()), 3) for i, p in enumerate(r.phases)}
            cells["fourd_phases"] = f"{fr}{w}"
        except Exception as e:
            cells["fourd_phases"] = _short(e)
    return cells


def one(name: str) -> dict:
    """All cells for one file (runs in the child process)."""
    import stemstrain as ss

    path = DATA / name
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sig = ss.load(str(path))
        sig = sig[0] if isinstance(sig, list) else sig
    except Exception as e:
        return {"load": _short(e)}
    cells = {
        "load": f"{type(sig).__name__} {tuple(getattr(sig, 'data', sig).shape) if hasattr(sig, 'data') else ''}"
    }
    if name in IMAGES:
        cells.update(_image_cells(sig))
    elif name in SERIES and hasattr(ss, "gpa_series"):
        try:
            r, w = _call(ss.gpa_series, sig)
            cells["gpa_series"] = f"drift {r.drift.round(2).tolist()}{w}"
        except Exception as e:
            cells["gpa_series"] = _short(e)
    elif name in EELS:
        cells.update(_eels_cells(sig, EELS[name]))
    elif name in FOURD:
        cells.update(_fourd_cells(sig, name))
    elif name in PATTERNS and hasattr(ss, "calibrate_detector") and "moo3" in name:
        try:
            # alpha-MoO3 [010]: (101) and (10-1), |g| = sqrt(1/a^2 + 1/c^2) = 3.70 1/nm, 86.0 deg apart
            r, w = _call(ss.calibrate_detector, sig, lattice=(3.70, 3.70, 86.0))
            cells["calibrate_detector"] = f"{r}{w}"[:200]
        except Exception as e:
            cells["calibrate_detector"] = _short(e)
    cells["time_s"] = f"{time.perf_counter() - t0:.1f}"
    return cells


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path)
    p.add_argument("--timeout", type=float, default=180.0)
    a = p.parse_args()
    if a.one:
        print("JSON" + json.dumps(one(a.one)))
        return 0
    if not DATA.is_dir():
        print(f"no shared data at {DATA}")
        return 0
    names = [*IMAGES, *SERIES, *EELS, *FOURD, *PATTERNS]
    lines = ["| file | analysis | outcome |", "| --- | --- | --- |"]
    for name in names:
        if not (DATA / name).exists():
            continue
        try:
            cp = subprocess.run(
                [sys.executable, __file__, "--one", name],
                capture_output=True,
                text=True,
                timeout=a.timeout,
            )
            tail = [ln for ln in cp.stdout.splitlines() if ln.startswith("JSON")]
            cells = (
                json.loads(tail[-1][4:])
                if tail
                else {"crash": (cp.stderr.strip().splitlines() or ["no output"])[-1][:160]}
            )
        except subprocess.TimeoutExpired:
            cells = {"timeout": f"> {a.timeout:.0f} s"}
        for k, v in cells.items():
            row = f"| `{name[:60]}` | {k} | {str(v).replace('|', '/')} |"
            lines.append(row)
            print(row, flush=True)
    if a.out:
        a.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
