"""Thickness (t/lambda), Fourier-ratio deconvolution (exspy), a plural-scattering diagnostic.

``replica_weight`` serves the model when no low loss is given.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..errors import InputShapeError, StemstrainError

__all__ = ["apply_low_loss", "DECONVOLVE_ABOVE", "replica_weight", "REPLICA_WARN"]

#: median t/lambda above which the core loss is Fourier-ratio deconvolved
DECONVOLVE_ABOVE = 0.3


def apply_low_loss(spectrum: Any, low_loss: Any) -> tuple[Any, np.ndarray, dict]:
    """t/lambda per position and, where it warrants it, the single-scattering core loss.

    Parameters
    ----------
    spectrum : EELSSpectrum
        Core-loss spectra.
    low_loss : EELSSpectrum
        Low-loss spectra with the zero-loss peak, same navigation shape.

    Returns
    -------
    spectrum : EELSSpectrum
        The input, or its Fourier-ratio deconvolution (exspy) when the median t/lambda
        exceeds 0.3 (the whole spectrum, background included, extrapolated by a power law
        at both ends; the result is broadened by the zero-loss width).
    thickness : ndarray
        t/lambda = ln(I_t / I_0) per position (navigation shape).
    params : dict
        What was done, for the result's attributes.
    """
    import exspy

    _check_low_loss(low_loss, tuple(spectrum.axes_manager.navigation_shape[::-1]))
    if not isinstance(low_loss, exspy.signals.EELSSpectrum):
        low_loss = low_loss.deepcopy()
        low_loss.set_signal_type("EELS")
    if not isinstance(spectrum, exspy.signals.EELSSpectrum):
        spectrum = spectrum.deepcopy()
        spectrum.set_signal_type("EELS")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        threshold = low_loss.estimate_elastic_scattering_threshold()
        t_map = np.asarray(low_loss.estimate_thickness(threshold=threshold).data, dtype=float)
    t_med = float(np.nanmedian(t_map))
    params = {"low_loss": "t/lambda (log-ratio)", "thickness_median": t_med, "deconvolved": False}
    if t_med > DECONVOLVE_ABOVE:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            spectrum = _deconvolve(spectrum, low_loss, threshold)
        params["deconvolved"] = True
        params["low_loss"] = "t/lambda (log-ratio) + Fourier-ratio deconvolution"
    return spectrum, t_map.reshape(spectrum.axes_manager.navigation_shape[::-1]), params


def _check_low_loss(low_loss: Any, nav_shape: tuple[int, ...]) -> None:
    """Raise unless ``low_loss`` is a signal with the zero-loss peak and navigation ``nav_shape``.

    ``nav_shape`` is the core loss's navigation shape in array (row-major) order.
    """
    if not (hasattr(low_loss, "axes_manager") and hasattr(low_loss, "data")):
        raise StemstrainError(f"low_loss must be an EELS signal, got {type(low_loss).__name__}")
    nav = tuple(int(a.size) for a in low_loss.axes_manager.navigation_axes[::-1])
    if nav != tuple(nav_shape):
        raise InputShapeError(
            f"low_loss navigation shape {nav} differs from the core loss {tuple(nav_shape)}; "
            "pass the matching low-loss acquisition"
        )
    axis = low_loss.axes_manager.signal_axes[0]
    if not axis.axis[0] < 0 < axis.axis[-1]:
        raise StemstrainError(
            f"low_loss energy axis {axis.axis[0]:.1f}-{axis.axis[-1]:.1f} eV does not contain "
            "the zero-loss peak (0 eV); pass the low-loss spectra, not the core loss"
        )


def _deconvolve(spectrum: Any, low_loss: Any, threshold: float, pad_ev: float = 150.0) -> Any:
    """Fourier-ratio deconvolution of the whole core loss, padded below its first channel.

    The spectrum is first extended ``pad_ev`` downwards by the power law fitted to its
    first 40 eV, so that the Hanning taper and wrap-around of the deconvolution fall
    outside the recorded range, then deconvolved by exspy and cropped back.
    """
    from ._integration import fit_power_law

    axis = spectrum.axes_manager.signal_axes[0]
    scale, n = float(axis.scale), axis.size
    n_pad = int(round(pad_ev / scale))
    n_fit = max(8, int(round(40.0 / scale)))
    data = np.asarray(spectrum.data, dtype=float).reshape(-1, n)
    energy = np.asarray(axis.axis, dtype=float)
    e_ref = float(energy[n_fit // 2])
    fit = fit_power_law(data[:, :n_fit], np.log(energy[:n_fit] / e_ref), np)
    e_pad = energy[0] - scale * np.arange(n_pad, 0, -1)
    if e_pad[0] <= 0:
        raise StemstrainError("low_loss deconvolution: the core loss starts too close to 0 eV")
    pad = np.exp(fit["a"][:, None] + fit["b"][:, None] * np.log(e_pad / e_ref)[None, :])
    import exspy

    axes = spectrum.axes_manager._get_axes_dicts()
    axes[-1].update({"size": n + n_pad, "offset": float(e_pad[0])})
    for ax in axes:  # uniform axes only: drop the explicit axis arrays
        ax.pop("axis", None)
    padded = exspy.signals.EELSSpectrum(
        np.concatenate([np.nan_to_num(pad), data], axis=1).reshape(
            spectrum.data.shape[:-1] + (n + n_pad,)
        ),
        axes=axes,
        metadata=spectrum.metadata.as_dictionary(),
    )
    out = padded.fourier_ratio_deconvolution(low_loss, threshold=threshold)
    return out.isig[n_pad : n_pad + n]


#: generic oxide plasmon (eV) of the replica diagnostic: energy and Lorentzian FWHM
PLASMON_EV, PLASMON_FWHM_EV = 25.0, 10.0
#: replica weight above which the model warns (synthetic: O/TM -16 % at 0.3, about -8 % at 0.15)
REPLICA_WARN = 0.15


def replica_weight(design: np.ndarray, n_bg: int, y_net: np.ndarray, scale_ev: float) -> np.ndarray:
    """Plural-scattering diagnostic without a low loss: weight of the edges' plasmon replica.

    The fitted single-scattering edge part ``S`` of each spectrum (edge and ELNES columns of
    ``design`` times their least-squares amplitudes) is convolved with a generic oxide
    plasmon (Lorentzian, :data:`PLASMON_EV`, :data:`PLASMON_FWHM_EV`); the returned weight is
    the least-squares amplitude of that replica in the fit residual, after projecting out the
    design. It tracks t/lambda on synthetic white-line spectra (0 / 0.3 / 0.6 / 1.0 ->
    0.0 / 0.3 / 0.5 / 0.7) and reads 0.31-0.51 on the real LSMO positions (t/lambda 0.44-0.52
    from their low loss); it is a warning criterion, not a thickness measurement.

    Parameters
    ----------
    design : ndarray (C, K)
        Shared design (``n_bg`` background columns first).
    y_net : ndarray (N, C)
        Spectra minus their extrapolated pre-edge background.
    scale_ev : float
        Channel width in eV.
    """
    from scipy import fft

    pinv = np.linalg.pinv(design)
    coef = y_net @ pinv.T
    single = coef[:, n_bg:] @ design[:, n_bg:].T
    n_ch = design.shape[0]
    e = np.arange(n_ch) * scale_ev
    half = PLASMON_FWHM_EV / 2
    plasmon = half / np.pi / ((e - PLASMON_EV) ** 2 + half**2)
    plasmon /= plasmon.sum()
    size = fft.next_fast_len(2 * n_ch)
    rep = fft.irfft(fft.rfft(single, size, axis=1) * fft.rfft(plasmon, size), size, axis=1)
    rep = rep[:, :n_ch]
    rep_perp = rep - (rep @ pinv.T) @ design.T
    resid = y_net - coef @ design.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rep_perp * resid).sum(1) / (rep_perp * rep_perp).sum(1)
