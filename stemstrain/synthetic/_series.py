"""A drifting, progressively strained layered-oxide movie with analytic truth (tests, benchmarks).

Every frame is rendered by :func:`stemstrain.synthetic.layered_oxide` from analytic column
positions: the material point ``X`` (nm, frame-0 image-centred) appears in frame ``k`` at
``X + u_k(X) + d_k`` with ``u_k`` a strain step whose amplitude grows with ``k`` and ``d_k``
the drift. Nothing is pixel-shifted. A particle surface (vacuum above a tilted line that moves
with the material) gives the frames non-periodic content, as in a real movie.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fields
from ._lattice import layered_oxide

__all__ = ["DriftingMovie", "drifting_movie"]


@dataclass(frozen=True)
class DriftingMovie:
    """Frames and truth of :func:`drifting_movie`.

    Attributes
    ----------
    frames : ndarray (n, H, W)
        Counts.
    pixel_size : float
        nm per px.
    drift : ndarray (n, 2)
        True drift (x, y) in px relative to frame 0 (content of frame 0 at ``p`` is at
        ``p + drift[k]`` in frame ``k``).
    stretch : ndarray (n,)
        Strain ``e_tt`` of the stretched side in each frame (0 on the other side).
    step_x_px : float
        Frame-0 column (px) where the step in strain is centred (material coordinate).
    truth : list of dict
        Exact maps (``strain_truth``) of every frame, on that frame's pixel grid.
    reference : tuple
        A box (row0, row1, col0, col1) in frame 0 in the unstrained region.
    """

    frames: np.ndarray
    pixel_size: float
    drift: np.ndarray
    stretch: np.ndarray
    step_x_px: float
    truth: list
    reference: tuple


def drifting_movie(
    shape: tuple[int, int] = (256, 256),
    n_frames: int = 8,
    *,
    max_stretch: float = 0.007,
    drift_per_frame: tuple[float, float] = (1.1, -0.75),
    jitter_px: float = 0.3,
    dose: float | None = 200.0,
    angle_deg: float = 8.0,
    surface: bool = True,
    seed: int = 0,
) -> DriftingMovie:
    """Render the movie; see the module docstring. The step runs along x at 45 % of the width."""
    h, w = shape
    ps = 0.02
    rng = np.random.default_rng(seed)
    k = np.arange(n_frames)
    drift = np.c_[drift_per_frame[0] * k, drift_per_frame[1] * k]
    drift += rng.normal(0.0, jitter_px, size=drift.shape)
    drift -= drift[0]
    stretch = max_stretch * k / max(n_frames - 1, 1)
    step_x = 0.45 * (w - 1)
    pos_nm = (step_x - (w - 1) / 2) * ps
    frames, truth = [], []
    for i in range(n_frames):
        dx, dy = drift[i] * ps
        # e_tt step along x; the layers make angle_deg with x
        step = fields.strain_step(
            float(stretch[i]), 0.0, angle_deg=angle_deg, position_nm=pos_nm, width_nm=0.4, along="t"
        )

        def disp(x, y, step=step, dx=dx, dy=dy):
            ux, uy = step(x, y)
            return ux + dx, uy + dy

        vac = None
        if surface:
            # a round particle (radius 0.8 W) whose surface crosses the upper right part of
            # the frame, in material coordinates (moves with the drift)
            cx, cy, rad = -0.2 * w * ps, 0.3 * h * ps, 0.8 * w * ps

            def vac(x, y, dx=dx, dy=dy, cx=cx, cy=cy, rad=rad):
                return (x - dx - cx) ** 2 + (y - dy - cy) ** 2 > rad**2

        s = layered_oxide(
            shape,
            pixel_size=ps,
            angle_deg=angle_deg,
            displacement=disp,
            vacuum=vac,
            dose=dose,
            seed=seed + i,
        )
        frames.append(s.image)
        tr = s.strain_truth()
        truth.append(tr)
    ref = (int(0.45 * h), int(0.85 * h), int(0.14 * w), int(0.38 * w))
    return DriftingMovie(np.stack(frames), ps, drift, stretch, float(step_x), truth, ref)
