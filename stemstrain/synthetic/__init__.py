"""Synthetic data with analytic ground truth (used by tests, benchmarks and sample data).

* :func:`layered_oxide` - HAADF image of a LiCoO2-like layered oxide: TM columns as
  Gaussians at positions displaced by analytic fields, weak O columns, optional TM on
  Li sites, bending, O1 bands, twins, dislocations, Poisson noise.
* :mod:`.fields` - displacement fields (uniform strain, strain step, ripple, edge
  dislocation) with exact displacement gradients.
* 4D-STEM and EELS generators live in ``_fourd.py`` and ``_eels.py``.
"""

from . import fields
from ._lattice import SyntheticLattice, layered_oxide, render_columns

__all__ = ["SyntheticLattice", "layered_oxide", "render_columns", "fields"]


def __getattr__(name):  # lazily expose the 4D-STEM / EELS generators
    import importlib

    if name.startswith("_"):  # probes such as hasattr(m, "_emd_hook") must not import
        raise AttributeError(name)  # (emdfile iterates sys.modules while probing)

    for mod in ("._fourd", "._eels"):
        try:
            m = importlib.import_module(mod, __name__)
        except ImportError:
            continue
        if hasattr(m, name):
            return getattr(m, name)
    raise AttributeError(name)
