"""Result objects and the results file layout (API.md "Results layout").

Every analysis returns a frozen dataclass that inherits :class:`ResultBase`.
A result knows which HDF5 group it belongs to (``group``), which of its fields are
image-shaped maps, which are tables and which are small arrays; from that the base
class gives ``.save(path)``, ``.to_signal()`` and ``.plot()`` to all of them.

Files are written atomically: into ``<name>.tmp-<pid>`` next to the target, then
``os.replace``-d onto the target, so a killed process never leaves a results file
that looks complete but is not.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "Calibration",
    "ResultBase",
    "write_results",
    "read_results",
    "file_sha256",
    "atomic_write_text",
    "atomic_path",
    "TableResult",
]


@dataclass(frozen=True)
class Calibration:
    """Sampling of the last two axes of a result's maps.

    Attributes
    ----------
    sampling : tuple of float
        Size of one pixel along (row, col), in ``units``.
    units : tuple of str
        Units along (row, col), e.g. ("nm", "nm"); "px" when uncalibrated.
    origin : tuple of float
        Coordinate of pixel (0, 0) in ``units``.
    """

    sampling: tuple[float, float] = (1.0, 1.0)
    units: tuple[str, str] = ("px", "px")
    origin: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def from_pixel_size(cls, pixel_size: float | None) -> Calibration:
        """Square pixels of ``pixel_size`` nm, or pixels when None."""
        if pixel_size is None:
            return cls()
        p = float(pixel_size)
        return cls((p, p), ("nm", "nm"), (0.0, 0.0))


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file, read in chunks (inputs can be many GB)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def atomic_path(path: str | os.PathLike) -> Path:
    """Temporary sibling name for writing ``path`` atomically."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write text to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_path(path)
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("stemstrain")
    except Exception:
        return "0+unknown"


def _attr_value(value: Any) -> Any:
    """Turn a parameter into something HDF5 attributes accept."""
    if value is None:
        return "None"
    if isinstance(value, (str, int, float, bool, np.integer, np.floating, np.bool_)):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "iufb":
        return value
    try:
        return json.dumps(value, default=str)
    except TypeError:
        return str(value)


def _write_table(group: Any, name: str, table: Any) -> None:
    sub = group.create_group(name)
    sub.attrs["kind"] = "table"
    cols = [str(c) for c in table.columns]
    sub.attrs["columns"] = json.dumps(cols)
    for col in table.columns:
        values = table[col].to_numpy()
        if values.dtype.kind == "O" or values.dtype.kind == "U":
            values = np.asarray([str(v) for v in values], dtype="S")
        sub.create_dataset(str(col), data=values)


def _write_group(h5: Any, result: ResultBase) -> None:
    name = result.group
    if name in h5:
        del h5[name]
    grp = h5.create_group(name)
    grp.attrs["result_type"] = type(result).__name__
    for key, value in result.attrs().items():
        grp.attrs[key] = _attr_value(value)
    for key, table in result.tables().items():
        _write_table(grp, key, table)
    for key, arr in result.arrays().items():
        arr = np.asarray(arr)
        kw = {"compression": "gzip", "compression_opts": 4} if arr.size > 4096 else {}
        if arr.dtype.kind == "b":
            arr = arr.astype(np.uint8)
        grp.create_dataset(key, data=arr, **kw)


def write_results(
    path: str | os.PathLike,
    results: list[ResultBase] | tuple[ResultBase, ...],
    *,
    input_path: str | os.PathLike | None = None,
    input_sha256: str | None = None,
    attrs: dict | None = None,
    append: bool = True,
) -> Path:
    """Write results into an HDF5 results file atomically.

    Parameters
    ----------
    path : path-like
        Target ``results.h5``.
    results : list of ResultBase
        One HDF5 group each (``result.group``); an existing group of that name is replaced.
    input_path : path-like, optional
        The analysed file; its name and SHA-256 go into the root attributes.
    input_sha256 : str, optional
        Precomputed hash of ``input_path``.
    attrs : dict, optional
        More root attributes (parameters, config hash...).
    append : bool
        Keep the groups already in an existing file (default). The old file is copied,
        updated and renamed over the original, so it is never left half-written.
    """
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_path(path)
    if append and path.exists():
        shutil.copyfile(path, tmp)
        mode = "a"
    else:
        mode = "w"
    try:
        with h5py.File(tmp, mode) as h5:
            h5.attrs["stemstrain_version"] = _version()
            h5.attrs["written"] = _dt.datetime.now(_dt.timezone.utc).isoformat()
            if input_path is not None:
                h5.attrs["input_file"] = str(Path(input_path).name)
                h5.attrs["input_sha256"] = input_sha256 or file_sha256(input_path)
            for key, value in (attrs or {}).items():
                h5.attrs[key] = _attr_value(value)
            for res in results:
                _write_group(h5, res)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_results(path: str | os.PathLike) -> dict:
    """Read a results file into nested dicts: arrays, pandas DataFrames for tables, attrs."""
    import h5py
    import pandas as pd

    def _read(node: Any) -> Any:
        if isinstance(node, h5py.Dataset):
            return node[()]
        if node.attrs.get("kind") == "table":
            cols = json.loads(node.attrs["columns"])
            data = {}
            for c in cols:
                v = node[c][()]
                if v.dtype.kind == "S":
                    v = v.astype(str)
                data[c] = v
            return pd.DataFrame(data, columns=cols)
        out = {k: _read(node[k]) for k in node}
        out["attrs"] = {k: node.attrs[k] for k in node.attrs}
        return out

    with h5py.File(path, "r") as h5:
        return _read(h5)


class ResultBase:
    """Behaviour shared by all result dataclasses.

    Subclasses are ``@dataclass(frozen=True)`` and set the class variables below.
    """

    group: ClassVar[str] = "result"
    #: fields that are image-shaped maps (written as datasets, stacked by to_signal)
    map_fields: ClassVar[tuple[str, ...]] = ()
    #: fields that are pandas DataFrames (written as tables)
    table_fields: ClassVar[tuple[str, ...]] = ()
    #: other array fields written as datasets (g_vectors, amplitude...)
    array_fields: ClassVar[tuple[str, ...]] = ()
    #: scalar/dict fields written as attributes
    attr_fields: ClassVar[tuple[str, ...]] = ()

    # -- what gets written ---------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """Arrays of this result by dataset name."""
        out = {}
        for name in self.map_fields + self.array_fields:
            value = getattr(self, name)
            if value is not None:
                out[name] = np.asarray(value)
        return out

    def tables(self) -> dict[str, Any]:
        """DataFrames of this result by table name."""
        return {n: getattr(self, n) for n in self.table_fields if getattr(self, n) is not None}

    def attrs(self) -> dict[str, Any]:
        """Attributes: pixel size, units and parameters."""
        out: dict[str, Any] = {}
        for name in self.attr_fields:
            out[name] = getattr(self, name)
        cal = getattr(self, "calibration", None)
        if isinstance(cal, Calibration):
            out["sampling"] = np.asarray(cal.sampling, dtype=float)
            out["units"] = json.dumps(list(cal.units))
        px = getattr(self, "pixel_size", None)
        out["pixel_size_nm"] = float(px) if px is not None else float("nan")
        return out

    # -- public behaviour ----------------------------------------------------------
    def save(self, path: str | os.PathLike, **kwargs: Any) -> Path:
        """Write (or update) this result's group in the results file ``path``."""
        return write_results(path, [self], **kwargs)

    def to_signal(self) -> Any:
        """Calibrated HyperSpy Signal2D stacking the result's maps (navigation axis = map)."""
        import hyperspy.api as hs

        names = [n for n in self.map_fields if getattr(self, n) is not None]
        if not names:
            raise ValueError(f"{type(self).__name__} has no maps to turn into a signal")
        stack = np.stack([np.asarray(getattr(self, n), dtype=float) for n in names])
        sig = hs.signals.Signal2D(stack)
        cal = getattr(self, "calibration", None) or Calibration.from_pixel_size(
            getattr(self, "pixel_size", None)
        )
        ax_map = sig.axes_manager.navigation_axes[0]
        ax_map.name = "map"
        for ax, samp, unit, org, nm in zip(
            sig.axes_manager.signal_axes[::-1],
            cal.sampling,
            cal.units,
            cal.origin,
            ("y", "x"),
            strict=True,
        ):
            ax.scale, ax.units, ax.offset, ax.name = samp, unit, org, nm
        sig.metadata.General.title = f"{self.group}: " + ", ".join(names)
        sig.metadata.set_item("stemstrain.maps", names)
        return sig

    def plot(self, **kwargs: Any) -> Any:
        """Plot this result (delegates to :mod:`stemstrain.plot`)."""
        from . import plot as _plot

        return _plot.plot_result(self, **kwargs)


def replace(result: Any, **changes: Any) -> Any:
    """Return a new result with some fields changed (results are frozen)."""
    return dataclasses.replace(result, **changes)


@dataclass(frozen=True)
class TableResult(ResultBase):
    """A bare table (e.g. the DataFrame of ``find_columns`` or ``find_dislocations``) as a result.

    ``TableResult("columns", df).save(path)`` writes ``/columns`` as a table group.
    """

    name: str
    table: Any
    pixel_size: float | None = None

    @property
    def group(self) -> str:  # type: ignore[override]
        """HDF5 group name: the table's name."""
        return self.name

    def tables(self) -> dict[str, Any]:
        """No sub-tables: the table is the group itself."""
        return {}

    def arrays(self) -> dict[str, np.ndarray]:
        """No arrays besides the table."""
        return {}


def _write_table_result(h5: Any, result: TableResult) -> None:
    if result.name in h5:
        del h5[result.name]
    _write_table(h5, result.name, result.table)
    for key, value in result.attrs().items():
        h5[result.name].attrs[key] = _attr_value(value)


_plain_write_group = _write_group


def _write_group(h5: Any, result: ResultBase) -> None:
    if isinstance(result, TableResult):
        _write_table_result(h5, result)
    else:
        _plain_write_group(h5, result)
