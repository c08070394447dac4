"""lattice_map speed and accuracy benchmarks (issue 14): prints pass/fail against the targets.

Speed (ratios in units of one ``numpy.fft.fft2`` of the same image in complex128, measured in
the same run, so machine load cancels to first order):

- ``lattice_map`` on 2048^2 and 4096^2: target <= 1 FFT-equivalent (``gpa(image)`` with the
  lattice map inside, target <= 4 at 4096^2, is a row of ``bench_gpa.py``).

Accuracy (``--full``): every realistic generator case at 1024^2 (stemstrain.synthetic
``realistic``): crystalline mask, layer normal vs the exact layer angle, grains.

Run: ``python benchmarks/bench_latticemap.py [--quick] [--full]``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_time, emit
from bench_gpa import PX, lattice_image

import stemstrain as ss


def speed(n: int, repeats: int) -> None:
    img = lattice_image(n)
    x128 = img.astype(np.complex128)
    np.fft.fft2(x128)
    t_fft = best_time(lambda: np.fft.fft2(x128), repeats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ss.lattice_map(img, PX)  # warm-up
        t_lm = best_time(lambda: ss.lattice_map(img, PX), repeats)
        m = ss.lattice_map(img, PX)
    ratio = t_lm / t_fft
    emit(
        f"lattice_map {n}x{n} (FFT-equivalents)",
        t_lm,
        t_fft,
        "s",
        f"window {m.window_px} px, step {m.step_px}, {m.crystalline.size} windows; "
        f"ratio {ratio:.2f} (target <= 1)",
        target=1.0,
        met=ratio <= 1.0,
        echo=True,
    )


def accuracy(n: int) -> None:
    from scipy import ndimage as ndi

    from stemstrain.synthetic import CASES, realistic

    for case in CASES:
        rec = realistic(case, shape=(n, n))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            m = ss.lattice_map(rec.image, rec.pixel_size)
        iy = np.rint(m.grid_y).astype(int)
        ix = np.rint(m.grid_x).astype(int)
        frac = ndi.uniform_filter(rec.truth["crystal"].astype(float), m.window_px)[np.ix_(iy, ix)]
        clear = (frac > 0.9) | (frac < 0.1)
        acc = float((m.crystalline == (frac > 0.5))[clear].mean())
        emit(
            f"lattice_map {case} mask accuracy",
            acc,
            0.95,
            "fraction",
            "clear windows (not cut by a surface/boundary)",
            higher_is_better=True,
            target=0.95,
            met=acc >= 0.95,
            echo=True,
        )
        ang = np.nan_to_num(rec.truth["layer_angle_deg"], nan=0.0)
        spread = ndi.maximum_filter(ang, m.window_px) - ndi.minimum_filter(ang, m.window_px)
        inside = ndi.uniform_filter(rec.truth["crystal"].astype(float), m.window_px) > 0.99
        sel = m.lattice_2d & (inside & (spread < 8.0))[np.ix_(iy, ix)]
        th = np.radians(ang[np.ix_(iy, ix)])
        o_true = np.mod(np.arctan2(-np.cos(th), -np.sin(th)), np.pi)
        err = np.degrees(np.abs(np.mod(m.orientation - o_true + np.pi / 2, np.pi) - np.pi / 2))
        p95 = float(np.percentile(err[sel], 95)) if sel.any() else float("nan")
        emit(
            f"lattice_map {case} layer normal p95 (deg)",
            p95,
            0.5,
            "deg",
            f"{int(sel.sum())} windows, away from kink/grain boundaries",
            target=0.5,
            met=p95 < 0.5,
            echo=True,
        )
        big = int((m.grain_table.n_windows >= 0.1 * m.grains.size).sum())
        want = 2 if case in ("grains", "kink") else 1
        emit(
            f"lattice_map {case} grains",
            big,
            want,
            "grains",
            "grains with >= 10 % of windows",
            target=want,
            met=big == want,
            echo=True,
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1024^2 only (smoke run)")
    parser.add_argument("--full", action="store_true", help="also the realistic cases")
    args = parser.parse_args(argv)
    if args.quick:
        speed(1024, 2)
    else:
        speed(2048, 3)
        speed(4096, 2)
    if args.full:
        accuracy(1024)


if __name__ == "__main__":
    main()
