"""Figure of a :class:`~stemstrain.lattice.LatticeMap`: crystal, orientation, spacing, grains."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ._common import new_figure

__all__ = ["plot_lattice_map"]


def _extent(result: Any) -> list[float]:
    s = result.step_px
    return [
        result.grid_x[0] - s / 2,
        result.grid_x[-1] + s / 2,
        result.grid_y[-1] + s / 2,
        result.grid_y[0] - s / 2,
    ]


def plot_lattice_map(result: Any, *, image: Any = None, **_: Any) -> Figure:
    """Four panels on the window grid: confidence, orientation of g1, d1, grain labels.

    Parameters
    ----------
    result : LatticeMap
        From :func:`stemstrain.lattice_map`.
    image : ndarray, optional
        The analysed image, drawn under the confidence panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = new_figure(4, size=3.0)
    ext = _extent(result)
    unit = "nm" if result.pixel_size else "px"
    ax = axes[0]
    if image is not None:
        ax.imshow(np.asarray(image), cmap="gray", interpolation="nearest")
        im = ax.imshow(
            result.confidence,
            extent=ext,
            cmap="magma",
            vmin=0,
            vmax=1,
            alpha=0.5,
            interpolation="nearest",
        )
    else:
        im = ax.imshow(
            result.confidence, extent=ext, cmap="magma", vmin=0, vmax=1, interpolation="nearest"
        )
    fig.colorbar(im, ax=ax, shrink=0.8, label="confidence")
    ax.set_title(f"crystalline {100 * result.crystalline_fraction:.0f} %", fontsize=9)
    orient = np.where(result.crystalline, np.degrees(result.orientation), np.nan)
    im = axes[1].imshow(
        orient, extent=ext, cmap="twilight", vmin=0, vmax=180, interpolation="nearest"
    )
    fig.colorbar(im, ax=axes[1], shrink=0.8, label="deg")
    axes[1].set_title("orientation of g1", fontsize=9)
    im = axes[2].imshow(
        result.spacings_nm[..., 0], extent=ext, cmap="viridis", interpolation="nearest"
    )
    fig.colorbar(im, ax=axes[2], shrink=0.8, label=unit)
    title = "d1 (layer normal)" if result.layered else "d1"
    axes[2].set_title(title, fontsize=9)
    grains = np.where(result.grains > 0, result.grains, np.nan)
    im = axes[3].imshow(
        grains, extent=ext, cmap="tab20", vmin=0.5, vmax=20.5, interpolation="nearest"
    )
    a = result.anisotropy
    extra = f", x/y {a.ratio:.3f}" if np.isfinite(a.ratio) else ""
    axes[3].set_title(f"{int(result.grains.max())} grains{extra}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
