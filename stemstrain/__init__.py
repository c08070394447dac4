"""stemstrain: strain, curvature, stacking and O/TM maps of layered battery cathodes.

``import stemstrain as ss`` is light: the public functions below are imported on
first use (no HyperSpy, Qt, napari or py4DSTEM at import time).

Public API (see API.md): :func:`load`, :func:`gpa`, :func:`find_dislocations`,
:func:`find_columns`, :func:`layer_curvature`, :func:`stacking_map`,
:func:`li_layer_occupancy`, :func:`o_tm_ratio`, :func:`fourd_strain`.
"""

from __future__ import annotations

import lazy_loader as _lazy

__version__ = "0.1.0"

# the public names are declared once, in __init__.pyi (read by lazy_loader and by type checkers);
# each is imported on first access, so `import stemstrain` stays light
__getattr__, __dir__, _stub_all = _lazy.attach_stub(__name__, __file__)
__all__ = sorted({*_stub_all, "__version__"})
