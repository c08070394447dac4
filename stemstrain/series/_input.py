"""Series inputs: (n, H, W) arrays, HyperSpy stacks (one navigation axis = time) -> frames."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import as_array, float_dtype, is_signal, signal_axes_scale
from ..errors import CalibrationError, InputShapeError, StemstrainError

__all__ = ["frames_and_calibration"]


def _time_axis(signal: Any, n: int) -> tuple[np.ndarray, str]:
    nav = signal.axes_manager.navigation_axes
    if len(nav) != 1:
        raise InputShapeError(
            f"stack has {len(nav)} navigation axes; a series needs exactly one (time or frame)"
        )
    ax = nav[0]
    units = str(ax.units) if ax.units not in (None, "", "<undefined>") else "frame"
    return float(ax.offset) + float(ax.scale) * np.arange(n), units


def frames_and_calibration(
    stack: Any, pixel_size: Any
) -> tuple[np.ndarray, float | None, np.ndarray, str]:
    """Return (frames (n, H, W) float host, pixel size nm or None, times, time units).

    float32/float64 are kept, integers become float64, float16 float32 (``float_dtype``).
    """
    import warnings

    if stack is None:
        raise StemstrainError(
            "stack is None; pass an (n_frames, H, W) array or a HyperSpy "
            "Signal2D with one navigation axis"
        )
    px = None
    if is_signal(stack):
        data = np.asarray(stack.data)
        if data.ndim != 3:
            raise InputShapeError(
                f"stack signal has data shape {data.shape}; need (n_frames, H, W) "
                "(a Signal2D with one navigation axis)"
            )
        times, tunits = _time_axis(stack, data.shape[0])
        if pixel_size is None:
            try:
                px, _ = signal_axes_scale(stack, "stack")
            except CalibrationError as exc:
                warnings.warn(f"{exc}; results are in pixels", UserWarning, stacklevel=3)
    else:
        data = np.asarray(as_array(stack, "stack", "an (n_frames, H, W) array or a signal"))
        if data.ndim != 3:
            raise InputShapeError(
                f"stack has shape {data.shape}; need (n_frames, H, W) with n_frames >= 2"
            )
        times, tunits = np.arange(data.shape[0], dtype=float), "frame"
    if data.dtype.kind not in "uif":
        raise StemstrainError(f"stack must hold real numbers, got dtype {data.dtype}")
    if data.shape[0] < 2:
        raise InputShapeError(f"stack has {data.shape[0]} frame; a series needs at least 2")
    if pixel_size is not None:
        from .._validate import check_positive

        px = check_positive(pixel_size, "pixel_size")
    frames = data.astype(float_dtype(data.dtype), copy=False)
    if not np.all(np.isfinite(frames)):
        raise StemstrainError("stack contains NaN or inf; replace or crop them before the series")
    return frames, px, times, tunits
