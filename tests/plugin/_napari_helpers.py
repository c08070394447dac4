"""Helpers of the napari plugin tests (imported by name: tests/plugin is on sys.path)."""

from __future__ import annotations

import numpy as np


def canvas_std(viewer) -> float:
    """Standard deviation of a canvas screenshot (0 for a blank canvas)."""
    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=True, flash=False)
    return float(np.asarray(shot[..., :3], dtype=float).std())


def capture_notifications(monkeypatch, level: str) -> list[str]:
    """Record napari ``show_<level>`` notifications instead of showing them."""
    import napari.utils.notifications as notifications

    messages: list[str] = []
    monkeypatch.setattr(notifications, f"show_{level}", lambda msg: messages.append(str(msg)))
    return messages
