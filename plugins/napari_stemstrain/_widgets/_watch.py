"""Follow a results folder (``stemstrain watch`` / ``batch --out``): new results become layers.

No analysis here: :func:`new_results` reads the finished results folders (``summary.json``
status "ok", ``results.h5``) that appeared or changed since the last poll, and the widget
adds one image layer per finished input (a GPA map, or the stack of a series).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, Label, PushButton

from ._layers import set_image

__all__ = ["WatchWidget", "new_results"]

_COMPONENTS = ("exx", "eyy", "exy", "rotation", "dilatation", "e_nn", "e_tt", "e_nt")


def _summaries(out_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in out_dir.rglob("summary.json")
        if not any(part.startswith(".") for part in p.relative_to(out_dir).parts)
    )


def new_results(out_dir: Any, seen: dict, component: str = "exx") -> list[dict]:
    """Finished inputs of a results folder not yet in ``seen`` (updated in place).

    Parameters
    ----------
    out_dir : path-like
        The ``--out`` folder of a watch or batch.
    seen : dict
        Results folder -> ``finished`` timestamp of what was already shown.
    component : str
        Map to return (one of the GPA components).

    Returns
    -------
    list of dict
        ``name`` (input path), ``folder``, ``data`` (H, W) or (n_frames, H, W) for a series,
        ``pixel_size`` (nm or None), ``group`` ("gpa" or "gpa_series").
    """
    import h5py

    out_dir = Path(out_dir)
    found = []
    if not out_dir.is_dir():
        return found
    for path in _summaries(out_dir):
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # being replaced right now: next poll
        key = str(path.parent)
        if summary.get("status") != "ok" or seen.get(key) == summary.get("finished"):
            continue
        results = path.parent / (summary.get("results") or "results.h5")
        try:
            with h5py.File(results, "r") as h5:
                group = next((g for g in ("gpa_series", "gpa") if f"{g}/{component}" in h5), None)
                if group is None:
                    seen[key] = summary.get("finished")
                    continue
                data = np.asarray(h5[f"{group}/{component}"][()], dtype=np.float32)
                px = float(h5[group].attrs.get("pixel_size_nm", np.nan))
        except OSError:
            continue
        seen[key] = summary.get("finished")
        found.append(
            {
                "name": summary.get("path", path.parent.name),
                "folder": key,
                "data": data,
                "pixel_size": px if np.isfinite(px) else None,
                "group": group,
            }
        )
    return found


class WatchWidget(Container):
    """Dock widget: follow a results folder; each new finished input appears as a layer.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer.
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.seen: dict = {}
        self._folder = FileEdit(mode="d", label="results folder")
        self._component = ComboBox(label="map", choices=list(_COMPONENTS), value="exx")
        self._follow = CheckBox(text="follow (poll every 2 s)", value=False)
        self._now = PushButton(text="Check now")
        self._status = Label(value="", label="status")
        self.extend([self._folder, self._component, self._follow, self._now, self._status])
        self._timer: Any = None
        self._follow.changed.connect(self._set_follow)
        self._now.changed.connect(self.poll)
        self._folder.changed.connect(self._reset)

    def _reset(self, *_: Any) -> None:
        self.seen = {}

    def _set_follow(self, on: bool) -> None:
        if on and self._timer is None:
            from qtpy.QtCore import QTimer

            self._timer = QTimer()
            self._timer.setInterval(2000)
            self._timer.timeout.connect(self.poll)
        if self._timer is not None:
            (self._timer.start if on else self._timer.stop)()
        if on:
            self.poll()

    def poll(self, *_: Any) -> int:
        """Add layers for the results finished since the last poll; returns how many."""
        folder = Path(str(self._folder.value))
        if not folder.is_dir():
            self._status.value = f"not a folder: {folder}"
            return 0
        new = new_results(folder, self.seen, self._component.value)
        for item in new:
            set_image(
                self.viewer,
                item["data"],
                f"{item['name']} {self._component.value}",
                pixel_size=item["pixel_size"],
                group=f"watch:{item['group']}",
                colormap="RdBu_r",
                symmetric=True,
            )
        self._status.value = f"{len(self.seen)} results shown; {len(new)} new"
        return len(new)
