"""Series through time: drift-corrected GPA of movies and per-frame lattice analyses.

:func:`gpa_series` measures the drift of every frame (coarse registration on lattice-free
content, refined by the GPA phase of the common reference lattice) and runs
:func:`stemstrain.gpa` on each frame with frame 0's reference g and the drift-shifted
reference region. :func:`series_apply` runs any per-frame analysis (curvature, stacking...)
and tabulates its scalar figures against time.
"""

from ._apply import series_apply
from ._gpa_series import gpa_series
from ._register import coarse_drift
from ._result import GPASeriesResult, SeriesResult

__all__ = ["gpa_series", "series_apply", "GPASeriesResult", "SeriesResult", "coarse_drift"]
