"""Propose a reference region: the most uniform (least-distorted) window of the lattice."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..errors import NoLatticeError, StemstrainError
from ._run import least_distorted

__all__ = ["propose_reference"]


def propose_reference(
    image: Any,
    pixel_size: float | None = None,
    *,
    size_px: int | None = None,
    backend: str = "numpy",
) -> tuple[int, int, int, int]:
    """Propose the least-distorted square region as a GPA reference.

    A first GPA pass (reference = whole image) gives the distortion maps; the window
    of side ``size_px`` with the smallest summed local variance of ``exx, eyy, exy,
    rotation``, entirely inside the valid (crystalline) region, is returned.

    Parameters
    ----------
    image : ndarray, hyperspy Signal2D or GPAResult
        The image, or a GPA result to reuse.
    pixel_size : float, optional
        nm per pixel (for an image).
    size_px : int, optional
        Side of the region (default: a quarter of the shorter image side, at least
        four GPA resolutions).
    backend : {"numpy", "cupy", "auto"}
        For the GPA pass.

    Returns
    -------
    tuple of int
        ``(row0, row1, col0, col1)``, ready for ``gpa(..., reference=...)``.

    Raises
    ------
    NoLatticeError
        When no window of that size lies fully in the crystal.
    """
    from ._api import gpa
    from ._result import GPAResult

    if isinstance(image, GPAResult):
        result = image
    else:  # a first pass against the mean lattice; its own warnings concern that pass only
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            result = gpa(image, pixel_size, backend=backend)
    h, w = result.exx.shape
    res_px = result.resolution_nm / (result.pixel_size or 1.0)
    if size_px is None:
        size_px = int(max(min(h, w) // 4, 4 * res_px))
    size_px = int(size_px)
    if not 4 <= size_px <= min(h, w):
        raise StemstrainError(f"size_px must be between 4 and {min(h, w)}, got {size_px!r}")
    step = max(1, size_px // 16)
    maps = [
        np.asarray(getattr(result, k))[::step, ::step] for k in ("exx", "eyy", "exy", "rotation")
    ]
    valid = np.isfinite(maps[0])
    corner = least_distorted(maps, valid, max(1, size_px // step))
    if corner is None:
        raise NoLatticeError(
            f"no {size_px}x{size_px} px window lies fully in the crystal (valid GPA region); "
            "pass a smaller size_px or choose the reference by hand"
        )
    i0, j0 = corner
    r0 = int(np.clip(i0 * step, 0, h - size_px))
    c0 = int(np.clip(j0 * step, 0, w - size_px))
    return r0, r0 + size_px, c0, c0 + size_px
