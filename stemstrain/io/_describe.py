"""``describe(path)``: what a file holds, as a JSON-able dict; ``format_description`` prints it."""

from __future__ import annotations

import os
import warnings
from typing import Any

from ._load import load

__all__ = ["describe", "format_description"]

# (key in the description, HyperSpy metadata path, unit)
_MICROSCOPE_ITEMS = [
    ("microscope", "Acquisition_instrument.TEM.microscope", ""),
    ("beam_energy_kV", "Acquisition_instrument.TEM.beam_energy", "kV"),
    ("convergence_angle_mrad", "Acquisition_instrument.TEM.convergence_angle", "mrad"),
    ("collection_angle_mrad", "Acquisition_instrument.TEM.Detector.EELS.collection_angle", "mrad"),
    ("magnification", "Acquisition_instrument.TEM.magnification", "x"),
    ("camera_length_mm", "Acquisition_instrument.TEM.camera_length", "mm"),
    ("acquisition_mode", "Acquisition_instrument.TEM.acquisition_mode", ""),
    ("dwell_time_s", "Acquisition_instrument.TEM.dwell_time", "s"),
    ("detector", "Acquisition_instrument.TEM.Detector.detector_type", ""),
    ("spectrometer", "Acquisition_instrument.TEM.Detector.EELS.spectrometer", ""),
    ("date", "General.date", ""),
    ("time", "General.time", ""),
]
_DETECTOR_FALLBACK = ("HAADF", "ADF", "BF", "ABF", "DF", "EELS", "EDS")


def _plain(value: Any) -> Any:
    """JSON-able version of a metadata value."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def _microscope(sig: Any) -> dict:
    out = {}
    md = sig.metadata
    for key, item, _unit in _MICROSCOPE_ITEMS:
        if md.has_item(item):
            value = _plain(md.get_item(item))
            if value not in (None, ""):
                out[key] = value
    if "detector" not in out:
        title = str(md.get_item("General.title", ""))
        for word in _DETECTOR_FALLBACK:
            if word.lower() in title.lower().replace("-", " ").split() or title.upper() == word:
                out["detector"] = word
                break
        else:
            if "haadf" in title.lower():
                out["detector"] = "HAADF"
    return out


def _axes(sig: Any) -> list[dict]:
    out = []
    for ax in sig.axes_manager._axes:
        name = ax.name if isinstance(ax.name, str) else ""
        units = ax.units if isinstance(ax.units, str) else ""
        out.append(
            {
                "name": "" if name == "<undefined>" else name,
                "size": int(ax.size),
                "scale": float(getattr(ax, "scale", float("nan"))),
                "offset": float(getattr(ax, "offset", float("nan"))),
                "units": "" if units == "<undefined>" else units,
                "navigate": bool(ax.navigate),
            }
        )
    return out


def describe(path: str | os.PathLike) -> dict:
    """Describe a microscope file without analysing it.

    Parameters
    ----------
    path : str or Path
        Any file :func:`stemstrain.load` reads (loaded lazily where the reader allows).

    Returns
    -------
    dict
        ``path, reader, kind, title, shape, navigation_shape, signal_shape`` (array order),
        ``dtype, axes`` (list of ``name, size, scale, offset, units, navigate``),
        ``calibrated, missing_calibration, n_signals, signals`` (titles of all signals),
        ``microscope`` (beam_energy_kV, convergence_angle_mrad, collection_angle_mrad,
        magnification, camera_length_mm, detector, date, ... where present) and
        ``eels_layout`` for EELS.

    Raises
    ------
    StemstrainError
        As :func:`stemstrain.load` (unsupported, corrupt or missing file).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # calibration is reported in the dict
        signals = load(path, lazy=True, all_signals=True)
    if hasattr(signals, "describe"):  # a BraggVectors (py4DSTEM Bragg-vector file)
        return signals.describe(path)
    from ._load import pick_primary

    primary = signals[pick_primary(signals, path=path)]
    md = primary.metadata.Stemstrain
    am = primary.axes_manager
    nav = [int(a.size) for a in am.navigation_axes][::-1]
    sig_shape = [int(a.size) for a in am.signal_axes][::-1]
    info = {
        "path": str(path),
        "reader": md.reader,
        "kind": md.kind,
        "title": str(primary.metadata.get_item("General.title", "")),
        "shape": [int(d) for d in primary.data.shape],
        "navigation_shape": nav,
        "signal_shape": sig_shape,
        "dtype": str(primary.data.dtype),
        "axes": _axes(primary),
        "calibrated": bool(md.calibrated),
        "missing_calibration": list(md.missing_calibration),
        "n_signals": len(signals),
        "signals": [
            f"{s.metadata.get_item('General.title', '')} "
            f"({type(s).__name__}, {tuple(s.data.shape)})"
            for s in signals
        ],
        "microscope": _microscope(primary),
    }
    if primary.metadata.has_item("Stemstrain.eels_layout"):
        info["eels_layout"] = md.eels_layout
    if primary.metadata.has_item("Stemstrain.assumed"):
        info["assumed"] = md.assumed
    if primary.metadata.has_item("Stemstrain.reader_warnings"):
        info["reader_notes"] = list(md.reader_warnings)
    return info


def format_description(info: dict) -> str:
    """Human-readable, multi-line text of a :func:`describe` dict."""
    kind = info["kind"] + (f" ({info['eels_layout']})" if info.get("eels_layout") else "")
    lines = [
        f"{info['path']}",
        f"  kind:        {kind}",
        f"  reader:      {info['reader']}",
        f"  title:       {info['title'] or '-'}",
        f"  shape:       {tuple(info['shape'])}  (navigation {tuple(info['navigation_shape'])},"
        f" signal {tuple(info['signal_shape'])})",
        f"  dtype:       {info['dtype']}",
        "  axes:",
    ]
    for ax in info["axes"]:
        role = "nav" if ax["navigate"] else "sig"
        lines.append(
            f"    [{role}] {ax['name'] or '-':<12} {ax['size']:>6} x {ax['scale']:.6g} "
            f"{ax['units'] or '(no units)'}  offset {ax['offset']:.6g}"
        )
    if info["calibrated"]:
        lines.append("  calibrated:  yes")
    else:
        lines.append("  calibrated:  NO - " + "; ".join(info["missing_calibration"]))
    if info.get("assumed"):
        lines.append(f"  assumed:     {info['assumed']}")
    for note in info.get("reader_notes", [])[:5]:
        lines.append(f"  reader note: {note[:160]}")
    if info["n_signals"] > 1:
        lines.append(f"  signals:     {info['n_signals']} in file: " + "; ".join(info["signals"]))
    micro = info.get("microscope") or {}
    if micro:
        lines.append("  microscope:")
        units = {k: u for k, _, u in _MICROSCOPE_ITEMS}
        for key, value in micro.items():
            unit = units.get(key, "")
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            lines.append(f"    {key:<24} {shown} {unit}".rstrip())
    return "\n".join(lines)
