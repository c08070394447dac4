"""
GPA strain of a layered oxide
=============================

Geometric phase analysis of the bundled HAADF sample (a LiCoO2-like layered oxide with an O1 band,
a local
bend and an edge dislocation), compared with the generator's analytic strain field.
"""

from pathlib import Path

import numpy as np

import stemstrain as ss

root = Path.cwd()
while not (root / "sample_data").is_dir():  # sphinx-gallery runs from docs/examples
    root = root.parent
img = ss.load(root / "sample_data" / "haadf_layered_oxide.hspy")
res = ss.gpa(img, reference=(0, 192, 720, 912))
print(res.g_vectors)

# %%
# Compare with the analytic truth (stored on a 4-px grid).
truth = np.load(root / "sample_data" / "truth" / "haadf_layered_oxide_strain.npz")
step = int(truth["step_px"])
e_nn = res.e_nn[::step, ::step]
ok = np.isfinite(e_nn) & np.isfinite(truth["e_nn"])
print(f"median |e_nn - truth| = {np.median(np.abs(e_nn[ok] - truth['e_nn'][ok])):.1e}")

# %%
# The maps, in the layer frame (normal = (003)).
res.plot()

# %%
# Dislocation cores from the phase singularities.
print(ss.find_dislocations(res))
