"""Issue 15 acceptance on real EELS: absolute O/TM (no reference region) against 3 +- 10 %.

Default cases (../shared/data): the LSMO/STO line scan (O/Mn on positions 4-9, O/Ti on 0-2,
each without and with its low loss) and the single SrTiO3 spectrum (O/Ti). Each row prints the
default ``o_tm_ratio`` result, its 1 sigma, whether the truth lies within 2 sigma, the warnings
and MET / NOT MET against ``truth +- 10 %`` at every position.

Another file (e.g. a held-back line scan of known composition) can be checked the same way::

    python benchmarks/eels_real_acceptance.py --spectrum scan.hspy [--low-loss ll.hspy] \
        --tm Mn --positions 3:20 --truth 3

Numbers are deterministic (no timing): the machine load does not matter.
"""

from __future__ import annotations

import sys as _sys
from functools import partial
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parent))
import argparse
import warnings

import _common
import numpy as np

from stemstrain.eels import o_tm_ratio

emit = partial(_common.emit, higher_is_better=False)
DATA = (_Path(__file__).resolve().parent.parent / ".." / "shared" / "data").resolve()
SCAN = "usnistgov-hyperspy_tutorial__05EELS__LSMO_STO_linescan.hdf5"
LOW = "usnistgov-hyperspy_tutorial__05EELS__LSMO_STO_linescan_low_loss.hdf5"
STO = "SciFiDatasets__DMReader_EELS_STO.dm3"


def _load(path):
    import hyperspy.api as hs

    path = _Path(path)
    kw = {"file_format": "HSPY"} if path.suffix in (".hdf5", ".hspy") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hs.load(path, **kw)


def _positions(text: str | None):
    if text is None:
        return ()
    lo, hi = (int(v) for v in text.split(":"))
    return slice(lo, hi)


def check(label, spectrum, tm, positions, truth, low_loss=None, cross_section="hydrogenic"):
    """One acceptance row: O/TM at ``positions`` vs ``truth`` +- 10 %."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = o_tm_ratio(spectrum, tm=tm, low_loss=low_loss, cross_section=cross_section)
    ratio = np.atleast_1d(np.asarray(res.ratio, dtype=float)[positions]).ravel()
    sigma = np.atleast_1d(np.asarray(res.uncertainty, dtype=float)[positions]).ravel()
    err = ratio / truth - 1.0
    met = bool(np.all(np.isfinite(err)) and np.all(np.abs(err) <= 0.10))
    covered = float(np.mean(np.abs(ratio - truth) <= 2 * sigma))
    notes = sorted({str(w.message)[:60] for w in caught if str(w.message).startswith("spectrum:")})
    note = (
        f"O/{tm} {np.nanmin(ratio):.2f}-{np.nanmax(ratio):.2f} (error {100 * np.nanmin(err):+.0f}"
        f"..{100 * np.nanmax(err):+.0f} %), sigma {np.nanmin(sigma):.2f}-{np.nanmax(sigma):.2f}, "
        f"truth within 2 sigma at {100 * covered:.0f} %, finite {np.isfinite(ratio).sum()}/"
        f"{ratio.size}" + (f"; warns: {' | '.join(notes)}" if notes else "")
    )
    emit(
        label,
        float(np.nanmedian(np.abs(err))),
        None,
        "median |rel. error|",
        note,
        target=f"{truth:g} +- 10 % at every position",
        met=met,
    )
    print(f"# {label:<40} {'MET' if met else 'NOT MET':<8} {note}")
    return met


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spectrum", help="core-loss file (default: the shared cases)")
    ap.add_argument("--low-loss", help="matching low-loss file")
    ap.add_argument("--tm", default="Mn")
    ap.add_argument("--positions", help="navigation slice lo:hi of known composition")
    ap.add_argument("--truth", type=float, default=3.0, help="known O/TM there")
    ap.add_argument(
        "--cross-section",
        default="hydrogenic",
        choices=("hydrogenic", "dirac-slater"),
        help="continuum model (o_tm_ratio cross_section=; default the library default)",
    )
    args = ap.parse_args()
    run = partial(check, cross_section=args.cross_section)
    tag = "" if args.cross_section == "hydrogenic" else f" [{args.cross_section}]"
    if args.spectrum:
        sig = _load(args.spectrum)
        pos = _positions(args.positions)
        run(f"O/{args.tm} {_Path(args.spectrum).name}{tag}", sig, args.tm, pos, args.truth)
        if args.low_loss:
            low = _load(args.low_loss)
            run(f"O/{args.tm} + low loss{tag}", sig, args.tm, pos, args.truth, low)
        return 0
    if not (DATA / SCAN).exists():
        print(f"# {DATA} not present: nothing to check")
        return 0
    scan, low, sto = _load(DATA / SCAN), _load(DATA / LOW), _load(DATA / STO)
    run(f"LSMO scan O/Mn, LSMO 4-9{tag}", scan, "Mn", slice(4, 10), 3.0)
    run(f"LSMO scan O/Mn + low loss{tag}", scan, "Mn", slice(4, 10), 3.0, low)
    run(f"LSMO scan O/Ti, STO 0-2{tag}", scan, "Ti", slice(0, 3), 3.0)
    run(f"LSMO scan O/Ti + low loss{tag}", scan, "Ti", slice(0, 3), 3.0, low)
    run(f"SrTiO3 dm3 O/Ti{tag}", sto, "Ti", (), 3.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
