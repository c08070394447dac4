"""The five analysis widgets in a real (Xvfb) napari viewer.

Each test opens data through the plugin (sample contribution or reader), runs the
widget's compute path synchronously (``run_sync``: the same generator the worker
thread runs), and checks the layers it made against the result and, where the
data is synthetic, against the generator's analytic truth.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from _napari_helpers import canvas_std, capture_notifications

pytestmark = pytest.mark.napari

PLUGIN = "stemstrain"


def _assert_strain_layer(layer, pixel_size, *, show=False):
    assert layer.colormap.name == "RdBu_r"
    lo, hi = layer.contrast_limits
    assert lo == pytest.approx(-hi) and hi > 0
    assert tuple(layer.scale) == pytest.approx((pixel_size, pixel_size))
    assert [str(u) for u in layer.units] == ["nanometer", "nanometer"]
    if not layer.visible:  # colour bars are made when a map is shown
        assert not layer.colorbar.visible
        if not show:
            return
        layer.visible = True
    assert layer.colorbar.visible


@functools.lru_cache(maxsize=1)
def _strained_lattice():
    """Left half unstrained, right half e_tt = exx = +2 % (layers along x)."""
    from stemstrain.synthetic import fields, layered_oxide

    step = fields.strain_step(0.02, 0.0, angle_deg=0.0, position_nm=0.0, width_nm=0.3)
    return layered_oxide((384, 384), pixel_size=0.02, displacement=step, seed=3)


def test_gpa_widget_picked_spots_reference_and_strain_truth(viewer, tmp_path):
    from napari_stemstrain._widgets import GPAWidget
    from napari_stemstrain._widgets._gpa import FROM_POINTS, REFERENCE_LAYER, fft_pixels_from_g

    from stemstrain import read_results
    from stemstrain.geometric_phase._gvectors import find_g_vectors

    lat = _strained_lattice()
    viewer.add_image(lat.image, name="strained", scale=(0.02, 0.02), units=("nm", "nm"))
    widget = GPAWidget(viewer)
    viewer.window.add_dock_widget(widget, name="GPA")
    assert widget._input.value.name == "strained"
    widget.show_fft(wait=True)
    assert viewer.layers["FFT (log power)"].data.shape == lat.image.shape
    assert widget._g_mode.value == FROM_POINTS
    g_true = find_g_vectors(lat.image, 0.02)[0] / 0.02  # (2, 2) rows (gx, gy), 1/nm
    # the automatic choice is shown as the two spots before any run
    np.testing.assert_allclose(
        viewer.layers["g spots"].data, fft_pixels_from_g(g_true, lat.image.shape, 0.02), atol=1e-6
    )
    # "click" the two reflections, rounded to FFT pixels as a user's clicks would be
    viewer.layers["g spots"].data = fft_pixels_from_g(g_true, lat.image.shape, 0.02).round()
    widget.add_reference_layer()
    # reference rectangle over the unstrained left part (data coords of the shapes layer)
    viewer.layers[REFERENCE_LAYER].add_rectangles(np.array([[40, 20], [340, 150]]))
    results = widget.run_sync()
    assert set(results) == {"gpa", "dislocations"}
    # the FFT (same extent as the image) is hidden after a run: its speckle would show
    # through the maps' transparent NaN border; the refined g rings go with it
    assert not viewer.layers["FFT (log power)"].visible and not viewer.layers["g spots"].visible
    result = results["gpa"]
    # refined g within one FFT pixel (1 / (384 * 0.02 nm)) of the picked reflections
    d = np.abs(np.asarray(result.g_vectors)[:, None, :] - g_true[None]).max(-1).min(-1)
    assert np.all(d < 1 / (384 * 0.02))
    for name in ("exx", "eyy", "exy", "rotation", "e_nn", "e_tt"):
        layer = viewer.layers[f"GPA {name}"]
        _assert_strain_layer(layer, 0.02, show=name == "e_nn")
        np.testing.assert_array_equal(layer.data, np.asarray(getattr(result, name), np.float32))
    exx = viewer.layers["GPA exx"].data
    # truth: 0 in the reference half, +0.020 (Lagrangian) well inside the strained half
    assert abs(np.nanmedian(exx[60:320, 40:140])) < 2e-3
    assert np.nanmedian(exx[60:320, 260:340]) == pytest.approx(0.02, abs=3e-3)
    assert len(viewer.layers["g spots"].data) == 2
    assert len(viewer.layers["dislocation cores"].data) == 0  # none in this lattice
    assert viewer.canvas.overlays["scale_bar"].visible
    assert canvas_std(viewer) > 0
    saved = widget.save(path=tmp_path / "out" / "results.h5")
    on_disk = read_results(saved)
    np.testing.assert_allclose(on_disk["gpa"]["exx"], result.exx, equal_nan=True)
    assert "dislocations" in on_disk


def test_gpa_user_errors_become_notifications(viewer, monkeypatch):
    from napari_stemstrain._widgets import GPAWidget

    errors = capture_notifications(monkeypatch, "error")
    # opened as napari does from the Plugins menu (npe2 contribution, viewer injected)
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "GPA strain")
    assert isinstance(widget, GPAWidget)  # (napari passes a public-only proxy of the viewer)
    assert widget.run() is None  # no image layer yet
    viewer.add_image(np.zeros((64, 64), np.float32), scale=(0.02, 0.02), units=("nm", "nm"))
    widget._use_reference.value = True  # but no rectangle drawn
    assert widget.run() is None
    widget._use_reference.value = False
    widget._g_mode.value = "two spots in 'g spots'"  # but no spots clicked
    assert widget.run() is None
    assert len(errors) == 3
    assert "no image layer" in errors[0] and "rectangle" in errors[1] and "two spots" in errors[2]


def test_long_error_wraps_in_the_dock_and_result_warnings_are_notified(viewer, monkeypatch):
    """A one-line error of 3000 characters must not widen the dock (the image canvas stays)."""
    from dataclasses import dataclass

    from qtpy.QtCore import Qt

    errors = capture_notifications(monkeypatch, "error")
    warned = capture_notifications(monkeypatch, "warning")
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "GPA strain")
    width_before = widget.native.sizeHint().width()
    widget._on_error(ValueError("reference=None but " + "most of the image is weak " * 120))
    assert errors and len(errors[0]) > 3000
    assert widget._status.native.wordWrap()
    # three lines high, read from its first line (not clipped in the middle)
    status = widget._status.native
    assert status.minimumHeight() >= 3 * status.fontMetrics().height()
    assert status.alignment() & Qt.AlignmentFlag.AlignTop
    assert widget.native.sizeHint().width() <= max(width_before, 600)

    @dataclass(frozen=True)
    class _Doubtful:
        warnings: tuple = ("only 40 % of the crystal is valid", "g near Nyquist")

    monkeypatch.setattr(type(widget), "_show", lambda self, results, job: None)  # reporting only
    widget._on_returned({"gpa": _Doubtful()})
    assert warned == [
        "stemstrain GPA: only 40 % of the crystal is valid",
        "stemstrain GPA: g near Nyquist",
    ]
    assert "2 warning(s)" in widget._status.value


def test_gpa_worker_thread_runs_and_cancels(viewer, request, monkeypatch):
    from napari_stemstrain._widgets import GPAWidget

    qtbot = request.getfixturevalue("qtbot")  # after `viewer`: no Qt without a display

    errors = capture_notifications(monkeypatch, "error")
    lat = _strained_lattice()
    viewer.add_image(lat.image, name="img", scale=(0.02, 0.02), units=("nm", "nm"))
    # the Plugins-menu path: napari builds the widget with a public-only viewer proxy
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "GPA strain")
    assert isinstance(widget, GPAWidget)
    assert widget.show_fft() is not None  # FFT + automatic spots computed in a thread
    qtbot.waitUntil(lambda: "g spots" in viewer.layers, timeout=60000)
    assert len(viewer.layers["g spots"].data) == 2
    widget._g_mode.value = "auto"
    worker = widget.run()
    assert worker is not None and widget._cancel_button.enabled
    qtbot.waitUntil(lambda: widget._worker is None, timeout=60000)  # finished handled
    assert "GPA exx" in viewer.layers and widget._run_button.enabled
    assert widget._status.value.startswith("done")
    viewer.layers.remove("GPA exx")
    worker = widget.run()
    widget.cancel()  # takes effect at the first step boundary
    qtbot.waitUntil(lambda: widget._worker is None, timeout=60000)  # finished handled
    assert widget._status.value == "cancelled" and "GPA exx" not in viewer.layers
    # an analysis error inside the worker becomes a notification
    viewer.add_image(
        np.random.default_rng(0).random((64, 64)),
        name="noise",
        scale=(0.02, 0.02),
        units=("nm", "nm"),
    )
    widget._input.value = viewer.layers["noise"]
    widget._g_mode.value = "auto"
    worker = widget.run()
    qtbot.waitUntil(lambda: widget._worker is None, timeout=60000)  # finished handled
    assert errors and "GPA" in errors[-1]


def test_haadf_sample_gpa_columns_stacking_against_truth(viewer):
    """The HAADF sample through GPA, Columns and Stacking, checked against its truth file."""
    import json

    from napari_stemstrain._sample_data import sample_dir
    from napari_stemstrain._widgets import ColumnsWidget, GPAWidget, StackingWidget

    truth_file = sample_dir() / "truth" / "haadf_layered_oxide.json"
    truth = json.loads(truth_file.read_text()) if truth_file.is_file() else None
    [image] = viewer.open_sample(PLUGIN, "haadf_layered_oxide")
    px = float(image.scale[-1])
    assert [str(u) for u in image.units] == ["nanometer", "nanometer"]
    gpa = GPAWidget(viewer)
    box = gpa.propose_reference(wait=True)
    assert gpa._use_reference.value and len(viewer.layers["GPA reference"].data) == 1
    result = gpa.run_sync()["gpa"]
    assert tuple(int(v) for v in result.reference) == tuple(int(v) for v in box)
    _assert_strain_layer(viewer.layers["GPA e_nn"], px)
    cores = viewer.layers["dislocation cores"]
    burgers = viewer.layers["Burgers vectors"]
    assert len(cores.data) == len(burgers.data) >= 1
    columns = ColumnsWidget(viewer)
    columns._curvature.value = columns._spacing.value = False  # covered on a small lattice
    cols = columns.run_sync()["columns"].table
    points = viewer.layers["columns"]
    np.testing.assert_allclose(points.data, cols[["y", "x"]].to_numpy())
    assert tuple(points.scale) == pytest.approx((px, px))
    stacking = StackingWidget(viewer)
    stacking._occupancy.value = False
    fractions = stacking.run_sync()["stacking"].fractions
    assert "O1" in stacking._fractions.value
    assert canvas_std(viewer) > 0
    if truth is None:
        pytest.skip(f"no truth file {truth_file}; layers checked, numbers not")
    maps = np.load(sample_dir() / "truth" / "haadf_layered_oxide_strain.npz")  # every 4 px
    r0, r1, c0, c1 = (int(v) // 4 for v in box)
    for name in ("exx", "eyy", "exy"):  # the proposed reference is nearly unstrained
        assert np.nanmax(np.abs(maps[name][r0:r1, c0:c1])) < 0.005, name
    core = truth["dislocation"]
    d = np.hypot(cores.data[:, 0] - core["core_y_px"], cores.data[:, 1] - core["core_x_px"])
    i = int(np.argmin(d))
    assert d[i] < 10  # px
    b_px = np.hypot(*burgers.data[i, 1])  # drawn as the Burgers vector in px
    assert b_px * px == pytest.approx(core["b_nm"], abs=0.03)
    assert len(cols) == pytest.approx(truth["n_tm_columns_inside"], rel=0.05)
    assert fractions["O1"] == pytest.approx(truth["label_fractions"]["O1"], abs=0.02)


def test_columns_curvature_spacing_occupancy_on_bent_lattice(viewer):
    """Bent lattice (R = 15 nm) with 30 % TM on Li sites: every map against its truth."""
    from napari_stemstrain._widgets import ColumnsWidget, StackingWidget

    from stemstrain.synthetic import layered_oxide

    lat = layered_oxide((256, 256), pixel_size=0.02, bend_radius_nm=15.0, li_occupancy=0.3, seed=5)
    viewer.add_image(lat.image, name="bent", scale=(0.02, 0.02), units=("nm", "nm"))
    widget = ColumnsWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Columns")
    results = widget.run_sync()
    found = viewer.layers["columns"].data  # (row, col) px
    truth = lat.tm_columns()[["y", "x"]].to_numpy()
    d = np.hypot(*(truth[:, None, :] - found[None, :, :]).transpose(2, 0, 1)).min(axis=1)
    assert np.median(d) < 0.2 and np.mean(d < 0.5) > 0.95  # px
    curv = viewer.layers["curvature (1/nm)"]
    assert curv.colormap.name == "RdBu_r" and curv.colorbar.visible
    assert curv.contrast_limits[0] == pytest.approx(-curv.contrast_limits[1])
    assert np.nanmedian(curv.data) == pytest.approx(1 / 15.0, rel=0.15)  # 1/(R - n) ~ 1/R
    x, y = results["curvature"].max_location
    np.testing.assert_allclose(viewer.layers["max |curvature|"].data, [[y, x]])
    spacing = viewer.layers["layer spacing (nm)"].data
    assert np.nanmedian(spacing) == pytest.approx(0.468, abs=0.01)  # c_spacing
    stacking = StackingWidget(viewer)
    out = stacking.run_sync()
    labels = viewer.layers["stacking (O3 blue, O1 red, other yellow)"]
    assert tuple(labels.scale) == pytest.approx((0.02, 0.02))
    assert out["stacking"].fractions["O3"] > 0.9 and out["stacking"].fractions["O1"] < 0.02
    occ = viewer.layers["Li-layer occupancy"]
    assert occ.data.shape == lat.image.shape
    assert np.nanmedian(occ.data) == pytest.approx(0.3, abs=0.05)
    assert canvas_std(viewer) > 0


def test_eels_widget_profile_with_band(viewer):
    from napari_stemstrain._widgets import EELSWidget

    layers = viewer.open_sample(PLUGIN, "eels_linescan")
    line = layers[0]
    signal = line.metadata["stemstrain"]["signal"]
    n = signal.data.shape[0]
    widget = EELSWidget(viewer)
    viewer.window.add_dock_widget(widget, name="EELS")
    widget._ref_start.value, widget._ref_stop.value = n - 10, n
    widget._ref_ratio.value = 2.0
    widget._window_ev.value, widget._background_ev.value = 40.0, 50.0
    res = widget.run_sync()["eels"]
    assert widget._last_job["options"]["width_ev"] == 40.0
    assert widget._last_job["options"]["pre_ev"] == 50.0
    ratio = np.asarray(res.ratio, dtype=float)
    assert ratio.shape == (n,)
    row = viewer.layers["O/TM ratio"]
    np.testing.assert_allclose(row.data[0], ratio, rtol=1e-6, equal_nan=True)
    assert tuple(row.scale) == pytest.approx(tuple(line.scale))
    # k-factor calibrated on the interior (truth 2.0 there)
    assert np.nanmean(ratio[n - 10 :]) == pytest.approx(2.0, abs=0.05)
    ax = widget.plot.axes
    assert len(ax.lines) == 1 and len(ax.collections) == 1  # profile + 1 sigma band
    np.testing.assert_allclose(ax.lines[0].get_ydata(), ratio, equal_nan=True)
    band = ax.collections[0].get_paths()[0].vertices
    assert np.nanmax(band[:, 1]) >= np.nanmax(ratio)
    assert canvas_std(viewer) > 0
    # a spectrum image gives a ratio map layer (absolute quantification: no reference)
    from napari_stemstrain._reader import signal_to_layers

    from stemstrain.synthetic._eels import eels_spectrum_image

    si, si_truth = eels_spectrum_image((12, 10), pixel_size_nm=0.5)
    [(total, kwargs, _)] = signal_to_layers(si, name="si")
    si_layer = viewer.add_image(total, **kwargs)
    widget._input.value = si_layer
    widget._ref_stop.value = 0
    ratio_map = np.asarray(widget.run_sync()["eels"].ratio)
    layer = viewer.layers["O/TM ratio"]
    assert layer.data.shape == (12, 10) and tuple(layer.scale) == pytest.approx((0.5, 0.5))
    np.testing.assert_allclose(layer.data, ratio_map, rtol=1e-6, equal_nan=True)
    inside = np.isfinite(si_truth["ratio"]) & np.isfinite(ratio_map)
    assert np.median(np.abs(ratio_map[inside] - si_truth["ratio"][inside])) < 0.15


def test_viewer_open_and_eels_widget_needs_spectra(viewer, monkeypatch, tmp_path):
    import hyperspy.api as hs
    from napari_stemstrain._widgets import EELSWidget

    sig = hs.signals.Signal2D(np.ones((8, 8), np.float32))
    for ax in sig.axes_manager.signal_axes:
        ax.scale, ax.units = 0.5, "Å"  # converted to nm by the reader
    sig.save(tmp_path / "plain image.hspy")
    [layer] = viewer.open(str(tmp_path / "plain image.hspy"), plugin=PLUGIN)
    assert tuple(layer.scale) == pytest.approx((0.05, 0.05))
    assert [str(u) for u in layer.units] == ["nanometer", "nanometer"]
    errors = capture_notifications(monkeypatch, "error")
    widget = EELSWidget(viewer)
    assert widget._input.choices == ()  # a plain image is not offered to the EELS widget
    assert widget.run() is None and "no eels layer" in errors[0]


def test_fourd_widget_maps_and_pattern_under_cursor(viewer):
    from napari_stemstrain._sample_data import sample_dir
    from napari_stemstrain._widgets import FourDWidget
    from napari_stemstrain._widgets._fourd import PROBE_SAMPLE, REFERENCE_LAYER

    layers = viewer.open_sample(PLUGIN, "fourd_strain")
    vbf = layers[0]
    assert vbf.name.endswith("virtual BF") and vbf.data.ndim == 2
    widget = FourDWidget(viewer)
    viewer.window.add_dock_widget(widget, name="4D-STEM")
    assert widget._input.value is vbf
    before = widget.show_pattern(3, 4)
    assert before is not None and len(before["detected"]) >= 5 and not len(before["lattice"])
    widget._probe.value = PROBE_SAMPLE
    widget.add_reference_layer()
    scan = vbf.data.shape
    viewer.layers[REFERENCE_LAYER].add_rectangles(np.array([[0, 0], [scan[0], scan[1] // 4]]))
    res = widget.run_sync()["fourd"]
    quarter = scan[1] // 4
    assert res.reference_mask[:, :quarter].all() and not res.reference_mask[:, quarter:].any()
    for name in ("exx", "eyy", "exy", "rotation"):
        layer = viewer.layers[f"4D-STEM {name}"]
        assert layer.colormap.name == "RdBu_r" and layer.data.shape == vbf.data.shape
        assert layer.contrast_limits[0] == pytest.approx(-layer.contrast_limits[1])
        assert tuple(layer.scale) == pytest.approx(tuple(vbf.scale))
    disks = widget.show_pattern(3, 4)
    # every detected disk lies on the lattice fitted at that position (within 1 px)
    d = np.hypot(*(disks["detected"][:, None] - disks["lattice"][None]).transpose(2, 0, 1))
    assert np.median(d.min(axis=1)) < 1.0
    assert widget.show_pattern(-1, 0) is None
    # the mouse over the scan (world coords in nm) selects that pattern
    step = float(vbf.scale[-1])
    move = type("MouseEvent", (), {"position": (5 * step, 7 * step)})()
    widget._on_mouse_move(viewer, move)
    assert widget._cursor == (5, 7) and "(row 5, col 7)" in widget.plot.axes.get_title()
    assert canvas_std(viewer) > 0
    truth_file = sample_dir() / "truth" / "fourd_strain.npz"
    if not truth_file.is_file():
        pytest.skip(f"no truth file {truth_file}; layers checked, numbers not")
    truth = np.load(truth_file)
    for name in ("exx", "eyy", "exy", "rotation"):
        rms = np.sqrt(np.nanmean((viewer.layers[f"4D-STEM {name}"].data - truth[name]) ** 2))
        assert rms < 1.5e-3, name
