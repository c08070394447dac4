"""Phase-map napari widget: the summary text without a viewer, the Labels layer with one."""

from __future__ import annotations

import os

import numpy as np
import pytest

import stemstrain as ss
from stemstrain.synthetic import cathode_particle


@pytest.fixture(scope="module")
def particle():
    s = cathode_particle(
        (256, 256), pixel_size=0.04, angle_deg=30.0, spinel_nm=1.0, rock_salt_nm=1.5, seed=7
    )
    return s, ss.phase_map(s.image, s.pixel_size)


def test_phase_summary_text(particle):
    pytest.importorskip("magicgui")
    from napari_stemstrain._widgets._phases import phase_summary

    _, r = particle
    text = phase_summary(r)
    assert "layered" in text and "rock_salt" in text and text.endswith("voids")
    assert f"rock_salt {r.surface_summary['rock_salt']['mean_nm']:.2f} nm" in text


@pytest.mark.napari
def test_phases_widget_labels_layer(particle, request):
    if not os.environ.get("DISPLAY"):
        pytest.skip("no X display for napari (see tests/plugin/conftest.py)")
    from napari_stemstrain._widgets._phases import PhasesWidget

    s, r = particle
    viewer = request.getfixturevalue("make_napari_viewer")(show=True)
    viewer.add_image(s.image, name="particle", scale=(0.04, 0.04), units=("nm", "nm"))
    widget = PhasesWidget(viewer)
    out = widget.run_sync()
    layer = viewer.layers["phases"]
    assert tuple(layer.scale) == pytest.approx((0.04, 0.04))
    np.testing.assert_array_equal(layer.data, out["phases"].label_map)
    np.testing.assert_array_equal(layer.data, r.label_map)
