"""Synthetic core-loss EELS with analytic ground truth (O K + TM L2,3).

Spectra are built from exspy's own hydrogenic model components: a power-law
background ``A E^-r`` plus :class:`exspy.components.EELSCLEdge` ``"O_K"`` and
``"<TM>_L3"`` (hydrogenic GOS, offline), evaluated at the channel centres for the
microscope parameters put into the signal's metadata (beam energy, convergence and
collection semi-angles). Per spectrum::

    counts(E) = Poisson( N [ n_O s_O(E) + n_TM s_TM(E) ] dE + B(E) )

with ``s_X`` the differential cross-section (barn/eV) of exspy's hydrogenic edge,
``n_O / n_TM`` the true O/TM atomic ratio and ``N`` a scale fixed by ``dose``.
Optional white lines (Gaussians on the TM L3 and L2 onsets) make the TM edge look
like a real transition-metal edge, which the hydrogenic model misses: absolute
quantification is then biased and a k-factor calibration is needed. Optional plural
scattering (``thickness`` = t/lambda > 0) convolves every spectrum with a low-loss
distribution (zero-loss Gaussian + Poisson-weighted plasmon Lorentzians), returned
as ``truth["low_loss"]``.

The default line scan is a cycled-LiCoO2 surface: a few vacuum positions, then O/Co
rising from ~1.3 at the surface to 2.0 in the interior (0.5 nm steps).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

__all__ = ["eels_linescan", "eels_spectrum_image", "edge_cross_section", "default_profile"]

#: (beam energy keV, convergence semi-angle mrad, collection semi-angle mrad)
MICROSCOPE = (200.0, 21.0, 30.0)
PLASMON_EV = 24.0
PLASMON_FWHM_EV = 8.0


def _edge_component(subshell: str, e0_kev: float, alpha_mrad: float, beta_mrad: float,
                    scale_ev: float) -> Any:
    """Make an exspy hydrogenic EELSCLEdge set up for the microscope parameters."""
    from exspy.components import EELSCLEdge  # noqa: PLC0415

    comp = EELSCLEdge(subshell, GOS="hydrogenic")
    comp.set_microscope_parameters(E0=e0_kev, alpha=alpha_mrad, beta=beta_mrad,
                                   energy_scale=scale_ev)
    return comp


def edge_cross_section(subshell: str, energy_ev: np.ndarray, *, beam_energy_kev: float = 200.0,
                       convergence_mrad: float = 21.0, collection_mrad: float = 30.0,
                       ) -> tuple[np.ndarray, float]:
    """Differential hydrogenic cross-section of an edge at given energies.

    Parameters
    ----------
    subshell : str
        exspy subshell name, e.g. ``"O_K"`` or ``"Co_L3"`` (the hydrogenic L3 includes L2).
    energy_ev : ndarray
        Energies in eV (channel centres).
    beam_energy_kev, convergence_mrad, collection_mrad : float
        Microscope parameters (keV, mrad semi-angles).

    Returns
    -------
    sigma : ndarray
        dsigma/dE in barn/eV at ``energy_ev`` (0 below the onset).
    onset_ev : float
        The edge onset in eV.
    """
    scale = float(np.median(np.diff(energy_ev))) if len(energy_ev) > 1 else 1.0
    comp = _edge_component(subshell, beam_energy_kev, convergence_mrad, collection_mrad, scale)
    return np.asarray(comp.function(np.asarray(energy_ev, dtype=float)), dtype=float), float(
        comp.onset_energy.value)


def default_profile(distance_nm: np.ndarray) -> np.ndarray:
    """O/TM ratio of an O-depleted surface: 1.3 at the surface, 2.0 in the interior.

    ``2.0 - 0.7 exp(-d / 1.5 nm)`` for d >= 0 (NaN in vacuum, d < 0).
    """
    d = np.asarray(distance_nm, dtype=float)
    out = 2.0 - 0.7 * np.exp(-np.clip(d, 0, None) / 1.5)
    return np.where(d < 0, np.nan, out)


def _white_lines(energy: np.ndarray, tm: str, edge_tm: np.ndarray, onset: float,
                 strength: float) -> np.ndarray:
    """Gaussian L3 and L2 white lines (2:1 areas) added to the TM edge shape (barn/eV)."""
    from exspy._misc.elements import elements_db  # noqa: PLC0415

    props = elements_db[tm]["Atomic_properties"]["Binding_energies"]
    e_l3 = float(props["L3"]["onset_energy (eV)"])
    e_l2 = float(props["L2"]["onset_energy (eV)"])
    # area of the hydrogenic edge in the first 50 eV sets the white-line area
    sel = (energy >= onset) & (energy < onset + 50)
    step = float(np.median(np.diff(energy)))
    area = strength * float(edge_tm[sel].sum() * step)
    width = 1.5  # eV sigma
    g = lambda e0: np.exp(-0.5 * ((energy - e0) / width) ** 2) / (width * np.sqrt(2 * np.pi))  # noqa: E731
    return area * (2.0 / 3.0 * g(e_l3 + 1.5) + 1.0 / 3.0 * g(e_l2 + 1.5))


def _low_loss_kernel(n_channels: int, scale: float, thickness: float) -> tuple[np.ndarray, int]:
    """Normalised low-loss distribution on the core-loss channel grid and the ZLP index."""
    zlp_index = int(round(20.0 / scale))
    e = (np.arange(n_channels) - zlp_index) * scale
    zlp = np.exp(-0.5 * (e / 0.5) ** 2)
    zlp /= zlp.sum()
    gamma = PLASMON_FWHM_EV / 2
    plasmon = (gamma / np.pi) / ((e - PLASMON_EV) ** 2 + gamma**2)
    plasmon /= plasmon.sum()
    out = np.exp(-thickness) * zlp
    term = zlp
    for n in range(1, 8):
        term = np.convolve(term, plasmon)[zlp_index : zlp_index + n_channels]
        term /= max(term.sum(), 1e-300)
        out = out + np.exp(-thickness) * thickness**n / np.prod(range(1, n + 1)) * term
    return out, zlp_index


def _plural(spectra: np.ndarray, kernel: np.ndarray, zlp_index: int) -> np.ndarray:
    """Convolve spectra (..., C) with the low-loss kernel (single -> plural scattering)."""
    from scipy import fft  # noqa: PLC0415

    n = spectra.shape[-1]
    size = fft.next_fast_len(2 * n)
    k = np.roll(np.pad(kernel, (0, size - n)), -zlp_index)
    return fft.irfft(fft.rfft(spectra, size) * fft.rfft(k), size)[..., :n]


def _build_spectra(n_o: np.ndarray, n_tm: np.ndarray, *, tm: str, energy: np.ndarray,  # noqa: PLR0913
                   microscope: tuple[float, float, float], white_lines: bool, dose: float,
                   background_ratio: float, background_r: float) -> tuple[np.ndarray, dict]:
    """Noise-free spectra (..., C) for per-position O and TM amounts (interior O = 1 scale)."""
    e0, alpha, beta = microscope
    s_o, on_o = edge_cross_section("O_K", energy, beam_energy_kev=e0, convergence_mrad=alpha,
                                   collection_mrad=beta)
    s_tm, on_tm = edge_cross_section(f"{tm}_L3", energy, beam_energy_kev=e0,
                                     convergence_mrad=alpha, collection_mrad=beta)
    if white_lines:
        s_tm = s_tm + _white_lines(energy, tm, s_tm, on_tm, strength=1.0)
    step = float(energy[1] - energy[0])
    # the dose is defined on the O K window [onset, onset + 50 eV) even if not recorded
    e_ref = on_o + step * np.arange(int(round(50.0 / step)))
    s_ref, _ = edge_cross_section("O_K", e_ref, beam_energy_kev=e0, convergence_mrad=alpha,
                                  collection_mrad=beta)
    # scale so that 2 O atoms (interior LiCoO2 per TM) give `dose` O K counts in 50 eV
    scale = dose / (2.0 * s_ref.sum() * step)
    # power law with `background_ratio` x the interior O K signal in its first 50 eV
    bg_shape = (energy / on_o) ** (-background_r)
    bg_scale = background_ratio * dose / ((e_ref / on_o) ** (-background_r)).sum()
    edges = scale * step * (n_o[..., None] * s_o + n_tm[..., None] * s_tm)
    present = (n_tm > 0)[..., None] | (n_o > 0)[..., None]
    # vacuum keeps 2 % of the background (dark/stray counts)
    spectra = edges + bg_scale * bg_shape * np.where(present, 1.0, 0.02)
    info = {"onset_o_ev": on_o, "onset_tm_ev": on_tm, "counts_per_atom": scale * step,
            "background_r": background_r, "sigma_o": s_o, "sigma_tm": s_tm}
    return spectra, info


def _make_signal(data: np.ndarray, energy: np.ndarray, microscope: tuple[float, float, float],
                 nav_scale_nm: float, title: str) -> Any:
    """Wrap counts in an EELSSpectrum with calibrated axes and microscope metadata."""
    import exspy  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sig = exspy.signals.EELSSpectrum(data)
    ax = sig.axes_manager.signal_axes[0]
    ax.name, ax.units, ax.scale, ax.offset = "Energy loss", "eV", float(energy[1] - energy[0]), \
        float(energy[0])
    nav_axes = sig.axes_manager.navigation_axes
    for nav, name in zip(nav_axes, ("x", "y")[: len(nav_axes)], strict=True):
        nav.name, nav.units, nav.scale = name, "nm", float(nav_scale_nm)
    e0, alpha, beta = microscope
    sig.set_microscope_parameters(beam_energy=e0, convergence_angle=alpha, collection_angle=beta)
    sig.metadata.General.title = title
    return sig


def _energy_axis(n_channels: int, offset_ev: float, scale_ev: float) -> np.ndarray:
    return offset_ev + scale_ev * np.arange(n_channels)


def eels_linescan(  # noqa: PLR0913 - generator knobs
    n_positions: int = 40,
    o_tm_profile: Callable[[np.ndarray], np.ndarray] | np.ndarray | None = None,
    tm: str = "Co",
    white_lines: bool = False,
    thickness: float = 0.0,
    dose: float = 1.0e5,
    seed: int | None = 0,
    *,
    step_nm: float = 0.5,
    surface_index: int = 4,
    n_channels: int = 1024,
    offset_ev: float = 430.0,
    scale_ev: float = 0.5,
    background_ratio: float = 2.0,
    background_r: float = 3.0,
    microscope: tuple[float, float, float] = MICROSCOPE,
) -> tuple[Any, dict]:
    """Make a core-loss EELS line scan from vacuum into an O-depleted particle.

    Parameters
    ----------
    n_positions : int
        Number of probe positions.
    o_tm_profile : callable or ndarray, optional
        O/TM ratio as a function of distance from the surface (nm), or an array with
        one value per position (NaN = vacuum). Default :func:`default_profile`
        (1.3 at the surface to 2.0 in the interior).
    tm : str
        Transition metal (``"Co"``, ``"Ni"``, ``"Mn"``, ``"Fe"``); its L2,3 edge.
    white_lines : bool
        Add L3/L2 white lines (Gaussians, total area = the hydrogenic edge's first 50 eV).
    thickness : float
        t/lambda; > 0 adds plural scattering and returns the low-loss in the truth.
    dose : float
        Expected O K counts in the first 50 eV above the onset at O/TM = 2.
    seed : int or None
        Poisson-noise seed; ``None`` gives the noise-free expectation.
    step_nm : float
        Distance between positions, nm.
    surface_index : int
        Index of the first position inside the particle (earlier ones are vacuum).
    n_channels, offset_ev, scale_ev : int, float, float
        Energy axis: ``offset_ev + scale_ev * arange(n_channels)`` eV.
    background_ratio : float
        Power-law background in the O K window relative to the interior O K signal.
    background_r : float
        Power-law exponent of the background.
    microscope : tuple of float
        (beam energy keV, convergence semi-angle mrad, collection semi-angle mrad).

    Returns
    -------
    signal : exspy.signals.EELSSpectrum
        Shape (n_positions, n_channels), float32 counts, calibrated axes and metadata.
    truth : dict
        ``ratio`` (O/TM per position, NaN in vacuum), ``distance_nm`` (from the
        surface, negative in vacuum), ``surface_index``, ``n_o``, ``n_tm``,
        ``expected`` (noise-free spectra), ``onset_o_ev``, ``onset_tm_ev`` and, when
        ``thickness > 0``, ``low_loss`` (an EELSSpectrum) and ``thickness``.
    """
    distance = (np.arange(n_positions) - surface_index) * float(step_nm)
    if o_tm_profile is None:
        ratio = default_profile(distance)
    elif callable(o_tm_profile):
        ratio = np.where(distance < 0, np.nan, np.asarray(o_tm_profile(distance), dtype=float))
    else:
        ratio = np.asarray(o_tm_profile, dtype=float)
        if ratio.shape != (n_positions,):
            raise ValueError(f"o_tm_profile must have {n_positions} values, got {ratio.shape}")
    return _finish(ratio, distance, tm=tm, white_lines=white_lines, thickness=thickness,
                   dose=dose, seed=seed, nav_scale=step_nm, energy=_energy_axis(
                       n_channels, offset_ev, scale_ev), background=(background_ratio,
                                                                     background_r),
                   microscope=microscope, title="synthetic EELS line scan",
                   extra={"surface_index": int(surface_index)})


def _finish(ratio: np.ndarray, distance: np.ndarray | None, *, tm: str, white_lines: bool,  # noqa: PLR0913
            thickness: float, dose: float, seed: int | None, nav_scale: float,
            energy: np.ndarray, background: tuple[float, float],
            microscope: tuple[float, float, float], title: str, extra: dict,
            dtype: Any = np.float32) -> tuple[Any, dict]:
    """Spectra for a ratio map, in chunks of spectra (bounded memory), and the truth dict."""
    inside = np.isfinite(ratio)
    n_tm = inside.astype(float)
    n_o = np.where(inside, ratio, 0.0)
    scale_ev = float(energy[1] - energy[0])
    # plural scattering brings counts up from below the recorded range: build the single-
    # scattering spectra from 200 eV lower, convolve, then crop to the recorded channels
    n_ext = int(round(200.0 / scale_ev)) if thickness > 0 else 0
    energy_ext = energy[0] + scale_ev * np.arange(-n_ext, energy.size)
    kernel, zi = _low_loss_kernel(energy_ext.size, scale_ev, thickness) if n_ext else (None, 0)
    rng = None if seed is None else np.random.default_rng(seed)
    flat_o, flat_tm = n_o.reshape(-1), n_tm.reshape(-1)
    data = np.empty((flat_o.size, energy.size), dtype=dtype)
    keep_expected = data.size <= 20_000_000
    expected_all = np.empty(data.shape) if keep_expected else None
    for i0 in range(0, flat_o.size, 4096):
        sl = slice(i0, i0 + 4096)
        expected, info = _build_spectra(
            flat_o[sl], flat_tm[sl], tm=tm, energy=energy_ext, microscope=microscope,
            white_lines=white_lines, dose=dose, background_ratio=background[0],
            background_r=background[1])
        if kernel is not None:
            expected = _plural(expected, kernel, zi)[..., n_ext:]
        expected = np.clip(expected, 0, None)
        if keep_expected:
            expected_all[sl] = expected
        data[sl] = expected if rng is None else rng.poisson(expected)
    nav = ratio.shape
    truth: dict[str, Any] = {"ratio": ratio, "n_o": n_o, "n_tm": n_tm, "tm": tm,
                             "white_lines": white_lines, "microscope": microscope, **extra,
                             "onset_o_ev": info["onset_o_ev"], "onset_tm_ev": info["onset_tm_ev"],
                             "counts_per_atom": info["counts_per_atom"],
                             "expected": None if expected_all is None else
                             expected_all.reshape(nav + (energy.size,))}
    if distance is not None:
        truth["distance_nm"] = distance
    if kernel is not None:
        ll_energy = (np.arange(energy.size) - zi) * scale_ev
        ll_counts = np.broadcast_to(kernel[: energy.size] * dose * 50, nav + (energy.size,))
        truth["low_loss"] = _make_signal(ll_counts.astype(dtype), ll_energy, microscope,
                                         nav_scale, "synthetic low-loss")
        truth["thickness"] = float(thickness)
    return _make_signal(data.reshape(nav + (energy.size,)), energy, microscope, nav_scale,
                        title), truth


def eels_spectrum_image(  # noqa: PLR0913 - generator knobs
    shape: tuple[int, int] = (32, 32),
    o_tm_map: np.ndarray | None = None,
    tm: str = "Co",
    white_lines: bool = False,
    thickness: float = 0.0,
    dose: float = 1.0e5,
    seed: int | None = 0,
    *,
    pixel_size_nm: float = 0.5,
    n_channels: int = 1024,
    offset_ev: float = 430.0,
    scale_ev: float = 0.5,
    background_ratio: float = 2.0,
    background_r: float = 3.0,
    microscope: tuple[float, float, float] = MICROSCOPE,
    dtype: Any = np.float32,
) -> tuple[Any, dict]:
    """Make a core-loss EELS spectrum image of a particle with an O-depleted surface.

    Parameters
    ----------
    shape : tuple of int
        Navigation shape (rows, cols).
    o_tm_map : ndarray, optional
        O/TM per pixel (NaN = vacuum). Default: the particle fills ``x >= cols/8``;
        the ratio follows :func:`default_profile` of the distance to that surface.
    tm, white_lines, thickness, dose, seed, n_channels, offset_ev, scale_ev, \
background_ratio, background_r, microscope
        As in :func:`eels_linescan`.
    pixel_size_nm : float
        Scan step in nm.
    dtype : numpy dtype
        dtype of the returned counts.

    Returns
    -------
    signal : exspy.signals.EELSSpectrum
        Shape (rows, cols, n_channels).
    truth : dict
        As in :func:`eels_linescan`, with ``ratio`` and ``distance_nm`` maps.
    """
    rows, cols = shape
    surface_col = cols // 8
    distance = np.broadcast_to((np.arange(cols) - surface_col) * float(pixel_size_nm),
                               (rows, cols)).copy()
    if o_tm_map is None:
        ratio = default_profile(distance)
    else:
        ratio = np.asarray(o_tm_map, dtype=float)
        if ratio.shape != (rows, cols):
            raise ValueError(f"o_tm_map must have shape {shape}, got {ratio.shape}")
    return _finish(ratio, distance, tm=tm, white_lines=white_lines, thickness=thickness,
                   dose=dose, seed=seed, nav_scale=pixel_size_nm,
                   energy=_energy_axis(n_channels, offset_ev, scale_ev),
                   background=(background_ratio, background_r), microscope=microscope,
                   title="synthetic EELS spectrum image", extra={"surface_col": surface_col},
                   dtype=dtype)


def _ok_shape(energy: np.ndarray, prepeak: float) -> np.ndarray:
    """O K fine structure (counts/eV per unit): pre-peak Gaussian at 530 eV + main edge.

    Main edge: logistic step at 535 eV decaying as (E/535)^-3 with a broad peak at 540 eV;
    the pre-peak (sigma 1 eV) has ``prepeak`` times the area of the main peak.
    """
    step = 1.0 / (1.0 + np.exp(-(energy - 535.0) / 1.0)) * (energy / 535.0) ** -3.0
    main = np.exp(-0.5 * ((energy - 540.0) / 3.0) ** 2)
    pre = np.exp(-0.5 * ((energy - 530.0) / 1.0) ** 2)
    return step + main + prepeak * pre * (3.0 / 1.0)


def eels_fine_structure(fraction: np.ndarray, *, dose: float = 2.0e4, seed: int | None = 0,
                        prepeaks: tuple[float, float] = (0.30, 0.05)) -> tuple[Any, dict]:
    """O K spectra mixing two phases with known fine structure (e.g. layered / rock salt).

    Parameters
    ----------
    fraction : ndarray
        Fraction of phase 0 per position (navigation shape); phase 1 = 1 - fraction.
    dose : float
        Counts per eV of the main-edge step just above 535 eV.
    seed : int or None
        Poisson seed (None: expectation).
    prepeaks : tuple of float
        Pre-peak area over main-peak area of the two phases.

    Returns
    -------
    signal : exspy.signals.EELSSpectrum
        480-580 eV at 0.25 eV, power-law background (r = 3, 3x the edge at 535 eV).
    truth : dict
        ``fraction``, ``references`` (2, channels: the edge shapes times ``dose``, no
        background), ``prepeak_ratio`` (pre-peak window 527-532 over main 535-545 eV of
        the noise-free edge, background-free), ``energy``.
    """
    energy = 480.0 + 0.25 * np.arange(400)
    refs = np.stack([dose * _ok_shape(energy, p) for p in prepeaks]) * 0.25
    f = np.asarray(fraction, dtype=float)
    edges = f[..., None] * refs[0] + (1 - f[..., None]) * refs[1]
    bg = 3.0 * dose * 0.25 * (energy / 535.0) ** -3.0
    expected = edges + bg
    rng = None if seed is None else np.random.default_rng(seed)
    data = expected if rng is None else rng.poisson(expected).astype(float)
    pre = (energy >= 527.0) & (energy < 532.0)
    main = (energy >= 535.0) & (energy < 545.0)
    truth = {"fraction": f, "references": refs, "energy": energy,
             "prepeak_ratio": edges[..., pre].sum(-1) / edges[..., main].sum(-1)}
    return _make_signal(data.astype(np.float32), energy, MICROSCOPE, 0.5,
                        "synthetic O K fine structure"), truth
