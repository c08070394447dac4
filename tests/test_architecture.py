"""Architecture rules of #18 that must stay true (each with a negative control).

* no module of the library or the napari plugin is over 800 lines;
* ``help(ss.gpa)`` shows the GPA function (signature and docstring) in any import order;
* no analysis module imports ``stemstrain.synthetic`` (the generators keep their own truth);
* no module imports a private module of another sub-package: shared helpers live in the
  top-level private modules (``stemstrain/_strain.py``, ``_regions.py``, ...) or are public.
  The front-ends' stricter rule (public API only) is ``test_frontend_imports.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from import_graph import ROOT, imported_modules, is_private, own_package

MAX_LINES = 800
LIBRARY = ROOT / "stemstrain"
#: front-ends and generators that may import the generators: the demo session of the
#: batch is generated when no sample_data/ is installed
_MAY_IMPORT_SYNTHETIC = ("stemstrain/synthetic/", "stemstrain/batch/_demo.py")


def _py_files(*roots: Path) -> list[Path]:
    return sorted(p for r in roots for p in r.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# --------------------------------------------------------------------------- size
def long_modules(paths: list[Path]) -> list[str]:
    """``path: n lines`` of every file over MAX_LINES lines."""
    out = []
    for p in paths:
        n = len(p.read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES:
            out.append(f"{_rel(p)}: {n} lines")
    return out


def test_no_module_over_800_lines() -> None:
    assert long_modules(_py_files(LIBRARY, ROOT / "plugins")) == []
    probe = LIBRARY / "_probe_long.py"  # negative control
    try:
        probe.write_text("x = 1\n" * (MAX_LINES + 1), encoding="utf-8")
        assert long_modules([probe]) == [f"stemstrain/_probe_long.py: {MAX_LINES + 1} lines"]
    finally:
        probe.unlink()


# ------------------------------------------------------------------ help(ss.gpa)
_HELP = """
import pydoc
{first}
import stemstrain as ss
flat = " ".join(pydoc.render_doc(ss.gpa, renderer=pydoc.plaintext).split())
print(flat.count("gpa(image") == 1 and ", *, g" in flat, "Geometric phase analysis: strain" in flat,
      type(ss.gpa).__name__)
"""


@pytest.mark.parametrize(
    "first",
    [
        "",
        "import stemstrain.geometric_phase",
        "from stemstrain import geometric_phase",
        "import stemstrain.lattice, stemstrain.batch",
    ],
    ids=["plain", "subpackage-first", "from-import-first", "other-packages-first"],
)
def test_help_of_gpa_is_the_function_in_any_import_order(first: str) -> None:
    """A fresh interpreter per order: ss.gpa is the function, help() shows its signature/doc."""
    code = _HELP.format(first=first)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "True", "function"]  # signature, docstring, a function


# ------------------------------------------------------------- synthetic imports
def synthetic_imports(path: Path) -> list[str]:
    """``line: module`` of each import of stemstrain.synthetic in ``path``."""
    return [
        f"{line}: {mod}"
        for line, mod in imported_modules(path)
        if mod == "stemstrain.synthetic" or mod.startswith("stemstrain.synthetic.")
    ]


def _analysis_files() -> list[Path]:
    return [p for p in _py_files(LIBRARY) if not _rel(p).startswith(_MAY_IMPORT_SYNTHETIC)]


def test_checker_sees_every_form_of_a_synthetic_import() -> None:
    """Negative control: each import form of the generators is caught."""
    src = (
        "from ..synthetic import layered_oxide\n"
        "from .. import synthetic\n"
        "import stemstrain.synthetic._lattice\n"
        "def f():\n"
        "    from stemstrain.synthetic import fields\n"
        "from stemstrain import gpa\n"
        '"""\n>>> from stemstrain.synthetic import layered_oxide\n"""\n'
    )
    probe = LIBRARY / "lattice" / "_probe_synthetic.py"
    try:
        probe.write_text(src, encoding="utf-8")
        lines = sorted({int(b.split(":")[0]) for b in synthetic_imports(probe)})
    finally:
        probe.unlink()
    assert lines == [1, 2, 3, 5]


def test_no_analysis_module_imports_the_generators() -> None:
    files = _analysis_files()
    assert len(files) > 50  # the whole library is scanned
    bad = [f"{_rel(p)}:{b}" for p in files for b in synthetic_imports(p)]
    assert bad == []


# ------------------------------------------------- private imports across packages
def cross_package_private(path: Path) -> list[str]:
    """``path: module`` for each private module of another sub-package ``path`` imports."""
    package = own_package(path)
    if len(package) < 2:
        return []  # top-level modules (cli.py wiring the batch commands, results.py ...)
    out = set()
    for _, mod in imported_modules(path):
        parts = mod.split(".")
        if parts[0] != "stemstrain" or len(parts) < 3 or is_private(parts[1]):
            continue  # top-level private modules (stemstrain._strain ...) are shared ones
        if package[:2] == tuple(parts[:2]):
            continue  # its own sub-package
        private = [i for i, p in enumerate(parts) if i >= 2 and is_private(p)]
        if private:
            out.add(f"{_rel(path)}: {'.'.join(parts[: private[0] + 1])}")
    return sorted(out)


def test_checker_sees_a_private_cross_package_import() -> None:
    src = (
        "from ..geometric_phase._api import reference_mask\n"
        "from ..plot import _series\n"
        "from .._regions import region_mask\n"
        "from ._result import GPASeriesResult\n"
        "from ..phases import PHASE_CODES\n"
    )
    probe = LIBRARY / "series" / "_probe_private.py"
    try:
        probe.write_text(src, encoding="utf-8")
        bad = cross_package_private(probe)
    finally:
        probe.unlink()
    assert bad == [
        "stemstrain/series/_probe_private.py: stemstrain.geometric_phase._api",
        "stemstrain/series/_probe_private.py: stemstrain.plot._series",
    ]


def test_no_private_import_across_sub_packages() -> None:
    """None at all (session 4 moved the last four: docs/notes/duplicates.md)."""
    files = _py_files(LIBRARY)
    assert len(files) > 50  # the whole library is scanned
    assert sorted(b for p in files for b in cross_package_private(p)) == []
