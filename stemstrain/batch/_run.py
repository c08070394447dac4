"""One input: load, run the analyses of its kind, write its results folder atomically.

``process_input(task)`` runs anywhere (this process, a local worker process, a Dask
worker): it takes a picklable :class:`Task` and returns the input's summary dict.

Nothing is lost and nothing looks complete before it is:

* everything is written into a hidden temporary folder ``.<name>.tmp-<host>-<pid>-<rand>``
  next to the final one, ``summary.json`` last, then the folder is renamed into place
  (``os.replace``; an older results folder is first renamed aside, then removed), so a
  process killed at any moment leaves either the old complete folder, the new complete
  folder, or no folder plus a hidden temporary one that the next run removes;
* ``--resume`` skips an input when its folder has a ``summary.json`` with status "ok",
  the same input SHA-256 (companions and probe included) and the same config hash;
* inputs are only ever opened for reading.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import shutil
import socket
import sys
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import CalibrationError, ConfigError, InputShapeError, StemstrainError
from ..io import check_decoded_size, check_values
from ._config import ANALYSES, Config
from ._discover import glob_escape
from ._safety import check_inside, escape, is_results_folder, mark_results, pick_target
from ._steps import KEY_FIGURES, STEPS, StepContext, StepNotRun

__all__ = ["Task", "process_input", "read_summary", "clean_stale", "SUMMARY_NAME"]

SUMMARY_NAME = "summary.json"
RESULTS_NAME = "results.h5"
_TMP_MARK = ".tmp-"
_OLD_MARK = ".old-"
#: one 4D-STEM cube at a time per worker process (threads of a Dask worker share it)
_FOURD_LOCK = threading.Lock()


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to process one input (picklable).

    Attributes
    ----------
    path : str
        Absolute path of the input.
    rel : str
        Its path relative to the session folder (shown in summaries).
    out_dir : str
        Absolute path of its results folder.
    config : Config
        The validated configuration.
    companions : tuple of str
        Files that belong to the input (hashed with it).
    resume : bool
        Skip the input when its results are up to date.
    progress : bool
        Show a progress bar over the analyses of this input (serial runs).
    out_root : str
        The ``--out`` folder: the results folder must resolve inside it ("": its parent).
    overwrite : bool
        Replace "ok" results by a failed run's summary (default: keep the good results).
    """

    path: str
    rel: str
    out_dir: str
    config: Config
    companions: tuple[str, ...] = ()
    resume: bool = False
    progress: bool = False
    out_root: str = ""
    overwrite: bool = False


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split()) or repr(exc)
    return f"{type(exc).__name__}: {msg}"


def _hashes(paths: list[str]) -> tuple[str, str]:
    """SHA-256 of the main file, and a combined hash over all files (main first)."""
    from ..results import file_sha256

    shas = [_path_sha256(p, file_sha256) for p in paths]
    lines = [f"{Path(p).name}:{s}" for p, s in zip(paths, shas, strict=True)]
    combined = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return shas[0], combined


def _path_sha256(path: str, file_sha256: Any) -> str:
    """SHA-256 of a file, or of a folder store (.zspy): its files' relative names and hashes."""
    p = Path(path)
    if not p.is_dir():
        return file_sha256(p)
    lines = [
        f"{f.relative_to(p).as_posix()}:{file_sha256(f)}"
        for f in sorted(p.rglob("*"))
        if f.is_file() and not f.is_symlink()
    ]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def read_summary(out_dir: str | os.PathLike) -> dict | None:
    """Read the ``summary.json`` of a results folder (None when missing/unreadable)."""
    try:
        with open(Path(out_dir) / SUMMARY_NAME, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _up_to_date(task: Task) -> dict | None:
    old = read_summary(task.out_dir)
    if not old or old.get("status") != "ok" or old.get("kind") not in ANALYSES:
        return None
    files = [task.path, *task.companions, *old.get("used_files", [])]
    if not all(os.path.exists(f) for f in files):
        return None
    if old.get("config_hash") != task.config.config_hash(old["kind"]):
        return None
    if not _complete(Path(task.out_dir), old):
        return None
    if old.get("inputs_sha256") != _hashes(files)[1]:
        return None
    return old


def _complete(folder: Path, summary: dict) -> bool:
    """Check that the files summary.json lists exist and results.h5 opens with its groups."""
    if not is_results_folder(folder):
        return False
    names = [*summary.get("figures", []), *([summary["results"]] if summary.get("results") else [])]
    if not all((folder / n).is_file() for n in names):
        return False
    if not summary.get("results"):
        return True
    try:
        import h5py

        with h5py.File(folder / summary["results"], "r") as h5:
            have = set(h5.keys())
    except Exception:
        return False
    want = set(summary.get("groups") or [])
    return bool(have) and want <= have


def _load(task: Task) -> tuple[Any, str]:
    """Read the input once, lazily; keep 4D-STEM cubes lazy (chunked), compute the rest."""
    import stemstrain as ss

    max_gb = task.config.data["run"].get("max_input_gb")
    signal = ss.load(task.path, lazy=True, max_gb=max_gb)
    if isinstance(signal, ss.BraggVectors):  # py4DSTEM Bragg vectors: their own kind
        check_values(signal.intensity, Path(task.path).name, "Bragg-vector")
        return signal, "bragg"
    try:
        kind = str(signal.metadata.Stemstrain.kind)
    except AttributeError:
        kind = "unknown"
    keep_lazy = kind == "4dstem" and task.config.data["fourd"].get("lazy", True)
    name = Path(task.path).name
    if getattr(signal, "_lazy", False) and not keep_lazy:
        check_decoded_size(Path(task.path), int(signal.data.nbytes), max_gb=max_gb)
        signal.compute(close_file=False, show_progressbar=False)
    if kind in ANALYSES:
        check_values(_value_sample(signal), name, kind)
    if kind == "image" and signal.axes_manager.navigation_dimension > 0:
        signal = _flatten_stack(
            signal, task.config.data["run"].get("image_stack", "sum"), Path(task.path).name
        )
    if kind == "image" and task.config.data["run"].get("pixel_size_nm") is not None:
        _default_pixel_size(signal, float(task.config.data["run"]["pixel_size_nm"]), name)
    return signal, kind


def _default_pixel_size(signal: Any, pixel_size_nm: float, name: str) -> None:
    """``[run] pixel_size_nm`` for an image whose file stores no length calibration.

    A calibrated file is never overridden; where it is used, a warning says so.
    """
    from ..io import unit_factor

    axes = signal.axes_manager.signal_axes
    if all(unit_factor(ax.units, "real") is not None for ax in axes):
        return
    for ax in axes:
        ax.scale, ax.units, ax.offset = pixel_size_nm, "nm", 0.0
    warnings.warn(
        f"{name}: the file stores no pixel size; [run] pixel_size_nm = {pixel_size_nm:g} nm "
        "used (check it: every length, strain reference and curvature depends on it)",
        UserWarning,
        stacklevel=2,
    )


def _value_sample(signal: Any) -> Any:
    """Return the data (eager), or a few diffraction patterns of a lazy 4D-STEM cube."""
    data = signal.data
    if not getattr(signal, "_lazy", False):
        return data
    ny, nx = data.shape[:2]
    picks = [(ny // 2, nx // 2), (0, 0), (ny - 1, nx - 1), (ny // 4, nx // 4)]
    import numpy as np

    return np.stack([np.asarray(data[i, j].compute()) for i, j in picks])


def _flatten_stack(signal: Any, rule: str, name: str) -> Any:
    """One image from an image stack: the sum or the first frame ([run] image_stack)."""
    nav = tuple(int(a.size) for a in signal.axes_manager.navigation_axes)
    if rule == "series" and len(nav) == 1:
        return signal  # kept whole: the gpa step runs ss.gpa_series (one time axis)
    if rule == "error":
        raise InputShapeError(
            f'{name} is a stack of {nav} images; set [run] image_stack = "sum" or "first"'
        )
    md = signal.metadata.get_item("Stemstrain") if signal.metadata.has_item("Stemstrain") else None
    if rule == "first":
        out = signal.inav[(0,) * len(nav)]
    else:
        out = signal.sum(signal.axes_manager.navigation_axes)
    if md is not None and not out.metadata.has_item("Stemstrain"):
        out.metadata.set_item("Stemstrain", md)
    warnings.warn(
        f"{name}: image stack of {nav} frames; analysed "
        f"{'their sum' if rule == 'sum' else 'the first frame'} ([run] image_stack)",
        UserWarning,
        stacklevel=2,
    )
    return out


def _run_steps(task: Task, signal: Any, kind: str, summary: dict) -> tuple[list, dict, list]:
    """Run the analyses of ``kind``; returns results, figures and the used files."""
    params = task.config.kind_parameters(kind)
    ctx = StepContext(
        signal=signal,
        path=Path(task.path),
        params=params["params"],
        backend=params["backend"],
        progress=task.progress and sys.stderr.isatty(),
    )
    results, figures = [], {}
    names = params["analyses"]
    bar = None
    if task.progress and len(names) > 1 and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(
            total=len(names),
            desc=Path(task.path).name,
            leave=False,
            position=1,
            file=sys.stderr,
            unit="analysis",
        )
    try:
        for name in names:
            if bar is not None:
                bar.set_postfix_str(name)
            needs = [d for d in ("gpa", "columns") if d in _requires(name) and d not in ctx.done]
            if needs:
                summary["analyses"][name] = f"not run: {needs[0]} failed"
            else:
                _run_one(name, ctx, summary, results, figures)
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return results, figures, ctx.used_files


def _requires(name: str) -> tuple[str, ...]:
    from ._config import REQUIRES

    return REQUIRES.get(name, ())


def _run_one(name: str, ctx: StepContext, summary: dict, results: list, figures: dict) -> None:
    t0 = time.perf_counter()
    try:
        if name == "fourd":
            with _FOURD_LOCK:
                out = STEPS[name](ctx)
        else:
            out = STEPS[name](ctx)
    except StepNotRun as exc:  # nothing to do for this input (e.g. no structures given)
        summary["analyses"][name] = f"not run: {exc}"
        summary["warnings"].append(f"{name} not run: {exc}")
        return
    except Exception as exc:
        if os.environ.get("STEMSTRAIN_DEBUG"):
            raise
        exc = _user_error(name, exc)
        prefix = "" if isinstance(exc, StemstrainError) else "internal error: "
        summary["analyses"][name] = f"failed: {prefix}{_one_line(exc)}"
        summary["errors"].append(f"{name}: {prefix}{_one_line(exc)}")
        return
    ctx.done[name] = out.value
    results.extend(out.results)
    figures.update(out.figures)
    summary["keys"].update(out.keys)
    summary["analyses"][name] = f"ok ({time.perf_counter() - t0:.2f} s)"


def _user_error(name: str, exc: Exception) -> Exception:
    """Turn configuration mistakes surfacing inside an analysis into ConfigErrors."""
    msg = " ".join(str(exc).split())
    if isinstance(exc, TypeError) and "keyword argument" in msg:
        return ConfigError(f"[{name}.kwargs]: {msg}")
    if isinstance(exc, (RuntimeError, ImportError)) and "cupy" in msg.lower():
        return ConfigError(
            f'backend of {name}: {msg} (set [run] backend or [{name}] backend = "numpy")'
        )
    if isinstance(exc, CalibrationError) and "pixel_size=" in msg:
        return CalibrationError(f"{msg} (batch: set [run] pixel_size_nm for such files)")
    return exc


def _write_figures(tmp: Path, figures: dict, dpi: float, summary: dict) -> None:
    for name, res in figures.items():
        try:
            try:
                fig = res.plot()
            except ImportError:  # that area's plotter has not landed: generic maps
                from ..plot import plot_maps

                fig = plot_maps(res)
            fig.savefig(tmp / f"{name}.png", dpi=dpi)
        except Exception as exc:
            summary["warnings"].append(f"figure {name}: {_one_line(exc)}")
            continue
        summary["figures"].append(f"{name}.png")


def _write_folder(
    task: Task, summary: dict, results: list, figures: dict, inputs: tuple[str, str]
) -> None:
    """Write results.h5, figures and summary.json into a marked temp folder, then rename it."""
    final = Path(task.out_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    _check_target(task, final)
    tag = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = final.with_name(f".{final.name}{_TMP_MARK}{tag}")
    tmp.mkdir()
    try:
        mark_results(tmp, task.rel)
        if results:
            _write_h5(task, tmp, summary, results, inputs)
        run = task.config.data["run"]
        if figures and run.get("figures", True):
            _write_figures(tmp, figures, float(run.get("dpi", 90)), summary)
        summary["finished"] = _now()
        _write_json(tmp / SUMMARY_NAME, summary)
        _fsync_dir(tmp)
        _swap_into_place(tmp, final)
    finally:
        if tmp.exists() and is_results_folder(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def _write_h5(task: Task, tmp: Path, summary: dict, results: list, inputs: tuple[str, str]) -> None:
    import h5py

    from ..results import write_results

    params = task.config.kind_parameters(summary["kind"]) if summary["kind"] else {}
    attrs = {
        "parameters": json.dumps(params, sort_keys=True, default=str),
        "config_hash": summary["config_hash"],
        "kind": summary["kind"],
        "input_path": task.rel,
        "inputs_sha256": inputs[1],
        "started": summary["started"],
        "finished": _now(),
    }
    write_results(
        tmp / RESULTS_NAME,
        results,
        input_path=task.path,
        input_sha256=inputs[0],
        attrs=attrs,
        append=False,
    )
    summary["results"] = RESULTS_NAME
    with h5py.File(tmp / RESULTS_NAME, "r") as h5:
        summary["groups"] = sorted(h5.keys())


def _check_target(task: Task, final: Path) -> None:
    """Refuse a results folder outside --out or one that stemstrain does not own."""
    root = Path(task.out_root) if task.out_root else final.parent
    check_inside(final, root)
    if os.path.lexists(final) and not is_results_folder(final):
        raise StemstrainError(
            f"{escape(final)} exists and is not a stemstrain results folder; left untouched"
        )


def _write_json(path: Path, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True, default=_json_default)
        fh.flush()
        os.fsync(fh.fileno())


def _json_default(v: Any) -> Any:
    try:
        return v.item()
    except AttributeError:
        return str(v)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing ``final`` must be a (marked) results folder."""
    if os.path.lexists(final):
        if not is_results_folder(final):  # never rename or remove a folder we do not own
            raise StemstrainError(
                f"{escape(final)} is not a stemstrain results folder; left untouched"
            )
        old = final.with_name(f".{final.name}{_OLD_MARK}{tmp.name.rsplit(_TMP_MARK, 1)[-1]}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    _fsync_dir(final.parent)


def clean_stale(final: str | os.PathLike) -> int:
    """Remove the hidden temp/old folders of one results folder left by killed runs.

    Only siblings named ``.<name>.tmp-*`` / ``.<name>.old-*`` that carry the results
    marker are removed (nothing else, no walk of the tree); returns how many.
    """
    final = Path(final)
    n = 0
    try:
        siblings = list(final.parent.glob(f".{glob_escape(final.name)}.*"))
    except OSError:
        return 0
    for d in siblings:
        rest = d.name[len(final.name) + 1 :]
        if (rest.startswith(_TMP_MARK) or rest.startswith(_OLD_MARK)) and is_results_folder(d):
            shutil.rmtree(d, ignore_errors=True)
            n += 1
    return n


def _new_summary(task: Task) -> dict:
    from .. import __version__

    return {
        "path": task.rel,
        "input": task.path,
        "kind": None,
        "status": "failed",
        "error": "",
        "output": task.out_dir,
        "analyses": {},
        "keys": {k: None for k in KEY_FIGURES},
        "errors": [],
        "warnings": [],
        "figures": [],
        "results": None,
        "input_sha256": None,
        "inputs_sha256": None,
        "config_hash": None,
        "used_files": [],
        "companions": list(task.companions),
        "started": _now(),
        "finished": None,
        "duration_s": None,
        "stemstrain_version": __version__,
    }


def process_input(task: Task) -> dict:
    """Analyse one input and write its results folder; returns its summary.

    The summary has ``status`` "ok" (every analysis ran), "failed" (the file could not
    be read or an analysis failed: ``error`` says which and why; the results of the
    analyses that ran are kept) or "skipped" (no analysis configured for its kind).
    ``resumed`` is True when the results were up to date and nothing was redone.
    Warnings raised while reading and analysing are recorded in ``warnings``.
    The results folder is ``task.out_dir`` unless a folder that stemstrain does not own
    is there (then ``name~2`` ..., with a warning); ``output`` says which.
    """
    try:
        task, notes = _resolve_target(task)
    except StemstrainError as exc:
        summary = _new_summary(task)
        summary.update(
            error=f"cannot write results: {escape(_one_line(exc))}", resumed=False, output=""
        )
        return summary
    if task.resume:
        old = _up_to_date(task)
        if old is not None:  # paths of this run (the folders may have been moved)
            return {
                **old,
                "path": task.rel,
                "input": task.path,
                "output": task.out_dir,
                "resumed": True,
            }
    t0 = time.perf_counter()
    summary = _new_summary(task)
    summary["warnings"].extend(notes)
    with warnings.catch_warnings(record=True) as caught, _local_dask():
        warnings.simplefilter("always")
        loaded = _load_and_run(task, summary)
    for w in caught:
        msg = escape(" ".join(f"{w.category.__name__}: {w.message}".split()))
        if msg not in summary["warnings"]:
            summary["warnings"].append(msg)
    if loaded is None:
        summary["resumed"] = False
        return summary
    return _finish(task, summary, *loaded, t0)


def _resolve_target(task: Task) -> tuple[Task, list[str]]:
    """Check the results path lies inside --out, pick a folder we own, clean its stale temps."""
    final = Path(task.out_dir)
    root = Path(task.out_root) if task.out_root else final.parent
    check_inside(final, root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        target = pick_target(final)
    check_inside(target, root)
    clean_stale(target)
    notes = [f"UserWarning: {' '.join(str(w.message).split())}" for w in caught]
    return (replace(task, out_dir=str(target)) if target != final else task), notes


def _local_dask() -> Any:
    """Compute lazy data in this process, also inside a Dask worker (no nested graphs).

    One input is one task; its lazy reads (a chunked 4D-STEM cube) run synchronously in
    the worker that owns it, so a worker holds one cube's chunk at a time.
    """
    try:
        import dask
    except ImportError:  # pragma: no cover - dask is a dependency
        return contextlib.nullcontext()
    return dask.config.set(scheduler="synchronous")


def _load_and_run(task: Task, summary: dict) -> tuple[list, dict] | None:
    """Load and analyse; returns (results, figures), or None when the input is skipped."""
    try:
        main_sha, _ = _hashes([task.path, *task.companions])
        summary["input_sha256"] = main_sha
        signal, kind = _load(task)
    except Exception as exc:
        if os.environ.get("STEMSTRAIN_DEBUG") and not isinstance(exc, StemstrainError):
            raise
        prefix = "" if isinstance(exc, (StemstrainError, OSError)) else "internal error: "
        # the row names the file already: keep its name, drop the folder from the message
        msg = _one_line(exc).replace(task.path, Path(task.path).name)
        summary["error"] = f"cannot read: {prefix}{msg}"
        return [], {}
    summary["kind"] = kind
    if kind not in ANALYSES or not task.config.analyses_for(kind):
        summary["status"] = "skipped"
        summary["error"] = f"no analyses configured for kind {kind!r}"
        return None
    summary["config_hash"] = task.config.config_hash(kind)
    results, figures, used = _run_steps(task, signal, kind, summary)
    summary["used_files"] = used
    summary["status"] = "failed" if summary["errors"] else "ok"
    summary["error"] = "; ".join(summary["errors"])
    return results, figures


def _finish(task: Task, summary: dict, results: list, figures: dict, t0: float) -> dict:
    summary["resumed"] = False
    if summary["status"] == "failed" and not task.overwrite and _keeps_good(task, summary):
        return summary
    try:
        files = [task.path, *task.companions, *summary["used_files"]]
        inputs = _hashes(files) if all(os.path.exists(f) for f in files) else ("", "")
        summary["inputs_sha256"] = inputs[1] or None
        summary["duration_s"] = round(time.perf_counter() - t0, 3)
        _write_folder(task, summary, results, figures, inputs)
    except Exception as exc:
        if os.environ.get("STEMSTRAIN_DEBUG"):
            raise
        summary["status"] = "failed"
        summary["error"] = "; ".join(
            filter(None, [summary["error"], f"cannot write results: {_one_line(exc)}"])
        )
    return summary


def _keeps_good(task: Task, summary: dict) -> bool:
    """Keep earlier "ok" results instead of a failed run (unless overwrite); True if kept."""
    old = read_summary(task.out_dir)
    if not old or old.get("status") != "ok" or not is_results_folder(task.out_dir):
        return False
    msg = (
        f"earlier ok results in {Path(task.out_dir).name} kept (from {old.get('finished')}); "
        "this failed run was not written (use --overwrite to replace them)"
    )
    summary["warnings"].append(msg)
    summary["kept_previous"] = True
    return True


def with_analyses(config: Config, names: list[str]) -> Config:
    """Return a copy of ``config`` running only ``names`` (``analyze --analyses``)."""
    data = json.loads(json.dumps(config.data))
    for kind, allowed in ANALYSES.items():
        data["analyses"][kind] = [n for n in names if n in allowed]
    return replace(config, data=data, _hash_cache={})
