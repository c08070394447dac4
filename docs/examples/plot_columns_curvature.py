"""
Atom columns and layer curvature
================================

Sub-pixel transition-metal columns, traced into layers, and the curvature of each layer (1/nm).
"""

from pathlib import Path

import numpy as np
import pandas as pd

import stemstrain as ss

root = Path.cwd()
while not (root / "sample_data").is_dir():
    root = root.parent
img = ss.load(root / "sample_data" / "haadf_layered_oxide.hspy")
cols = ss.find_columns(img)
print(f"{len(cols)} columns in {cols['layer'].max() + 1} layers")

# %%
# Position error against the generator's column list (nearest neighbour, px).
truth = pd.read_csv(root / "sample_data" / "truth" / "haadf_layered_oxide_columns.csv")
from scipy.spatial import cKDTree

d, _ = cKDTree(truth[["x", "y"]].to_numpy()).query(cols[["x", "y"]].to_numpy())
print(f"RMS position error {np.sqrt(np.mean(d[d < 2] ** 2)):.3f} px")

# %%
curv = ss.layer_curvature(img, columns=cols)
print("largest |curvature| at (x, y) px:", curv.max_location)
curv.plot()
