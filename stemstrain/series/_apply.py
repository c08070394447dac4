"""``series_apply``: any per-frame analysis through a series, scalar figures against time."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from ..errors import StemstrainError
from ._input import frames_and_calibration
from ._result import SeriesResult

__all__ = ["series_apply"]


def series_apply(
    stack: Any,
    fn: Callable[..., Any],
    pixel_size: float | None = None,
    *,
    scalars: Callable[[Any], dict] | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> SeriesResult:
    """Run ``fn(frame, pixel_size, **kwargs)`` on every frame and tabulate figures per frame.

    Parameters
    ----------
    stack : ndarray (n_frames, H, W) or hyperspy Signal2D with one navigation axis
        The series.
    fn : callable
        A per-image analysis, e.g. :func:`stemstrain.layer_curvature` or
        :func:`stemstrain.stacking_map`.
    pixel_size : float, optional
        nm per px (from the signal when omitted).
    scalars : callable, optional
        ``scalars(result) -> dict`` of numbers for the table (e.g. stacking fractions).
        Default: ``result.fractions`` when present (stacking), else the largest absolute
        curvature of a curvature map, else nothing.
    name : str, optional
        Name of the analysis (default ``fn.__name__``); HDF5 group ``series_<name>``.
    **kwargs
        Passed on to ``fn``.

    Returns
    -------
    SeriesResult
        ``frames`` (per-frame results, None where it failed), ``table`` (a row per frame:
        ``frame, time, status, error`` + scalars). Failed frames are warned, not raised.
    """
    import pandas as pd

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    frames, px, times, tunits = frames_and_calibration(stack, pixel_size)
    get = scalars or _default_scalars
    results, rows = [], []
    for k, frame in enumerate(frames):
        row: dict[str, Any] = {"frame": k, "time": float(times[k]), "status": "ok", "error": ""}
        try:
            res = fn(frame, px, **kwargs)
            row.update({str(a): float(b) for a, b in (get(res) or {}).items()})
        except StemstrainError as exc:
            res = None
            row.update(status="failed", error=str(exc))
        results.append(res)
        rows.append(row)
    table = pd.DataFrame(rows)
    failed = table.loc[table.status != "ok"]
    if len(failed):
        warnings.warn(
            f"series_apply: {len(failed)} of {len(table)} frames failed "
            f"(first: frame {int(failed.frame.iloc[0])}: {failed.error.iloc[0][:200]})",
            UserWarning,
            stacklevel=2,
        )
    return SeriesResult(
        frames=tuple(results),
        table=table,
        times=np.asarray(times),
        time_units=tunits,
        name=name or getattr(fn, "__name__", "analysis"),
        pixel_size=px,
    )


def _default_scalars(res: Any) -> dict:
    fr = getattr(res, "fractions", None)
    if isinstance(fr, dict):
        return {f"fraction_{k}": v for k, v in fr.items()}
    cmap = getattr(res, "map", None)
    if getattr(res, "group", "") == "curvature" and cmap is not None:
        v = np.asarray(cmap, dtype=float)
        ok = np.isfinite(v)
        return {
            "max_abs_curvature": float(np.max(np.abs(v[ok]))) if ok.any() else np.nan,
            "median_curvature": float(np.median(v[ok])) if ok.any() else np.nan,
        }
    return {}
