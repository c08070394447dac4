"""Reader contribution: open microscope files through :func:`stemstrain.load`.

``get_reader`` only checks the path (a file with a supported extension) and never
raises; the reader function it returns loads the file and converts any error into
a napari warning and an empty layer list, so a bad file never crashes napari.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from stemstrain.io import ALL_EXTENSIONS

__all__ = ["EXTENSIONS", "get_reader", "read_stemstrain", "signal_to_layers"]

#: file extensions handed to :func:`stemstrain.load`: stemstrain.io's one list (the
#: manifest's filename_patterns are checked against it by a test)
EXTENSIONS = ALL_EXTENSIONS

LayerData = tuple[Any, dict, str]


def _supported(path: Any) -> bool:
    if not isinstance(path, (str, os.PathLike)):
        return False
    p = Path(path)
    if p.suffix.lower() not in EXTENSIONS:
        return False
    # .zspy is a zarr directory store; everything else is a plain file
    return p.is_dir() if p.suffix.lower() == ".zspy" else p.is_file()


def get_reader(path: str | list[str]) -> Any:
    """Return :func:`read_stemstrain` if stemstrain can try ``path``, else None.

    Parameters
    ----------
    path : str or list of str
        One path or several (napari passes a list for multi-file drops).

    Returns
    -------
    callable or None
        None for anything that is not an existing file with a supported extension.
        Never raises.
    """
    try:
        paths = path if isinstance(path, (list, tuple)) else [path]
        if paths and all(_supported(p) for p in paths):
            return read_stemstrain
    except Exception:
        return None
    return None


#: napari's "read, but nothing to show" answer: returned when no file gave a layer, so that
#: napari does not add a second error ("returned no data") to the one-line warning
NO_LAYERS: list = [(None,)]


def _reason(path: Any, message: Any) -> str:
    """First line of a loader's message without the file name it often starts with."""
    text = str(message).strip()
    text = text.splitlines()[0] if text else type(message).__name__
    for prefix in (f"{path}: ", f"{Path(path).name}: "):
        text = text.removeprefix(prefix)
    return text


def read_stemstrain(path: str | list[str]) -> list[LayerData]:
    """Load files with :func:`stemstrain.load` and return napari layer data.

    Errors (unsupported or corrupt files, missing calibration...) become a one-line napari
    warning naming the file; the file then contributes no layer. When no file gives a
    layer the result is napari's empty sentinel ``[(None,)]`` (no second error).
    """
    from napari.utils.notifications import show_warning

    import stemstrain as ss

    paths = path if isinstance(path, (list, tuple)) else [path]
    layers: list[LayerData] = []
    for p in paths:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", UserWarning)
                signal = ss.load(p)
            for w in caught:  # e.g. missing calibration: tell the user, keep the data
                if issubclass(w.category, UserWarning):
                    show_warning(f"{Path(p).name}: {_reason(p, w.message)}")
            layers.extend(signal_to_layers(signal, name=Path(p).stem, source=str(p)))
        except Exception as exc:
            show_warning(f"stemstrain could not open {Path(p).name}: {_reason(p, exc)}")
    return layers or NO_LAYERS


def _kind(signal: Any) -> str:
    from stemstrain.io import BraggVectors

    if isinstance(signal, BraggVectors):
        return "bragg"
    md = getattr(signal, "metadata", None)
    try:
        kind = md.Stemstrain.kind  # set by stemstrain.load
        if kind:
            return str(kind)
    except AttributeError:
        pass
    am = signal.axes_manager
    if am.signal_dimension == 1:
        return "eels"
    if am.signal_dimension == 2 and am.navigation_dimension == 2:
        return "4dstem"
    return "image"


def _axis_nm(axis: Any) -> tuple[float, str]:
    """Scale of a HyperSpy axis in nm when its unit is a length, else (scale, 'pixel')."""
    factors = {"nm": 1.0, "Å": 0.1, "A": 0.1, "angstrom": 0.1, "um": 1e3, "µm": 1e3, "pm": 1e-3}
    unit = str(getattr(axis, "units", "") or "")
    scale = float(getattr(axis, "scale", 1.0) or 1.0)
    if unit in factors:
        return scale * factors[unit], "nm"
    if unit == "m":
        return scale * 1e9, "nm"
    return 1.0, "pixel"


def _scale_units(axes: list[Any]) -> tuple[tuple[float, ...], tuple[str, ...] | None]:
    """(row, col) scale and units for napari from HyperSpy axes given in (x, y) order."""
    pairs = [_axis_nm(a) for a in axes[::-1]]
    scale = tuple(s for s, _ in pairs)
    units = tuple(u for _, u in pairs)
    if any(u != "nm" for u in units):
        return tuple(1.0 for _ in pairs), None
    return scale, units


def _image_layers(signal: Any, name: str, meta: dict) -> list[LayerData]:
    data = np.asarray(signal.data)
    scale, units = _scale_units(list(signal.axes_manager.signal_axes))
    nav = data.ndim - 2
    kwargs: dict[str, Any] = {"name": name, "scale": (1.0,) * nav + scale, "metadata": meta}
    if units:
        kwargs["units"] = ("pixel",) * nav + units  # frame axes of a stack have no length
    meta["pixel_size_nm"] = scale[-1] if units else None
    return [(data, kwargs, "image")]


def _virtual_images(cube: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Virtual bright-field and annular dark-field images of a (Ry, Rx, Qy, Qx) cube.

    The bright-field disk is the region of the mean pattern above half its maximum;
    the annular detector takes everything beyond 1.5 times that disk's radius.
    """
    mean_dp = cube.mean(axis=(0, 1))
    bf = mean_dp > 0.5 * mean_dp.max()
    qy, qx = np.indices(mean_dp.shape)
    cy, cx = (qy[bf].mean(), qx[bf].mean()) if bf.any() else np.array(mean_dp.shape) / 2
    radius = np.sqrt(bf.sum() / np.pi)
    adf = np.hypot(qy - cy, qx - cx) > 1.5 * max(radius, 1.0)
    flat = cube.reshape(cube.shape[0], cube.shape[1], -1)
    vbf = flat[..., bf.ravel()].sum(-1, dtype=np.float64)
    vadf = flat[..., adf.ravel()].sum(-1, dtype=np.float64)
    return vbf.astype(np.float32), vadf.astype(np.float32)


def _fourd_layers(signal: Any, name: str, meta: dict) -> list[LayerData]:
    cube = np.asarray(signal.data)
    scale, units = _scale_units(list(signal.axes_manager.navigation_axes))
    vbf, vadf = _virtual_images(cube)
    meta.update(scan_step_nm=scale[-1] if units else None)
    common = {"scale": scale, "metadata": meta}
    if units:
        common["units"] = units
    return [
        (vbf, {"name": f"{name} virtual BF", **common}, "image"),
        (vadf, {"name": f"{name} virtual ADF", "visible": False, **common}, "image"),
    ]


def _eels_layers(signal: Any, name: str, meta: dict) -> list[LayerData]:
    data = np.asarray(signal.data, dtype=np.float64)
    total = data.sum(axis=-1)
    nav_axes = list(signal.axes_manager.navigation_axes)
    if total.ndim == 0:
        total = total.reshape(1, 1)
        nav_axes = []
    if total.ndim == 1:  # a line scan: one row, drawn 1/8 of the line high to be visible
        total = total[np.newaxis, :]
        step, unit = _axis_nm(nav_axes[0])
        height = step * max(1.0, total.shape[1] / 8)
        meta["row_height_nm"] = height
        scale, units = ((height, step), ("nm", "nm")) if unit == "nm" else ((1.0, 1.0), None)
    elif len(nav_axes) == 2:
        scale, units = _scale_units(nav_axes)
    else:
        scale, units = (1.0,) * total.ndim, None
    kwargs: dict[str, Any] = {
        "name": f"{name} (energy-integrated)",
        "scale": scale,
        "metadata": meta,
    }
    if units:
        kwargs["units"] = units
    return [(total.astype(np.float32), kwargs, "image")]


def _bragg_layers(bragg: Any, name: str, meta: dict) -> list[LayerData]:
    """Map the peaks per scan position of a py4DSTEM Bragg-vector file.

    The file holds no scan step, so the map is in scan pixels. The vectors themselves
    (``metadata["stemstrain"]["signal"]``) feed the 4D-STEM widget (no disk detection).
    """
    meta.update(scan_step_nm=None, units=bragg.units)
    counts = np.asarray(bragg.n_peaks, dtype=np.float32)
    return [(counts, {"name": f"{name} Bragg peaks per position", "metadata": meta}, "image")]


def signal_to_layers(signal: Any, *, name: str, source: str | None = None) -> list[LayerData]:
    """Turn a signal from :func:`stemstrain.load` into napari layer data tuples.

    Images keep their pixel size as ``scale`` in nm; a 4D-STEM cube becomes virtual
    bright-field and annular dark-field images over the scan; an EELS spectrum image
    or line scan becomes its energy-integrated map (a single row for a line scan); a
    py4DSTEM Bragg-vector file (``BraggVectors``) its peaks-per-position map.
    The loaded signal rides along in ``metadata["stemstrain"]["signal"]`` so the
    widgets get the cube or the spectra without reading the file again.
    """
    kind = _kind(signal)
    meta = {"stemstrain": {"kind": kind, "signal": signal, "source": source}}
    inner = meta["stemstrain"]
    if kind == "bragg":
        layers = _bragg_layers(signal, name, inner)
    elif kind == "4dstem":
        layers = _fourd_layers(signal, name, inner)
    elif kind in ("eels", "spectrum"):
        layers = _eels_layers(signal, name, inner)
    else:
        layers = _image_layers(signal, name, inner)
    for _, kwargs, _ in layers:
        kwargs["metadata"] = meta
    return layers
