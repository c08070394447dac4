"""``BraggVectors``: the Bragg peaks of every scan position of a 4D-STEM scan.

The object is what ``ss.load`` returns for a py4DSTEM Bragg-vector file (EMD 0.13
``PointListArray`` or EMD 1.0 ``BraggVectors``), what :meth:`BraggVectors.from_disks`
builds from a :func:`~stemstrain.fourd.find_disks` table, and what ``fourd_strain`` and
``fourd_phases`` accept instead of a cube (no disk detection then).

Layout (CSR, one flat array per quantity): the peaks of flat scan position ``i = row *
scan_x + col`` are ``x[offsets[i]:offsets[i + 1]]`` etc. Frame: **x = detector column,
y = detector row** (py4DSTEM's ``qx`` is the row: ``x = qy``, ``y = qx``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import InputShapeError, StemstrainError

__all__ = ["BraggVectors"]

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
        from ..io._bragg import write_emd1

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
