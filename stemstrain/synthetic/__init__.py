"""Synthetic data with analytic ground truth (used by tests, benchmarks and sample data).

* :func:`layered_oxide` - HAADF image of a LiCoO2-like layered oxide: TM columns as
  Gaussians at positions displaced by analytic fields, weak O columns, optional TM on
  Li sites, bending, O1 bands, twins, dislocations, Poisson noise.
* :mod:`.fields` - displacement fields (uniform strain, strain step, ripple, edge
  dislocation) with exact displacement gradients.
* :func:`realistic` - realistic cases with exact truth (slipping bends, ripples, a kink
  band, a particle surface, scan drift, low dose, two grains, an O1 band in a bend,
  JPEG), one :class:`RealisticImage` record each; the per-case functions are
  ``bend_case``, ``ripple_case``, ``kink_case``, ``surface_case``, ``drift_case``,
  ``low_dose_case``, ``grains_case``, ``o1_bend_case``, ``jpeg_case``.
* 4D-STEM, EELS, multi-phase and drifting-series generators live in ``_fourd.py``,
  ``_eels.py``, ``_phases.py`` and ``_series.py`` (``drifting_movie``), loaded on first use.
"""

from . import fields
from ._lattice import SyntheticLattice, layered_oxide, render_columns
from ._realistic import CASES, RealisticImage, column_crb, score_columns
from ._realistic import bend as bend_case
from ._realistic import jpeg as jpeg_case
from ._realistic import low_dose as low_dose_case
from ._realistic import o1_bend as o1_bend_case
from ._realistic import ripple as ripple_case
from ._realistic_cases import drift as drift_case
from ._realistic_cases import grains as grains_case
from ._realistic_cases import kink as kink_case
from ._realistic_cases import realistic
from ._realistic_cases import surface as surface_case

__all__ = [
    "CASES",
    "RealisticImage",
    "SyntheticLattice",
    "bend_case",
    "column_crb",
    "drift_case",
    "fields",
    "grains_case",
    "jpeg_case",
    "kink_case",
    "layered_oxide",
    "low_dose_case",
    "o1_bend_case",
    "realistic",
    "render_columns",
    "ripple_case",
    "score_columns",
    "surface_case",
]


def __getattr__(name):  # lazily expose the 4D-STEM, EELS, phase and series generators
    import importlib

    if name.startswith("_"):  # probes such as hasattr(m, "_emd_hook") must not import
        raise AttributeError(name)  # (emdfile iterates sys.modules while probing)

    for mod in ("._fourd", "._eels", "._phases", "._series"):
        try:
            m = importlib.import_module(mod, __name__)
        except ImportError:
            continue
        if hasattr(m, name):
            return getattr(m, name)
    raise AttributeError(name)
