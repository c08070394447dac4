"""The plugin as a microscopist uses it: real files through the npe2 reader, Bragg vectors,
impossible widget values, the layout of the dock (session 4 fixes)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from _napari_helpers import canvas_std, capture_notifications

PLUGIN = "stemstrain"  # the npe2 manifest name (= the distribution's name)


def _bragg_lattice(scan=(6, 8), strain=0.01):
    """Bragg peaks (1/nm, centred) of a square 0.25 nm lattice; right half exx = +strain.

    A real-space stretch by (1 + e) along x shrinks the reciprocal x components by 1/(1 + e).
    """
    from stemstrain.io import BraggVectors

    h, k = np.meshgrid(np.arange(-2, 3), np.arange(-2, 3))
    hk = np.stack([h.ravel(), k.ravel()], 1).astype(float)
    rows = []
    for _r in range(scan[0]):
        row = []
        for c in range(scan[1]):
            sx = 1.0 / (1.0 + strain) if c >= scan[1] // 2 else 1.0
            xy = hk * 4.0 * np.array([sx, 1.0])
            inten = np.where((hk == 0).all(1), 100.0, 10.0)
            row.append(np.column_stack([xy, inten]))
        rows.append(row)
    return BraggVectors.from_arrays(rows, units="1/nm", origin=(0.0, 0.0))


def test_bragg_vector_file_opens_as_peak_count_map(tmp_path, monkeypatch):
    from napari_stemstrain._reader import get_reader

    bragg = _bragg_lattice()
    path = bragg.save(tmp_path / "bragg.h5")
    shown = capture_notifications(monkeypatch, "warning")
    [(counts, kwargs, kind)] = get_reader(str(path))(str(path))
    assert kind == "image" and not shown
    np.testing.assert_array_equal(counts, np.full((6, 8), 25.0))
    meta = kwargs["metadata"]["stemstrain"]
    assert meta["kind"] == "bragg" and meta["signal"].scan_shape == (6, 8)
    assert kwargs["name"] == "bragg Bragg peaks per position" and "units" not in kwargs


def test_unreadable_file_is_one_line_and_no_napari_error(tmp_path, monkeypatch):
    from napari_stemstrain._reader import read_stemstrain

    bad = tmp_path / "scan.tif"
    bad.write_bytes(b"II*\x00" + bytes(range(256)) * 8)
    shown = capture_notifications(monkeypatch, "warning")
    assert read_stemstrain(str(bad)) == [(None,)]  # napari's "nothing to show" sentinel
    assert len(shown) == 1 and shown[0].startswith("stemstrain could not open scan.tif: ")
    assert str(tmp_path) not in shown[0] and "\n" not in shown[0]


@pytest.mark.napari
def test_real_files_open_with_layer_type_and_scale_in_nm(viewer, shared_data_dir, monkeypatch):
    expected = json.loads((shared_data_dir / "expected.json").read_text())
    cases = {  # file -> (layer type, layer count)
        "openNCEM__ncempy_data__16_STOimage.emi": ("Image", 1),
        "TEMUL__PTO_supercrystal_hadjimichael__Cropped_PTO-SRO_Aligned.hspy": ("Image", 1),
        "usnistgov-hyperspy_tutorial__05EELS__LSMO_STO_linescan.hdf5": ("Image", 1),
        "rosettasciio__blockfile__test1.blo": ("Image", 2),
        "py4DSTEM__test_unit_test_data_crystal__braggdisks_cali.h5": ("Image", 1),
    }
    capture_notifications(monkeypatch, "warning")
    for name, (layer_type, n) in cases.items():
        layers = viewer.open(str(shared_data_dir / name), plugin=PLUGIN)
        assert len(layers) == n and all(type(la).__name__ == layer_type for la in layers), name
        px = expected.get(name, {}).get("scale")
        if name.endswith((".emi", ".hspy")):  # calibrated images: the file's pixel size in nm
            assert [str(u) for u in layers[0].units] == ["nanometer", "nanometer"]
            assert layers[0].scale[-1] == pytest.approx(np.ravel(px)[-1], rel=1e-4)
    sto = viewer.layers["openNCEM__ncempy_data__16_STOimage"]
    assert sto.scale[-1] == pytest.approx(0.0100127, rel=1e-4)
    bragg = viewer.layers[
        "py4DSTEM__test_unit_test_data_crystal__braggdisks_cali Bragg peaks per position"
    ]
    assert bragg.data.shape == (80, 58) and bragg.metadata["stemstrain"]["kind"] == "bragg"
    assert canvas_std(viewer) > 0


@pytest.mark.napari
def test_fourd_widget_on_bragg_vectors_recovers_the_strain_step(viewer):
    from napari_stemstrain._reader import signal_to_layers
    from napari_stemstrain._widgets import FourDWidget

    bragg = _bragg_lattice()
    for data, kwargs, _ in signal_to_layers(bragg, name="bragg"):
        viewer.add_image(data, **kwargs)
    widget = FourDWidget(viewer)
    viewer.window.add_dock_widget(widget, name="4D")
    assert widget._input.value.name == "bragg Bragg peaks per position"
    widget.add_reference_layer()
    viewer.layers["4D-STEM reference"].add_rectangles(np.array([[0, 0], [5.5, 3.5]]))
    widget._use_reference.value = True
    assert widget._pixel_size.label == "scan step (nm, 0 = from file)"
    widget._pixel_size.value = 2.0  # the file holds no scan step: the user types it
    result = widget.run_sync()["fourd"]
    layer = viewer.layers["4D-STEM exx"]
    assert tuple(layer.scale) == (2.0, 2.0) and [str(u) for u in layer.units] == ["nanometer"] * 2
    assert tuple(viewer.layers["4D-STEM reference"].scale) == (2.0, 2.0)  # still on the scan
    exx = layer.data
    np.testing.assert_allclose(exx, result.exx.astype(np.float32))
    assert np.abs(exx[:, :4]).max() < 1e-3
    np.testing.assert_allclose(exx[:, 4:], 0.01, atol=1e-3)
    assert np.abs(viewer.layers["4D-STEM eyy"].data).max() < 1e-3
    peaks = widget.show_pattern(2, 6)["detected"]  # the dock plots that position's peaks
    np.testing.assert_allclose(np.sort(peaks[:, 0]).max(), 8.0 / 1.01)


@pytest.mark.napari
def test_eels_widget_refuses_positions_off_the_scan(viewer, monkeypatch):
    from napari_stemstrain._reader import signal_to_layers
    from napari_stemstrain._widgets import EELSWidget

    from stemstrain.synthetic._eels import eels_linescan

    signal, _ = eels_linescan(n_positions=12, step_nm=0.4)
    [(line, kwargs, _)] = signal_to_layers(signal, name="ls")
    viewer.add_image(line, **kwargs)
    widget = EELSWidget(viewer)
    errors = capture_notifications(monkeypatch, "error")
    widget._surface.value = 12  # positions are 0..11
    assert widget.run() is None and "surface position 12 is off the scan" in errors[-1]
    widget._surface.value = -1
    widget._ref_start.value, widget._ref_stop.value = 8, 20
    assert widget.run() is None and "reference 8 to 20 is off the scan" in errors[-1]
    widget._ref_stop.value, widget._ref_ratio.value = 12, 0.0
    assert widget.run() is None and "must be > 0" in errors[-1]
    assert len(errors) == 3 and "O/TM ratio" not in viewer.layers


@pytest.mark.napari
def test_long_layer_names_do_not_widen_the_dock(viewer):
    from napari_stemstrain._widgets import GPAWidget

    name = "TEMUL__PTO_supercrystal_hadjimichael__Cropped_PTO-SRO_Aligned_and_more_" * 2
    viewer.add_image(np.zeros((32, 32), np.float32), name=name)
    widget = GPAWidget(viewer)
    assert widget._input.value.name == name
    width = widget._input.native.sizeHint().width()
    assert width < 400, width  # ~28 characters, not the 140 of the name


@pytest.mark.napari
def test_pixel_size_field_calibrates_an_uncalibrated_image(viewer):
    from napari_stemstrain._widgets import GPAWidget
    from napari_stemstrain._widgets._gpa import REFERENCE_LAYER

    from stemstrain.synthetic import layered_oxide

    lat = layered_oxide((192, 192), pixel_size=0.02, seed=1)
    viewer.add_image(lat.image, name="raw")  # as an uncalibrated .tif opens: pixels
    viewer.add_image(lat.image, name="calibrated", scale=(0.025, 0.025), units=("nm", "nm"))
    widget = GPAWidget(viewer)
    widget._input.value = viewer.layers["calibrated"]
    assert widget._pixel_size.value == pytest.approx(0.025)  # the file's value is shown
    widget._input.value = viewer.layers["raw"]
    assert widget._pixel_size.value == 0.0
    widget._dislocations.value = False
    shapes = widget.add_reference_layer()  # drawn before the calibration, in pixels
    shapes.add_rectangles(np.array([[20, 20], [120, 120]]))
    widget._pixel_size.value = 0.02
    raw = viewer.layers["raw"]
    assert tuple(raw.scale) == pytest.approx((0.02, 0.02))
    assert [str(u) for u in raw.units] == ["nanometer", "nanometer"]
    assert tuple(viewer.layers[REFERENCE_LAYER].scale) == pytest.approx((0.02, 0.02))
    result = widget.run_sync()["gpa"]
    exx = viewer.layers["GPA exx"]
    assert tuple(exx.scale) == pytest.approx((0.02, 0.02))
    # g in 1/nm with the typed pixel size: the generator's lattice, no strain
    # each |g| (1/nm) is a reflection (h / a, k / c) of the generator's cell: a 0.244 nm in
    # plane, c 0.468 nm between layers (in 1/px it would be 50 x smaller)
    h, k = np.meshgrid(np.arange(-2, 3), np.arange(-2, 3))
    allowed = np.hypot(h / 0.244, k / 0.468).ravel()
    for g in np.linalg.norm(np.asarray(result.g_vectors), axis=1):
        assert np.min(np.abs(allowed - g) / g) < 0.03, g
    assert np.nanmax(np.abs(np.nanmedian(exx.data))) < 0.003
    widget._pixel_size.value = 0.0  # 0 leaves the layer as it is
    assert tuple(raw.scale) == pytest.approx((0.02, 0.02))


@pytest.mark.napari
def test_warnings_of_the_analysis_reach_the_user(viewer, monkeypatch):
    """UserWarnings of the API calls (lost in the worker thread before) are notified."""
    from napari_stemstrain._reader import signal_to_layers
    from napari_stemstrain._widgets import EELSWidget

    from stemstrain.synthetic._eels import eels_linescan

    signal, _ = eels_linescan(n_positions=12, step_nm=0.4)  # O K + Co L2,3
    [(line, kwargs, _)] = signal_to_layers(signal, name="ls")
    viewer.add_image(line, **kwargs)
    widget = EELSWidget(viewer)
    shown = capture_notifications(monkeypatch, "warning")
    widget._tm.value = "Co"
    widget.run_sync()
    assert not shown and re.fullmatch(r"done in \d+\.\d s: eels", widget._status.value)
    widget._tm.value = "Mn"  # the wrong metal: no Mn L2,3 edge in these spectra
    ratio = widget.run_sync()["eels"].ratio
    assert not np.isfinite(ratio).any()
    assert shown and all(m.startswith("stemstrain EELS O/TM: ") for m in shown)
    assert any("is Mn (the chosen transition metal) in these spectra" in m for m in shown)
    assert "warning(s)" in widget._status.value


def test_a_doubt_stored_and_raised_is_told_once():
    from types import SimpleNamespace

    from napari_stemstrain._widgets._base import _result_warnings

    res = SimpleNamespace(warnings=("strain scatter is 7.0x the shot noise",))
    raised = ["gpa: strain scatter is 7.0x the shot noise", "the Mn L2,3 edge is weak"]
    assert _result_warnings({"gpa": res}, raised) == [
        "strain scatter is 7.0x the shot noise",
        "the Mn L2,3 edge is weak",
    ]


@pytest.mark.napari
def test_dock_plot_keeps_a_readable_width(viewer):
    from napari_stemstrain._reader import signal_to_layers
    from napari_stemstrain._widgets import ColumnsWidget, EELSWidget
    from napari_stemstrain._widgets._canvas import MIN_WIDTH_PX
    from qtpy.QtWidgets import QApplication

    from stemstrain.synthetic._eels import eels_linescan

    signal, _ = eels_linescan(n_positions=8, step_nm=0.4)
    [(line, kwargs, _)] = signal_to_layers(signal, name="usnistgov-hyperspy_tutorial__05EELS_" * 2)
    viewer.add_image(line, **kwargs)
    viewer.window._qt_window.resize(1700, 1000)
    viewer.window.add_dock_widget(ColumnsWidget(viewer), name="columns")  # a narrow dock first
    QApplication.processEvents()
    viewer.window.remove_dock_widget("all")  # the dock area keeps that width
    widget = EELSWidget(viewer)
    viewer.window.add_dock_widget(widget, name="EELS")
    QApplication.processEvents()  # lay the dock out
    # the plot is not squeezed into the value column of the narrow dock (152 px before)
    assert widget.plot.canvas.width() >= MIN_WIDTH_PX


@pytest.mark.napari
def test_single_spectrum_plots_the_spectrum_with_its_ratio(viewer):
    from napari_stemstrain._reader import signal_to_layers
    from napari_stemstrain._widgets import EELSWidget

    from stemstrain.synthetic._eels import eels_linescan

    line, _ = eels_linescan(n_positions=12, step_nm=0.4)
    spectrum = line.inav[10]  # one spectrum (in the crystal), as a .dm3 / .msa opens
    [(data, kwargs, _)] = signal_to_layers(spectrum, name="one")
    assert data.shape == (1, 1)
    viewer.add_image(data, **kwargs)
    widget = EELSWidget(viewer)
    res = widget.run_sync()["eels"]
    ax = widget.plot.axes
    [curve] = ax.lines
    np.testing.assert_allclose(curve.get_ydata(), np.asarray(spectrum.data, float))
    np.testing.assert_allclose(curve.get_xdata(), spectrum.axes_manager.signal_axes[0].axis)
    ratio, sigma = float(np.ravel(res.ratio)[0]), float(np.ravel(res.uncertainty)[0])
    assert np.isfinite(ratio) and 0 < sigma < ratio
    assert ax.get_title() == f"O/Co = {ratio:.3g} ± {sigma:.2g} (1σ)"
    assert ax.get_xlabel() == "energy loss (eV)"
    lo, hi = viewer.layers["O/TM ratio"].contrast_limits  # one value: a readable window
    assert lo < ratio < hi and (hi - lo) == pytest.approx(0.1 * ratio, rel=1e-3)


@pytest.mark.napari
def test_gpa_warns_when_the_drawn_reference_is_narrower_than_the_resolution(viewer, monkeypatch):
    from napari_stemstrain._widgets import GPAWidget
    from napari_stemstrain._widgets._gpa import REFERENCE_LAYER

    from stemstrain.synthetic import layered_oxide

    lat = layered_oxide((192, 192), pixel_size=0.02, seed=1)
    viewer.add_image(lat.image, name="lat", scale=(0.02, 0.02), units=("nm", "nm"))
    widget = GPAWidget(viewer)
    widget._dislocations.value = False
    shown = capture_notifications(monkeypatch, "warning")
    widget.add_reference_layer()
    viewer.layers[REFERENCE_LAYER].add_rectangles(np.array([[90, 90], [94, 94]]))
    res = widget.run_sync()["gpa"]  # 4 px = 0.08 nm box, resolution ~0.7 nm
    assert 4 * 0.02 < res.resolution_nm
    assert any("reference rectangle (0.08 x 0.08 nm) is narrower" in m for m in shown)


def test_small_reference_rule():
    from napari_stemstrain._widgets._gpa import small_reference

    assert small_reference((40, 200, 40, 200), 0.02, 0.7) is None  # 3.2 nm box
    assert "(0.6 x 3.2 nm)" in small_reference((40, 70, 40, 200), 0.02, 0.7)  # 30 px high
    assert "(4 x 4 px)" in small_reference((0, 4, 0, 4), None, 35.0)  # uncalibrated: px
    assert small_reference(None, 0.02, 0.7) is None  # no reference drawn


@pytest.mark.napari
def test_a_long_single_step_shows_the_seconds_ticking(viewer, request, monkeypatch):
    import time

    from napari_stemstrain._widgets import ColumnsWidget

    qtbot = request.getfixturevalue("qtbot")  # after `viewer`: no Qt without a display

    def slow(self, job):  # one API call of 1.5 s, no step between
        yield 0, 1, "columns: fitting..."
        time.sleep(1.5)
        return {}

    monkeypatch.setattr(ColumnsWidget, "_compute", slow)
    monkeypatch.setattr(ColumnsWidget, "_show", lambda self, results, job: None)
    viewer.add_image(np.zeros((16, 16), np.float32), name="img")
    widget = ColumnsWidget(viewer)
    assert widget.run() is not None
    # the status ticks while the one call runs (it said "columns: fitting..." only, before)
    ticking = r"columns: fitting\.\.\. \([1-9] s\)"
    qtbot.waitUntil(lambda: re.fullmatch(ticking, widget._status.value), timeout=5000)
    assert widget._worker is not None  # still inside the call
    qtbot.waitUntil(lambda: widget._worker is None, timeout=20000)
    assert (
        re.fullmatch(r"done in [1-9]\.\d s: ", widget._status.value)
        and not widget._timer.isActive()
    )


@pytest.mark.napari
def test_scan_step_typed_for_a_cube_rescales_both_virtual_images(viewer):
    import hyperspy.api as hs
    from napari_stemstrain._reader import signal_to_layers
    from napari_stemstrain._widgets import FourDWidget

    cube = hs.signals.Signal2D(np.random.default_rng(0).random((3, 4, 8, 8), dtype=np.float32))
    for data, kwargs, _ in signal_to_layers(cube, name="mib"):  # uncalibrated, as the .mib
        viewer.add_image(data, **kwargs)
    widget = FourDWidget(viewer)
    assert widget._input.value.name == "mib virtual BF" and widget._pixel_size.value == 0.0
    widget._pixel_size.value = 1.5
    for name in ("mib virtual BF", "mib virtual ADF"):
        assert tuple(viewer.layers[name].scale) == (1.5, 1.5), name
