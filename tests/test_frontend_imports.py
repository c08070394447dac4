"""Front-ends (the batch, the CLI, the napari plugin) call only public stemstrain functions.

Every ``import`` of every file in ``stemstrain/batch``, ``stemstrain/cli.py`` and
``plugins/`` is parsed (ast); a module path that reaches into a private module
(``_name``) of stemstrain outside the importing front-end's own package is a defect.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: top-level helper modules that are infrastructure, not science (STYLE: every array
#: operation goes through stemstrain/_backend.py; the CLI asks it whether CuPy runs)
_INFRASTRUCTURE = {"stemstrain._backend", "stemstrain._lazy"}  # _lazy: the lazy-table helper


def _files() -> list[Path]:
    out = sorted((ROOT / "stemstrain" / "batch").rglob("*.py"))
    out.append(ROOT / "stemstrain" / "cli.py")
    out += sorted((ROOT / "plugins").rglob("*.py"))
    return out


def _own_package(path: Path) -> tuple[str, ...]:
    """Dotted package of ``path`` (e.g. ('stemstrain', 'batch'))."""
    rel = path.relative_to(ROOT / "plugins" if "plugins" in path.parts else ROOT)
    return tuple(rel.parts[:-1])


def _absolute(node: ast.ImportFrom, package: tuple[str, ...]) -> str:
    if node.level == 0:
        return node.module or ""
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *(node.module.split(".") if node.module else [])])


def private_imports(path: Path) -> list[str]:
    """Imported module paths of ``path`` that name a private stemstrain module elsewhere."""
    package = _own_package(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    targets: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = _absolute(node, package)
            targets.append((node.lineno, mod))
            # ``from stemstrain.geometric_phase import _core`` imports a private module too
            targets += [
                (node.lineno, f"{mod}.{a.name}")
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            ]
    bad = []
    for line, mod in targets:
        parts = mod.split(".")
        if parts[0] != "stemstrain":
            continue
        if tuple(parts[: len(package)]) == package and package[:1] == ("stemstrain",):
            continue  # its own sub-package (stemstrain/batch importing batch._steps)
        if mod in _INFRASTRUCTURE:
            continue
        if any(p.startswith("_") and not p.startswith("__") for p in parts[1:]):
            bad.append(f"{path.relative_to(ROOT)}:{line}: {mod}")
    return bad


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
