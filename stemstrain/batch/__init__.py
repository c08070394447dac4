"""Batch processing of microscope sessions (``stemstrain batch | analyze | demo | config``).

* :func:`load_config` / :func:`parse_config` - the TOML configuration, validated key by key
  (:func:`example_config_text` is the documented example).
* :func:`discover` - the files of a session folder: what to analyse, what is skipped and why.
* :func:`process_input` / :func:`analyze_file` - one input -> ``<out>/<stem>/`` with
  ``results.h5``, PNG figures and ``summary.json``, written atomically.
* :func:`run_batch` - every input of a session, serially, in local processes or on a Dask
  cluster; ``summary.csv`` and ``report.html``; ``resume``.
* :func:`watch` - process each file of a session once it is complete, during acquisition.
* :func:`run_demo` - the batch on the bundled sample data.

Heavy modules (HyperSpy, Dask, matplotlib) are imported only when a command runs.
"""

from __future__ import annotations

from .._lazy import attach_table

# public name -> private module, imported on first access
_LAZY = {
    "Config": "._config",
    "load_config": "._config",
    "parse_config": "._config",
    "example_config_text": "._config",
    "discover": "._discover",
    "Task": "._run",
    "process_input": "._run",
    "analyze_file": "._api",
    "run_batch": "._session",
    "SessionResult": "._session",
    "watch": "._watch",
    "run_demo": "._demo",
    "find_sample_data": "._demo",
}

__getattr__, __dir__, __all__ = attach_table(__name__, _LAZY)
