"""A session: discover the files, process them (here, in local processes or on Dask), summarise.

``run_batch`` is what ``stemstrain batch`` calls. Inputs are independent tasks
(:func:`~stemstrain.batch._run.process_input`); each writes its own results folder,
so the executor only has to run them: in this process (``workers=1``), in ``workers``
local processes (``concurrent.futures.ProcessPoolExecutor``, spawn), or on an existing
Dask distributed cluster (``scheduler="tcp://host:8786"``; the workers must see the
session and output folders at the same paths, e.g. shared storage).
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import StemstrainError
from ._config import Config
from ._discover import discover
from ._run import Task, process_input
from ._safety import OutputLock, check_out_dir, escape, make_output
from ._steps import KEY_FIGURES

__all__ = ["run_batch", "SessionResult", "CSV_COLUMNS", "write_summary_csv", "finish_session"]

CSV_COLUMNS = [
    "path",
    "kind",
    "status",
    "error",
    "duration_s",
    *KEY_FIGURES,
    "n_warnings",
    "warnings",
    "output",
    "resumed",
]


@dataclass
class SessionResult:
    """What a batch run did.

    Attributes
    ----------
    rows : list of dict
        One summary per file of the session (discovery order), skipped files included.
    out_dir : Path
        The output folder.
    csv_path, report_path : Path
        ``summary.csv`` and ``report.html``.
    """

    rows: list = field(default_factory=list)
    out_dir: Path = Path(".")
    csv_path: Path = Path(".")
    report_path: Path = Path(".")

    def count(self, status: str) -> int:
        """Count the files with ``status`` ("ok", "failed", "skipped")."""
        return sum(r["status"] == status for r in self.rows)

    @property
    def n_resumed(self) -> int:
        """Number of inputs that were up to date and not redone."""
        return sum(bool(r.get("resumed")) for r in self.rows)

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 1 otherwise (API.md)."""
        return 1 if self.count("failed") else 0


def _skipped_row(entry: Any) -> dict:
    """Row of a file that is not analysed: skipped (not data, ...) or failed (unreadable)."""
    return {
        "path": entry.rel,
        "input": str(entry.path),
        "kind": "",
        "status": entry.status,
        "error": entry.reason,
        "keys": {},
        "output": "",
        "resumed": False,
        "figures": [],
    }


def _iter_serial(tasks: list[Task]) -> Iterator[tuple[int, dict]]:
    for i, t in enumerate(tasks):
        yield i, process_input(t)


def _iter_processes(
    tasks: list[Task], workers: int, *, target: Any = None
) -> Iterator[tuple[int, dict]]:
    """Run each input in its own worker process, ``workers`` at a time.

    A worker that dies (killed, out of memory, segfault) fails only its input: the input
    is retried once in a fresh process, then reported failed with the exit signal. The
    workers end when this process dies (parent-death signal / watchdog). On Ctrl-C the
    queued inputs are dropped and the running workers terminated (they leave only hidden
    temporary folders, removed by the next run).
    """
    from ._workers import WorkerPool

    with WorkerPool(workers, target=target or process_input) as pool:
        for i, result in pool.run(tasks):
            yield i, result if isinstance(result, dict) else _crash_row(tasks[i], result)


def _crash_row(task: Task, reason: str) -> dict:
    return {
        "path": task.rel,
        "input": task.path,
        "kind": "",
        "status": "failed",
        "error": f"worker failed: {reason}",
        "keys": {},
        "output": "",
        "resumed": False,
        "figures": [],
    }


def _iter_dask(tasks: list[Task], address: str) -> Iterator[tuple[int, dict]]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise StemstrainError(f"--scheduler needs dask.distributed: {exc}") from None
    _check_reachable(address)
    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise StemstrainError(
            f"cannot connect to the Dask scheduler {address!r} ({type(exc).__name__}: {exc}); "
            "check the address (tcp://host:port) and that the scheduler is running"
        ) from None
    try:
        tag = uuid.uuid4().hex[:12]
        futures = [
            client.submit(process_input, t, pure=False, key=f"stemstrain-{tag}-{i}")
            for i, t in enumerate(tasks)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            i = index[fut.key]
            yield i, _result_or_failure(fut, tasks[i])
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        client.close()


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast (one line) when a tcp:// scheduler address refuses connections."""
    import socket
    from urllib.parse import urlsplit

    if not address.startswith("tcp://"):
        return  # other protocols (tls://, inproc://): let distributed report
    parts = urlsplit(address)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise StemstrainError(f"--scheduler {address!r} is not an address like tcp://host:8786")
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise StemstrainError(
            f"cannot connect to the Dask scheduler {address!r} ({exc.strerror or exc}); "
            "check the address (tcp://host:port) and that the scheduler is running"
        ) from None


def _result_or_failure(fut: Any, task: Task) -> dict:
    try:
        return fut.result()
    except Exception as exc:
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())
        return {
            "path": task.rel,
            "input": task.path,
            "kind": "",
            "status": "failed",
            "error": f"worker failed: {msg}",
            "keys": {},
            "output": task.out_dir,
            "resumed": False,
            "figures": [],
        }


def _tasks(
    entries: list,
    out_dir: Path,
    config: Config,
    *,
    resume: bool,
    progress: bool,
    overwrite: bool = False,
) -> list[Task]:
    root = out_dir.resolve()
    return [
        Task(
            path=str(e.path),
            rel=e.rel,
            out_dir=str(root / e.out_rel),
            config=config,
            companions=tuple(e.companions),
            resume=resume,
            progress=progress,
            out_root=str(root),
            overwrite=overwrite,
        )
        for e in entries
        if e.status == "todo"
    ]


def _check_dirs(session: Path, out_dir: Path) -> None:
    if not session.is_dir():
        return  # discover() says so
    if out_dir.resolve() == session.resolve():
        raise StemstrainError(
            f"--out {escape(out_dir)} is the session folder itself; write results elsewhere "
            "(a subfolder is fine)"
        )
    check_out_dir(out_dir, session, what="session folder")


def run_batch(
    session: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: Config,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    report: bool = True,
    overwrite: bool = False,
) -> SessionResult:
    """Analyse every data file of a session folder; write summary.csv and report.html.

    Parameters
    ----------
    session : path-like
        The session folder (walked recursively).
    out_dir : path-like
        Output folder: ``<relative path>/<name>_<ext>/`` per input, ``summary.csv``,
        ``report.html``. Only folders stemstrain made (marked) are ever replaced.
    config : Config
        Validated configuration (:func:`~stemstrain.batch.load_config`).
    workers : int
        Local processes (1: run in this process).
    scheduler : str, optional
        Address of a Dask distributed scheduler to submit the inputs to instead.
    resume : bool
        Skip inputs whose results are complete with the same input and config hashes.
    progress : bool
        Progress bar over the files on stderr.
    report : bool
        Write ``report.html``.
    overwrite : bool
        Let a failed run replace earlier "ok" results of an input (default: keep them).

    Returns
    -------
    SessionResult
        Per-file rows and the exit code (0 all done, 1 some inputs failed).

    Raises
    ------
    StemstrainError
        Session folder missing, output folder unusable, contains the session or is in use
        by another run, scheduler unreachable.
    """
    session, out_dir = Path(session), Path(out_dir)
    if workers < 1:
        raise StemstrainError(f"--workers must be >= 1, got {workers}")
    _check_dirs(session, out_dir)
    entries = discover(session, config, out_dir=out_dir)
    make_output(out_dir)
    with OutputLock(out_dir):
        serial = scheduler is None and workers == 1
        tasks = _tasks(
            entries,
            out_dir,
            config,
            resume=resume,
            progress=progress and serial,
            overwrite=overwrite,
        )
        if scheduler is not None:
            it = _iter_dask(tasks, scheduler)
        elif workers > 1 and len(tasks) > 1:
            it = _iter_processes(tasks, min(workers, len(tasks)))
        else:
            it = _iter_serial(tasks)
        done = _collect(it, tasks, progress)
        return finish_session(entries, done, out_dir, session=session, report=report)


def finish_session(
    entries: list, done: list[dict], out_dir: Path, *, session: Path, report: bool = True
) -> SessionResult:
    """Merge the inputs' summaries with the skipped/failed entries; write summary.csv/report.

    ``done`` holds one summary per ``todo`` entry, in order (reusable by other drivers
    of :func:`~stemstrain.batch._run.process_input`).
    """
    rows, k = [], 0
    for e in entries:
        if e.status == "todo":
            rows.append(done[k])
            k += 1
        else:
            rows.append(_skipped_row(e))
    result = SessionResult(
        rows=rows,
        out_dir=out_dir,
        csv_path=out_dir / "summary.csv",
        report_path=out_dir / "report.html",
    )
    write_summary_csv(result.csv_path, rows, out_dir=out_dir)
    if report:
        from ._report import write_report

        write_report(result.report_path, rows, out_dir=out_dir, session=session)
    return result


def _collect(it: Iterator[tuple[int, dict]], tasks: list[Task], progress: bool) -> list[dict]:
    from tqdm import tqdm

    done: list[dict] = [{} for _ in tasks]
    with tqdm(
        total=len(tasks),
        desc="stemstrain",
        unit="file",
        file=sys.stderr,
        disable=not progress or not tasks,
        position=0,
    ) as bar:
        for i, row in it:
            done[i] = row
            bar.update()
            if row.get("status") == "failed":
                line = escape(f"stemstrain: FAILED {row['path']}: {row.get('error', '')}")
                if progress:
                    bar.write(line, file=sys.stderr)
                else:
                    print(line, file=sys.stderr)
    return done


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return str(v)


def write_summary_csv(
    path: str | os.PathLike, rows: list[dict], *, out_dir: str | os.PathLike | None = None
) -> Path:
    """Write ``summary.csv`` (a row per file; key figures in the columns) atomically.

    ``output`` (the results folder) is written relative to ``out_dir`` when given.
    """
    from ..results import atomic_write_text

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        keys = r.get("keys") or {}
        out = r.get("output") or ""
        if out and out_dir is not None:
            out = os.path.relpath(out, Path(out_dir).resolve())
        vals = {
            "path": r.get("path"),
            "kind": r.get("kind") or "",
            "status": r.get("status"),
            "error": r.get("error") or "",
            "duration_s": r.get("duration_s"),
            "output": out,
            "resumed": bool(r.get("resumed")),
            "n_warnings": len(r.get("warnings") or []),
            "warnings": " | ".join(" ".join(str(w).split()) for w in r.get("warnings") or []),
            **{k: keys.get(k) for k in KEY_FIGURES},
        }
        w.writerow([_fmt(vals[c]) for c in CSV_COLUMNS])
    atomic_write_text(path, buf.getvalue())
    return Path(path)
