"""Local lattice scales for real-space analyses (columns, layers), from :func:`lattice_map`.

:func:`local_lattice` turns the window grid of :class:`~stemstrain.lattice.LatticeMap`
into what a column detector and a layer tracer need: per window the shortest real-space
lattice vector (the nearest-neighbour column distance), the layer direction
perpendicular to the layer normal, the interlayer spacing, the crystalline mask and the
grain label; and the same for the largest grain as one global summary. Large, finely
sampled images are mapped 2x binned (the lattice map is then ~4x cheaper; the columns
are still >= 3.5 px apart in the binned image).

This module is the one place where the real-space code meets the lattice map; a
different local-lattice estimate only has to return a :class:`LocalLattice`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["LocalLattice", "local_lattice", "reduced_basis"]

_COMBOS = np.array(
    [(m, n) for m in range(-2, 3) for n in range(-2, 3) if (m, n) != (0, 0)], dtype=float
)


@dataclass(frozen=True)
class LocalLattice:
    """Real-space lattice scales on the lattice-map grid (all lengths in image px).

    Attributes
    ----------
    grid_y, grid_x : ndarray
        Window centres, px.
    step_px : float
        Grid step, px.
    nn_px : ndarray (ny, nx)
        Shortest real-space lattice vector (nearest-neighbour distance), NaN outside.
    tangent : ndarray (ny, nx, 2)
        Unit direction ``(t_x, t_y)`` of that vector, in the canonical layer frame
        (``t = (n_y, -n_x)`` with ``n_y > 0``).
    spacing_px : ndarray (ny, nx)
        Spacing of the lattice rows along ``t`` (cell area / ``nn_px``).
    crystalline : ndarray of bool (ny, nx)
        The window holds a 2-D lattice.
    grains : ndarray of int (ny, nx)
        Grain labels of the lattice map (0 none).
    normal : (float, float)
        Canonical normal of the largest grain (``n_y > 0``).
    period_px, row_spacing_px : float
        Median ``nn_px`` and ``spacing_px`` over the largest grain.
    crystalline_fraction : float
        Fraction of crystalline windows.
    source : str
        ``"lattice_map"`` (binned ``bin`` x) or ``"fft"``.
    messages : tuple of str
        Warnings of the lattice map (kept, not re-issued).
    """

    grid_y: np.ndarray
    grid_x: np.ndarray
    step_px: float
    nn_px: np.ndarray
    tangent: np.ndarray
    spacing_px: np.ndarray
    crystalline: np.ndarray
    grains: np.ndarray
    normal: tuple
    period_px: float
    row_spacing_px: float
    crystalline_fraction: float
    source: str
    messages: tuple = ()

    def sample(self, name: str, x, y, *, dilate: int = 0) -> np.ndarray:
        """Nearest-window value of a grid field at pixel positions (``dilate``: bool fields)."""
        field = getattr(self, name)
        if dilate and field.dtype == bool:
            from scipy.ndimage import binary_dilation

            field = binary_dilation(field, iterations=int(dilate))
        iy = np.clip(
            np.rint((np.asarray(y, float) - self.grid_y[0]) / self.step_px), 0, len(self.grid_y) - 1
        ).astype(int)
        ix = np.clip(
            np.rint((np.asarray(x, float) - self.grid_x[0]) / self.step_px), 0, len(self.grid_x) - 1
        ).astype(int)
        return field[iy, ix]


def reduced_basis(g_px: np.ndarray):
    """Shortest real-space vector, its direction and the row spacing of reciprocal bases.

    ``g_px`` (..., 2, 2): rows are reciprocal basis vectors (cycles/px). Returns
    ``nn`` (...), ``t`` (..., 2) canonical unit vectors and ``spacing`` (...), NaN where
    the basis is undefined.
    """
    g = np.asarray(g_px, float)
    ok = np.isfinite(g).all(axis=(-2, -1))
    det = np.where(ok, g[..., 0, 0] * g[..., 1, 1] - g[..., 0, 1] * g[..., 1, 0], np.nan)
    ok &= np.abs(det) > 1e-12
    gs = np.where(ok[..., None, None], g, np.eye(2))
    real = np.linalg.inv(gs)  # columns: real-space basis a_j (g_i . a_j = delta_ij)
    vec = np.einsum("...ij,kj->...ki", real, _COMBOS)  # (..., K, 2)
    length = np.hypot(vec[..., 0], vec[..., 1])
    k = np.argmin(length, axis=-1)
    nn = np.take_along_axis(length, k[..., None], axis=-1)[..., 0]
    v = np.take_along_axis(vec, k[..., None, None], axis=-2)[..., 0, :] / nn[..., None]
    n = np.stack([-v[..., 1], v[..., 0]], axis=-1)
    flip = (n[..., 1] < 0) | ((n[..., 1] == 0) & (n[..., 0] < 0))
    n = np.where(flip[..., None], -n, n)
    t = np.stack([n[..., 1], -n[..., 0]], axis=-1)
    area = np.abs(np.linalg.det(real))
    spacing = area / nn
    nan = ~ok
    return (
        np.where(nan, np.nan, nn),
        np.where(nan[..., None], np.nan, t),
        np.where(nan, np.nan, spacing),
    )


def _finest_period_px(img: np.ndarray) -> float:
    """Finest strong lattice period (px) in a central crop (decides the binning)."""
    h, w = img.shape
    size = int(min(h, w, 512))
    y0, x0 = (h - size) // 2, (w - size) // 2
    crop = img[y0 : y0 + size, x0 : x0 + size].astype(float)
    crop = crop - crop.mean()
    win = np.hanning(size)
    spec = np.abs(np.fft.rfft2(crop * win[:, None] * win[None, :])) ** 2
    ky = np.fft.fftfreq(size)[:, None]
    kx = np.fft.rfftfreq(size)[None, :]
    kr = np.hypot(kx, ky)
    spec[kr < 3.0 / size] = 0
    strong = spec >= 0.1 * spec.max()
    return float(1.0 / kr[strong].max()) if strong.any() else np.inf


def local_lattice(
    img: np.ndarray, pixel_size: float | None, *, backend: str = "numpy"
) -> LocalLattice | None:
    """Map the local lattice of ``img`` (NumPy) or return None when the map finds none."""
    from ..errors import StemstrainError
    from ._map import lattice_map

    h, w = img.shape
    binning = 2 if (min(h, w) >= 1024 and _finest_period_px(img) >= 7.0) else 1
    work = img
    if binning == 2:
        work = img[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    ps = None if pixel_size is None else float(pixel_size) * binning
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lm = lattice_map(work, ps, backend=backend)
    except StemstrainError:
        return None
    messages = tuple(str(c.message) for c in caught if issubclass(c.category, UserWarning))
    crystalline = np.asarray(lm.crystalline, bool) & np.asarray(lm.lattice_2d, bool)
    if not crystalline.any():
        return None
    # g in cycles per original px
    g = np.asarray(lm.g, float) * ((ps if ps is not None else 1.0) / binning)
    nn, t, spacing = reduced_basis(g)
    nn = np.where(crystalline, nn, np.nan)
    spacing = np.where(crystalline, spacing, np.nan)
    grains = np.asarray(lm.grains)
    main = crystalline & (grains == 1) if (crystalline & (grains == 1)).any() else crystalline
    t_main = np.nanmedian(t[main], axis=0)
    t_main = t_main / np.hypot(*t_main)
    normal = (float(-t_main[1]), float(t_main[0]))
    if normal[1] < 0 or (normal[1] == 0 and normal[0] < 0):
        normal = (-normal[0], -normal[1])
    return LocalLattice(
        grid_y=np.asarray(lm.grid_y, float) * binning + (binning - 1) / 2,
        grid_x=np.asarray(lm.grid_x, float) * binning + (binning - 1) / 2,
        step_px=float(lm.step_px) * binning,
        nn_px=nn,
        tangent=t,
        spacing_px=spacing,
        crystalline=crystalline,
        grains=grains,
        normal=normal,
        period_px=float(np.nanmedian(nn[main])),
        row_spacing_px=float(np.nanmedian(spacing[main])),
        crystalline_fraction=float(crystalline.mean()),
        source=f"lattice_map (binned {binning}x)" if binning > 1 else "lattice_map",
        messages=messages,
    )
