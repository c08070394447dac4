"""Series benchmark: drift-corrected GPA of a generated 8-frame movie (issue #17 acceptance).

The movie (``stemstrain.synthetic.drifting_movie``): a layered oxide rendered from
analytic column positions in every frame, drifting ~1.3 px/frame (+ 0.3 px jitter, ~9 px in
total) with a stretch (e_tt step) growing 0 -> 0.7 % on one side, Poisson noise (dose 200).

Rows (same run, same machine):

* ``gpa_series drift error``: worst |drift - truth| over frames and x/y (target <= 0.15 px);
* ``gpa_series unstrained error``: worst over frames of |median(map - truth)| for exx, eyy, exy
  in the unstrained region (target <= 5e-4);
* ``gpa_series stretched error``: the same in the fully stretched region (the strain step
  unchanged by the drift correction; target <= 5e-4);
* ``gpa_series frames/s``: throughput of ``gpa_series`` at NxN vs one ``ss.gpa`` per frame
  (the peer: the same GPA without registration); target >= 2 frames/s at 1024^2 on the
  2-core CI machine.

Usage: ``python benchmarks/bench_series.py [--quick]`` (``--quick``: 512^2).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_time, emit
from scipy import ndimage as ndi

import stemstrain as ss
from stemstrain.synthetic import drifting_movie


def _errors(movie, res):
    c2 = np.cos(np.deg2rad(8.0)) ** 2
    worst_un, worst_st = 0.0, 0.0
    for k in range(res.n_frames):
        tr = movie.truth[k]
        inner = ndi.binary_erosion(np.isfinite(res.exx[k]), iterations=15)
        s = movie.stretch[k] * c2
        un = (np.abs(tr["exx"]) < 1e-5) & inner
        st = (np.abs(tr["exx"] - s) <= 0.02 * s + 1e-6) & inner
        for comp in ("exx", "eyy", "exy"):
            d = getattr(res, comp)[k] - tr[comp]
            worst_un = max(worst_un, abs(float(np.nanmedian(d[un]))))
            if k > 0 and st.sum() > 100:
                worst_st = max(worst_st, abs(float(np.nanmedian(d[st]))))
    return worst_un, worst_st


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 512 if args.quick else 1024
    t0 = time.perf_counter()
    movie = drifting_movie((n, n), n_frames=8, dose=200.0)
    print(f"# movie {n}^2 x 8 generated in {time.perf_counter() - t0:.1f} s", flush=True)
    ss.gpa_series(movie.frames[:2], movie.pixel_size, reference=movie.reference)  # warm-up
    out = {}

    def run():
        out["res"] = ss.gpa_series(movie.frames, movie.pixel_size, reference=movie.reference)

    t_series = best_time(run, 2)
    res = out["res"]
    g = res.g_vectors.tolist()

    def peer():
        for f in movie.frames:
            ss.gpa(f, movie.pixel_size, g=g, refine=False, reference=movie.reference)

    t_peer = best_time(peer, 2)
    fps, fps_peer = 8 / t_series, 8 / t_peer
    derr = float(np.abs(res.drift - movie.drift).max())
    un, st = _errors(movie, res)
    note = f"{n}x{n}, 8 frames, dose 200, total drift {np.hypot(*movie.drift[-1]):.1f} px"
    for what, value, unit, target in (
        ("drift error {n}^2 (px)", derr, "px", 0.15),
        ("unstrained error {n}^2", un, "strain", 5e-4),
        ("stretched error {n}^2", st, "strain", 5e-4),
    ):
        row = "gpa_series " + what.format(n=n)
        emit(row, value, None, unit, note, target=target, met=value <= target, echo=True)
    emit(
        f"gpa_series frames/s {n}^2 vs plain gpa",
        fps,
        fps_peer,
        "frames/s",
        "peer: ss.gpa per frame, same g, no registration; target >= 2 frames/s at 1024^2",
        higher_is_better=True,
        target=2.0,
        met=fps >= 2.0,
        echo=True,
    )
    print(f"# frames ok: {int(res.frame_ok.sum())}/8; methods {sorted(set(res.quality.method))}")


if __name__ == "__main__":
    main()
