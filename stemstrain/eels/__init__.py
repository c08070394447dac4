"""EELS O/TM quantification: ratio maps and surface-to-interior profiles with 1 sigma.

* :func:`o_tm_ratio` - O/TM atomic ratio of line scans and spectrum images
  (vectorised power-law background + integration, or an exspy model fit), absolute
  (hydrogenic cross-sections) or k-factor calibrated on a reference region.
* :func:`ratio_profile` - O/TM against distance from the particle surface, 1 sigma band.
* :func:`correlate_with_curvature` - O/TM at the points of maximum layer curvature of a
  registered HAADF analysis.

HyperSpy/exspy are imported only inside the functions that need them.
"""

from ._profile import correlate_with_curvature, ratio_profile
from ._ratio import RatioResult, o_tm_ratio

__all__ = ["o_tm_ratio", "RatioResult", "ratio_profile", "correlate_with_curvature"]
