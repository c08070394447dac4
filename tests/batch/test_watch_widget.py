"""The napari "follow a results folder" widget: new finished inputs appear as layers."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from batch_helpers import PX, save_signal

from stemstrain.synthetic import fields, layered_oxide


@pytest.fixture
def results_folder(tmp_path):
    from stemstrain.batch import parse_config, run_batch

    sess = tmp_path / "session"
    sess.mkdir()
    lat = layered_oxide((128, 128), pixel_size=PX, displacement=fields.uniform(exx=0.01), dose=None)
    save_signal(lat.image, sess / "a.hspy")
    cfg = parse_config(
        {"analyses": {"image": ["gpa"]}, "run": {"figures": False}, "gpa": {"reference": "none"}}
    )
    out = tmp_path / "out"
    run_batch(sess, out, cfg, progress=False)
    return sess, out, cfg


def test_new_results_reads_each_finished_input_once(results_folder):
    pytest.importorskip("magicgui")
    from napari_stemstrain._widgets._watch import new_results

    sess, out, cfg = results_folder
    seen: dict = {}
    found = new_results(out, seen)
    assert [f["name"] for f in found] == ["a.hspy"]
    assert found[0]["data"].shape == (128, 128) and found[0]["group"] == "gpa"
    assert found[0]["pixel_size"] == pytest.approx(PX)
    assert new_results(out, seen) == []
    assert new_results(out / "missing", {}) == []


def test_watch_widget_adds_layers(results_folder, request):
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        pytest.skip(f"no X display for napari (Xvfb found: {shutil.which('Xvfb') is not None})")
    from napari_stemstrain._widgets._watch import WatchWidget

    sess, out, cfg = results_folder
    viewer = request.getfixturevalue("make_napari_viewer")()
    w = WatchWidget(viewer)
    w._folder.value = str(out)
    assert w.poll() == 1
    layer = viewer.layers["a.hspy exx"]
    assert np.isfinite(layer.data).any()
    assert w.poll() == 0
