"""Figures of phase maps: labels, fit confidence, surface-layer profile and void sizes."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from ._common import add_scale_bar, new_figure, show_map

__all__ = ["plot_phases", "PHASE_COLOURS"]

#: code -> (name, colour) of PhaseResult.label_map
PHASE_COLOURS = {
    0: ("vacuum", "#000000"),
    1: ("layered", "#4575b4"),
    2: ("O1", "#91bfdb"),
    3: ("spinel", "#fdae61"),
    4: ("rock salt", "#d73027"),
    5: ("C2/m", "#1a9850"),
    6: ("amorphous", "#bdbdbd"),
    255: ("unknown", "#ffffff"),
}


def _label_axes(fig: Figure, ax: Any, result: Any) -> None:
    codes = sorted(PHASE_COLOURS)
    index = np.zeros(256, int)
    index[codes] = np.arange(len(codes))
    cmap = ListedColormap([PHASE_COLOURS[c][1] for c in codes])
    norm = BoundaryNorm(np.arange(-0.5, len(codes) + 0.5), cmap.N)
    im = ax.imshow(
        index[np.asarray(result.label_map)], cmap=cmap, norm=norm, interpolation="nearest"
    )
    cbar = fig.colorbar(im, ax=ax, shrink=0.8, ticks=range(len(codes)))
    cbar.ax.set_yticklabels([PHASE_COLOURS[c][0] for c in codes], fontsize=7)
    for _, v in result.voids.iterrows():
        ax.add_patch(_circle(v.x, v.y, v.diameter_nm / 2 / (result.pixel_size or 1.0)))
    ax.set_xticks([])
    ax.set_yticks([])
    fr = result.fractions
    ax.set_title(
        "  ".join(f"{k} {100 * fr.get(k, 0):.0f}%" for k in result.phases if fr.get(k, 0) > 0.005),
        fontsize=8,
    )
    add_scale_bar(ax, result.pixel_size, result.label_map.shape)


def _circle(x: float, y: float, r: float) -> Any:
    from matplotlib.patches import Circle

    return Circle((x, y), r, fill=False, edgecolor="yellow", linewidth=1)


def plot_phases(result: Any, **_: Any) -> Figure:
    """Phase labels (voids circled), fit confidence, inward surface profile, void sizes.

    Parameters
    ----------
    result : PhaseResult
        Output of :func:`stemstrain.phase_map`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = new_figure(4)
    _label_axes(fig, axes[0], result)
    show_map(
        axes[1],
        result.confidence,
        "confidence vs runner-up",
        pixel_size=result.pixel_size,
        diverging=False,
        cmap="viridis",
    )
    prof = result.surface_profile
    unit = "nm" if result.pixel_size else "px"
    for name in [c for c in prof.columns if c != "depth_nm"]:
        colour = next((c for n, c in PHASE_COLOURS.values() if n == name.replace("_", " ")), None)
        axes[2].plot(prof.depth_nm, prof[name], label=name, color=colour)
    axes[2].set_xlabel(f"depth from surface ({unit})")
    axes[2].set_ylabel("area fraction")
    if axes[2].lines:
        axes[2].legend(fontsize=7)
    else:
        axes[2].text(
            0.5,
            0.5,
            "no vacuum: no surface",
            ha="center",
            va="center",
            transform=axes[2].transAxes,
            fontsize=8,
        )
    summ = result.surface_summary
    axes[2].set_title(
        "; ".join(
            f"{k} {v['mean_nm']:.2f}±{v['std_nm']:.2f}" for k, v in summ.items() if v["mean_nm"] > 0
        ),
        fontsize=8,
    )
    d = result.voids.diameter_nm.to_numpy() if len(result.voids) else np.array([])
    axes[3].hist(d, bins=np.arange(0, 22, 1.0), color="#636363")
    axes[3].set_xlabel(f"void diameter ({unit})")
    axes[3].set_ylabel("count")
    axes[3].set_title(f"{len(d)} voids", fontsize=8)
    return fig
