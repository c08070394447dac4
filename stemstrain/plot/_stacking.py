"""Figures of stacking (O3/O1) and Li-layer occupancy results."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from ._common import add_scale_bar, new_figure, show_map

__all__ = ["plot_stacking", "plot_occupancy"]

#: label_map codes 0 unknown, 1 O3, 2 O1, 3 other
_LABEL_COLOURS = ["#d9d9d9", "#4575b4", "#d73027", "#fdae61"]
_LABEL_NAMES = ["unknown", "O3", "O1", "other"]


def plot_stacking(result: Any, **_: Any) -> Figure:
    """Label map (O3 / O1 / other / unknown), the shift map and, if removed, the slip drift.

    Parameters
    ----------
    result : StackingResult
        Output of :func:`stemstrain.stacking_map`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    slip = (result.params or {}).get("slip", {})
    show_slip = bool(slip.get("applied")) and getattr(result, "slip_map", None) is not None
    fig, axes = new_figure(3 if show_slip else 2)
    labels = np.asarray(result.label_map)
    cmap = ListedColormap(_LABEL_COLOURS)
    norm = BoundaryNorm(np.arange(-0.5, 4.5), cmap.N)
    im = axes[0].imshow(labels, cmap=cmap, norm=norm, interpolation="nearest")
    fr = result.fractions or {}
    axes[0].set_title(
        f"stacking: O3 {100 * fr.get('O3', 0):.0f}%  O1 {100 * fr.get('O1', 0):.0f}%", fontsize=9
    )
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    cbar = fig.colorbar(im, ax=axes[0], shrink=0.8, ticks=range(4))
    cbar.ax.set_yticklabels(_LABEL_NAMES)
    add_scale_bar(axes[0], result.pixel_size, labels.shape)
    show_map(
        axes[1],
        result.shift_map,
        "shift (fraction of in-plane period)",
        pixel_size=result.pixel_size,
        diverging=True,
        label="+1/3 O3, -1/3 twin, 0 O1",
    )
    if show_slip:
        show_map(
            axes[2],
            result.slip_map,
            f"interlayer slip drift (beta {slip.get('beta', float('nan')):.2f})",
            pixel_size=result.pixel_size,
            diverging=True,
            label="periods removed from the registry",
        )
    return fig


def plot_occupancy(result: Any, **_: Any) -> Figure:
    """Li-layer occupancy map and the sites coloured by occupancy.

    Parameters
    ----------
    result : OccupancyResult
        Output of :func:`stemstrain.li_layer_occupancy`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    slip = (result.params or {}).get("slip", {})
    show_slip = bool(slip.get("applied")) and getattr(result, "slip_map", None) is not None
    fig, axes = new_figure(3 if show_slip else 2)
    values = np.asarray(result.map, dtype=float)
    finite = values[np.isfinite(values)]
    vmax = max(0.1, float(np.percentile(finite, 99))) if finite.size else 1.0
    im = axes[0].imshow(values, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
    axes[0].set_title("Li-layer occupancy (TM fraction)", fontsize=9)
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    fig.colorbar(im, ax=axes[0], shrink=0.8)
    add_scale_bar(axes[0], result.pixel_size, values.shape)
    sites = result.sites
    sc = axes[1].scatter(
        sites["x"], sites["y"], c=sites["occupancy"], s=6, cmap="magma", vmin=0, vmax=vmax
    )
    axes[1].set_xlim(0, values.shape[1])
    axes[1].set_ylim(values.shape[0], 0)
    axes[1].set_aspect("equal")
    axes[1].set_title(f"{len(sites)} sites", fontsize=9)
    axes[1].set_xticks([])
    axes[1].set_yticks([])
    fig.colorbar(sc, ax=axes[1], shrink=0.8)
    return fig
