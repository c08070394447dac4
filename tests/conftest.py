"""Shared fixtures.

The real microscope files live in ``../shared/data`` relative to the repository root
(the parent of ``tests/``). Tests that need them use the ``shared_data_dir`` fixture,
which skips with a clear reason when that folder is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()
SAMPLE_DATA = REPO_ROOT / "sample_data"


def shared_data_available() -> bool:
    """True when ``../shared/data`` (relative to the repo root) holds expected.json."""
    return (SHARED_DATA / "expected.json").is_file()


def load_expected() -> dict:
    """``expected.json`` of the shared data, or {} when the folder is absent."""
    if not shared_data_available():
        return {}
    return json.loads((SHARED_DATA / "expected.json").read_text())


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """Folder of the real microscope files; skips when it is absent."""
    if not shared_data_available():
        pytest.skip(
            f"real microscope files not found: {SHARED_DATA} (../shared/data relative "
            "to the repository root) is absent"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_data_dir() -> Path:
    """The bundled ``sample_data/`` folder of the repository."""
    return SAMPLE_DATA
