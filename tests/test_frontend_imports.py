"""Front-ends (the batch, the CLI, the napari plugin) call only public stemstrain functions.

Every ``import`` of every file in ``stemstrain/batch``, ``stemstrain/cli.py`` and
``plugins/`` is parsed (ast); a module path that reaches into a private module
(``_name``) of stemstrain outside the importing front-end's own package is a defect.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from import_graph import ROOT, imported_modules, is_private, own_package

#: top-level helper modules that are infrastructure, not science (STYLE: every array
#: operation goes through stemstrain/_backend.py; the CLI asks it whether CuPy runs)
_INFRASTRUCTURE = {"stemstrain._backend", "stemstrain._lazy"}  # _lazy: the lazy-table helper


def _files() -> list[Path]:
    out = sorted((ROOT / "stemstrain" / "batch").rglob("*.py"))
    out.append(ROOT / "stemstrain" / "cli.py")
    out += sorted((ROOT / "plugins").rglob("*.py"))
    return out


def private_imports(path: Path) -> list[str]:
    """Imported module paths of ``path`` that name a private stemstrain module elsewhere."""
    package = own_package(path)
    bad = []
    for line, mod in imported_modules(path):
        parts = mod.split(".")
        if parts[0] != "stemstrain":
            continue
        if tuple(parts[: len(package)]) == package and package[:1] == ("stemstrain",):
            continue  # its own sub-package (stemstrain/batch importing batch._steps)
        private = [i for i, p in enumerate(parts) if i > 0 and is_private(p)]
        if not private:
            continue
        module = ".".join(parts[: private[0] + 1])  # up to the first private module
        if module not in _INFRASTRUCTURE:
            bad.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    return sorted(set(bad), key=lambda b: (int(b.split(":")[1]), b))


def test_checker_catches_private_imports(tmp_path: Path) -> None:
    """The checker flags each form of a private import (negative control)."""
    src = (
        "from stemstrain.fourd._disks import estimate_probe\n"
        "import stemstrain.geometric_phase._core\n"
        "from stemstrain.eels import _ratio\n"
        "from ..io._readers import ALL_EXTENSIONS\n"
        "from ._steps import STEPS\n"
        "from stemstrain.fourd import find_disks\n"
        "from ..errors import ConfigError\n"
    )
    pkg = ROOT / "stemstrain" / "batch" / "_probe_checker.py"
    try:
        pkg.write_text(src, encoding="utf-8")
        bad = private_imports(pkg)
    finally:
        pkg.unlink()
    assert [b.split(": ")[1] for b in bad] == [
        "stemstrain.fourd._disks",
        "stemstrain.geometric_phase._core",
        "stemstrain.eels._ratio",
        "stemstrain.io._readers",
    ]


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_front_end_imports_only_public_modules(path: Path) -> None:
    """No front-end file imports a private module of another stemstrain sub-package."""
    assert private_imports(path) == []
