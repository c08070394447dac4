"""The GPU check script runs its one code path with xp=numpy (no GPU here)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "_gpu_fourd.py"


def _load():
    spec = importlib.util.spec_from_file_location("_gpu_fourd", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_gpu_checks_run_on_numpy():
    rows = _load().run_gpu_fourd_checks(np, quick=True)
    names = [r["row"] for r in rows]
    assert any("disk detection" in n for n in names)
    assert all(r["passed"] for r in rows), rows
    rate = [r for r in rows if "disk detection" in r["row"]][0]["value"]
    assert rate > 0


@pytest.mark.gpu
def test_gpu_checks_on_cupy():
    pytest.importorskip("cupy")
    rows = _load().run_gpu_fourd_checks(quick=True)
    assert all(r["passed"] for r in rows), rows
