"""Session folders with analytic ground truth for the batch tests (built once per test run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from batch_helpers import FAST_CONFIG, build_session, tree_hashes


@pytest.fixture(scope="session")
def session_template(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("session_template")
    lattices = build_session(root)
    (root.parent / "fast.toml").write_text(FAST_CONFIG)
    (root.parent / "nofig.toml").write_text(FAST_CONFIG.replace("dpi = 40", "figures = false"))
    return root, lattices


@pytest.fixture
def session(session_template, tmp_path) -> Path:
    """A fresh copy of the acceptance session in this test's tmp_path."""
    src, _ = session_template
    dst = tmp_path / "session"
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="session")
def fast_config(session_template) -> Path:
    return session_template[0].parent / "fast.toml"


@pytest.fixture(scope="session")
def nofig_config(session_template) -> Path:
    """FAST_CONFIG without figures (same results and config hash, less matplotlib time)."""
    return session_template[0].parent / "nofig.toml"


@pytest.fixture(scope="session")
def first_run(session_template, fast_config, tmp_path_factory):
    """One full batch run of the acceptance session (shared by the read-only checks)."""
    import time

    from stemstrain.cli import main

    src, lattices = session_template
    base = tmp_path_factory.mktemp("first_run")
    sess = base / "session"
    shutil.copytree(src, sess)
    before = tree_hashes(sess)
    out = base / "out"
    t0 = time.perf_counter()
    code = main(["batch", str(sess), "--out", str(out), "--config", str(fast_config), "--quiet"])
    elapsed = time.perf_counter() - t0
    return {
        "session": sess,
        "out": out,
        "code": code,
        "elapsed": elapsed,
        "before": before,
        "lattices": lattices,
        "fast_config": fast_config,
    }
