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

import pytest

NO_DISPLAY = (
    "no X display for napari: install Xvfb (`bash .ci/system-deps.sh` as root) so "
    "pytest-xvfb can start one, or set DISPLAY"
)


@pytest.fixture
def viewer(request):
    """A shown napari viewer (canvas screenshots are blank unless it is shown).

    The display is checked before ``make_napari_viewer`` (and Qt) is set up: creating a
    QApplication without an X server aborts the whole test process.
    """
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        pytest.skip(NO_DISPLAY + f" (Xvfb found: {shutil.which('Xvfb') is not None})")
    return request.getfixturevalue("make_napari_viewer")(show=True)


def _skip_napari_assert_rewrite(config) -> None:
    """Import napari's ~600 modules without pytest's assertion rewriting.

    napari registers its fixtures through a ``pytest11`` entry point, so pytest marks
    every module of the napari distribution for assertion rewriting. Where bytecode is
    not cached (``PYTHONDONTWRITEBYTECODE=1``, fresh CI) that rewriting alone costs
    ~20 s per run on 2 cores. napari's own asserts are not what these tests check.
    """
    hook = getattr(config.pluginmanager, "rewrite_hook", None)
    marked = getattr(hook, "_must_rewrite", None)
    if isinstance(marked, set):
        for name in [n for n in marked if n.split(".")[0] in ("napari", "napari_builtins")]:
            marked.discard(name)
        cache = getattr(hook, "_marked_for_rewrite_cache", None)
        if isinstance(cache, dict):
            cache.clear()


def pytest_configure(config):
    _skip_napari_assert_rewrite(config)
