"""
O3 / O1 stacking and Li-layer occupancy
=======================================

Each Li-layer gap classified by the in-plane shift between the TM layers around it, and the TM
intensity on
Li-layer sites (cation mixing).
"""

from pathlib import Path

import stemstrain as ss

root = Path.cwd()
while not (root / "sample_data").is_dir():
    root = root.parent
img = ss.load(root / "sample_data" / "haadf_layered_oxide.hspy")
cols = ss.find_columns(img)
stack = ss.stacking_map(img, columns=cols)
print(stack.fractions)
stack.plot()

# %%
occ = ss.li_layer_occupancy(img, columns=cols)
print(f"median Li-site occupancy {occ.sites['occupancy'].median():.3f}")
