"""Geometric phase analysis (GPA): strain, rotation, layer-frame maps and dislocation cores.

Public: :func:`gpa`, :class:`GPAResult`, :func:`find_dislocations`,
:func:`propose_reference`, :func:`find_g_vectors`. One code path over NumPy or CuPy
(``backend=``); see ``docs/notes/gpa.md`` for the algorithm and measured accuracy.

The sub-package is named ``geometric_phase`` so that it cannot clash with the function
``stemstrain.gpa`` (``help(ss.gpa)`` shows the GPA signature in any import order).
"""

from __future__ import annotations

from ._api import gpa
from ._dislocations import find_dislocations
from ._gvectors import find_g_vectors
from ._reference import propose_reference
from ._result import GPAResult

__all__ = ["gpa", "GPAResult", "find_dislocations", "propose_reference", "find_g_vectors"]
