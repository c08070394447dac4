"""
Oxygen loss from EELS: O/TM ratio profile
=========================================

The O/Co atomic ratio along the bundled line scan, from the surface inwards, with 1σ uncertainties.
"""

import json
from pathlib import Path

import stemstrain as ss

root = Path.cwd()
while not (root / "sample_data").is_dir():
    root = root.parent
eels = ss.load(root / "sample_data" / "eels_linescan.hspy")
ratio = ss.o_tm_ratio(eels, tm="Co", reference=slice(-5, None), reference_ratio=2.0)
for d, r, s in list(zip(ratio.distance_nm, ratio.ratio, ratio.uncertainty, strict=True))[:5]:
    print(f"{d:5.2f} nm  O/Co = {r:.2f} ± {s:.2f}")
print(json.loads((root / "sample_data" / "truth" / "eels_linescan.json").read_text())["note"])
ratio.plot()
