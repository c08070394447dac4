"""The bundled sample data loads through ss.load with its calibration, and agrees with its truth."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import stemstrain as ss

HAADF = "haadf_layered_oxide.hspy"


def _load(sample_data_dir, name):
    path = sample_data_dir / name
    if not path.exists():
        pytest.skip(f"{path} not generated (run sample_data/make_samples.py)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # calibrated: no warning at all
        return ss.load(path)


def _truth(sample_data_dir, name):
    return json.loads((sample_data_dir / "truth" / name).read_text())


def test_haadf_sample_loads_calibrated(sample_data_dir):
    sig = _load(sample_data_dir, HAADF)
    truth = _truth(sample_data_dir, "haadf_layered_oxide.json")
    md = sig.metadata.Stemstrain
    assert (md.kind, md.calibrated) == ("image", True)
    assert sig.data.shape == tuple(truth["shape"]) == (1024, 1024)
    assert sig.data.dtype == np.uint16
    for ax in sig.axes_manager.signal_axes:
        assert ax.units == "nm" and ax.scale == pytest.approx(truth["pixel_size_nm"], rel=1e-12)
    assert sig.metadata.Acquisition_instrument.TEM.beam_energy == 300.0
    info = ss.describe(sample_data_dir / HAADF)
    assert info["microscope"]["detector"] == "HAADF"


def test_haadf_truth_columns_sit_on_bright_pixels(sample_data_dir):
    sig = _load(sample_data_dir, HAADF)
    cols = pd.read_csv(sample_data_dir / "truth" / "haadf_layered_oxide_columns.csv")
    img = sig.data.astype(float)
    at_cols = img[np.round(cols.y).astype(int), np.round(cols.x).astype(int)]
    # TM peaks carry ~dose (200) counts; the image mean is dominated by gaps (~10-40)
    assert np.median(at_cols) > 150
    assert np.median(at_cols) > 4 * img.mean()
    # 0.244 nm period along the layers: neighbours in a layer are 12.2 px apart (undistorted)
    layer0 = cols[cols.layer == 0].sort_values("index")
    d = np.hypot(np.diff(layer0.x), np.diff(layer0.y)) * 0.02
    assert np.median(d) == pytest.approx(0.244, abs=0.002)


def test_haadf_truth_geometry(sample_data_dir):
    truth = _truth(sample_data_dir, "haadf_layered_oxide.json")
    strain = np.load(sample_data_dir / "truth" / "haadf_layered_oxide_strain.npz")
    step = int(strain["step_px"])
    dis = truth["dislocation"]
    assert dis["b_nm"] == pytest.approx(0.244)
    assert np.hypot(dis["bx_nm"], dis["by_nm"]) == pytest.approx(0.244)
    # the largest |dilatation| of the truth maps lies at the stated core
    dil = np.abs(strain["dilatation"])
    r, c = np.unravel_index(np.nanargmax(dil), dil.shape)
    assert np.hypot(c * step - dis["core_x_px"], r * step - dis["core_y_px"]) < 2 * step
    # reference box: all O3, true strain below 0.1 %
    box = truth["reference_region_px"]
    sl = (
        slice(box["row0"] // step, box["row1"] // step),
        slice(box["col0"] // step, box["col1"] // step),
    )
    for k in ("exx", "eyy", "exy", "rotation"):
        assert np.abs(strain[k][sl]).max() < 1e-3
    assert (strain["label_map_step4"][sl] == 1).all()
    assert 0.02 < truth["o1_band"]["area_fraction"] < 0.1
    n0, n1 = truth["o1_band"]["n_range_nm"]
    assert n1 - n0 == pytest.approx(2 * 0.445)
    rip = truth["ripple"]
    a_k = rip["amplitude_nm"] * np.exp(
        -((rip["peak_layer"] * 0.468 - rip["n0_nm"]) ** 2) / (2 * rip["depth_nm"] ** 2)
    )
    assert truth["ripple"]["curvature_at_s0_per_nm"] == pytest.approx(-a_k / rip["width_nm"] ** 2)


def test_fourd_sample_loads_calibrated(sample_data_dir):
    sig = _load(sample_data_dir, "fourd_strain.hspy")
    truth = _truth(sample_data_dir, "fourd_strain.json")
    md = sig.metadata.Stemstrain
    assert (md.kind, md.calibrated) == ("4dstem", True)
    assert sig.data.shape == (24, 24, 96, 96) and sig.data.dtype == np.uint16
    assert [a.units for a in sig.axes_manager._axes] == ["nm", "nm", "1/nm", "1/nm"]
    assert sig.axes_manager.navigation_axes[0].scale == pytest.approx(0.5)
    assert sig.axes_manager.signal_axes[0].scale == pytest.approx(truth["q_pixel_size_per_nm"])
    probe = np.load(sample_data_dir / "fourd_probe.npy")
    assert probe.shape == (96, 96) and probe.max() == pytest.approx(1.0, abs=0.05)
    maps = np.load(sample_data_dir / "truth" / "fourd_strain.npz")
    assert maps["exx"].shape == (24, 24)
    assert np.abs(maps["exx"][maps["reference_mask"]]).max() == 0.0


def test_eels_sample_loads_calibrated(sample_data_dir):
    sig = _load(sample_data_dir, "eels_linescan.hspy")
    truth = _truth(sample_data_dir, "eels_linescan.json")
    md = sig.metadata.Stemstrain
    assert (md.kind, md.eels_layout, md.calibrated) == ("eels", "line scan", True)
    assert type(sig).__name__ == "EELSSpectrum"
    e = sig.axes_manager.signal_axes[0]
    assert e.units == "eV" and e.offset <= 500 and e.offset + e.scale * e.size >= 800  # O K, Co L
    assert sig.axes_manager.navigation_axes[0].units == "nm"
    ratio = np.array(truth["truth"]["ratio"], dtype=float)
    assert ratio.shape == (sig.data.shape[0],)
    assert np.nanmax(ratio) == pytest.approx(2.0, abs=0.01)
