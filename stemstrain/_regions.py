"""One region convention (API.md): a box, two slices, a boolean mask, ``None`` or ``"auto"``.

Every ``reference=`` / ``region=`` argument of the image analyses is read here:
:func:`parse_region` keeps ``None`` and ``"auto"`` for the caller to decide,
:func:`region_mask` always returns a mask (``None`` = the whole data, or an error).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._backend import asnumpy
from .errors import StemstrainError

__all__ = ["parse_region", "region_mask", "region_box"]


def parse_region(
    region: Any,
    shape: tuple[int, int],
    name: str = "reference",
    *,
    allow_auto: bool = True,
    min_size: int = 4,
) -> Any:
    """Turn a region argument into ``None``, ``"auto"`` or a boolean mask of ``shape``.

    Parameters
    ----------
    region : None, "auto", (row0, row1, col0, col1), (slice, slice) or ndarray of bool
        The region as the user gave it (px, half-open box).
    shape : (int, int)
        Shape of the data.
    name : str
        Parameter name used in error messages.
    allow_auto : bool
        Whether ``"auto"`` is accepted.
    min_size : int
        Fewest pixels a mask must select (4: a reference to fit; 1 for scan positions).

    Returns
    -------
    None, "auto" or ndarray of bool

    Raises
    ------
    StemstrainError
        A box outside the data, an empty region, a mask of the wrong shape or dtype.
    TypeError
        Any other type.
    """
    h, w = (int(v) for v in shape)
    auto = ", 'auto'" if allow_auto else ""
    allowed = (
        f"None{auto}, (row0, row1, col0, col1) in px, (slice, slice) or a boolean "
        "mask of the data's shape"
    )
    if region is None:
        return None
    if isinstance(region, str):
        if allow_auto and region == "auto":
            return "auto"
        raise StemstrainError(f"{name} must be {allowed}; got {region!r}")
    if hasattr(region, "shape") and getattr(region, "ndim", 0) == 2:
        mask = np.asarray(asnumpy(region))
        if mask.shape != (h, w):
            raise StemstrainError(
                f"{name} mask has shape {mask.shape}, the data {(h, w)}; pass {allowed}"
            )
        if mask.dtype != bool:
            raise StemstrainError(f"{name} mask must be boolean, got dtype {mask.dtype}")
        if mask.sum() < min_size:
            raise StemstrainError(
                f"{name} mask selects {int(mask.sum())} pixel(s), fewer than {min_size}; "
                "select a region"
            )
        return mask
    if not isinstance(region, (tuple, list)):
        raise TypeError(f"{name} must be {allowed}; got {type(region).__name__}")
    if len(region) == 2 and all(isinstance(v, slice) for v in region):
        rows, cols = (range(*sl.indices(n)) for sl, n in zip(region, (h, w), strict=True))
        if any(r.step != 1 for r in (rows, cols)):
            raise StemstrainError(f"{name} slices must have step 1, got {region!r}")
        box = (rows.start, rows.stop, cols.start, cols.stop)
    else:
        try:
            if len(region) != 4 or any(float(v) != int(v) for v in region):
                raise ValueError
            box = tuple(int(v) for v in region)
        except (TypeError, ValueError):
            raise StemstrainError(f"{name} must be {allowed}; got {region!r}") from None
    r0, r1, c0, c1 = box
    if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
        raise StemstrainError(
            f"{name} {box} (row0, row1, col0, col1) lies outside the {h}x{w} data or is empty; "
            f"need 0 <= row0 < row1 <= {h}, 0 <= col0 < col1 <= {w}"
        )
    mask = np.zeros((h, w), dtype=bool)
    mask[r0:r1, c0:c1] = True
    return mask


def region_mask(
    region: Any,
    shape: tuple[int, int],
    name: str = "reference",
    *,
    none_is_all: bool = True,
    min_size: int = 4,
) -> np.ndarray:
    """Boolean mask of ``shape`` from a box, two slices or a mask (:func:`parse_region`).

    ``None`` selects the whole data when ``none_is_all``, else it is an error; ``"auto"``
    is not accepted (decide it before); a mask selects at least ``min_size`` pixels.

    Examples
    --------
    >>> int(region_mask((0, 2, 1, 4), (4, 5)).sum())
    6
    >>> bool(region_mask(None, (4, 5)).all())
    True
    """
    mask = parse_region(region, shape, name, allow_auto=False, min_size=min_size)
    if mask is not None:
        return mask
    if none_is_all:
        return np.ones(tuple(int(v) for v in shape), dtype=bool)
    raise StemstrainError(
        f"{name} is None; pass (row0, row1, col0, col1), two slices or a boolean mask"
    )


def region_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (row0, row1, col0, col1) of a boolean mask."""
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
