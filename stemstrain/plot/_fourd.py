"""Figure of a 4D-STEM strain result: exx, eyy, exy, rotation (+ layer frame, fit quality)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import new_figure, show_map

__all__ = ["plot_fourd"]


def plot_fourd(result: Any, *, layer_frame: bool = False, quality: bool = True,
               size: float = 3.0) -> Any:
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
    for ax, (name, values) in zip(axes[len(maps):], extra, strict=False):
        show_map(ax, np.asarray(values, dtype=float), name, pixel_size=result.pixel_size,
                 diverging=False)
    fig.suptitle("4D-STEM strain (scan frame, relative to the reference region)", fontsize=10)
    return fig
