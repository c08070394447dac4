"""`make bench`: run every benchmark side by side with its peer, print one table, write RESULTS.md.

Each ``benchmarks/bench_<area>.py`` is run in its own subprocess (so peak memory and
imports don't leak between rows) and prints lines ``RESULT {json}`` with keys
``row, stemstrain, peer, ratio, unit, note`` (and optionally ``target``, ``met``).
This script collects them, prints one table and writes ``benchmarks/RESULTS.md``
with the machine, versions, date and figures. The last recorded GPU numbers
(``benchmarks/gpu_results.json``, written by ``gpu_check.py`` on a GPU machine)
are appended with their date and card.

Usage: ``python benchmarks/run_all.py [--only gpa,lattice] [--quick]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "import",
    "gpa",
    "latticemap",
    "lattice",
    "stacking",
    "phases",
    "phase_grains",
    "series",
    "fourd",
    "eels",
]
TIMEOUT_S = {
    "import": 120,
    "gpa": 300,
    "latticemap": 300,
    "lattice": 300,
    "stacking": 180,
    "phases": 180,
    "phase_grains": 300,
    "series": 300,
    "fourd": 360,
    "eels": 300,
}


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in [
        "stemstrain",
        "numpy",
        "scipy",
        "scikit-image",
        "hyperspy",
        "exspy",
        "py4DSTEM",
        "atomap",
        "kemstem",
        "dask",
    ]:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        import psutil

        mem = f", {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}"


def run_one(area: str, quick: bool) -> tuple[list[dict], float, str]:
    script = HERE / f"bench_{area}.py"
    if not script.exists():
        return [], 0.0, "missing"
    cmd = [sys.executable, str(script)] + (["--quick"] if quick else [])
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=TIMEOUT_S.get(area, 300), cwd=HERE.parent
        )
    except subprocess.TimeoutExpired:
        return [], time.perf_counter() - t0, "timeout"
    rows = []
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            try:
                row = json.loads(line[len("RESULT ") :])
            except json.JSONDecodeError:
                continue
            row.setdefault("area", area)
            rows.append(row)
    status = (
        "ok"
        if proc.returncode == 0
        else f"exit {proc.returncode}: " + " ".join((proc.stderr.strip().splitlines() or [""])[-1:])
    )
    return rows, time.perf_counter() - t0, status


HIGHER_IS_BETTER = ("patterns/s", "patterns/CPU-s", "iou", "spectra/s", "columns/s")


def advantage(row: dict):
    """stemstrain's advantage over the peer, > 1 = stemstrain better (faster, smaller error...).

    Lower is better for times, memory and errors (peer / stemstrain); higher is better for
    throughputs and IoU (stemstrain / peer). None when there is no peer figure.
    """
    ours, peer = row.get("stemstrain"), row.get("peer")
    if not isinstance(ours, (int, float)) or not isinstance(peer, (int, float)):
        return None
    if ours <= 0 or peer <= 0:
        return None
    unit = str(row.get("unit", "")).lower()
    higher = any(unit.startswith(u.lower()) for u in HIGHER_IS_BETTER)
    if unit in ("o/co", "modules", ""):
        return None  # agreement rows: the ratio is not a merit
    text = f"{row.get('row', '')} {row.get('note', '')}".lower()
    if "fft2" in text or "= the target" in text:
        return None  # the "peer" is a yardstick (one FFT, the target), not a tool
    return ours / peer if higher else peer / ours


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated areas (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    parser.add_argument("--no-write", action="store_true", help="don't write RESULTS.md")
    args = parser.parse_args(argv)
    areas = [a for a in ORDER if not args.only or a in args.only.split(",")]
    t_all = time.perf_counter()
    all_rows, statuses = [], {}
    for area in areas:
        print(f"== {area} ...", flush=True)
        rows, secs, status = run_one(area, args.quick)
        statuses[area] = (status, secs)
        all_rows.extend(rows)
        for r in rows:
            print(
                f"   {r.get('row')}: stemstrain {_fmt(r.get('stemstrain'))} | peer "
                f"{_fmt(r.get('peer'))} | ratio {_fmt(r.get('ratio'))} {r.get('unit', '')}",
                flush=True,
            )
        print(f"   ({status}, {secs:.0f} s)", flush=True)
    total = time.perf_counter() - t_all
    header = (
        "| area | row | stemstrain | peer | unit | advantage (>1: stemstrain better) "
        "| row's own ratio | target | note |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    for r in all_rows:
        adv = advantage(r)
        cells = [_fmt(r.get(k)) for k in ("area", "row", "stemstrain", "peer", "unit")]
        cells += [f"{adv:.3g}x" if adv else "-"]
        cells += [_fmt(r.get(k)) for k in ("ratio", "target", "note")]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    table = "\n".join(lines)
    print()
    print(table)
    print(f"\ntotal {total:.0f} s")
    if args.no_write:
        return 0
    gpu = HERE / "gpu_results.json"
    gpu_txt = "No GPU numbers recorded yet: run `python benchmarks/gpu_check.py` on a CUDA machine."
    if gpu.exists():
        data = json.loads(gpu.read_text())
        gl = ["| row | value | unit | target | note |", "|---|---|---|---|---|"]
        for r in data.get("rows", []):
            gl.append(
                "| "
                + " | ".join(_fmt(r.get(k)) for k in ("row", "value", "unit", "target", "note"))
                + " |"
            )
        gpu_txt = f"Recorded {data.get('date')} on {data.get('device')}:\n\n" + "\n".join(gl)
    st = "\n".join(f"- {a}: {s} ({t:.0f} s)" for a, (s, t) in statuses.items())
    vers = ", ".join(f"{k} {v}" for k, v in _versions().items())
    text = f"""# stemstrain benchmark results

Written by `make bench` (`benchmarks/run_all.py`{" --quick" if args.quick else ""}) on {dt.date.today().isoformat()}.
Machine: {_machine()}. Versions: {vers}.
Every row is measured side by side in the same run. "advantage" is stemstrain's factor over
the peer (> 1 = stemstrain faster, smaller, more accurate or with higher IoU); "row's own
ratio" is the ratio each benchmark prints by its own definition (e.g. GPA cost in
FFT-equivalents = stemstrain time / one fft2). Peers that are slow are measured on subsets and
scaled, as each row's note says. Timings are wall-clock on a shared machine unless the row says
CPU time.

{table}

Total wall time: {total:.0f} s.

Runs:
{st}

## GPU (CuPy)

{gpu_txt}
"""
    (HERE / "RESULTS.md").write_text(text)
    print(f"wrote {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
