"""Helpers of the batch tests: the acceptance session with analytic ground truth."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from stemstrain.synthetic import fields, layered_oxide

PX = 0.02  # nm/px
SHAPE = (256, 256)
# GPA strain step: e_nn = +2 % right of x = +0.8 nm (image centre = 0); reference = left box
STEP_E_NN = 0.02
STEP_POS_NM = 0.8
REF_BOX = [0, 256, 0, 100]  # [row0, row1, col0, col1] px, unstrained side

FAST_CONFIG = f"""
[analyses]
image = ["gpa", "dislocations", "columns", "curvature", "stacking"]

[run]
dpi = 40

[gpa]
resolution_nm = 0.8
reference = {REF_BOX}
"""


def batch_cli(session: Path, out: Path, *options: str, config: Path | None = None) -> int:
    """Exit code of ``stemstrain batch SESSION --out OUT [--config CFG] OPTIONS...``."""
    from stemstrain.cli import main

    cfg = ["--config", str(config)] if config is not None else []
    return main(["batch", str(session), "--out", str(out), *cfg, *options])


def particle_in_vacuum_session(root: Path, name: str) -> Path:
    """A session folder holding one 256² crystal 1.8 nm wide in vacuum (seed 4), as ``name``."""
    lat = layered_oxide(
        SHAPE,
        pixel_size=PX,
        seed=4,
        vacuum=lambda x, y: (np.abs(x) > 0.9) | (np.abs(y) > 0.9),
    )
    sess = root / "s"
    sess.mkdir()
    save_signal(lat.image, sess / name)
    return sess


def save_signal(image: np.ndarray, path: Path) -> None:
    import hyperspy.api as hs

    sig = hs.signals.Signal2D(image)
    for ax in sig.axes_manager.signal_axes:
        ax.scale, ax.units = PX, "nm"
    sig.save(path, overwrite=True)


def make_lattices() -> dict:
    """Name -> SyntheticLattice of the good images."""
    step = fields.strain_step(
        0.0, STEP_E_NN, angle_deg=0.0, position_nm=STEP_POS_NM, width_nm=0.3, along="t"
    )
    return {
        "strained.hspy": layered_oxide(SHAPE, pixel_size=PX, displacement=step, seed=1),
        "bent.hspy": layered_oxide(SHAPE, pixel_size=PX, bend_radius_nm=15.0, seed=2),
        "day2/o1band.tif": layered_oxide(
            SHAPE, pixel_size=PX, angle_deg=6.0, o1_gaps=(-2, 0), seed=3
        ),
    }


def build_session(root: Path) -> dict:
    """The acceptance session: 3 good images, a truncated .hspy, random .dm4, README.txt."""
    lattices = make_lattices()
    for name, lat in lattices.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        save_signal(lat.image, root / name)
    data = (root / "strained.hspy").read_bytes()
    (root / "broken.hspy").write_bytes(data[: len(data) // 3])
    rng = np.random.default_rng(7)
    (root / "day2" / "noise.dm4").write_bytes(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
    (root / "README.txt").write_text("Session of 2026-11-27, LiCoO2 after 100 cycles.\n")
    return lattices


def tree_hashes(root: Path) -> dict:
    """SHA-256 of every file under ``root``."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def mtimes(root: Path) -> dict:
    return {
        p.relative_to(root).as_posix(): os.stat(p).st_mtime_ns
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def crash_target(task: tuple) -> dict:
    """WorkerPool target of the worker tests: ("ok", i) returns, ("crash", i) dies (SIGKILL)."""
    import signal

    what, i = task
    if what == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    return {"i": i, "pid": os.getpid()}
