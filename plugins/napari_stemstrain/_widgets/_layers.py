"""Layer helpers shared by the widgets: add-or-replace layers with stemstrain styling.

Every output layer is tagged ``metadata["stemstrain_output"] = <group>`` so that the
widgets do not offer their own outputs as inputs, and re-running a widget replaces
its layers (matched by name) instead of piling up copies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "symmetric_limits",
    "set_image",
    "set_points",
    "set_vectors",
    "set_labels",
    "show_scale_bar",
    "layer_pixel_size",
    "layer_color_cycle",
]

NM_UNITS = ("nm", "nm")

#: colours cycled over TM-layer indices (unassigned columns are grey)
_PALETTE = np.array(
    [
        [0.894, 0.102, 0.110], [0.216, 0.494, 0.722], [0.302, 0.686, 0.290],
        [0.596, 0.306, 0.639], [1.000, 0.498, 0.000], [1.000, 1.000, 0.200],
        [0.651, 0.337, 0.157], [0.969, 0.506, 0.749], [0.400, 0.761, 0.647],
        [0.553, 0.627, 0.796],
    ]
)  # fmt: skip


def symmetric_limits(data: Any, *, percentile: float = 99.5) -> tuple[float, float]:
    """Contrast limits (-m, m) with m the ``percentile`` of |data| (NaN ignored)."""
    values = np.abs(np.asarray(data, dtype=np.float64))
    values = values[np.isfinite(values)]
    m = float(np.percentile(values, percentile)) if values.size else 0.0
    if not np.isfinite(m) or m <= 0:
        m = float(values.max()) if values.size and values.max() > 0 else 1e-6
    return (-m, m)


def _finite_limits(data: Any) -> tuple[float, float]:
    values = np.asarray(data, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not values.size:
        return (0.0, 1.0)
    lo, hi = np.percentile(values, [0.5, 99.5])
    if hi > lo:
        return (float(lo), float(hi))
    # one value (a single spectrum's ratio): a window of +-5 % around it, so the colour bar
    # reads that value instead of a degenerate 1e-6-wide range
    pad = max(abs(float(lo)) * 0.05, 1e-6)
    return (float(lo) - pad, float(lo) + pad)


def layer_pixel_size(layer: Any) -> float | None:
    """Pixel size in nm of an image layer (its last-axis scale when its unit is nm)."""
    units = getattr(layer, "units", None)
    if units is not None and len(units) and str(units[-1]) in ("nanometer", "nm"):
        return float(layer.scale[-1])
    meta = layer.metadata.get("stemstrain", {}) if hasattr(layer, "metadata") else {}
    px = meta.get("pixel_size_nm") or meta.get("scan_step_nm")
    return float(px) if px else None


def _units_of(pixel_size: float | None, scale: tuple[float, float] | None = None) -> dict:
    if pixel_size is None:
        return {"scale": tuple(scale) if scale is not None else (1.0, 1.0)}
    return {"scale": tuple(scale) if scale is not None else (pixel_size, pixel_size),
            "units": NM_UNITS}  # fmt: skip


def _replace(viewer: Any, name: str) -> None:
    if name in viewer.layers:
        viewer.layers.remove(name)


def set_image(  # noqa: PLR0913 - display options, all keyword-only
    viewer: Any,
    data: Any,
    name: str,
    *,
    pixel_size: float | None,
    group: str,
    colormap: str = "gray",
    symmetric: bool = False,
    limits: tuple[float, float] | None = None,
    colorbar: bool = True,
    visible: bool = True,
    opacity: float = 1.0,
    scale: tuple[float, float] | None = None,
) -> Any:
    """Add (or replace) an image layer of a result map.

    ``symmetric=True`` gives contrast limits symmetric about zero (strain, rotation,
    curvature); NaN pixels are shown transparent by napari's colormap. ``scale``
    overrides the square ``pixel_size`` (e.g. the drawn height of a line scan's row).
    """
    _replace(viewer, name)
    data = np.asarray(data, dtype=np.float32)
    if limits is None:
        limits = symmetric_limits(data) if symmetric else _finite_limits(data)
    layer = viewer.add_image(
        data,
        name=name,
        colormap=colormap,
        contrast_limits=limits,
        visible=visible,
        opacity=opacity,
        metadata={"stemstrain_output": group},
        **_units_of(pixel_size, scale),
    )
    if colorbar and hasattr(layer, "colorbar"):
        _colorbar_follows_visibility(layer)
    return layer


def _colorbar_follows_visibility(layer: Any) -> None:
    """Colour bar on whenever the layer is shown (made lazily: each bar costs a GL overlay)."""

    def _sync(_event: Any = None) -> None:
        if layer.visible and not layer.colorbar.visible:
            layer.colorbar.visible = True

    layer.events.visible.connect(_sync)
    _sync()


def set_points(  # noqa: PLR0913 - display options, all keyword-only
    viewer: Any,
    coords_rc: Any,
    name: str,
    *,
    pixel_size: float | None,
    group: str,
    features: Any = None,
    face_color: Any = "yellow",
    border_color: Any = "black",
    size_px: float = 6.0,
    symbol: str = "disc",
    border_width: float = 0.1,
    visible: bool = True,
) -> Any:
    """Add (or replace) a Points layer; ``coords_rc`` in pixels as (row, col)."""
    _replace(viewer, name)
    coords = np.asarray(coords_rc, dtype=np.float64).reshape(-1, 2)
    return viewer.add_points(
        coords,
        name=name,
        features=features,
        face_color=face_color,
        border_color=border_color,
        size=size_px,  # data units = image pixels (napari scales with the layer)
        symbol=symbol,
        border_width=border_width,
        visible=visible,
        metadata={"stemstrain_output": group},
        **_units_of(pixel_size),
    )


def set_vectors(
    viewer: Any,
    vectors: Any,
    name: str,
    *,
    pixel_size: float | None,
    group: str,
    color: str = "cyan",
    length: float = 1.0,
) -> Any:
    """Add (or replace) a Vectors layer; ``vectors`` (N, 2, 2) of [[row, col], [drow, dcol]] px.

    ``length`` only magnifies the drawing (napari's Vectors ``length``); the data stay true.
    """
    _replace(viewer, name)
    return viewer.add_vectors(
        np.asarray(vectors, dtype=np.float64).reshape(-1, 2, 2),
        name=name,
        edge_color=color,
        edge_width=4.0,  # image pixels
        length=length,
        metadata={"stemstrain_output": group},
        **_units_of(pixel_size),
    )


def set_labels(
    viewer: Any,
    labels: Any,
    name: str,
    *,
    pixel_size: float | None,
    group: str,
    colors: dict[int, str],
    opacity: float = 0.5,
) -> Any:
    """Add (or replace) a Labels layer with fixed colours per label value."""
    from napari.utils.colormaps import DirectLabelColormap

    _replace(viewer, name)
    cmap = DirectLabelColormap(color_dict={None: "transparent", 0: "transparent", **colors})
    return viewer.add_labels(
        np.asarray(labels).astype(np.uint8, copy=False),
        name=name,
        colormap=cmap,
        opacity=opacity,
        metadata={"stemstrain_output": group},
        **_units_of(pixel_size),
    )


def show_scale_bar(viewer: Any) -> None:
    """Show the scale bar (in the layers' units, nm for calibrated data)."""
    overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
    bar = overlays["scale_bar"] if overlays is not None else viewer.scale_bar
    bar.visible = True


def layer_color_cycle(labels: Any) -> np.ndarray:
    """RGBA colours for integer TM-layer labels (grey for -1)."""
    labels = np.asarray(labels, dtype=np.int64)
    rgba = np.ones((labels.size, 4))
    rgba[:, :3] = _PALETTE[np.mod(labels, len(_PALETTE))]
    rgba[labels < 0, :3] = 0.6
    return rgba
