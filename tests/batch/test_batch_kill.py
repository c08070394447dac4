"""Nothing lost: SIGKILL a running batch, then --resume; every result complete and readable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import pytest
from batch_helpers import PX, save_signal

from stemstrain.batch import load_config, run_batch
from stemstrain.batch._run import clean_stale

N_FILES = 6


def _complete(folder) -> bool:
    """A results folder is complete: summary.json ok and a readable results.h5 with its groups."""
    summary = json.loads((folder / "summary.json").read_text())
    if summary["status"] != "ok":
        return False
    with h5py.File(folder / "results.h5", "r") as h5:
        return all(k in h5 for k in ("gpa/exx", "gpa/e_nn", "columns", "stacking/label_map"))


def _visible_folders(out):
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


@pytest.fixture
def big_session(tmp_path, session_template):
    from stemstrain.synthetic import layered_oxide

    src, lattices = session_template
    sess = tmp_path / "kill_session"
    sess.mkdir()
    for i in range(N_FILES):
        lat = layered_oxide(
            (256, 256), pixel_size=PX, angle_deg=3.0 * i, o1_gaps=(1, 1), seed=10 + i
        )
        save_signal(lat.image, sess / f"img{i:02d}.hspy")
    return sess


def test_sigkill_then_resume(big_session, nofig_config, tmp_path):
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "stemstrain.cli",
        "batch",
        str(big_session),
        "--out",
        str(out),
        "--config",
        str(nofig_config),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if out.is_dir() and any((d / "summary.json").exists() for d in _visible_folders(out)):
                break
            time.sleep(0.05)
        finished_early = proc.poll() is not None
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert not finished_early, "the batch finished before it could be killed"
    # right after the kill: every visible folder is complete; partial work is hidden
    visible = _visible_folders(out)
    assert 1 <= len(visible) < N_FILES
    for d in visible:
        assert _complete(d), d
    assert not (out / "summary.csv").exists()  # the session did not finish
    done_before = {d.name: (d / "results.h5").stat().st_mtime_ns for d in visible}

    result = run_batch(big_session, out, load_config(nofig_config), resume=True, progress=False)
    assert result.exit_code == 0
    assert result.count("ok") == N_FILES
    assert result.n_resumed == len(done_before)  # the finished ones were not redone
    for d in _visible_folders(out):
        assert _complete(d), d
    assert len(_visible_folders(out)) == N_FILES
    for name, mtime in done_before.items():
        assert (out / name / "results.h5").stat().st_mtime_ns == mtime
    assert not [p for p in out.rglob(".*") if "tmp-" in p.name or "old-" in p.name]


def test_clean_stale_removes_only_its_own_marked_partials(tmp_path):
    from stemstrain.batch._safety import mark_results

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "summary.json").write_text("{}")
    for name in (".a.tmp-host-1-abc", ".a.old-host-2-def"):
        (tmp_path / name).mkdir()
        mark_results(tmp_path / name, "a.hspy")
    (tmp_path / ".a.tmp-user-notes").mkdir()  # the user's own: no marker
    (tmp_path / ".a.tmp-user-notes" / "notes.txt").write_text("mine")
    (tmp_path / ".b.tmp-host-1-abc").mkdir()  # another input's: not touched here
    mark_results(tmp_path / ".b.tmp-host-1-abc", "b.hspy")
    assert clean_stale(tmp_path / "a") == 2
    assert (tmp_path / "a" / "summary.json").exists()
    assert not (tmp_path / ".a.tmp-host-1-abc").exists()
    assert not (tmp_path / ".a.old-host-2-def").exists()
    assert (tmp_path / ".a.tmp-user-notes" / "notes.txt").read_text() == "mine"
    assert (tmp_path / ".b.tmp-host-1-abc").exists()
