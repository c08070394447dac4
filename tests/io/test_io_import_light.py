"""``import stemstrain`` (and each capability sub-package) stays light: no heavy GUI/IO stacks.

Checked in fresh subprocesses through ``sys.modules`` (not timed: the timing lives in
``benchmarks/bench_import.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

NEVER_AT_IMPORT = [
    "hyperspy",
    "exspy",
    "rsciio",
    "napari",
    "py4DSTEM",
    "matplotlib",
    "PyQt6",
    "PyQt5",
    "qtpy",
    "vispy",
    "dask",
    "distributed",
    "cupy",
]


def imported_by(module: str) -> list[str]:
    code = (
        f"import sys, json; import {module}; "
        f"print(json.dumps([m for m in {NEVER_AT_IMPORT!r} if m in sys.modules]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["stemstrain", "stemstrain.io", "stemstrain.cli"])
def test_import_pulls_in_no_heavy_package(module):
    assert imported_by(module) == []


def test_import_stemstrain_does_not_even_need_numpy():
    code = "import sys, stemstrain; print('numpy' in sys.modules, len(stemstrain.__all__))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    flag, n = proc.stdout.split()
    assert flag == "False" and int(n) > 10


def test_lazy_attribute_resolves_load_without_loading_hyperspy():
    code = (
        "import sys, stemstrain as ss; f = ss.load; d = ss.describe; "
        "print(f.__module__, d.__module__, 'hyperspy' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["stemstrain.io._load", "stemstrain.io._describe", "False"]
