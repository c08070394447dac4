"""Synthetic core-loss EELS with analytic ground truth (O K + TM L2,3).

Spectra are built from the generator's own implementation of Egerton's hydrogenic K and
L2,3 cross-sections (:func:`edge_cross_section`: direct quadrature over q at every channel
centre; the analyses use exspy's tabulated version through ``stemstrain.eels``), for the
microscope parameters put into the signal's metadata (beam energy, convergence and
collection semi-angles), plus a power-law background ``A E^-r``. Per spectrum::

    counts(E) = Poisson( N [ n_O s_O(E) + n_TM s_TM(E) ] dE + B(E) )

with ``s_X`` the differential cross-section (barn/eV) of the hydrogenic edge,
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
from dataclasses import dataclass, fields
from typing import Any, Callable

import numpy as np

__all__ = ["eels_linescan", "eels_spectrum_image", "edge_cross_section", "default_profile"]

#: (beam energy keV, convergence semi-angle mrad, collection semi-angle mrad)
MICROSCOPE = (200.0, 21.0, 30.0)
PLASMON_EV = 24.0
PLASMON_FWHM_EV = 8.0


#: Z and tabulated onsets (eV): K for O; L3, L1 for the TMs (exspy / Gatan element table)
_EDGES = {
    "O": (8, 532.0, None),
    "Ti": (22, 456.0, 564.0),
    "V": (23, 513.0, 628.0),
    "Cr": (24, 575.0, 695.0),
    "Mn": (25, 640.0, 769.0),
    "Fe": (26, 708.0, 846.0),
    "Co": (27, 779.0, 926.0),
    "Ni": (28, 855.0, 1008.0),
    "Cu": (29, 931.0, 1096.0),
}
_L2_ONSETS = {
    "Ti": 462.0,
    "V": 521.0,
    "Cr": 584.0,
    "Mn": 651.0,
    "Fe": 721.0,
    "Co": 794.0,
    "Ni": 872.0,
    "Cu": 951.0,
}
#: Egerton's empirical L-shell correction exponents u(Z - 11) (SIGMAL3)
_XU = (
    0.82,
    0.52,
    0.52,
    0.42,
    0.30,
    0.29,
    0.22,
    0.30,
    0.22,
    0.16,
    0.12,
    0.13,
    0.13,
    0.14,
    0.16,
    0.18,
    0.19,
    0.22,
    0.14,
    0.11,
    0.12,
    0.12,
    0.12,
    0.10,
    0.10,
    0.10,
)
_RYD = 13.606
_RYD_HC = 13.605693122994  # Rydberg constant times hc, eV


def _effective_beta(e0_kev: float, energy: float, alpha: float, beta: float) -> float:
    """Egerton's effective collection semi-angle (mrad) for a convergent probe (App. B)."""
    if alpha == 0:
        return beta
    tgt = e0_kev * (1 + e0_kev / 1022.0) / (1 + e0_kev / 511.0)
    theta = energy / tgt
    a2, b2, t2 = (alpha * 1e-3) ** 2, (beta * 1e-3) ** 2, (theta * 1e-3) ** 2
    eta1 = np.sqrt((a2 + b2 + t2) ** 2 - 4 * a2 * b2) - a2 - b2 - t2
    eta2 = 2 * b2 * np.log(0.5 / t2 * (np.sqrt((a2 + t2 - b2) ** 2 + 4 * b2 * t2) + a2 + t2 - b2))
    eta3 = 2 * a2 * np.log(0.5 / t2 * (np.sqrt((b2 + t2 - a2) ** 2 + 4 * a2 * t2) + b2 + t2 - a2))
    f1 = (eta1 + eta2 + eta3) / 2 / a2 / np.log(1 + b2 / t2)
    f2 = f1 * a2 / b2 if alpha > beta else f1
    return float(theta * np.sqrt(np.exp(f2 * np.log(1 + b2 / t2)) - 1))


def _hydrogenic_df(z: int, onsets: tuple, energy: np.ndarray, qa02: np.ndarray) -> np.ndarray:
    """Hydrogenic generalised oscillator strength dF/dE (per eV per atom), Egerton's formulas.

    ``energy`` (E,) eV, ``qa02`` (E, Q) the squared momentum transfer in Bohr units;
    K shell (``onsets[1] is None``) after SIGMAK3, L2,3 (+L1) after SIGMAL3.
    """
    e = energy[:, None]
    is_k = onsets[1] is None
    zs = (z - 0.5) if is_k else (z - 0.35 * 7 - 1.7)
    q = qa02 / zs**2
    kh2 = e / (_RYD * zs**2) - (1.0 if is_k else 0.25)
    akh = np.sqrt(np.abs(kh2))
    if is_k:
        akh = np.maximum(akh, 0.01)
    with np.errstate(all="ignore"):
        off = 1.0 if is_k else 0.25
        width = 2.0 if is_k else 1.0
        bp = np.arctan(width * akh / (q - kh2 + off))
        bp = np.where(bp < 0, bp + np.pi, bp)
        c_pos = np.exp(-2.0 / akh * bp)
        d_pos = 1 - np.exp(-2 * np.pi / akh)
        y = -1 / akh * np.log((q + off - kh2 + width * akh) / (q + off - kh2 - width * akh))
        c = np.where(kh2 >= 0, c_pos, np.exp(y))
        d = np.where(kh2 >= 0, d_pos, 1.0)
        if is_k:
            a = ((q - kh2 + 1) ** 2 + 4 * kh2) ** 3
            return 256 * e / (_RYD * zs**4) * c / d * (q + kh2 / 3 + 1 / 3) / (a * _RYD)
        g_low = (
            2.25 * q**4
            - (0.75 + 3 * kh2) * q**3
            + (0.59375 - 0.75 * kh2 - 0.5 * kh2**2) * q**2
            + (0.11146 + 0.85417 * kh2 + 1.8833 * kh2**2 + kh2**3) * q
            + 0.0035807
            + kh2 / 21.333
            + kh2**2 / 4.5714
            + kh2**3 / 2.4
            + kh2**4 / 4
        )
        a_low = ((q - kh2 + 0.25) ** 2 + kh2) ** 5
        g_high = (
            q**3
            - (5 / 3 * kh2 + 11 / 12) * q**2
            + (kh2**2 / 3 + 1.5 * kh2 + 65 / 48) * q
            + kh2**3 / 3
            + 0.75 * kh2**2
            + 23 / 48 * kh2
            + 5 / 64
        )
        a_high = ((q - kh2 + 0.25) ** 2 + kh2) ** 4
        below_l1 = e - onsets[1] <= 0
        g = np.where(below_l1, g_low, g_high)
        a = np.where(below_l1, a_low, a_high)
        u = _XU[z - 11] if z - 11 < len(_XU) else 0.1
        rf = ((e + 0.1 - onsets[0]) / 1.8 / z / z) ** u
        return rf * 32 * g * c / a / d * e / _RYD / _RYD / zs**4


def edge_cross_section(
    subshell: str,
    energy_ev: np.ndarray,
    *,
    beam_energy_kev: float = 200.0,
    convergence_mrad: float = 21.0,
    collection_mrad: float = 30.0,
) -> tuple[np.ndarray, float]:
    """Differential hydrogenic cross-section of an edge, the generator's own implementation.

    Egerton's hydrogenic K (SIGMAK3) and L2,3 (SIGMAL3, with his empirical correction and
    the L1 contribution) generalised oscillator strengths, integrated over ln(q a0^2) by
    Simpson's rule on 257 points at every requested energy (no tabulated axis, no spline),
    with the effective collection angle of the convergent probe at the onset. This is
    independent code from the analyses' cross-sections (exspy's quadrature on a
    parametrised energy axis, ``stemstrain.eels._crosssection``): the tests compare two
    implementations of the same physics, not a function with itself.

    Parameters
    ----------
    subshell : str
        ``"O_K"`` or ``"<TM>_L3"`` (L3 + L2 + L1).
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
    from scipy.integrate import simpson

    element = subshell.split("_")[0]
    z, onset, l1 = _EDGES[element]
    energy = np.asarray(energy_ev, dtype=float)
    out = np.zeros(energy.shape)
    above = energy >= onset
    if not above.any():
        return out, onset
    e = energy[above]
    beta = _effective_beta(beam_energy_kev, onset, convergence_mrad, collection_mrad) * 1e-3
    gamma = 1 + beam_energy_kev / 511.06
    t = 511060 * (1 - 1 / gamma**2) / 2
    qmin = e**2 / (4 * _RYD_HC * t) + e**3 / (8 * gamma**3 * _RYD_HC * t**2)
    p02 = t / (_RYD_HC * (1 - 2 * t / 511060))
    pp2 = p02 - e / _RYD_HC * (gamma - e / 1022120)
    qmax = qmin + 4 * np.sqrt(p02 * pp2) * np.sin(beta / 2) ** 2
    frac = np.linspace(0.0, 1.0, 257)
    lnq = np.log(qmin)[:, None] + frac[None, :] * np.log(qmax / qmin)[:, None]
    df = _hydrogenic_df(z, (onset, l1), e, np.exp(lnq))
    integral = simpson(df, x=lnq, axis=1)
    out[above] = 3.5166e8 * (_RYD_HC / t) * (_RYD_HC / e) * integral
    return out, onset


def default_profile(distance_nm: np.ndarray) -> np.ndarray:
    """O/TM ratio of an O-depleted surface: 1.3 at the surface, 2.0 in the interior.

    ``2.0 - 0.7 exp(-d / 1.5 nm)`` for d >= 0 (NaN in vacuum, d < 0).
    """
    d = np.asarray(distance_nm, dtype=float)
    out = 2.0 - 0.7 * np.exp(-np.clip(d, 0, None) / 1.5)
    return np.where(d < 0, np.nan, out)


def _white_lines(
    energy: np.ndarray, tm: str, edge_tm: np.ndarray, onset: float, strength: float
) -> np.ndarray:
    """Gaussian L3 and L2 white lines (2:1 areas) added to the TM edge shape (barn/eV)."""
    e_l3, e_l2 = _EDGES[tm][1], _L2_ONSETS[tm]
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
    from scipy import fft

    n = spectra.shape[-1]
    size = fft.next_fast_len(2 * n)
    k = np.roll(np.pad(kernel, (0, size - n)), -zlp_index)
    return fft.irfft(fft.rfft(spectra, size) * fft.rfft(k), size)[..., :n]


def _build_spectra(
    n_o: np.ndarray,
    n_tm: np.ndarray,
    *,
    tm: str,
    energy: np.ndarray,
    microscope: tuple[float, float, float],
    white_lines: bool,
    dose: float,
    background_ratio: float,
    background_r: float,
) -> tuple[np.ndarray, dict]:
    """Noise-free spectra (..., C) for per-position O and TM amounts (interior O = 1 scale)."""
    e0, alpha, beta = microscope
    s_o, on_o = edge_cross_section(
        "O_K", energy, beam_energy_kev=e0, convergence_mrad=alpha, collection_mrad=beta
    )
    s_tm, on_tm = edge_cross_section(
        f"{tm}_L3", energy, beam_energy_kev=e0, convergence_mrad=alpha, collection_mrad=beta
    )
    if white_lines:
        s_tm = s_tm + _white_lines(energy, tm, s_tm, on_tm, strength=1.0)
    step = float(energy[1] - energy[0])
    # the dose is defined on the O K window [onset, onset + 50 eV) even if not recorded
    e_ref = on_o + step * np.arange(int(round(50.0 / step)))
    s_ref, _ = edge_cross_section(
        "O_K", e_ref, beam_energy_kev=e0, convergence_mrad=alpha, collection_mrad=beta
    )
    # scale so that 2 O atoms (interior LiCoO2 per TM) give `dose` O K counts in 50 eV
    scale = dose / (2.0 * s_ref.sum() * step)
    # power law with `background_ratio` x the interior O K signal in its first 50 eV
    bg_shape = (energy / on_o) ** (-background_r)
    bg_scale = background_ratio * dose / ((e_ref / on_o) ** (-background_r)).sum()
    edges = scale * step * (n_o[..., None] * s_o + n_tm[..., None] * s_tm)
    present = (n_tm > 0)[..., None] | (n_o > 0)[..., None]
    # vacuum keeps 2 % of the background (dark/stray counts)
    spectra = edges + bg_scale * bg_shape * np.where(present, 1.0, 0.02)
    info = {
        "onset_o_ev": on_o,
        "onset_tm_ev": on_tm,
        "counts_per_atom": scale * step,
        "background_r": background_r,
        "sigma_o": s_o,
        "sigma_tm": s_tm,
    }
    return spectra, info


def _make_signal(
    data: np.ndarray,
    energy: np.ndarray,
    microscope: tuple[float, float, float],
    nav_scale_nm: float,
    title: str,
) -> Any:
    """Wrap counts in an EELSSpectrum with calibrated axes and microscope metadata."""
    import exspy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sig = exspy.signals.EELSSpectrum(data)
    ax = sig.axes_manager.signal_axes[0]
    ax.name, ax.units, ax.scale, ax.offset = (
        "Energy loss",
        "eV",
        float(energy[1] - energy[0]),
        float(energy[0]),
    )
    nav_axes = sig.axes_manager.navigation_axes
    for nav, name in zip(nav_axes, ("x", "y")[: len(nav_axes)], strict=True):
        nav.name, nav.units, nav.scale = name, "nm", float(nav_scale_nm)
    e0, alpha, beta = microscope
    sig.set_microscope_parameters(beam_energy=e0, convergence_angle=alpha, collection_angle=beta)
    sig.metadata.General.title = title
    return sig


@dataclass(frozen=True)
class _Acquisition:
    """The knobs :func:`eels_linescan` and :func:`eels_spectrum_image` share (see there)."""

    tm: str
    white_lines: bool
    thickness: float
    dose: float
    seed: int | None
    n_channels: int
    offset_ev: float
    scale_ev: float
    background_ratio: float
    background_r: float
    microscope: tuple[float, float, float]
    dtype: Any = np.float32

    @classmethod
    def of(cls, knobs: dict) -> _Acquisition:
        """Build the record from a generator's arguments (``locals()``; other names ignored)."""
        return cls(**{f.name: knobs[f.name] for f in fields(cls) if f.name in knobs})

    @property
    def energy(self) -> np.ndarray:
        """Energy axis, eV."""
        return self.offset_ev + self.scale_ev * np.arange(self.n_channels)


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
    acq = _Acquisition.of(locals())
    distance = (np.arange(n_positions) - surface_index) * float(step_nm)
    if o_tm_profile is None:
        ratio = default_profile(distance)
    elif callable(o_tm_profile):
        ratio = np.where(distance < 0, np.nan, np.asarray(o_tm_profile(distance), dtype=float))
    else:
        ratio = np.asarray(o_tm_profile, dtype=float)
        if ratio.shape != (n_positions,):
            raise ValueError(f"o_tm_profile must have {n_positions} values, got {ratio.shape}")
    extra = {"surface_index": int(surface_index)}
    return _finish(
        ratio, distance, acq, nav_scale=step_nm, title="synthetic EELS line scan", extra=extra
    )


def _finish(
    ratio: np.ndarray,
    distance: np.ndarray | None,
    acq: _Acquisition,
    *,
    nav_scale: float,
    title: str,
    extra: dict,
) -> tuple[Any, dict]:
    """Spectra for a ratio map, in chunks of spectra (bounded memory), and the truth dict."""
    tm, white_lines, thickness, dose, seed = (
        acq.tm,
        acq.white_lines,
        acq.thickness,
        acq.dose,
        acq.seed,
    )
    energy, microscope, dtype = acq.energy, acq.microscope, acq.dtype
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
            flat_o[sl],
            flat_tm[sl],
            tm=tm,
            energy=energy_ext,
            microscope=microscope,
            white_lines=white_lines,
            dose=dose,
            background_ratio=acq.background_ratio,
            background_r=acq.background_r,
        )
        if kernel is not None:
            expected = _plural(expected, kernel, zi)[..., n_ext:]
        expected = np.clip(expected, 0, None)
        if keep_expected:
            expected_all[sl] = expected
        data[sl] = expected if rng is None else rng.poisson(expected)
    nav = ratio.shape
    truth: dict[str, Any] = {
        "ratio": ratio,
        "n_o": n_o,
        "n_tm": n_tm,
        "tm": tm,
        "white_lines": white_lines,
        "microscope": microscope,
        **extra,
        "onset_o_ev": info["onset_o_ev"],
        "onset_tm_ev": info["onset_tm_ev"],
        "counts_per_atom": info["counts_per_atom"],
        "expected": None if expected_all is None else expected_all.reshape(nav + (energy.size,)),
    }
    if distance is not None:
        truth["distance_nm"] = distance
    if kernel is not None:
        ll_energy = (np.arange(energy.size) - zi) * scale_ev
        ll_counts = np.broadcast_to(kernel[: energy.size] * dose * 50, nav + (energy.size,))
        truth["low_loss"] = _make_signal(
            ll_counts.astype(dtype), ll_energy, microscope, nav_scale, "synthetic low-loss"
        )
        truth["thickness"] = float(thickness)
    return _make_signal(
        data.reshape(nav + (energy.size,)), energy, microscope, nav_scale, title
    ), truth


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
    acq = _Acquisition.of(locals())
    rows, cols = shape
    surface_col = cols // 8
    distance = np.broadcast_to(
        (np.arange(cols) - surface_col) * float(pixel_size_nm), (rows, cols)
    ).copy()
    if o_tm_map is None:
        ratio = default_profile(distance)
    else:
        ratio = np.asarray(o_tm_map, dtype=float)
        if ratio.shape != (rows, cols):
            raise ValueError(f"o_tm_map must have shape {shape}, got {ratio.shape}")
    title = "synthetic EELS spectrum image"
    extra = {"surface_col": surface_col}
    return _finish(ratio, distance, acq, nav_scale=pixel_size_nm, title=title, extra=extra)


def _ok_shape(energy: np.ndarray, prepeak: float) -> np.ndarray:
    """O K fine structure (counts/eV per unit): pre-peak Gaussian at 530 eV + main edge.

    Main edge: logistic step at 535 eV decaying as (E/535)^-3 with a broad peak at 540 eV;
    the pre-peak (sigma 1 eV) has ``prepeak`` times the area of the main peak.
    """
    step = 1.0 / (1.0 + np.exp(-(energy - 535.0) / 1.0)) * (energy / 535.0) ** -3.0
    main = np.exp(-0.5 * ((energy - 540.0) / 3.0) ** 2)
    pre = np.exp(-0.5 * ((energy - 530.0) / 1.0) ** 2)
    return step + main + prepeak * pre * (3.0 / 1.0)


def eels_fine_structure(
    fraction: np.ndarray,
    *,
    dose: float = 2.0e4,
    seed: int | None = 0,
    prepeaks: tuple[float, float] = (0.30, 0.05),
) -> tuple[Any, dict]:
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
    truth = {
        "fraction": f,
        "references": refs,
        "energy": energy,
        "prepeak_ratio": edges[..., pre].sum(-1) / edges[..., main].sum(-1),
    }
    return _make_signal(
        data.astype(np.float32), energy, MICROSCOPE, 0.5, "synthetic O K fine structure"
    ), truth
