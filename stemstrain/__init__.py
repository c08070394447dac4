"""stemstrain: strain, curvature, stacking and O/TM maps of layered battery cathodes.

``import stemstrain as ss`` is light: the public functions below are imported on
first use (no HyperSpy, Qt, napari or py4DSTEM at import time).

Public API (see API.md): :func:`load`, :func:`gpa`, :func:`find_dislocations`,
:func:`find_columns`, :func:`layer_curvature`, :func:`stacking_map`,
:func:`li_layer_occupancy`, :func:`o_tm_ratio`, :func:`fourd_strain`.
"""

from __future__ import annotations

import importlib
import sys
import types
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
    DataValueError as DataValueError,
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
    "principal_strain": "stemstrain._strain:principal_strain",
    "gpa": "stemstrain.gpa:gpa",
    "GPAResult": "stemstrain.gpa:GPAResult",
    "find_dislocations": "stemstrain.gpa:find_dislocations",
    "propose_reference": "stemstrain.gpa:propose_reference",
    "lattice_map": "stemstrain.lattice:lattice_map",
    "LatticeMap": "stemstrain.lattice:LatticeMap",
    "find_columns": "stemstrain.lattice:find_columns",
    "layer_curvature": "stemstrain.lattice:layer_curvature",
    "CurvatureResult": "stemstrain.lattice:CurvatureResult",
    "layer_spacing": "stemstrain.lattice:layer_spacing",
    "stacking_map": "stemstrain.lattice:stacking_map",
    "StackingResult": "stemstrain.lattice:StackingResult",
    "li_layer_occupancy": "stemstrain.lattice:li_layer_occupancy",
    "OccupancyResult": "stemstrain.lattice:OccupancyResult",
    "phase_map": "stemstrain.phases:phase_map",
    "PhaseResult": "stemstrain.phases:PhaseResult",
    "phase_key_figures": "stemstrain.phases:phase_key_figures",
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
    "fourd_probe": "stemstrain.fourd:fourd_probe",
    "gpa_series": "stemstrain.series:gpa_series",
    "GPASeriesResult": "stemstrain.series:GPASeriesResult",
    "series_apply": "stemstrain.series:series_apply",
    "SeriesResult": "stemstrain.series:SeriesResult",
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
    "BraggVectors": "stemstrain.fourd:BraggVectors",
    "fourd_phases": "stemstrain.fourd:fourd_phases",
    "FourDPhasesResult": "stemstrain.fourd:FourDPhasesResult",
    "PhaseLibrary": "stemstrain.fourd:PhaseLibrary",
    "phase_fractions": "stemstrain.fourd:phase_fractions",
    "calibrate_detector": "stemstrain.fourd:calibrate_detector",
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
        "DataValueError",
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


class _Package(types.ModuleType):
    """The ``stemstrain`` module: ``stemstrain.gpa`` is always the GPA *function*.

    The sub-package of the same name would otherwise replace it (the import system
    binds ``stemstrain.gpa`` to the sub-package when it is first imported), so that
    ``help(ss.gpa)`` showed the package. The property wins over that binding; the
    sub-package stays reachable as ``sys.modules["stemstrain.gpa"]`` and through
    ``from stemstrain.gpa import ...``.
    """

    @property
    def gpa(self) -> Any:
        """:func:`stemstrain.gpa.gpa` (geometric phase analysis)."""
        from .gpa._api import gpa as function  # noqa: PLC0415

        return function

    @gpa.setter
    def gpa(self, value: Any) -> None:  # the import system binding the sub-package
        pass


sys.modules[__name__].__class__ = _Package
