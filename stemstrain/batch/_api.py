"""``analyze_file``: one file -> ``<out>/<stem>/`` (what ``stemstrain analyze`` calls)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, StemstrainError
from ._config import ANALYSES, Config, load_config
from ._run import Task, clean_stale, process_input, with_analyses

__all__ = ["analyze_file"]


def analyze_file(path: str | os.PathLike, out_dir: str | os.PathLike,
                 config: Config | None = None, *, analyses: list[str] | None = None,
                 progress: bool = False) -> dict:
    """Analyse one file into ``out_dir/<stem>/`` (results.h5, figures, summary.json).

    Parameters
    ----------
    path : path-like
        The input file (opened read-only).
    out_dir : path-like
        Output folder.
    config : Config, optional
        Configuration (defaults when None).
    analyses : list of str, optional
        Run only these analyses (those that apply to the file's kind).
    progress : bool
        Progress bar over the analyses on stderr.

    Returns
    -------
    dict
        The input's summary (status, error, key figures, ...), as in ``summary.json``.

    Raises
    ------
    StemstrainError
        ``path`` is not a file.
    ConfigError
        ``analyses`` names an unknown analysis.
    """
    path = Path(path)
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a file"
        raise StemstrainError(f"input {str(path)!r} {what}")
    config = config if config is not None else load_config(None)
    if analyses is not None:
        known = sorted({a for names in ANALYSES.values() for a in names})
        bad = [a for a in analyses if a not in known]
        if bad or not analyses:
            raise ConfigError(f"--analyses: unknown {bad or analyses!r}; choose from {known}")
        config = with_analyses(config, list(analyses))
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise StemstrainError(f"--out {str(out)!r} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    task = Task(path=str(path.resolve()), rel=path.name, out_dir=str((out / path.stem).resolve()),
                config=config, progress=progress)
    return process_input(task)
