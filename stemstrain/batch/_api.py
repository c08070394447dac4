"""``analyze_file``: one file -> ``<out>/<stem>/`` (what ``stemstrain analyze`` calls)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, StemstrainError
from ._config import ANALYSES, Config, load_config
from ._run import Task, process_input, with_analyses
from ._safety import OutputLock, check_out_dir, encode_name, escape, make_output

__all__ = ["analyze_file"]


def analyze_file(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: Config | None = None,
    *,
    analyses: list[str] | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> dict:
    """Analyse one file into ``out_dir/<name>_<ext>/`` (results.h5, figures, summary.json).

    Only a folder stemstrain made (it carries ``.stemstrain-results``) is ever replaced;
    any other folder of that name is left untouched and the results get ``<name>~2``.

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
    overwrite : bool
        Let a failed run replace earlier "ok" results of this file (default: keep them).

    Returns
    -------
    dict
        The input's summary (status, error, key figures, ...), as in ``summary.json``.

    Raises
    ------
    StemstrainError
        ``path`` is not a file; ``out_dir`` is not usable, contains the input's folder or
        is in use by another run.
    ConfigError
        ``analyses`` names an unknown analysis.
    """
    path = Path(path)
    if not (path.is_file() or (path.is_dir() and path.suffix.lower() == ".zspy")):
        what = "does not exist" if not path.exists() else "is not a file"
        raise StemstrainError(f"input {escape(path)} {what}")
    config = config if config is not None else load_config(None)
    if analyses is not None:
        known = sorted({a for names in ANALYSES.values() for a in names})
        bad = [a for a in analyses if a not in known]
        if bad or not analyses:
            raise ConfigError(f"--analyses: unknown {bad or analyses!r}; choose from {known}")
        config = with_analyses(config, list(analyses))
    out = Path(out_dir)
    check_out_dir(out, path.resolve().parent, what="folder of the input")
    make_output(out)
    root = out.resolve()
    task = Task(
        path=str(path.resolve()),
        rel=path.name,
        out_dir=str(root / encode_name(path.name)),
        config=config,
        progress=progress,
        out_root=str(root),
        overwrite=overwrite,
    )
    with OutputLock(out):
        return process_input(task)
