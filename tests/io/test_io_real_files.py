"""Every real microscope file in ../shared/data loads with the calibration expected.json states.

Collected from ``expected.json`` at import time; every test skips (with the reason) when
the shared data folder is absent. Files are hashed before and after loading.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import stemstrain as ss
from stemstrain.errors import StemstrainError

pytestmark = pytest.mark.shared_data

# ../shared/data relative to the repository root (= parent of tests/); read at collection
SHARED_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()
EXPECTED = (
    json.loads((SHARED_DATA / "expected.json").read_text())
    if (SHARED_DATA / "expected.json").is_file()
    else {}
)
CANONICAL = {"nm", "1/nm", "eV"}


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest_dtypes() -> dict:
    """dtype of the first signal of each file, as MANIFEST.md records it."""
    manifest = SHARED_DATA / "MANIFEST.md"
    if not manifest.is_file():
        return {}
    out, current = {}, None
    for line in manifest.read_text().splitlines():
        m = re.match(r"^### `(.+)`", line)
        if m:
            current = m.group(1)
            continue
        m = re.search(r"Signal: .* dtype (\w+);", line)
        if m and current and current not in out:
            out[current] = m.group(1)
    return out


DTYPES = _manifest_dtypes()


def _last_digit(value: float) -> float:
    """Half a unit in the last digit expected.json prints (its scales are rounded)."""
    text = repr(float(value))
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
    return 0.5 * 10.0 ** (-decimals)


def _load_recording(path, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sig = ss.load(path, **kwargs)
    ours = [w for w in caught if issubclass(w.category, UserWarning)]
    return sig, ours


@pytest.mark.parametrize(
    "name",
    sorted(EXPECTED)
    or [
        pytest.param(
            "none",
            marks=pytest.mark.skip(
                reason=f"real microscope files not found: {SHARED_DATA} (../shared/data) is absent"
            ),
        )
    ],
)
def test_real_file_loads_with_expected_calibration(shared_data_dir, name):
    exp = EXPECTED[name]
    path = shared_data_dir / name
    before = _sha(path)
    sig, warned = _load_recording(path)
    assert _sha(path) == before, "the input file was modified"
    md = sig.metadata.Stemstrain
    assert list(sig.data.shape) == exp["shape"]
    if name in DTYPES:
        assert str(sig.data.dtype) == DTYPES[name]
    # kind
    if exp["kind_hint"] == "EELSSpectrum":
        assert type(sig).__name__ == "EELSSpectrum"
        assert md.kind == "eels"
    else:
        assert type(sig).__name__ == "Signal2D"
        assert md.kind == ("4dstem" if len(exp["shape"]) == 4 else "image")
    # calibration stated in expected.json: on the energy axis (EELS) or both image axes
    if "scale" in exp:
        axes = sig.axes_manager.signal_axes
        for ax in axes:
            assert ax.units == exp["units"], (ax.name, ax.units)
            assert ax.scale == pytest.approx(exp["scale"], rel=1e-6, abs=_last_digit(exp["scale"]))
    if "n_signals" in exp:
        assert md.n_signals == exp["n_signals"]
    # calibrated <=> one warning; calibrated axes are in canonical units
    if md.calibrated:
        assert not warned
        for ax in sig.axes_manager._axes:
            if ax.navigate and md.kind == "image":
                continue  # frame index of a stack
            assert ax.units in CANONICAL
    else:
        assert len(warned) == 1, [str(w.message) for w in warned]
        assert md.missing_calibration
        assert "no usable calibration" in str(warned[0].message)


def test_dm4_eels_navigation_converted_from_micrometre(shared_data_dir):
    sig, _ = _load_recording(shared_data_dir / "rosettasciio__dm_3D__EELS_SI.dm4")
    nav = sig.axes_manager.navigation_axes
    assert [a.units for a in nav] == ["nm", "nm"]
    assert nav[0].scale == pytest.approx(0.00199207 * 1000, rel=1e-5)
    assert sig.metadata.Stemstrain.eels_layout == "spectrum image"
    assert sig.metadata.Stemstrain.calibrated


def test_berkeley_emd_n_m_units_become_nm(shared_data_dir):
    sig, warned = _load_recording(shared_data_dir / "openNCEM__ncempy_data__Acquisition_18.emd")
    assert [a.units for a in sig.axes_manager.signal_axes] == ["nm", "nm"]
    assert not warned


def test_multi_signal_dm3_primary_and_all_signals(shared_data_dir):
    path = shared_data_dir / "rosettasciio__dm_2D__multi_signal_HAADF.dm3"
    sigs = ss.load(path, all_signals=True)
    assert [s.metadata.General.title for s in sigs] == ["HAADF", "Plot"]
    assert [s.metadata.Stemstrain.kind for s in sigs] == ["image", "spectrum"]
    plot = ss.load(path, name="plot")
    assert plot.data.shape == (512,) and plot.metadata.Stemstrain.signal_index == 1
    assert ss.load(path, signal_index=0).metadata.General.title == "HAADF"
    with pytest.raises(StemstrainError, match="signal_index=5 out of range"):
        ss.load(path, signal_index=5)
    with pytest.raises(StemstrainError, match="no signal titled like 'EDS'"):
        ss.load(path, name="EDS")


def test_ser_alone_and_emi_agree(shared_data_dir):
    ser, _ = _load_recording(shared_data_dir / "openNCEM__ncempy_data__16_STOimage_1.ser")
    emi, _ = _load_recording(shared_data_dir / "openNCEM__ncempy_data__16_STOimage.emi")
    assert ser.axes_manager[0].scale == pytest.approx(0.0100127, rel=1e-5)
    assert ser.axes_manager[0].units == "nm"
    np.testing.assert_array_equal(ser.data, emi.data)


def test_eelsdb_text_spectrum(shared_data_dir):
    path = shared_data_dir / "hyperspy__examples__La2NiO4_eels_EELSDB.txt"
    before = _sha(path)
    with pytest.warns(UserWarning, match="assumed energy column in eV"):
        sig = ss.load(path)
    assert _sha(path) == before
    ax = sig.axes_manager.signal_axes[0]
    assert type(sig).__name__ == "EELSSpectrum" and sig.data.shape == (2043,)
    assert (ax.offset, ax.scale, ax.units) == (424.0, 0.25, "eV")
    assert sig.metadata.Stemstrain.eels_layout == "spectrum"


@pytest.mark.parametrize(
    "name",
    [
        "rosettasciio__blockfile__test1.blo",
        "usnistgov-hyperspy_tutorial__05EELS__LSMO_STO_linescan.hdf5",
        "TEMUL__PTO_supercrystal_hadjimichael__Cropped_PTO-SRO_Aligned.hspy",
    ],
)
def test_lazy_loading_matches_eager(shared_data_dir, name):
    path = shared_data_dir / name
    eager, _ = _load_recording(path)
    lazy, _ = _load_recording(path, lazy=True)
    assert lazy._lazy
    assert lazy.data.shape == eager.data.shape
    for a, b in zip(lazy.axes_manager._axes, eager.axes_manager._axes, strict=True):
        assert (a.scale, a.units) == (b.scale, b.units)
    np.testing.assert_array_equal(np.asarray(lazy.data[..., :8]), eager.data[..., :8])


def test_merlin_hdr_loads_its_mib(shared_data_dir):
    sig, _ = _load_recording(shared_data_dir / "rosettasciio__quantumdetector__001_4x2_6bit.hdr")
    assert sig.data.shape == (2, 4, 256, 256)
    assert sig.metadata.Stemstrain.source.endswith(".mib")


def test_blo_diffraction_axes_recorded_as_uncalibrated(shared_data_dir):
    sig, warned = _load_recording(shared_data_dir / "rosettasciio__blockfile__test1.blo")
    md = sig.metadata.Stemstrain
    assert md.kind == "4dstem" and not md.calibrated
    assert [a.units for a in sig.axes_manager.navigation_axes] == ["nm", "nm"]
    assert all("'cm'" in m for m in md.missing_calibration)
    assert len(md.missing_calibration) == 2


def test_describe_reports_microscope_metadata(shared_data_dir):
    info = ss.describe(shared_data_dir / "rosettasciio__dm_3D__EELS_SI.dm4")
    assert info["kind"] == "eels" and info["eels_layout"] == "spectrum image"
    assert info["shape"] == [2, 2, 2048] and info["dtype"] == "float32"
    assert info["navigation_shape"] == [2, 2] and info["signal_shape"] == [2048]
    micro = info["microscope"]
    assert micro["beam_energy_kV"] == 200.0
    assert micro["convergence_angle_mrad"] == 21.0
    assert micro["collection_angle_mrad"] == 62.0
    assert micro["magnification"] == 225000.0
    assert info["axes"][2] == {
        "name": "Energy loss",
        "size": 2048,
        "scale": 1.0,
        "offset": 300.0,
        "units": "eV",
        "navigate": False,
    }
    from stemstrain.io import format_description

    text = format_description(info)
    assert "beam_energy_kV" in text and "200 kV" in text and "calibrated:  yes" in text
