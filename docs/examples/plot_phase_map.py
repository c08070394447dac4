"""
Phase map of a cathode particle
===============================

A generated particle with a layered core, a spinel shell and a rock-salt surface: phase labels, the
thickness of each surface layer along the surface, and nano-voids.
"""

import stemstrain as ss
from stemstrain.synthetic import cathode_particle

p = cathode_particle(shape=(512, 512), seed=0)
res = ss.phase_map(p.image, p.pixel_size)
print(res.fractions)
print(res.surface_layers.groupby("phase")["thickness_nm"].describe())
print(res.voids)
res.plot()
