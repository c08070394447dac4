"""Benchmark: ``fourd_phases`` on the real LCO/spinel Bragg-vector scan vs py4DSTEM.

Prints, against the acceptance numbers of issue 19:

* phase fractions (two phases, each >= 10 %), spatial coherence (fraction of assigned
  positions whose 4-neighbours mostly share their label);
* fitted LiCoO2 a (target 0.2816 ± 0.003 nm) and spinel a (0.825 ± 0.01 nm);
* agreement with py4DSTEM's own orientation matching (``Crystal.orientation_plan`` +
  ``match_single_pattern`` per position, its test-suite settings, fibre libraries) on the
  positions where both assign LCO or spinel (target >= 90 %), and the time ratio;
* time of 80 × 58 positions against three structures (target <= 10 s on 2 cores).

Writes ``docs/notes/fourd_phases_lco_spinel.png`` (label maps side by side).
Run: ``python benchmarks/bench_fourd_phases.py [--no-py4dstem]``.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data").resolve()
STEM = "py4DSTEM__test_unit_test_data_crystal__"


def coherence(labels: np.ndarray) -> float:
    """Fraction of assigned positions with >= 3 of their 4 neighbours of the same label."""
    lab = np.pad(labels, 1, constant_values=-2)
    c = lab[1:-1, 1:-1]
    same = sum(
        (np.roll(lab, s, a)[1:-1, 1:-1] == c).astype(int)
        for s, a in ((1, 0), (-1, 0), (1, 1), (-1, 1))
    )
    ok = c >= 0
    return float((same[ok] >= 3).mean()) if ok.any() else float("nan")


def run_py4dstem(bv_path: Path, cells: dict) -> tuple[np.ndarray, float]:
    """py4DSTEM phase labels (0 LCO, 1 spinel, -1 none) and its time (plan + match)."""
    import ase.io
    import py4DSTEM
    from py4DSTEM.process.diffraction import Crystal

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bp = py4DSTEM.read(str(bv_path))
    crystals = []
    for name in ("LCO", "LiMn2O4"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            at = ase.io.read(DATA / f"{STEM}{name}.cif")
        par = at.cell.cellpar()
        if name in cells:
            par[:3] = np.asarray(cells[name]) * 10.0  # nm → Å
        crystals.append(Crystal(at.get_scaled_positions(), at.get_atomic_numbers(), par))
    t0 = time.perf_counter()
    corr = np.zeros((2, *bp.shape))
    for k, c in enumerate(crystals):
        c.calculate_structure_factors(k_max=1.7, tol_structure_factor=0.1)
        fiber = c.hexagonal_to_lattice([1, 0, -1, 0]) if k == 0 else [1, 1, 2]
        c.orientation_plan(
            angle_step_zone_axis=1.0,
            angle_step_in_plane=5.0,
            accel_voltage=300e3,
            zone_axis_range="fiber",
            fiber_axis=fiber,
            fiber_angles=[5, 90] if k == 0 else [5, 180],
            progress_bar=False,
        )
        for i in range(bp.shape[0]):
            for j in range(bp.shape[1]):
                with contextlib.redirect_stdout(io.StringIO()):
                    o = c.match_single_pattern(bp[i, j], num_matches_return=1)
                corr[k, i, j] = np.ravel(o.corr)[0]
    dt = time.perf_counter() - t0
    lab = np.where(corr.max(0) > 0, np.argmax(corr, 0), -1)
    return lab, dt


def _literature_lco(cif: Path):
    """The shipped LCO structure with the literature cell (2.816, 14.05 Å)."""
    import ase.io

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        at = ase.io.read(cif)
    scale = np.array([[2.816 / 2.92], [2.816 / 2.92], [14.05 / 14.25]])
    at.set_cell(at.cell.array * scale, scale_atoms=True)
    at.info["name"] = "LCO_literature"
    return at


def main() -> int:
    import stemstrain as ss

    path = DATA / f"{STEM}braggdisks_cali.h5"
    if not path.exists():
        print(f"SKIP: {path} not found")
        return 0
    bv = ss.load(path)
    structures = [DATA / f"{STEM}{n}.cif" for n in ("LCO", "LiMn2O4", "Li2MnO3")]
    ss.fourd_phases(bv, structures[:1])  # warm-up (imports, FFT plans)
    times = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):  # cold first run (structures read, symmetry found), then cached
            load0 = os.getloadavg()[0]
            t0, c0 = time.perf_counter(), time.process_time()
            res = ss.fourd_phases(bv, structures)
            times.append((time.perf_counter() - t0, time.process_time() - c0, load0))
    for msg in dict.fromkeys(str(w.message) for w in caught):
        print(f"  warning: {msg}")
    t_ours, cpu, load = min(times)
    fr = res.fractions()
    lp = res.lattice_parameters
    print(
        "fourd_phases, 80 x 58 positions x 3 structures: "
        + "; ".join(f"{w:.2f} s wall / {c:.2f} CPU-s (load {ld:.1f})" for w, c, ld in times)
    )
    print(
        f"  best {t_ours:.2f} s wall, {cpu:.2f} CPU-s at load {load:.1f} on "
        f"{os.cpu_count()} cores (target <= 10 s on the 2-core CI machine): wall "
        f"{'MET' if t_ours <= 10 else 'NOT MET'}, CPU {'MET' if cpu <= 10 else 'NOT MET'}"
    )
    print(f"  cell-scale search (fitted / input cell): {res.params['cell_scale_search']}")
    print("fractions: " + ", ".join(f"{k} {v:.3f}" for k, v in fr.items()))
    big = [k for k, v in fr.items() if k != "unassigned" and v >= 0.10]
    print(f"phases on >= 10 %: {big}; spatial coherence {coherence(res.label_map):.3f}")
    a_lco, a_sp = lp["LCO"]["a"], lp["LiMn2O4"]["a"]
    print(
        f"LCO a = {a_lco[0]:.4f} ± {a_lco[1]:.4f} nm (target 0.2816 ± 0.003) -> "
        f"{'MET' if abs(a_lco[0] - 0.2816) <= 0.003 else 'NOT MET'}; c = {lp['LCO']['c'][0]:.4f}"
    )
    print(
        f"spinel a = {a_sp[0]:.4f} ± {a_sp[1]:.4f} nm (target 0.825 ± 0.01) -> "
        f"{'MET' if abs(a_sp[0] - 0.825) <= 0.01 else 'NOT MET'}"
    )
    p4 = None
    if "--no-py4dstem" not in sys.argv:
        try:
            p4, t_p4 = run_py4dstem(path, {})  # the shipped CIFs, as py4DSTEM's own test
        except ImportError as exc:
            print(f"py4DSTEM not available: {exc}")
    if p4 is not None:
        ours = np.where(np.isin(res.label_map, (0, 1)), res.label_map, -1)
        both = (ours >= 0) & (p4 >= 0)
        agree = float((ours[both] == p4[both]).mean()) if both.any() else float("nan")
        print(
            f"py4DSTEM: LCO {np.mean(p4 == 0):.3f}, spinel {np.mean(p4 == 1):.3f}, none "
            f"{np.mean(p4 < 0):.3f} (shipped CIFs)"
        )
        print(
            f"agreement on {both.sum()} positions both assign: {agree:.3f} (target >= 0.90)"
            f" -> {'MET' if agree >= 0.9 else 'NOT MET'}"
        )
        lit = _literature_lco(DATA / f"{STEM}LCO.cif")
        for label, lib in (
            ("cell-scale search (default)", ss.PhaseLibrary()),
            ("no scale search", ss.PhaseLibrary(scale_range=0)),
        ):
            res_lit = ss.fourd_phases(bv, [lit, *structures[1:]], library=lib)
            ours = np.where(np.isin(res_lit.label_map, (0, 1)), res_lit.label_map, -1)
            both = (ours >= 0) & (p4 >= 0)
            a_l = res_lit.lattice_parameters["LCO_literature"]["a"][0]
            print(
                f"literature LCO cell (a 0.2816, c 1.405 nm) as input, {label}: "
                + ", ".join(f"{k} {v:.3f}" for k, v in res_lit.fractions().items())
                + f"; fitted LCO a {a_l:.4f} nm; agreement with py4DSTEM "
                f"{float((ours[both] == p4[both]).mean()):.3f} on {both.sum()}"
            )
        print(
            f"time: ours {t_ours:.2f} s (3 structures) vs py4DSTEM {t_p4:.2f} s (2 "
            f"structures, fibre libraries): ratio {t_p4 / t_ours:.1f}x"
        )
    if p4 is not None:  # the notes' picture has the py4DSTEM panel: not overwritten without
        _picture(res, p4)
    return 0


def _picture(res, p4) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = 2 if p4 is None else 3
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 5))
    cmap = plt.get_cmap("tab10")
    names = list(res.phases)
    for ax, lab, title in zip(
        axes,
        [res.label_map, res.score, p4],
        ["stemstrain fourd_phases", "score", "py4DSTEM (LCO/spinel)"],
        strict=False,
    ):
        if title == "score":
            im = ax.imshow(lab, cmap="viridis")
            fig.colorbar(im, ax=ax, shrink=0.7)
        else:
            rgb = np.ones((*lab.shape, 3))
            for i in range(len(names)):
                rgb[lab == i] = cmap(i)[:3]
            ax.imshow(rgb)
            ax.set_title(
                title
                + "\n"
                + "  ".join(f"{names[i]}={np.mean(lab == i):.2f}" for i in range(len(names))),
                fontsize=8,
            )
        ax.set_axis_off()
    out = ROOT / "docs" / "notes" / "fourd_phases_lco_spinel.png"
    fig.savefig(out, dpi=90, bbox_inches="tight")
    print(f"picture: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
