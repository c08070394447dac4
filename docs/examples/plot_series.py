"""
Strain through a drifting movie
===============================

``ss.gpa_series`` on a generated 4-frame movie with sub-pixel drift: the drift is recovered from
the lattice
phase and every frame is measured against one common reference lattice.
"""

import numpy as np

import stemstrain as ss
from stemstrain.synthetic import drifting_movie

m = drifting_movie((256, 256), n_frames=4, dose=200, surface=False)
r = ss.gpa_series(m.frames, m.pixel_size, reference=m.reference)
print("drift error (px):", np.round(np.abs(r.drift - (m.drift - m.drift[0])).max(), 3))
print(r.quality[["frame", "drift_x", "drift_y", "ok"]])
