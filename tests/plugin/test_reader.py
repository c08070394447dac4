"""Reader, sample data and manifest of the napari plugin (no display needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _napari_helpers import capture_notifications
from napari_stemstrain._reader import get_reader, read_stemstrain, signal_to_layers

hs = pytest.importorskip("hyperspy.api")


def _calibrated_image(path: Path, pixel_nm: float = 0.025, shape=(48, 64)) -> np.ndarray:
    data = np.random.default_rng(0).random(shape).astype(np.float32)
    sig = hs.signals.Signal2D(data)
    for ax, name in zip(sig.axes_manager.signal_axes, ("x", "y"), strict=False):
        ax.name, ax.scale, ax.units = name, pixel_nm, "nm"
    sig.save(path)
    return data


def _cube(path: Path, step_nm: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A (5, 6, 16, 16) cube: a central disk of radius 3 scaled by a known scan intensity."""
    qy, qx = np.indices((16, 16))
    disk = (np.hypot(qy - 8, qx - 8) <= 3).astype(np.float32)
    halo = ((np.hypot(qy - 8, qx - 8) > 6) * 0.1).astype(np.float32)
    weight = 1.0 + np.arange(30, dtype=np.float32).reshape(5, 6) / 10
    cube = weight[:, :, None, None] * disk + halo
    sig = hs.signals.Signal2D(cube)
    for ax, name in zip(sig.axes_manager.navigation_axes, ("x", "y"), strict=False):
        ax.name, ax.scale, ax.units = name, step_nm, "nm"
    sig.save(path)
    return weight, disk


@pytest.mark.parametrize(
    "name", ["notes.docx", "image.gif", "missing.dm4", "folder.hspy", "archive.tar.gz"]
)
def test_get_reader_rejects_what_it_cannot_read(tmp_path, name):
    # .txt/.png are read by ss.load since issue 14/18 (spectra, pictures): not rejected here
    (tmp_path / "notes.docx").write_text("x")
    (tmp_path / "image.gif").write_bytes(b"GIF89a")
    (tmp_path / "folder.hspy").mkdir()
    (tmp_path / "archive.tar.gz").write_bytes(b"x")
    assert get_reader(str(tmp_path / name)) is None


def test_get_reader_never_raises_on_odd_input(tmp_path):
    assert get_reader(None) is None
    assert get_reader(42) is None
    assert get_reader([]) is None
    good = tmp_path / "a.npy"
    np.save(good, np.zeros((4, 4)))
    assert get_reader([str(good), str(tmp_path / "b.txt")]) is None
    assert get_reader([str(good)]) is read_stemstrain
    (tmp_path / "store.zspy").mkdir()  # zarr stores are folders
    assert get_reader(str(tmp_path / "store.zspy")) is read_stemstrain


def test_corrupt_file_gives_no_layer_and_a_warning(tmp_path, monkeypatch):
    bad = tmp_path / "broken.dm4"
    bad.write_bytes(b"this is not a DigitalMicrograph file" * 10)
    reader = get_reader(str(bad))
    assert reader is read_stemstrain
    warnings_shown = capture_notifications(monkeypatch, "warning")
    assert reader(str(bad)) == [(None,)]  # napari: read, nothing to show (no 2nd error)
    assert len(warnings_shown) == 1 and warnings_shown[0].count("broken.dm4") == 1
    assert "\n" not in warnings_shown[0]


def test_image_opens_with_pixel_size_in_nm(tmp_path):
    path = tmp_path / "haadf.hspy"
    data = _calibrated_image(path, pixel_nm=0.025)
    layers = get_reader(str(path))(str(path))
    assert len(layers) == 1
    array, kwargs, kind = layers[0]
    assert kind == "image" and kwargs["name"] == "haadf"
    np.testing.assert_array_equal(array, data)
    assert kwargs["scale"] == pytest.approx((0.025, 0.025))
    assert kwargs["units"] == ("nm", "nm")
    meta = kwargs["metadata"]["stemstrain"]
    assert meta["kind"] == "image" and meta["pixel_size_nm"] == pytest.approx(0.025)


def test_uncalibrated_npy_opens_in_pixels_with_a_warning(tmp_path, monkeypatch):
    path = tmp_path / "raw.npy"
    np.save(path, np.arange(64, dtype=np.float32).reshape(8, 8))
    shown = capture_notifications(monkeypatch, "warning")
    [(array, kwargs, kind)] = read_stemstrain(str(path))
    assert kind == "image" and array.shape == (8, 8)
    assert kwargs["scale"] == (1.0, 1.0) and "units" not in kwargs
    assert kwargs["metadata"]["stemstrain"]["pixel_size_nm"] is None
    assert all("raw.npy" in m for m in shown)


def test_fourd_opens_as_virtual_images_plus_cube(tmp_path):
    path = tmp_path / "scan.hspy"
    weight, disk = _cube(path, step_nm=0.5)
    layers = read_stemstrain(str(path))
    names = [kw["name"] for _, kw, _ in layers]
    assert names == ["scan virtual BF", "scan virtual ADF"]
    (vbf, kw_bf, _), (vadf, kw_adf, _) = layers
    assert vbf.shape == (5, 6) and kw_bf["scale"] == pytest.approx((0.5, 0.5))
    assert kw_bf["units"] == ("nm", "nm") and kw_adf["visible"] is False
    # BF = scan weight x disk area (the halo lies outside the bright-field disk)
    np.testing.assert_allclose(vbf, weight * disk.sum(), rtol=1e-5)
    # ADF sees only the constant halo
    np.testing.assert_allclose(vadf, vadf[0, 0], rtol=1e-5)
    cube = kw_bf["metadata"]["stemstrain"]["signal"].data
    assert cube.shape == (5, 6, 16, 16)


def test_eels_line_scan_opens_as_integrated_line():
    from stemstrain.synthetic._eels import eels_linescan

    signal, truth = eels_linescan(n_positions=12, step_nm=0.4)
    [(line, kwargs, kind)] = signal_to_layers(signal, name="ls")
    assert kind == "image" and line.shape == (1, 12)
    np.testing.assert_allclose(line[0], np.asarray(signal.data).sum(-1), rtol=1e-5)
    assert kwargs["scale"] == pytest.approx((0.4 * 12 / 8, 0.4))  # row drawn 1/8 of the line high
    assert kwargs["metadata"]["stemstrain"]["signal"] is signal


def test_samples_give_calibrated_layers():
    from napari_stemstrain import _sample_data

    [(image, kwargs, kind)] = _sample_data.sample_haadf()
    assert kind == "image" and image.ndim == 2 and min(image.shape) >= 256
    assert kwargs["units"] == ("nm", "nm") and 0.005 < kwargs["scale"][0] < 0.1
    fourd = _sample_data.sample_fourd()
    assert fourd[0][1]["metadata"]["stemstrain"]["kind"] == "4dstem"
    assert fourd[0][1]["metadata"]["stemstrain"]["signal"].data.ndim == 4
    [(line, kw_eels, _)] = _sample_data.sample_eels()
    assert kw_eels["metadata"]["stemstrain"]["kind"] == "eels" and line.shape[0] == 1


def test_npe2_manifest_validates():
    proc = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "stemstrain"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid" in proc.stdout


def test_manifest_lists_readers_samples_and_five_widgets():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("stemstrain")
    contrib = manifest.contributions
    assert len(contrib.widgets) >= 5 and len(contrib.sample_data) >= 3
    patterns = set(contrib.readers[0].filename_patterns)
    exts = ("dm3", "dm4", "emd", "ser", "mrc", "tif", "hspy", "zspy", "h5", "mib", "msa", "npy")
    for ext in exts:
        assert f"*.{ext}" in patterns
