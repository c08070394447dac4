"""EELS widget: O/TM ratio of a line scan or spectrum image (:func:`stemstrain.o_tm_ratio`)."""

from __future__ import annotations

import warnings
from collections.abc import Generator
from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, FloatSpinBox, SpinBox

from ._base import AnalysisWidget, Job
from ._canvas import PlotCanvas
from ._layers import set_image, show_scale_bar

__all__ = ["EELSWidget", "reference_mask"]


def reference_mask(nav_shape: tuple[int, ...], start: int, stop: int) -> np.ndarray | None:
    """Boolean mask over the navigation axes selecting positions ``start <= i < stop``.

    For a line scan the indices are positions; for a spectrum image they are rows.
    ``stop <= start`` means no reference (absolute quantification).
    """
    if stop <= start:
        return None
    mask = np.zeros(nav_shape, dtype=bool)
    mask[start:stop] = True
    return mask


class EELSWidget(AnalysisWidget):
    """O/TM ratio from the O K and TM L2,3 edges of an EELS line scan or spectrum image.

    Choose the transition metal and method, the widths of the pre-edge background
    and integration windows (``pre_ev``, ``width_ev``), the surface position of a line
    scan and, optionally, a reference range of positions with a known ratio (k-factor
    calibration). The ratio profile with its 1 sigma band is plotted in
    the dock; a spectrum image also gets a ratio map layer.
    """

    title = "EELS O/TM"
    input_kinds = ("eels",)

    def _parameter_widgets(self) -> list[Any]:
        self._tm = ComboBox(label="transition metal (L2,3 edge)",
                            choices=["Co", "Ni", "Mn", "Fe", "Ti", "V", "Cr", "Cu"],
                            value="Co")  # fmt: skip
        self._method = ComboBox(label="method", choices=["integration", "model"],
                                value="integration")  # fmt: skip
        self._background_ev = FloatSpinBox(label="pre-edge background window (eV)",
                                           min=5.0, max=200.0, step=5.0, value=60.0)  # fmt: skip
        self._window_ev = FloatSpinBox(label="integration window (eV)",
                                       min=5.0, max=200.0, step=5.0, value=50.0)  # fmt: skip
        self._surface = SpinBox(label="surface position (-1 = detect)", min=-1, max=100000,
                                value=-1)  # fmt: skip
        self._ref_start = SpinBox(label="reference from position", min=0, max=100000, value=0)
        self._ref_stop = SpinBox(label="reference to (0 = none)", min=0, max=100000, value=0)
        self._ref_ratio = FloatSpinBox(label="reference O/TM", min=0.0, max=10.0, step=0.1,
                                       value=2.0)  # fmt: skip
        return [self._tm, self._method, self._background_ev, self._window_ev, self._surface,
                self._ref_start, self._ref_stop, self._ref_ratio]  # fmt: skip

    def _output_widgets(self) -> list[Any]:
        self.plot = PlotCanvas()
        return [self.plot.widget]

    def _prepare(self, layer: Any) -> Job:
        from stemstrain.errors import ConfigError  # noqa: PLC0415

        signal = self.signal_of(layer)
        if signal is None:
            raise ConfigError(f"EELS: layer {layer.name!r} carries no spectra; open the file again")
        nav_shape = tuple(signal.data.shape[:-1])
        ref = reference_mask(nav_shape, int(self._ref_start.value), int(self._ref_stop.value))
        options = {"tm": self._tm.value, "method": self._method.value}
        if ref is not None:
            options.update(reference=ref, reference_ratio=float(self._ref_ratio.value))
        options.update(pre_ev=float(self._background_ev.value),
                       width_ev=float(self._window_ev.value))  # fmt: skip
        if int(self._surface.value) >= 0:
            options["surface"] = int(self._surface.value)
        step = _nav_step(signal)
        return {"signal": signal, "options": options, "step_nm": step, "pixel_size": step,
                "nav_shape": nav_shape, "layer_scale": tuple(layer.scale[-2:])}  # fmt: skip

    def _compute(self, job: Job) -> Generator[tuple[int, int, str], None, dict]:
        import stemstrain as ss  # noqa: PLC0415

        yield 0, 1, "EELS: quantifying O K and TM L2,3 edges..."
        return {"eels": ss.o_tm_ratio(job["signal"], **job["options"])}

    def _show(self, results: dict, job: Job) -> None:
        res = results["eels"]
        ratio = np.asarray(res.ratio, dtype=float)
        sigma = np.asarray(res.uncertainty, dtype=float)
        shown = ratio if ratio.ndim == 2 else ratio[np.newaxis, :]  # a line scan: one row
        set_image(self.viewer, shown, "O/TM ratio", pixel_size=job["pixel_size"], group="eels",
                  colormap="viridis", scale=job["layer_scale"] if ratio.ndim == 1 else None)
        show_scale_bar(self.viewer)
        if ratio.ndim == 2:  # the dock plot shows the column profile of a spectrum image
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN (vacuum) columns
                ratio, sigma = np.nanmean(ratio, axis=0), np.sqrt(np.nanmean(sigma**2, axis=0))
        self.plot_profile(ratio, sigma, getattr(res, "distance_nm", None), job)

    def plot_profile(self, ratio: np.ndarray, sigma: np.ndarray, distance: Any, job: Job) -> None:
        """Ratio against distance (nm) with the 1 sigma band, in the dock."""
        ax = self.plot.clear()
        if distance is not None and np.size(distance) == ratio.size:
            x, xlabel = np.asarray(distance, dtype=float), "distance from surface (nm)"
        elif job.get("step_nm"):
            x, xlabel = np.arange(ratio.size) * job["step_nm"], "position (nm)"
        else:
            x, xlabel = np.arange(ratio.size, dtype=float), "position (index)"
        ax.fill_between(x, ratio - sigma, ratio + sigma, color="tab:blue", alpha=0.3,
                        label="±1σ")  # fmt: skip
        ax.plot(x, ratio, "o-", color="tab:blue", ms=3, label=f"O/{job['options']['tm']}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("O/TM atomic ratio")
        ax.legend(loc="best", fontsize=8)
        self.plot.draw()


def _nav_step(signal: Any) -> float | None:
    from .._reader import _axis_nm  # noqa: PLC0415

    axes = list(signal.axes_manager.navigation_axes)
    if not axes:
        return None
    step, unit = _axis_nm(axes[0])
    return step if unit == "nm" else None
