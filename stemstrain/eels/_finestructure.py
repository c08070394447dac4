"""O K pre-peak ratio and MLLS reference fitting (phase fractions), vectorised, with 1 sigma.

* :func:`o_prepeak_ratio`: the O K pre-peak (TM 3d - O 2p hybridisation, ~528-532 eV)
  over the main edge (535-545 eV), after the power law fitted (Poisson ML) to 480-520 eV.
  Var = g * (S + background extrapolation), as in the O/TM integration.
* :func:`mlls_fit`: multiple linear least squares of every spectrum on reference spectra
  (e.g. layered vs rock-salt) plus, optionally, a power law ``E^-r0`` and ``E^-r0 ln E``
  (``r0`` from the data); one pseudo-inverse for all spectra, weights' covariance by the
  sandwich ``M diag(g mu) M^T``. Fractions = weights / their sum, sigma propagated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import StemstrainError
from ..results import ResultBase
from ._input import read_spectrum
from ._integration import edge_integral, noise_gain

__all__ = ["PrePeakResult", "MLLSResult", "o_prepeak_ratio", "mlls_fit"]


@dataclass(frozen=True)
class PrePeakResult(ResultBase):
    """O K pre-peak / main-edge intensity ratio over the navigation axes.

    Attributes
    ----------
    ratio, uncertainty : ndarray
        Pre-peak over main-edge counts (background subtracted) and 1 sigma; NaN where the
        main edge is below 3 sigma.
    windows_ev : dict
        ``background``, ``prepeak``, ``main`` windows (eV).
    noise_gain : float
        Variance per count (median Pearson chi^2/dof of the background fits).
    pixel_size : float or None
        Navigation step in nm.
    """

    ratio: np.ndarray
    uncertainty: np.ndarray
    windows_ev: dict | None = None
    noise_gain: float = 1.0
    pixel_size: float | None = None

    group: ClassVar[str] = "eels/prepeak"
    map_fields: ClassVar[tuple[str, ...]] = ("ratio", "uncertainty")
    attr_fields: ClassVar[tuple[str, ...]] = ("windows_ev", "noise_gain")

    def plot(self, **kwargs: Any) -> Any:
        """Pre-peak ratio with 1 sigma (band or maps)."""
        from ..plot import plot_value_and_sigma

        return plot_value_and_sigma(
            self, "ratio", "uncertainty", label="O K pre-peak / main", **kwargs
        )

    def to_signal(self) -> Any:
        """HyperSpy signal stacking ratio and uncertainty (Signal1D for line scans)."""
        from ._ratio import stack_signal

        return stack_signal(self, ("ratio", "uncertainty"))


def _window(e: np.ndarray, lo: float, hi: float, name: str) -> dict:
    idx = np.flatnonzero((e >= lo) & (e < hi))
    if idx.size < 3:
        raise StemstrainError(
            f"spectrum: the {name} window {lo:g}-{hi:g} eV has {idx.size} "
            "channels; record the O K edge with its pre-edge (>= 480 eV)"
        )
    return {"sl": slice(idx[0], idx[-1] + 1)}


def o_prepeak_ratio(
    spectrum: Any,
    *,
    prepeak_ev: tuple[float, float] = (527.0, 532.0),
    main_ev: tuple[float, float] = (535.0, 545.0),
    background_ev: tuple[float, float] = (480.0, 520.0),
) -> PrePeakResult:
    """O K pre-peak to main-edge intensity ratio of every spectrum, with 1 sigma.

    Parameters
    ----------
    spectrum : exspy.signals.EELSSpectrum or hyperspy Signal1D
        Core-loss spectra with the O K edge and its pre-edge (eV axis).
    prepeak_ev, main_ev, background_ev : tuple of float
        Pre-peak, main-edge and power-law background windows (eV).

    Returns
    -------
    PrePeakResult
    """
    from ._ratio import _nav_pixel_size

    inp = read_spectrum(spectrum, microscope=False)
    e = inp.energy_ev
    bg = _window(e, *background_ev, "background")
    data = inp.data.reshape(-1, e.size)
    pre_counts = np.asarray(data[:, bg["sl"]], dtype=float)
    out = {}
    for key, win in (("pre", prepeak_ev), ("main", main_ev)):
        w = _window(e, *win, key)
        window = {"pre_sl": bg["sl"], "int_sl": w["sl"]}
        out[key] = edge_integral(
            pre_counts,
            np.asarray(data[:, w["sl"]], dtype=float),
            e,
            window,
            np,
            chi2_rows=slice(None) if key == "pre" else None,
        )
    gain = noise_gain(out["pre"]["chi2"], out["pre"]["dof"])
    p, m = out["pre"]["signal"], out["main"]["signal"]
    var_p = gain * (out["pre"]["var_counting"] + out["pre"]["var_background"])
    var_m = gain * (out["main"]["var_counting"] + out["main"]["var_background"])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = p / m
        unc = np.abs(ratio) * np.sqrt(var_p / p**2 + var_m / m**2)
    bad = ~(m > 3 * np.sqrt(var_m))
    ratio, unc = np.where(bad, np.nan, ratio), np.where(bad, np.nan, unc)
    return PrePeakResult(
        ratio=ratio.reshape(inp.nav_shape),
        uncertainty=unc.reshape(inp.nav_shape),
        windows_ev={
            "background": list(background_ev),
            "prepeak": list(prepeak_ev),
            "main": list(main_ev),
        },
        noise_gain=gain,
        pixel_size=_nav_pixel_size(inp),
    )


@dataclass(frozen=True)
class MLLSResult(ResultBase):
    """MLLS weights and fractions of reference spectra over the navigation axes.

    Attributes
    ----------
    weights, weights_uncertainty : ndarray
        (n_references, *nav) least-squares weights and 1 sigma.
    fractions, fractions_uncertainty : ndarray
        Weights over their sum (phase fractions) and 1 sigma.
    names : list of str
        Reference names.
    reduced_chi2 : ndarray
        Pearson chi^2 / dof per spectrum (model adequacy).
    pixel_size : float or None
        Navigation step in nm.
    """

    weights: np.ndarray
    weights_uncertainty: np.ndarray
    fractions: np.ndarray
    fractions_uncertainty: np.ndarray
    names: list | None = None
    reduced_chi2: np.ndarray | None = None
    pixel_size: float | None = None

    group: ClassVar[str] = "eels/mlls"
    map_fields: ClassVar[tuple[str, ...]] = ()
    array_fields: ClassVar[tuple[str, ...]] = (
        "weights",
        "weights_uncertainty",
        "fractions",
        "fractions_uncertainty",
        "reduced_chi2",
    )
    attr_fields: ClassVar[tuple[str, ...]] = ("names",)

    def plot(self, index: int = 0, **kwargs: Any) -> Any:
        """Fraction of reference ``index`` with 1 sigma (band or maps)."""
        from ..plot import plot_value_and_sigma

        view = _FractionView(
            self.fractions[index], self.fractions_uncertainty[index], self.pixel_size
        )
        name = self.names[index] if self.names else str(index)
        return plot_value_and_sigma(view, "value", "sigma", label=f"fraction {name}", **kwargs)

    def to_signal(self) -> Any:
        """HyperSpy signal stacking every fraction and its 1 sigma (2 x n_references maps)."""
        import hyperspy.api as hs

        stack = np.concatenate([self.fractions, self.fractions_uncertainty]).astype(float)
        if stack.ndim == 1:
            stack = stack[:, None]
        sig = hs.signals.Signal1D(stack) if stack.ndim == 2 else hs.signals.Signal2D(stack)
        names = [f"fraction {n}" for n in self.names] + [f"sigma {n}" for n in self.names]
        if self.pixel_size:
            for ax in sig.axes_manager.signal_axes:
                ax.scale, ax.units = float(self.pixel_size), "nm"
        sig.metadata.General.title = f"{self.group}: " + ", ".join(names)
        sig.metadata.set_item("stemstrain.maps", names)
        return sig


@dataclass(frozen=True)
class _FractionView:
    value: np.ndarray
    sigma: np.ndarray
    pixel_size: float | None


def mlls_fit(
    spectrum: Any,
    references: Any,
    *,
    names: Any = None,
    energy_range_ev: tuple[float, float] | None = None,
    background: bool = True,
) -> MLLSResult:
    """Fit every spectrum as a linear combination of reference spectra (MLLS).

    Parameters
    ----------
    spectrum : exspy.signals.EELSSpectrum or hyperspy Signal1D
        Spectra (eV axis).
    references : array-like (n_references, channels)
        Reference spectra on the same energy axis (e.g. layered and rock-salt O K).
    names : list of str, optional
        Reference names.
    energy_range_ev : tuple of float, optional
        Fit range (eV); default the whole axis.
    background : bool
        Add a power law ``E^-r0`` and ``E^-r0 ln E`` (r0 = 3) to the references.

    Returns
    -------
    MLLSResult
    """
    from ._ratio import _nav_pixel_size

    inp = read_spectrum(spectrum, microscope=False)
    e = inp.energy_ev
    refs = np.atleast_2d(np.asarray(references, dtype=float))
    if refs.shape[1] != e.size:
        raise StemstrainError(
            f"references must have {e.size} channels (the spectrum's "
            f"energy axis), got shape {refs.shape}"
        )
    lo, hi = energy_range_ev if energy_range_ev is not None else (e[0], e[-1] + 1e-9)
    sel = (e >= lo) & (e < hi)
    cols = [r[sel] for r in refs]
    n_ref = len(cols)
    if background:
        x = np.log(e[sel] / e[sel].mean())
        p = np.exp(-3.0 * x)
        cols += [p, p * x]
    design = np.column_stack(cols)
    pinv = np.linalg.pinv(design)
    y = np.asarray(inp.data, dtype=float).reshape(-1, e.size)[:, sel]
    coef = y @ pinv.T
    mu = coef @ design.T
    var = np.maximum(mu, 1.0)
    dof = max(design.shape[0] - design.shape[1], 1)
    chi2 = ((y - mu) ** 2 / var).sum(1) / dof
    gain = float(np.median(chi2))
    m = pinv[:n_ref]
    cov = gain * np.einsum("kc,lc,nc->nkl", m, m, var)
    w = coef[:, :n_ref]
    total = w.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = w / total[:, None]
        # d f_k / d w_l = (delta_kl - f_k) / total
        jac = (np.eye(n_ref)[None] - frac[:, :, None]) / total[:, None, None]
        cov_f = np.einsum("nkl,nlm,njm->nkj", jac, cov, jac)
    nav = inp.nav_shape
    return MLLSResult(
        weights=w.T.reshape((n_ref, *nav)),
        weights_uncertainty=np.sqrt(np.einsum("nkk->nk", cov)).T.reshape((n_ref, *nav)),
        fractions=frac.T.reshape((n_ref, *nav)),
        fractions_uncertainty=np.sqrt(np.einsum("nkk->nk", cov_f)).T.reshape((n_ref, *nav)),
        names=list(names) if names is not None else [f"ref{i}" for i in range(n_ref)],
        reduced_chi2=chi2.reshape(nav),
        pixel_size=_nav_pixel_size(inp),
    )
