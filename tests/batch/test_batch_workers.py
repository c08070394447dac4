"""Issue 13 item 4: a dead worker fails one input only; workers die with the parent; Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from batch_helpers import PX, crash_target, save_signal

from stemstrain.batch import parse_config, run_batch
from stemstrain.batch._workers import WorkerPool

psutil = pytest.importorskip("psutil")
FAST = {"analyses": {"image": ["columns"]}, "run": {"figures": False}}
N = 10  # the reproduction: 10 inputs, one worker killed


@pytest.fixture(scope="module")
def small_session(tmp_path_factory) -> Path:
    from stemstrain.synthetic import layered_oxide

    sess = tmp_path_factory.mktemp("workers") / "sess"
    sess.mkdir()
    for i in range(N):
        save_signal(
            layered_oxide((96, 96), pixel_size=PX, seed=20 + i).image, sess / f"img{i:02d}.hspy"
        )
    (sess.parent / "fast.toml").write_text(
        '[analyses]\nimage = ["columns"]\n[run]\nfigures = false\n'
    )
    return sess


def _workers_of(pid: int) -> list:
    """Worker processes: grandchildren of ``pid`` (children of its forkserver)."""
    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [k for k in kids if _ppid(k) not in (pid, None)]


def _ppid(p):
    try:
        return p.ppid()
    except psutil.NoSuchProcess:
        return None


def _alive(p) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_pool_retries_once_then_reports_the_signal():
    tasks = [("ok", 0), ("crash", 1), ("ok", 2), ("ok", 3)]
    with WorkerPool(2, target=crash_target) as pool:
        got = dict(pool.run(tasks))
    assert sorted(got) == [0, 1, 2, 3]
    assert got[0]["i"] == 0 and got[2]["i"] == 2 and got[3]["i"] == 3
    assert isinstance(got[1], str) and "SIGKILL" in got[1] and "failed twice" in got[1]


def test_one_killed_worker_fails_at_most_its_input(small_session, tmp_path):
    killed = []

    def killer():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for w in _workers_of(os.getpid()):
                try:
                    w.send_signal(signal.SIGKILL)  # as the OOM killer would
                    killed.append(w.pid)
                    return
                except psutil.NoSuchProcess:
                    pass
            time.sleep(0.02)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    res = run_batch(
        small_session, tmp_path / "out", parse_config(FAST), workers=2, progress=False, report=False
    )
    t.join(5)
    assert killed, "no worker was seen"
    ok, failed = res.count("ok"), res.count("failed")
    assert ok + failed == N and ok >= N - 1  # retried: N ok, or N-1 ok + 1 failed
    for r in res.rows:
        if r["status"] == "failed":
            assert "worker" in r["error"] and "SIGKILL" in r["error"]
        else:  # every ok input has its complete, marked folder
            assert (Path(r["output"]) / "summary.json").is_file()
            assert (Path(r["output"]) / ".stemstrain-results").is_file()
    if ok == N:  # the retry cleaned what the killed worker left behind
        assert not [p for p in (tmp_path / "out").rglob(".*") if ".tmp-" in p.name]


def _start(small_session, out, extra=()):
    cmd = [
        sys.executable,
        "-m",
        "stemstrain.cli",
        "batch",
        str(small_session),
        "--out",
        str(out),
        "--config",
        str(small_session.parent / "fast.toml"),
        "--quiet",
        "--workers",
        "2",
        *extra,
    ]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_workers(proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        ws = _workers_of(proc.pid)
        if ws:
            return ws
        time.sleep(0.05)
    return []


def test_parent_death_ends_the_workers(small_session, tmp_path):
    proc = _start(small_session, tmp_path / "out")
    try:
        workers = _wait_workers(proc)
        assert workers, "no worker started"
        server = [psutil.Process(w.ppid()) for w in workers[:1]]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in workers + server):
            time.sleep(0.1)
        assert not [p.pid for p in workers + server if _alive(p)]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def test_ctrl_c_cancels_queued_inputs_with_one_line(small_session, tmp_path):
    out = tmp_path / "out"
    proc = _start(small_session, out)
    try:
        workers = _wait_workers(proc)
        assert workers, "no worker started"
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 130, err
    assert len(lines) == 1 and "interrupted" in lines[0] and "Traceback" not in err.decode()
    done = [d for d in out.iterdir() if d.is_dir() and not d.name.startswith(".")]
    assert len(done) < N  # queued inputs were not run
    time.sleep(0.5)
    assert not [w.pid for w in workers if _alive(w)]
