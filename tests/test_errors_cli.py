"""``stemstrain info`` end to end in a subprocess: exit codes, one-line errors, inputs untouched."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = (Path(__file__).resolve().parent.parent / ".." / "shared" / "data").resolve()


def shared_data_available() -> bool:
    return (SHARED_DATA / "expected.json").is_file()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_info(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stemstrain.cli", "info", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _hspy(tmp_path: Path) -> Path:
    import hyperspy.api as hs

    s = hs.signals.Signal2D(np.arange(64 * 48, dtype=np.uint16).reshape(64, 48))
    for ax in s.axes_manager.signal_axes:
        ax.scale, ax.units = 0.2, "Å"
    s.metadata.set_item("Acquisition_instrument.TEM.beam_energy", 300.0)
    s.metadata.set_item("Acquisition_instrument.TEM.convergence_angle", 25.0)
    s.metadata.General.title = "HAADF"
    path = tmp_path / "good.hspy"
    s.save(path)
    return path


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {}
    blob = _hspy(tmp_path).read_bytes()
    files["truncated.hspy"] = tmp_path / "truncated.hspy"
    files["truncated.hspy"].write_bytes(blob[: len(blob) // 2])
    files["random.dm4"] = tmp_path / "random.dm4"
    files["random.dm4"].write_bytes(
        np.random.default_rng(7).integers(0, 256, 8192, dtype=np.uint8).tobytes()
    )
    files["empty.emd"] = tmp_path / "empty.emd"
    files["empty.emd"].write_bytes(b"")
    files["notes.txt"] = tmp_path / "notes.txt"
    files["notes.txt"].write_text("grid 3, area 2: looks bent near the edge\n")
    files["data.xyz"] = tmp_path / "data.xyz"
    files["data.xyz"].write_bytes(b"\x00\x01")
    if shared_data_available():
        dm3 = (SHARED_DATA / "rosettasciio__dm_2D__multi_signal_HAADF.dm3").read_bytes()
        files["truncated.dm3"] = tmp_path / "truncated.dm3"
        files["truncated.dm3"].write_bytes(dm3[:30000])
    return files


EXPECTED_MESSAGE = {
    "truncated.hspy": "cannot read as HSPY",
    "random.dm4": "cannot read as DigitalMicrograph",
    "empty.emd": "file is empty",
    "notes.txt": "not a two-column text spectrum",
    "data.xyz": "unsupported format '.xyz'",
    "truncated.dm3": "cannot read as DigitalMicrograph",
}


def test_info_good_file_exit_0(tmp_path):
    path = _hspy(tmp_path)
    before = _sha(path)
    proc = run_info(path)
    assert proc.returncode == 0, proc.stderr
    assert _sha(path) == before
    out = proc.stdout
    assert "kind:        image" in out
    assert "(64, 48)" in out and "uint16" in out
    assert "0.02 nm" in out  # 0.2 Å shown in nm
    assert "calibrated:  yes" in out
    assert "beam_energy_kV           300 kV" in out
    assert "convergence_angle_mrad   25 mrad" in out


def test_info_uncalibrated_npy_says_so(tmp_path):
    path = tmp_path / "cube.npy"
    np.save(path, np.zeros((2, 3, 8, 8), np.uint8))
    proc = run_info(path)
    assert proc.returncode == 0, proc.stderr
    assert "kind:        4dstem" in proc.stdout
    assert "calibrated:  NO" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", sorted(EXPECTED_MESSAGE))
def test_info_bad_file_exit_2_one_line_untouched(tmp_path, name):
    files = _bad_files(tmp_path)
    if name not in files:
        pytest.skip(f"needs a real .dm3 from {SHARED_DATA}")
    path = files[name]
    before = _sha(path)
    proc = run_info(path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("stemstrain: error: ")
    assert name in lines[0] and EXPECTED_MESSAGE[name] in lines[0]
    assert _sha(path) == before


def test_info_missing_file_exit_2(tmp_path):
    proc = run_info(tmp_path / "nope.dm3")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"stemstrain: error: {tmp_path / 'nope.dm3'}: no such file"
    ]


@pytest.mark.shared_data
def test_info_real_files(shared_data_dir):
    paths = [
        shared_data_dir / n
        for n in (
            "rosettasciio__dm_3D__EELS_SI.dm4",
            "rosettasciio__quantumdetector__001_4x2_6bit.mib",
            "openNCEM__ncempy_data__16_STOimage.emi",
        )
    ]
    proc = run_info(*paths)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no reader log noise (e.g. HyperSpy's unknown signal_type)
    assert proc.stdout.count("kind:") == 3
    assert "kind:        eels (spectrum image)" in proc.stdout
    assert "kind:        4dstem" in proc.stdout
    assert "collection_angle_mrad    62 mrad" in proc.stdout
