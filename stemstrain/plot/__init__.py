"""Figures of results: the only place matplotlib is imported.

``result.plot()`` calls :func:`plot_result`, which dispatches on the result's
``group`` to a function in a private module of this package (one per capability:
``_gpa.py``, ``_lattice.py``, ``_eels.py``, ``_fourd.py``). Figures are made with
the object-oriented API on the Agg backend when no display is set, so they work
in batch runs without a display.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["plot_result", "plot_maps", "plot_value_and_sigma", "save_movie", "register"]

# result.group -> "module:function"
_PLOTTERS: dict[str, str] = {
    "gpa": "stemstrain.plot._gpa:plot_gpa",
    "dislocations": "stemstrain.plot._gpa:plot_dislocations",
    "columns": "stemstrain.plot._lattice:plot_columns",
    "curvature": "stemstrain.plot._lattice:plot_curvature",
    "spacing": "stemstrain.plot._lattice:plot_spacing",
    "lattice_map": "stemstrain.plot._latticemap:plot_lattice_map",
    "stacking": "stemstrain.plot._stacking:plot_stacking",
    "occupancy": "stemstrain.plot._stacking:plot_occupancy",
    "eels": "stemstrain.plot._eels:plot_ratio",
    "fourd": "stemstrain.plot._fourd:plot_fourd",
    "gpa_series": "stemstrain.plot._series:plot_gpa_series",
    "series_table": "stemstrain.plot._series:plot_series_table",
    "fourd_phases": "stemstrain.plot._fourd:plot_fourd_phases",
}


def register(group: str, target: str) -> None:
    """Register a plotting function ``"module:function"`` for results of ``group``."""
    _PLOTTERS[group] = target


def plot_maps(result: Any, **kwargs: Any) -> Any:
    """Draw the generic figure of a result's ``map_fields`` (one panel each)."""
    from ._common import plot_maps as _plot_maps

    return _plot_maps(result, **kwargs)


def plot_value_and_sigma(result: Any, value: str, sigma: str, *, label: str, **kwargs: Any) -> Any:
    """Plot ``result.<value>`` with its 1 sigma ``result.<sigma>``: a band or two maps (EELS)."""
    from ._eels import plot_eels_maps

    return plot_eels_maps(result, value, sigma, label=label, **kwargs)


def save_movie(result: Any, path: Any, **kwargs: Any) -> Any:
    """Write a movie of a series result's maps (gif; mp4 with imageio-ffmpeg): the path."""
    from ._series import save_series_movie

    return save_series_movie(result, path, **kwargs)


def plot_result(result: Any, **kwargs: Any) -> Any:
    """Plot a result object; returns the matplotlib Figure."""
    group = getattr(result, "group", "")
    if group.startswith("series_"):
        group = "series_table"
    target = _PLOTTERS.get(group)
    if target is None:
        from ._common import plot_maps

        return plot_maps(result, **kwargs)
    module_name, func = target.split(":")
    return getattr(importlib.import_module(module_name), func)(result, **kwargs)
