"""GPA widget: FFT layer, g-spot picking, reference rectangle, strain maps, dislocations."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FloatSpinBox, PushButton

from ._base import AnalysisWidget, Job
from ._layers import set_image, set_points, set_vectors, show_scale_bar

__all__ = ["GPAWidget", "fft_log_power", "g_from_fft_pixels", "fft_pixels_from_g", "rectangle_of"]

FFT_LAYER = "FFT (log power)"
SPOTS_LAYER = "g spots"
REFERENCE_LAYER = "GPA reference"
MAPS = ("rotation", "exy", "eyy", "e_tt", "e_nn", "exx")  # added bottom to top: exx on top
AUTO, FROM_POINTS = "auto", "two spots in 'g spots'"


def fft_log_power(image: np.ndarray) -> np.ndarray:
    """log(1 + |FFT|^2) of the mean-subtracted image, zero frequency at index N//2 (display)."""
    img = np.asarray(image, dtype=np.float64)
    power = np.abs(np.fft.fftshift(np.fft.fft2(img - img.mean()))) ** 2
    return np.log1p(power).astype(np.float32)


def g_from_fft_pixels(rows_cols: np.ndarray, shape: tuple[int, int], pixel_size: float) -> list:
    """Spots (row, col) on the shifted FFT -> g-vectors [(gx, gy), ...] in 1/nm."""
    rc = np.asarray(rows_cols, dtype=np.float64).reshape(-1, 2)
    gy = (rc[:, 0] - shape[0] // 2) / (shape[0] * pixel_size)
    gx = (rc[:, 1] - shape[1] // 2) / (shape[1] * pixel_size)
    return [(float(x), float(y)) for x, y in zip(gx, gy, strict=False)]


def fft_pixels_from_g(
    g_vectors: np.ndarray, shape: tuple[int, int], pixel_size: float
) -> np.ndarray:
    """g-vectors (n, 2) as (gx, gy) 1/nm -> (row, col) on the shifted FFT."""
    g = np.asarray(g_vectors, dtype=np.float64).reshape(-1, 2)
    rows = g[:, 1] * shape[0] * pixel_size + shape[0] // 2
    cols = g[:, 0] * shape[1] * pixel_size + shape[1] // 2
    return np.stack([rows, cols], axis=1)


def rectangle_of(vertices_rc: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Bounding box (row0, row1, col0, col1) in pixels of a drawn shape, clipped to the image."""
    v = np.asarray(vertices_rc, dtype=np.float64)[:, -2:]
    row0, col0 = np.floor(v.min(axis=0)).astype(int)
    row1, col1 = np.ceil(v.max(axis=0)).astype(int)
    row0, row1 = int(np.clip(row0, 0, shape[0])), int(np.clip(row1, 0, shape[0]))
    col0, col1 = int(np.clip(col0, 0, shape[1])), int(np.clip(col1, 0, shape[1]))
    return row0, row1, col0, col1


def small_reference(box: Any, pixel_size: float | None, resolution: float) -> str | None:
    """Warn (return the text) when a drawn reference box is narrower than the resolution.

    The maps are smoothed over ``resolution`` (nm; px when uncalibrated), so a box narrower
    than that holds less than one independent strain sample: its mean is noise-dominated.
    """
    if not isinstance(box, tuple) or len(box) != 4 or not np.isfinite(resolution):
        return None
    step = pixel_size or 1.0
    unit = "nm" if pixel_size else "px"
    height, width = (box[1] - box[0]) * step, (box[3] - box[2]) * step
    if min(height, width) >= resolution:
        return None
    return (f"the reference rectangle ({height:.3g} x {width:.3g} {unit}) is narrower than the "
            f"GPA resolution ({resolution:.3g} {unit}): its strain rests on less than one "
            "independent sample; draw it larger")  # fmt: skip


def _fft_and_spots(image: np.ndarray, px: float | None) -> tuple[np.ndarray, np.ndarray]:
    """FFT log power and the (row, col) of the g-vectors :func:`find_g_vectors` picks."""
    from stemstrain.geometric_phase import find_g_vectors

    try:
        g_px = np.asarray(find_g_vectors(image, px)[0], dtype=np.float64)  # cycles/px
        spots = fft_pixels_from_g(g_px, image.shape, 1.0)
    except Exception:
        spots = np.empty((0, 2))
    return fft_log_power(image), spots


class GPAWidget(AnalysisWidget):
    """Geometric phase analysis of the chosen image (:func:`stemstrain.gpa`).

    Show the FFT and click two spots into the ``g spots`` layer (or keep ``auto``),
    optionally draw a rectangle in ``GPA reference`` for the unstrained region, then
    Run. Outputs ``exx, eyy, exy, rotation, e_nn, e_tt`` maps (RdBu_r, symmetric
    contrast, colour bar), the refined g-vectors as points on the FFT and the
    dislocation cores (Points) with their Burgers vectors (Vectors).
    """

    title = "GPA"

    def _parameter_widgets(self) -> list[Any]:
        self._g_mode = ComboBox(label="g-vectors", choices=[AUTO, FROM_POINTS], value=AUTO)
        self._fft_button = PushButton(text="Show FFT to pick spots")
        self._resolution = FloatSpinBox(
            label="resolution (nm, 0 = auto)", min=0.0, max=50.0, step=0.05, value=0.0
        )
        self._use_reference = CheckBox(text="reference = rectangle in 'GPA reference'")
        self._reference_button = PushButton(text="Draw reference rectangle")
        self._propose_button = PushButton(text="Propose reference (least distorted)")
        self._dislocations = CheckBox(text="find dislocations", value=True)
        self._fft_button.changed.connect(self.show_fft)
        self._reference_button.changed.connect(self.add_reference_layer)
        self._propose_button.changed.connect(self.propose_reference)
        return [
            self._g_mode, self._fft_button, self._resolution,
            self._use_reference, self._reference_button, self._propose_button,
            self._dislocations,
        ]  # fmt: skip

    # -- interactive helpers -----------------------------------------------------
    def show_fft(self, _value: Any = None, *, wait: bool = False) -> Any:
        """Add the FFT (log power) of the input and a ``g spots`` layer with the auto choice.

        The FFT and the automatic g choice are computed in a worker thread (``wait=True``:
        in this thread, for scripts and tests); the layers are added when they are ready.
        """
        return self._on_input_image(
            _fft_and_spots, self._add_fft, "computing the FFT...", wait=wait
        )

    def _on_input_image(self, fn: Any, done: Any, status: str, *, wait: bool) -> Any:
        """Run ``fn(image, px)`` on the input image, then ``done(out, shape, px)`` in the GUI.

        In a worker thread (returns the worker), or in this thread with ``wait=True``
        (returns what ``done`` returns). Errors become one notification (returns None).
        """
        from napari.qt.threading import create_worker

        try:
            image, px = self.image_of(self.input_layer())
        except Exception as exc:
            self._on_error(exc)
            return None
        if wait:
            return done(fn(image, px), image.shape, px)
        worker = create_worker(fn, image, px, _start_thread=False,
                               _connect={"errored": self._on_error})  # fmt: skip
        worker.returned.connect(lambda out: done(out, image.shape, px))
        self._status.value = status
        worker.start()
        return worker

    def _add_fft(self, fft_spots: tuple, shape: tuple[int, int], px: float | None) -> Any:
        power, auto = fft_spots
        try:
            fft = set_image(self.viewer, power, FFT_LAYER, pixel_size=px, group="gpa",
                            colormap="magma", colorbar=False)  # fmt: skip
            fft.metadata["stemstrain_fft"] = {"shape": shape, "pixel_size_nm": px}
            spots = self._spots_layer(px)
            if not len(spots.data):
                spots.data = auto
            self.viewer.layers.selection.active = spots
            spots.mode = "add"
            self._g_mode.value = FROM_POINTS
            self._status.value = (
                "automatic g shown in 'g spots': Run to accept, or move / click two spots"
                if len(spots.data) == 2 else "click two spots on the FFT"
            )  # fmt: skip
            return fft
        except Exception as exc:
            self._on_error(exc)
            return None

    def _spots_layer(self, px: float | None) -> Any:
        if SPOTS_LAYER in self.viewer.layers:
            return self.viewer.layers[SPOTS_LAYER]
        return set_points(self.viewer, np.empty((0, 2)), SPOTS_LAYER, pixel_size=px, group="gpa",
                          face_color="transparent", border_color="lime", size_px=14,
                          symbol="ring")  # fmt: skip

    def add_reference_layer(self, _value: Any = None) -> Any:
        """Add an empty ``GPA reference`` Shapes layer in rectangle-drawing mode."""
        return self._add_reference_rectangle(REFERENCE_LAYER)

    def propose_reference(self, _value: Any = None, *, wait: bool = False) -> Any:
        """Draw the region :func:`stemstrain.gpa.propose_reference` finds (a GPA pass).

        Runs in a worker thread (``wait=True``: in this thread, for scripts and tests);
        the rectangle is added to ``GPA reference`` and the reference box ticked.
        """
        from stemstrain.geometric_phase import propose_reference

        return self._on_input_image(
            propose_reference, self._add_reference_box, "proposing a reference region...", wait=wait
        )

    def _add_reference_box(self, box: tuple[int, int, int, int], *_: Any) -> tuple:
        row0, row1, col0, col1 = (int(v) for v in box)
        shapes = self.add_reference_layer()
        if shapes is not None:
            shapes.add_rectangles(np.array([[row0, col0], [row1, col1]], dtype=float))
            shapes.mode = "select"
            self._status.value = f"reference rows {row0}:{row1}, cols {col0}:{col1}"
        return box

    # -- hooks -------------------------------------------------------------------
    def _picked_g(self, shape: tuple[int, int], px: float | None) -> Any:
        from stemstrain.errors import CalibrationError, ConfigError

        if self._g_mode.value == AUTO:
            return "auto"
        spots = self.viewer.layers[SPOTS_LAYER] if SPOTS_LAYER in self.viewer.layers else None
        if spots is None or len(spots.data) < 2:
            raise ConfigError("GPA: click two spots into the 'g spots' layer or choose g = auto")
        if px is None:
            raise CalibrationError("GPA: the image has no pixel size in nm; g needs one")
        return g_from_fft_pixels(np.asarray(spots.data)[-2:], shape, px)

    def _reference(self, shape: tuple[int, int]) -> Any:
        from stemstrain.errors import ConfigError

        if not self._use_reference.value:
            return None
        layers = self.viewer.layers
        shapes = layers[REFERENCE_LAYER] if REFERENCE_LAYER in layers else None
        if shapes is None or not len(shapes.data):
            raise ConfigError(
                "GPA: draw a rectangle in the 'GPA reference' layer or untick the reference box"
            )
        return rectangle_of(shapes.data[-1], shape)

    def _prepare(self, layer: Any) -> Job:
        image, px = self.image_of(layer)
        return {
            "image": image,
            "pixel_size": px,
            "g": self._picked_g(image.shape, px),
            "reference": self._reference(image.shape),
            "resolution_nm": float(self._resolution.value) or None,
            "dislocations": bool(self._dislocations.value),
        }

    def _compute(self, job: Job) -> Generator[tuple[int, int, str], None, dict]:
        import stemstrain as ss
        from stemstrain.results import TableResult

        n = 3 if job["dislocations"] else 2
        yield 0, n, "GPA: phases and strain..."
        result = ss.gpa(job["image"], pixel_size=job["pixel_size"], g=job["g"],
                        reference=job["reference"], resolution_nm=job["resolution_nm"])  # fmt: skip
        out: dict[str, Any] = {"gpa": result}
        if job["dislocations"]:
            yield 1, n, "GPA: dislocation cores..."
            table = ss.find_dislocations(result, image=job["image"])  # finer look at pairs
            out["dislocations"] = TableResult("dislocations", table, job["pixel_size"])
        yield n - 1, n, "GPA: FFT for display..."
        job["fft"] = fft_log_power(job["image"])
        return out

    def _show(self, results: dict, job: Job) -> None:
        px = job["pixel_size"]
        result = results["gpa"]
        if FFT_LAYER not in self.viewer.layers:
            set_image(self.viewer, job["fft"], FFT_LAYER, pixel_size=px, group="gpa",
                      colormap="magma", colorbar=False, visible=False)  # fmt: skip
        # the FFT overlays the image: hidden after a run, else its speckle shows through
        # the maps' NaN (transparent) border; the refined g rings go with it
        self.viewer.layers[FFT_LAYER].visible = False
        spots = fft_pixels_from_g(result.g_vectors, job["image"].shape, px or 1.0)
        set_points(self.viewer, spots, SPOTS_LAYER, pixel_size=px, group="gpa",
                   face_color="transparent", border_color="lime", size_px=14, symbol="ring",
                   visible=False)  # fmt: skip
        for name in MAPS:
            set_image(self.viewer, getattr(result, name), f"GPA {name}", pixel_size=px,
                      group="gpa", colormap="RdBu_r", symmetric=True,
                      visible=name == "exx")  # fmt: skip
        if "dislocations" in results:
            self._show_dislocations(results["dislocations"].table, px)
        show_scale_bar(self.viewer)
        small = small_reference(job.get("reference"), px, result.resolution_nm)
        if small:
            job.setdefault("warnings", []).append(small)

    def _show_dislocations(self, table: Any, px: float | None) -> None:
        rc = (
            np.stack([table["y"].to_numpy(), table["x"].to_numpy()], axis=1)
            if len(table)
            else (np.empty((0, 2)))
        )
        set_points(self.viewer, rc, "dislocation cores", pixel_size=px, group="dislocations",
                   features=table.reset_index(drop=True), face_color="transparent",
                   border_color="yellow", size_px=40, symbol="ring",
                   border_width=0.15)  # fmt: skip
        scale = px or 1.0
        if len(table):
            burgers = np.stack([table["by"].to_numpy(), table["bx"].to_numpy()], axis=1) / scale
            vectors = np.stack([rc, burgers], axis=1)
        else:
            vectors = np.empty((0, 2, 2))
        set_vectors(
            self.viewer,
            vectors,
            "Burgers vectors",
            pixel_size=px,
            group="dislocations",
            color="magenta",
            length=3.0,
        )  # drawn 3x (b ~ 12 px); data = true b
