"""Figures of series results: strain vs time in regions, per-frame quality, movie export."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from ._common import new_figure, symmetric_limits

__all__ = ["plot_gpa_series", "save_series_movie", "plot_series_table"]


def plot_gpa_series(
    result: Any, *, regions: dict | None = None, component: str = "exx", movie: Any = None, **_: Any
) -> Any:
    """Strain vs time of regions (frame-0 coordinates, following the drift), drift and quality.

    ``regions`` maps a label to a region (default: the reference region, or the whole frame).
    ``movie``: also write a movie of ``component`` to that path (gif; mp4 with imageio-ffmpeg).
    """
    regions = regions or {
        "reference": result.reference
        if result.reference is not None
        else (0, result.exx.shape[1], 0, result.exx.shape[2])
    }
    fig, axes = new_figure(3, size=3.2)
    t = np.asarray(result.times)
    for label, region in regions.items():
        s = result.region_series(region, component)
        axes[0].errorbar(
            t, s["median"], yerr=s["std"], marker="o", ms=3, capsize=2, label=str(label)
        )
    axes[0].set_xlabel(f"time ({result.time_units})")
    axes[0].set_ylabel(f"{component} (median, +-std)")
    axes[0].legend(fontsize=7)
    axes[0].set_title(f"{component} vs time", fontsize=9)
    axes[1].plot(result.drift[:, 0], result.drift[:, 1], "o-", ms=3)
    bad = ~result.frame_ok
    axes[1].plot(result.drift[bad, 0], result.drift[bad, 1], "rx", ms=8, label="flagged")
    axes[1].set_xlabel("drift x (px)")
    axes[1].set_ylabel("drift y (px)")
    axes[1].invert_yaxis()
    axes[1].set_title("drift (y down)", fontsize=9)
    q = result.quality
    axes[2].plot(t, q["coherence"], "o-", ms=3, label="lattice coherence")
    if np.isfinite(q["coarse_score"].to_numpy(float)[1:]).any():  # align="image" only
        axes[2].plot(t, q["coarse_score"], "s-", ms=3, label="image score")
    axes[2].plot(t, 1 - 2 * q["ambiguity"], "^-", ms=3, label="1 - 2 x ambiguity")
    axes[2].set_ylim(0, 1.05)
    axes[2].set_xlabel(f"time ({result.time_units})")
    axes[2].legend(fontsize=7)
    axes[2].set_title("registration quality", fontsize=9)
    if movie is not None:
        save_series_movie(result, movie, component=component)
    return fig


def _frames_rgb(maps: np.ndarray, lim: float) -> np.ndarray:
    from matplotlib import colormaps

    cmap = colormaps["RdBu_r"]
    norm = np.clip((np.nan_to_num(maps, nan=0.0) + lim) / (2 * lim), 0, 1)
    rgb = (cmap(norm)[..., :3] * 255).astype(np.uint8)
    rgb[~np.isfinite(maps)] = 128
    return rgb


def save_series_movie(
    result: Any,
    path: Any,
    *,
    component: str = "exx",
    fps: float = 4.0,
) -> Path:
    """Write the maps of ``component`` as a movie (colour range symmetric about 0, NaN grey).

    ``.gif`` always works; ``.mp4`` needs imageio-ffmpeg (a gif is written next to it, with a
    warning, when it is missing). Returns the path written.
    """
    import warnings

    import imageio.v3 as iio

    path = Path(path)
    maps = np.asarray(getattr(result, component), dtype=float)
    rgb = _frames_rgb(maps, symmetric_limits(maps))
    if path.suffix.lower() == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        warnings.warn(
            "imageio-ffmpeg is not installed; writing a gif instead of mp4",
            UserWarning,
            stacklevel=2,
        )
        path = path.with_suffix(".gif")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    if path.suffix.lower() == ".gif":
        iio.imwrite(tmp, rgb, duration=1000.0 / fps, loop=0)
    else:
        iio.imwrite(tmp, rgb, fps=fps)
    tmp.replace(path)
    return path


def plot_series_table(result: Any, **_: Any) -> Any:
    """Every scalar column of a SeriesResult's table against time."""
    tab = result.table
    cols = [c for c in tab.columns if c not in ("frame", "time", "status", "error")]
    fig, axes = new_figure(max(1, len(cols)))
    for ax, c in zip(axes, cols, strict=False):
        ax.plot(tab["time"], tab[c], "o-", ms=3)
        ax.set_title(c, fontsize=9)
        ax.set_xlabel(f"time ({result.time_units})")
    return fig
