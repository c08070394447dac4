"""Checks before and after a read: header vs file size, decoded size, empty or unusable data.

* :func:`preflight` compares what the header promises with the bytes on disk, before a
  reader runs (TIFF strips/tiles, Merlin ``.mib`` frames, blockfile ``.blo`` patterns):
  a truncated file is a :class:`~stemstrain.errors.CorruptFileError`, never zero-padded
  or re-shaped into something else.
* :func:`decoded_nbytes` reads the decoded size from the header (TIFF, HDF5, NPY) so that
  :func:`check_decoded_size` refuses oversized data **before** anything is allocated:
  above the limit (``max_gb``; default a quarter of the RAM), or a suspicious
  compression ratio (a "decompression bomb": > 1 GiB decoded at > 100:1) unless the
  caller set ``max_gb`` explicitly.
* :func:`check_read` refuses signals without data (random bytes read as an empty MSA
  spectrum, ...) and an MSA whose ``#NPOINTS`` disagrees with the data.
* :func:`check_values` (used by the batch before analysing) refuses data that are all
  NaN/inf, constant (e.g. all zero) or without a positive value, for every kind.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFileError, DataValueError, InputShapeError

__all__ = [
    "preflight",
    "decoded_nbytes",
    "check_decoded_size",
    "check_read",
    "check_values",
    "default_max_bytes",
]

_GIB = 1 << 30
_BOMB_BYTES = _GIB
_BOMB_RATIO = 100.0


def default_max_bytes() -> int:
    """Return a quarter of the physical memory (8 GiB when it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) // 4
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 * _GIB


def _truncated(path: Path, what: str, need: int, have: int) -> CorruptFileError:
    return CorruptFileError(
        f"{path}: truncated: the {what} header describes {need} bytes "
        f"but the file holds {have}; the file is incomplete or damaged"
    )


def preflight(path: Path) -> int | None:
    """Check the file against its header; returns the decoded size in bytes when known.

    Raises CorruptFileError when the file is shorter than its header says (TIFF, MIB, BLO).
    """
    ext = path.suffix.lower()
    if ext == ".mib":
        _check_mib(path)
    elif ext == ".blo":
        _check_blo(path)
    return decoded_nbytes(path)


def _tiff_sizes(path: Path) -> int:
    """Check every page's strips/tiles lie inside the file; returns the decoded bytes."""
    import tifffile

    size = path.stat().st_size
    try:
        with tifffile.TiffFile(path) as tif:
            decoded, end = 0, 0
            for page in tif.pages:
                offs, counts = page.dataoffsets, page.databytecounts
                if len(offs):
                    end = max(end, max(int(o) + int(c) for o, c in zip(offs, counts, strict=False)))
                decoded += (
                    int(np.prod(page.shape, dtype=np.int64)) * page.dtype.itemsize
                    if page.dtype is not None
                    else 0
                )
    except CorruptFileError:
        raise
    except Exception as exc:
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise CorruptFileError(
            f"{path}: cannot read as TIFF ({msg}); the file is truncated, "
            "damaged or not of this format"
        ) from None
    if end > size:
        raise _truncated(path, "TIFF", end, size)
    return decoded


_MIB_DTYPES = {"U01": 1, "U08": 1, "U16": 2, "U32": 4, "U64": 8}


def _check_mib(path: Path) -> None:
    with open(path, "rb") as fh:
        head = fh.read(384).decode("latin-1", "replace").split(",")
    if len(head) < 7 or head[0] != "MQ1":
        raise CorruptFileError(f"{path}: not a Merlin .mib file (no MQ1 frame header)")
    try:
        hsize, w, h = int(head[2]), int(head[4]), int(head[5])
    except ValueError:
        raise CorruptFileError(
            f"{path}: damaged Merlin frame header {','.join(head[:7])!r}"
        ) from None
    nbytes = _MIB_DTYPES.get(head[6].strip())
    if nbytes is None:  # R64 raw counters: layout depends on the counter depth; not checked
        return
    frame = hsize + w * h * nbytes
    size = path.stat().st_size
    n, rest = divmod(size, frame)
    if rest or n == 0:
        raise CorruptFileError(
            f"{path}: truncated: {size} bytes is not a whole number of "
            f"{frame}-byte frames ({n} frames and {rest} bytes)"
        )
    hdr = path.with_suffix(".hdr")
    if hdr.is_file():
        m = re.search(
            r"Frames in Acquisition \(Number\):\s*(\d+)", hdr.read_text("latin-1", "replace")
        )
        if m and int(m.group(1)) != n:
            raise CorruptFileError(
                f"{path}: truncated: {hdr.name} announces {m.group(1)} frames "
                f"but the file holds {n}"
            )


def _check_blo(path: Path) -> None:
    try:
        from rsciio.blockfile._api import get_header_dtype_list
    except ImportError:  # pragma: no cover - rsciio always there
        return
    dtype = np.dtype(get_header_dtype_list("<"))
    size = path.stat().st_size
    if size < dtype.itemsize:
        raise _truncated(path, "blockfile", dtype.itemsize, size)
    header = np.fromfile(path, dtype=dtype, count=1)[0]
    nx, ny, dp = int(header["NX"]), int(header["NY"]), int(header["DP_SZ"])
    need = int(header["Data_offset_2"]) + nx * ny * (6 + dp * dp)
    if need > size:
        raise _truncated(path, "blockfile", need, size)


def decoded_nbytes(path: Path) -> int | None:
    """Return the decoded size from the header (TIFF, HDF5, NPY); None when unknown."""
    ext = path.suffix.lower()
    try:
        if ext in (".tif", ".tiff"):
            return _tiff_sizes(path)
        if ext == ".npy":
            with open(path, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                shape, _, dtype = np.lib.format._read_array_header(fh, version)
            return int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if ext in (".hspy", ".h5", ".hdf5", ".emd"):
            return _hdf5_nbytes(path)
    except CorruptFileError:
        raise
    except Exception:
        return None
    return None


def _hdf5_nbytes(path: Path) -> int | None:
    import h5py

    if not h5py.is_hdf5(path):
        return None
    total = [0]

    def visit(_: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "biufc":
            total[0] += int(np.prod(obj.shape, dtype=np.int64)) * obj.dtype.itemsize

    with h5py.File(path, "r") as h5:
        h5.visititems(visit)
    return total[0]


def check_decoded_size(
    path: Path, nbytes: int | None, *, max_gb: float | None, lazy: bool = False
) -> None:
    """Refuse data above the size limit (eager reads) or a decompression bomb, unallocated."""
    if not nbytes:
        return
    limit = default_max_bytes() if max_gb is None else int(float(max_gb) * _GIB)
    gb = nbytes / _GIB
    if nbytes > limit and not lazy:
        raise InputShapeError(
            f"{path}: decodes to {gb:.2f} GB, above the limit of {limit / _GIB:.2f} GB "
            "([run] max_input_gb, default a quarter of the RAM); raise it, load lazily or "
            "crop the data"
        )
    size = max(path.stat().st_size, 1)
    if max_gb is None and nbytes > _BOMB_BYTES and nbytes / size > _BOMB_RATIO:
        raise CorruptFileError(
            f"{path}: a {size / 2**20:.1f} MB file decodes to {gb:.2f} GB (ratio "
            f"{nbytes / size:.0f}:1): refused as a possible decompression bomb; set "
            "[run] max_input_gb (or max_gb=) explicitly to read it"
        )


def check_read(path: Path, reader: str, signals: list[Any]) -> None:
    """Refuse what a reader returned without data (or with fewer points than announced)."""
    for s in signals:
        if int(np.prod(s.data.shape, dtype=np.int64)) == 0:
            raise CorruptFileError(
                f"{path}: the {reader} reader found no data values "
                "(empty signal); the file is damaged or not of this format"
            )
    if reader == "MSA":
        with open(path, "rb") as fh:
            head = fh.read(65536).decode("latin-1", "replace")
        m = re.search(r"^#NPOINTS\s*:\s*([0-9.eE+]+)", head, re.MULTILINE)
        if not m or not head.lstrip().startswith("#FORMAT"):
            raise CorruptFileError(f"{path}: not an EMSA/MSA spectrum (no #FORMAT/#NPOINTS header)")
        want, have = int(float(m.group(1))), int(signals[0].data.shape[-1])
        if want != have:
            raise CorruptFileError(
                f"{path}: truncated: #NPOINTS says {want} channels but the file holds {have}"
            )


def check_values(data: Any, name: str, kind: str) -> None:
    """Refuse data that cannot be analysed: all NaN/inf, constant (all zero), no value > 0.

    ``data`` is a NumPy (or CuPy) array; for large lazy cubes pass a sample.
    """
    a = np.asarray(data)
    if a.dtype.kind == "c":
        a = np.abs(a)
    if a.dtype.kind not in "biuf":
        raise DataValueError(f"{name}: {kind} data of dtype {a.dtype} are not numbers")
    finite = np.isfinite(a) if a.dtype.kind == "f" else np.ones(a.shape, bool)
    if not finite.any():
        raise DataValueError(f"{name}: the {kind} data are all NaN/inf; nothing to analyse")
    vals = a[finite]
    lo, hi = vals.min(), vals.max()
    if lo == hi:
        raise DataValueError(
            f"{name}: the {kind} data are constant (every value = {lo:g}); no contrast to analyse"
        )
    if hi <= 0:
        raise DataValueError(
            f"{name}: the {kind} data have no positive value (max {hi:g}); "
            "counts/intensities must be > 0 somewhere"
        )
