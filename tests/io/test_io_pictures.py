"""Issue 14 item 5 / issue 18: pictures (.jpg .png .bmp), ImageJ TIFF units, one extension list."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import stemstrain as ss
from stemstrain.errors import StemstrainError
from stemstrain.io import ALL_EXTENSIONS

RNG = np.random.default_rng(5)
ROOT = Path(__file__).resolve().parents[2]


def _rgb(tmp_path: Path, name: str) -> tuple[Path, np.ndarray]:
    from PIL import Image

    rgb = RNG.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    path = tmp_path / name
    Image.fromarray(rgb).save(path)
    return path, rgb


def test_png_rgb_loads_as_luminance_uncalibrated_with_a_warning(tmp_path):
    path, rgb = _rgb(tmp_path, "overview.png")
    with pytest.warns(UserWarning, match="no usable calibration"):
        sig = ss.load(path)
    assert sig.metadata.Stemstrain.kind == "image" and not sig.metadata.Stemstrain.calibrated
    want = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    assert sig.data.shape == (24, 40)
    np.testing.assert_allclose(sig.data, want, atol=1e-3)  # png is lossless


@pytest.mark.parametrize("ext", [".bmp", ".jpg", ".jpeg"])
def test_grey_pictures_load(tmp_path, ext):
    from PIL import Image

    grey = (np.add.outer(np.arange(32), np.arange(48)) * 2).astype(np.uint8)
    path = tmp_path / f"g{ext}"
    Image.fromarray(grey).save(path)
    with pytest.warns(UserWarning):
        sig = ss.load(path)
    atol = 0 if ext == ".bmp" else 6  # jpeg is lossy
    np.testing.assert_allclose(sig.data.astype(float), grey, atol=atol)


def test_pixel_size_calibrates(tmp_path):
    import warnings

    path, _ = _rgb(tmp_path, "a.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # calibrated: no warning
        sig = ss.load(path, pixel_size=0.025)
    axes = sig.axes_manager.signal_axes
    assert [(a.scale, a.units) for a in axes] == [(0.025, "nm"), (0.025, "nm")]
    assert sig.metadata.Stemstrain.calibrated
    for bad in (0, -1.0, float("nan"), float("inf"), True):
        with pytest.raises(StemstrainError, match="pixel_size must be"):
            ss.load(path, pixel_size=bad)


@pytest.mark.parametrize(
    ("unit", "scale", "nm"),
    [("nm", 0.05, 0.05), ("\\u00B5m", 0.0012, 1.2), ("micron", 0.0012, 1.2), ("um", 0.002, 2.0)],
)
def test_imagej_tiff_keeps_its_unit(tmp_path, unit, scale, nm):
    import warnings

    import tifffile

    path = tmp_path / "fiji.tif"
    img = RNG.integers(1, 1000, (32, 40)).astype(np.uint16)
    tifffile.imwrite(
        path, img, imagej=True, resolution=(1 / scale, 1 / scale), metadata={"unit": unit}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sig = ss.load(path)
    for ax in sig.axes_manager.signal_axes:
        assert ax.units == "nm" and ax.scale == pytest.approx(nm, rel=1e-6)
    np.testing.assert_array_equal(sig.data, img)


def test_imagej_tiff_in_pixels_stays_uncalibrated(tmp_path):
    import tifffile

    path = tmp_path / "px.tif"
    tifffile.imwrite(path, np.ones((8, 8), np.uint16), imagej=True, metadata={"unit": "pixel"})
    with pytest.warns(UserWarning, match="no usable calibration"):
        ss.load(path)


@pytest.mark.shared_data
def test_real_llto_jpeg(shared_data_dir):
    path = shared_data_dir / "AI-STEM__image_test__LLTO.jpg"
    if not path.exists():
        pytest.skip("AI-STEM LLTO jpeg not in shared data")
    with pytest.warns(UserWarning, match="no usable calibration"):
        sig = ss.load(path)
    assert sig.data.shape == (512, 512) and sig.metadata.Stemstrain.kind == "image"
    assert float(sig.data.std()) > 1.0  # a real picture, not a blank


def test_one_extension_list_everywhere():
    yaml = pytest.importorskip("yaml")

    from stemstrain.batch._discover import DATA_EXTENSIONS, TEXT_EXTENSIONS
    from stemstrain.io._readers import HEADER_EXTENSIONS, SUPPORTED_EXTENSIONS

    assert ALL_EXTENSIONS == tuple(sorted({*SUPPORTED_EXTENSIONS, *HEADER_EXTENSIONS}))
    assert {".jpg", ".jpeg", ".png", ".bmp", ".zspy", ".hdr"} <= set(ALL_EXTENSIONS)
    assert DATA_EXTENSIONS | TEXT_EXTENSIONS | {".xml"} == set(ALL_EXTENSIONS)
    manifest = yaml.safe_load((ROOT / "plugins" / "napari_stemstrain" / "napari.yaml").read_text())
    [reader] = manifest["contributions"]["readers"]
    pats = reader["filename_patterns"]
    assert pats == [f"*{e}" for e in ALL_EXTENSIONS]
    assert all(re.fullmatch(r"\*\.[a-z0-9]+", p) for p in pats)
    reader_mod = pytest.importorskip("napari_stemstrain._reader")
    assert tuple(reader_mod.EXTENSIONS) == ALL_EXTENSIONS
