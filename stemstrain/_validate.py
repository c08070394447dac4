"""Shared checks at the public boundary.

Public functions accept a NumPy/CuPy/Dask array (with ``pixel_size=`` in nm) or a
calibrated HyperSpy signal. :func:`image_and_pixel_size` turns either into an
array and a pixel size, raising :class:`~stemstrain.errors.StemstrainError`
subclasses with one-line messages for what a user can get wrong.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ._units import unit_factor
from .errors import CalibrationError, InputShapeError, StemstrainError

__all__ = [
    "float_dtype",
    "check_2d",
    "check_finite",
    "check_positive",
    "image_and_pixel_size",
    "signal_axes_scale",
    "is_signal",
    "as_array",
]


def float_dtype(dtype: Any) -> np.dtype:
    """Floating dtype to compute in: float32/64 kept, float16 -> float32, ints -> float64."""
    dtype = np.dtype(dtype)
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype.kind == "f":
        return dtype
    if dtype.kind == "c":
        return np.dtype(np.float32) if dtype == np.complex64 else np.dtype(np.float64)
    return np.dtype(np.float64)


def is_signal(obj: Any) -> bool:
    """Tell whether ``obj`` is a HyperSpy signal (checked without importing HyperSpy)."""
    return hasattr(obj, "axes_manager") and hasattr(obj, "data")


def check_2d(array: Any, name: str) -> Any:
    """Raise InputShapeError unless ``array`` is 2-D."""
    ndim = getattr(array, "ndim", None)
    if ndim != 2:
        shape = getattr(array, "shape", None)
        raise InputShapeError(
            f"{name} must be a 2-D image, got an array of shape {shape!r}; "
            "select one frame or sum a stack first"
        )
    return array


def check_finite(array: Any, name: str) -> None:
    """Raise StemstrainError if ``array`` holds NaN or inf (NumPy/CuPy)."""
    xp = np
    if type(array).__module__.startswith("cupy"):
        import cupy as xp
    if not bool(xp.isfinite(array).all()):
        n_bad = int((~xp.isfinite(array)).sum())
        raise StemstrainError(
            f"{name} contains {n_bad} NaN/inf values; fill or crop them "
            "(e.g. np.nan_to_num(image, nan=np.nanmedian(image))) before analysis"
        )


def check_positive(value: Any, name: str) -> float:
    """Return ``float(value)`` or raise if it is not a finite number > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise StemstrainError(f"{name} must be a number > 0, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise StemstrainError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def length_unit_to_nm(units: Any) -> float | None:
    """Factor converting ``units`` to nm, or None if it is not a length unit."""
    return unit_factor(units, "real")


def inverse_length_unit_to_inv_nm(units: Any) -> float | None:
    """Factor converting reciprocal-length ``units`` to 1/nm, or None."""
    return unit_factor(units, "reciprocal")


def signal_axes_scale(signal: Any, name: str = "image") -> tuple[float, str]:
    """Return (scale in nm, "nm") of a HyperSpy signal's first signal axis.

    Raises CalibrationError when the axis has no length unit.
    """
    axes = signal.axes_manager.signal_axes
    if len(axes) < 1:
        raise InputShapeError(f"{name} has no signal axes")
    ax = axes[0]
    factor = length_unit_to_nm(ax.units)
    if factor is None:
        raise CalibrationError(
            f"{name}: signal axis '{ax.name}' has units {ax.units!r}, not a length; "
            "pass pixel_size= in nm"
        )
    return float(ax.scale) * factor, "nm"


def as_array(obj: Any, name: str, allowed: str) -> Any:
    """Return ``obj`` if it is array-like with ``ndim``, else ``np.asarray(obj)``.

    Raises StemstrainError("<name> must be <allowed>, got <type>") when that fails.
    """
    if hasattr(obj, "ndim"):
        return obj
    try:
        return np.asarray(obj)
    except Exception:
        raise StemstrainError(f"{name} must be {allowed}, got {type(obj).__name__}") from None


def image_and_pixel_size(
    image: Any, pixel_size: Any = None, name: str = "image", *, require_2d: bool = True
) -> tuple[Any, float | None]:
    """Split a HyperSpy signal or an array into (array, pixel size in nm or None).

    An explicit ``pixel_size`` wins over the signal's calibration. A signal without
    a length calibration and no ``pixel_size`` gives ``None`` with a warning; an array
    without ``pixel_size`` gives ``None`` (results then come in pixels).
    """
    if image is None:
        raise StemstrainError(f"{name} is None; pass a 2-D array or a HyperSpy Signal2D")
    size = None
    if is_signal(image):
        data = image.data
        if pixel_size is None:
            try:
                size, _ = signal_axes_scale(image, name)
            except CalibrationError as exc:
                warnings.warn(f"{exc}; results are in pixels", UserWarning, stacklevel=3)
                size = None
    else:
        data = as_array(image, name, "an array or a HyperSpy signal")
    if pixel_size is not None:
        size = check_positive(pixel_size, "pixel_size")
    if getattr(data, "dtype", None) is None or np.dtype(data.dtype).kind not in "uifb":
        raise StemstrainError(
            f"{name} must hold real numbers, got dtype {getattr(data, 'dtype', None)!r}"
        )
    if require_2d:
        check_2d(data, name)
    return data, size
