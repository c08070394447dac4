"""``stemstrain watch``: process the files of a session while it is being acquired.

A polling loop (no extra dependency) over :func:`~stemstrain.batch._discover.discover`:

* a file is **complete** when its size and mtime (and its companions') have not changed for
  ``settle`` seconds; it is then processed once by the batch's own per-input processing
  (:func:`~stemstrain.batch._run.process_input` with ``resume=True``, so the results folder,
  its atomic writing and the resume check are exactly those of ``batch --resume``);
* a file that fails to **load** while it changed during the attempt (still being written) is
  not recorded: it is retried when it is stable again. A stable file that fails is
  recorded as failed and retried whenever it changes;
* after each finished file ``summary.csv`` and ``report.html`` (with a meta refresh) are
  rewritten atomically (the batch's writers), and one line is printed;
* SIGINT/SIGTERM set a stop flag: the file being processed is finished (or, at a second
  signal, abandoned - it leaves only a hidden temp folder), the summary and report are
  written, and :func:`watch` returns (exit 0). A restart resumes like ``batch --resume``:
  finished inputs are hash-checked, not redone.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import StemstrainError
from ._config import Config
from ._discover import discover
from ._run import Task, process_input
from ._safety import OutputLock, escape, make_output
from ._session import SessionResult, _check_dirs, _skipped_row, _tasks, write_summary_csv

__all__ = ["watch", "WatchState"]

#: seconds between refreshes of report.html in a browser
REFRESH_S = 5


@dataclass
class _FileState:
    sig: tuple = ()
    since: float = 0.0
    done_sig: tuple | None = None
    row: dict | None = None
    force: bool = False


@dataclass
class WatchState:
    """What a watch has seen (returned by :func:`watch`, also for the napari widget).

    Attributes
    ----------
    files : dict
        Relative path -> per-file state (signature, stable-since, last processed row).
    rows : list of dict
        The latest summary rows, in session order (as in ``summary.csv``).
    n_processed : int
        Inputs processed (or resume-checked) by this watch.
    """

    files: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
    n_processed: int = 0


def _signature(paths: list) -> tuple:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            return ("missing", str(p))
        out.append((st.st_size, st.st_mtime_ns))
    return tuple(out)


def _task(entry: Any, out_root: Path, config: Config, *, resume: bool) -> Task:
    """Build the batch's task for one entry (no progress bar: one line per file instead)."""
    return _tasks([entry], out_root, config, resume=resume, progress=False)[0]


def _loaded_other_content(entry: Any, out_root: Path) -> bool:
    """Tell whether existing results were computed from other bytes than the file has now.

    ``batch --resume`` compares the hash taken when the results were written; a file that
    was still growing while it was analysed can match that hash although the analysis read
    a shorter file. ``input_sha256`` is taken before loading, so compare it too.
    """
    from ..results import file_sha256
    from ._run import read_summary

    old = read_summary(out_root / entry.out_rel)
    if not old or not old.get("input_sha256"):
        return False
    try:
        return old["input_sha256"] != file_sha256(entry.path)
    except OSError:
        return True


def _pending_row(entry: Any, out_root: Path) -> dict:
    return {
        "path": entry.rel,
        "input": str(entry.path),
        "kind": "",
        "status": "pending",
        "error": "not complete yet (size/mtime still changing) or not processed yet",
        "keys": {},
        "output": str(out_root / entry.out_rel),
        "resumed": False,
        "figures": [],
    }


def _line(row: dict) -> str:
    status = (
        "ok (up to date)" if row.get("resumed") and row.get("status") == "ok" else row.get("status")
    )
    dur = row.get("duration_s")
    extra = f" {dur:.1f} s" if isinstance(dur, (int, float)) and not row.get("resumed") else ""
    err = f": {row.get('error')}" if row.get("status") == "failed" else ""
    if row.get("status") == "failed":
        err += " (retried when the file changes)"
    sha = f" [sha256 {row['input_sha256'][:12]}]" if row.get("input_sha256") else ""
    return escape(f"stemstrain watch: {status} {row['path']}{extra}{sha}{err}")


def _write_outputs(state: WatchState, out_dir: Path, session: Path) -> None:
    from ..results import atomic_write_text
    from ._report import render_report

    write_summary_csv(out_dir / "summary.csv", state.rows, out_dir=out_dir)
    html = render_report(state.rows, out_dir=out_dir, session=session)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    html = html.replace(
        "<meta charset='utf-8'>",
        f"<meta charset='utf-8'><meta http-equiv='refresh' content='{REFRESH_S}'>",
        1,
    )
    html = html.replace(
        "<h1>stemstrain session report</h1>",
        f"<h1>stemstrain session report (watch, updated {stamp})</h1>",
        1,
    )
    atomic_write_text(out_dir / "report.html", html)


def _poll(
    state: WatchState,
    session: Path,
    out_dir: Path,
    config: Config,
    settle: float,
) -> list:
    """One scan: update signatures; return the entries ready to process (and refresh rows)."""
    root = out_dir.resolve()
    entries = discover(session, config, out_dir=out_dir)
    now = time.monotonic()
    ready, rows = [], []
    for e in entries:
        if e.status != "todo":
            rows.append(_skipped_row(e))
            continue
        fs = state.files.setdefault(e.rel, _FileState())
        sig = _signature([e.path, *e.companions])
        if sig != fs.sig:
            fs.sig, fs.since = sig, now
        if fs.done_sig != sig and now - fs.since >= settle and sig[0] != "missing":
            ready.append(e)
        rows.append(fs.row if fs.row is not None else _pending_row(e, root))
    state.rows = rows
    return ready


def _process(state: WatchState, entry: Any, out_dir: Path, config: Config) -> dict | None:
    """Process one complete file; None when it changed meanwhile (still being written)."""
    fs = state.files[entry.rel]
    before = fs.sig
    root = out_dir.resolve()
    resume = not fs.force and not _loaded_other_content(entry, root)
    row = process_input(_task(entry, root, config, resume=resume))
    after = _signature([entry.path, *entry.companions])
    if after != before:
        # changed during the attempt (still being written): whatever it gave is not final;
        # redo it (no resume) once it is stable again
        fs.sig, fs.since, fs.force = after, time.monotonic(), True
        return None
    fs.done_sig, fs.row, fs.force = before, row, False
    state.n_processed += 1
    return row


class _StopFlag:
    """SIGINT/SIGTERM -> stop after the current file; a second signal interrupts it."""

    def __init__(self, external: Callable[[], bool] | None) -> None:
        self.external = external
        self.count = 0
        self._old: dict = {}

    def __call__(self) -> bool:
        return self.count > 0 or bool(self.external and self.external())

    def _handler(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count > 1:
            raise KeyboardInterrupt

    def __enter__(self) -> "_StopFlag":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def watch(
    session: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: Config,
    *,
    settle: float = 2.0,
    poll: float = 0.5,
    stop: Callable[[], bool] | None = None,
    on_result: Callable[[dict], Any] | None = None,
) -> SessionResult:
    """Watch a session folder and analyse each data file once it is complete.

    Parameters
    ----------
    session : path-like
        The folder the microscope writes into (walked recursively, like ``batch``).
    out_dir : path-like
        Output folder: the ``batch`` layout, ``summary.csv`` and a self-refreshing
        ``report.html``.
    config : Config
        Validated configuration.
    settle : float
        Seconds a file's size and mtime must stay unchanged before it is processed.
    poll : float
        Seconds between scans of the folder.
    stop : callable, optional
        Polled between scans and files; True stops the watch (besides SIGINT/SIGTERM).
    on_result : callable, optional
        Called with each finished file's summary row (default: print one line, and a first
        line when the watch starts).

    Returns
    -------
    SessionResult
        The rows at the time the watch stopped (pending files have status "pending").

    Raises
    ------
    StemstrainError
        Session folder missing, ``--out`` unusable or in use, bad ``settle``/``poll``.
    """
    session, out_dir = Path(session), Path(out_dir)
    if not (settle >= 0 and poll > 0):
        raise StemstrainError(f"--settle must be >= 0 and poll > 0 s, got {settle!r}, {poll!r}")
    _check_dirs(session, out_dir)
    discover(session, config, out_dir=out_dir)  # a missing session fails here, before --out
    make_output(out_dir)
    report = on_result or (lambda row: print(_line(row), flush=True))
    state = WatchState()
    with OutputLock(out_dir), _StopFlag(stop) as stopped:
        if on_result is None:
            print(
                escape(
                    f"stemstrain watch: watching {session} (settle {settle:g} s); Ctrl-C to stop"
                ),
                flush=True,
            )
        try:
            _loop(state, session, out_dir, config, settle, poll, stopped, report)
        except KeyboardInterrupt:
            print(
                "stemstrain watch: interrupted; the file in progress was not written",
                file=sys.stderr,
            )
        _poll(state, session, out_dir, config, settle)
        _write_outputs(state, out_dir, session)
    return SessionResult(
        rows=state.rows,
        out_dir=out_dir,
        csv_path=out_dir / "summary.csv",
        report_path=out_dir / "report.html",
    )


def _loop(state, session, out_dir, config, settle, poll, stopped, report) -> None:
    _poll(state, session, out_dir, config, settle)
    _write_outputs(state, out_dir, session)
    while not stopped():
        changed = False
        for entry in _poll(state, session, out_dir, config, settle):
            if stopped():
                break
            row = _process(state, entry, out_dir, config)
            if row is not None:
                changed = True
                report(row)
                _poll(state, session, out_dir, config, settle)
                _write_outputs(state, out_dir, session)
        if not changed:
            time.sleep(poll)
