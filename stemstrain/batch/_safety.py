"""Write results only where stemstrain owns the folder; names that cannot escape ``--out``.

* **Markers.** Every results folder (and its hidden temporary folder) holds
  ``.stemstrain-results``; the output folder holds ``.stemstrain-output``. A folder is
  only ever renamed, replaced or removed by stemstrain when it carries the results marker.
  An existing folder without it (the user's own) is left alone: the input gets the next
  free name (``name~2``, ``name~3`` ...) and a warning.
* **Names.** A results folder is named after the input's file name with its extension
  encoded (``a.hspy`` -> ``a_hspy``), inside the relative folders of the session; names
  are sanitised (no ``.``/``..``, separators or control characters) and made unique in
  their folder, also against the session's sub-folder names, so no two inputs share a
  folder and no results folder contains another one.
* **Containment.** The resolved results path must lie inside the resolved ``--out``;
  ``--out`` may not contain the session (or the input's folder for ``analyze``).
* **Lock.** One ``.stemstrain.lock`` per ``--out`` (``flock``, released when the process
  ends, also when it is killed): a second batch on the same ``--out`` gets a clear error.
"""

from __future__ import annotations

import json
import os
import re
import socket
import warnings
from pathlib import Path

from ..errors import StemstrainError

__all__ = [
    "RESULTS_MARKER",
    "OUTPUT_MARKER",
    "LOCK_NAME",
    "safe_name",
    "encode_name",
    "is_results_folder",
    "mark_results",
    "mark_output",
    "pick_target",
    "check_inside",
    "check_out_dir",
    "OutputLock",
    "escape",
    "GENERATED_MARKER",
]

RESULTS_MARKER = ".stemstrain-results"
OUTPUT_MARKER = ".stemstrain-output"
LOCK_NAME = ".stemstrain.lock"
#: a session stemstrain generated (the demo's): may lie inside --out
GENERATED_MARKER = ".stemstrain-generated"
_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f/\\:*?\"<>|]")
_CTRL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MAX_NAME = 150


def escape(text: object) -> str:
    """Return ``text`` with terminal control characters escaped (safe to print)."""
    s = str(text)
    if not _CTRL.search(s):
        return s
    return _CTRL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), s)


def safe_name(name: str) -> str:
    """Return a path component that cannot escape its folder (no separators/controls/dots)."""
    s = _BAD.sub("_", name).strip()
    s = re.sub(r"^\.+", lambda m: "_" * len(m.group(0)), s)  # no ".", "..", hidden names
    s = s.rstrip(". ") or "_"
    if len(s.encode("utf-8", "surrogateescape")) > _MAX_NAME:
        s = s.encode("utf-8", "surrogateescape")[:_MAX_NAME].decode("utf-8", "ignore") or "_"
    return s


def encode_name(file_name: str) -> str:
    """Return the results folder name of an input: ``a.hspy`` -> ``a_hspy`` (sanitised)."""
    p = Path(file_name)
    stem, ext = (p.stem, p.suffix[1:]) if p.suffix and p.stem else (p.name, "")
    return safe_name(f"{stem}_{ext}" if ext else stem)


def is_results_folder(path: str | os.PathLike) -> bool:
    """Return True when ``path`` is a real folder (not a link) with the results marker."""
    p = Path(path)
    return p.is_dir() and not p.is_symlink() and (p / RESULTS_MARKER).is_file()


def mark_results(folder: Path, rel: str) -> None:
    """Write the results marker (the input's relative path in it)."""
    from .. import __version__

    (folder / RESULTS_MARKER).write_text(
        json.dumps({"stemstrain": __version__, "input": rel}) + "\n", encoding="utf-8"
    )


def mark_output(out_dir: Path) -> None:
    """Write the output-folder marker (once)."""
    m = out_dir / OUTPUT_MARKER
    if not m.exists():
        m.write_text(
            "stemstrain output folder: results folders carry " + RESULTS_MARKER + "\n",
            encoding="utf-8",
        )


def make_output(out_dir: Path) -> None:
    """Create the ``--out`` folder and its marker; a one-line error when the OS refuses."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        mark_output(out_dir)
    except OSError as exc:
        raise StemstrainError(
            f"--out {escape(out_dir)} cannot be used: {exc.strerror or exc}"
        ) from None


def pick_target(final: Path) -> Path:
    """Return ``final`` when free or ours, else the next free/ours ``final~N`` (warns)."""
    cand, n = final, 1
    while os.path.lexists(cand) and not is_results_folder(cand):
        n += 1
        cand = final.with_name(f"{final.name}~{n}")
    if n > 1:
        warnings.warn(
            f"{escape(final)} exists and is not a stemstrain results folder (no "
            f"{RESULTS_MARKER}); left untouched, results written to {escape(cand.name)}",
            UserWarning,
            stacklevel=2,
        )
    return cand


def check_inside(path: Path, root: Path) -> None:
    """Raise unless ``path`` (resolved) lies strictly inside ``root`` (resolved)."""
    rp, rr = path.resolve(), root.resolve()
    if rp == rr or rr not in rp.parents:
        raise StemstrainError(
            f"results path {escape(path)} resolves to {escape(rp)}, outside "
            f"--out {escape(root)}; refusing to write there"
        )


def check_out_dir(out_dir: Path, inputs_dir: Path, *, what: str) -> None:
    """Clear error before any work when ``--out`` cannot be used for ``inputs_dir``.

    ``--out`` must be (or become) a folder and may not be a strict parent of the session
    (``what`` = "session folder") or of the input's folder ("folder of the input").
    """
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise StemstrainError(f"--out {escape(out_dir)} exists and is not a folder")
    ro, ri = out_dir.resolve(), inputs_dir.resolve()
    if ro in ri.parents and not (ri / GENERATED_MARKER).is_file():
        raise StemstrainError(
            f"--out {escape(out_dir)} contains the {what} {escape(inputs_dir)}; results "
            "folders there could shadow your data: choose a folder outside it (or a new "
            "subfolder)"
        )
    probe = ro
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise StemstrainError(
            f"--out {escape(out_dir)} cannot be created: {escape(probe)} is a file, not a folder"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise StemstrainError(f"--out {escape(out_dir)}: {escape(probe)} is not writable")


class OutputLock:
    """An exclusive ``flock`` on ``OUT/.stemstrain.lock`` held for a run (context manager)."""

    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> "OutputLock":
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no lock
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StemstrainError(
                f"--out {escape(self.path.parent)}: cannot create the lock "
                f"file ({exc.strerror or exc})"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise StemstrainError(
                f"--out {escape(self.path.parent)} is in use by another stemstrain run "
                f"({escape(holder)}; lock {LOCK_NAME}); wait for it to finish or choose "
                "another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the flock; the file stays (harmless)
            self._fd = None
