"""Issue 13 item 8: a small corpus of bad files; each exits 2 with one line, none read as data.

Truncated TIFF/MIB/BLO/MSA (shorter than their headers say), random bytes named .msa,
a decompression-bomb TIFF (refused from its header: < 1 s, < 500 MB RSS), and inputs
whose values cannot be analysed (all NaN, all zero, all negative; images and EELS).
The good versions of the same files load (the checks do not refuse everything).
"""

from __future__ import annotations

import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from stemstrain.cli import main

_MIB_HEAD = (
    "MQ1,{i:06d},00384,01,{w:04d},{h:04d},U08,   1x1,01,2021-05-07 18:51:10.905800,0.100000,"
    "0,0,0,4.000000E+1,5.110000E+2,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,"
    "0.000000E+0,0.000000E+0,3RX,068,511,000,000,000,000,000,000,100,255,100,125,100,100,"
    "080,100,090,030,128,004,255,126,128,174,172,511,511,MQ1A,2021-05-07T16:51:10.905800928Z,"
    "100000000ns,6,"
)


def _mib(n: int = 6, h: int = 8, w: int = 8) -> bytes:
    return b"".join(
        _MIB_HEAD.format(i=i + 1, w=w, h=h).encode().ljust(384, b"\0")
        + np.full(h * w, i + 1, np.uint8).tobytes()
        for i in range(n)
    )


def _bomb(path: Path) -> None:
    """A 1.5 MB zlib TIFF that decodes to 40000 x 40000 uint8 (1.5 GiB)."""
    import tifffile

    rows, side = 2000, 40000
    strip = zlib.compress(bytes(rows * side), 6)
    tifffile.imwrite(
        path,
        (strip for _ in range(side // rows)),
        shape=(side, side),
        dtype=np.uint8,
        rowsperstrip=rows,
        compression="zlib",
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # writers' notes (e.g. .blo units)
        return _build(tmp_path_factory.mktemp("corpus"))


def _build(d: Path) -> dict:
    import hyperspy.api as hs
    import tifffile

    good, bad = {}, {}
    img = np.random.default_rng(1).integers(1, 1000, (64, 64)).astype(np.uint16)
    tifffile.imwrite(d / "good.tif", img)
    blob = (d / "good.tif").read_bytes()
    (d / "trunc.tif").write_bytes(blob[: len(blob) * 2 // 3])
    (d / "good.mib").write_bytes(_mib())
    (d / "trunc.mib").write_bytes(_mib()[:-30])
    cube = hs.signals.Signal2D(
        np.random.default_rng(2).integers(1, 200, (3, 4, 16, 16)).astype(np.uint8)
    )
    cube.save(d / "good.blo")
    blob = (d / "good.blo").read_bytes()
    (d / "trunc.blo").write_bytes(blob[:-100])
    spec = hs.signals.Signal1D(np.linspace(1.0, 50.0, 200))
    spec.axes_manager[0].units, spec.axes_manager[0].scale = "eV", 0.5
    spec.save(d / "good.msa")
    lines = (d / "good.msa").read_text().splitlines()
    (d / "trunc.msa").write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    (d / "random.msa").write_bytes(
        np.random.default_rng(3).integers(0, 256, 4000, np.uint8).tobytes()
    )
    _bomb(d / "bomb.tif")
    np.save(d / "zero_cube.npy", np.zeros((4, 4, 16, 16), np.float32))
    good = {n: d / n for n in ("good.tif", "good.mib", "good.blo", "good.msa")}
    bad = {
        n: d / n
        for n in ("trunc.tif", "trunc.mib", "trunc.blo", "trunc.msa", "random.msa", "bomb.tif")
    }
    for name, data, kind in (
        ("zero_image.hspy", np.zeros((64, 64)), "image"),
        ("negative_image.hspy", -1.0 - img.astype(float), "image"),
        ("nan_eels.hspy", np.full((5, 300), np.nan), "eels"),
        ("zero_eels.hspy", np.zeros((5, 300)), "eels"),
    ):
        sig = hs.signals.Signal1D(data) if kind == "eels" else hs.signals.Signal2D(data)
        if kind == "eels":
            ax = sig.axes_manager.signal_axes[0]
            ax.units, ax.scale, ax.offset = "eV", 1.0, 450.0
            sig.set_signal_type("EELS")
        else:
            for ax in sig.axes_manager.signal_axes:
                ax.units, ax.scale = "nm", 0.02
        sig.save(d / name)
        bad[name] = d / name
    bad["zero_cube.npy"] = d / "zero_cube.npy"
    return {"good": good, "bad": bad, "dir": d}


BAD_INFO = {
    "trunc.tif": "truncated",
    "trunc.mib": "truncated",
    "trunc.blo": "truncated",
    "trunc.msa": "truncated",
    "random.msa": "no data values",
    "bomb.tif": "bomb",
}
BAD_VALUES = {
    "zero_image.hspy": "constant",
    "negative_image.hspy": "no positive value",
    "nan_eels.hspy": "all NaN",
    "zero_eels.hspy": "constant",
    "zero_cube.npy": "the 4dstem data are constant",
}


@pytest.mark.parametrize("name", sorted(BAD_INFO))
def test_bad_file_info_exit_2_one_line(corpus, capsys, name):
    path = corpus["bad"][name]
    before = path.read_bytes()
    assert main(["info", str(path)]) == 2
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in cap.err, cap.err
    assert lines[0].startswith("stemstrain: error: ") and name in lines[0]
    assert BAD_INFO[name] in lines[0]
    assert cap.out == "" and path.read_bytes() == before


@pytest.mark.parametrize("name", sorted(BAD_INFO) + sorted(BAD_VALUES))
def test_bad_file_analyze_exit_2_one_line(corpus, capsys, tmp_path, name):
    path = corpus["bad"][name]
    code = main(["analyze", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert code == 2, cap.err
    assert len(lines) == 1 and "Traceback" not in cap.err, cap.err
    assert {**BAD_INFO, **BAD_VALUES}[name] in lines[0]


@pytest.mark.parametrize("name", ["good.tif", "good.mib", "good.blo", "good.msa"])
def test_good_versions_load(corpus, name):
    import warnings

    import stemstrain as ss

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # uncalibrated detector axes: warned, recorded
        sig = ss.load(corpus["good"][name])
    assert sig.data.size > 0 and np.isfinite(np.asarray(sig.data, float)).all()
    if name == "good.mib":
        assert sig.data.shape == (6, 8, 8) and sig.data[5, 0, 0] == 6


def test_good_values_load_with_rosettasciio_logs_off_stdout(corpus, capfd):
    import stemstrain as ss

    capfd.readouterr()
    with pytest.warns(UserWarning):
        ss.load(corpus["good"]["good.mib"])  # RosettaSciIO logs "hdr file couldn't be found"
    assert capfd.readouterr().out == ""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_bomb_refused_fast_and_small(corpus):
    # CPU time of the refusal (the shared machine's load does not inflate it) and peak RSS.
    # Peak RSS from /proc (VmHWM, per address space): getrusage's ru_maxrss survives execve on
    # Linux, so a child forked from a large pytest process would report the parent's peak.
    code = (
        "import sys, time; from stemstrain.cli import main; "
        "t = time.process_time(); rc = main(['info', sys.argv[1]]); "
        "hwm = [ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('VmHWM')]; "
        "print(rc, time.process_time() - t, hwm[0])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(corpus["bad"]["bomb.tif"])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    rc, cpu_s, rss_kb = proc.stdout.split()[-3:]
    assert rc == "2" and "decompression bomb" in proc.stderr, (proc.stdout, proc.stderr)
    assert float(cpu_s) < 1.0 and int(rss_kb) < 500 * 1024, proc.stdout


def test_size_limit_before_allocation(corpus):
    import stemstrain as ss
    from stemstrain.errors import CorruptFileError, InputShapeError

    with pytest.raises(InputShapeError, match="above the limit"):
        ss.load(corpus["good"]["good.tif"], max_gb=1e-6)
    with pytest.raises(CorruptFileError, match="bomb"):
        ss.load(corpus["bad"]["bomb.tif"], lazy=True)
