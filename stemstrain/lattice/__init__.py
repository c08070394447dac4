"""Real-space lattice analysis: atom columns, TM layers, spacing, curvature, stacking, occupancy.

Public functions (API.md): :func:`find_columns`, :func:`layer_curvature`,
:func:`layer_spacing`, :func:`stacking_map`, :func:`li_layer_occupancy`.
Implementation modules are private: ``_columns`` (detection + batched Gaussian
refinement), ``_layers`` (linking columns into TM layers), ``_spacing``,
``_curvature``, ``_stacking``, ``_occupancy``.
"""

from __future__ import annotations

from .._lazy import attach_table

# public name -> private module, imported on first access
_LAZY = {
    "find_columns": "._columns",
    "trace_layers": "._layers",
    "layer_spacing": "._spacing",
    "SpacingResult": "._spacing",
    "layer_curvature": "._curvature",
    "CurvatureResult": "._curvature",
    "stacking_map": "._stacking",
    "StackingResult": "._stacking",
    "li_layer_occupancy": "._occupancy",
    "OccupancyResult": "._occupancy",
    "occupancy_profile": "._occupancy",
    "lattice_map": "._map",
    "LatticeMap": "._map",
    "calibrate_scale": "._calibrate",
    "ScaleCalibration": "._calibrate",
}

__getattr__, __dir__, __all__ = attach_table(__name__, _LAZY)
