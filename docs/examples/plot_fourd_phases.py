"""
4D-STEM phase and orientation map from CIFs
===========================================

A generated two-phase scan (layered LiCoO2 next to spinel LiMn2O4, a sloped boundary and a
strain ramp in each phase) is matched against kinematic templates of both structures;
then each phase's strain is measured relative to its own reference strip.
"""

import numpy as np

import stemstrain as ss
from stemstrain.synthetic._fourd import two_phase_dataset

cube, probe, structures, truth = two_phase_dataset((12, 16))
res = ss.fourd_phases(
    cube, structures, probe=probe, geometry=ss.DetectorGeometry(reciprocal_pixel_size=0.1)
)
print("phase accuracy", float((res.label_map == truth["label_map"]).mean()))
print("fractions", {k: round(v, 3) for k, v in res.fractions().items()})
for name, lp in res.lattice_parameters.items():
    print(f"{name}: a = {lp['a'][0]:.4f} nm, c = {lp['c'][0]:.4f} nm")
lco = ss.fourd_strain(
    cube, probe, reference=truth["reference_masks"][0], phase=(res, "LCO"), progress=False
)
m = truth["label_map"] == 0
print(f"LCO median |exx - truth| = {np.nanmedian(np.abs(lco.exx - truth['exx'])[m]):.1e}")
res.plot()
