"""O/TM atomic ratio from core-loss EELS: ``o_tm_ratio`` and ``RatioResult``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from .._backend import asnumpy, resolve_backend
from .._compat import keyword_only_after
from ..errors import StemstrainError
from ..results import ResultBase
from ._crosssection import CROSS_SECTIONS, SYSTEMATIC, partial_cross_section
from ._input import EDGE_ONSETS_EV, SpectrumInput, edge_windows, read_spectrum
from ._integration import edge_integral, noise_gain

__all__ = ["RatioResult", "o_tm_ratio", "cross_section"]

_CHUNK = 8192


@dataclass(frozen=True)
class RatioResult(ResultBase):
    """O/TM atomic ratio over the navigation axes of an EELS line scan or spectrum image.

    Attributes
    ----------
    ratio : ndarray
        O/TM atomic ratio, navigation shape ((n,) line scan, (rows, cols) image); NaN
        where the TM edge is not significant (vacuum) or the fit failed.
    uncertainty : ndarray
        1 sigma of ``ratio`` (counting + background extrapolation [+ k-factor]; model without
        a reference: + the hydrogenic-continuum systematic, 16 %, and the background-model
        spread, ``parameters["systematic_background_model_relative"]``).
    signal_o, signal_tm : ndarray
        Background-subtracted edge counts over the integration windows divided by the
        hydrogenic cross-sections (counts/barn, proportional to the number of atoms;
        model: the fitted edge intensities).
    significance_tm : ndarray
        TM edge counts over their 1 sigma (vacuum < 3).
    distance_nm : ndarray or None
        Line scans: distance from the surface in nm (negative outside the particle).
    surface_index : int or None
        Line scans: index of the first position inside the particle.
    k_factor : float
        Factor applied to the absolute (hydrogenic) ratio (1 without a reference).
    k_factor_uncertainty : float
        1 sigma of ``k_factor`` (0 without a reference).
    calibration : str
        ``"absolute (hydrogenic cross-sections)"`` or ``"k-factor (reference=..., ratio=...)"``.
    method : str
        ``"model"``, ``"integration"`` or ``"exspy"``.
    tm : str
        Transition metal symbol.
    cross_sections : dict
        Hydrogenic cross-sections (barn) over the integration windows: ``{"O": ..., tm: ...}``.
    parameters : dict
        Windows (eV), microscope parameters, noise gain, thickness handling.
    pixel_size : float or None
        Navigation step in nm (None if uncalibrated).
    thickness : ndarray or None
        t/lambda per position when ``low_loss`` was given.
    uncertainty_statistical : ndarray or None
        The counting part of ``uncertainty`` (what averages down and what differences
        between pixels should use).
    """

    ratio: np.ndarray
    uncertainty: np.ndarray
    signal_o: np.ndarray
    signal_tm: np.ndarray
    significance_tm: np.ndarray
    distance_nm: np.ndarray | None = None
    surface_index: int | None = None
    k_factor: float = 1.0
    k_factor_uncertainty: float = 0.0
    calibration: str = "absolute (hydrogenic cross-sections)"
    method: str = "integration"
    tm: str = "Co"
    cross_sections: dict | None = None
    parameters: dict | None = None
    pixel_size: float | None = None
    thickness: np.ndarray | None = None
    uncertainty_statistical: np.ndarray | None = None

    group: ClassVar[str] = "eels"
    map_fields: ClassVar[tuple[str, ...]] = ("ratio", "uncertainty")
    array_fields: ClassVar[tuple[str, ...]] = (
        "signal_o",
        "signal_tm",
        "significance_tm",
        "distance_nm",
        "thickness",
        "uncertainty_statistical",
    )
    attr_fields: ClassVar[tuple[str, ...]] = (
        "surface_index",
        "k_factor",
        "k_factor_uncertainty",
        "calibration",
        "method",
        "tm",
        "cross_sections",
        "parameters",
    )

    @property
    def is_linescan(self) -> bool:
        """True for a line scan (1 navigation axis)."""
        return np.ndim(self.ratio) == 1

    def to_signal(self) -> Any:
        """HyperSpy signal stacking ratio and uncertainty (Signal1D for line scans, else 2D)."""
        # not ResultBase.to_signal: ``calibration`` here is the quantification label
        return stack_signal(self, ("ratio", "uncertainty"))


def stack_signal(result: Any, names: tuple[str, ...]) -> Any:
    """HyperSpy signal stacking the fields ``names`` of an EELS result (line scan or map)."""
    import hyperspy.api as hs

    first = getattr(result, names[0])
    stack = np.stack([np.atleast_1d(getattr(result, n)) for n in names]).astype(float)
    sig = hs.signals.Signal1D(stack) if np.ndim(first) <= 1 else hs.signals.Signal2D(stack)
    for ax, name in zip(sig.axes_manager.signal_axes, ("x", "y"), strict=False):
        ax.name = name if np.ndim(first) == 2 else "position"
        if result.pixel_size:
            ax.scale, ax.units = float(result.pixel_size), "nm"
    sig.axes_manager.navigation_axes[0].name = "map"
    sig.metadata.General.title = f"{result.group}: " + ", ".join(names)
    sig.metadata.set_item("stemstrain.maps", list(names))
    return sig


#: hydrogenic partial cross-section over a window (kept under its old name)
cross_section = partial_cross_section


def _integrate(inp: SpectrumInput, data2d: Any, windows: dict, xp: Any) -> dict:
    """Edge counts and variances of every spectrum, in chunks (vectorised within a chunk).

    Only the window channels are copied (as float64) to the device. The Pearson chi^2
    of the O pre-edge fits (for the noise gain) is computed on at most ~2048 spectra.
    """
    n = data2d.shape[0]
    e = inp.energy_ev
    for win in windows.values():
        pre = np.flatnonzero((e >= win["pre"][0]) & (e < win["pre"][1]))
        itg = np.flatnonzero((e >= win["int"][0]) & (e < win["int"][1]))
        win["pre_sl"], win["int_sl"] = slice(pre[0], pre[-1] + 1), slice(itg[0], itg[-1] + 1)
    stride = max(1, n // 2048)
    out: dict[str, list] = {}
    for i0 in range(0, n, _CHUNK):
        rows = slice((-i0) % stride, None, stride)
        for key, win in windows.items():
            block = data2d[i0 : i0 + _CHUNK]
            pre = xp.asarray(np.asarray(block[:, win["pre_sl"]]), dtype=xp.float64)
            itg = xp.asarray(np.asarray(block[:, win["int_sl"]]), dtype=xp.float64)
            res = edge_integral(pre, itg, e, win, xp, chi2_rows=rows if key == "o" else None)
            for name in ("signal", "var_counting", "var_background", "total"):
                out.setdefault(f"{key}_{name}", []).append(asnumpy(res[name]))
            if res["chi2"] is not None:
                out.setdefault(f"{key}_chi2", []).append(asnumpy(res["chi2"]))
                out.setdefault(f"{key}_chi2_total", []).append(asnumpy(res["total"][rows]))
            out[f"{key}_dof"] = res["dof"]
    return {k: (np.concatenate(v) if isinstance(v, list) else v) for k, v in out.items()}


def _reference_mask(reference: Any, nav_shape: tuple[int, ...]) -> np.ndarray:
    """Boolean mask over the navigation shape from indices, a slice or a mask."""
    mask = np.zeros(nav_shape, dtype=bool)
    ref = reference
    if (
        isinstance(ref, np.ndarray)
        and ref.dtype == bool
        or (
            isinstance(ref, (list, tuple))
            and ref
            and all(isinstance(v, (bool, np.bool_)) for v in ref)
        )
    ):
        ref = np.asarray(ref, dtype=bool)
        if ref.shape != nav_shape:
            raise StemstrainError(
                f"reference mask has shape {ref.shape}, but the navigation shape is "
                f"{nav_shape}; pass a mask of that shape, indices or a slice"
            )
        mask = ref.copy()
    else:
        try:
            mask[ref] = True
        except (IndexError, TypeError, ValueError) as exc:
            raise StemstrainError(
                f"reference {reference!r} does not index the navigation shape {nav_shape} "
                f"({exc}); pass indices, a slice or a boolean mask"
            ) from None
    return mask


def _calibrate(
    raw: np.ndarray,
    var_rel: np.ndarray,
    parts: dict,
    reference: Any,
    reference_ratio: Any,
    nav_shape: tuple[int, ...],
) -> tuple[float, float, str]:
    """k-factor from the reference region: reference_ratio over its summed-signal ratio."""
    if reference is None:
        if reference_ratio is not None:
            raise StemstrainError(
                "reference_ratio given without reference=; pass the "
                "reference region (indices, slice or boolean mask)"
            )
        return 1.0, 0.0, "absolute (hydrogenic cross-sections)"
    if reference_ratio is None:
        raise StemstrainError(
            "reference= given without reference_ratio=; pass the known "
            "O/TM ratio of the reference region (e.g. 2.0 for LiCoO2)"
        )
    ref_value = float(reference_ratio)
    if not np.isfinite(ref_value) or ref_value <= 0:
        raise StemstrainError(f"reference_ratio must be a number > 0, got {reference_ratio!r}")
    mask = _reference_mask(reference, nav_shape) & np.isfinite(raw)
    if not mask.any():
        raise StemstrainError(
            f"reference region {reference!r} is empty: it selects no position with a "
            "significant TM edge; choose positions inside the particle"
        )
    n_o, n_tm = parts["o"][mask].sum(), parts["tm"][mask].sum()
    v_o, v_tm = parts["var_o"][mask].sum(), parts["var_tm"][mask].sum()
    if n_o <= 0 or n_tm <= 0:
        raise StemstrainError(f"reference region {reference!r} has no net O or TM edge signal")
    mean_raw = float(n_o / n_tm)
    k = ref_value / mean_raw
    k_sigma = k * float(np.sqrt(v_o / n_o**2 + v_tm / n_tm**2))
    label = f"k-factor (reference={_describe(reference)}, ratio={ref_value:g})"
    return k, k_sigma, label


def _describe(reference: Any) -> str:
    if isinstance(reference, np.ndarray) and reference.dtype == bool:
        return f"mask of {int(reference.sum())} positions"
    if isinstance(reference, slice):
        return f"slice({reference.start}, {reference.stop}, {reference.step})"
    return repr(reference)


_METHODS = ("model", "integration", "exspy")


@keyword_only_after(1, order=("tm", "method", "reference", "reference_ratio", "low_loss"))
def o_tm_ratio(  # noqa: PLR0913 - API.md signature + keyword-only options
    spectrum: Any,
    *,
    tm: str = "Co",
    method: str = "model",
    reference: Any = None,
    reference_ratio: float | None = None,
    low_loss: Any = None,
    surface: int | None = None,
    width_ev: float = 50.0,
    pre_ev: float = 60.0,
    fine_structure: bool = False,
    stop_ev: float | None = None,
    other_edges: tuple = (),
    backend: str = "numpy",
    cross_section: str = "hydrogenic",
) -> RatioResult:
    r"""O/TM atomic ratio of every spectrum of an EELS line scan or spectrum image.

    Parameters
    ----------
    spectrum : exspy.signals.EELSSpectrum or hyperspy Signal1D
        Core-loss spectra (counts) with a calibrated energy axis in eV covering the O K
        edge (532 eV) and the TM L2,3 edge, each with a pre-edge window; up to 2
        navigation axes. Beam energy, convergence and collection semi-angles are read
        from the metadata (defaults 200 keV, 21 mrad, 30 mrad with a warning).
    tm : str
        Transition metal: ``"Co"`` (779 eV), ``"Ni"`` (855), ``"Mn"`` (640), ``"Fe"`` (708),
        ``"Ti"``, ``"V"``, ``"Cr"``, ``"Cu"``.
    method : {"model", "integration", "exspy"}
        ``"model"`` (default): white-line-aware linear model, vectorised (power law from the
        first pre-edge window + 2-3 background-correction columns chosen by BIC, hydrogenic
        continua of O K and the TM, free Gaussian ELNES columns over the white lines and
        the O K fine structure, low loss convolved in when given); the atom counts come
        from the continua, so no reference region is needed (see Notes for its accuracy).
        ``"integration"``: background fit + window integration (fastest; the hydrogenic L
        cross-section misses the white lines: use with a reference region).
        ``"exspy"``: exspy EELS model fit per spectrum (slow cross-check).
    reference : index, slice or boolean mask, optional
        Navigation positions of known composition for a k-factor calibration.
    reference_ratio : float, optional
        Known O/TM ratio of ``reference`` (e.g. 2.0 for the LiCoO2 interior).
    low_loss : EELSSpectrum, optional
        Matching low-loss spectra (same navigation shape, zero-loss peak included).
        ``"model"``/``"exspy"``: the edges are convolved with it (plural scattering
        forward-modelled; t/lambda from the zero-loss integral; ``"model"`` aligns each
        low loss on its own zero-loss centroid, ``parameters["zlp_offset_ev"]``). Without
        it the model reads plural-scattering replicas of the white lines as continuum:
        O/TM low by about 17 % at t/lambda = 0.3 and 35 % at 1.0 on synthetic white-line
        spectra (``parameters["plural_scattering"]``); a diagnostic (the weight of the near-edge
        structure's plasmon replica, ``parameters["plural_replica_weight"]``, ~t/lambda) warns
        above 0.15; pass it for thick areas. ``"integration"``:
        t/lambda by the log-ratio method and, where its median exceeds 0.3, Fourier-ratio
        deconvolution of the core loss before quantification.
    surface : int, optional
        Line scans: index of the first position inside the particle; detected when None
        (the first of two consecutive positions whose TM edge exceeds 5 sigma, scanning
        from vacuum). Distances are then measured from it.
    width_ev : float
        Integration window Delta in eV (starts 5 eV below each tabulated onset).
    pre_ev : float
        Width of each pre-edge background window in eV (ends 8 eV before Delta starts).
    fine_structure : bool
        ``method="model"`` only: let exspy's fine-structure spline absorb the
        near-edge structure (white lines) of each edge.
    backend : {"numpy", "cupy", "auto"}
        Array backend of the integration method.
    cross_section : {"hydrogenic", "dirac-slater"}
        Continuum model of the edges (``"model"`` and ``"integration"``): exspy's
        hydrogenic GOS (default), or the hydrogenic GOS rescaled at every energy to the
        Dirac-Slater atom's optical oscillator strength (xraylib subshell photoionisation
        data; needs ``xraylib``). Both are atomic continua; on the real LSMO/STO files the
        Dirac-Slater continua read O/Mn and O/Ti 5-20 % lower than the hydrogenic ones
        (docs/notes/eels.md, session 4). Recorded in ``parameters["cross_section"]``.

    Returns
    -------
    RatioResult
        ``ratio`` and ``uncertainty`` (1 sigma) over the navigation axes, edge signals,
        ``distance_nm`` for line scans, ``calibration`` saying which calibration was used.

    Raises
    ------
    StemstrainError
        Not an EELS signal, no O K or TM edge in range, O K and TM windows overlapping
        (integration), unknown ``tm``/``method``, empty reference region, ``reference``
        without ``reference_ratio`` (or the reverse).
    CalibrationError
        Energy axis not in eV or uncalibrated.

    Notes
    -----
    Integration [1]_: in each pre-edge window the background ``A E^{-r}`` is fitted to the
    counts of every spectrum by Poisson maximum likelihood (log-link GLM, Newton steps
    from a log-linear least-squares start), giving ``(a, b) = (ln A', -r)`` and their
    Fisher covariance ``C``. The edge counts are ``I = S - B`` with ``S`` the counts and
    ``B = sum_j exp(a + b x_j)`` the extrapolated background over the window Delta
    (``x_j = ln E_j/E_ref``). Their variance is

    .. math:: \mathrm{var}(I) = g\,[S + J C J^T],\quad J = (B,\ \textstyle\sum_j x_j B_j)

    (Poisson counting plus the propagated background-extrapolation variance; ``g`` is
    the noise gain, the median Pearson chi^2/dof of the pre-edge fits, 1 for counts in
    electrons). With hydrogenic cross-sections sigma_X(beta, Delta) from exspy for the
    same channels, the ratio and its 1 sigma are

    .. math:: R = k\,\frac{I_O/\sigma_O}{I_{TM}/\sigma_{TM}},\quad
              \frac{\sigma_R}{R} = \sqrt{\frac{\mathrm{var} I_O}{I_O^2} +
              \frac{\mathrm{var} I_{TM}}{I_{TM}^2} + \frac{\sigma_k^2}{k^2}}

    with ``k = 1`` (absolute) or ``k = reference_ratio / R_ref``, ``R_ref`` the raw ratio of
    the summed reference signals (``sum I_O/sigma_O / sum I_TM/sigma_TM``) and ``sigma_k``
    its propagated counting error. The two windows are disjoint, so the edge errors are
    independent. Hydrogenic L cross-sections miss the white lines: absolute O/TM by
    integration from real TM L2,3 edges is biased (O/TM too low by about the white-line
    excess), which the k-factor removes.

    Model: ``uncertainty`` = counting sigma (``uncertainty_statistical``, sandwich covariance
    of the linear fit times the noise gain, O-TM covariance included) combined, when no
    reference is given, with the relative systematic of the hydrogenic continua,
    sqrt(0.05^2 + 0.15^2) = 16 % (``parameters["systematic_cross_section_relative"]``;
    Egerton's accuracy of hydrogenic K and L cross-sections, stemstrain.eels._crosssection)
    and the background-model spread: the median relative change of O/TM between 2 and 3
    background-correction columns (``parameters["systematic_background_model_relative"]``;
    2-23 % on real spectra, < 1 % on a pure power law); the total relative systematic is
    ``parameters["systematic_relative"]``. On real LSMO/STO spectra it reads O/Mn 2.2-2.7
    (-10 to -25 %) and O/Ti 2.7-2.9, with low loss 3.5-3.8 (docs/notes/eels.md).

    Warns (UserWarning) where finite O/TM rests on a TM edge below 10 sigma (Currie's limit
    of quantification; below 3 sigma the ratio is NaN).

    References
    ----------
    .. [1] R. F. Egerton, Electron Energy-Loss Spectroscopy in the Electron Microscope,
       3rd ed., Springer (2011), ch. 4.4-4.5. doi:10.1007/978-1-4419-9583-4

    Examples
    --------
    >>> from stemstrain.synthetic._eels import eels_linescan
    >>> scan, truth = eels_linescan(white_lines=True, seed=0)
    >>> res = o_tm_ratio(scan, reference=slice(24, None), reference_ratio=2.0)
    >>> res.surface_index, res.calibration
    (4, 'k-factor (reference=slice(24, None, None), ratio=2)')
    >>> bool(abs(res.ratio[4] - truth["ratio"][4]) < 3 * res.uncertainty[4])
    True
    """
    if not isinstance(tm, str) or tm not in EDGE_ONSETS_EV or tm == "O":
        allowed = ", ".join(k for k in EDGE_ONSETS_EV if k != "O")
        raise StemstrainError(f"tm must be one of {allowed}, got {tm!r}")
    if method not in _METHODS:
        raise StemstrainError(
            f"method must be one of {', '.join(map(repr, _METHODS))}, got {method!r}"
        )
    if cross_section not in CROSS_SECTIONS or (method == "exspy" and cross_section != "hydrogenic"):
        raise StemstrainError(
            f"cross_section must be one of {', '.join(map(repr, CROSS_SECTIONS))} "
            f"(method='exspy': 'hydrogenic' only), got {cross_section!r}"
        )
    xp = resolve_backend(backend)
    inp = replace(read_spectrum(spectrum), cross_section=cross_section)
    result = _dispatch(
        spectrum,
        inp,
        xp,
        tm,
        method,
        reference,
        reference_ratio,
        low_loss,
        surface=surface,
        win_kw={"width_ev": float(width_ev), "pre_ev": float(pre_ev)},
        fine_structure=fine_structure,
        stop_ev=stop_ev,
        other_edges=other_edges,
    )
    result.parameters["cross_section"] = cross_section
    _warn_weak_edge(result)
    if not np.isfinite(np.asarray(result.ratio, dtype=float)).any():
        warnings.warn(
            f"spectrum: O/{tm} is NaN at every position: no {tm} L2,3 (or O K) edge above 3 "
            f"sigma of the noise; check tm= (is there {tm}?) and the energy range",
            UserWarning,
            stacklevel=2,
        )
    return result


#: TM edge significance below which O/TM is reported with a warning: Currie's limit of
#: quantification, 10 sigma (L. A. Currie, Anal. Chem. 40, 586 (1968)); 3 sigma (detection)
#: is the NaN threshold
LOQ_SIGMA = 10.0


def _warn_weak_edge(result: RatioResult) -> None:
    """Warn when finite O/TM values rest on a TM edge between 3 and 10 sigma of the noise.

    The model's significance uses the noise gain of the whole fit; where misfit inflates it
    beyond the pre-edge (noise) gain, the significance against the noise alone is larger by
    sqrt(gain / gain_pre): a strong but poorly fitted edge is not "weak" (its sigma says the rest).
    """
    params = result.parameters or {}
    deflation = 1.0
    if params.get("noise_gain_pre_edge"):
        deflation = float(np.sqrt(max(params["noise_gain"] / params["noise_gain_pre_edge"], 1.0)))
    sig = np.asarray(result.significance_tm, dtype=float) * deflation
    weak = np.isfinite(np.asarray(result.ratio, dtype=float)) & (sig < LOQ_SIGMA)
    if not weak.any():
        return
    n_finite = int(np.count_nonzero(np.isfinite(result.ratio)))
    warnings.warn(
        f"spectrum: the {result.tm} L2,3 edge is weak at {int(weak.sum())} of {n_finite} "
        f"quantified positions ({sig[weak].min():.1f}-{sig[weak].max():.1f} sigma of the noise, "
        f"below the {LOQ_SIGMA:g} sigma limit of quantification): O/{result.tm} there may rest "
        f"on noise or a misfit rather than a {result.tm} edge; check the edge in the spectra or "
        "bin positions",
        UserWarning,
        stacklevel=3,
    )


def _dispatch(  # noqa: PLR0913 - the arguments of o_tm_ratio
    spectrum: Any,
    inp: SpectrumInput,
    xp: Any,
    tm: str,
    method: str,
    reference: Any,
    reference_ratio: Any,
    low_loss: Any,
    *,
    surface: Any,
    win_kw: dict,
    fine_structure: bool,
    stop_ev: Any,
    other_edges: Any,
) -> RatioResult:
    """Run the chosen method (see ``o_tm_ratio``) on the validated input ``inp``."""
    if method == "model":
        return _model_result(
            inp,
            tm,
            low_loss=low_loss,
            stop_ev=stop_ev,
            other_edges=other_edges,
            reference=reference,
            reference_ratio=reference_ratio,
            surface=surface,
        )
    windows = {
        "o": edge_windows("O", inp.energy_ev, **win_kw),
        "tm": edge_windows(tm, inp.energy_ev, **win_kw),
    }
    if method == "integration":
        _check_overlap(windows, tm)
    thickness, params_ll = None, {"low_loss": "none"}
    if low_loss is not None and method == "integration":
        from ._lowloss import apply_low_loss

        spectrum, thickness, params_ll = apply_low_loss(spectrum, low_loss)
        inp = replace(read_spectrum(spectrum), cross_section=inp.cross_section)
    if method == "integration":
        parts, sigmas, gain = _integration_parts(inp, windows, tm, xp)
    else:
        from ._model import model_parts

        if low_loss is not None:
            params_ll = {"low_loss": "convolved into the exspy model"}
        parts, sigmas, gain = model_parts(
            inp, windows, tm, fine_structure=fine_structure, low_loss=low_loss
        )
    return _assemble(
        inp,
        parts,
        sigmas,
        gain,
        windows,
        tm=tm,
        method=method,
        reference=reference,
        reference_ratio=reference_ratio,
        surface=surface,
        thickness=thickness,
        extra={**params_ll, "fine_structure": fine_structure},
    )


def _model_result(
    inp: SpectrumInput,
    tm: str,
    *,
    low_loss: Any,
    stop_ev: Any,
    other_edges: Any,
    reference: Any,
    reference_ratio: Any,
    surface: Any,
) -> RatioResult:
    """Run the default method, the white-line-aware linear model (see ``_wlmodel``)."""
    from ._wlmodel import model_fit

    if low_loss is not None:
        _check_low_loss(inp, low_loss)
    parts, sigmas, gain, info = model_fit(
        inp, tm, low_loss=low_loss, stop_ev=stop_ev, other_edges=other_edges
    )
    # without a reference: hydrogenic K and L continua + the background-model spread
    # (2 vs 3 correction columns); a k-factor from a reference region absorbs both
    spread = float(info["background_model_relative"])
    systematic = (
        0.0
        if reference is not None
        else float(np.sqrt(SYSTEMATIC["K"] ** 2 + SYSTEMATIC["L"] ** 2 + spread**2))
    )
    extra = {
        "fit_range_ev": info["fit_range_ev"],
        "edges": info["edges"],
        "background_window_ev": info["background_window_ev"],
        "n_elnes_columns": info["n_elnes_columns"],
        "n_background": info["n_background"],
        "noise_gain_pre_edge": info["noise_gain_pre_edge"],
        "plural_replica_weight": info["plural_replica_weight"],
        "background_bic": info["background_bic"],
        "low_loss": "none" if low_loss is None else "convolved (forward model)",
        "plural_scattering": "forward-modelled (low_loss)"
        if low_loss is not None
        else "not modelled: O/TM biased low where t/lambda > 0.1 (pass low_loss=)",
        "zlp_offset_ev": info["zlp_offset_ev"],
        "systematic_relative": systematic,
        "systematic_cross_section_relative": float(np.hypot(SYSTEMATIC["K"], SYSTEMATIC["L"])),
        "systematic_background_model_relative": spread,
    }
    windows = {
        "o": {"pre": tuple(info["background_window_ev"]), "int": tuple(info["fit_range_ev"])},
        "tm": {"pre": tuple(info["background_window_ev"]), "int": tuple(info["fit_range_ev"])},
    }
    return _assemble(
        inp,
        parts,
        sigmas,
        gain,
        windows,
        tm=tm,
        method="model",
        reference=reference,
        reference_ratio=reference_ratio,
        surface=surface,
        thickness=info["thickness"],
        extra=extra,
        systematic=systematic,
    )


def _check_low_loss(inp: SpectrumInput, low_loss: Any) -> None:
    """Check that the low loss is an exspy EELS signal with the ZLP and the core-loss nav shape."""
    from ._lowloss import _check_low_loss as check_signal

    check_signal(low_loss, inp.nav_shape)
    if not hasattr(low_loss, "estimate_elastic_scattering_threshold"):
        raise StemstrainError(
            "low_loss must be an exspy EELSSpectrum; use low_loss.set_signal_type('EELS')"
        )


def _check_overlap(windows: dict, tm: str) -> None:
    """Raise when the O K and TM windows overlap (V, Cr: edges too close to O K for Δ)."""
    o, t = windows["o"], windows["tm"]
    clash = (o["int"][0] < t["int"][1] and t["int"][0] < o["int"][1]) or any(
        w["pre"][0] <= other["onset"] < w["pre"][1] for w, other in ((o, t), (t, o))
    )
    if clash:
        raise StemstrainError(
            f"the O K and {tm} L2,3 edges are too close for window integration: integration "
            f"windows {o['int']} and {t['int']} eV or a background window overlap the other "
            "edge; use method='model' or a smaller width_ev / pre_ev"
        )


def _integration_parts(inp: SpectrumInput, windows: dict, tm: str, xp: Any) -> tuple:
    """Cross-section-normalised edge signals and variances from the vectorised integration."""
    n_ch = inp.energy_ev.size
    data2d = inp.data.reshape(-1, n_ch)
    res = _integrate(inp, data2d, windows, xp)
    micro = inp.microscope
    sigmas = {
        "O": cross_section("O_K", inp.energy_ev, windows["o"]["int"], **micro),
        tm: cross_section(f"{tm}_L3", inp.energy_ev, windows["tm"]["int"], **micro),
    }
    n_int = windows["o"]["int_sl"].stop - windows["o"]["int_sl"].start
    busy = res["o_chi2_total"] > 10 * n_int  # > 10 counts per channel: Pearson chi2 reliable
    gain = noise_gain(res["o_chi2"][busy] if busy.any() else res["o_chi2"], res["o_dof"])
    parts = {}
    for key, sig in (("o", sigmas["O"]), ("tm", sigmas[tm])):
        var = gain * (res[f"{key}_var_counting"] + res[f"{key}_var_background"])
        parts[key] = res[f"{key}_signal"].reshape(inp.nav_shape) / sig
        parts[f"var_{key}"] = var.reshape(inp.nav_shape) / sig**2
    return parts, sigmas, gain


def _assemble(  # noqa: PLR0913
    inp: SpectrumInput,
    parts: dict,
    sigmas: dict,
    gain: float,
    windows: dict,
    *,
    tm: str,
    method: str,
    reference: Any,
    reference_ratio: Any,
    surface: Any,
    thickness: Any,
    extra: dict,
    systematic: float = 0.0,
) -> RatioResult:
    """Ratio, uncertainty, calibration and line-scan distances from edge signals."""
    from ._profile import detect_surface

    o, t = parts["o"], parts["tm"]
    with np.errstate(divide="ignore", invalid="ignore"):
        significance = t / np.sqrt(parts["var_tm"])
        raw = o / t
        rel_var = parts["var_o"] / o**2 + parts["var_tm"] / t**2
        if "cov" in parts:  # the model's O and TM amplitudes are correlated
            rel_var = np.maximum(rel_var - 2 * parts["cov"] / (o * t), 0.0)
    valid = np.isfinite(significance) & (significance >= 3.0) & np.isfinite(raw)
    raw = np.where(valid, raw, np.nan)
    k, k_sigma, label = _calibrate(raw, rel_var, parts, reference, reference_ratio, inp.nav_shape)
    ratio = k * raw
    unc_stat = np.abs(ratio) * np.sqrt(rel_var + (k_sigma / k) ** 2)
    unc = np.hypot(unc_stat, systematic * np.abs(ratio))
    dtype = np.float32 if np.dtype(inp.data.dtype) == np.float32 else np.float64
    pixel_size = _nav_pixel_size(inp)
    distance, surf = None, None
    if len(inp.nav_shape) == 1:
        surf, direction = detect_surface(significance, surface=surface)
        if surf is not None:
            step = pixel_size if pixel_size is not None else 1.0
            distance = direction * (np.arange(inp.nav_shape[0]) - surf) * step
    params = {
        "windows_ev": {
            k_: {"pre": list(w["pre"]), "int": list(w["int"])} for k_, w in windows.items()
        },
        "beam_energy_kev": inp.beam_energy_kev,
        "convergence_mrad": inp.convergence_mrad,
        "collection_mrad": inp.collection_mrad,
        "noise_gain": gain,
        **extra,
    }
    return RatioResult(
        ratio=ratio.astype(dtype),
        uncertainty=unc.astype(dtype),
        uncertainty_statistical=unc_stat.astype(dtype),
        signal_o=np.asarray(o, dtype=dtype),
        signal_tm=np.asarray(t, dtype=dtype),
        significance_tm=np.asarray(significance, dtype=dtype),
        distance_nm=distance,
        surface_index=surf,
        k_factor=float(k),
        k_factor_uncertainty=float(k_sigma),
        calibration=label,
        method=method,
        tm=tm,
        cross_sections=sigmas,
        parameters=params,
        pixel_size=pixel_size,
        thickness=thickness,
    )


def _nav_pixel_size(inp: SpectrumInput) -> float | None:
    """Navigation step in nm (first navigation axis), None when not a length."""
    from .._validate import length_unit_to_nm

    if not inp.nav_scale:
        return None
    factor = length_unit_to_nm(inp.nav_units[-1])
    if factor is None:
        warnings.warn(
            "spectrum: navigation axes are not calibrated in a length unit; "
            "distances are in positions",
            UserWarning,
            stacklevel=5,
        )
        return None
    return float(inp.nav_scale[-1]) * factor
