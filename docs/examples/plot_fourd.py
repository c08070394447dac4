"""
4D-STEM strain from Bragg disks
===============================

Strain and rotation over the scan of the bundled 4D-STEM cube, compared with its analytic truth.
"""

from pathlib import Path

import numpy as np

import stemstrain as ss

root = Path.cwd()
while not (root / "sample_data").is_dir():
    root = root.parent
cube = ss.load(root / "sample_data" / "fourd_strain.hspy")
probe = np.load(root / "sample_data" / "fourd_probe.npy")
truth = np.load(root / "sample_data" / "truth" / "fourd_strain.npz")
res = ss.fourd_strain(cube, probe, reference=truth["reference_mask"], progress=False)
err = np.nanmedian(np.abs(res.exx - truth["exx"]))
print(f"median |exx - truth| = {err:.1e}")
res.plot()
