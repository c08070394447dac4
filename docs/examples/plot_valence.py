"""
Transition-metal valence and the O K pre-peak
=============================================

``ss.tm_valence`` reads the Mn L2,3 white lines (L3/L2 ratio and L3 position, energy axis self-
calibrated on
the O K onset) along a generated line scan that starts in vacuum; ``ss.o_prepeak_ratio`` measures
the O K
pre-peak. Vacuum positions are NaN, not a number.
"""

import numpy as np

import stemstrain as ss
from stemstrain.synthetic._eels import eels_linescan

sig, truth = eels_linescan(tm="Mn", white_lines=True, seed=5, n_channels=2048, scale_ev=0.25)
res = ss.tm_valence(sig, tm="Mn")
inside = slice(truth["surface_index"], None)
print(f"vacuum positions NaN: {bool(np.isnan(res.valence[: truth['surface_index']]).all())}")
print(
    f"median L3/L2 inside {np.nanmedian(res.l3_l2_ratio[inside]):.2f}, "
    f"valence {np.nanmedian(res.valence[inside]):.2f}"
)
res.plot()
