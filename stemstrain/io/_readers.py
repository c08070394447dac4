"""Low-level readers: path -> list of HyperSpy signals, every failure a StemstrainError.

Dispatch is by extension. HDF5 containers (.h5 .hdf5 .emd) are sniffed read-only with
h5py to pick the reader (HyperSpy, EMD 1.0 written by py4DSTEM/emdfile, Berkeley or
Velox EMD, Arina). Everything else goes to RosettaSciIO through ``hs.load``, apart
from .npy (NumPy), two-column EELS text (.txt .csv .dat) and Gatan K2 raw (.gtg,
through py4DSTEM). Files are only ever opened for reading.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import CorruptFileError, InputShapeError, StemstrainError, UnsupportedFormatError

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "ALL_EXTENSIONS",
    "TEXT_EXTENSIONS",
    "HEADER_EXTENSIONS",
    "read_signals",
    "check_path",
]

# extension -> reader name (HyperSpy ``file_format`` or one of ours in angle brackets)
SUPPORTED_EXTENSIONS = {
    ".dm3": "DigitalMicrograph",
    ".dm4": "DigitalMicrograph",
    ".emd": "<hdf5>",
    ".h5": "<hdf5>",
    ".hdf5": "<hdf5>",
    ".hspy": "HSPY",
    ".zspy": "ZSPY",
    ".ser": "TIA",
    ".emi": "TIA",
    ".mrc": "MRC",
    ".mrcz": "MRCZ",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".mib": "QuantumDetector",
    ".blo": "Blockfile",
    ".msa": "MSA",
    ".ems": "MSA",
    ".xml": "EMPAD",
    ".npy": "<npy>",
    ".txt": "<text>",
    ".csv": "<text>",
    ".dat": "<text>",
    ".gtg": "<k2>",
    ".jpg": "<image>",
    ".jpeg": "<image>",
    ".png": "<image>",
    ".bmp": "<image>",
}
#: headers that name the data file next to them (``load`` reads that file instead)
HEADER_EXTENSIONS = {".hdr": ".mib"}
#: text formats: read when they hold a two-column spectrum (the batch sniffs them first)
TEXT_EXTENSIONS = frozenset(e for e, r in SUPPORTED_EXTENSIONS.items() if r == "<text>")
#: every extension ``load`` accepts, sorted: the one list used by the batch and napari
ALL_EXTENSIONS = tuple(sorted({*SUPPORTED_EXTENSIONS, *HEADER_EXTENSIONS}))

_NUMERIC_ROW = re.compile(r"^\s*[+-]?(\d|\.\d)")
_QUIET_LOGGERS = ("hyperspy", "rsciio", "exspy", "py4DSTEM", "emdfile", "ncempy")


@contextlib.contextmanager
def _quiet(record: list[str]) -> Iterator[None]:
    """Silence third-party loggers and collect third-party warnings into ``record``.

    HyperSpy sets its logger's level when ``hyperspy.api`` is first imported, so it is
    imported here first, then the levels are raised for the duration of the read.
    """
    levels = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import hyperspy.api  # noqa: F401 - configures the "hyperspy" logger once
        import rsciio  # noqa: F401 - its first import resets its logger (to stdout)

        _logs_off_stdout()
        for name in _QUIET_LOGGERS:
            logger = logging.getLogger(name)
            levels[name] = logger.level
            logger.setLevel(logging.CRITICAL + 1)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
    record.extend(" ".join(str(w.message).split()) for w in caught)


def _logs_off_stdout() -> None:
    """Send the readers' log lines to stderr (RosettaSciIO logs to stdout by default)."""
    for name in _QUIET_LOGGERS:
        for h in logging.getLogger(name).handlers:
            if isinstance(h, logging.StreamHandler) and h.stream is sys.stdout:
                h.setStream(sys.stderr)


def check_path(path: str | os.PathLike) -> Path:
    """Validate that ``path`` exists, is readable and has a supported extension."""
    if isinstance(path, (list, tuple)):
        raise StemstrainError(
            f"path must be one file, got a {type(path).__name__}; load files one at a time"
        )
    try:
        p = Path(os.fspath(path)).expanduser()
    except TypeError:
        raise StemstrainError(f"path must be a str or Path, got {type(path).__name__}") from None
    ext = p.suffix.lower()
    if ext == ".raw":
        xml = p.with_suffix(".xml")
        hint = f"load {xml.name} instead" if xml.exists() else "load the .xml written with it"
        raise UnsupportedFormatError(
            f"{p}: raw detector data is read through its EMPAD header; {hint}"
        )
    if ext == ".hdr":  # Merlin header: the data are in the .mib of the same name
        mib = p.with_suffix(".mib")
        if not mib.exists():
            raise UnsupportedFormatError(
                f"{p}: a Merlin .hdr header holds no data and "
                f"{mib.name} is not next to it; load the .mib"
            )
        p, ext = mib, ".mib"
    if ext not in SUPPORTED_EXTENSIONS:
        supported = " ".join(sorted(SUPPORTED_EXTENSIONS))
        raise UnsupportedFormatError(
            f"{p}: unsupported format {ext or '(no extension)'!r}; supported: {supported}"
        )
    if not p.exists():
        raise StemstrainError(f"{p}: no such file")
    if p.is_dir() and ext != ".zspy":
        raise StemstrainError(f"{p}: is a directory, not a file")
    if p.is_file():
        if not os.access(p, os.R_OK):
            raise StemstrainError(f"{p}: not readable (permission denied)")
        if p.stat().st_size == 0:
            raise CorruptFileError(f"{p}: file is empty (0 bytes)")
    return p


def _fail(path: Path, what: str, exc: BaseException) -> CorruptFileError:
    msg = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(msg) > 200:
        msg = msg[:197] + "..."
    return CorruptFileError(
        f"{path}: cannot read as {what} ({msg}); "
        "the file is truncated, damaged or not of this format"
    )


def _sniff_hdf5(path: Path) -> str:
    """Reader name for an HDF5 container, decided from its root attributes/groups."""
    import h5py

    try:
        if not h5py.is_hdf5(path):
            raise CorruptFileError(
                f"{path}: not an HDF5 file (no HDF5 signature); "
                "the file is truncated, damaged or not of this format"
            )
        with h5py.File(path, "r") as h5:
            attrs = {k: h5.attrs[k] for k in h5.attrs}
            keys = set(h5.keys())
    except StemstrainError:
        raise
    except Exception as exc:
        raise _fail(path, "HDF5", exc) from None
    fmt = attrs.get("file_format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode(errors="replace")
    if fmt is not None and str(fmt).lower() == "hyperspy":
        return "HSPY"
    major = int(attrs.get("version_major", 0))
    if str(_decode(attrs.get("emd_group_type"))) == "file" and major >= 1:
        return "<emd1>"
    if "version_major" in attrs or {"Data", "Version"} <= keys or "data" in keys:
        return "EMD"
    if "entry" in keys:
        return "Arina"
    if path.suffix.lower() == ".emd":
        return "EMD"
    raise UnsupportedFormatError(
        f"{path}: HDF5 file of unknown layout (root groups {sorted(keys)[:6]}); "
        "supported HDF5 layouts: HyperSpy, EMD (Velox, Berkeley, py4DSTEM 1.0), Arina"
    )


def _decode(value: Any) -> Any:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def read_signals(path: Path, *, lazy: bool, warn_record: list[str]) -> tuple[list[Any], str]:
    """Read every signal of ``path``; returns (signals, reader name)."""
    ext = path.suffix.lower()
    reader = SUPPORTED_EXTENSIONS[ext]
    if reader == "<hdf5>":
        reader = _sniff_hdf5(path)
    with _quiet(warn_record):
        if reader == "<npy>":
            return [_read_npy(path, lazy=lazy)], "NumPy"
        if reader == "<text>":
            return [_read_text_spectrum(path)], "two-column text"
        if reader == "<emd1>":
            from ._emd1 import read_emd1

            try:
                return read_emd1(path, lazy=lazy), "EMD 1.0 (py4DSTEM)"
            except StemstrainError:
                raise
            except Exception as exc:
                raise _fail(path, "EMD 1.0 (py4DSTEM)", exc) from None
        if reader == "<k2>":
            return [_read_k2(path)], "Gatan K2 (py4DSTEM)"
        if reader == "<image>":
            return [_read_image(path)], "image (RosettaSciIO)"
        signals = _read_hyperspy(path, reader, lazy=lazy, warn_record=warn_record)
        if reader == "TIFF":
            _imagej_units(path, signals)
        return signals, reader


def _read_hyperspy(path: Path, reader: str, *, lazy: bool, warn_record: list[str]) -> list[Any]:
    import hyperspy.api as hs

    ambiguous = {".h5", ".hdf5", ".emd", ".xml"}  # several RosettaSciIO readers claim these
    kwargs = {"file_format": reader} if path.suffix.lower() in ambiguous else {}
    try:
        try:
            out = hs.load(str(path), lazy=lazy, **kwargs)
        except NotImplementedError:
            if not lazy:
                raise
            # some readers (Arina, ...) cannot read lazily: read into memory, say so
            out = hs.load(str(path), lazy=False, **kwargs)
            warn_record.append(f"the {reader} reader cannot read lazily; loaded into memory")
        except ImportError:
            if reader != "EMD":
                raise
            # Velox EDS spectrum streams need 'sparse': keep the images, note what was skipped
            out = hs.load(str(path), lazy=lazy, select_type="image", **kwargs)
            warn_record.append(
                "EDS spectrum stream skipped: reading it needs the 'sparse' "
                "package (pip install sparse)"
            )
    except ImportError as exc:
        missing = getattr(exc, "name", None) or " ".join(str(exc).split())
        raise StemstrainError(
            f"{path}: the {reader} reader needs an optional package ({missing}); "
            "install it (see RosettaSciIO's optional dependencies) and retry"
        ) from None
    except Exception as exc:
        raise _fail(path, reader, exc) from None
    signals = out if isinstance(out, list) else [out]
    if not signals:
        raise CorruptFileError(f"{path}: the {reader} reader found no signal in the file")
    return signals


def _array_signal(data: Any, *, lazy: bool) -> Any:
    import hyperspy.api as hs

    if data.ndim == 1:
        sig = hs.signals.Signal1D(data)
    elif data.ndim in (2, 3, 4):
        sig = hs.signals.Signal2D(data)
    else:
        raise InputShapeError(
            f"array of shape {data.shape} has {data.ndim} dimensions; "
            "stemstrain reads 1-D spectra, 2-D images, 3-D stacks and 4-D cubes"
        )
    return sig.as_lazy() if lazy else sig


def _read_npy(path: Path, *, lazy: bool) -> Any:
    try:
        data = np.load(path, mmap_mode="r" if lazy else None, allow_pickle=False)
    except Exception as exc:
        raise _fail(path, "NumPy .npy", exc) from None
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "biufc":
        raise CorruptFileError(
            f"{path}: .npy holds dtype {getattr(data, 'dtype', None)}, "
            "not numbers; save a numeric array"
        )
    if lazy:
        import dask.array as da

        data = da.from_array(data, chunks="auto")
    try:
        return _array_signal(data, lazy=lazy)
    except InputShapeError as exc:
        raise InputShapeError(f"{path}: {exc}") from None


def _read_text_spectrum(path: Path) -> Any:
    """Two numeric columns (energy in eV, counts) as an EELSSpectrum; see module notes."""
    import hyperspy.api as hs

    try:
        # a UTF-8 byte-order mark and up to 5 leading column-label lines are allowed
        # (e.g. "Column2,Column3" of the MnEdgeNet CSVs)
        lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
        skip = next((i for i, ln in enumerate(lines[:6]) if _NUMERIC_ROW.match(ln)), 0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            table = np.loadtxt(
                lines[skip:],
                comments="#",
                delimiter=None if path.suffix.lower() != ".csv" else ",",
                ndmin=2,
            )
    except Exception as exc:
        raise CorruptFileError(
            f"{path}: not a two-column text spectrum (energy in eV, counts): "
            f"{' '.join(str(exc).split())[:160]}"
        ) from None
    if table.shape[1] != 2 or table.shape[0] < 3:
        raise CorruptFileError(
            f"{path}: text table of shape {table.shape}; "
            "expected two columns (energy in eV, counts) and >= 3 rows"
        )
    energy, counts = table[:, 0], table[:, 1]
    step = np.diff(energy)
    scale = float(np.median(step))
    note = None
    if not (scale > 0 and np.all(np.abs(step - scale) <= 1e-3 * scale + 1e-9)):
        energy, counts, scale, note = _resample_uneven(path, energy, counts, step)
    sig = hs.signals.Signal1D(counts)
    ax = sig.axes_manager.signal_axes[0]
    ax.name, ax.units, ax.scale, ax.offset = "Energy loss", "eV", scale, float(energy[0])
    sig.metadata.General.title = path.stem
    sig.metadata.Signal.signal_type = "EELS"
    if note is not None:  # joined to the load warning ("assumed ...") by io._load._finish
        sig.metadata.set_item("General.resampled", note)
    return sig


def _resample_uneven(
    path: Path, energy: np.ndarray, counts: np.ndarray, step: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, str]:
    """Resample an increasing but unevenly spaced energy column onto a uniform grid.

    Digitised or exported curves: repeated energies are averaged, then linear interpolation
    onto the median positive step; returns the note for the load warning. A decreasing
    column is an error.
    """
    if np.any(step < 0) or not np.any(step > 0):
        raise CorruptFileError(
            f"{path}: the energy column is not increasing (steps {step.min():.6g}.."
            f"{step.max():.6g}); sort it or check the column order (energy in eV, counts)"
        )
    uniq, inverse = np.unique(energy, return_inverse=True)
    mean = np.bincount(inverse, weights=counts) / np.bincount(inverse)
    scale = float(np.median(step[step > 0]))
    grid = uniq[0] + scale * np.arange(int(np.floor((uniq[-1] - uniq[0]) / scale + 1e-9)) + 1)
    note = (
        f"an unevenly spaced energy column (steps {step.min():.4g}..{step.max():.4g} eV, "
        f"{energy.size - uniq.size} repeated energies) resampled onto a uniform {scale:.4g} eV "
        "grid (repeats averaged, linear interpolation)"
    )
    return grid, np.interp(grid, uniq, mean), scale, note


def _read_image(path: Path) -> Any:
    """Read a .jpg/.png/.bmp via RosettaSciIO's image plugin as a greyscale Signal2D."""
    import hyperspy.api as hs

    try:
        from rsciio.image import file_reader

        data = file_reader(str(path))[0]["data"]
    except ImportError as exc:
        raise StemstrainError(
            f"{path}: reading {path.suffix} needs imageio (RosettaSciIO's image plugin): {exc}"
        ) from None
    except Exception as exc:
        raise _fail(path, "image", exc) from None
    if data.dtype.names:  # RGB(A): luminance (ITU-R 601), alpha dropped
        rgb = [data[c].astype(np.float32) for c in ("R", "G", "B")]
        data = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    if data.ndim != 2:
        raise InputShapeError(f"{path}: image of shape {data.shape}; expected a 2-D picture")
    sig = hs.signals.Signal2D(np.asarray(data))
    sig.metadata.General.title = path.stem
    return sig


def _imagej_units(path: Path, signals: list[Any]) -> None:
    """Restore the length unit of an ImageJ/Fiji TIFF (RosettaSciIO drops e.g. "nm")."""
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            meta = tif.imagej_metadata or {}
    except Exception:
        return
    unit = meta.get("unit")
    if not isinstance(unit, str) or not unit.strip():
        return
    unit = unit.strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ")
    if unit.lower() in ("pixel", "pixels", "px", "inch"):
        return
    for sig in signals:
        for ax in sig.axes_manager.signal_axes:
            if str(ax.units) in ("<undefined>", "", "None") and ax.scale != 1.0:
                ax.units = unit


def _read_k2(path: Path) -> Any:  # pragma: no cover - needs a K2 recording
    import hyperspy.api as hs
    import py4DSTEM

    try:
        dc = py4DSTEM.import_file(str(path), filetype="gatan_K2_bin")
    except Exception as exc:
        raise _fail(path, "Gatan K2 raw", exc) from None
    return hs.signals.Signal2D(np.asarray(dc.data))
