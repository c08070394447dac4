"""EELS widget: valence and O K pre-peak quantities (issue 15), in a real napari viewer."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.napari


def test_eels_widget_valence_and_prepeak(viewer):
    from napari_stemstrain._reader import signal_to_layers
    from napari_stemstrain._widgets import EELSWidget

    from stemstrain.synthetic._eels import eels_spectrum_image

    si, _ = eels_spectrum_image(
        (6, 8), tm="Mn", white_lines=True, pixel_size_nm=0.5, n_channels=2048, scale_ev=0.25
    )
    [(total, kwargs, _)] = signal_to_layers(si, name="si")
    viewer.add_image(total, **kwargs)
    widget = EELSWidget(viewer)
    viewer.window.add_dock_widget(widget, name="EELS")
    widget._tm.value = "Mn"
    widget._quantity.value = "TM valence"
    widget._energy_ref.value = "none"
    res = widget.run_sync()["eels_valence"]
    layer = viewer.layers["TM valence"]
    np.testing.assert_allclose(layer.data, res.valence, equal_nan=True)
    # the dock shows the column mean with the sigma of the mean (not the per-pixel RMS)
    ax = widget.plot.axes
    col = 6
    ok = np.isfinite(res.valence[:, col])
    assert ax.lines[0].get_ydata()[col] == pytest.approx(np.mean(res.valence[ok, col]))
    assert ax.get_ylabel() == "TM valence"
    widget._quantity.value = "O K pre-peak"
    pre = widget.run_sync()["eels_prepeak"]
    np.testing.assert_allclose(viewer.layers["O K pre-peak ratio"].data, pre.ratio, equal_nan=True)
