"""Phase maps of cathode particles: layered / O1 / spinel / rock salt / C2/m, surface layers, voids.

Public: :func:`phase_map` -> :class:`PhaseResult`, :data:`PHASE_CODES`,
:func:`phase_key_figures`, and the structure models :func:`structure`, :func:`project`,
:func:`phase_templates` (ASE, :mod:`._structures`).
"""

from __future__ import annotations

import lazy_loader as _lazy

# public name -> private module; lazy_loader imports the module on first access
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

_by_module: dict[str, list[str]] = {}
for _name, _mod in _LAZY.items():
    _by_module.setdefault(_mod.lstrip("."), []).append(_name)
__getattr__, __dir__, __all__ = _lazy.attach(__name__, submod_attrs=_by_module)
