"""Fixtures of the napari plugin tests.

napari 0.9 renders only with a real X display (``QT_QPA_PLATFORM=offscreen``
crashes vispy when a layer is added), so viewer tests run under Xvfb started by
pytest-xvfb. Without an X server they are skipped with the reason below.
napari's pytest plugin (``napari.utils._testsupport``, registered through the
``pytest11`` entry point of napari) provides ``make_napari_viewer``.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

NO_DISPLAY = (
    "no X display for napari: install Xvfb (`bash .ci/system-deps.sh` as root) so "
    "pytest-xvfb can start one, or set DISPLAY"
)


@pytest.fixture
def viewer(make_napari_viewer):
    """A shown napari viewer (canvas screenshots are blank unless it is shown)."""
    if not os.environ.get("DISPLAY"):
        pytest.skip(NO_DISPLAY + f" (Xvfb found: {shutil.which('Xvfb') is not None})")
    return make_napari_viewer(show=True)
