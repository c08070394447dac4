"""Type stub of the public API; lazy_loader reads it to import each name on first use."""

from ._strain import (
    principal_strain as principal_strain,
)
from .eels import (
    MLLSResult as MLLSResult,
)
from .eels import (
    PrePeakResult as PrePeakResult,
)
from .eels import (
    RatioResult as RatioResult,
)
from .eels import (
    ValenceResult as ValenceResult,
)
from .eels import (
    correlate_with_curvature as correlate_with_curvature,
)
from .eels import (
    eels_key_figures as eels_key_figures,
)
from .eels import (
    mean_profile as mean_profile,
)
from .eels import (
    mlls_fit as mlls_fit,
)
from .eels import (
    o_prepeak_ratio as o_prepeak_ratio,
)
from .eels import (
    o_tm_ratio as o_tm_ratio,
)
from .eels import (
    ratio_profile as ratio_profile,
)
from .eels import (
    tm_valence as tm_valence,
)
from .eels import (
    valence_calibration as valence_calibration,
)
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
    NotLayeredError as NotLayeredError,
)
from .errors import (
    StemstrainError as StemstrainError,
)
from .errors import (
    UnsupportedFormatError as UnsupportedFormatError,
)
from .fourd import (
    BraggVectors as BraggVectors,
)
from .fourd import (
    DetectorGeometry as DetectorGeometry,
)
from .fourd import (
    DiskDetection as DiskDetection,
)
from .fourd import (
    FourDPhasesResult as FourDPhasesResult,
)
from .fourd import (
    FourDStrainResult as FourDStrainResult,
)
from .fourd import (
    PhaseLibrary as PhaseLibrary,
)
from .fourd import (
    calibrate_detector as calibrate_detector,
)
from .fourd import (
    find_disks as find_disks,
)
from .fourd import (
    fourd_phases as fourd_phases,
)
from .fourd import (
    fourd_probe as fourd_probe,
)
from .fourd import (
    fourd_strain as fourd_strain,
)
from .fourd import (
    phase_fractions as phase_fractions,
)
from .geometric_phase import (
    GPAResult as GPAResult,
)
from .geometric_phase import (
    find_dislocations as find_dislocations,
)
from .geometric_phase import (
    find_g_vectors as find_g_vectors,
)
from .geometric_phase import (
    gpa as gpa,
)
from .geometric_phase import (
    propose_reference as propose_reference,
)
from .io import (
    describe as describe,
)
from .io import (
    load as load,
)
from .lattice import (
    CurvatureResult as CurvatureResult,
)
from .lattice import (
    LatticeMap as LatticeMap,
)
from .lattice import (
    OccupancyResult as OccupancyResult,
)
from .lattice import (
    ScaleCalibration as ScaleCalibration,
)
from .lattice import (
    StackingResult as StackingResult,
)
from .lattice import (
    calibrate_scale as calibrate_scale,
)
from .lattice import (
    find_columns as find_columns,
)
from .lattice import (
    lattice_map as lattice_map,
)
from .lattice import (
    layer_curvature as layer_curvature,
)
from .lattice import (
    layer_spacing as layer_spacing,
)
from .lattice import (
    li_layer_occupancy as li_layer_occupancy,
)
from .lattice import (
    occupancy_profile as occupancy_profile,
)
from .lattice import (
    stacking_map as stacking_map,
)
from .lattice import (
    trace_layers as trace_layers,
)
from .phases import (
    PhaseResult as PhaseResult,
)
from .phases import (
    phase_key_figures as phase_key_figures,
)
from .phases import (
    phase_map as phase_map,
)
from .results import (
    Calibration as Calibration,
)
from .results import (
    read_results as read_results,
)
from .results import (
    write_results as write_results,
)
from .series import (
    GPASeriesResult as GPASeriesResult,
)
from .series import (
    SeriesResult as SeriesResult,
)
from .series import (
    gpa_series as gpa_series,
)
from .series import (
    series_apply as series_apply,
)

__version__: str
__all__: list[str]
