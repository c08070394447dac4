"""Ionisation cross-sections used by the EELS analyses (exspy hydrogenic GOS, offline).

Two continuum models (``model=``): ``"hydrogenic"`` (default) and ``"dirac-slater"``, the
hydrogenic dsigma/dE rescaled at every energy by the ratio of the Dirac-Slater atomic
optical oscillator strength (xraylib's subshell photoionisation cross-sections [2]_, [3]_,
converted by ``sigma_photo = 4 pi^2 alpha a0^2 R df/dE``) to the hydrogenic one at
q -> 0. The momentum-transfer dependence stays hydrogenic; the energy dependence and
the relative strength of the subshells (L3, L2, L1 with their own onsets, the delayed
maximum of the 3d metals' 2p -> epsilon d continuum) are the Dirac-Slater atom's. Both are
atomic continua: white lines and solid-state near-edge structure are not in either (the
analyses give them free columns).

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
.. [2] T. Schoonjans et al., The xraylib library for X-ray-matter interactions. Recent
   developments, Spectrochim. Acta B 66, 776 (2011). doi:10.1016/j.sab.2011.09.011
.. [3] J. H. Scofield, Theoretical photoionization cross sections from 1 to 1500 keV,
   LLNL report UCRL-51326 (1973); xraylib's subshell data extend them to the thresholds.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import StemstrainError

__all__ = [
    "edge_cross_section",
    "partial_cross_section",
    "l_edge_onsets",
    "oscillator_strength_ratio",
    "CROSS_SECTIONS",
    "SYSTEMATIC",
]

#: relative 1 sigma of the hydrogenic cross-section of a shell (K, L) beyond the ELNES
SYSTEMATIC = {"K": 0.05, "L": 0.15}
#: the continuum models ``edge_cross_section(model=...)`` offers
CROSS_SECTIONS = ("hydrogenic", "dirac-slater")
#: photoabsorption cross-section of unit oscillator strength per eV: 4 pi^2 alpha a0^2 R (cm^2 eV)
_SIGMA_PER_DFDE = 1.0976e-16
_Z = {"C": 6, "N": 7, "O": 8, "F": 9, "Ti": 22, "V": 23, "Cr": 24, "Mn": 25, "Fe": 26}
_Z.update({"Co": 27, "Ni": 28, "Cu": 29, "Zn": 30})


@functools.lru_cache(maxsize=64)
def _component(subshell: str, e0_kev: float, alpha_mrad: float, beta_mrad: float, scale_ev: float):
    from exspy.components import EELSCLEdge

    comp = EELSCLEdge(subshell, GOS="hydrogenic")
    comp.set_microscope_parameters(
        E0=e0_kev, alpha=alpha_mrad, beta=beta_mrad, energy_scale=scale_ev
    )
    return comp


@functools.lru_cache(maxsize=32)
def _ratio_table(subshell: str) -> tuple[np.ndarray, np.ndarray]:
    """Dirac-Slater / hydrogenic optical oscillator strength on a 1 eV grid above the onset."""
    import xraylib as xrl  # a dependency (pyproject); imported here: only this model uses it
    from exspy._misc.eels.hydrogenic_gos import HydrogenicGOS

    element, shell = subshell.split("_")
    if element not in _Z or shell not in ("K", "L3"):
        raise StemstrainError(
            f"cross_section='dirac-slater': no table for {subshell!r} (K edges of "
            f"{', '.join(k for k, z in _Z.items() if z < 10)}; L2,3 of the 3d metals)"
        )
    gos = HydrogenicGOS(subshell)
    onset = float(gos.onset_energy)
    shells = [xrl.K_SHELL] if shell == "K" else [xrl.L3_SHELL, xrl.L2_SHELL, xrl.L1_SHELL]
    z = _Z[element]
    # align the atom's first edge with the tabulated onset the hydrogenic edge uses
    shift = onset - 1e3 * xrl.EdgeEnergy(z, shells[0])
    grid = onset + np.arange(0.5, 2000.0, 1.0)
    f_ds = np.zeros_like(grid)
    for sh in shells:
        edge = 1e3 * xrl.EdgeEnergy(z, sh) + shift
        for i in np.flatnonzero(grid > edge + 0.05):
            f_ds[i] += xrl.CSb_Photo_Partial(z, sh, (grid[i] - shift) / 1e3)
    f_ds *= 1e-24 / _SIGMA_PER_DFDE  # barn -> cm^2 -> df/dE (1/eV)
    f_hyd = np.array([gos.gosfunc(float(e), 1e-6) for e in grid])  # q -> 0 limit
    return grid, np.where(f_hyd > 0, f_ds / np.where(f_hyd > 0, f_hyd, 1.0), 0.0)


def oscillator_strength_ratio(subshell: str, energy_ev: np.ndarray) -> np.ndarray:
    """Dirac-Slater over hydrogenic optical oscillator strength df/dE at ``energy_ev``.

    0 below the onset. The hydrogenic df/dE is exspy's GOS at q a0 -> 0 (its own units:
    for K shells the ratio is ~0.5 at every energy, a constant that cancels in O/TM).
    """
    grid, ratio = _ratio_table(subshell)
    e = np.asarray(energy_ev, dtype=float)
    return np.interp(e, grid, ratio, left=0.0, right=float(ratio[-1]))


def edge_cross_section(
    subshell: str,
    energy_ev: np.ndarray,
    *,
    beam_energy_kev: float,
    convergence_mrad: float,
    collection_mrad: float,
    model: str = "hydrogenic",
) -> np.ndarray:
    """Differential cross-section dsigma/dE (barn/eV) of one edge.

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
    if model not in CROSS_SECTIONS:
        raise StemstrainError(
            f"cross_section={model!r}: not one of {', '.join(map(repr, CROSS_SECTIONS))}"
        )
    energy = np.asarray(energy_ev, dtype=float)
    ratio = oscillator_strength_ratio(subshell, energy) if model == "dirac-slater" else 1.0
    scale = float(np.median(np.diff(energy))) if energy.size > 1 else 1.0
    comp = _component(
        subshell,
        float(beam_energy_kev),
        float(convergence_mrad),
        float(collection_mrad),
        round(scale, 9),
    )
    return np.asarray(comp.function(energy), dtype=float) * ratio


def partial_cross_section(
    subshell: str,
    energy_ev: np.ndarray,
    window: tuple[float, float],
    *,
    beam_energy_kev: float,
    convergence_mrad: float,
    collection_mrad: float,
    model: str = "hydrogenic",
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
        model=model,
    )
    return float(sig.sum() * np.median(np.diff(energy_ev)))


def l_edge_onsets(element: str) -> tuple[float, float]:
    """Tabulated L3 and L2 onsets (eV) of a transition metal (exspy's element table)."""
    from exspy._misc.elements import elements_db

    props = elements_db[element]["Atomic_properties"]["Binding_energies"]
    return float(props["L3"]["onset_energy (eV)"]), float(props["L2"]["onset_energy (eV)"])
