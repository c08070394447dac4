"""The ``analyze``, ``batch``, ``demo`` and ``config`` commands of ``stemstrain``.

A thin layer over :mod:`stemstrain.batch`: parse, call, print, return the exit code
(API.md: 0 all done; 1 finished but some inputs failed; 2 bad invocation or unreadable
input; :class:`~stemstrain.errors.StemstrainError` is turned into a one-line message
with exit 2 by ``stemstrain.cli.main``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError
from ._safety import escape

__all__ = ["add_commands"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def _add_out_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--config", metavar="CFG.toml", help="configuration (stemstrain config --example)"
    )


def _add_overwrite_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="let a failed run replace earlier ok results (default: keep them)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``analyze``, ``batch``, ``watch``, ``demo``, ``config`` to the ``stemstrain`` parser."""
    p = sub.add_parser("analyze", help="analyse one file into DIR/<stem>/")
    p.add_argument("file", metavar="FILE")
    _add_out_config(p)
    p.add_argument(
        "--analyses",
        metavar="LIST",
        help="comma-separated subset: gpa,dislocations,columns,curvature,stacking,"
        "occupancy,eels,fourd (default: the config's list for the file's kind)",
    )
    _add_overwrite_quiet(p)
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("batch", help="analyse every data file of a session folder")
    p.add_argument("session", metavar="SESSION_DIR")
    _add_out_config(p)
    grp = p.add_mutually_exclusive_group()
    grp.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="local worker processes (default 1: this process)",
    )
    grp.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask distributed scheduler, e.g. tcp://10.0.0.5:8786 (workers must "
        "see the session and output folders at the same paths)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="skip inputs whose results match the input and config hashes",
    )
    _add_overwrite_quiet(p)
    p.set_defaults(func=_cmd_batch)

    p = sub.add_parser(
        "watch",
        help="process each file of a session folder once it is "
        "complete, while it is being acquired (Ctrl-C stops)",
    )
    p.add_argument("session", metavar="SESSION_DIR")
    _add_out_config(p)
    p.add_argument(
        "--settle",
        type=_non_negative,
        default=2.0,
        metavar="S",
        help="seconds a file's size and mtime must be stable (default 2)",
    )
    p.set_defaults(func=_cmd_watch)

    p = sub.add_parser("demo", help="run the batch on the bundled sample data; prints the report")
    p.add_argument(
        "--out", default="demo_results", metavar="DIR", help="output folder (default: demo_results)"
    )
    p.add_argument("--workers", type=_positive_int, default=1, metavar="N")
    p.add_argument("--resume", action="store_true", help="keep results that are up to date")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("config", help="print the example configuration or check one")
    grp = p.add_mutually_exclusive_group(required=True)
    grp.add_argument("--example", action="store_true", help="print the documented example")
    grp.add_argument("--check", metavar="CFG.toml", help="validate; print the effective config")
    p.set_defaults(func=_cmd_config)


#: (key figure, label, format) of the one-line quality summary of ``analyze``
_QUALITY = (
    ("gpa_valid_fraction", "GPA valid", "{:.0%} of the crystal"),
    ("gpa_crystalline_fraction", "crystal", "{:.0%}"),
    ("gpa_n_grains", "grains", "{:d}"),
    ("gpa_reference", "reference", "{}"),
    ("lattice_crystalline_fraction", "lattice crystal", "{:.0%}"),
    ("lattice_n_grains", "lattice grains", "{:d}"),
    ("lattice_anisotropy", "x/y anisotropy", "{:.4f}"),
    ("phase_fit_median", "phase fit", "{:.2f}"),
    ("fourd_valid_fraction", "4D fitted", "{:.0%}"),
    ("fourd_residual_px_median", "fit residual", "{:.2f} px"),
    ("fourd_phase_fractions", "phases", "{}"),
)


def quality_line(summary: dict) -> str:
    """One line with an input's quality figures and its number of warnings ('' if none)."""
    keys = summary.get("keys") or {}
    parts = []
    for name, label, fmt in _QUALITY:
        v = keys.get(name)
        if v is None or v == "" or (isinstance(v, float) and v != v):
            continue
        try:
            parts.append(f"{label} {fmt.format(int(v) if 'd}' in fmt else v)}")
        except (TypeError, ValueError):
            parts.append(f"{label} {v}")
    n = len(summary.get("warnings") or [])
    if parts or n:
        parts.append(f"{n} warning{'s' if n != 1 else ''}")
    return "; ".join(parts)


def _print_summary(result: object) -> None:
    r = result
    resumed = f" ({r.n_resumed} up to date, skipped)" if r.n_resumed else ""
    print(
        escape(
            f"stemstrain: {r.count('ok')} ok{resumed}, {r.count('failed')} failed, "
            f"{r.count('skipped')} skipped (not data); summary: {r.csv_path}"
        )
    )
    for row in r.rows:
        if row["status"] == "failed":
            print(escape(f"  failed: {row['path']}: {row.get('error', '')}"))
    print(escape(f"report: {r.report_path}"))


def _cmd_batch(args: argparse.Namespace) -> int:
    from . import load_config, run_batch

    config = load_config(args.config)
    result = run_batch(
        args.session,
        args.out,
        config,
        workers=args.workers,
        scheduler=args.scheduler,
        resume=args.resume,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    _print_summary(result)
    return result.exit_code


def _cmd_watch(args: argparse.Namespace) -> int:
    from . import load_config, watch

    config = load_config(args.config)
    result = watch(args.session, args.out, config, settle=args.settle)
    pending = result.count("pending")
    print(
        f"stemstrain watch: stopped; {result.count('ok')} ok, {result.count('failed')} "
        f"failed, {pending} pending; summary: {result.csv_path}; report: "
        f"{result.report_path}",
        flush=True,
    )
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from . import analyze_file, load_config

    config = load_config(args.config)
    names = None
    if args.analyses:
        names = [a.strip() for a in args.analyses.split(",") if a.strip()]
    summary = analyze_file(
        args.file,
        args.out,
        config,
        analyses=names,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    name = escape(args.file)
    if summary["status"] == "failed" and summary.get("error", "").startswith("cannot read"):
        print(escape(f"stemstrain: error: {name}: {summary['error']}"), file=sys.stderr)
        for w in summary.get("warnings", []):
            if "kept" in w and "--overwrite" in w:
                print(escape(f"stemstrain: note: {w}"), file=sys.stderr)
        return 2
    for w in summary.get("warnings", []):
        print(escape(f"stemstrain: warning: {w}"), file=sys.stderr)
    if summary["status"] == "failed":
        print(escape(f"stemstrain: FAILED {name}: {summary['error']}"), file=sys.stderr)
    elif summary["status"] == "skipped":
        print(escape(f"stemstrain: skipped {name}: {summary['error']}"), file=sys.stderr)
    for aname, state in summary.get("analyses", {}).items():
        print(escape(f"  {aname}: {state}"))
    line = quality_line(summary)
    if line:
        print(escape(f"  quality: {line}"))
    if Path(summary["output"]).is_dir() and not summary.get("kept_previous"):
        print(escape(f"results: {summary['output']}"))
    return 1 if summary["status"] == "failed" else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from . import run_demo

    result = run_demo(args.out, workers=args.workers, resume=args.resume, progress=not args.quiet)
    _print_summary(result)
    return result.exit_code


def _cmd_config(args: argparse.Namespace) -> int:
    from . import example_config_text, load_config

    if args.example:
        sys.stdout.write(example_config_text())
        return 0
    if not Path(args.check).is_file():
        raise ConfigError(f"config {escape(args.check)} does not exist")
    cfg = load_config(args.check)
    print(escape(f"# {args.check}: valid; effective configuration:"))
    _note_backends(cfg)
    print(cfg.to_json())
    return 0


def _note_backends(cfg: object) -> None:
    """Say on stderr when a section asks for CuPy and this machine cannot run it."""
    wanted = [
        f"[{sec}] backend"
        for sec, body in cfg.data.items()
        if isinstance(body, dict) and body.get("backend") == "cupy"
    ]
    if not wanted:
        return
    from .._backend import cupy_available

    if not cupy_available():
        print(
            f'stemstrain: note: {", ".join(wanted)} = "cupy" but CuPy/a GPU is not '
            "available here; those analyses fail on this machine (fine for GPU workers)",
            file=sys.stderr,
        )
