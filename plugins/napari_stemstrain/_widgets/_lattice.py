"""Columns & curvature widget and Stacking & occupancy widget (real-space lattice)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, Label

from ._base import AnalysisWidget, Job
from ._layers import layer_color_cycle, set_image, set_labels, set_points, show_scale_bar

__all__ = ["ColumnsWidget", "StackingWidget", "COLUMNS_LAYER", "STACKING_COLORS"]

COLUMNS_LAYER = "columns"
#: label value -> colour of the stacking Labels layer (0 unknown is transparent)
STACKING_COLORS = {1: "royalblue", 2: "orangered", 3: "gold"}
STACKING_NAMES = {1: "O3", 2: "O1", 3: "other"}


def _columns_table(viewer: Any, shape: tuple[int, int]) -> Any:
    """Return the ``columns`` Points layer's table if it was found on an image of this shape."""
    if COLUMNS_LAYER not in viewer.layers:
        return None
    layer = viewer.layers[COLUMNS_LAYER]
    table = getattr(layer, "features", None)
    if table is None or not {"x", "y"}.issubset(table.columns) or not len(table):
        return None
    if tuple(layer.metadata.get("image_shape", ())) != tuple(shape):
        return None
    return table.copy()


def _rc(table: Any) -> np.ndarray:
    if not len(table):
        return np.empty((0, 2))
    return np.stack([table["y"].to_numpy(float), table["x"].to_numpy(float)], axis=1)


def show_columns(viewer: Any, table: Any, px: float | None, shape: tuple[int, int]) -> Any:
    """Points layer of columns coloured by TM layer (grey = unassigned)."""
    layers = table["layer"].to_numpy() if "layer" in table.columns else -np.ones(len(table))
    sigma = float(np.nanmedian(table["sigma"])) if "sigma" in table.columns and len(table) else 3.0
    pts = set_points(viewer, _rc(table), COLUMNS_LAYER, pixel_size=px, group="columns",
                     features=table.reset_index(drop=True), face_color=layer_color_cycle(layers),
                     border_color="black", border_width=0.0,
                     size_px=max(2.5 * sigma, 4.0))  # fmt: skip
    pts.metadata["image_shape"] = tuple(shape)
    return pts


class ColumnsWidget(AnalysisWidget):
    """Atom columns, TM-layer curvature and layer spacing of a HAADF image.

    Calls :func:`stemstrain.find_columns`, :func:`stemstrain.layer_curvature` and
    :func:`stemstrain.layer_spacing`; shows the columns coloured by layer, the
    curvature map (1/nm, RdBu_r symmetric), a ring at the largest |curvature| and
    the spacing map (nm).
    """

    title = "columns"

    def _parameter_widgets(self) -> list[Any]:
        self._curvature = CheckBox(text="layer curvature", value=True)
        self._spacing = CheckBox(text="layer spacing", value=True)
        return [self._curvature, self._spacing]

    def _prepare(self, layer: Any) -> Job:
        image, px = self.image_of(layer)
        return {"image": image, "pixel_size": px, "curvature": bool(self._curvature.value),
                "spacing": bool(self._spacing.value)}  # fmt: skip

    def _compute(self, job: Job) -> Generator[tuple[int, int, str], None, dict]:
        import stemstrain as ss
        from stemstrain.results import TableResult

        n = 1 + job["curvature"] + job["spacing"]
        img, px = job["image"], job["pixel_size"]
        yield 0, n, "columns: finding and fitting atom columns..."
        cols = ss.find_columns(img, pixel_size=px)
        out: dict[str, Any] = {"columns": TableResult("columns", cols, px)}
        step = 1
        if job["curvature"]:
            yield step, n, "columns: tracing TM-layer curvature..."
            out["curvature"] = ss.layer_curvature(img, pixel_size=px, columns=cols)
            step += 1
        if job["spacing"]:
            yield step, n, "columns: layer spacing..."
            out["spacing"] = ss.layer_spacing(img, pixel_size=px, columns=cols)
        return out

    def _show(self, results: dict, job: Job) -> None:
        px, shape = job["pixel_size"], job["image"].shape
        if "spacing" in results:
            spacing = results["spacing"]
            set_image(self.viewer, _spacing_map(spacing), "layer spacing (nm)", pixel_size=px,
                      group="spacing", colormap="viridis", visible=False)  # fmt: skip
        if "curvature" in results:
            curv = results["curvature"]
            set_image(self.viewer, curv.map, "curvature (1/nm)", pixel_size=px,
                      group="curvature", colormap="RdBu_r", symmetric=True)  # fmt: skip
            x, y = curv.max_location
            set_points(self.viewer, [[y, x]], "max |curvature|", pixel_size=px,
                       group="curvature", face_color="transparent", border_color="magenta",
                       size_px=60, symbol="ring", border_width=0.2)  # fmt: skip
        show_columns(self.viewer, results["columns"].table, px, shape)
        show_scale_bar(self.viewer)


def _spacing_map(spacing: Any) -> np.ndarray:
    """Return the image-shaped map of a layer_spacing result (``map``, or its first map)."""
    if hasattr(spacing, "map"):
        return np.asarray(spacing.map)
    for name in getattr(spacing, "map_fields", ()):
        return np.asarray(getattr(spacing, name))
    raise TypeError(f"layer_spacing returned {type(spacing).__name__} without a map")


class StackingWidget(AnalysisWidget):
    """O3/O1 stacking map and Li-layer occupancy of a HAADF image.

    Calls :func:`stemstrain.stacking_map` and :func:`stemstrain.li_layer_occupancy`
    (reusing the ``columns`` layer of the Columns widget when it belongs to the same
    image); shows a Labels layer (1 O3 blue, 2 O1 red, 3 other yellow), the area
    fractions in the widget and the occupancy map (0 layered, 1 rock salt).
    """

    title = "stacking"

    def _parameter_widgets(self) -> list[Any]:
        self._occupancy = CheckBox(text="Li-layer occupancy", value=True)
        return [self._occupancy]

    def _output_widgets(self) -> list[Any]:
        self._fractions = Label(value="-", label="fractions")
        self._fractions_more = Label(value="", label="")
        return [self._fractions, self._fractions_more]

    def _prepare(self, layer: Any) -> Job:
        image, px = self.image_of(layer)
        return {"image": image, "pixel_size": px, "occupancy": bool(self._occupancy.value),
                "columns": _columns_table(self.viewer, image.shape)}  # fmt: skip

    def _compute(self, job: Job) -> Generator[tuple[int, int, str], None, dict]:
        import stemstrain as ss

        n = 2 + job["occupancy"]
        img, px, cols = job["image"], job["pixel_size"], job["columns"]
        if cols is None:
            yield 0, n, "stacking: finding atom columns..."
            cols = ss.find_columns(img, pixel_size=px)
        job["columns"] = cols
        yield 1, n, "stacking: O3/O1 shifts across the Li layers..."
        out: dict[str, Any] = {"stacking": ss.stacking_map(img, pixel_size=px, columns=cols)}
        if job["occupancy"]:
            yield 2, n, "stacking: Li-layer occupancy..."
            out["occupancy"] = ss.li_layer_occupancy(img, pixel_size=px, columns=cols)
        return out

    def _show(self, results: dict, job: Job) -> None:
        px = job["pixel_size"]
        if "occupancy" in results:
            occ = results["occupancy"]
            set_image(self.viewer, occ.map, "Li-layer occupancy", pixel_size=px,
                      group="occupancy", colormap="inferno", limits=(0.0, 1.0),
                      visible=False)  # fmt: skip
        stacking = results["stacking"]
        set_labels(self.viewer, stacking.label_map, "stacking (O3 blue, O1 red, other yellow)",
                   pixel_size=px, group="stacking", colors=STACKING_COLORS)  # fmt: skip
        main, _, rest = format_fractions(stacking.fractions).partition("  (")
        self._fractions.value = main
        self._fractions_more.value = rest.rstrip(")")
        show_scale_bar(self.viewer)


def format_fractions(fractions: dict) -> str:
    """'O3 62.1 %  O1 30.2 %  other 7.7 %' (+ any other entries in brackets) from 0..1 fractions."""
    numeric = {str(k): float(v) for k, v in fractions.items()
               if isinstance(v, (int, float, np.floating)) and np.isfinite(v)}  # fmt: skip
    main = [f"{k} {100 * numeric[k]:.1f} %" for k in ("O3", "O1", "other") if k in numeric]
    rest = [f"{k} {100 * v:.1f} %" for k, v in numeric.items() if k not in ("O3", "O1", "other")]
    text = "  ".join(main) or "-"
    return f"{text}  ({', '.join(rest)})" if rest else text
