"""Figures of EELS O/TM results: a profile with its 1 sigma band, or ratio/uncertainty maps."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import new_figure, show_map

__all__ = ["plot_ratio"]


def plot_ratio(result: Any, *, ax: Any = None, reference_line: float | None = None,
               **_: Any) -> Any:
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
        ax.fill_between(x, ratio - unc, ratio + unc, color="tab:blue", alpha=0.3, lw=0,
                        label="1σ")
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
    show_map(axes[1], unc, "1σ", pixel_size=result.pixel_size, diverging=False,
             cmap="magma")
    fig.suptitle(title, fontsize=8)
    return fig
