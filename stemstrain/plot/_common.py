"""Shared figure helpers: diverging maps symmetric about zero, scale bars, colorbars."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
    import matplotlib

    matplotlib.use("Agg")

from matplotlib.figure import Figure

__all__ = ["new_figure", "show_map", "add_scale_bar", "plot_maps", "symmetric_limits"]


def new_figure(ncols: int = 1, nrows: int = 1, size: float = 3.2) -> tuple[Figure, np.ndarray]:
    """Make a Figure (not registered with pyplot) and its flat axes array."""
    fig = Figure(figsize=(size * ncols + 0.6, size * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    return fig, axes


def symmetric_limits(values: Any, percentile: float = 99.0) -> float:
    """Half-width of a colour range symmetric about zero (robust percentile of |values|)."""
    v = np.abs(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 1.0
    lim = float(np.percentile(v, percentile))
    return lim if lim > 0 else 1.0


def add_scale_bar(ax: Any, pixel_size: float | None, shape: tuple[int, int]) -> None:
    """Draw a scale bar of a round length (nm) in the lower-left corner."""
    if not pixel_size:
        return
    width_nm = shape[1] * pixel_size
    target = width_nm / 5
    exp = 10 ** np.floor(np.log10(target))
    length = max(m * exp for m in (1, 2, 5) if m * exp <= target) if target > 0 else 1
    length_px = length / pixel_size
    x0, y0 = 0.05 * shape[1], 0.92 * shape[0]
    ax.plot([x0, x0 + length_px], [y0, y0], color="k", lw=4, solid_capstyle="butt")
    ax.plot([x0, x0 + length_px], [y0, y0], color="w", lw=2, solid_capstyle="butt")
    label = f"{length:g} nm"
    ax.text(
        x0 + length_px / 2,
        y0 - 0.03 * shape[0],
        label,
        color="w",
        ha="center",
        va="bottom",
        fontsize=8,
        fontweight="bold",
    )


def show_map(
    ax: Any,
    values: Any,
    title: str,
    *,
    pixel_size: float | None = None,
    diverging: bool = True,
    cmap: str | None = None,
    label: str = "",
) -> Any:
    """Show one map with a colorbar; diverging maps use RdBu_r symmetric about zero."""
    values = np.asarray(values, dtype=float)
    if diverging:
        lim = symmetric_limits(values)
        im = ax.imshow(values, cmap=cmap or "RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    else:
        im = ax.imshow(values, cmap=cmap or "viridis", interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label=label)
    add_scale_bar(ax, pixel_size, values.shape)
    return im


def plot_maps(result: Any, **_: Any) -> Figure:
    """Plot every map of a result side by side (the generic figure)."""
    names = [n for n in getattr(result, "map_fields", ()) if getattr(result, n, None) is not None]
    fig, axes = new_figure(max(1, len(names)))
    for ax, name in zip(axes, names, strict=False):
        show_map(ax, getattr(result, name), name, pixel_size=getattr(result, "pixel_size", None))
    return fig
