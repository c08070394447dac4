"""Geometric phase analysis (GPA): strain, rotation, layer-frame maps and dislocation cores.

Public: :func:`gpa`, :class:`GPAResult`, :func:`find_dislocations`,
:func:`propose_reference`, :func:`find_g_vectors`. One code path over NumPy or CuPy
(``backend=``); see ``docs/notes/gpa.md`` for the algorithm and measured accuracy.

The sub-package shares its name with the function ``stemstrain.gpa``: once
``stemstrain.gpa`` (the package) is imported, Python binds the *module* to the
attribute ``stemstrain.gpa``. The module is therefore made callable (it forwards to
:func:`gpa`), so ``ss.gpa(image, ...)`` works whatever was imported first.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from ._api import gpa
from ._dislocations import find_dislocations
from ._gvectors import find_g_vectors
from ._reference import propose_reference
from ._result import GPAResult

__all__ = ["gpa", "GPAResult", "find_dislocations", "propose_reference", "find_g_vectors"]


class _CallableModule(types.ModuleType):
    """``stemstrain.gpa`` the module, callable as :func:`stemstrain.gpa.gpa`."""

    def __call__(self, *args: Any, **kwargs: Any) -> GPAResult:
        return gpa(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
