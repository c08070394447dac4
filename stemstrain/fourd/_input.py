"""4D-STEM inputs: arrays, memmaps, Dask arrays, HyperSpy signals, py4DSTEM DataCubes.

Everything is reduced to a 4-D array-like ``(scan_y, scan_x, det_y, det_x)`` that is read
chunk by chunk (:func:`iter_batches`), never as a whole, plus the calibrations found.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from .._memory import release_pages as _release_pages
from .._validate import as_array, inverse_length_unit_to_inv_nm, is_signal, length_unit_to_nm
from ..errors import InputShapeError, StemstrainError

__all__ = ["as_cube", "iter_batches", "read_positions", "is_dask"]


def is_dask(x: Any) -> bool:
    """Tell whether ``x`` is a dask array (checked without importing dask)."""
    return type(x).__module__.startswith("dask") and hasattr(x, "compute")


def _is_py4dstem_datacube(x: Any) -> bool:
    return type(x).__name__ == "DataCube" and type(x).__module__.startswith("py4DSTEM")


_EXTRA_INV = {"a^-1": 10.0, "a-1": 10.0, "å-1": 10.0, "1/å": 10.0}


def _inv_nm(units: Any) -> float | None:
    f = inverse_length_unit_to_inv_nm(units)
    if f is None and units is not None:
        f = _EXTRA_INV.get(str(units).strip().lower().replace(" ", ""))
    return f


def _signal_calibration(sig: Any) -> tuple[float | None, float | None]:
    am = sig.axes_manager
    if am.navigation_dimension != 2 or am.signal_dimension != 2:
        raise InputShapeError(
            f"datacube must be a 4D-STEM signal with 2 navigation and 2 signal axes, got "
            f"navigation dimension {am.navigation_dimension} and signal dimension "
            f"{am.signal_dimension}"
        )
    nav = am.navigation_axes[0]
    f = length_unit_to_nm(nav.units)
    scan = float(nav.scale) * f if f else None
    ax = am.signal_axes[0]
    fq = _inv_nm(ax.units)
    recip = float(ax.scale) * fq if fq else None
    return scan, recip


def _datacube_calibration(dc: Any) -> tuple[float | None, float | None]:
    cal = dc.calibration
    scan = recip = None
    try:
        f = length_unit_to_nm(cal.get_R_pixel_units())
        scan = float(cal.get_R_pixel_size()) * f if f else None
        fq = _inv_nm(cal.get_Q_pixel_units())
        recip = float(cal.get_Q_pixel_size()) * fq if fq else None
    except Exception:
        pass
    return scan, recip


def as_cube(datacube: Any, name: str = "datacube") -> tuple[Any, float | None, float | None]:
    """Return (4-D array-like, scan pixel size nm or None, reciprocal px size 1/nm or None)."""
    scan = recip = None
    if datacube is None:
        raise StemstrainError(f"{name} is None; pass a 4-D array (scan_y, scan_x, det_y, det_x)")
    if is_signal(datacube):
        scan, recip = _signal_calibration(datacube)
        data = datacube.data
    elif _is_py4dstem_datacube(datacube):
        scan, recip = _datacube_calibration(datacube)
        data = datacube.data
    else:
        data = as_array(datacube, name, "an array, a HyperSpy signal or a py4DSTEM DataCube")
    if np.dtype(data.dtype).kind == "O":
        raise StemstrainError(
            f"{name} must be an array, a HyperSpy signal or a py4DSTEM "
            f"DataCube, got {type(datacube).__name__}"
        )
    if data.ndim != 4:
        hint = " (a single diffraction pattern: use find_disks)" if data.ndim == 2 else ""
        hint = (
            " (a stack of patterns: reshape to (scan_y, scan_x, det_y, det_x))"
            if data.ndim == 3
            else hint
        )
        raise InputShapeError(
            f"{name} must be 4-D (scan_y, scan_x, det_y, det_x), got shape {tuple(data.shape)}"
            + hint
        )
    if np.dtype(data.dtype).kind not in "uif":
        raise StemstrainError(f"{name} must hold real numbers, got dtype {data.dtype}")
    if min(data.shape[2:]) < 8:
        raise InputShapeError(
            f"{name}: detector of {data.shape[2]}×{data.shape[3]} px is too small for disk "
            "detection (need at least 8×8, typically 64×64 or more)"
        )
    return data, scan, recip


def _memmap_base(x: Any) -> bool:
    base = x
    while base is not None:
        if isinstance(base, np.memmap):
            # only maps known to be shared file maps ("r", "r+"): copy-on-write ("c") or
            # unknown-mode maps (readers that build np.memmap views themselves, e.g. the
            # Merlin .mib reader) may hold private pages, and dropping those corrupts the
            # heap (seen as "double free" at exit)
            mode = getattr(base, "mode", None)
            if mode in ("r", "r+", "readonly", "readwrite"):
                return True
            if mode is not None:
                return False
        base = getattr(base, "base", None)
        if isinstance(base, (bytes, bytearray)):
            return False
    return False


def iter_batches(cube: Any, batch_patterns: int = 256) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first flat index, float32 array (n, det_y, det_x))`` over the scan in order.

    Dask arrays are read in row blocks of about ``batch_patterns`` patterns (one
    ``compute`` per block); memmaps and arrays in the same blocks, copied to float32, with
    the memmap's pages released after each block.
    """
    sy, sx, h, w = cube.shape
    mm = isinstance(cube, np.ndarray) and _memmap_base(cube)
    if is_dask(cube):
        yield from _iter_dask(cube, batch_patterns)
        return
    if not cube.flags.c_contiguous:  # views with strides: row blocks, split into batches
        rows = max(1, batch_patterns // sx)
        cols = min(sx, batch_patterns)
        for r0 in range(0, sy, rows):
            for c0 in range(0, sx, cols):
                view = cube[r0 : r0 + rows, c0 : c0 + cols]
                out = np.asarray(view, dtype=np.float32).reshape(-1, h, w)
                if mm:
                    _release_pages(view)
                if cols == sx:
                    yield r0 * sx, out
                else:  # one row, split: consecutive flat indices
                    yield r0 * sx + c0, out
        return
    flat = cube.reshape(sy * sx, h, w)
    for i0 in range(0, sy * sx, batch_patterns):
        view = flat[i0 : i0 + batch_patterns]
        out = np.asarray(view, dtype=np.float32)
        if mm:
            _release_pages(view)
        yield i0, out


def _iter_dask(cube: Any, batch_patterns: int, max_block_bytes: float = 512e6):
    """Row blocks aligned to the dask chunks (each chunk read once), split into batches."""
    sy, sx, h, w = cube.shape
    chunk_rows = int(cube.chunks[0][0])
    per_row = sx * h * w * np.dtype(cube.dtype).itemsize
    rows = chunk_rows if chunk_rows * per_row <= max_block_bytes else max(1, batch_patterns // sx)
    for r0 in range(0, sy, rows):
        block = np.asarray(cube[r0 : r0 + rows].compute()).reshape(-1, h, w)
        for i0 in range(0, block.shape[0], batch_patterns):
            yield r0 * sx + i0, block[i0 : i0 + batch_patterns].astype(np.float32)


def read_positions(cube: Any, flat_index: np.ndarray) -> np.ndarray:
    """Read the patterns at flat scan indices (float64 array (n, det_y, det_x))."""
    sy, sx = cube.shape[:2]
    iy, ix = np.divmod(np.asarray(flat_index, dtype=int), sx)
    if is_dask(cube):
        out = cube.vindex[iy, ix].compute()
    else:
        out = np.stack([np.asarray(cube[a, b]) for a, b in zip(iy, ix, strict=True)])
        if isinstance(cube, np.ndarray) and _memmap_base(cube):
            for a, b in zip(iy, ix, strict=True):
                _release_pages(cube[a, b])
    return np.asarray(out, dtype=np.float64)
