"""Phase maps of cathode particles: layered / O1 / spinel / rock salt / C2/m, surface layers, voids.

Public: :func:`phase_map` -> :class:`PhaseResult`, :data:`PHASE_CODES`,
:func:`phase_key_figures`, and the structure models :func:`structure`, :func:`project`,
:func:`phase_templates` (ASE, :mod:`._structures`).
"""

from __future__ import annotations

from .._lazy import attach_table

# public name -> private module, imported on first access
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

__getattr__, __dir__, __all__ = attach_table(__name__, _LAZY)
