"""4D-STEM widget: strain/rotation maps over the scan, the pattern under the cursor with its disks."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FileEdit, PushButton

from ._base import AnalysisWidget, Job
from ._canvas import PlotCanvas
from ._gpa import rectangle_of
from ._layers import set_image, show_scale_bar

__all__ = ["FourDWidget", "disk_positions"]

REFERENCE_LAYER = "4D-STEM reference"
PROBE_AUTO, PROBE_SAMPLE, PROBE_FILE = "none (from the cube)", "vacuum probe of the data", "file"
MAPS = ("rotation", "exy", "eyy", "exx")


def disk_positions(result: Any, iy: int, ix: int) -> np.ndarray | None:
    """Disk centres (n, 2) as (x, y) detector px at scan position (iy, ix), or None.

    Uses the detected peaks of the result when it keeps them, else the lattice
    fitted at that position (origin + h g1 + k g2 for |h|, |k| <= 3).
    """
    for name in ("peaks", "disks", "disk_positions"):
        peaks = getattr(result, name, None)
        if peaks is not None:
            try:
                p = peaks[iy][ix] if not hasattr(peaks, "ndim") else peaks[iy, ix]
                return np.asarray(p, dtype=float).reshape(-1, 2)[:, :2]
            except (IndexError, TypeError, ValueError):
                return None
    lattice = next((getattr(result, n) for n in ("lattice_vectors", "g_lattice", "basis")
                    if getattr(result, n, None) is not None), None)  # fmt: skip
    origin = next((getattr(result, n) for n in ("origin", "center", "centre")
                   if getattr(result, n, None) is not None), None)  # fmt: skip
    if lattice is None or origin is None:
        return None
    basis = np.asarray(lattice, dtype=float)[iy, ix]  # (2, 2) columns g1, g2 as (x, y)
    o = np.asarray(origin, dtype=float)
    o = o[iy, ix] if o.ndim == 3 else o
    h, k = np.meshgrid(np.arange(-3, 4), np.arange(-3, 4))
    hk = np.stack([h.ravel(), k.ravel()], axis=1)
    return o + hk @ basis.T


class FourDWidget(AnalysisWidget):
    """Strain of a 4D-STEM (nanobeam) scan with :func:`stemstrain.fourd_strain`.

    The reader shows the virtual bright-field and dark-field images; pick a probe
    (none, the vacuum probe stored with the data, or a file), optionally draw the
    reference region in ``4D-STEM reference``, and Run. Moving the mouse over the
    scan shows that position's diffraction pattern in the dock with the detected disks.
    """

    title = "4D-STEM"
    input_kinds = ("4dstem",)

    def _parameter_widgets(self) -> list[Any]:
        self._probe = ComboBox(label="probe", choices=[PROBE_AUTO, PROBE_SAMPLE, PROBE_FILE],
                               value=PROBE_AUTO)  # fmt: skip
        self._probe_file = FileEdit(mode="r", label="probe file", filter="*.npy *.hspy *.dm4 *.h5")
        self._use_reference = CheckBox(text="reference = rectangle in '4D-STEM reference'")
        self._reference_button = PushButton(text="Draw reference rectangle")
        self._reference_button.changed.connect(self.add_reference_layer)
        self._cursor = None
        return [self._probe, self._probe_file, self._use_reference, self._reference_button]

    def _output_widgets(self) -> list[Any]:
        self.plot = PlotCanvas(height_in=3.0)
        self.viewer.mouse_move_callbacks.append(self._on_mouse_move)
        return [self.plot.widget]

    def add_reference_layer(self, _value: Any = None) -> Any:
        """Add an empty ``4D-STEM reference`` Shapes layer in rectangle mode."""
        try:
            layer = self.input_layer()
            if REFERENCE_LAYER not in self.viewer.layers:
                self.viewer.add_shapes(name=REFERENCE_LAYER, scale=layer.scale, units=layer.units,
                                       edge_color="yellow", face_color="transparent")  # fmt: skip
            shapes = self.viewer.layers[REFERENCE_LAYER]
            self.viewer.layers.selection.active = shapes
            shapes.mode = "add_rectangle"
            self._use_reference.value = True
            return shapes
        except Exception as exc:  # noqa: BLE001
            self._on_error(exc)
            return None

    def _probe_array(self, layer: Any) -> Any:
        import stemstrain as ss  # noqa: PLC0415
        from stemstrain.errors import ConfigError  # noqa: PLC0415

        choice = self._probe.value
        if choice == PROBE_AUTO:
            return None
        if choice == PROBE_SAMPLE:
            probe = layer.metadata.get("stemstrain", {}).get("probe")
            if probe is None:
                raise ConfigError("4D-STEM: this data has no vacuum probe; choose a probe file")
            return probe
        path = Path(str(self._probe_file.value))
        if not path.is_file():
            raise ConfigError(f"4D-STEM: probe file {str(path)!r} does not exist; pick a file")
        return np.load(path) if path.suffix == ".npy" else np.asarray(ss.load(path).data)

    def _reference(self, scan_shape: tuple[int, int]) -> Any:
        from stemstrain.errors import ConfigError  # noqa: PLC0415

        if not self._use_reference.value:
            return None
        layers = self.viewer.layers
        shapes = layers[REFERENCE_LAYER] if REFERENCE_LAYER in layers else None
        if shapes is None or not len(shapes.data):
            raise ConfigError("4D-STEM: draw a rectangle in '4D-STEM reference' or untick the box")
        r0, r1, c0, c1 = rectangle_of(shapes.data[-1], scan_shape)
        mask = np.zeros(scan_shape, dtype=bool)
        mask[r0:r1, c0:c1] = True
        return mask

    def _prepare(self, layer: Any) -> Job:
        from stemstrain.errors import ConfigError  # noqa: PLC0415

        signal = self.signal_of(layer)
        if signal is None:
            raise ConfigError(f"4D-STEM: layer {layer.name!r} carries no cube; open the file again")
        scan_shape = tuple(signal.data.shape[:2])
        step = layer.metadata.get("stemstrain", {}).get("scan_step_nm")
        return {"signal": signal, "probe": self._probe_array(layer), "pixel_size": step,
                "reference": self._reference(scan_shape), "layer": layer.name}  # fmt: skip

    def _compute(self, job: Job) -> Generator[tuple[int, int, str], None, dict]:
        import stemstrain as ss  # noqa: PLC0415

        yield 0, 1, "4D-STEM: disks, lattice fits and strain..."
        result = ss.fourd_strain(job["signal"], probe=job["probe"], reference=job["reference"])
        return {"fourd": result}

    def _show(self, results: dict, job: Job) -> None:
        result = results["fourd"]
        for name in MAPS:
            set_image(self.viewer, getattr(result, name), f"4D-STEM {name}",
                      pixel_size=job["pixel_size"], group="fourd", colormap="RdBu_r",
                      symmetric=True, visible=name == "exx")  # fmt: skip
        show_scale_bar(self.viewer)
        self.show_pattern(0, 0)

    # -- pattern under the cursor ------------------------------------------------
    def _on_mouse_move(self, viewer: Any, event: Any) -> None:
        layer = self._input.value
        if layer is None or layer not in viewer.layers:
            return
        row, col = (int(round(v)) for v in layer.world_to_data(event.position)[-2:])
        if (row, col) != self._cursor:
            self.show_pattern(row, col)

    def show_pattern(self, row: int, col: int) -> bool:
        """Plot the diffraction pattern at scan position (row, col) and its disks in the dock."""
        layer = self._input.value
        signal = self.signal_of(layer) if layer is not None else None
        if signal is None:
            return False
        cube = signal.data
        if not (0 <= row < cube.shape[0] and 0 <= col < cube.shape[1]):
            return False
        self._cursor = (row, col)
        pattern = np.asarray(cube[row, col], dtype=np.float64)
        ax = self.plot.clear()
        ax.imshow(np.log1p(np.clip(pattern, 0, None)), cmap="gray", origin="upper")
        ax.set_title(f"pattern at scan ({row}, {col})", fontsize=9)
        ax.set_axis_off()
        disks = disk_positions(self.results["fourd"], row, col) if "fourd" in self.results else None
        if disks is not None and len(disks):
            ax.plot(disks[:, 0], disks[:, 1], "o", mfc="none", mec="lime", ms=8, mew=1.2)
            ax.set_xlim(-0.5, pattern.shape[1] - 0.5)
            ax.set_ylim(pattern.shape[0] - 0.5, -0.5)
        self.plot.draw()
        return True
