"""A matplotlib canvas that lives inside a magicgui Container (for dock plots)."""

from __future__ import annotations

from typing import Any

__all__ = ["PlotCanvas", "MIN_WIDTH_PX"]

#: narrowest the plot may get: axis labels and the legend stay readable in a narrow dock
MIN_WIDTH_PX = 360


class PlotCanvas:
    """A ``FigureCanvasQTAgg`` wrapped as a magicgui widget (``.widget``).

    Parameters
    ----------
    height_in : float
        Figure height in inches (width follows the dock).
    """

    def __init__(self, *, height_in: float = 2.6) -> None:
        from magicgui.widgets import Container
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(4.0, height_in), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(int(height_in * 72))
        self.canvas.setMinimumWidth(MIN_WIDTH_PX)
        self.axes = self.figure.add_subplot(1, 1, 1)
        self.widget = Container(labels=False)
        self.widget.native.layout().addWidget(self.canvas)

    def clear(self) -> Any:
        """Clear and return the axes."""
        self.axes.clear()
        return self.axes

    def draw(self, *, idle: bool = False) -> None:
        """Redraw now, or at the next idle moment (``idle=True``, for mouse-move updates)."""
        if idle:
            self.canvas.draw_idle()
        else:
            self.canvas.draw()
