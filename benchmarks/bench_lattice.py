"""Atom-column benchmark: stemstrain.find_columns vs atomap 0.4.2, same images, same run.

Rows:

* ``columns 2048^2 detect+refine``: wall time of ``find_columns(trace=False)`` (FFT lattice,
  detection, batched Gaussian refinement of ~15k TM columns) on a 2048x2048 synthetic
  LiCoO2 image (0.02 nm/px, 5 deg, Poisson dose 200), target <= 5 s; the peer figure is
  atomap's per-column time (measured on a crop) times the same number of columns.
* ``+ layer tracing``: the same with ``trace=True`` (layers numbered), no peer.
* ``ms per column``: stemstrain (2048^2 run) vs atomap (``get_atom_positions`` +
  nearest neighbours + centre of mass + ``refine_atom_positions_using_2d_gaussian``) on
  a 192x320 crop of a same-statistics image (~210 columns); target ratio >= 30.
* ``RMS error``: position error against the generator's truth on that crop (matched
  within 0.3 period), both tools; ``recall`` likewise.
* ``curvature 1024^2``: ``layer_curvature`` end to end (columns, layers, fits, map).
* ``columns <case>``: every realistic generator case (``stemstrain.synthetic.realistic``,
  20-nm fields, 1024^2 at 0.02 nm/px, dose 200; low dose ~40 counts): RMS 2-D error over
  the image's own Cramer-Rao bound (``column_crb``), with recall and spurious fraction;
  met when recall >= 0.98, spurious <= 2 % and RMS <= 1.3x the bound (issue 14).
* ``curvature per layer bend_r15``: worst per-layer median error against 1/(R - n_k);
  ``stacking o1_bend``: pixel accuracy and O1 IoU of ``stacking_map`` against the nominal
  stacking (the gaps built O1 / O3; issue 14 targets).

Times are the best of ``--repeats`` runs. CPU time (process_time) is printed too: on a
shared, oversubscribed machine the wall time can be 2-3x the CPU time.
Usage: ``python benchmarks/bench_lattice.py [--quick] [--realistic-only]``.
"""

from __future__ import annotations

import sys as _sys
from functools import partial
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parent))
import argparse
import sys
import time
import warnings
from pathlib import Path

import _common
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scipy.spatial import cKDTree

from stemstrain.lattice import find_columns, layer_curvature
from stemstrain.synthetic import CASES, layered_oxide, realistic, score_columns

PX = 0.02
PERIOD_PX = 0.244 / PX


emit = partial(_common.emit, echo=True)


def score(truth, x, y):
    d, _ = cKDTree(np.c_[x, y]).query(np.c_[truth.x, truth.y])
    ok = d < 0.3 * PERIOD_PX
    return float(np.sqrt(np.mean(d[ok] ** 2))), float(ok.mean())


def timed(fn, repeats):
    best, cpu, out = np.inf, np.inf, None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return best, cpu, out


def run_atomap(image):
    """atomap's standard workflow; returns (seconds, x, y)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import atomap.api as am
        import hyperspy.api as hs

        sig = hs.signals.Signal2D(image.astype(float))
        t0 = time.perf_counter()
        pos = am.get_atom_positions(sig, separation=int(0.65 * PERIOD_PX))
        sub = am.Sublattice(pos, image=sig.data)
        sub.find_nearest_neighbors()
        sub.refine_atom_positions_using_center_of_mass(show_progressbar=False)
        sub.refine_atom_positions_using_2d_gaussian(show_progressbar=False)
        dt = time.perf_counter() - t0
    return dt, np.asarray(sub.x_position), np.asarray(sub.y_position)


def realistic_rows(quick: bool) -> None:
    """One row per realistic case: RMS / CRB, recall, spurious (acceptance of issue 14)."""
    n = 512 if quick else 1024
    for case in CASES:
        rec = realistic(case, shape=(n, n), pixel_size=PX, seed=11)
        t0, c0 = time.perf_counter(), time.process_time()
        cols = find_columns(rec.image, pixel_size=PX)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        sc = score_columns(rec, cols.x, cols.y)
        ratio = sc["rms_px"] / sc["crb_px"]
        met = sc["recall"] >= 0.98 and sc["spurious"] <= 0.02 and ratio <= 1.3
        emit(
            f"columns {case} {n}^2",
            ratio,
            None,
            "x CRB",
            f"RMS {sc['rms_px']:.4f} px, CRB {sc['crb_px']:.4f} px, recall "
            f"{sc['recall']:.4f}, spurious {sc['spurious']:.4f}, {sc['n_truth']} columns; "
            f"{wall:.1f} s wall, {cpu:.1f} s CPU",
            target=1.3,
            met=met,
        )


def curvature_and_stacking_rows(quick: bool) -> None:
    """Per-layer curvature of the slipping R = 15 nm bend; stacking of the O1 band in a bend."""
    from stemstrain.lattice import stacking_map

    n = 512 if quick else 1024
    rec = realistic("bend_r15", shape=(n, n), pixel_size=PX, seed=12)
    res = layer_curvature(rec.image, pixel_size=PX)
    lay = res.layers[res.layers.full_window]
    tm = rec.columns[rec.columns.detectable]
    _, i = cKDTree(np.c_[tm.x, tm.y]).query(np.c_[lay.x, lay.y])
    layer = tm.layer.to_numpy()[i]
    per = (
        lay.assign(kt=1.0 / (15.0 - layer * 0.468), tl=layer)
        .groupby("tl")
        .agg(k=("curvature", "median"), kt=("kt", "first"), n=("curvature", "size"))
    )
    per = per[per.n >= 10]
    worst = float(np.max(np.abs(per.k / per.kt - 1)))
    emit(
        f"curvature per layer bend_r15 {n}^2",
        worst,
        None,
        "max |rel err|",
        f"{len(per)} layers, kappa {per.kt.min():.4f}-{per.kt.max():.4f} 1/nm; target 0.10",
        target=0.10,
        met=worst <= 0.10,
    )
    rec = realistic("o1_bend", shape=(n, n), pixel_size=PX, seed=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st = stacking_map(rec.image, PX)
    truth = rec.truth["labels_nominal"]  # the stacking built; the slip drift is removed
    both = (truth > 0) & (st.label_map > 0)
    acc = float(np.mean(truth[both] == st.label_map[both]))
    a, b = truth == 2, st.label_map == 2
    iou = float((a & b).sum() / max((a | b).sum(), 1))
    emit(
        f"stacking o1_bend {n}^2",
        acc,
        None,
        "pixel accuracy",
        f"O1 IoU {iou:.3f} vs the nominal labels (slip drift removed, beta "
        f"{st.params['slip']['beta']:.3f}); targets 0.95 / 0.85",
        higher_is_better=True,
        target=0.95,
        met=acc >= 0.95 and iou >= 0.85,
    )


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1024^2 and a smaller atomap crop")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument(
        "--realistic-only", action="store_true", help="only the realistic generator cases"
    )
    args = ap.parse_args(argv)
    print(f"{'row':<34} {'stemstrain':>12} {'peer':>12} {'ratio':>8}  unit")
    realistic_rows(args.quick)
    curvature_and_stacking_rows(args.quick)
    if args.realistic_only:
        return
    n = 1024 if args.quick else 2048
    crop = (128, 192) if args.quick else (192, 320)

    big = layered_oxide((n, n), pixel_size=PX, angle_deg=5.0, dose=200.0, seed=0)
    find_columns(big.image[:256, :256], pixel_size=PX)  # warm-up (imports, first-touch)
    wall, cpu, cols = timed(
        lambda: find_columns(big.image, pixel_size=PX, trace=False), args.repeats
    )
    rms_big, recall_big = score(big.tm_columns(), cols.x, cols.y)
    n_cols = len(cols)
    wall_tr, cpu_tr, _ = timed(lambda: find_columns(big.image, pixel_size=PX), 1)

    small = layered_oxide(crop, pixel_size=PX, angle_deg=5.0, dose=200.0, seed=1)
    t_am, xa, ya = run_atomap(small.image)
    rms_am, recall_am = score(small.tm_columns(), xa, ya)
    ms_am = 1e3 * t_am / max(len(xa), 1)
    sc = find_columns(small.image, pixel_size=PX)
    rms_ss, recall_ss = score(small.tm_columns(), sc.x, sc.y)
    ms_ss = 1e3 * wall / n_cols

    emit(
        f"columns {n}^2 detect+refine",
        wall,
        ms_am * n_cols / 1e3,
        "s",
        f"{n_cols} TM columns; CPU {cpu:.2f} s; peer = atomap ms/column x N",
        target=5.0,
        met=wall <= 5.0,
    )
    emit(
        f"columns {n}^2 CPU time",
        cpu,
        None,
        "s",
        "process time: the wall time on an idle machine (this one is shared)",
        target=5.0,
        met=cpu <= 5.0,
    )
    emit(f"columns {n}^2 + layer tracing", wall_tr, None, "s", f"CPU {cpu_tr:.2f} s")
    emit(
        "ms per column",
        ms_ss,
        ms_am,
        "ms",
        f"atomap on a {crop[0]}x{crop[1]} crop ({len(xa)} columns); target ratio >= 30",
        target=30.0,
        met=(ms_am / ms_ss) >= 30.0,
    )
    emit(
        "RMS position error (crop)",
        rms_ss,
        rms_am,
        "px",
        f"dose 200; recall {recall_ss:.3f} vs atomap {recall_am:.3f}; CRLB ~0.050 px",
    )
    emit(f"RMS position error ({n}^2)", rms_big, None, "px", f"recall {recall_big:.4f}")
    m = 1024 if not args.quick else 512
    bent = layered_oxide((m, m), pixel_size=PX, bend_radius_nm=30.0, angle_deg=10.0, seed=2)
    wall_c, cpu_c, res = timed(lambda: layer_curvature(bent.image, pixel_size=PX), 1)
    lay = res.layers[res.layers.full_window]
    med = float(np.median(lay.curvature))
    tm = bent.tm_columns(inside=False)
    _, idx = cKDTree(np.c_[tm.x, tm.y]).query(np.c_[lay.x, lay.y])
    truth = float(np.median(1.0 / (30.0 - tm.n.to_numpy()[idx])))
    emit(
        f"curvature {m}^2 end to end",
        wall_c,
        None,
        "s",
        f"CPU {cpu_c:.2f} s; median kappa {med:.4f} 1/nm, truth 1/(30 - n_k) {truth:.4f}",
    )


if __name__ == "__main__":
    main()
