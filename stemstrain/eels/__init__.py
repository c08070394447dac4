"""EELS O/TM quantification: ratio maps and surface-to-interior profiles with 1 sigma.

* :func:`o_tm_ratio` - O/TM atomic ratio of line scans and spectrum images: by default a
  vectorised white-line-aware linear model (hydrogenic continua + free ELNES, absolute
  without a reference region), or window integration / an exspy model fit, optionally
  k-factor calibrated on a reference region.
* :func:`tm_valence` - TM valence from the L2,3 white lines (branching ratio, L3 shift).
* :func:`o_prepeak_ratio` - O K pre-peak / main-edge ratio with 1 sigma.
* :func:`mlls_fit` - reference-spectrum (MLLS) weights and phase fractions with 1 sigma.
* :func:`eels_key_figures` - surface / interior O/TM, valence and pre-peak (batch summary).
* :func:`mean_profile` - mean of a map along an axis with the 1 sigma of the mean.
* :func:`ratio_profile` - O/TM against distance from the particle surface, 1 sigma band.
* :func:`correlate_with_curvature` - O/TM at the points of maximum layer curvature of a
  registered HAADF analysis.

HyperSpy/exspy are imported only inside the functions that need them.
"""

from ._finestructure import MLLSResult, PrePeakResult, mlls_fit, o_prepeak_ratio
from ._profile import correlate_with_curvature, eels_key_figures, mean_profile, ratio_profile
from ._ratio import RatioResult, o_tm_ratio
from ._valence import ValenceCalibration, ValenceResult, tm_valence, valence_calibration

__all__ = [
    "o_tm_ratio",
    "RatioResult",
    "ratio_profile",
    "correlate_with_curvature",
    "tm_valence",
    "ValenceResult",
    "valence_calibration",
    "ValenceCalibration",
    "o_prepeak_ratio",
    "PrePeakResult",
    "mlls_fit",
    "MLLSResult",
    "mean_profile",
    "eels_key_figures",
]
