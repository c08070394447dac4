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


def _cell(cells: dict, key: str, describe, fn, *a, **k):
    """Run ``fn(*a, **k)``; ``cells[key]`` = ``describe(result)`` + its warnings, or the error.

    Returns the result (None when it raised).
    """
    try:
        res, w = _call(fn, *a, **k)
        cells[key] = f"{describe(res)}{w}"
        return res
    except Exception as e:
        cells[key] = _short(e)
        return None


def _fractions(res) -> str:
    return f"{ {k: round(float(v), 3) for k, v in res.fractions.items()} }"


def _image_cells(sig) -> dict:
    import numpy as np

    import stemstrain as ss

    cells = {}
    if hasattr(ss, "lattice_map"):

        def lm_text(lm):
            t = lm.grain_table
            lay = ""
            if lm.layered and len(t):
                lay = (
                    f", layered (x{int(t.superstructure.iloc[0])}, "
                    f"period {t.layer_period_nm.iloc[0]:.3g})"
                )
            a = lm.anisotropy
            return (
                f"cryst {lm.crystalline_fraction:.2f} (2-D {np.mean(lm.lattice_2d):.2f}), grains "
                f"{int(np.max(lm.grains))}{lay}, aniso {a.ratio:.4f} +- {a.sigma:.4f} "
                f"({a.lattice}, shear {a.shear_deg:.2f} deg)"
            )

        _cell(cells, "lattice_map", lm_text, ss.lattice_map, sig)

    def gpa_text(r):
        d = 1 / np.hypot(*np.asarray(r.g_vectors, float).T)
        return (
            f"valid {r.quality['valid_fraction']:.2f} of the crystal (finite on "
            f"{_nanfrac(r.exx):.2f} of the image), d {np.round(d, 3).tolist()}, layered "
            f"{r.g_info.get('layered')}"
        )

    _cell(cells, "gpa", gpa_text, ss.gpa, sig)
    cols = _cell(
        cells,
        "columns",
        lambda c: f"{len(c)} columns, {int((c['layer'] >= 0).sum())} in layers",
        ss.find_columns,
        sig,
    )
    where = lambda r: f"max at {tuple(np.round(r.max_location, 1))}"  # noqa: E731
    _cell(cells, "layer_curvature", where, ss.layer_curvature, sig, columns=cols)
    _cell(cells, "stacking_map", _fractions, ss.stacking_map, sig, columns=cols)
    if hasattr(ss, "phase_map"):
        _cell(cells, "phase_map", _fractions, ss.phase_map, sig)
    return cells


def _eels_cells(sig, tm: str) -> dict:
    import numpy as np

    import stemstrain as ss

    def spread(r):
        v = np.asarray(r.ratio, float).ravel()
        return f"O/{tm} median {np.nanmedian(v):.2f} [{np.nanmin(v):.2f}, {np.nanmax(v):.2f}]"

    cells = {}
    _cell(cells, "o_tm_ratio", spread, ss.o_tm_ratio, sig, tm=tm)
    if hasattr(ss, "tm_valence"):
        median = lambda r: f"{tm} valence median {np.nanmedian(np.asarray(r.valence, float)):.2f}"  # noqa: E731
        _cell(cells, "tm_valence", median, ss.tm_valence, sig, tm=tm)
    return cells


def _fourd_cells(obj, name: str) -> dict:
    import numpy as np

    import stemstrain as ss

    def strain(r):
        return f"valid {_nanfrac(r.exx):.2f}, median |exx| {np.nanmedian(np.abs(r.exx)):.1e}"

    def fractions(r):
        lab = np.asarray(r.label_map)
        return f"{ {p: round(float((lab == i).mean()), 3) for i, p in enumerate(r.phases)} }"

    cells = {}
    _cell(cells, "fourd_strain", strain, ss.fourd_strain, obj, progress=False)
    if hasattr(ss, "fourd_phases") and name.endswith("braggdisks_cali.h5"):
        cifs = [str(DATA / f"py4DSTEM__test_unit_test_data_crystal__{c}.cif") for c in CIFS]
        _cell(cells, "fourd_phases", fractions, ss.fourd_phases, obj, structures=cifs)
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
        _cell(
            cells, "gpa_series", lambda r: f"drift {r.drift.round(2).tolist()}", ss.gpa_series, sig
        )
    elif name in EELS:
        cells.update(_eels_cells(sig, EELS[name]))
    elif name in FOURD:
        cells.update(_fourd_cells(sig, name))
    elif name in PATTERNS and hasattr(ss, "calibrate_detector") and "moo3" in name:
        # alpha-MoO3 [010]: (101) and (10-1), |g| = sqrt(1/a^2 + 1/c^2) = 3.70 1/nm, 86.0 deg apart
        lattice = (3.70, 3.70, 86.0)
        _cell(cells, "calibrate_detector", str, ss.calibrate_detector, sig, lattice=lattice)
        cells["calibrate_detector"] = cells["calibrate_detector"][:200]
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
