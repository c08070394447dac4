"""``stemstrain watch``: files written in slow pieces, Ctrl-C, kill -9 and restart (issue #17)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from batch_helpers import PX, save_signal

from stemstrain.synthetic import layered_oxide

CONFIG = """
[analyses]
image = ["gpa"]

[run]
figures = false

[gpa]
reference = [0, 128, 0, 128]
"""


class Watcher:
    """A ``stemstrain watch`` subprocess whose stdout lines are collected in a thread."""

    def __init__(self, session: Path, out: Path, cfg: Path) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stemstrain.cli",
                "watch",
                str(session),
                "--out",
                str(out),
                "--config",
                str(cfg),
                "--settle",
                "0.5",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: queue.Queue = queue.Queue()
        self.all: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line.rstrip()))

    def wait_for(self, text: str, timeout: float = 60.0, sha: str = "") -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                t, line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.proc.poll() is None, "\n".join(self.all)
                continue
            self.all.append(line)
            if text in line and sha in line:
                return t
        raise AssertionError(f"no line with {text!r} within {timeout} s: {self.all}")


def _image_bytes(tmp: Path, name: str, seed: int) -> bytes:
    lat = layered_oxide((128, 128), pixel_size=PX, angle_deg=5.0, seed=seed)
    save_signal(lat.image, tmp / name)
    return (tmp / name).read_bytes()


def _rows(out: Path) -> dict:
    with open(out / "summary.csv", newline="") as fh:
        return {r["path"]: r for r in csv.DictReader(fh)}


def _finished(out: Path, folder: str) -> str:
    return json.loads((out / folder / "summary.json").read_text())["finished"]


def test_watch_pieces_interrupt_kill_resume(tmp_path):  # noqa: PLR0915 - one scenario
    stage, session, out = tmp_path / "stage", tmp_path / "session", tmp_path / "out"
    stage.mkdir()
    session.mkdir()
    cfg = tmp_path / "watch.toml"
    cfg.write_text(CONFIG)
    data = {n: _image_bytes(stage, n, s) for n, s in (("a.hspy", 1), ("b.hspy", 2), ("c.hspy", 3))}
    (session / "a.hspy").write_bytes(data["a.hspy"])
    (session / "notes.txt").write_text("not data\n")

    # 1) a complete file, then one written in slow pieces (a pause longer than the settle)
    w = Watcher(session, out, cfg)
    w.wait_for("ok a.hspy")
    b = data["b.hspy"]
    with open(session / "b.hspy", "wb") as fh:
        fh.write(b[: len(b) // 2])
        fh.flush()
        time.sleep(1.5)
        fh.write(b[len(b) // 2 :])
    t_complete = time.monotonic()
    # the line of the complete file (a half file that happens to load is redone)
    t_ok = w.wait_for("ok b.hspy", timeout=60, sha=hashlib.sha256(b).hexdigest()[:12])
    assert t_ok - t_complete < 20.0
    w.proc.send_signal(signal.SIGINT)
    assert w.proc.wait(timeout=60) == 0
    rows = _rows(out)
    assert rows["a.hspy"]["status"] == "ok" and rows["b.hspy"]["status"] == "ok"
    assert rows["notes.txt"]["status"] == "skipped"
    html = (out / "report.html").read_text()
    assert "http-equiv='refresh'" in html and "b.hspy" in html
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]
    import h5py

    with h5py.File(out / "b_hspy" / "results.h5", "r") as h5:
        assert h5["gpa/exx"].shape == (128, 128)
        assert h5.attrs["input_sha256"] == hashlib.sha256(b).hexdigest()
        exx = h5["gpa/exx"][()]
    import stemstrain as ss

    with warnings.catch_warnings():  # the batch records GPA's quality warnings; so may we
        warnings.simplefilter("ignore", UserWarning)
        truth = ss.gpa(ss.load(session / "b.hspy"), reference=(0, 128, 0, 128)).exx
    np.testing.assert_allclose(exx, truth, atol=1e-6, equal_nan=True)
    done_a, done_b = _finished(out, "a_hspy"), _finished(out, "b_hspy")

    # 2) restart: finished files are not redone; a new file is processed; then kill -9
    (session / "c.hspy").write_bytes(data["c.hspy"])
    w = Watcher(session, out, cfg)
    w.wait_for("ok c.hspy")
    w.proc.send_signal(signal.SIGKILL)
    w.proc.wait(timeout=30)
    assert "ok (up to date) a.hspy" in "\n".join(w.all) or _finished(out, "a_hspy") == done_a
    done_c = _finished(out, "c_hspy")

    # 3) restart after kill -9 (in this process: saves a process start; SIGINT/SIGTERM share
    # one handler): everything up to date, nothing redone
    from stemstrain.batch import load_config, watch

    seen: list[dict] = []
    res = watch(
        session,
        out,
        load_config(cfg),
        settle=0.5,
        poll=0.1,
        on_result=seen.append,
        stop=lambda: len(seen) >= 3,
    )
    assert sorted(r["path"] for r in seen) == ["a.hspy", "b.hspy", "c.hspy"]
    assert all(r["resumed"] and r["status"] == "ok" for r in seen)
    assert (_finished(out, "a_hspy"), _finished(out, "b_hspy"), _finished(out, "c_hspy")) == (
        done_a,
        done_b,
        done_c,
    )
    assert res.count("ok") == 3
    rows = _rows(out)
    assert all(rows[n]["status"] == "ok" for n in ("a.hspy", "b.hspy", "c.hspy"))
    assert all(rows[n]["resumed"] == "True" for n in ("a.hspy", "b.hspy", "c.hspy"))


def test_watch_errors(tmp_path):
    from stemstrain.batch import load_config, watch
    from stemstrain.errors import StemstrainError

    cfg = load_config(None)
    with pytest.raises(StemstrainError, match="session folder"):
        watch(tmp_path / "missing", tmp_path / "out", cfg, stop=lambda: True)
    (tmp_path / "s").mkdir()
    with pytest.raises(StemstrainError, match="settle"):
        watch(tmp_path / "s", tmp_path / "out", cfg, settle=-1)
    res = watch(tmp_path / "s", tmp_path / "out", cfg, stop=lambda: True)
    assert res.rows == [] and (tmp_path / "out" / "report.html").is_file()
