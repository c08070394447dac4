"""4D-STEM widget: strain and rotation maps, the pattern under the cursor with its disks."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FileEdit, PushButton

from ._base import AnalysisWidget, Job
from ._canvas import PlotCanvas
from ._gpa import rectangle_of
from ._layers import layer_pixel_size, set_image, show_scale_bar

__all__ = ["FourDWidget", "lattice_disks", "detected_disks"]

REFERENCE_LAYER = "4D-STEM reference"
PROBE_AUTO, PROBE_SAMPLE, PROBE_FILE = "none (from the cube)", "vacuum probe of the data", "file"
MAPS = ("rotation", "exy", "eyy", "exx")


def lattice_disks(result: Any, row: int, col: int, detector_shape: tuple[int, int]) -> np.ndarray:
    """Disk centres (n, 2) as (x, y) detector px predicted by the lattice fitted at (row, col).

    :meth:`stemstrain.FourDStrainResult.predicted_disks` (``origin + h g1 + k g2``,
    |h|, |k| <= 4, on the detector).
    """
    return result.predicted_disks(row, col, detector_shape)


def detected_disks(pattern: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Bragg disks (n, 2) as (x, y) detector px found in one pattern by :func:`find_disks`."""
    from stemstrain.fourd import find_disks

    table = find_disks(np.asarray(pattern, dtype=np.float32), probe)
    return table[["x", "y"]].to_numpy(dtype=float)


def show_phase_labels(viewer: Any, result: Any, pixel_size: float | None = None) -> Any:
    """Add (or replace) the ``4D-STEM phases`` labels layer of a ``FourDPhasesResult``.

    Label ``i + 1`` is phase ``result.phases[i]`` (napari labels start at 1; 0 = unassigned);
    the layer's metadata keep the phase names, fractions and fitted cells.
    """
    name = "4D-STEM phases"
    data = np.asarray(result.label_map, dtype=np.int32) + 1
    if name in viewer.layers:
        viewer.layers.remove(name)
    scale = (pixel_size, pixel_size) if pixel_size else (1.0, 1.0)
    meta = {
        "phases": {i + 1: p for i, p in enumerate(result.phases)},
        "fractions": result.fractions(),
        "lattice_parameters": result.lattice_parameters,
    }
    return viewer.add_labels(data, name=name, scale=scale, metadata=meta, opacity=0.6)


class FourDWidget(AnalysisWidget):
    """Strain of a 4D-STEM (nanobeam) scan with :func:`stemstrain.fourd_strain`.

    The reader shows the virtual bright-field and dark-field images; pick a probe
    (none, the vacuum probe stored with the data, or a file), optionally draw the
    reference region in ``4D-STEM reference``, optionally CIF files of candidate phases
    (then :func:`stemstrain.fourd_phases` adds a ``4D-STEM phases`` labels layer), and
    Run. Moving the mouse over the
    scan shows that position's diffraction pattern in the dock with the detected disks.
    """

    title = "4D-STEM"
    input_kinds = ("4dstem", "bragg")  # a cube, or the Bragg vectors of a py4DSTEM file

    def _parameter_widgets(self) -> list[Any]:
        self._probe = ComboBox(label="probe", choices=[PROBE_AUTO, PROBE_SAMPLE, PROBE_FILE],
                               value=PROBE_AUTO)  # fmt: skip
        self._probe_file = FileEdit(mode="r", label="probe file", filter="*.npy *.hspy *.dm4 *.h5")
        self._use_reference = CheckBox(text="reference = rectangle in '4D-STEM reference'")
        self._reference_button = PushButton(text="Draw reference rectangle")
        self._reference_button.changed.connect(self.add_reference_layer)
        self._cifs = FileEdit(mode="rm", label="phase CIFs (optional)", filter="*.cif")
        self._cursor = None
        return [
            self._probe,
            self._probe_file,
            self._use_reference,
            self._reference_button,
            self._cifs,
        ]

    def _output_widgets(self) -> list[Any]:
        self.plot = PlotCanvas(height_in=3.0)
        self.viewer.mouse_move_callbacks.append(self._on_mouse_move)
        return [self.plot.widget]

    def add_reference_layer(self, _value: Any = None) -> Any:
        """Add an empty ``4D-STEM reference`` Shapes layer in rectangle mode."""
        return self._add_reference_rectangle(REFERENCE_LAYER)

    def _probe_array(self, layer: Any) -> Any:
        import stemstrain as ss
        from stemstrain.errors import ConfigError

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
        from stemstrain.errors import ConfigError

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
        from stemstrain.errors import ConfigError

        signal = self.signal_of(layer)
        if signal is None:
            raise ConfigError(f"4D-STEM: layer {layer.name!r} carries no cube; open the file again")
        bragg = layer.metadata.get("stemstrain", {}).get("kind") == "bragg"
        if bragg and self._probe.value != PROBE_AUTO:
            raise ConfigError("4D-STEM: Bragg vectors need no probe (peaks already found)")
        scan_shape = tuple(signal.scan_shape if bragg else signal.data.shape[:2])
        step = layer_pixel_size(layer)  # the file's scan step, or the one typed in the widget
        cifs = [str(p) for p in (self._cifs.value or ()) if Path(str(p)).is_file()]
        return {"signal": signal, "probe": self._probe_array(layer), "pixel_size": step,
                "reference": self._reference(scan_shape), "layer": layer.name,
                "cifs": cifs}  # fmt: skip

    def _compute(self, job: Job) -> Generator[tuple[int, int, str], None, dict]:
        import stemstrain as ss

        yield 0, 1, "4D-STEM: disks, lattice fits and strain..."
        result = ss.fourd_strain(
            job["signal"], probe=job["probe"], reference=job["reference"], progress=False
        )
        out = {"fourd": result}
        if job.get("cifs"):
            yield 1, 2, "4D-STEM: phase and orientation matching..."
            out["fourd_phases"] = ss.fourd_phases(job["signal"], job["cifs"], probe=job["probe"])
        return out

    def _show(self, results: dict, job: Job) -> None:
        result = results["fourd"]
        for name in MAPS:
            set_image(self.viewer, getattr(result, name), f"4D-STEM {name}",
                      pixel_size=job["pixel_size"], group="fourd", colormap="RdBu_r",
                      symmetric=True, visible=name == "exx")  # fmt: skip
        if "fourd_phases" in results:
            show_phase_labels(self.viewer, results["fourd_phases"], job["pixel_size"])
        show_scale_bar(self.viewer)
        self.show_pattern(0, 0)

    def _show_peaks(self, bragg: Any, row: int, col: int, *, idle: bool) -> dict | None:
        """Plot the Bragg peaks of scan position (row, col) of a ``BraggVectors``."""
        if not (0 <= row < bragg.scan_shape[0] and 0 <= col < bragg.scan_shape[1]):
            return None
        self._cursor = (row, col)
        peaks = bragg.peaks(row, col)
        ax = self.plot.clear()
        size = 4 + 40 * peaks[:, 2] / max(float(peaks[:, 2].max()), 1e-12) if len(peaks) else 4
        ax.scatter(peaks[:, 0], peaks[:, 1], s=size, c="k", label="Bragg peaks")
        ax.set_aspect("equal")
        ax.invert_yaxis()  # y = detector row, down as in the patterns
        ax.set_xlabel(f"x ({bragg.units})", fontsize=8)
        ax.set_ylabel(f"y ({bragg.units})", fontsize=8)
        ax.set_title(f"peaks at scan (row {row}, col {col}): {len(peaks)}", fontsize=9)
        self.plot.draw(idle=idle)
        return {"detected": peaks[:, :2], "lattice": np.empty((0, 2))}

    # -- pattern under the cursor ------------------------------------------------
    def _on_mouse_move(self, viewer: Any, event: Any) -> None:
        try:
            layer = self._input.value
            if layer is None or layer not in viewer.layers:
                return
            row, col = (int(round(v)) for v in layer.world_to_data(event.position)[-2:])
            if (row, col) != self._cursor:
                self.show_pattern(row, col, idle=True)
        except RuntimeError:  # the dock widget was deleted: stop following the mouse
            if self._on_mouse_move in viewer.mouse_move_callbacks:
                viewer.mouse_move_callbacks.remove(self._on_mouse_move)

    def _display_probe(self, layer: Any, cube: Any) -> np.ndarray:
        """Probe used to find the disks of the pattern under the cursor (cached per layer).

        The one :func:`stemstrain.fourd_probe` gives, i.e. the probe ``fourd_strain`` uses
        with the same choice (the layer's vacuum probe, else from the mean pattern).
        """
        import stemstrain as ss

        key = id(layer)
        if getattr(self, "_probe_cache", (None, None))[0] != key:
            probe = layer.metadata.get("stemstrain", {}).get("probe")
            probe = ss.fourd_probe(cube, probe)
            self._probe_cache = (key, np.asarray(probe, dtype=np.float32))
        return self._probe_cache[1]

    def show_pattern(self, row: int, col: int, *, idle: bool = False) -> dict | None:
        """Plot the pattern at scan position (row, col) with its disks in the dock.

        Returns ``{"detected": (n, 2), "lattice": (m, 2)}`` disk centres (x, y) in detector
        px (``lattice`` only after a run), or None when (row, col) is off the scan.
        """
        layer = self._input.value
        signal = self.signal_of(layer) if layer is not None else None
        if signal is None:
            return None
        if layer.metadata.get("stemstrain", {}).get("kind") == "bragg":
            return self._show_peaks(signal, row, col, idle=idle)
        cube = signal.data
        if not (0 <= row < cube.shape[0] and 0 <= col < cube.shape[1]):
            return None
        self._cursor = (row, col)
        pattern = np.asarray(cube[row, col], dtype=np.float64)
        disks = {"detected": np.empty((0, 2)), "lattice": np.empty((0, 2))}
        try:
            disks["detected"] = detected_disks(pattern, self._display_probe(layer, cube))
        except Exception:
            pass
        if "fourd" in self.results:
            disks["lattice"] = lattice_disks(self.results["fourd"], row, col, pattern.shape)
        ax = self.plot.clear()
        ax.imshow(np.log1p(np.clip(pattern, 0, None)), cmap="gray", origin="upper")
        ax.plot(*disks["detected"].T, "o", mfc="none", mec="lime", ms=9, mew=1.2,
                label="detected")  # fmt: skip
        if len(disks["lattice"]):
            ax.plot(*disks["lattice"].T, "+", color="red", ms=7, label="fitted lattice")
        ax.set_xlim(-0.5, pattern.shape[1] - 0.5)
        ax.set_ylim(pattern.shape[0] - 0.5, -0.5)
        ax.set_title(f"pattern at scan (row {row}, col {col})", fontsize=9)
        ax.legend(loc="lower right", fontsize=7)
        ax.set_axis_off()
        self.plot.draw(idle=idle)
        return disks
