"""Figures of EELS O/TM results: a profile with its 1 sigma band, or ratio/uncertainty maps."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import new_figure, show_map

__all__ = ["plot_ratio", "plot_eels_maps"]


def plot_ratio(
    result: Any, *, ax: Any = None, reference_line: float | None = None, **_: Any
) -> Any:
    """Plot a :class:`~stemstrain.eels.RatioResult`.

    Line scans: O/TM against distance from the surface (nm; position index when no
    surface was found) with the 1 sigma band. Spectrum images: the ratio map and its
    1 sigma map side by side.

    Parameters
    ----------
    result : RatioResult
        From ``ss.o_tm_ratio``.
    ax : matplotlib Axes, optional
        Line scans only: draw into this axes instead of a new figure.
    reference_line : float, optional
        Draw a horizontal line at this ratio (e.g. 2.0 for LiCoO2).

    Returns
    -------
    matplotlib.figure.Figure
    """
    ratio = np.asarray(result.ratio, dtype=float)
    unc = np.asarray(result.uncertainty, dtype=float)
    title = f"O/{result.tm} ({result.method}; {result.calibration})"
    if ratio.ndim <= 1:
        ratio, unc = np.atleast_1d(ratio), np.atleast_1d(unc)
        if ax is None:
            fig, axes = new_figure(1, size=4.0)
            ax = axes[0]
        fig = ax.figure
        if result.distance_nm is not None:
            x, xlabel = np.asarray(result.distance_nm, dtype=float), "distance from surface (nm)"
        else:
            x, xlabel = np.arange(ratio.size, dtype=float), "position"
        ax.fill_between(x, ratio - unc, ratio + unc, color="tab:blue", alpha=0.3, lw=0, label="1σ")
        ax.plot(x, ratio, "o-", color="tab:blue", ms=3, label=f"O/{result.tm}")
        if reference_line is not None:
            ax.axhline(reference_line, color="k", ls="--", lw=0.8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"O/{result.tm} atomic ratio")
        ax.set_title(title, fontsize=8)
        ax.legend(fontsize=8)
        return fig
    fig, axes = new_figure(2)
    show_map(axes[0], ratio, f"O/{result.tm}", pixel_size=result.pixel_size, diverging=False)
    show_map(axes[1], unc, "1σ", pixel_size=result.pixel_size, diverging=False, cmap="magma")
    fig.suptitle(title, fontsize=8)
    return fig


def plot_eels_maps(
    result: Any, value: str, sigma: str, *, label: str, ax: Any = None, **_: Any
) -> Any:
    """Plot one EELS quantity with its 1 sigma: a band for line scans, two maps otherwise.

    Parameters
    ----------
    result : ValenceResult, PrePeakResult or MLLSResult
        Any result with the two array fields named by ``value`` and ``sigma``.
    value, sigma : str
        Field names of the quantity and its 1 sigma.
    label : str
        Axis / colour-bar label.
    ax : matplotlib Axes, optional
        Line scans only: draw into this axes.

    Returns
    -------
    matplotlib.figure.Figure
    """
    val = np.asarray(getattr(result, value), dtype=float)
    sig = np.asarray(getattr(result, sigma), dtype=float)
    if val.ndim <= 1:
        if ax is None:
            fig, axes = new_figure(1, 1)
            ax = axes[0]
        else:
            fig = ax.figure
        x = np.arange(np.atleast_1d(val).size)
        ax.fill_between(
            x, np.atleast_1d(val - sig), np.atleast_1d(val + sig), alpha=0.3, label="1σ"
        )
        ax.plot(x, np.atleast_1d(val), "o-", label=label)
        ax.set_xlabel("position")
        ax.set_ylabel(label)
        ax.legend()
        return fig
    fig, axes = new_figure(1, 2)
    px = getattr(result, "pixel_size", None)
    show_map(axes[0], val, label, pixel_size=px, diverging=False)
    show_map(axes[1], sig, f"{label} 1σ", pixel_size=px, diverging=False)
    return fig
