"""Figure of a 4D-STEM strain result: exx, eyy, exy, rotation (+ layer frame, fit quality)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import new_figure, show_map

__all__ = ["plot_fourd"]


def plot_fourd(
    result: Any, *, layer_frame: bool = False, quality: bool = True, size: float = 3.0
) -> Any:
    """Plot the strain/rotation maps of a :class:`~stemstrain.fourd.FourDStrainResult`.

    Parameters
    ----------
    result : FourDStrainResult
    layer_frame : bool
        Show ``e_nn, e_tt, e_nt`` (when present) instead of ``exx, eyy, exy``.
    quality : bool
        Add the number of disks used and the fit residual per scan position.
    size : float
        Panel size, inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if layer_frame and result.e_nn is not None:
        maps = [("e_nn", result.e_nn), ("e_tt", result.e_tt), ("e_nt", result.e_nt)]
    else:
        maps = [("exx", result.exx), ("eyy", result.eyy), ("exy", result.exy)]
    maps.append(("rotation (rad)", result.rotation))
    extra = []
    if quality:
        extra = [("disks used", result.n_peaks), ("residual (px)", result.residual_px)]
    fig, axes = new_figure(len(maps) + len(extra), size=size)
    for ax, (name, values) in zip(axes, maps, strict=False):
        show_map(ax, values, name, pixel_size=result.pixel_size)
    for ax, (name, values) in zip(axes[len(maps) :], extra, strict=False):
        show_map(
            ax, np.asarray(values, dtype=float), name, pixel_size=result.pixel_size, diverging=False
        )
    fig.suptitle("4D-STEM strain (scan frame, relative to the reference region)", fontsize=10)
    return fig


def plot_fourd_phases(result: Any, **kwargs: Any) -> Any:
    """Phase map (one colour per phase, white = unassigned), score and in-plane rotation."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    fig, axes = new_figure(3, 1)
    lab = np.asarray(result.label_map)
    n = len(result.phases)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
    cmap = ListedColormap(["white"] + [colours[i % len(colours)] for i in range(n)])
    axes[0].imshow(lab + 1, cmap=cmap, vmin=0, vmax=n, interpolation="nearest")
    fr = result.fractions()
    axes[0].legend(
        handles=[
            Patch(color=colours[i % len(colours)], label=f"{p} {fr[p]:.0%}")
            for i, p in enumerate(result.phases)
        ],
        fontsize=7,
        loc="lower right",
    )
    axes[0].set_title("phase", fontsize=9)
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    show_map(axes[1], result.score, "score (cosine)", diverging=False, pixel_size=result.pixel_size)
    show_map(
        axes[2],
        result.inplane_rotation,
        "in-plane rotation (deg)",
        diverging=False,
        cmap="twilight",
        pixel_size=result.pixel_size,
    )
    return fig
