"""TM valence from the L2,3 white lines: ``tm_valence``, ``ValenceResult``, calibrations.

Features (``_whitelines``): the white-line ratio ``r = I(L3)/I(L2)`` (Pearson double-step
continuum), the L3 maximum and the L3 centroid (first moment). Two independent estimates of the
valence ``v`` are averaged with inverse-variance weights:

* the branching ratio ``B = r / (1 + r)`` through the mixing + hole-count model: the total
  white-line intensity per atom is proportional to the number of 3d holes
  ``n_h = v + n0`` (``n0 = 28 - Z``) [1]_, and a mixed-valence ion is, for the white lines,
  the atom-weighted mixture of its end members [2]_, so ``I3 ∝ B n_h`` is linear in ``v``:
  ``B (v + n0) = alpha + beta v``, i.e. ``v = (alpha - n0 B) / (B - beta)`` — monotone and
  steepest where B is large (2+ -> 3+ for Mn);
* where the energy axis is self-calibrated, the L3 centroid chemical shift, linear in ``v`` [3]_.

Each estimate's sigma combines counting noise and the RMS residual of its calibration. The
shipped Mn calibration is built from the experimental Mn L2,3 references of MnEdgeNet [4]_
(MnO and YBaMn3AlO7: Mn2+, LaMnO3: Mn3+, SrMnO3: Mn4+), features measured with this code.
Other TMs have no shipped calibration: the features are returned and the valence is NaN
(with a warning) unless ``calibration=`` from :func:`valence_calibration` is given.

References
----------
.. [1] D. H. Pearson, C. C. Ahn, B. Fultz, Phys. Rev. B 47, 8471 (1993);
   B. T. Thole, G. van der Laan, Phys. Rev. B 38, 3158 (1988).
.. [2] P. A. van Aken, B. Liebscher, Phys. Chem. Miner. 29, 188 (2002).
.. [3] H. Tan, J. Verbeeck, A. Abakumov, G. Van Tendeloo, Ultramicroscopy 116, 24 (2012).
.. [4] Z. Ji, M. Hu, H. L. Xin, Sci. Rep. 13, 14132 (2023), doi:10.1038/s41598-023-40616-5;
   spectra github.com/xinhuolin/MnEdgeNet ``test_Mn_spectra/Data2_*.csv``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import StemstrainError
from ..results import ResultBase
from ._input import EDGE_ONSETS_EV, read_spectrum
from ._whitelines import white_line_features

__all__ = ["ValenceResult", "ValenceCalibration", "tm_valence", "valence_calibration"]

#: Mn references (valence, L3/L2 ratio, L3 centroid eV) measured by ``white_line_features``
#: on the MnEdgeNet spectra (Ji, Hu, Xin 2023), resampled on their median step
MN_REFERENCES = (
    ("MnO", 2.0, 4.285, 641.04),
    ("YBaMn3AlO7", 2.0, 4.044, 641.10),
    ("LaMnO3", 3.0, 2.429, 642.64),
    ("SrMnO3", 4.0, 1.924, 643.29),
)

#: atomic numbers of the TMs with L2,3 white lines (3d holes n_h = v + 28 - Z)
_Z = {"Ti": 22, "V": 23, "Cr": 24, "Mn": 25, "Fe": 26, "Co": 27, "Ni": 28, "Cu": 29}


@dataclass(frozen=True)
class ValenceCalibration:
    """Valence calibrations with their RMS residuals (valence units).

    ``branching = (alpha, beta)``: ``B (v + holes_offset) = alpha + beta v`` (mixing +
    hole-count model, ``B = r/(1+r)``); ``position = (c, d)``: ``v = c + d E_centroid(L3)``.
    ``*_design = (n, mean, Sxx)`` of each fit's regressor (valence; L3 centroid) give the
    prediction sigma ``rms sqrt(1 + 1/n + (x - mean)^2 / Sxx)``, which grows where the
    calibration is extrapolated.
    """

    tm: str
    branching: tuple[float, float]
    branching_rms: float
    position: tuple[float, float] | None
    position_rms: float
    source: str
    valence_range: tuple[float, float] = (2.0, 4.0)
    holes_offset: float = 3.0
    branching_design: tuple[float, float, float] = (np.nan, np.nan, np.nan)
    position_design: tuple[float, float, float] = (np.nan, np.nan, np.nan)


def _rms(resid: np.ndarray) -> float:
    return float(np.sqrt((resid**2).sum() / max(resid.size - 2, 1)))


def _design(x: np.ndarray) -> tuple[float, float, float]:
    return float(x.size), float(x.mean()), float(((x - x.mean()) ** 2).sum())


def prediction_sigma(rms: float, design: tuple[float, float, float], x: np.ndarray) -> np.ndarray:
    """Calibration sigma at ``x``: residual RMS times the regression prediction factor."""
    n, mean, sxx = design
    return rms * np.sqrt(1.0 + 1.0 / n + (x - mean) ** 2 / sxx)


def valence_from_branching(cal: ValenceCalibration, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Valence and dv/dB of the mixing model; NaN beyond its pole (B <= beta)."""
    alpha, beta = cal.branching
    n0 = cal.holes_offset
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (alpha - n0 * b) / (b - beta)
        dv = (n0 * beta - alpha) / (b - beta) ** 2
    ok = b > beta
    return np.where(ok, v, np.nan), np.where(ok, dv, np.nan)


def valence_calibration(
    ratios: Any,
    valences: Any,
    *,
    tm: str,
    l3_centroids_ev: Any = None,
    source: str = "user references",
) -> ValenceCalibration:
    """Calibration from references of known valence (their L3/L2 ratios and L3 centroids).

    Parameters
    ----------
    ratios : array-like
        L3/L2 white-line ratios of the references (``tm_valence(...).l3_l2_ratio``).
    valences : array-like
        Their nominal valences (at least two different values).
    tm : str
        Transition metal (sets the 3d-hole offset ``n0 = 28 - Z``).
    l3_centroids_ev : array-like, optional
        L3 centroids (``tm_valence(...).l3_centroid_ev``) on an absolutely calibrated axis
        (enables the chemical-shift estimate).
    source : str
        Label stored in the results.

    Returns
    -------
    ValenceCalibration

    Examples
    --------
    >>> cal = valence_calibration([2.6, 1.9], [3, 4], tm="Mn")  # Mn3+, Mn4+ references
    >>> cal.holes_offset, [round(x, 3) for x in cal.branching]  # B (v + 3) = alpha + beta v
    (3.0, [3.575, 0.253])
    """
    r = np.asarray(ratios, dtype=float)
    v = np.asarray(valences, dtype=float)
    if r.shape != v.shape or r.ndim != 1 or np.unique(v).size < 2 or not np.isfinite(r).all():
        raise StemstrainError(
            "valence_calibration: ratios and valences must be 1-D, of equal "
            "length, finite, with at least two different valences"
        )
    if tm not in _Z:
        raise StemstrainError(f"tm must be one of {', '.join(_Z)}, got {tm!r}")
    n0 = float(28 - _Z[tm])
    b = r / (1 + r)
    beta, alpha = np.polyfit(v, b * (v + n0), 1)
    cal = ValenceCalibration(
        tm=tm,
        branching=(float(alpha), float(beta)),
        branching_rms=0.0,
        position=None,
        position_rms=float("nan"),
        source=source,
        valence_range=(float(v.min()), float(v.max())),
        holes_offset=n0,
    )
    b_rms = _rms(valence_from_branching(cal, b)[0] - v)
    position, p_rms = None, float("nan")
    if l3_centroids_ev is not None:
        p = np.asarray(l3_centroids_ev, dtype=float)
        slope, icpt = np.polyfit(p, v, 1)
        position, p_rms = (float(icpt), float(slope)), _rms(v - (icpt + slope * p))
    return ValenceCalibration(
        tm=tm,
        branching=cal.branching,
        branching_rms=b_rms,
        position=position,
        position_rms=p_rms,
        source=source,
        valence_range=cal.valence_range,
        holes_offset=n0,
        branching_design=_design(v),
        position_design=_design(p) if position is not None else (np.nan,) * 3,
    )


def _default_calibration(tm: str) -> ValenceCalibration | None:
    """Return the shipped calibration (Mn only; None for a TM without shipped references)."""
    if tm != "Mn":
        return None
    _, v, r, p = (np.array(c) for c in zip(*MN_REFERENCES, strict=True))
    return valence_calibration(
        r.astype(float),
        v.astype(float),
        tm="Mn",
        l3_centroids_ev=p.astype(float),
        source="MnEdgeNet Mn references (Ji, Hu, Xin 2023)",
    )


@dataclass(frozen=True)
class ValenceResult(ResultBase):
    """TM valence over the navigation axes of an EELS line scan or spectrum image.

    Attributes
    ----------
    valence : ndarray
        Valence (navigation shape; NaN where the white lines are not significant).
    uncertainty : ndarray
        1 sigma (counting noise of the features + calibration prediction sigma: the
        references' residual RMS, inflated where the calibration is extrapolated).
    l3_l2_ratio, l3_l2_uncertainty : ndarray
        White-line ratio I(L3)/I(L2) (Pearson double-step continuum) and its 1 sigma.
    l3_position_ev : ndarray
        L3 maximum on the self-calibrated axis (eV).
    l3_centroid_ev : ndarray or None
        L3 centroid (first moment of the step-subtracted L3 line) on the self-calibrated
        axis (eV): the chemical-shift feature of the calibration.
    energy_shift_ev : float
        Shift added to the energy axis by the self-calibration (0 without one).
    energy_reference : str
        ``"zlp"``, ``"O_K"``, ``"given"`` or ``"none"`` (positions not trusted).
    method : str
        ``"ratio"``, ``"ratio+position"`` or ``"uncalibrated"`` (no calibration for ``tm``:
        features only, valence NaN).
    tm : str
        Transition metal.
    calibration : str
        Source of the valence calibration.
    pixel_size : float or None
        Navigation step in nm.
    """

    valence: np.ndarray
    uncertainty: np.ndarray
    l3_l2_ratio: np.ndarray
    l3_l2_uncertainty: np.ndarray
    l3_position_ev: np.ndarray
    l3_centroid_ev: np.ndarray | None = None
    energy_shift_ev: float = 0.0
    energy_reference: str = "none"
    method: str = "ratio"
    tm: str = "Mn"
    calibration: str = ""
    pixel_size: float | None = None

    group: ClassVar[str] = "eels/valence"
    map_fields: ClassVar[tuple[str, ...]] = ("valence", "uncertainty")
    array_fields: ClassVar[tuple[str, ...]] = (
        "l3_l2_ratio",
        "l3_l2_uncertainty",
        "l3_position_ev",
        "l3_centroid_ev",
    )
    attr_fields: ClassVar[tuple[str, ...]] = (
        "energy_shift_ev",
        "energy_reference",
        "method",
        "tm",
        "calibration",
    )

    def plot(self, **kwargs: Any) -> Any:
        """Valence profile with its 1 sigma band (line scans) or valence/sigma maps."""
        from ..plot import plot_value_and_sigma

        return plot_value_and_sigma(self, "valence", "uncertainty", label="valence", **kwargs)

    def to_signal(self) -> Any:
        """HyperSpy signal stacking valence and uncertainty (Signal1D for line scans)."""
        from ._ratio import stack_signal

        return stack_signal(self, ("valence", "uncertainty"))


def _energy_shift(inp: Any, energy_reference: Any, low_loss: Any) -> tuple[float, str]:
    """Shift (eV) that puts the ZLP at 0 or the O K half-rise at 530 eV."""
    if energy_reference is None:
        energy_reference = (
            "zlp"
            if low_loss is not None
            else ("O_K" if inp.energy_ev[0] < 520 < 545 < inp.energy_ev[-1] else "none")
        )
    if isinstance(energy_reference, (int, float)) and not isinstance(energy_reference, bool):
        return float(energy_reference), "given"
    if energy_reference == "none":
        return 0.0, "none"
    if energy_reference == "zlp":
        if low_loss is None:
            raise StemstrainError("energy_reference='zlp' needs low_loss= (the zero-loss peak)")
        ax = low_loss.axes_manager.signal_axes[0]
        ll = np.asarray(low_loss.data, dtype=float).reshape(-1, ax.size).sum(0)
        e = np.asarray(ax.axis, dtype=float)
        pk = int(np.argmax(ll))
        w = slice(max(pk - 3, 0), pk + 4)
        return -float((e[w] * ll[w]).sum() / ll[w].sum()), "zlp"
    if energy_reference == "O_K":
        e = inp.energy_ev
        mean = np.asarray(inp.data).reshape(-1, e.size).mean(0, dtype=np.float64)
        pre = (e >= 505) & (e < 522)
        sel = (e >= 522) & (e < 545)
        base = np.polyval(
            np.polyfit(np.log(e[pre]), np.log(np.clip(mean[pre], 1e-9, None)), 1), np.log(e[sel])
        )
        net = mean[sel] - np.exp(base)
        half = np.flatnonzero(net >= 0.5 * net.max())[0]
        return 530.0 - float(e[sel][half]), "O_K"
    raise StemstrainError(
        f"energy_reference must be None, 'zlp', 'O_K', 'none' or a shift in "
        f"eV, got {energy_reference!r}"
    )


#: absolute accuracy (eV) of a self-calibrated axis: O K threshold spread over 3d oxides
#: (~529-532 eV, de Groot et al. PRB 40, 5715 (1989): 2 eV / sqrt(12)); ZLP: an assumed 0.1 %
#: dispersion accuracy over the distance to L3 (fraction of the energy); a given shift: 0
_AXIS_SIGMA = {"O_K": 0.6, "zlp": 0.001, "given": 0.0, "none": 0.0}


def _axis_sigma_ev(ref: str, tm: str) -> float:
    """1 sigma of the absolute energy of the L3 line on the self-calibrated axis."""
    return _AXIS_SIGMA[ref] * (EDGE_ONSETS_EV[tm] if ref == "zlp" else 1.0)


def _estimate(
    cal: ValenceCalibration | None, feats: dict, use_pos: bool, axis_sigma_ev: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-variance mean of the branching-ratio and L3-centroid valences, and its variance."""
    r, sr = feats["ratio"], feats["sigma"]
    if cal is None:
        return np.full(r.shape, np.nan), np.full(r.shape, np.nan)
    v_b, dv = valence_from_branching(cal, r / (1 + r))
    s_cal = prediction_sigma(cal.branching_rms, cal.branching_design, v_b)
    var_b = (dv * sr / (1 + r) ** 2) ** 2 + s_cal**2
    if not use_pos:
        return v_b, var_b
    pos = feats["l3_centroid_ev"]
    v_p = cal.position[0] + cal.position[1] * pos
    s_cal = prediction_sigma(cal.position_rms, cal.position_design, pos)
    s_pos = np.hypot(feats["l3_centroid_sigma_ev"], axis_sigma_ev)
    var_p = (cal.position[1] * s_pos) ** 2 + s_cal**2
    w_b, w_p = 1 / var_b, 1 / var_p
    return (w_b * v_b + w_p * v_p) / (w_b + w_p), 1 / (w_b + w_p)


def _warn(
    v: np.ndarray,
    sigma: np.ndarray,
    cal: ValenceCalibration | None,
    tm: str,
    uncalibrated_axis: bool,
) -> None:
    if cal is None:
        warnings.warn(
            f"tm_valence: no calibration for {tm} (none shipped: no cited {tm} references); "
            "valence is NaN, l3_l2_ratio / l3_centroid_ev are measured — pass calibration="
            "ss.valence_calibration(ratios, valences, tm=...) from references of known valence",
            UserWarning,
            stacklevel=3,
        )
        return
    lo, hi = cal.valence_range
    margin = 2.0 * sigma
    outside = np.isfinite(v) & ((v < lo - margin) | (v > hi + margin))
    if outside.any():
        warnings.warn(
            f"tm_valence: {int(outside.sum())} of {int(np.isfinite(v).sum())} valences lie more "
            f"than 2 sigma outside the calibrated range {lo:g}-{hi:g} (extrapolated: sigma "
            "does not include the unknown curvature of the calibration beyond its "
            "references; or white lines too weak / not this TM): do not trust them",
            UserWarning,
            stacklevel=3,
        )
    if uncalibrated_axis:
        warnings.warn(
            "tm_valence: the energy axis is not self-calibrated (no low loss, no "
            "O K); l3_position_ev is on the recorded axis and only the white-line "
            "ratio is used",
            UserWarning,
            stacklevel=3,
        )


def _warn_weak_lines(feats: dict, tm: str) -> None:
    """Warn where a finite L3/L2 rests on white lines below the limit of quantification.

    Same limit as ``o_tm_ratio``: 10 sigma of the noise (Currie, Anal. Chem. 40, 586
    (1968)); below 3 sigma the features are NaN already.
    """
    from ._ratio import LOQ_SIGMA

    weak = np.isfinite(feats["ratio"]) & (feats["snr"] < LOQ_SIGMA)
    if weak.any():
        warnings.warn(
            f"tm_valence: the {tm} white lines are weak at {int(weak.sum())} of "
            f"{int(np.isfinite(feats['ratio']).sum())} measured positions (3-{LOQ_SIGMA:g} sigma "
            "of the noise, below the limit of quantification): L3/L2 and valence there are "
            "not quantitative; bin positions or check the edge",
            UserWarning,
            stacklevel=3,
        )


def tm_valence(
    spectrum: Any,
    tm: str = "Mn",
    *,
    method: str = "auto",
    energy_reference: Any = None,
    low_loss: Any = None,
    calibration: ValenceCalibration | None = None,
) -> ValenceResult:
    """Transition-metal valence from the L2,3 white lines of every spectrum.

    Parameters
    ----------
    spectrum : exspy.signals.EELSSpectrum or hyperspy Signal1D
        Spectra covering the TM L2,3 edge (eV axis), raw (a power-law pre-edge window is
        fitted when >= 5 eV are recorded below L3 - 8 eV) or background-subtracted.
    tm : {"Mn", "Co", "Ni", "Fe"}
        Transition metal (also Ti, V, Cr, Cu).
    method : {"auto", "ratio", "ratio+position"}
        ``"ratio"``: branching ratio only (no absolute energy needed); ``"ratio+position"``:
        also the L3 centroid chemical shift, inverse-variance averaged; ``"auto"``: the latter
        when the axis is self-calibrated.
    energy_reference : None, "zlp", "O_K", "none" or float
        Energy self-calibration: the ZLP of ``low_loss`` at 0 eV, the O K half-rise at
        530 eV, none, or a known shift (eV). None: ZLP if ``low_loss``, O K if recorded.
    low_loss : EELSSpectrum, optional
        Matching low loss (DualEELS) for the ZLP calibration.
    calibration : ValenceCalibration, optional
        From :func:`valence_calibration`; default for Mn: the MnEdgeNet references; no
        default for other TMs (valence NaN with a warning, features still measured).

    Returns
    -------
    ValenceResult
        ``valence``, ``uncertainty``, ``l3_l2_ratio``, ``l3_position_ev``, ``l3_centroid_ev``.

    Raises
    ------
    StemstrainError
        Unknown ``tm``/``method``/``energy_reference``, L2,3 edge not in range.
    """
    if not isinstance(tm, str) or tm not in EDGE_ONSETS_EV or tm == "O":
        raise StemstrainError(f"tm must be one of Ti, V, Cr, Mn, Fe, Co, Ni, Cu, got {tm!r}")
    if method not in ("auto", "ratio", "ratio+position"):
        raise StemstrainError(f"method must be 'auto', 'ratio' or 'ratio+position', got {method!r}")
    cal = _default_calibration(tm) if calibration is None else calibration
    inp = read_spectrum(spectrum, microscope=False)
    shift, ref = _energy_shift(inp, energy_reference, low_loss)
    energy = inp.energy_ev + shift
    if not (energy[0] < EDGE_ONSETS_EV[tm] + 15 and energy[-1] > EDGE_ONSETS_EV[tm] + 20):
        raise StemstrainError(
            f"spectrum: no {tm} L2,3 edge in range ({energy[0]:.1f}-{energy[-1]:.1f} eV)"
        )
    feats = white_line_features(
        np.asarray(inp.data).reshape(-1, energy.size), energy, tm, calibrated=ref != "none"
    )
    use_pos = method == "ratio+position" or (method == "auto" and ref != "none")
    if use_pos and cal is not None and (cal.position is None or ref == "none"):
        if method == "ratio+position":
            raise StemstrainError(
                "method='ratio+position' needs a calibrated energy axis and "
                "a calibration with L3 centroids"
            )
        use_pos = False
    v, var = _estimate(cal, feats, use_pos, _axis_sigma_ev(ref, tm))
    _warn(v, np.sqrt(var), cal, tm, ref == "none" and energy_reference is None)
    _warn_weak_lines(feats, tm)
    shape = inp.nav_shape
    from ._ratio import _nav_pixel_size

    return ValenceResult(
        valence=v.reshape(shape),
        uncertainty=np.sqrt(var).reshape(shape),
        l3_l2_ratio=feats["ratio"].reshape(shape),
        l3_l2_uncertainty=feats["sigma"].reshape(shape),
        l3_position_ev=feats["l3_ev"].reshape(shape),
        l3_centroid_ev=feats["l3_centroid_ev"].reshape(shape),
        energy_shift_ev=shift,
        energy_reference=ref,
        method="uncalibrated" if cal is None else ("ratio+position" if use_pos else "ratio"),
        tm=tm,
        calibration="none" if cal is None else cal.source,
        pixel_size=_nav_pixel_size(inp),
    )
