"""Memory of file-backed arrays: drop a memmap view's pages from this process (Linux).

Shared by the 4D-STEM reader (``fourd``) and the big synthetic cube writer (``synthetic``).
"""

from __future__ import annotations

import ctypes
import sys

import numpy as np

__all__ = ["release_pages"]

_LIBC = None


def release_pages(block: np.ndarray) -> None:
    """Drop the pages of a file-backed (memmap) view from this process (Linux madvise).

    Reading a memmap maps its pages into the process; without this they count in its
    resident memory until the map is closed, so an 8 GB cube would show 8 GB RSS.
    """
    global _LIBC
    if not sys.platform.startswith("linux"):
        return
    try:
        if _LIBC is None:
            _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
        page = 4096
        start = block.__array_interface__["data"][0]
        end = start + block.nbytes
        a0 = start - start % page
        _LIBC.madvise(ctypes.c_void_p(a0), ctypes.c_size_t(end - a0), 4)  # MADV_DONTNEED
    except Exception:
        return
