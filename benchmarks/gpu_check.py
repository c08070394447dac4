"""GPU check for the CuPy backend: agreement with NumPy and timings (GPA and 4D-STEM).

Run on a machine with CUDA and CuPy (``pip install -e .[gpu]``)::

    python benchmarks/gpu_check.py [--out DIR]

It prints one line per check and writes ``gpu_results.json`` (into ``--out`` or
``$OUT`` when set, else ``benchmarks/``) with the card, the date and the rows, which
``make bench`` shows as "last recorded GPU numbers". Exit 0 when every agreement check
passes, 1 otherwise, 2 when no GPU is available.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or str(HERE))
    parser.add_argument("--skip", default="", help="comma-separated: gpa,fourd")
    args = parser.parse_args(argv)
    try:
        import cupy

        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        print(f"no GPU available ({type(exc).__name__}: {exc})")
        return 2
    if n < 1:
        print("no GPU available")
        return 2
    props = cupy.cuda.runtime.getDeviceProperties(0)
    device = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    rows = []
    ok = True
    checks = []
    if "gpa" not in args.skip:
        from _gpu_gpa import run_gpu_gpa_checks

        checks.append(("gpa", run_gpu_gpa_checks))
    if "fourd" not in args.skip:
        from _gpu_fourd import run_gpu_fourd_checks

        checks.append(("fourd", run_gpu_fourd_checks))
    for name, fn in checks:
        try:
            res = fn()
        except Exception as exc:
            res = [
                {
                    "row": f"{name} failed",
                    "value": None,
                    "unit": "",
                    "note": f"{type(exc).__name__}: {exc}",
                    "passed": False,
                }
            ]
        for r in res:
            print(json.dumps(r), flush=True)
            ok &= bool(r.get("passed", False))  # a row that does not say it passed did not
        rows.extend(res)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "device": device,
        "cupy": cupy.__version__,
        "rows": rows,
    }
    (out / "gpu_results.json").write_text(json.dumps(payload, indent=2))
    print(f"wrote {out / 'gpu_results.json'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
