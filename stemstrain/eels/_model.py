"""Cross-check method: an exspy EELS model (power law + hydrogenic edges) fitted per spectrum."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..errors import StemstrainError
from ._input import SpectrumInput

__all__ = ["model_parts"]


def _as_eels(signal: Any) -> Any:
    """Return the input as an exspy EELSSpectrum (a Signal1D is converted, not modified)."""
    import exspy

    if isinstance(signal, exspy.signals.EELSSpectrum):
        return signal
    out = signal.deepcopy()
    out.set_signal_type("EELS")
    return out


def model_parts(
    inp: SpectrumInput,
    windows: dict,
    tm: str,
    *,
    fine_structure: bool = False,
    low_loss: Any = None,
) -> tuple[dict, dict, float]:
    """Edge intensities and variances from ``EELSModel.multifit``.

    The model is ``PowerLaw + EELSCLEdge("O_K") + EELSCLEdge("<tm>_L3")`` (hydrogenic GOS,
    microscope parameters from the metadata), fitted from the start of the lower edge's background
    window to the end of the higher edge's integration window with the Levenberg-Marquardt optimizer
    (the power-law exponent is not linear, so ``optimizer="lstsq"`` does not apply).
    With ``low_loss`` the model is convolved with it (exspy's ``ll=``), instead of
    Fourier-ratio deconvolving the data first (which collapses the TM edge on real data).
    The edge intensities are proportional to the number of atoms, so their ratio is
    O/TM directly; their standard deviations come from the fit covariance.
    """
    import hyperspy.api as hs
    from exspy.components import EELSCLEdge

    signal = _as_eels(inp.signal)
    signal.set_microscope_parameters(
        beam_energy=inp.beam_energy_kev,
        convergence_angle=inp.convergence_mrad,
        collection_angle=inp.collection_mrad,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ll = None if low_loss is None else _as_eels(low_loss)
        m = signal.create_model(
            low_loss=ll, auto_background=False, auto_add_edges=False, GOS="hydrogenic"
        )
    bg = hs.model.components1D.PowerLaw()
    edges = {
        "o": EELSCLEdge("O_K", GOS="hydrogenic"),
        "tm": EELSCLEdge(f"{tm}_L3", GOS="hydrogenic"),
    }
    m.extend([bg, edges["o"], edges["tm"]])
    first = min(windows.values(), key=lambda w: w["onset"])
    start = min(w["pre"][0] for w in windows.values())
    stop = max(w["int"][1] for w in windows.values())
    m.set_signal_range(start, stop)
    bg.estimate_parameters(signal, first["pre"][0], first["pre"][1], only_current=False)
    if fine_structure:
        for edge in edges.values():
            edge.fine_structure_active = True
            edge.fine_structure_width = 20.0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        m.multifit(iterpath="serpentine", show_progressbar=False)
    parts = {}
    for key, edge in edges.items():
        if inp.nav_shape == ():  # a single spectrum: the fit's current values
            values = np.asarray(edge.intensity.value, dtype=float)
            std = np.asarray(
                np.nan if edge.intensity.std is None else edge.intensity.std, dtype=float
            )
        else:
            values = np.asarray(edge.intensity.map["values"], dtype=float).reshape(inp.nav_shape)
            std = np.asarray(edge.intensity.map["std"], dtype=float).reshape(inp.nav_shape)
        if not np.isfinite(std).any():
            raise StemstrainError(
                "method='model': the fit returned no uncertainties; use method='integration'"
            )
        parts[key] = values
        parts[f"var_{key}"] = std**2
    return parts, {"O": 1.0, tm: 1.0}, 1.0
