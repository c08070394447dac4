"""``ss.load``: read a file into a calibrated HyperSpy signal and decide its kind.

Kinds (``signal.metadata.Stemstrain.kind``):

* ``"image"``  - Signal2D without navigation axes, or a stack (one navigation axis);
* ``"4dstem"`` - Signal2D with two navigation axes (scan y, x) and a diffraction pattern;
* ``"eels"``   - EELSSpectrum (exspy): signal_type EELS, or an untyped 1-D signal with an eV axis;
  ``metadata.Stemstrain.eels_layout`` says "spectrum", "line scan" or "spectrum image";
* ``"spectrum"`` - any other 1-D signal (e.g. a line profile);
* ``"other"`` - anything else (e.g. three navigation axes).

Calibration: real-space axes are converted to nm, diffraction axes to 1/nm (from 1/Å,
1/m, ... or mrad with the beam energy), energy axes to eV. An axis without a usable unit
is left as it is, listed in ``metadata.Stemstrain.missing_calibration`` with
``calibrated = False``, and one ``UserWarning`` per load names them all.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

from .._units import unit_factor
from ..errors import StemstrainError
from ._guards import check_decoded_size, check_read, preflight
from ._readers import check_path, read_signals
from ._units import normalise_axis

__all__ = ["load", "detect_kind", "pick_primary", "KINDS"]

KINDS = ("image", "4dstem", "eels", "spectrum", "other")
_PRIMARY_TITLE = re.compile(r"haadf|adf|\bdf\b|dark", re.IGNORECASE)


def _signal_type(sig: Any) -> str:
    return str(sig.metadata.get_item("Signal.signal_type", "") or "")


def detect_kind(sig: Any) -> str:
    """Kind of a HyperSpy signal: "image", "4dstem", "eels", "spectrum" or "other".

    Parameters
    ----------
    sig : hyperspy BaseSignal
        A loaded signal.

    Returns
    -------
    str
        One of :data:`KINDS`, decided from the signal and navigation dimensions, the
        signal type and the units of the signal axis (see the module docstring).
    """
    am = sig.axes_manager
    sig_dim, nav_dim = am.signal_dimension, am.navigation_dimension
    if sig_dim == 1:
        units = str(am.signal_axes[0].units or "").strip().lower()
        stype = _signal_type(sig).upper()
        # EELS by signal type; an untyped 1-D signal with an eV axis is taken as EELS
        # (EDS and other typed spectra stay "spectrum", whatever their energy unit)
        if stype == "EELS" or (stype in ("", "SIGNAL1D") and units == "ev"):
            return "eels" if nav_dim <= 2 else "other"
        return "spectrum" if nav_dim <= 2 else "other"
    if sig_dim == 2:
        if nav_dim <= 1:
            return "image"
        if nav_dim == 2:
            return "4dstem"
    return "other"


def _beam_energy_kv(sig: Any) -> float | None:
    value = sig.metadata.get_item("Acquisition_instrument.TEM.beam_energy", None)
    try:
        return float(value) if value else None
    except (TypeError, ValueError):
        return None


def _roles(kind: str, sig: Any) -> list[str]:
    """Role of each axis in ``axes_manager._axes`` order (navigation first, as stored)."""
    roles = []
    for ax in sig.axes_manager._axes:
        if kind == "eels":
            roles.append("real" if ax.navigate else "energy")
        elif kind == "4dstem":
            roles.append("real" if ax.navigate else "reciprocal")
        elif kind == "image":
            if ax.navigate:  # frames of a stack; converted when they carry a length unit
                roles.append("real" if unit_factor(ax.units, "real") else "index")
            else:
                roles.append("reciprocal" if _looks_reciprocal(ax, sig) else "real")
        elif kind == "spectrum":
            if ax.navigate:
                roles.append("real")
            else:
                units = str(ax.units or "").strip().lower()
                roles.append("energy" if units in ("ev", "kev") else "index")
        else:
            roles.append("index")
    return roles


def _looks_reciprocal(ax: Any, sig: Any) -> bool:
    units = str(ax.units or "").replace(" ", "").lower()
    diffraction = "diffraction" in _signal_type(sig).lower()
    return units.startswith("1/") or units.endswith("^-1") or diffraction


def _axis_label(ax: Any, i: int) -> str:
    if isinstance(ax.name, str) and ax.name and ax.name != "<undefined>":
        return ax.name
    return f"axis {i}"


def calibrate(sig: Any, kind: str) -> list[str]:
    """Normalise every axis of ``sig`` in place; returns the uncalibrated axes with reasons."""
    missing = []
    beam = _beam_energy_kv(sig)
    for i, (ax, role) in enumerate(zip(sig.axes_manager._axes, _roles(kind, sig), strict=True)):
        reason = normalise_axis(ax, role, beam_energy_kv=beam)
        if reason is not None:
            missing.append(f"{_axis_label(ax, i)} ({role}: {reason})")
    return missing


def _typed(sig: Any) -> Any:
    """Return a Signal2D for an untyped 3-D/4-D BaseSignal without navigation axes (e.g. Arina).

    Some readers return every axis as a signal axis; the leading axes are then the scan
    (or frame) axes and the last two the detector, as for a ``.npy`` array.
    """
    am = sig.axes_manager
    if type(sig).__name__ not in ("BaseSignal", "LazySignal") or am.navigation_dimension:
        return sig
    if sig.data.ndim not in (3, 4):
        return sig
    import hyperspy.api as hs

    axes = []
    for i, ax in enumerate(am._axes):
        d = ax.get_axis_dictionary()
        d.pop("_type", None)
        d["navigate"] = i < sig.data.ndim - 2
        axes.append(d)
    out = hs.signals.Signal2D(
        sig.data,
        axes=axes,
        metadata=sig.metadata.as_dictionary(),
        original_metadata=sig.original_metadata.as_dictionary(),
    )
    return out.as_lazy() if sig._lazy else out


def _set_pixel_size(sig: Any, kind: str, pixel_size: float, path: Path) -> None:
    """Real-space axes in nm from ``pixel_size=`` (images: signal axes; cubes, EELS: scan)."""
    if kind == "image":
        axes = sig.axes_manager.signal_axes
    elif kind in ("4dstem", "eels", "spectrum"):
        axes = sig.axes_manager.navigation_axes
    else:
        axes = ()
    if not axes:
        raise StemstrainError(
            f"{path}: pixel_size= sets real-space axes, but this {kind} signal has none"
        )
    for ax in axes:
        ax.scale, ax.units, ax.offset = float(pixel_size), "nm", 0.0


def _finish(
    sig: Any,
    path: Path,
    reader: str,
    where: tuple[int, int],
    notes: list[str],
    pixel_size: float | None = None,
) -> Any:
    """Decide the kind, convert to EELSSpectrum if needed, calibrate, record metadata."""
    index, n = where
    sig = _typed(sig)
    kind = detect_kind(sig)
    if pixel_size is not None:
        _set_pixel_size(sig, kind, pixel_size, path)
    if kind == "eels" and type(sig).__name__ not in ("EELSSpectrum", "LazyEELSSpectrum"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sig.set_signal_type("EELS")
    missing = calibrate(sig, kind)
    md = {
        "kind": kind,
        "calibrated": not missing,
        "missing_calibration": list(missing),
        "source": str(path),
        "reader": reader,
        "signal_index": index,
        "n_signals": n,
    }
    if kind == "eels":
        md["eels_layout"] = ("spectrum", "line scan", "spectrum image")[
            sig.axes_manager.navigation_dimension
        ]
    if notes:
        md["reader_warnings"] = list(notes)
    if pixel_size is not None:
        md["pixel_size_from"] = f"pixel_size={pixel_size!r} nm passed to load"
    sig.metadata.set_item("Stemstrain", md)
    if reader == "two-column text":
        resampled = sig.metadata.get_item("General.resampled")
        if resampled is not None:
            del sig.metadata.General.resampled
        sig.metadata.set_item(
            "Stemstrain.assumed",
            "energy column in eV (two-column text spectra such as EELSDB exports carry no units)"
            + ("" if resampled is None else f"; {resampled}"),
        )
    return sig


def pick_primary(
    signals: list[Any], *, signal_index: int | None = None, name: str | None = None, path: Any = ""
) -> int:
    """Index of the signal ``load`` returns from a multi-signal file.

    Rule: ``name`` (case-insensitive substring of the title) wins, then ``signal_index``;
    otherwise images come before spectra, an (HA)ADF/dark-field title before other
    titles, then the signal with the most data elements (first on ties).
    """
    titles = [str(s.metadata.get_item("General.title", "")) for s in signals]
    if name is not None:
        hits = [i for i, t in enumerate(titles) if str(name).lower() in t.lower()]
        if not hits:
            raise StemstrainError(f"{path}: no signal titled like {name!r}; titles: {titles}")
        return hits[0]
    if signal_index is not None:
        if not isinstance(signal_index, int) or not -len(signals) <= signal_index < len(signals):
            raise StemstrainError(
                f"{path}: signal_index={signal_index!r} out of range; "
                f"the file holds {len(signals)} signal(s): {titles}"
            )
        return signal_index % len(signals)

    def rank(i: int) -> tuple:
        s = signals[i]
        size = 1
        for d in s.data.shape:
            size *= int(d)
        is_2d = s.axes_manager.signal_dimension == 2
        return (is_2d, bool(_PRIMARY_TITLE.search(titles[i])), size, -i)

    return max(range(len(signals)), key=rank)


def load(
    path: str | os.PathLike,
    lazy: bool = False,
    *,
    signal_index: int | None = None,
    name: str | None = None,
    all_signals: bool = False,
    max_gb: float | None = None,
    pixel_size: float | None = None,
) -> Any:
    """Read a microscope file into a calibrated HyperSpy signal.

    Parameters
    ----------
    path : str or Path
        .dm3 .dm4 .emd (Velox, Berkeley, py4DSTEM EMD 1.0) .h5/.hdf5 (HyperSpy, EMD,
        Arina) .hspy .zspy .ser/.emi .mrc .tif (ImageJ/Fiji with its unit, and plain) .mib
        .blo .msa .npy, two-column EELS text (.txt/.csv/.dat), Gatan K2 .gtg, or a picture
        (.jpg .jpeg .png .bmp, read as greyscale; RGB -> luminance). Opened read-only.
    lazy : bool
        Return a lazy (dask-backed) signal where the reader supports it.
    signal_index : int, optional
        Which signal of a multi-signal file to return (default: see :func:`pick_primary`).
    name : str, optional
        Return the signal whose title contains ``name`` (case-insensitive).
    all_signals : bool
        Return a list of every signal of the file (each calibrated) instead of one.
    max_gb : float, optional
        Refuse an eager read that decodes to more than this (checked from the header
        before anything is allocated; TIFF, HDF5, NPY). Default: a quarter of the RAM,
        and a file that decodes to > 1 GiB at a compression ratio > 100:1 (a
        "decompression bomb") is refused too unless ``max_gb`` is given.
    pixel_size : float, optional
        Real-space pixel size in nm, overriding the file's calibration (images: the two
        signal axes; 4D-STEM cubes and EELS maps: the scan axes). For files without one,
        e.g. .jpg/.png/.bmp pictures, which otherwise load uncalibrated with a warning.

    Returns
    -------
    hyperspy Signal2D / EELSSpectrum / Signal1D, or a list of them
        (A py4DSTEM Bragg-vector file, EMD 0.13 or 1.0, gives a
        :class:`~stemstrain.fourd.BraggVectors` instead: peaks per scan position.)
        Axes in nm (real space), 1/nm (diffraction), eV (energy) where the file carries a
        calibration; ``metadata.Stemstrain`` holds ``kind``, ``calibrated``,
        ``missing_calibration``, ``reader``, ``signal_index``, ``n_signals``.

    Raises
    ------
    UnsupportedFormatError
        The extension is not one of the supported formats.
    CorruptFileError
        The file is empty, truncated (shorter than its header says), holds no data, or is
        not of the format its extension claims.
    InputShapeError
        The decoded data would exceed ``max_gb``.
    StemstrainError
        The file does not exist, or ``signal_index``/``name`` select nothing.

    Warns
    -----
    UserWarning
        Once per call when an axis has no usable calibration (it is then recorded in
        ``metadata.Stemstrain``, never assumed).
    """
    p = check_path(path)
    for key, val in (("max_gb", max_gb), ("pixel_size", pixel_size)):
        if val is not None and not (
            isinstance(val, (int, float)) and not isinstance(val, bool) and 0 < val < float("inf")
        ):
            raise StemstrainError(f"{key} must be a finite number > 0, got {val!r}")
    if p.is_file():
        check_decoded_size(p, preflight(p), max_gb=max_gb, lazy=bool(lazy))
    from ._bragg import is_bragg_file, read_bragg

    if is_bragg_file(p):  # py4DSTEM Bragg vectors: a BraggVectors object, not a signal
        return read_bragg(p)
    notes: list[str] = []
    signals, reader = read_signals(p, lazy=bool(lazy), warn_record=notes)
    check_read(p, reader, signals)
    n = len(signals)
    if all_signals:
        out = [_finish(s, p, reader, (i, n), notes, pixel_size) for i, s in enumerate(signals)]
        _warn_missing(p, out)
        return out
    idx = pick_primary(signals, signal_index=signal_index, name=name, path=p)
    sig = _finish(signals[idx], p, reader, (idx, n), notes, pixel_size)
    _warn_missing(p, [sig])
    return sig


def _warn_missing(path: Path, signals: list[Any]) -> None:
    parts = []
    for s in signals:
        md = s.metadata.Stemstrain
        if not md.calibrated:
            parts.extend(md.missing_calibration)
    assumed = [
        s.metadata.get_item("Stemstrain.assumed")
        for s in signals
        if s.metadata.has_item("Stemstrain.assumed")
    ]
    if parts:
        warnings.warn(
            f"{path.name}: no usable calibration on {'; '.join(parts)}; left as stored and "
            "recorded in metadata.Stemstrain (lengths are in pixels unless you set the axis "
            "scale/units or pass pixel_size= to the analysis)",
            UserWarning,
            stacklevel=3,
        )
    elif assumed:
        warnings.warn(f"{path.name}: assumed {assumed[0]}", UserWarning, stacklevel=3)
