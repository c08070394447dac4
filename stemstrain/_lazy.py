"""Lazy sub-package attributes from a ``{public name: private module}`` table (lazy_loader)."""

from __future__ import annotations

from typing import Any

import lazy_loader


def attach_table(package: str, table: dict[str, str]) -> tuple[Any, Any, list[str]]:
    """``(__getattr__, __dir__, __all__)`` importing ``table[name]`` (".module") on first access."""
    by_module: dict[str, list[str]] = {}
    for name, module in table.items():
        by_module.setdefault(module.lstrip("."), []).append(name)
    return lazy_loader.attach(package, submod_attrs=by_module)
