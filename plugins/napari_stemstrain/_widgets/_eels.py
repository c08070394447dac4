"""EELS widget: O/TM ratio, TM valence or O K pre-peak of a line scan or spectrum image.

Calls :func:`stemstrain.o_tm_ratio`, :func:`stemstrain.tm_valence`,
:func:`stemstrain.o_prepeak_ratio` and, for the dock profile of a map,
:func:`stemstrain.mean_profile` (the 1 sigma of the column mean, not the per-pixel RMS).
"""

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


#: quantity shown -> (result key, layer name, value field, axis label)
QUANTITIES = {
    "O/TM ratio": ("eels", "O/TM ratio", "ratio", "O/TM atomic ratio"),
    "TM valence": ("eels_valence", "TM valence", "valence", "TM valence"),
    "O K pre-peak": ("eels_prepeak", "O K pre-peak ratio", "ratio", "O K pre-peak / main edge"),
}


class EELSWidget(AnalysisWidget):
    """O/TM ratio, TM valence or O K pre-peak of an EELS line scan or spectrum image.

    O/TM: choose the transition metal and method, the widths of the pre-edge background
    and integration windows (``pre_ev``, ``width_ev``; integration method), the surface
    position of a line scan and, optionally, a reference range of positions with a known
    ratio (k-factor calibration). Valence: the transition metal and the energy
    self-calibration (O K onset, none). The profile with its 1 sigma band is plotted in
    the dock (a map: the column mean and the 1 sigma of that mean); a spectrum image also
    gets a map layer.
    """

    title = "EELS O/TM"
    input_kinds = ("eels",)

    def _parameter_widgets(self) -> list[Any]:
        self._quantity = ComboBox(label="quantity", choices=list(QUANTITIES),
                                  value="O/TM ratio")  # fmt: skip
        self._tm = ComboBox(label="transition metal (L2,3 edge)",
                            choices=["Co", "Ni", "Mn", "Fe", "Ti", "V", "Cr", "Cu"],
                            value="Co")  # fmt: skip
        self._method = ComboBox(label="O/TM method", choices=["model", "integration", "exspy"],
                                value="model")  # fmt: skip
        self._energy_ref = ComboBox(label="valence energy reference",
                                    choices=["auto", "O_K", "none"], value="auto")  # fmt: skip
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
        return [self._quantity, self._tm, self._method, self._energy_ref, self._background_ev,
                self._window_ev, self._surface, self._ref_start, self._ref_stop,
                self._ref_ratio]  # fmt: skip

    def _output_widgets(self) -> list[Any]:
        self.plot = PlotCanvas()
        return [self.plot.widget]

    def _prepare(self, layer: Any) -> Job:
        from stemstrain.errors import ConfigError

        signal = self.signal_of(layer)
        if signal is None:
            raise ConfigError(f"EELS: layer {layer.name!r} carries no spectra; open the file again")
        nav_shape = tuple(signal.data.shape[:-1])
        self._check_positions(nav_shape)
        ref = reference_mask(nav_shape, int(self._ref_start.value), int(self._ref_stop.value))
        options = {"tm": self._tm.value, "method": self._method.value}
        if ref is not None:
            options.update(reference=ref, reference_ratio=float(self._ref_ratio.value))
        options.update(pre_ev=float(self._background_ev.value),
                       width_ev=float(self._window_ev.value))  # fmt: skip
        if int(self._surface.value) >= 0:
            options["surface"] = int(self._surface.value)
        step = _nav_step(signal)
        ref_e = self._energy_ref.value
        return {"signal": signal, "options": options, "step_nm": step, "pixel_size": step,
                "nav_shape": nav_shape, "layer_scale": tuple(layer.scale[-2:]),
                "quantity": self._quantity.value,
                "valence_options": {"tm": self._tm.value,
                                    "energy_reference": None if ref_e == "auto" else ref_e},
                }  # fmt: skip

    def _check_positions(self, nav_shape: tuple[int, ...]) -> None:
        """Refuse a surface or reference position that is not on the scan (one line)."""
        from stemstrain.errors import ConfigError

        n = nav_shape[0] if nav_shape else 1
        where = "positions" if len(nav_shape) == 1 else "rows" if nav_shape else "spectra"
        surface, start, stop = (int(w.value) for w in (self._surface, self._ref_start,
                                                        self._ref_stop))  # fmt: skip
        if surface >= n:
            raise ConfigError(f"EELS: surface position {surface} is off the scan ({n} {where}: "
                              f"0 to {n - 1}; -1 = detect)")  # fmt: skip
        if stop > start and (start >= n or stop > n):
            raise ConfigError(f"EELS: reference {start} to {stop} is off the scan ({n} {where}; "
                              f"'to' is at most {n})")  # fmt: skip
        if stop > start and float(self._ref_ratio.value) <= 0:
            raise ConfigError("EELS: the reference O/TM ratio must be > 0")

    def _compute(self, job: Job) -> Generator[tuple[int, int, str], None, dict]:
        import stemstrain as ss

        quantity = job.get("quantity", "O/TM ratio")
        yield 0, 1, f"EELS: {quantity}..."
        if quantity == "TM valence":
            return {"eels_valence": ss.tm_valence(job["signal"], **job["valence_options"])}
        if quantity == "O K pre-peak":
            return {"eels_prepeak": ss.o_prepeak_ratio(job["signal"])}
        return {"eels": ss.o_tm_ratio(job["signal"], **job["options"])}

    def _show(self, results: dict, job: Job) -> None:
        import stemstrain as ss

        key, layer_name, field, label = QUANTITIES[job.get("quantity", "O/TM ratio")]
        res = results[key]
        value = np.asarray(getattr(res, field), dtype=float)
        if not np.isfinite(value).any():  # e.g. the chosen TM has no edge in these spectra
            job.setdefault("warnings", []).append(
                f"no finite {layer_name} at any position: is {self._tm.value} (the chosen "
                "transition metal) in these spectra, with its edge in the energy range?"
            )
        shown = value if value.ndim == 2 else np.atleast_1d(value)[np.newaxis, :]
        set_image(
            self.viewer,
            shown,
            layer_name,
            pixel_size=job["pixel_size"],
            group="eels",
            colormap="viridis",
            scale=job["layer_scale"] if value.ndim < 2 else None,
        )
        show_scale_bar(self.viewer)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN (vacuum) columns
            # a map: the column mean and the 1 sigma of that mean (library, not the widget)
            mean, sigma, _ = ss.mean_profile(res, axis=0)
        if value.size == 1:  # one spectrum: a profile would be one dot; show the spectrum
            self.plot_spectrum(job["signal"], float(np.ravel(mean)[0]),
                               float(np.ravel(sigma)[0]), job, label=label)  # fmt: skip
            return
        self.plot_profile(
            np.atleast_1d(mean),
            np.atleast_1d(sigma),
            getattr(res, "distance_nm", None),
            job,
            label=label,
        )

    def plot_spectrum(self, signal: Any, value: float, sigma: float, job: Job, *,
                      label: str) -> None:  # fmt: skip
        """Plot a single spectrum in the dock, titled with the quantity and its 1 sigma."""
        axis = signal.axes_manager.signal_axes[0]
        counts = np.ravel(np.asarray(signal.data, dtype=float))
        ax = self.plot.clear()
        ax.plot(np.asarray(axis.axis, dtype=float), counts, color="k", lw=0.8)
        ax.set_xlabel(f"energy loss ({axis.units or 'eV'})")
        ax.set_ylabel("counts")
        name = f"O/{job['options']['tm']}" if label.startswith("O/TM") else label
        ax.set_title(f"{name} = {value:.3g} ± {sigma:.2g} (1σ)", fontsize=9)
        self.plot.draw()

    def plot_profile(
        self,
        ratio: np.ndarray,
        sigma: np.ndarray,
        distance: Any,
        job: Job,
        *,
        label: str = "O/TM atomic ratio",
    ) -> None:
        """Value against distance (nm) with the 1 sigma band, in the dock."""
        ax = self.plot.clear()
        if distance is not None and np.size(distance) == ratio.size:
            x, xlabel = np.asarray(distance, dtype=float), "distance from surface (nm)"
        elif job.get("step_nm"):
            x, xlabel = np.arange(ratio.size) * job["step_nm"], "position (nm)"
        else:
            x, xlabel = np.arange(ratio.size, dtype=float), "position (index)"
        ax.fill_between(x, ratio - sigma, ratio + sigma, color="tab:blue", alpha=0.3,
                        label="±1σ")  # fmt: skip
        name = f"O/{job['options']['tm']}" if label.startswith("O/TM") else label
        ax.plot(x, ratio, "o-", color="tab:blue", ms=3, label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        ax.legend(loc="best", fontsize=8)
        self.plot.draw()


def _nav_step(signal: Any) -> float | None:
    from .._reader import _axis_nm

    axes = list(signal.axes_manager.navigation_axes)
    if not axes:
        return None
    step, unit = _axis_nm(axes[0])
    return step if unit == "nm" else None
