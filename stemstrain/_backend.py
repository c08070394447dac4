"""Array-module selection: the only module that imports CuPy.

Private helpers take ``xp`` (``numpy`` or ``cupy``); public functions take
``backend="numpy" | "cupy" | "auto"`` and resolve it with :func:`resolve_backend`.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "resolve_backend",
    "get_array_module",
    "get_ndimage",
    "get_fft",
    "to_device",
    "asnumpy",
    "cupy_available",
    "fft_workers",
]


@functools.lru_cache(maxsize=1)
def cupy_available() -> bool:
    """Return True when CuPy imports and at least one CUDA device is present."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def _import_cupy() -> ModuleType:
    try:
        import cupy
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise RuntimeError(
            "CuPy is not installed: install stemstrain[gpu] (cupy-cuda12x) or use backend='numpy'"
        ) from exc
    if not cupy_available():  # pragma: no cover - depends on the machine
        raise RuntimeError("CuPy is installed but no CUDA GPU is available: use backend='numpy'")
    return cupy


def resolve_backend(backend: str) -> ModuleType:
    """Return the array module for ``backend`` ("numpy", "cupy" or "auto")."""
    if backend == "numpy" or backend == "cpu":
        return np
    if backend == "cupy" or backend == "gpu":
        return _import_cupy()
    if backend == "auto":
        return _import_cupy() if cupy_available() else np
    from .errors import StemstrainError

    raise StemstrainError(f"backend must be 'numpy', 'cupy' or 'auto', got {backend!r}")


def get_array_module(x: Any) -> ModuleType:
    """Return numpy or cupy for an array, a dask array (by its meta) or "cpu"/"gpu"."""
    if isinstance(x, str):
        return resolve_backend(x)
    meta = getattr(x, "_meta", None)
    if meta is not None:
        x = meta
    if type(x).__module__.startswith("cupy"):
        return _import_cupy()
    return np


def get_ndimage(xp: ModuleType) -> ModuleType:
    """Return scipy.ndimage or cupyx.scipy.ndimage for ``xp``."""
    if xp is np:
        import scipy.ndimage as ndi

        return ndi
    import cupyx.scipy.ndimage as cndi

    return cndi


def get_fft(xp: ModuleType) -> ModuleType:
    """Return scipy.fft (CPU, multithreaded through ``workers``) or cupy.fft."""
    if xp is np:
        import scipy.fft as sfft

        return sfft
    return xp.fft


def fft_workers(xp: ModuleType) -> dict:
    """Keyword arguments for FFT calls: ``workers`` on CPU, nothing on GPU."""
    if xp is np:
        return {"workers": int(os.environ.get("STEMSTRAIN_FFT_WORKERS", os.cpu_count() or 1))}
    return {}


def to_device(x: Any, xp: ModuleType) -> Any:
    """Move ``x`` to the device of ``xp``."""
    if xp is np:
        return asnumpy(x)
    return xp.asarray(x)


def asnumpy(x: Any) -> Any:
    """Return a NumPy array from a NumPy or CuPy array (others pass through np.asarray)."""
    if type(x).__module__.startswith("cupy"):
        return x.get()
    return np.asarray(x)
