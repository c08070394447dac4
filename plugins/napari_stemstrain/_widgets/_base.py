"""Base class of the analysis widgets: input choice, run/cancel, progress, save.

A widget subclass provides four hooks:

* ``_parameter_widgets()`` - the magicgui widgets of its parameters;
* ``_prepare(layer)`` - read the input and the parameters on the GUI thread and
  return a plain ``job`` dict (raises :class:`stemstrain.StemstrainError` for bad input);
* ``_compute(job)`` - a generator run in a worker thread: it calls the public
  stemstrain API, ``yield``-s ``(step, n_steps, text)`` between calls (where the
  Cancel button takes effect) and returns a dict ``{group: result}``;
* ``_show(results, job)`` - add the result layers on the GUI thread.

``run()`` runs the job in a :func:`napari.qt.threading.create_worker` thread;
``run_sync()`` runs the same steps in the calling thread (scripts, tests).
Errors become napari notifications, never an exception in the event loop.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

from magicgui.widgets import Container, FileEdit, FloatSpinBox, Label, ProgressBar, PushButton

from ._layers import layer_pixel_size

__all__ = ["AnalysisWidget", "Job"]

Job = dict[str, Any]


class AnalysisWidget(Container):
    """Dock widget running one stemstrain analysis on a layer of the viewer.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer (napari passes it when the widget is opened from the menu).
    """

    #: short name used in layer names and default file names
    title: str = "analysis"
    #: which inputs the widget offers: ``metadata["stemstrain"]["kind"]`` values
    input_kinds: tuple[str, ...] = ("image",)

    def __init__(self, napari_viewer: Any) -> None:
        from magicgui.widgets import ComboBox

        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.results: dict[str, Any] = {}
        self._last_job: Job | None = None
        self._worker: Any = None
        self._input = ComboBox(label="input layer", choices=self._input_choices)
        _narrow_combo(self._input)
        self._run_button = PushButton(text="Run")
        self._cancel_button = PushButton(text="Cancel", enabled=False)
        self._progress = ProgressBar(min=0, max=1, value=0, label="progress", visible=False)
        self._status = Label(value="", label="status")
        _wrap_label(self._status)
        self._save_file = FileEdit(mode="w", filter="*.h5", label="results file")
        self._save_button = PushButton(text="Save results")
        what = "pixel size" if "image" in self.input_kinds else "scan step"
        self._pixel_size = FloatSpinBox(label=f"{what} (nm, 0 = from file)", min=0.0,
                                        max=1000.0, step=0.00001, value=0.0)  # fmt: skip
        self._pixel_size.visible = "eels" not in self.input_kinds  # EELS: the spectra's axes
        self._pixel_size.changed.connect(self.set_pixel_size)
        self._input.changed.connect(self._show_pixel_size)
        self.extend([self._input, self._pixel_size, *self._parameter_widgets()])
        self.extend([self._run_button, self._cancel_button, self._progress, self._status])
        self.extend([*self._output_widgets(), self._save_file, self._save_button])
        self._run_button.changed.connect(self.run)
        self._cancel_button.changed.connect(self.cancel)
        self._save_button.changed.connect(self.save)
        self.viewer.layers.events.inserted.connect(self._refresh_inputs)
        self.viewer.layers.events.removed.connect(self._refresh_inputs)
        self._refresh_inputs()
        self._show_pixel_size()

    # -- hooks -------------------------------------------------------------------
    def _parameter_widgets(self) -> list[Any]:
        return []

    def _output_widgets(self) -> list[Any]:
        return []

    def _prepare(self, layer: Any) -> Job:
        raise NotImplementedError

    def _compute(self, job: Job) -> Generator[tuple[int, int, str], None, dict]:
        raise NotImplementedError

    def _show(self, results: dict, job: Job) -> None:
        raise NotImplementedError

    # -- inputs ------------------------------------------------------------------
    def _accepts(self, layer: Any) -> bool:
        from napari.layers import Image

        if not isinstance(layer, Image) or "stemstrain_output" in layer.metadata:
            return False
        kind = layer.metadata.get("stemstrain", {}).get("kind", "image")
        if "image" in self.input_kinds and kind == "image":
            return layer.data.ndim >= 2 and not layer.rgb
        return kind in self.input_kinds

    def _input_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in self.viewer.layers if self._accepts(layer)]

    def _refresh_inputs(self, _event: Any = None) -> None:
        try:
            current = self._input.value
            self._input.reset_choices()
            if current is not None and current in [c[1] for c in self._input_choices()]:
                self._input.value = current
        except RuntimeError:  # the dock widget was deleted: stop listening
            self.viewer.layers.events.inserted.disconnect(self._refresh_inputs)
            self.viewer.layers.events.removed.disconnect(self._refresh_inputs)

    def _show_pixel_size(self, _value: Any = None) -> None:
        """Show the chosen layer's pixel size in the field (0 when it has none)."""
        layer = self._input.value
        px = layer_pixel_size(layer) if layer is not None else None
        with self._pixel_size.changed.blocked():
            self._pixel_size.value = round(px, 5) if px else 0.0

    def set_pixel_size(self, value: float | None = None) -> None:
        """Calibrate the input layer (and its picking layers) with ``value`` nm per pixel.

        For files without a calibration (or a wrong one): the input image, and the Shapes /
        Points layers drawn over it in its pixel frame, get ``scale = value`` in nm, so the
        result layers (in nm) overlay them. 0 leaves the layer as it is.
        """
        value = float(self._pixel_size.value if value is None else value)
        layer = self._input.value
        if value <= 0 or layer is None or layer not in self.viewer.layers:
            return
        old = tuple(layer.scale[-2:])
        before = layer_pixel_size(layer)
        signal = self.signal_of(layer)
        for other in list(self.viewer.layers):
            same_frame = tuple(other.scale[-2:]) == old and other.ndim == 2
            sibling = signal is not None and self.signal_of(other) is signal  # virtual ADF
            picking = same_frame and type(other).__name__ in ("Shapes", "Points")
            if other is layer or sibling or picking:
                nav = other.ndim - 2
                other.scale = (*tuple(other.scale[:nav]), value, value)
                other.units = (*("pixel",) * nav, "nm", "nm")
        layer.metadata.setdefault("stemstrain", {})["pixel_size_nm"] = value
        self._status.value = f"pixel size {value:g} nm" + (
            f" (the file said {before:g} nm)" if before and abs(before - value) > 1e-9 else ""
        )

    def _add_reference_rectangle(self, name: str) -> Any:
        """Add (or activate) an empty Shapes layer ``name`` in rectangle-drawing mode.

        Used by the widgets that take a reference region drawn by hand; errors become a
        notification (returns None).
        """
        try:
            layer = self.input_layer()
            if name not in self.viewer.layers:
                self.viewer.add_shapes(
                    name=name, scale=layer.scale[-2:], units=layer.units[-2:],
                    edge_color="yellow", face_color="transparent", edge_width=3,
                )  # fmt: skip
            shapes = self.viewer.layers[name]
            self.viewer.layers.selection.active = shapes
            shapes.mode = "add_rectangle"
            self._use_reference.value = True
            return shapes
        except Exception as exc:
            self._on_error(exc)
            return None

    def input_layer(self) -> Any:
        """Return the chosen input layer (raise a StemstrainError when there is none)."""
        from stemstrain.errors import ConfigError

        layer = self._input.value
        if layer is None or layer not in self.viewer.layers:
            kinds = " or ".join(self.input_kinds)
            raise ConfigError(f"{self.title}: no {kinds} layer to analyse; open a file first")
        return layer

    def image_of(self, layer: Any) -> tuple[Any, float | None]:
        """2-D array of an image layer (the displayed frame of a stack) and its pixel size."""
        import numpy as np

        data = layer.data
        if data.ndim > 2:
            step = self.viewer.dims.current_step[: data.ndim - 2]
            data = data[tuple(int(s) for s in step)]
        return np.asarray(data), layer_pixel_size(layer)

    @staticmethod
    def signal_of(layer: Any) -> Any:
        """Return the signal the reader attached to a layer (4D-STEM cube, EELS spectra)."""
        return layer.metadata.get("stemstrain", {}).get("signal")

    # -- running -----------------------------------------------------------------
    def _start_job(self) -> Job:
        layer = self.input_layer()
        job = self._prepare(layer)
        job.setdefault("name", layer.name)
        job.setdefault("source", layer.metadata.get("stemstrain", {}).get("source"))
        job["t0"] = time.perf_counter()
        self._last_job = job
        return job

    def run_sync(self) -> dict:
        """Run the analysis in this thread and show its layers; returns ``{group: result}``."""
        job = self._start_job()
        steps = self._compute_noting_warnings(job)
        while True:
            try:
                self._on_progress(next(steps))
            except StopIteration as stop:
                results = stop.value
                break
        self._on_returned(results)
        return results

    def _compute_noting_warnings(self, job: Job) -> Generator[tuple[int, int, str], None, dict]:
        """``_compute`` with the ``UserWarning``s of the API calls kept for the user.

        In a worker thread a warning would only reach the terminal; they are stored in
        ``job["warnings"]`` and notified with the result (a weak edge, a doubtful fit...).
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            results = yield from self._compute(job)
        job["warnings"] = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        return results

    def run(self, _value: Any = None) -> Any:
        """Run the analysis in a worker thread (the Run button); returns the worker."""
        from napari.qt.threading import create_worker

        try:
            job = self._start_job()
        except Exception as exc:
            self._on_error(exc)
            return None
        # our errored handler replaces superqt's re-raise in the GUI thread; napari's own
        # relay is dropped so that one error gives one (widget-prefixed) notification
        worker = create_worker(self._compute_noting_warnings, job, _start_thread=False,
                               _connect={"errored": self._on_error})  # fmt: skip
        relay = getattr(worker, "_relay_error", None)
        if relay is not None:
            try:
                worker.errored.disconnect(relay)
            except (TypeError, RuntimeError):
                pass
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_returned)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self._set_busy(True, "running...")
        worker.start()
        return worker

    def cancel(self, _value: Any = None) -> None:
        """Stop the running job at its next step (the Cancel button)."""
        if self._worker is not None:
            self._worker.quit()
            self._status.value = "cancelling..."

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self._run_button.enabled = not busy
        self._cancel_button.enabled = busy
        self._progress.visible = busy
        if busy:
            self._progress.max, self._progress.value = 0, 0  # indeterminate until a step
        if text:
            self._status.value = self._step_text = text
        self._clock(busy)

    def _clock(self, running: bool) -> None:
        """Tick the elapsed seconds into the status once a second while a job runs.

        One API call can take a minute (curvature of a large image) with no step between:
        the ticking seconds show that it is still working.
        """
        from qtpy.QtCore import QTimer

        if getattr(self, "_timer", None) is None:
            self._timer = QTimer()
            self._timer.setInterval(1000)
            self._timer.timeout.connect(self._tick)
        if running:
            self._timer.start()
        else:
            self._timer.stop()

    def elapsed(self) -> float:
        """Seconds since the last job started (0 before any)."""
        t0 = (self._last_job or {}).get("t0")
        return time.perf_counter() - t0 if t0 is not None else 0.0

    def _tick(self) -> None:
        self._status.value = f"{getattr(self, '_step_text', 'running...')} ({self.elapsed():.0f} s)"

    def _on_progress(self, update: tuple[int, int, str]) -> None:
        step, n_steps, text = update
        self._progress.max = max(int(n_steps), 1)
        self._progress.value = min(int(step), self._progress.max)
        self._step_text = text
        self._status.value = f"{text} ({self.elapsed():.0f} s)"

    def _on_returned(self, results: dict) -> None:
        self.results.update(results)
        try:
            self._show(results, self._last_job or {})
        except Exception as exc:
            self._on_error(exc)
            return
        doubts = _result_warnings(results, (self._last_job or {}).get("warnings", ()))
        self._status.value = f"done in {self.elapsed():.1f} s: {', '.join(results)}" + (
            f" — {len(doubts)} warning(s): {doubts[0]}" if doubts else ""
        )
        if doubts:
            from napari.utils.notifications import show_warning

            for text in doubts:
                show_warning(f"stemstrain {self.title}: {text}")
        if str(self._save_file.value) in ("", "."):
            self._save_file.value = self.default_save_path()

    def _on_error(self, exc: BaseException) -> None:
        from napari.utils.notifications import show_error

        self._status.value = f"error: {exc}"
        show_error(f"stemstrain {self.title}: {exc}")

    def _on_aborted(self) -> None:
        self._status.value = "cancelled"

    def _on_finished(self) -> None:
        self._set_busy(False)
        self._worker = None

    # -- saving ------------------------------------------------------------------
    def default_save_path(self) -> Path:
        """``stemstrain_results/<input stem>/results.h5`` under the current directory."""
        job = self._last_job or {}
        source = job.get("source")
        stem = Path(source).stem if source else str(job.get("name", "napari")).replace(" ", "_")
        return Path.cwd() / "stemstrain_results" / stem / "results.h5"

    def save(self, _value: Any = None, path: str | Path | None = None) -> Path | None:
        """Write the results of the last runs into the results file (API.md layout)."""
        from napari.utils.notifications import show_info

        from stemstrain.results import write_results

        if not self.results:
            self._on_error(RuntimeError("nothing to save yet; press Run first"))
            return None
        target = Path(path) if path is not None else Path(str(self._save_file.value))
        if str(target) in ("", "."):
            target = self.default_save_path()
        source = (self._last_job or {}).get("source")
        try:
            written = write_results(
                target,
                list(self.results.values()),
                input_path=source if source and Path(source).is_file() else None,
            )
        except Exception as exc:
            self._on_error(exc)
            return None
        show_info(f"stemstrain: saved {', '.join(self.results)} to {written}")
        self._status.value = f"saved to {written}"
        return written


#: characters an input-layer choice shows; longer layer names (microscope file names often
#: run to 60+) are elided instead of widening the dock over the canvas
COMBO_CHARS = 28
#: lines of the status label shown
STATUS_LINES = 3


def _narrow_combo(combo: Any) -> None:
    """Keep a layer ComboBox at ``COMBO_CHARS`` characters whatever its choices' lengths."""
    from qtpy.QtWidgets import QComboBox, QSizePolicy

    native = combo.native
    native.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    native.setMinimumContentsLength(COMBO_CHARS)
    native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    native.setToolTip("the layer the analysis runs on")


def _wrap_label(label: Any) -> None:
    """Let a status label wrap inside the dock instead of widening it (long one-line errors).

    Three lines are shown from the top (a saved path or an error's start is readable, not
    clipped in the middle); errors and warnings also go to a notification, whole.
    """
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QSizePolicy

    native = label.native
    native.setWordWrap(True)
    native.setMinimumWidth(0)
    native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    native.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    native.setMinimumHeight(STATUS_LINES * native.fontMetrics().lineSpacing() + 4)


def _result_warnings(results: dict, raised: Any = ()) -> list[str]:
    """Collect the results' quality warnings and the run's ``UserWarning``s, no repeats.

    ``result.warnings`` of each result first, then ``raised`` (the run's warnings), in order.
    """
    seen: list[str] = []
    texts = [t for res in results.values() for t in getattr(res, "warnings", None) or ()]
    for text in map(str, [*texts, *raised]):
        # the same doubt raised as "gpa: <text>" and stored as "<text>" is told once
        if not any(text.endswith(old) or old.endswith(text) for old in seen):
            seen.append(text)
    return seen
