"""Command-line interface: a thin layer over the public functions.

Exit codes (API.md): 0 all done; 1 finished but some inputs failed; 2 bad invocation
or unreadable input. Errors a user can cause are printed as one line on stderr,
never as a traceback (set ``STEMSTRAIN_DEBUG=1`` to see the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .errors import StemstrainError

__all__ = ["main", "build_parser"]


def _cmd_info(args: argparse.Namespace) -> int:
    from .batch._safety import escape
    from .io import describe, format_description

    for path in args.files:
        info = describe(path)
        print("\n".join(escape(line) for line in format_description(info).split("\n")))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argparse parser of ``stemstrain``."""
    parser = argparse.ArgumentParser(
        prog="stemstrain",
        description="Strain, curvature, stacking and O/TM maps of layered cathodes "
        "from (S)TEM data.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("info", help="kind, shape, dtype, calibration and metadata of files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=_cmd_info)
    try:
        from .batch._cli import add_commands
    except ImportError:
        pass
    else:
        add_commands(sub)
    return parser


def _version() -> str:
    from . import __version__

    return f"stemstrain {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except StemstrainError as exc:
        print(_escape(f"stemstrain: error: {exc}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "stemstrain: interrupted (queued inputs cancelled; finished results kept)",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:
        if os.environ.get("STEMSTRAIN_DEBUG"):
            raise
        msg = _escape(" ".join(f"{type(exc).__name__}: {exc}".split()))
        print(
            f"stemstrain: internal error: {msg} (set STEMSTRAIN_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 2


def _escape(text: str) -> str:
    from .batch._safety import escape

    return escape(text)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
