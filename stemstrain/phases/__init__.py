"""Phase maps of cathode particles: layered / O1 / spinel / rock salt / C2/m, surface layers, voids.

Public: :func:`phase_map` -> :class:`PhaseResult`, :data:`PHASE_CODES`,
:func:`phase_key_figures`, and the structure models :func:`structure`, :func:`project`,
:func:`phase_templates` (ASE, :mod:`._structures`).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "phase_map": "._api",
    "PhaseResult": "._api",
    "PHASE_CODES": "._api",
    "phase_key_figures": "._api",
    "structure": "._structures",
    "project": "._structures",
    "phase_templates": "._structures",
    "ProjectedCell": "._structures",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'stemstrain.phases' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod, __name__), name)
    globals()[name] = value
    return value
