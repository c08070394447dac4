"""Screenshots of the napari plugin on the sample data (docs/screenshots/*.png).

Run under a display (Xvfb in CI or headless machines)::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/make_screenshots.py

Each screenshot is the whole napari window with the widget docked, after the
widget ran on a sample (the same calls the tests make).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent


def _viewer():
    import napari

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1500, 900)
    return viewer


def _shot(viewer, name: str) -> Path:
    from qtpy.QtWidgets import QApplication

    viewer.reset_view()
    for _ in range(5):
        QApplication.processEvents()
    path = OUT / f"{name}.png"
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    print(f"wrote {path}")
    return path


def gpa(viewer) -> None:
    """GPA on the HAADF sample: strain maps, then the FFT with the refined g spots."""
    from napari_stemstrain._widgets import GPAWidget

    viewer.open_sample("stemstrain", "haadf_layered_oxide")
    widget = GPAWidget(viewer)
    viewer.window.add_dock_widget(widget, name="GPA strain")
    widget.run_sync()
    _shot(viewer, "gpa")
    for name in ("GPA exx", "dislocation cores", "Burgers vectors"):
        viewer.layers[name].visible = False
    viewer.layers["FFT (log power)"].visible = True
    viewer.layers["g spots"].visible = True
    _shot(viewer, "gpa_fft_spots")


def columns(viewer) -> None:
    """Columns coloured by layer over the curvature map of the HAADF sample."""
    from napari_stemstrain._widgets import ColumnsWidget

    viewer.open_sample("stemstrain", "haadf_layered_oxide")
    widget = ColumnsWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Columns and curvature")
    widget.run_sync()
    viewer.layers["curvature (1/nm)"].opacity = 0.7
    _shot(viewer, "columns_curvature")


def stacking(viewer) -> None:
    """O3/O1/other labels and fractions of the HAADF sample."""
    from napari_stemstrain._widgets import StackingWidget

    viewer.open_sample("stemstrain", "haadf_layered_oxide")
    widget = StackingWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Stacking")
    widget.run_sync()
    _shot(viewer, "stacking")


def eels(viewer) -> None:
    """O/Co profile of the EELS line scan with a k-factor on the interior."""
    from napari_stemstrain._widgets import EELSWidget

    layers = viewer.open_sample("stemstrain", "eels_linescan")
    n = layers[0].metadata["stemstrain"]["signal"].data.shape[0]
    widget = EELSWidget(viewer)
    viewer.window.add_dock_widget(widget, name="EELS O/TM")
    widget._ref_start.value, widget._ref_stop.value = n - 10, n
    widget.run_sync()
    _shot(viewer, "eels")


def fourd(viewer) -> None:
    """4D-STEM strain maps and the pattern under the cursor with its disks."""
    from napari_stemstrain._widgets import FourDWidget

    viewer.open_sample("stemstrain", "fourd_strain")
    widget = FourDWidget(viewer)
    viewer.window.add_dock_widget(widget, name="4D-STEM strain")
    widget.run_sync()
    shape = viewer.layers["4D-STEM exx"].data.shape
    widget.show_pattern(shape[0] // 3, shape[1] // 2)
    _shot(viewer, "fourd")


def main(names: list[str]) -> int:
    """Make the named screenshots (all by default), one fresh viewer each."""
    import napari

    jobs = {"gpa": gpa, "columns": columns, "stacking": stacking, "eels": eels, "fourd": fourd}
    for name in names or list(jobs):
        viewer = _viewer()
        try:
            jobs[name](viewer)
        finally:
            viewer.close()
    napari.Viewer.close_all()
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main(sys.argv[1:]))
