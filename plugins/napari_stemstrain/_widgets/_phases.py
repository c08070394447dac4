"""Phase-map widget: layered / O1 / spinel / rock salt / C2/m labels, surface layers, voids."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
from magicgui.widgets import Label

from ._base import AnalysisWidget, Job
from ._layers import set_labels, set_points, show_scale_bar

__all__ = ["PhasesWidget", "PHASE_LAYER_COLORS"]

#: PhaseResult.label_map code -> colour (0 vacuum transparent)
PHASE_LAYER_COLORS = {
    1: "royalblue",
    2: "lightskyblue",
    3: "orange",
    4: "red",
    5: "green",
    6: "lightgray",
    255: "white",
}
#: PhaseResult.grain_map grain -> colour (0 off the crystal transparent)
GRAIN_LAYER_COLORS = {1: "magenta", 2: "cyan", 3: "yellow", 4: "lime"}


def phase_summary(result: Any) -> str:
    """One line: phase fractions (%), surface-layer means (nm), grains, void count."""
    fr = result.fractions
    parts = [f"{p} {100 * fr.get(p, 0):.1f} %" for p in result.phases if fr.get(p, 0) > 0.0005]
    if fr.get("unknown", 0) > 0.0005:
        parts.append(f"unknown {100 * fr['unknown']:.1f} %")
    surf = [
        f"{k} {v['mean_nm']:.2f} nm" for k, v in result.surface_summary.items() if v["mean_nm"] > 0
    ]
    text = "  ".join(parts) or "-"
    if surf:
        text += "; surface " + ", ".join(surf)
    grains = getattr(result, "grains", None)
    if grains is not None and len(grains) > 1:
        turns = ", ".join(f"{t:.0f}" for t in grains.turn_deg.iloc[1:])
        text += f"; {len(grains)} grains (turned {turns} deg from grain 1)"
    return f"{text}; {len(result.voids)} voids"


class PhasesWidget(AnalysisWidget):
    """Phase map of a HAADF image: calls :func:`stemstrain.phase_map`.

    Shows a Labels layer of the phase codes (layered blue, O1 light blue, spinel orange,
    rock salt red, C2/m green, amorphous grey, unknown white), with several grains a
    "grains" Labels layer (``grain_map``), the voids as a Points layer and the fractions /
    surface-layer thicknesses (and the grains' turns) in the widget.
    """

    title = "phases"

    def _parameter_widgets(self) -> list[Any]:
        return []

    def _output_widgets(self) -> list[Any]:
        self._summary = Label(value="-", label="phases")
        return [self._summary]

    def _prepare(self, layer: Any) -> Job:
        image, px = self.image_of(layer)
        return {"image": image, "pixel_size": px}

    def _compute(self, job: Job) -> Generator[tuple[int, int, str], None, dict]:
        import stemstrain as ss

        yield 0, 1, "phases: local lattice vs phase models..."
        return {"phases": ss.phase_map(job["image"], pixel_size=job["pixel_size"])}

    def _show(self, results: dict, job: Job) -> None:
        res = results["phases"]
        px = job["pixel_size"]
        set_labels(
            self.viewer,
            res.label_map,
            "phases",
            pixel_size=px,
            group="phases",
            colors=PHASE_LAYER_COLORS,
        )
        if len(res.grains) > 1:  # one lattice frame per grain: show which pixel is in which
            set_labels(
                self.viewer,
                res.grain_map,
                "grains",
                pixel_size=px,
                group="phases",
                colors=GRAIN_LAYER_COLORS,
                opacity=0.25,
            )
        if len(res.voids):
            rc = np.stack([res.voids.y.to_numpy(float), res.voids.x.to_numpy(float)], axis=1)
            set_points(
                self.viewer,
                rc,
                "voids",
                pixel_size=px,
                group="phases",
                features=res.voids,
                face_color="transparent",
                border_color="yellow",
                size_px=float(np.median(res.voids.diameter_nm)) / (px or 1.0),
            )
        self._summary.value = phase_summary(res)
        show_scale_bar(self.viewer)
