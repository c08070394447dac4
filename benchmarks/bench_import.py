"""Import time of ``stemstrain`` (target < 1 s) against ``import numpy``, in fresh subprocesses.

Usage: ``python benchmarks/bench_import.py [--quick] [--repeats N]``

Each figure is the median wall time of N fresh ``python -c "import X"`` processes
(interpreter start-up included, as a user sees it). The baseline is ``import numpy`` run
in the same loop, interleaved, so machine load hits both alike. Also reports which heavy
packages (hyperspy, napari, py4DSTEM, matplotlib, Qt) ``import stemstrain`` pulls in
(must be none) and the time of the first ``ss.load`` import chain (``stemstrain.io`` +
HyperSpy) for information.

Prints a table and one ``RESULT {json}`` line per row for ``benchmarks/run_all.py``;
``ratio`` = peer time / stemstrain time (> 1: importing stemstrain is faster than numpy).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

HEAVY = [
    "hyperspy",
    "napari",
    "py4DSTEM",
    "matplotlib",
    "PyQt6",
    "PyQt5",
    "exspy",
    "dask",
    "skimage",
    "pandas",
    "h5py",
    "rsciio",
]
TARGET_S = 1.0


def wall(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def heavy_modules() -> list[str]:
    code = (
        "import sys, json, stemstrain; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 5")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    n = args.repeats or (3 if args.quick else 5)
    wall("import stemstrain, numpy")  # warm the file cache (.pyc) once, not timed
    ours, base, python, io_chain = [], [], [], []
    for _ in range(n):
        ours.append(wall("import stemstrain"))
        base.append(wall("import numpy"))
        python.append(wall("pass"))
    for _ in range(max(1, n // 3)):
        io_chain.append(wall("import stemstrain as ss; ss.load; import hyperspy.api"))
    t_ours, t_base = statistics.median(ours), statistics.median(base)
    t_py, t_io = statistics.median(python), statistics.median(io_chain)
    heavy = heavy_modules()
    rows = [
        {
            "row": "import stemstrain (s, median of %d fresh processes)" % n,
            "stemstrain": t_ours,
            "peer": t_base,
            "ratio": t_base / t_ours,
            "unit": "s",
            "note": "peer = import numpy in the same loop; python start-up alone %.3f s" % t_py,
            "target": TARGET_S,
            "met": t_ours < TARGET_S,
        },
        {
            "row": "heavy modules pulled in by import stemstrain",
            "stemstrain": len(heavy),
            "peer": 0,
            "ratio": None,
            "unit": "modules",
            "note": ", ".join(heavy) or "none of " + " ".join(HEAVY),
            "met": not heavy,
        },
        {
            "row": "first ss.load import chain (stemstrain.io + hyperspy.api) (s)",
            "stemstrain": t_io,
            "peer": None,
            "ratio": None,
            "unit": "s",
            "note": "information: paid once, on the first load",
        },
    ]
    print(f"{'row':<62} {'stemstrain':>11} {'peer':>9} {'ratio':>7}")
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        peer = "-" if r["peer"] is None else f"{r['peer']:.3f}"
        print(f"{r['row']:<62} {r['stemstrain']:>11.3f} {peer:>9} {ratio:>7}")
    print(
        f"import stemstrain {'<' if t_ours < TARGET_S else '>='} {TARGET_S} s target; "
        f"heavy modules at import: {heavy or 'none'}"
    )
    for r in rows:
        print("RESULT " + json.dumps(r))
    return 0 if (t_ours < TARGET_S and not heavy) else 1


if __name__ == "__main__":
    sys.exit(main())
