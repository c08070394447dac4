"""What every benchmark script shares: the ``RESULT {json}`` row that ``run_all.py`` collects."""

from __future__ import annotations

import gc
import json
import time


def emit(
    row,
    ours,
    peer,
    unit,
    note,
    *,
    higher_is_better=False,
    target=None,
    met=None,
    echo=False,
):
    """Print (and return) one benchmark row as ``RESULT {json}``.

    ``ratio`` is stemstrain's advantage by the row's own measure: ``ours / peer`` when higher is
    better (throughput, IoU), ``peer / ours`` otherwise (time, error); None without both figures.
    ``echo`` also prints a human-readable line.
    """
    ratio = None
    if ours not in (None, 0) and peer not in (None, 0):
        ratio = ours / peer if higher_is_better else peer / ours
    rec = {"row": row, "stemstrain": ours, "peer": peer, "ratio": ratio, "unit": unit, "note": note}
    if target is not None:
        rec["target"] = target
    if met is not None:
        rec["met"] = bool(met)
    if echo:
        print(
            f"{row:<34} {ours if ours is not None else float('nan'):>12.6g} "
            f"{peer if peer is not None else float('nan'):>12.6g} "
            f"{ratio if ratio is not None else float('nan'):>8.2f}  {unit:<10} {note}"
        )
    print("RESULT " + json.dumps(rec), flush=True)
    return rec


def best_time(fn, repeats: int) -> float:
    """Fastest wall time (s) of ``repeats`` calls of ``fn()``, garbage collected before each."""
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
