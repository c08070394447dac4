"""stemstrain: strain, curvature, stacking and O/TM maps of layered battery cathodes.

``import stemstrain as ss`` is light: the public functions below are imported on
first use (no HyperSpy, Qt, napari or py4DSTEM at import time).

Public API (see API.md): :func:`load`, :func:`gpa`, :func:`find_dislocations`,
:func:`find_columns`, :func:`layer_curvature`, :func:`stacking_map`,
:func:`li_layer_occupancy`, :func:`o_tm_ratio`, :func:`fourd_strain`.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    CalibrationError as CalibrationError,
)
from .errors import (
    ConfigError as ConfigError,
)
from .errors import (
    CorruptFileError as CorruptFileError,
)
from .errors import (
    InputShapeError as InputShapeError,
)
from .errors import (
    NoLatticeError as NoLatticeError,
)
from .errors import (
    StemstrainError as StemstrainError,
)
from .errors import (
    UnsupportedFormatError as UnsupportedFormatError,
)

__version__ = "0.1.0"

# public name -> "module:attribute", imported on first access
_LAZY = {
    "load": "stemstrain.io:load",
    "describe": "stemstrain.io:describe",
    "gpa": "stemstrain.gpa:gpa",
    "GPAResult": "stemstrain.gpa:GPAResult",
    "find_dislocations": "stemstrain.gpa:find_dislocations",
    "propose_reference": "stemstrain.gpa:propose_reference",
    "find_columns": "stemstrain.lattice:find_columns",
    "layer_curvature": "stemstrain.lattice:layer_curvature",
    "CurvatureResult": "stemstrain.lattice:CurvatureResult",
    "layer_spacing": "stemstrain.lattice:layer_spacing",
    "stacking_map": "stemstrain.lattice:stacking_map",
    "StackingResult": "stemstrain.lattice:StackingResult",
    "li_layer_occupancy": "stemstrain.lattice:li_layer_occupancy",
    "OccupancyResult": "stemstrain.lattice:OccupancyResult",
    "o_tm_ratio": "stemstrain.eels:o_tm_ratio",
    "RatioResult": "stemstrain.eels:RatioResult",
    "tm_valence": "stemstrain.eels:tm_valence",
    "ValenceResult": "stemstrain.eels:ValenceResult",
    "valence_calibration": "stemstrain.eels:valence_calibration",
    "o_prepeak_ratio": "stemstrain.eels:o_prepeak_ratio",
    "PrePeakResult": "stemstrain.eels:PrePeakResult",
    "mlls_fit": "stemstrain.eels:mlls_fit",
    "MLLSResult": "stemstrain.eels:MLLSResult",
    "fourd_strain": "stemstrain.fourd:fourd_strain",
    "FourDStrainResult": "stemstrain.fourd:FourDStrainResult",
    "read_results": "stemstrain.results:read_results",
    "write_results": "stemstrain.results:write_results",
    "Calibration": "stemstrain.results:Calibration",
    "find_g_vectors": "stemstrain.gpa:find_g_vectors",
    "trace_layers": "stemstrain.lattice:trace_layers",
    "occupancy_profile": "stemstrain.lattice:occupancy_profile",
    "ratio_profile": "stemstrain.eels:ratio_profile",
    "correlate_with_curvature": "stemstrain.eels:correlate_with_curvature",
    "mean_profile": "stemstrain.eels:mean_profile",
    "eels_key_figures": "stemstrain.eels:eels_key_figures",
    "find_disks": "stemstrain.fourd:find_disks",
    "DiskDetection": "stemstrain.fourd:DiskDetection",
    "DetectorGeometry": "stemstrain.fourd:DetectorGeometry",
}

__all__ = sorted(
    [
        *_LAZY,
        "StemstrainError",
        "UnsupportedFormatError",
        "CorruptFileError",
        "CalibrationError",
        "InputShapeError",
        "NoLatticeError",
        "ConfigError",
        "__version__",
    ]
)


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'stemstrain' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
