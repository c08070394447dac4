"""Readers on files written in the test: units normalised, kinds decided, errors one line.

Every file is hashed before and after ``ss.load`` (successful or failed): inputs are
never written to.
"""

from __future__ import annotations

import hashlib
import os
import warnings

import numpy as np
import pytest

import stemstrain as ss
from stemstrain.errors import (
    CorruptFileError,
    InputShapeError,
    StemstrainError,
    UnsupportedFormatError,
)
from stemstrain.io import KINDS, electron_wavelength_nm, unit_factor


def _sha(path):
    h = hashlib.sha256()
    if os.path.isdir(path):
        for root, _, files in sorted(os.walk(path)):
            for f in sorted(files):
                h.update(open(os.path.join(root, f), "rb").read())
        return h.hexdigest()
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def load_quiet(path, **kw):
    """ss.load, checking the file is unchanged and that no warning was raised."""
    before = _sha(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sig = ss.load(path, **kw)
    assert _sha(path) == before
    return sig


def _signal(data, axes):
    import hyperspy.api as hs

    cls = (
        hs.signals.Signal1D
        if len(axes) - sum(a.get("navigate", False) for a in axes) == 1
        else hs.signals.Signal2D
    )
    return cls(data, axes=axes)


def _ax(size, scale, units, name, navigate=False, offset=0.0):
    return {
        "size": size,
        "scale": scale,
        "units": units,
        "name": name,
        "navigate": navigate,
        "offset": offset,
    }


# ----------------------------------------------------------------------------- units
@pytest.mark.parametrize(
    "units, role, factor",
    [
        ("nm", "real", 1.0),
        ("n_m", "real", 1.0),
        ("Å", "real", 0.1),
        ("A", "real", 0.1),
        ("µm", "real", 1e3),
        ("um", "real", 1e3),
        ("micron", "real", 1e3),
        ("m", "real", 1e9),
        ("pm", "real", 1e-3),
        ("1/nm", "reciprocal", 1.0),
        ("nm^-1", "reciprocal", 1.0),
        ("1/Å", "reciprocal", 10.0),
        ("A^-1", "reciprocal", 10.0),
        ("1/m", "reciprocal", 1e-9),
        ("eV", "energy", 1.0),
        ("keV", "energy", 1e3),
        ("<undefined>", "real", None),
        ("px", "real", None),
        ("", "energy", None),
        ("eV", "real", None),
        ("cm", "reciprocal", None),
        ("nm", "energy", None),
    ],
)
def test_unit_factor(units, role, factor):
    got = unit_factor(units, role)
    assert got == (None if factor is None else pytest.approx(factor))


def test_electron_wavelength():
    # 200 kV: 2.5079 pm; 300 kV: 1.9687 pm (standard tables)
    assert electron_wavelength_nm(200) == pytest.approx(2.5079e-3, rel=1e-4)
    assert electron_wavelength_nm(300) == pytest.approx(1.9687e-3, rel=1e-4)


# ----------------------------------------------------------------------------- .npy
@pytest.mark.parametrize(
    "shape, kind, cls",
    [
        ((64,), "spectrum", "Signal1D"),
        ((32, 48), "image", "Signal2D"),
        ((3, 32, 48), "image", "Signal2D"),
        ((4, 5, 16, 16), "4dstem", "Signal2D"),
    ],
)
def test_npy_kind_from_ndim_and_warns_once(tmp_path, shape, kind, cls):
    data = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape)
    path = tmp_path / "a.npy"
    np.save(path, data)
    before = _sha(path)
    if kind == "spectrum":
        sig = load_quiet(path)  # a bare 1-D profile needs no calibration
    else:
        with pytest.warns(UserWarning, match="no usable calibration") as rec:
            sig = ss.load(path)
        assert len([w for w in rec if issubclass(w.category, UserWarning)]) == 1
        assert not sig.metadata.Stemstrain.calibrated
        n_missing = 2 if kind == "image" else 4
        assert len(sig.metadata.Stemstrain.missing_calibration) == n_missing
    assert _sha(path) == before
    assert type(sig).__name__ == cls and sig.metadata.Stemstrain.kind == kind
    assert sig.data.dtype == np.uint16
    np.testing.assert_array_equal(sig.data, data)
    assert sig.metadata.Stemstrain.kind in KINDS


def test_npy_lazy_is_lazy(tmp_path):
    data = np.random.default_rng(0).random((40, 30)).astype(np.float32)
    np.save(tmp_path / "a.npy", data)
    with pytest.warns(UserWarning, match="no usable calibration"):
        sig = ss.load(tmp_path / "a.npy", lazy=True)
    assert sig._lazy and sig.data.shape == (40, 30)
    np.testing.assert_array_equal(np.asarray(sig.data), data)


def test_npy_bad_arrays(tmp_path):
    np.save(tmp_path / "five.npy", np.zeros((2, 2, 2, 2, 2)))
    with pytest.raises(InputShapeError, match="five.npy: array of shape .* has 5 dimensions"):
        ss.load(tmp_path / "five.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    before = _sha(tmp_path / "obj.npy")
    with pytest.raises(CorruptFileError, match="obj.npy: cannot read as NumPy"):
        ss.load(tmp_path / "obj.npy")
    assert _sha(tmp_path / "obj.npy") == before


# ----------------------------------------------------------------------------- HyperSpy
def test_hspy_angstrom_image_converted_to_nm(tmp_path):
    data = np.random.default_rng(1).random((20, 30)).astype(np.float32)
    s = _signal(data, [_ax(20, 0.2, "Å", "y", offset=1.0), _ax(30, 0.2, "Å", "x")])
    s.save(tmp_path / "img.hspy")
    sig = load_quiet(tmp_path / "img.hspy")
    y, x = sig.axes_manager.signal_axes[::-1] if False else sig.axes_manager._axes
    assert (y.units, x.units) == ("nm", "nm")
    assert y.scale == pytest.approx(0.02) and x.scale == pytest.approx(0.02)
    assert y.offset == pytest.approx(0.1)
    assert sig.metadata.Stemstrain.kind == "image" and sig.metadata.Stemstrain.calibrated
    assert sig.data.dtype == np.float32


def test_image_stack_frame_axis(tmp_path):
    s = _signal(
        np.zeros((3, 8, 8), np.float32),
        [_ax(3, 0.01, "µm", "z", True), _ax(8, 2.0, "Å", "y"), _ax(8, 2.0, "Å", "x")],
    )
    s.save(tmp_path / "stack.hspy")
    sig = load_quiet(tmp_path / "stack.hspy")
    assert sig.metadata.Stemstrain.kind == "image"
    assert [(a.units, a.scale) for a in sig.axes_manager._axes] == [
        ("nm", pytest.approx(10.0)),
        ("nm", pytest.approx(0.2)),
        ("nm", pytest.approx(0.2)),
    ]
    s.axes_manager[0].units = "frames"  # a frame index needs no calibration
    s.save(tmp_path / "frames.hspy")
    frames = load_quiet(tmp_path / "frames.hspy")
    assert frames.metadata.Stemstrain.calibrated
    assert frames.axes_manager.navigation_axes[0].units == "frames"


def test_zspy_and_lazy(tmp_path):
    pytest.importorskip("zarr", reason="zspy needs rosettasciio[zspy] (zarr<3)")
    data = np.arange(2 * 3 * 8 * 8, dtype=np.uint16).reshape(2, 3, 8, 8)
    s = _signal(
        data,
        [
            _ax(2, 5.0, "Å", "y", True),
            _ax(3, 5.0, "Å", "x", True),
            _ax(8, 0.1, "1/Å", "ky"),
            _ax(8, 0.1, "1/Å", "kx"),
        ],
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The NestedDirectoryStore is deprecated", FutureWarning)
        s.save(tmp_path / "cube.zspy")  # zarr 2.18 warns about its own store class
    sig = load_quiet(tmp_path / "cube.zspy", lazy=True)
    assert sig._lazy and sig.metadata.Stemstrain.kind == "4dstem"
    assert [a.units for a in sig.axes_manager._axes] == ["nm", "nm", "1/nm", "1/nm"]
    assert [a.scale for a in sig.axes_manager._axes] == pytest.approx([0.5, 0.5, 1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(sig.data), data)


def _mrad_cube():
    """A 2x2 scan of 8x8 patterns, nm in real space and mrad on the detector."""
    return _signal(
        np.zeros((2, 2, 8, 8), np.float32),
        [
            _ax(2, 1.0, "nm", "y", True),
            _ax(2, 1.0, "nm", "x", True),
            _ax(8, 0.5, "mrad", "ky"),
            _ax(8, 0.5, "mrad", "kx"),
        ],
    )


def test_4d_diffraction_in_mrad_converted_with_beam_energy(tmp_path):
    s = _mrad_cube()
    s.metadata.set_item("Acquisition_instrument.TEM.beam_energy", 200.0)
    s.save(tmp_path / "mrad.hspy")
    sig = load_quiet(tmp_path / "mrad.hspy")
    k = sig.axes_manager.signal_axes[0]
    assert k.units == "1/nm"
    assert k.scale == pytest.approx(0.5e-3 / electron_wavelength_nm(200.0), rel=1e-9)


def test_4d_mrad_without_beam_energy_is_recorded_uncalibrated(tmp_path):
    s = _mrad_cube()
    s.save(tmp_path / "mrad.hspy")
    with pytest.warns(UserWarning, match="ky .*'mrad' are not a reciprocal-length unit"):
        sig = ss.load(tmp_path / "mrad.hspy")
    assert sig.axes_manager.signal_axes[0].units == "mrad"  # left as stored
    assert not sig.metadata.Stemstrain.calibrated


def test_eels_from_energy_axis_line_scan(tmp_path):
    s = _signal(
        np.ones((5, 100), np.float32),
        [_ax(5, 0.002, "µm", "x", True), _ax(100, 1.0, "eV", "E", offset=400.0)],
    )
    s.save(tmp_path / "ls.hspy")
    sig = load_quiet(tmp_path / "ls.hspy")
    assert type(sig).__name__ == "EELSSpectrum"
    md = sig.metadata.Stemstrain
    assert (md.kind, md.eels_layout) == ("eels", "line scan")
    e = sig.axes_manager.signal_axes[0]
    assert (e.units, e.scale, e.offset) == ("eV", pytest.approx(1.0), pytest.approx(400.0))
    assert sig.axes_manager.navigation_axes[0].scale == pytest.approx(2.0)


def test_eels_kev_axis_converted_and_eds_is_not_eels(tmp_path):
    s = _signal(
        np.ones((3, 50), np.float32),
        [_ax(3, 1.0, "nm", "x", True), _ax(50, 0.001, "keV", "E", offset=0.4)],
    )
    s.metadata.set_item("Signal.signal_type", "EELS")
    s.save(tmp_path / "kev.hspy")
    sig = load_quiet(tmp_path / "kev.hspy")
    e = sig.axes_manager.signal_axes[0]
    assert sig.metadata.Stemstrain.kind == "eels"
    assert (e.units, e.scale, e.offset) == ("eV", pytest.approx(1.0), pytest.approx(400.0))
    s.metadata.set_item("Signal.signal_type", "EDS_TEM")
    s.save(tmp_path / "eds.hspy")
    eds = load_quiet(tmp_path / "eds.hspy")
    assert eds.metadata.Stemstrain.kind == "spectrum"
    assert type(eds).__name__ != "EELSSpectrum"
    assert eds.axes_manager.signal_axes[0].units == "eV"


def test_diffraction_image_in_inverse_angstrom(tmp_path):
    s = _signal(
        np.ones((16, 16), np.float32), [_ax(16, 0.05, "1/Å", "ky"), _ax(16, 0.05, "1/Å", "kx")]
    )
    s.save(tmp_path / "dp.hspy")
    sig = load_quiet(tmp_path / "dp.hspy")
    assert sig.metadata.Stemstrain.kind == "image"
    assert [(a.units, a.scale) for a in sig.axes_manager.signal_axes] == [
        ("1/nm", pytest.approx(0.5)),
        ("1/nm", pytest.approx(0.5)),
    ]


def test_msa_spectrum(tmp_path):
    s = _signal(
        np.linspace(1, 2, 64).astype(np.float32), [_ax(64, 0.5, "eV", "Energy", offset=500)]
    )
    s.metadata.set_item("Signal.signal_type", "EELS")
    s.save(tmp_path / "spec.msa")
    sig = load_quiet(tmp_path / "spec.msa")
    assert type(sig).__name__ == "EELSSpectrum" and sig.metadata.Stemstrain.kind == "eels"
    e = sig.axes_manager.signal_axes[0]
    assert (e.scale, e.offset, e.units) == (0.5, 500.0, "eV")


def test_berkeley_emd_written_by_hyperspy(tmp_path):
    data = np.arange(24 * 32, dtype=np.uint16).reshape(24, 32)
    s = _signal(data, [_ax(24, 0.015, "nm", "y"), _ax(32, 0.015, "nm", "x")])
    s.save(tmp_path / "b.emd")
    sig = load_quiet(tmp_path / "b.emd")
    assert sig.metadata.Stemstrain.reader == "EMD"
    assert [a.units for a in sig.axes_manager.signal_axes] == ["nm", "nm"]
    assert sig.axes_manager.signal_axes[0].scale == pytest.approx(0.015)
    np.testing.assert_array_equal(sig.data, data)


# ----------------------------------------------------------------------------- TIFF
def test_imagej_tif_in_micron_and_plain_tif(tmp_path):
    import tifffile

    data = np.arange(40 * 50, dtype=np.uint16).reshape(40, 50)
    tifffile.imwrite(
        tmp_path / "ij.tif",
        data,
        imagej=True,
        resolution=(1 / 0.00002, 1 / 0.00002),
        metadata={"unit": "micron"},
    )
    sig = load_quiet(tmp_path / "ij.tif")
    assert [a.units for a in sig.axes_manager.signal_axes] == ["nm", "nm"]
    assert sig.axes_manager.signal_axes[0].scale == pytest.approx(0.02, rel=1e-5)
    np.testing.assert_array_equal(sig.data, data)

    tifffile.imwrite(tmp_path / "plain.tif", data)
    before = _sha(tmp_path / "plain.tif")
    with pytest.warns(UserWarning, match="no usable calibration"):
        plain = ss.load(tmp_path / "plain.tif")
    assert _sha(tmp_path / "plain.tif") == before
    assert plain.metadata.Stemstrain.kind == "image" and not plain.metadata.Stemstrain.calibrated


# ----------------------------------------------------------------------------- py4DSTEM EMD 1.0
def test_py4dstem_emd1_h5_against_py4dstem_read(tmp_path):
    py4DSTEM = pytest.importorskip("py4DSTEM")
    data = np.random.default_rng(3).integers(0, 1000, (3, 4, 16, 20)).astype(np.uint16)
    dc = py4DSTEM.DataCube(data=data)
    dc.calibration.set_R_pixel_size(2.5)
    dc.calibration.set_R_pixel_units("A")
    dc.calibration.set_Q_pixel_size(0.03)
    dc.calibration.set_Q_pixel_units("A^-1")
    path = tmp_path / "cube.h5"
    py4DSTEM.save(str(path), dc, mode="o")
    sig = load_quiet(path)
    md = sig.metadata.Stemstrain
    assert (md.kind, md.reader, md.calibrated) == ("4dstem", "EMD 1.0 (py4DSTEM)", True)
    ref = py4DSTEM.read(str(path))
    np.testing.assert_array_equal(sig.data, np.asarray(ref.data))
    axes = sig.axes_manager._axes
    assert [a.name for a in axes] == ["Rx", "Ry", "Qx", "Qy"]
    assert [a.units for a in axes] == ["nm", "nm", "1/nm", "1/nm"]
    assert [a.scale for a in axes] == pytest.approx([0.25, 0.25, 0.3, 0.3])
    assert ref.calibration.get_R_pixel_size() * 0.1 == pytest.approx(axes[0].scale)
    lazy = load_quiet(path, lazy=True)
    assert lazy._lazy
    np.testing.assert_array_equal(np.asarray(lazy.data[1, 2]), data[1, 2])


# ----------------------------------------------------------------------------- EMPAD
def test_empad_xml_and_raw(tmp_path):
    data = np.random.default_rng(4).random((3, 4, 130, 128)).astype("<f4")
    data.tofile(tmp_path / "scan_x4_y3.raw")
    # EMPAD header as the detector writes it (no whitespace between tags); field of view
    # in m, diffraction pixel in 1/m
    (tmp_path / "scan.xml").write_text(
        '<root><raw_file filename="scan_x4_y3.raw"/><pix_x>4</pix_x><pix_y>3</pix_y>'
        "<iom_measurements><optics><get_full_scan_field_of_view>[2e-9, 2e-9]"
        "</get_full_scan_field_of_view></optics><calibrated_pixelsize>2e-10"
        "</calibrated_pixelsize></iom_measurements></root>"
    )
    before = _sha(tmp_path / "scan_x4_y3.raw")
    sig = load_quiet(tmp_path / "scan.xml")
    assert _sha(tmp_path / "scan_x4_y3.raw") == before
    md = sig.metadata.Stemstrain
    assert (md.kind, md.reader, md.calibrated) == ("4dstem", "EMPAD", True)
    assert sig.data.shape == (3, 4, 128, 128)
    np.testing.assert_array_equal(sig.data, data[:, :, :128, :])  # 2 footer rows dropped
    assert [a.units for a in sig.axes_manager._axes] == ["nm", "nm", "1/nm", "1/nm"]
    assert sig.axes_manager.signal_axes[0].scale == pytest.approx(0.2)
    assert sig.axes_manager.navigation_axes[0].scale == pytest.approx(0.5)  # 2 nm / 4
    with pytest.raises(UnsupportedFormatError, match="load scan.xml instead"):
        ss.load(tmp_path / "scan.raw")


# ----------------------------------------------------------------------------- Arina
def test_arina_master_file(tmp_path):
    import h5py

    frames = np.random.default_rng(6).integers(0, 500, (9, 16, 16)).astype(np.uint16)
    with h5py.File(tmp_path / "run_master.h5", "w") as h5:
        h5.create_group("entry/data").create_dataset("data_000001", data=frames)
    with h5py.File(tmp_path / "run.h5", "w") as h5:  # the scan's metadata file
        h5.create_group("STEM Metadata").attrs["Pixel Size"] = np.array([0.25])  # nm
    before = _sha(tmp_path / "run_master.h5")
    with pytest.warns(UserWarning, match="run_master.h5: no usable calibration on qx"):
        sig = ss.load(tmp_path / "run_master.h5", lazy=True)  # reader is eager-only
    assert _sha(tmp_path / "run_master.h5") == before
    md = sig.metadata.Stemstrain
    assert (md.kind, md.reader) == ("4dstem", "Arina")
    assert any("cannot read lazily" in n for n in md.reader_warnings)
    np.testing.assert_array_equal(sig.data, frames.reshape(3, 3, 16, 16))
    nav = sig.axes_manager.navigation_axes
    assert [(a.units, a.scale) for a in nav] == [("nm", pytest.approx(0.25))] * 2
    assert not md.calibrated  # diffraction axes in units "1": recorded, not assumed
    assert md.missing_calibration == [
        "qx (reciprocal: no units (scale 1))",
        "qy (reciprocal: no units (scale 1))",
    ]


# ----------------------------------------------------------------------------- text spectra
def test_two_column_text_spectrum(tmp_path):
    e = 500 + 0.5 * np.arange(50)
    np.savetxt(tmp_path / "s.txt", np.c_[e, np.ones(50)], delimiter="\t")
    with pytest.warns(UserWarning, match="assumed energy column in eV"):
        sig = ss.load(tmp_path / "s.txt")
    assert sig.axes_manager[0].scale == pytest.approx(0.5)
    assert sig.metadata.Stemstrain.assumed.startswith("energy column in eV")


def test_text_errors(tmp_path):
    prose = tmp_path / "notes.txt"
    prose.write_text("sample grid 3, session notes\nnothing numeric here\n")
    before = _sha(prose)
    with pytest.raises(CorruptFileError, match="notes.txt: not a two-column text spectrum"):
        ss.load(prose)
    assert _sha(prose) == before
    uneven = tmp_path / "uneven.txt"  # increasing, unevenly spaced: resampled, with a warning
    np.savetxt(uneven, np.c_[[1.0, 2.0, 2.0, 4.0, 5.0], [1, 2, 4, 7, 8]])
    with pytest.warns(UserWarning, match="resampled onto a uniform 1 eV grid"):
        sig = ss.load(uneven)
    np.testing.assert_allclose(sig.data, [1, 3, 5, 7, 8])  # repeats averaged, then linear
    assert sig.axes_manager[0].scale == pytest.approx(1.0)
    decreasing = tmp_path / "decreasing.txt"
    np.savetxt(decreasing, np.c_[[4.0, 3.0, 2.0, 1.0], [1, 2, 3, 4]])
    with pytest.raises(CorruptFileError, match="energy column is not increasing"):
        ss.load(decreasing)
    three = tmp_path / "three.csv"
    three.write_text("1,2,3\n4,5,6\n7,8,9\n")
    with pytest.raises(CorruptFileError, match=r"text table of shape \(3, 3\)"):
        ss.load(three)


# ----------------------------------------------------------------------------- errors
def test_unsupported_extension(tmp_path):
    p = tmp_path / "data.xyz"
    p.write_bytes(b"abc")
    with pytest.raises(
        UnsupportedFormatError,
        match=r"data.xyz: unsupported format '.xyz'; "
        r"supported: .* \.dm3 .*\.npy",
    ):
        ss.load(p)
    with pytest.raises(UnsupportedFormatError, match="unsupported format '\\(no extension\\)'"):
        ss.load(tmp_path / "noext")


def test_empad_raw_points_to_its_xml(tmp_path):
    raw = tmp_path / "scan.raw"
    raw.write_bytes(b"\x00" * 64)
    with pytest.raises(UnsupportedFormatError, match="scan.raw: .*load the .xml written with it"):
        ss.load(raw)
    (tmp_path / "scan.xml").write_text("<root/>")
    with pytest.raises(UnsupportedFormatError, match="load scan.xml instead"):
        ss.load(raw)


def test_merlin_hdr_without_mib(tmp_path):
    hdr = tmp_path / "scan.hdr"
    hdr.write_text("HDR,\n")
    with pytest.raises(UnsupportedFormatError, match="scan.hdr: a Merlin .hdr header holds no"):
        ss.load(hdr)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(StemstrainError, match="missing.dm4: no such file"):
        ss.load(tmp_path / "missing.dm4")
    (tmp_path / "d.hspy").mkdir()
    with pytest.raises(StemstrainError, match="is a directory"):
        ss.load(tmp_path / "d.hspy")
    with pytest.raises(StemstrainError, match="path must be one file"):
        ss.load([tmp_path / "a.dm4"])
    with pytest.raises(StemstrainError, match="path must be a str or Path"):
        ss.load(3.5)


def test_empty_emd(tmp_path):
    p = tmp_path / "empty.emd"
    p.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="empty.emd: file is empty"):
        ss.load(p)
    assert p.read_bytes() == b""


def test_random_bytes_dm4(tmp_path):
    p = tmp_path / "random.dm4"
    p.write_bytes(np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    before = _sha(p)
    with pytest.raises(CorruptFileError, match="random.dm4: cannot read as DigitalMicrograph"):
        ss.load(p)
    assert _sha(p) == before


def test_truncated_hspy(tmp_path):
    s = _signal(np.ones((64, 64), np.float32), [_ax(64, 0.02, "nm", "y"), _ax(64, 0.02, "nm", "x")])
    s.save(tmp_path / "full.hspy")
    blob = (tmp_path / "full.hspy").read_bytes()
    p = tmp_path / "trunc.hspy"
    p.write_bytes(blob[: len(blob) // 3])
    before = _sha(p)
    with pytest.raises(CorruptFileError, match="trunc.hspy: cannot read as HSPY"):
        ss.load(p)
    assert _sha(p) == before


def test_not_hdf5_and_unknown_hdf5(tmp_path):
    import h5py

    p = tmp_path / "fake.h5"
    p.write_bytes(b"this is not hdf5" * 10)
    with pytest.raises(CorruptFileError, match="fake.h5: not an HDF5 file"):
        ss.load(p)
    q = tmp_path / "other.h5"
    with h5py.File(q, "w") as h5:
        h5.create_dataset("something", data=np.zeros(3))
    before = _sha(q)
    with pytest.raises(UnsupportedFormatError, match="other.h5: HDF5 file of unknown layout"):
        ss.load(q)
    assert _sha(q) == before


def test_emd1_without_arrays(tmp_path):
    import h5py

    p = tmp_path / "noarr.h5"
    with h5py.File(p, "w") as h5:
        h5.attrs["emd_group_type"] = "file"
        h5.attrs["version_major"] = 1
        h5.create_group("root")
    with pytest.raises(CorruptFileError, match="EMD 1.0 file holds no array"):
        ss.load(p)


def test_truncated_dm3(shared_data_dir, tmp_path):
    blob = (shared_data_dir / "rosettasciio__dm_2D__multi_signal_HAADF.dm3").read_bytes()
    p = tmp_path / "trunc.dm3"
    p.write_bytes(blob[:20000])
    before = _sha(p)
    with pytest.raises(CorruptFileError, match="trunc.dm3: cannot read as DigitalMicrograph"):
        ss.load(p)
    assert _sha(p) == before


# ----------------------------------------------------------------------------- primary rule
def test_pick_primary_prefers_haadf_image_then_largest():
    import hyperspy.api as hs

    from stemstrain.io import pick_primary

    def sig(shape, title, cls=hs.signals.Signal2D):
        s = cls(np.zeros(shape))
        s.metadata.General.title = title
        return s

    sigs = [
        sig((64,), "Profile", hs.signals.Signal1D),
        sig((128, 128), "DF4"),
        sig((64, 64), "HAADF"),
        sig((4096,), "EDS", hs.signals.Signal1D),
    ]
    assert pick_primary(sigs) == 2
    assert pick_primary(sigs[:2] + sigs[3:]) == 1  # no HAADF: the largest image
    assert pick_primary([sigs[0], sigs[3]]) == 1  # no image: the largest signal
    assert pick_primary(sigs, name="df4") == 1
    assert pick_primary(sigs, signal_index=-1) == 3
    with pytest.raises(StemstrainError, match="signal_index=4 out of range"):
        pick_primary(sigs, signal_index=4)
    with pytest.raises(StemstrainError, match="no signal titled like 'BF'"):
        pick_primary(sigs, name="BF")


# ----------------------------------------------------------------------------- MRC
def _write_mrc(path, data, pixel_angstrom):
    """Minimal MRC2014 file (mode 2, float32) with the cell size giving the pixel size in Å."""
    nz = 1 if data.ndim == 2 else data.shape[0]
    ny, nx = data.shape[-2:]
    head = np.zeros(256, dtype="<i4")
    headf = head.view("<f4")
    head[0:3] = nx, ny, nz
    head[3] = 2
    head[7:10] = nx, ny, nz
    headf[10:13] = nx * pixel_angstrom, ny * pixel_angstrom, nz * pixel_angstrom
    headf[13:16] = 90.0
    head[16:19] = 1, 2, 3
    raw = head.tobytes()
    raw = raw[:208] + b"MAP " + b"\x44\x44\x00\x00" + raw[216:]
    with open(path, "wb") as fh:
        fh.write(raw)
        fh.write(np.ascontiguousarray(data, "<f4").tobytes())


def test_mrc_image_in_angstrom(tmp_path):
    data = np.random.default_rng(2).random((32, 40)).astype(np.float32)
    _write_mrc(tmp_path / "a.mrc", data, 0.5)
    sig = load_quiet(tmp_path / "a.mrc")
    assert sig.metadata.Stemstrain.kind == "image" and sig.metadata.Stemstrain.calibrated
    assert [a.units for a in sig.axes_manager.signal_axes] == ["nm", "nm"]
    assert sig.axes_manager.signal_axes[0].scale == pytest.approx(0.05, rel=1e-6)
    np.testing.assert_array_equal(sig.data, data)
    truncated = tmp_path / "t.mrc"
    truncated.write_bytes((tmp_path / "a.mrc").read_bytes()[:1500])
    with pytest.raises(CorruptFileError, match="t.mrc: cannot read as MRC"):
        ss.load(truncated)


def test_calibration_warning_points_at_the_caller(tmp_path):
    np.save(tmp_path / "img.npy", np.zeros((8, 8)))
    with pytest.warns(UserWarning, match="img.npy: no usable calibration on axis 0") as rec:
        ss.load(tmp_path / "img.npy")
    # (other warnings may be recorded too, e.g. a third-party module compiled for the first time
    # in a fresh venv warns from ast.py; the calibration warning itself must point here)
    ours = [w for w in rec if "no usable calibration" in str(w.message)]
    assert ours and all(w.filename == __file__ for w in ours)
