"""Ionisation cross-sections used by the EELS analyses (exspy hydrogenic GOS, offline).

This is the only place where the analyses get their edge shapes. The synthetic-data
generator (``stemstrain.synthetic._eels``) has its own, independent implementation of
Egerton's hydrogenic formulas, so tests compare two codes, not a function with itself.

Accuracy (what the quantification assumes): Egerton's hydrogenic K-shell cross-sections
agree with Hartree-Slater values and measured standards to about 5 %, the L-shell ones
(SIGMAL with his empirical correction) to about 10-15 % once the integration starts
beyond the white lines [1]_. :data:`SYSTEMATIC` holds the relative 1 sigma used for the
absolute (reference-free) O/TM ratio.

References
----------
.. [1] R. F. Egerton, Electron Energy-Loss Spectroscopy in the Electron Microscope, 3rd ed.,
   Springer (2011), sec. 4.5. doi:10.1007/978-1-4419-9583-4
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["edge_cross_section", "partial_cross_section", "l_edge_onsets", "SYSTEMATIC"]

#: relative 1 sigma of the hydrogenic cross-section of a shell (K, L) beyond the ELNES
SYSTEMATIC = {"K": 0.05, "L": 0.15}


@functools.lru_cache(maxsize=64)
def _component(subshell: str, e0_kev: float, alpha_mrad: float, beta_mrad: float, scale_ev: float):
    from exspy.components import EELSCLEdge

    comp = EELSCLEdge(subshell, GOS="hydrogenic")
    comp.set_microscope_parameters(
        E0=e0_kev, alpha=alpha_mrad, beta=beta_mrad, energy_scale=scale_ev
    )
    return comp


def edge_cross_section(
    subshell: str,
    energy_ev: np.ndarray,
    *,
    beam_energy_kev: float,
    convergence_mrad: float,
    collection_mrad: float,
) -> np.ndarray:
    """Differential hydrogenic cross-section dsigma/dE (barn/eV) of one edge.

    Parameters
    ----------
    subshell : str
        ``"O_K"`` or ``"<TM>_L3"`` (exspy's hydrogenic L3 holds L3 + L2 + L1).
    energy_ev : ndarray
        Channel centres in eV.
    beam_energy_kev, convergence_mrad, collection_mrad : float
        Microscope parameters (semi-angles; exspy applies the effective-angle correction).

    Returns
    -------
    ndarray
        dsigma/dE at ``energy_ev`` (0 below the onset).
    """
    energy = np.asarray(energy_ev, dtype=float)
    scale = float(np.median(np.diff(energy))) if energy.size > 1 else 1.0
    comp = _component(
        subshell,
        float(beam_energy_kev),
        float(convergence_mrad),
        float(collection_mrad),
        round(scale, 9),
    )
    return np.asarray(comp.function(energy), dtype=float)


def partial_cross_section(
    subshell: str,
    energy_ev: np.ndarray,
    window: tuple[float, float],
    *,
    beam_energy_kev: float,
    convergence_mrad: float,
    collection_mrad: float,
) -> float:
    """Partial cross-section sigma(beta, Delta) in barn over the channels of ``window``.

    ``sum_j dsigma/dE(E_j) dE`` for the channels ``E_j`` in ``[window[0], window[1])``, so
    that the discretisation matches the integrated counts.
    """
    sel = (energy_ev >= window[0]) & (energy_ev < window[1])
    sig = edge_cross_section(
        subshell,
        energy_ev[sel],
        beam_energy_kev=beam_energy_kev,
        convergence_mrad=convergence_mrad,
        collection_mrad=collection_mrad,
    )
    return float(sig.sum() * np.median(np.diff(energy_ev)))


def l_edge_onsets(element: str) -> tuple[float, float]:
    """Tabulated L3 and L2 onsets (eV) of a transition metal (exspy's element table)."""
    from exspy._misc.elements import elements_db

    props = elements_db[element]["Atomic_properties"]["Binding_energies"]
    return float(props["L3"]["onset_energy (eV)"]), float(props["L2"]["onset_energy (eV)"])
