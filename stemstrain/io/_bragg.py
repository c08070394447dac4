"""py4DSTEM Bragg vectors: the :class:`BraggVectors` object and its files (one owner).

``BraggVectors`` holds the Bragg peaks of every scan position of a 4D-STEM scan. It is
what ``ss.load`` returns for a py4DSTEM Bragg-vector file, what
:meth:`BraggVectors.from_disks` builds from a :func:`~stemstrain.fourd.find_disks` table,
and what ``fourd_strain`` and ``fourd_phases`` accept instead of a cube (no disk
detection then). Public as ``stemstrain.BraggVectors``, ``stemstrain.fourd.BraggVectors``
and ``stemstrain.io.BraggVectors`` (one class; ``stemstrain.fourd`` imports it from
``stemstrain.io``, which imports nothing of ``fourd``).

Layout (CSR, one flat array per quantity): the peaks of flat scan position ``i = row *
scan_x + col`` are ``x[offsets[i]:offsets[i + 1]]`` etc. Frame: **x = detector column,
y = detector row** (py4DSTEM's ``qx`` is the row: ``x = qy``, ``y = qx``).

Files, read (:func:`read_bragg`, through ``ss.load``) and written
(:meth:`BraggVectors.save`) with plain h5py:

* EMD 0.13 (py4DSTEM 0.13): root ``4DSTEM`` (``version_major = 0``) holding groups with
  ``py4dstem_class = PointListArray``; each ``data`` dataset is an object array of the scan
  shape whose entries are structured arrays ``(qx, qy, intensity)``. Groups named
  ``*_cal*`` are calibrated (1/Å, centred on the (000) beam); others are detector pixels.
* EMD 1.0 (py4DSTEM 0.14, emdfile): a group with ``python_class = BraggVectors`` holding
  ``_v_uncal/data`` (detector px) and, in the root's ``metadatabundle/calibration``,
  ``Q_pixel_size``/``Q_pixel_units`` and the origin ``qx0_mean``/``qy0_mean`` when set;
  or a bare ``PointListArray`` group.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._units import unit_factor
from ..errors import CorruptFileError, InputShapeError, StemstrainError
from ._readers import _decode

__all__ = ["BraggVectors", "is_bragg_file", "read_bragg", "write_emd1"]

UNITS = ("1/nm", "px")


@dataclass(frozen=True)
class BraggVectors:
    """Bragg peaks per scan position (the input of ``fourd_strain``/``fourd_phases``).

    Parameters
    ----------
    scan_shape : (int, int)
        Scan rows, columns.
    x, y, intensity : ndarray (n_total,)
        Peak positions (x = detector column, y = detector row) in ``units`` and peak
        intensities, all positions concatenated in flat scan order.
    offsets : ndarray of int (scan_y * scan_x + 1,)
        Peaks of flat position ``i`` are ``offsets[i]:offsets[i + 1]``.
    units : {"1/nm", "px"}
        "1/nm": calibrated scattering vectors (relative to ``origin``); "px": detector
        pixels.
    origin : (x, y), optional
        The (000) beam position in ``units`` (0, 0 for centred calibrated vectors; None
        when unknown: it is then found per pattern).
    reciprocal_pixel_size : float, optional
        Detector pixel in 1/nm, when known.
    source : str
        Where the vectors came from (file and group, or "find_disks").

    Examples
    --------
    >>> bv = BraggVectors.from_arrays([[np.array([[0.0, 0.0, 5.0], [3.0, 0.0, 1.0]])]],
    ...                               units="1/nm")
    >>> bv.scan_shape, bv.n_peaks.tolist()
    ((1, 1), [[2]])
    """

    scan_shape: tuple[int, int]
    x: np.ndarray
    y: np.ndarray
    intensity: np.ndarray
    offsets: np.ndarray
    units: str = "1/nm"
    origin: tuple[float, float] | None = None
    reciprocal_pixel_size: float | None = None
    source: str = ""

    group: ClassVar[str] = "braggvectors"

    def __post_init__(self) -> None:
        """Validate shapes and units (messages name the field)."""
        sy, sx = (int(v) for v in self.scan_shape)
        object.__setattr__(self, "scan_shape", (sy, sx))
        for name in ("x", "y", "intensity"):
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), float))
        off = np.asarray(self.offsets, dtype=np.int64)
        object.__setattr__(self, "offsets", off)
        n = len(self.x)
        if not (len(self.y) == n == len(self.intensity)):
            raise InputShapeError("BraggVectors: x, y and intensity must have the same length")
        if off.shape != (sy * sx + 1,) or off[0] != 0 or off[-1] != n or np.any(np.diff(off) < 0):
            raise InputShapeError(
                f"BraggVectors: offsets must be non-decreasing, of length scan_y*scan_x+1 = "
                f"{sy * sx + 1}, from 0 to the number of peaks {n}"
            )
        if self.units not in UNITS:
            raise StemstrainError(f"BraggVectors: units must be one of {UNITS}, got {self.units!r}")
        rp = self.reciprocal_pixel_size
        if rp is not None and not (np.isfinite(rp) and rp > 0):
            raise StemstrainError(
                f"BraggVectors: reciprocal_pixel_size must be > 0 (1/nm) or None, got {rp!r}"
            )

    # -- construction ------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        peaks: Any,
        *,
        units: str = "1/nm",
        origin: Any = None,
        reciprocal_pixel_size: float | None = None,
        source: str = "",
    ) -> BraggVectors:
        """Build from a nested list / object array ``peaks[row][col]`` of (n, 3) (x, y, I)."""
        grid = np.empty((len(peaks), len(peaks[0])), dtype=object)
        for i, row in enumerate(peaks):
            for j, p in enumerate(row):
                grid[i, j] = np.asarray(p, dtype=float).reshape(-1, 3)
        flat = grid.ravel()
        counts = np.array([len(p) for p in flat], dtype=np.int64)
        allp = np.concatenate([p for p in flat]) if counts.sum() else np.zeros((0, 3))
        return cls(
            grid.shape,
            allp[:, 0],
            allp[:, 1],
            allp[:, 2],
            np.concatenate([[0], np.cumsum(counts)]),
            units=units,
            origin=None if origin is None else tuple(float(v) for v in origin),
            reciprocal_pixel_size=reciprocal_pixel_size,
            source=source,
        )

    @classmethod
    def from_disks(
        cls,
        disks: Any,
        scan_shape: tuple[int, int],
        *,
        reciprocal_pixel_size: float | None = None,
        origin: Any = None,
    ) -> BraggVectors:
        """Build from the table of :func:`~stemstrain.fourd.find_disks` (detector px).

        Parameters
        ----------
        disks : pandas.DataFrame
            Columns ``index`` (flat scan position), ``x``, ``y``, ``intensity``.
        scan_shape : (int, int)
            Scan rows, columns of the cube the disks came from.
        reciprocal_pixel_size : float, optional
            Detector pixel, 1/nm.
        origin : (x, y), optional
            (000) position on the detector, px.

        Returns
        -------
        BraggVectors
            ``units="px"``; peaks in the order of the table within each position.
        """
        idx = np.asarray(disks["index"], dtype=np.int64)
        n = int(scan_shape[0]) * int(scan_shape[1])
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise InputShapeError(f"disks index out of range for scan_shape {tuple(scan_shape)}")
        order = np.argsort(idx, kind="stable")
        counts = np.bincount(idx, minlength=n)
        return cls(
            scan_shape,
            np.asarray(disks["x"], float)[order],
            np.asarray(disks["y"], float)[order],
            np.asarray(disks["intensity"], float)[order],
            np.concatenate([[0], np.cumsum(counts)]),
            units="px",
            origin=None if origin is None else tuple(float(v) for v in origin),
            reciprocal_pixel_size=reciprocal_pixel_size,
            source="find_disks",
        )

    # -- access ------------------------------------------------------------------
    @property
    def n_positions(self) -> int:
        """Number of scan positions."""
        return self.scan_shape[0] * self.scan_shape[1]

    @property
    def n_peaks(self) -> np.ndarray:
        """Peaks per position, (scan_y, scan_x)."""
        return np.diff(self.offsets).reshape(self.scan_shape)

    def peaks(self, row: int, col: int) -> np.ndarray:
        """Peaks of one position as an (n, 3) array of (x, y, intensity)."""
        i = int(row) * self.scan_shape[1] + int(col)
        sl = slice(self.offsets[i], self.offsets[i + 1])
        return np.column_stack([self.x[sl], self.y[sl], self.intensity[sl]])

    def position_index(self) -> np.ndarray:
        """Flat scan position of every peak, (n_total,)."""
        return np.repeat(np.arange(self.n_positions), np.diff(self.offsets))

    def centred(self) -> tuple[np.ndarray, np.ndarray, str]:
        """Peak vectors relative to ``origin`` (x, y) in 1/nm when calibrated, else ``units``."""
        ox, oy = self.origin if self.origin is not None else (0.0, 0.0)
        qx, qy = self.x - ox, self.y - oy
        if self.units == "px" and self.reciprocal_pixel_size is not None:
            return qx * self.reciprocal_pixel_size, qy * self.reciprocal_pixel_size, "1/nm"
        return qx, qy, self.units

    def padded(
        self, index: np.ndarray | None = None, max_peaks: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Peaks of positions ``index`` as padded arrays, strongest first.

        Returns ``xy`` (B, K, 2), ``intensity`` (B, K), ``valid`` (B, K) in ``units``.
        """
        index = np.arange(self.n_positions) if index is None else np.asarray(index, int)
        counts = np.diff(self.offsets)[index]
        k = int(counts.max()) if len(counts) else 0
        k = max(1, k if max_peaks is None else min(k, int(max_peaks)))
        start = self.offsets[index]
        # strongest first within each position: sort by (position, -intensity)
        pos = np.repeat(np.arange(len(index)), counts)
        src = (
            np.concatenate([np.arange(s, s + c) for s, c in zip(start, counts, strict=True)])
            if counts.sum()
            else np.zeros(0, int)
        )
        order = np.lexsort((-self.intensity[src], pos))
        src, pos = src[order], pos[order]
        rank = np.arange(len(src)) - np.repeat(
            np.concatenate([[0], np.cumsum(counts)[:-1]]), counts
        )
        keep = rank < k
        xy = np.zeros((len(index), k, 2))
        inten = np.zeros((len(index), k))
        valid = np.zeros((len(index), k), dtype=bool)
        xy[pos[keep], rank[keep], 0] = self.x[src[keep]]
        xy[pos[keep], rank[keep], 1] = self.y[src[keep]]
        inten[pos[keep], rank[keep]] = self.intensity[src[keep]]
        valid[pos[keep], rank[keep]] = True
        return xy, inten, valid

    # -- output ------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write an EMD 1.0 file in py4DSTEM's ``BraggVectors`` layout (read by ``ss.load``).

        Peaks go to ``<root>/braggvectors/_v_uncal/data`` as py4DSTEM PointLists
        (``qx`` = row = our y, ``qy`` = column = our x, ``intensity``); calibrated
        vectors are written in 1/Å with the origin at 0 (py4DSTEM's units).
        """
        return write_emd1(self, path)

    def describe(self, path: str | os.PathLike) -> dict:
        """``stemstrain info`` fields of a Bragg-vector file (as ``io.describe`` gives)."""
        n = self.n_peaks.ravel()
        calibrated = self.units == "1/nm" or self.reciprocal_pixel_size is not None
        axes = [
            {
                "name": nm,
                "size": int(sz),
                "scale": 1.0,
                "offset": 0.0,
                "units": "",
                "navigate": True,
            }
            for nm, sz in zip(("y", "x"), self.scan_shape, strict=True)
        ]
        return {
            "path": str(path),
            "reader": "stemstrain.io._bragg",
            "kind": "bragg",
            "title": self.source,
            "shape": [*self.scan_shape, int(n.max()) if len(n) else 0, 3],
            "navigation_shape": list(self.scan_shape),
            "signal_shape": [],
            "dtype": "float64",
            "axes": axes,
            "calibrated": calibrated,
            "missing_calibration": [] if calibrated else ["reciprocal pixel size (1/nm)"],
            "n_signals": 1,
            "signals": [repr(self)],
            "microscope": {},
            "reader_notes": [
                f"Bragg vectors: {len(self.x)} peaks, {n.min() if len(n) else 0}-"
                f"{n.max() if len(n) else 0} per position (mean {n.mean():.1f}), units "
                f"{self.units}"
            ],
        }

    def __repr__(self) -> str:
        """Short summary (scan shape, peaks, units)."""
        return (
            f"BraggVectors(scan_shape={self.scan_shape}, peaks={len(self.x)}, "
            f"units={self.units!r}, source={self.source!r})"
        )


# -- files ----------------------------------------------------------------------
def _attr(obj: Any, key: str, default: Any = None) -> Any:
    return _decode(obj.attrs.get(key, default))


def _find_groups(h5: Any) -> list[tuple[str, str]]:
    """(path, kind) of every Bragg-vector group: kind "bv1", "pla1" or "pla13"."""
    found: list[tuple[str, str]] = []

    def visit(name: str, obj: Any) -> None:
        if not hasattr(obj, "keys"):
            return
        if _attr(obj, "python_class") == "BraggVectors" and "_v_uncal" in obj:
            found.append((name, "bv1"))
        elif _attr(obj, "py4dstem_class") == "PointListArray" and "data" in obj:
            found.append((name, "pla13"))
        elif (
            _attr(obj, "python_class") == "PointListArray"
            and "data" in obj
            and "/_v_uncal" not in f"/{name}"
            and not name.endswith("_v_uncal")
        ):
            found.append((name, "pla1"))

    h5.visititems(visit)
    return found


def is_bragg_file(path: str | os.PathLike) -> bool:
    """Tell whether an HDF5 file holds py4DSTEM Bragg vectors (and no other data)."""
    p = Path(path)
    if p.suffix.lower() not in (".h5", ".hdf5", ".emd"):
        return False
    try:
        import h5py

        with h5py.File(p, "r") as h5:
            if not any(
                _attr(h5[k], "emd_group_type") == "root" for k in h5 if hasattr(h5[k], "keys")
            ):
                return False
            return bool(_find_groups(h5))
    except (OSError, KeyError):
        return False


def _read_pla(ds: Any) -> tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    arr = ds[()]
    if arr.ndim != 2:
        raise CorruptFileError(
            f"Bragg vectors {ds.name}: expected a 2-D scan of point lists, got shape {arr.shape}"
        )
    flat = arr.ravel()
    counts = np.fromiter((len(p) for p in flat), dtype=np.int64, count=len(flat))
    allp = np.concatenate(list(flat)) if counts.sum() else np.zeros(0, flat[0].dtype)
    names = allp.dtype.names or ()
    if not {"qx", "qy", "intensity"} <= set(names):
        raise CorruptFileError(f"Bragg vectors {ds.name}: fields {names}, need qx, qy, intensity")
    off = np.concatenate([[0], np.cumsum(counts)])
    return (
        arr.shape,
        allp["qy"].astype(float),
        allp["qx"].astype(float),
        allp["intensity"].astype(float),
        off,
    )


def _calibration(h5: Any, path: str) -> dict:
    """py4DSTEM calibration (EMD 1.0) of the root holding ``path``."""
    root = path.split("/")[0]
    cal = h5.get(f"{root}/metadatabundle/calibration")
    out: dict = {}
    if cal is None:
        return out
    for key in ("Q_pixel_size", "Q_pixel_units", "qx0_mean", "qy0_mean"):
        if key in cal:
            out[key] = _decode(cal[key][()])
    return out


def read_bragg(path: str | os.PathLike, *, group: str | None = None) -> BraggVectors:
    """Read the Bragg vectors of a py4DSTEM file into a ``BraggVectors``.

    Parameters
    ----------
    path : path-like
        EMD 0.13 or 1.0 HDF5 file.
    group : str, optional
        HDF5 path of the group to read (default: the first calibrated one, else the first).

    Returns
    -------
    BraggVectors
    """
    import h5py

    p = Path(path)
    with h5py.File(p, "r") as h5:
        found = _find_groups(h5)
        if group is not None:
            found = [f for f in found if f[0] == group.strip("/")]
        if not found:
            raise CorruptFileError(
                f"{p.name}: no py4DSTEM Bragg-vector group" + (f" named {group!r}" if group else "")
            )
        found.sort(key=lambda f: ("_cal" not in f[0].rsplit("/", 1)[-1], f[0]))
        name, kind = found[0]
        sub = h5[name]
        if kind == "bv1":
            shape, x, y, inten, off = _read_pla(sub["_v_uncal/data"])
        else:
            shape, x, y, inten, off = _read_pla(sub["data"])
        units, origin, recip = "px", None, None
        if kind == "pla13" and "_cal" in name.rsplit("/", 1)[-1]:
            units, origin = "1/nm", (0.0, 0.0)
            x, y = x * 10.0, y * 10.0  # 1/Å → 1/nm
        elif kind in ("pla1", "bv1"):
            cal = _calibration(h5, name)
            factor = unit_factor(cal.get("Q_pixel_units"), "reciprocal")
            if factor and "Q_pixel_size" in cal:
                recip = float(cal["Q_pixel_size"]) * factor
            if kind == "pla1" and _attr(sub, "units"):
                f = unit_factor(_attr(sub, "units"), "reciprocal")
                if f:
                    units, origin, recip = "1/nm", (0.0, 0.0), None
                    x, y = x * f, y * f
            if "qx0_mean" in cal and "qy0_mean" in cal and units == "px":
                origin = (float(cal["qy0_mean"]), float(cal["qx0_mean"]))
    return BraggVectors(
        shape,
        x,
        y,
        inten,
        off,
        units=units,
        origin=origin,
        reciprocal_pixel_size=recip,
        source=f"{p.name}:/{name}",
    )


def _vlen_points(bv: BraggVectors, scale: float) -> np.ndarray:
    import h5py

    dt = np.dtype([("qx", "<f8"), ("qy", "<f8"), ("intensity", "<f8")])
    out = np.empty(bv.scan_shape, dtype=h5py.vlen_dtype(dt))
    flat = out.reshape(-1)
    rec = np.empty(len(bv.x), dtype=dt)
    rec["qx"], rec["qy"], rec["intensity"] = bv.y * scale, bv.x * scale, bv.intensity
    for i in range(bv.n_positions):  # one record array per position (HDF5 vlen layout)
        flat[i] = rec[bv.offsets[i] : bv.offsets[i + 1]]
    return out


def _item(group: Any, key: str, value: Any, kind: str) -> None:
    """One emdfile ``Metadata`` item (a dataset with its ``type`` attribute)."""
    group.create_dataset(key, data=value).attrs["type"] = kind


def write_emd1(bv: BraggVectors, path: str | os.PathLike) -> Path:
    """Write ``bv`` as an EMD 1.0 file (py4DSTEM/emdfile layout); returns the path.

    Detector-pixel vectors go into a ``BraggVectors`` group (``_v_uncal``) with the pixel
    size (1/Å) and origin in the root calibration; calibrated vectors into a
    ``PointListArray`` group ``braggpeaks_cal`` in 1/Å (``units`` attribute).
    """
    import h5py

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(p, "w") as h5:
        h5.attrs.update(
            {
                "emd_group_type": "file",
                "version_major": 1,
                "version_minor": 0,
                "authoring_program": "stemstrain",
                "authoring_user": "",
                "UUID": str(uuid.uuid4()),
            }
        )
        root = h5.create_group("braggvectors_root")
        root.attrs.update({"emd_group_type": "root", "python_class": "Root"})
        cal = root.create_group("metadatabundle").create_group("calibration")
        cal.attrs.update({"emd_group_type": "metadata", "python_class": "Calibration"})
        if bv.units == "px":
            grp = root.create_group("braggvectors")
            grp.attrs.update({"emd_group_type": "custom", "python_class": "BraggVectors"})
            pla = grp.create_group("_v_uncal")
            pla.attrs.update(
                {"emd_group_type": "custom_pointlistarray", "python_class": "PointListArray"}
            )
            pla.create_dataset("data", data=_vlen_points(bv, 1.0))
            if bv.reciprocal_pixel_size is not None:
                _item(cal, "Q_pixel_size", bv.reciprocal_pixel_size / 10.0, "number")
                _item(cal, "Q_pixel_units", "A^-1", "string")
            if bv.origin is not None:
                _item(cal, "qx0_mean", float(bv.origin[1]), "number")
                _item(cal, "qy0_mean", float(bv.origin[0]), "number")
            shapes = grp.create_group("metadatabundle").create_group("_braggvectors_shape")
            shapes.attrs.update({"emd_group_type": "metadata", "python_class": "Metadata"})
            _item(shapes, "Rshape", np.asarray(bv.scan_shape), "tuple")
            q = [int(np.ceil(np.max(v, initial=0.0))) + 1 for v in (bv.y, bv.x)]
            _item(shapes, "Qshape", np.asarray(q), "tuple")
        else:
            ox, oy = bv.origin if bv.origin is not None else (0.0, 0.0)
            centred = BraggVectors(
                bv.scan_shape, bv.x - ox, bv.y - oy, bv.intensity, bv.offsets, units=bv.units
            )
            pla = root.create_group("braggpeaks_cal")
            pla.attrs.update(
                {
                    "emd_group_type": "pointlistarray",
                    "python_class": "PointListArray",
                    "units": "A^-1",
                }
            )
            pla.create_dataset("data", data=_vlen_points(centred, 0.1))  # 1/nm → 1/Å
    return p
