"""Figures of atom columns, layer curvature and layer spacing results."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._common import add_scale_bar, new_figure, show_map, symmetric_limits

__all__ = ["plot_columns", "plot_curvature", "plot_spacing"]


def _table(result: Any) -> Any:
    """Return the columns DataFrame of a TableResult (or a bare DataFrame)."""
    return getattr(result, "table", result)


def plot_columns(result: Any, *, image: Any = None, **_: Any) -> Figure:
    """Atom columns coloured by TM layer (alternating colours), over ``image`` if given.

    Parameters
    ----------
    result : TableResult or pandas.DataFrame
        Columns from :func:`stemstrain.find_columns` (``TableResult("columns", df)``).
    image : ndarray, optional
        The image the columns were found in, drawn underneath.

    Returns
    -------
    matplotlib.figure.Figure
    """
    cols = _table(result)
    fig, axes = new_figure(1, size=5.0)
    ax = axes[0]
    if image is not None:
        ax.imshow(np.asarray(image), cmap="gray", interpolation="nearest")
    layer = np.asarray(cols["layer"]) if "layer" in cols else np.full(len(cols), -1)
    colours = np.where(layer < 0, 2, layer % 2)
    palette = np.array(["#d73027", "#4575b4", "#bdbdbd"])
    ax.scatter(cols["x"], cols["y"], s=6, c=palette[colours], linewidths=0)
    if image is None:
        ax.set_aspect("equal")
        ax.invert_yaxis()
    n_layers = int(layer.max() + 1) if (layer >= 0).any() else 0
    ax.set_title(f"{len(cols)} columns, {n_layers} layers", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    px = getattr(result, "pixel_size", None) or getattr(cols, "attrs", {}).get("pixel_size")
    if image is not None:
        add_scale_bar(ax, px, np.asarray(image).shape)
    return fig


def plot_curvature(result: Any, **_: Any) -> Figure:
    """Curvature map (1/nm, diverging) and the per-column curvature along the layers.

    Parameters
    ----------
    result : CurvatureResult

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = new_figure(2)
    show_map(
        axes[0],
        result.map,
        f"curvature ({result.method}), 1/nm",
        pixel_size=result.pixel_size,
        label="1/nm",
    )
    x, y = result.max_location
    axes[0].plot([x], [y], marker="o", mfc="none", mec="k", ms=10)
    lay = result.layers
    lim = symmetric_limits(lay["curvature"])
    sc = axes[1].scatter(
        lay["x"],
        lay["y"],
        c=lay["curvature"],
        s=6,
        cmap="RdBu_r",
        vmin=-lim,
        vmax=lim,
        linewidths=0,
    )
    axes[1].set_aspect("equal")
    axes[1].set_xlim(0, result.map.shape[1])
    axes[1].set_ylim(result.map.shape[0], 0)
    axes[1].set_title(f"per column; max {result.max_curvature:.3g} 1/nm", fontsize=9)
    axes[1].set_xticks([])
    axes[1].set_yticks([])
    fig.colorbar(sc, ax=axes[1], shrink=0.8, label="1/nm")
    return fig


def plot_spacing(result: Any, **_: Any) -> Figure:
    """Interlayer spacing (nm), its relative deviation and the in-plane spacing maps.

    Parameters
    ----------
    result : SpacingResult

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = new_figure(3)
    show_map(
        axes[0],
        result.spacing,
        "(003) spacing, nm",
        pixel_size=result.pixel_size,
        diverging=False,
        label="nm",
    )
    show_map(
        axes[1],
        result.deviation,
        f"deviation from {result.reference_nm:.4f} nm",
        pixel_size=result.pixel_size,
        label="fraction",
    )
    show_map(
        axes[2],
        result.in_plane_spacing,
        "in-plane spacing, nm",
        pixel_size=result.pixel_size,
        diverging=False,
        label="nm",
    )
    return fig
