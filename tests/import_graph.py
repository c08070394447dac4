"""What a Python file imports, read with ast (no import is run): the architecture tests' helper."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def own_package(path: Path) -> tuple[str, ...]:
    """Dotted package of ``path`` (e.g. ('stemstrain', 'batch'); plugins/ is a root too)."""
    rel = path.relative_to(ROOT / "plugins" if "plugins" in path.parts else ROOT)
    return tuple(rel.parts[:-1])


def _absolute(node: ast.ImportFrom, package: tuple[str, ...]) -> str:
    if node.level == 0:
        return node.module or ""
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *(node.module.split(".") if node.module else [])])


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, dotted module)`` of every import in ``path`` (see :func:`_imported`)."""
    return list(_imported(path, path.stat().st_mtime_ns))


@lru_cache(maxsize=None)
def _imported(path: Path, _mtime: int) -> tuple[tuple[int, str], ...]:
    """``(line, dotted module)`` of every import in ``path``, relative ones made absolute.

    ``from a.b import c`` gives ``a.b`` and ``a.b.c`` (``c`` may be a module): so
    ``from stemstrain import synthetic`` and ``from ..eels import _ratio`` are both seen.
    Imports inside functions count; strings (doctests) do not.
    """
    package = own_package(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = _absolute(node, package)
            out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names if a.name != "*"]
    return tuple(sorted(set(out)))


def is_private(part: str) -> bool:
    """``_name`` but not ``__name__``."""
    return part.startswith("_") and not part.startswith("__")
