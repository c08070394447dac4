"""Sample-data contributions: the bundled HAADF image, 4D-STEM cube and EELS line scan.

Each sample prefers the file in the repository's ``sample_data/`` folder (made by
``sample_data/make_samples.py``), opened through the plugin's reader exactly as a
user's file would be. When the file is missing (e.g. a wheel install without the
data), the same data is generated on the fly from :mod:`stemstrain.synthetic`.
The folder can be overridden with the ``STEMSTRAIN_SAMPLE_DATA`` environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["sample_dir", "sample_haadf", "sample_fourd", "sample_eels"]


def sample_dir() -> Path:
    """Folder holding the sample files (``$STEMSTRAIN_SAMPLE_DATA`` or ``<repo>/sample_data``)."""
    env = os.environ.get("STEMSTRAIN_SAMPLE_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "sample_data"


def _find(stem: str, *, exclude: tuple[str, ...] = ()) -> Path | None:
    """Return the sample file ``stem.*`` (an extension the reader accepts), or None."""
    from ._reader import EXTENSIONS

    folder = sample_dir()
    if not folder.is_dir():
        return None
    for ext in (".hspy", ".zspy", ".emd", ".h5", ".npy", ".mib", ".dm4", ".tif"):
        p = folder / f"{stem}{ext}"
        if p.exists() and ext in EXTENSIONS and not any(x in p.name for x in exclude):
            return p
    return None


def _from_file(stem: str) -> list[Any] | None:
    from ._reader import read_stemstrain

    path = _find(stem)
    if path is None:
        return None
    layers = read_stemstrain(str(path))
    return layers or None


def _from_signal(signal: Any, name: str) -> list[Any]:
    from ._reader import signal_to_layers

    return signal_to_layers(signal, name=name, source=None)


def _synthetic_haadf() -> Any:
    """Make a bent LiCoO2-like lattice with an O1 band as a calibrated HyperSpy signal."""
    import hyperspy.api as hs

    from stemstrain.synthetic import layered_oxide

    lat = layered_oxide((512, 512), pixel_size=0.02, angle_deg=8.0, o1_gaps=(9, 11),
                        bend_radius_nm=60.0, seed=1)  # fmt: skip
    sig = hs.signals.Signal2D(lat.image)
    for ax, nm in zip(sig.axes_manager.signal_axes, ("x", "y"), strict=False):
        ax.name, ax.scale, ax.units = nm, lat.pixel_size, "nm"
    sig.metadata.General.title = "haadf_layered_oxide (synthetic)"
    sig.metadata.set_item("Stemstrain.kind", "image")
    return sig


def sample_haadf() -> list[Any]:
    """HAADF image of a layered oxide (bending, O1 band), pixel size in nm."""
    return _from_file("haadf_layered_oxide") or _from_signal(
        _synthetic_haadf(), "haadf_layered_oxide"
    )


def _fourd_signal() -> tuple[Any, Any]:
    """Synthetic 4D-STEM cube (scan 1 nm/step, nominal) and its vacuum probe."""
    import hyperspy.api as hs

    from stemstrain.synthetic import fourd_dataset

    cube, probe, _truth = fourd_dataset()
    sig = hs.signals.Signal2D(cube)
    for ax, nm in zip(sig.axes_manager.navigation_axes, ("x", "y"), strict=False):
        ax.name, ax.scale, ax.units = nm, 1.0, "nm"
    for ax, nm in zip(sig.axes_manager.signal_axes, ("kx", "ky"), strict=False):
        ax.name, ax.scale, ax.units = nm, 1.0, "px"
    sig.metadata.General.title = "fourd_strain (synthetic)"
    sig.metadata.set_item("Stemstrain.kind", "4dstem")
    return sig, probe


def _probe_file() -> Any:
    """Return the vacuum probe next to the 4D-STEM sample as an array, or None."""
    import numpy as np

    import stemstrain as ss

    for stem in ("fourd_strain_probe", "fourd_probe", "probe"):
        path = _find(stem)
        if path is not None:
            try:
                if path.suffix == ".npy":  # a bare array: no calibration to read or warn about
                    return np.load(path)
                return np.asarray(ss.load(path).data)
            except Exception:
                return None
    return None


def _attach_probe(layers: list[Any], probe: Any) -> list[Any]:
    if probe is not None:
        for _, kwargs, _ in layers:
            kwargs["metadata"]["stemstrain"]["probe"] = probe
    return layers


def sample_fourd() -> list[Any]:
    """4D-STEM nanobeam cube with a known strain field: virtual images + the cube."""
    layers = _from_file("fourd_strain")
    if layers:
        return _attach_probe(layers, _probe_file())
    sig, probe = _fourd_signal()
    return _attach_probe(_from_signal(sig, "fourd_strain"), probe)


def sample_eels() -> list[Any]:
    """EELS line scan across an O-depleted surface (O-K and Co-L edges)."""
    layers = _from_file("eels_linescan")
    if layers:
        return layers
    from stemstrain.synthetic import eels_linescan

    signal, _truth = eels_linescan()
    signal.metadata.set_item("Stemstrain.kind", "eels")
    return _from_signal(signal, "eels_linescan")
