"""EELS benchmark: O/TM maps of a 256 x 256 x 2048 spectrum image vs exspy ``multifit``.

Rows (measured in this run on the same synthetic spectrum image, O K + Co L2,3):

* wall time of ``o_tm_ratio(method="integration")`` on the whole 256 x 256 x 2048 image
  (target <= 10 s on 2 cores) vs exspy's ``EELSModel.multifit`` (power law + hydrogenic
  O K and Co L3 edges) timed on an 8 x 8 subset and scaled to the full image (the model
  setup is not timed, only ``multifit``);
* agreement: mean O/Co over the subset, integration vs multifit (target within 2 %), and
  the median per-pixel |difference|;
* accuracy against the generator's truth (median |relative error| per pixel) of both.

Usage: ``python benchmarks/bench_eels.py [--quick]`` (quick: 64 x 64 image).
"""

from __future__ import annotations

import sys as _sys
from functools import partial
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parent))
import _common  # noqa: E402

import argparse
import time
import warnings

import numpy as np

from stemstrain.eels import o_tm_ratio
from stemstrain.synthetic._eels import eels_spectrum_image


emit = partial(_common.emit, higher_is_better=False)


def multifit_subset(sig, tm="Co"):
    """exspy multifit on a sub-image; returns (ratio map, seconds for multifit only)."""
    import hyperspy.api as hs
    from exspy.components import EELSCLEdge

    m = sig.create_model(auto_background=False, auto_add_edges=False, GOS="hydrogenic")
    bg = hs.model.components1D.PowerLaw()
    o, t = EELSCLEdge("O_K", GOS="hydrogenic"), EELSCLEdge(f"{tm}_L3", GOS="hydrogenic")
    m.extend([bg, o, t])
    m.set_signal_range(467.0, 824.0)  # same windows as the integration method
    bg.estimate_parameters(sig, 467.0, 519.0, only_current=False)
    t0 = time.perf_counter()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        m.multifit(iterpath="serpentine", show_progressbar=False)
    secs = time.perf_counter() - t0
    return o.intensity.map["values"] / t.intensity.map["values"], secs


def main(quick: bool = False) -> list[dict]:
    n = 64 if quick else 256
    t0 = time.perf_counter()
    sig, truth = eels_spectrum_image(shape=(n, n), n_channels=2048, scale_ev=0.25, seed=1)
    gen_s = time.perf_counter() - t0
    print(f"# generated {sig.data.shape} {sig.data.dtype} ({sig.data.nbytes / 2**20:.0f} MiB) "
          f"in {gen_s:.1f} s")
    o_tm_ratio(sig.inav[:4, :4])  # warm-up: imports, exspy cross-sections
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        res = o_tm_ratio(sig)
        times.append(time.perf_counter() - t0)
    ours_s = min(times)
    r0, c0 = n // 2, n // 2
    sub = sig.inav[c0 : c0 + 8, r0 : r0 + 8]
    peer_ratio, peer_sub_s = multifit_subset(sub)
    peer_s = peer_sub_s * (n * n) / 64
    ours_sub = res.ratio[r0 : r0 + 8, c0 : c0 + 8].astype(float)
    truth_sub = truth["ratio"][r0 : r0 + 8, c0 : c0 + 8]
    mean_diff = abs(np.mean(ours_sub) / np.mean(peer_ratio) - 1)
    pix_diff = float(np.median(np.abs(ours_sub / peer_ratio - 1)))
    ok = np.isfinite(truth["ratio"])
    err_ours = float(np.median(np.abs(res.ratio[ok] / truth["ratio"][ok] - 1)))
    err_peer = float(np.median(np.abs(peer_ratio / truth_sub - 1)))
    rows = [
        emit(f"O/Co map {n}x{n}x2048, wall time", round(ours_s, 2), round(peer_s, 1), "s",
             f"exspy multifit timed on 8x8 ({peer_sub_s:.2f} s) and scaled x{n * n // 64}",
             target="<= 10 s and >= 100x", met=ours_s <= 10 and peer_s / ours_s >= 100),
        emit("subset mean O/Co, integration vs multifit", round(float(np.mean(ours_sub)), 4),
             round(float(np.mean(peer_ratio)), 4), "O/Co",
             f"|difference| {100 * mean_diff:.2f} %; median per-pixel {100 * pix_diff:.1f} %",
             target="within 2 %", met=mean_diff <= 0.02),
        emit("median |rel. error| vs truth", round(err_ours, 4), round(err_peer, 4), "fraction",
             "stemstrain on the whole map, multifit on the 8x8 subset (per pixel)"),
    ]
    print(f"# {'row':45s} {'stemstrain':>12s} {'exspy':>12s} {'ratio':>8s}")
    for r in rows:
        ratio = f"{r['ratio']:.0f}x" if r["ratio"] else "-"
        print(f"# {r['row']:45s} {r['stemstrain']!s:>12s} {r['peer']!s:>12s} {ratio:>8s}")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 x 64 image")
    main(parser.parse_args().quick)
