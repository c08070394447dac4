"""Local worker processes that one crash cannot sink: one process per input, retried once.

``concurrent.futures.ProcessPoolExecutor`` fails every pending input when one worker
dies (``BrokenProcessPool``). Here each input runs in its own process forked from a
warm ``forkserver`` (which preloads the batch runner and HyperSpy), ``workers`` at a
time, so a death is attributed to exactly one input: it is retried once in a fresh
process, then reported with the exit signal. Workers ignore SIGINT (the parent handles
Ctrl-C and terminates them) and die with the parent (``PR_SET_PDEATHSIG`` on Linux
and a watchdog thread that polls the parent's pid everywhere).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any, Callable, Iterator

__all__ = ["WorkerPool"]

_PRELOAD = [
    "stemstrain.batch._worker_init",
    "stemstrain.batch._run",
    "stemstrain.io",
    "hyperspy.api",
]


def _die_with_parent(parent_pid: int) -> None:
    try:  # Linux: the kernel kills us when the forkserver (our parent) goes
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(70)
            except PermissionError:  # pragma: no cover - pid reused by another user
                os._exit(70)

    threading.Thread(target=watch, daemon=True, name="stemstrain-parent-watch").start()


def _child(target: Callable, task: Any, conn: Any, parent_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    try:
        result = target(task)
    except BaseException as exc:
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())
        result = f"internal error: {msg}"
    try:
        conn.send(result)
        conn.close()
    except OSError:  # the parent is gone or gave up on us (Ctrl-C): nothing to report to
        os._exit(0)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "worker vanished"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        hint = " (out of memory? the OOM killer sends SIGKILL)" if -code == signal.SIGKILL else ""
        return f"worker process killed by {name}{hint}"
    return f"worker process exited with code {code}"


class WorkerPool:
    """Run ``target(task)`` for each task in its own process, ``workers`` at a time.

    Parameters
    ----------
    workers : int
        Processes at a time.
    target : callable
        Picklable by reference; returns a picklable result (a summary dict).
    retries : int
        How often an input whose worker died is retried in a fresh process.
    """

    def __init__(self, workers: int, *, target: Callable, retries: int = 1) -> None:
        import multiprocessing as mp

        self.workers, self.target, self.retries = int(workers), target, int(retries)
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(_PRELOAD)
        self._running: dict[int, tuple[Any, Any]] = {}

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.terminate()

    def terminate(self) -> None:
        """Terminate the running workers (Ctrl-C, error) and reap them."""
        for proc, _ in self._running.values():
            if proc.is_alive():
                proc.terminate()
        for proc, conn in self._running.values():
            proc.join(5)
            if proc.is_alive():  # pragma: no cover - ignores SIGTERM
                proc.kill()
                proc.join(1)
            conn.close()  # after the worker is gone: it never writes into a closed pipe
        self._running.clear()

    def _start(self, i: int, task: Any) -> None:
        recv, send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(
            target=_child,
            args=(self.target, task, send, os.getpid()),
            name=f"stemstrain-worker-{i}",
            daemon=True,
        )
        proc.start()
        send.close()
        self._running[i] = (proc, recv)

    def run(self, tasks: list) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, result)`` as inputs finish; result is ``target``'s or a reason (str)."""
        from multiprocessing.connection import wait

        queue = list(range(len(tasks)))[::-1]
        attempts = dict.fromkeys(range(len(tasks)), 0)
        while queue or self._running:
            while queue and len(self._running) < self.workers:
                i = queue.pop()
                attempts[i] += 1
                self._start(i, tasks[i])
            by_handle = {}
            for i, (proc, conn) in self._running.items():
                by_handle[conn] = i
                by_handle[proc.sentinel] = i
            ready = wait(list(by_handle))
            for i in sorted({by_handle[h] for h in ready}):
                if i not in self._running:
                    continue
                out = self._reap(i)
                if out is None:  # died without a result
                    proc_code = self._last_code
                    if attempts[i] <= self.retries:
                        queue.append(i)
                        continue
                    out = f"{_describe_exit(proc_code)}; failed twice, not retried again"
                yield i, out

    def _reap(self, i: int) -> Any:
        proc, conn = self._running.pop(i)
        result = None
        try:
            if conn.poll(0 if not proc.is_alive() else 30):
                result = conn.recv()
        except (EOFError, OSError):
            result = None
        conn.close()
        proc.join(10)
        if proc.is_alive():  # pragma: no cover - sent its result but hangs on exit
            proc.kill()
            proc.join(1)
        self._last_code = proc.exitcode
        return result
