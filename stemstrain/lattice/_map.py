"""The local lattice model: :func:`lattice_map` and :class:`LatticeMap`.

A grid of Hann windows (default: 4 periods of the longest lattice period found
in a central crop, 50 % overlap) is Fourier transformed in one batched ``rfft2``;
in each window the significant Bragg peaks are found and the 2-D reciprocal basis
that indexes them is fitted (``_map_peaks``; window size and grids: ``_map_grid``;
the windowed spectra: ``stemstrain/_spectra.py``, shared with GPA). Windows with a
lattice are joined into grains where their bases agree up to an equivalent choice and
a misorientation tolerance; within a grain the bases are made one continuous choice
(``_map_grains``). See ``docs/notes/latticemap.md``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from .._backend import resolve_backend
from .._validate import check_finite, check_positive, image_and_pixel_size
from ..errors import StemstrainError
from ..results import ResultBase
from . import _map_grains as mg
from . import _map_grid as gr
from . import _map_layers as ml
from . import _map_peaks as mp

__all__ = ["lattice_map", "LatticeMap", "Anisotropy"]

_DEFAULT_D_RANGE = (0.08, 3.0)


class Anisotropy(NamedTuple):
    """Apparent x/y length-scale ratio of the scan, measured on an isotropic net.

    ``ratio`` > 1: lengths along x appear ``ratio`` x longer than along y (a square
    lattice looks stretched along x). NaN when no square/hexagonal net was found
    (or ``isotropic=False``). ``sigma`` is its 1-sigma uncertainty; ``lattice`` says
    which net was used ("square", "hexagonal" or "none"), ``grain`` its grain label
    and ``vectors`` the two net vectors as indices in the grain's basis. ``shear_deg``
    is the median deviation of the net's angle from 90 / 60 deg (a non-orthogonal scan
    or a shear, which the x/y ratio does not describe).
    """

    ratio: float
    sigma: float
    lattice: str
    grain: int
    vectors: tuple
    shear_deg: float = float("nan")


@dataclass(frozen=True)
class LatticeMap(ResultBase):
    """Local lattice of an image on a grid of windows.

    Attributes
    ----------
    grid_y, grid_x : ndarray (ny,), (nx,)
        Window centres, px (rows, columns).
    crystalline : ndarray of bool (ny, nx)
        A 2-D lattice was found in the window (significant peaks indexed by two g,
        including a ``g1 +- g2``-type peak), or one set of lattice fringes also seen by
        a neighbouring window (see ``lattice_2d``).
    confidence : ndarray (ny, nx)
        0..1: significance of the weaker basis peak over the detection threshold times
        the fraction of the window's peak significance that the lattice explains.
    g : ndarray (ny, nx, 2, 2)
        Local reciprocal basis, rows ``(gx, gy)`` in 1/nm (1/px uncalibrated), NaN
        where not crystalline. One continuous choice per grain; in a layered lattice
        ``g[..., 0, :]`` is the layer normal ((003)-type, n_y > 0 in the grain's
        most confident window).
    spacings_nm : ndarray (ny, nx, 2)
        ``1 / |g|`` of both basis vectors, nm (px uncalibrated).
    orientation : ndarray (ny, nx)
        Direction of ``g[..., 0, :]`` counter-clockwise from +x as displayed, rad in
        [0, pi) (a g and -g are the same planes).
    grains : ndarray of int (ny, nx)
        Grain labels: 0 = not crystalline, 1 = the largest grain, 2 ...
    grain_table : pandas.DataFrame
        A row per grain: ``grain, n_windows, g1x, g1y, g2x, g2y`` (median basis),
        ``d1_nm, d2_nm, orientation_deg, area_fraction, layered, lattice, confidence``,
        ``superstructure`` (m: the layer period is m sub-cell spacings along g1, found as
        spots at j/m of g1 in the grain's spectrum; 1 when the windows resolve the period;
        0 not layered) and ``layer_period_nm`` (NaN when not layered).
    crystalline_fraction : float
        Fraction of the windows that are crystalline.
    anisotropy : Anisotropy
        Apparent x/y scale ratio and its sigma (reported, never corrected).
    layered : bool
        The largest grain is layered: one lattice period, along the layer normal, at least
        1.47 x the in-plane one, resolved in the windows or (a weak, streaked long period
        such as the c of YBa2Cu3O7) seen as superstructure spots along one direction only.
    normal_index : int or None
        Index of the layer-normal g in ``g`` (0) when layered, else None.
    residual : ndarray (ny, nx)
        RMS distance of the indexed peaks from the fitted lattice, 1/nm (1/px).
    n_peaks : ndarray of int (ny, nx)
        Peaks indexed by the basis.
    pixel_size : float or None
        nm per pixel.
    image_shape : tuple of int
        Shape of the analysed image.
    window_px, step_px : int
        Window size and grid step, px.
    threshold : float
        Peak detection threshold (power over the ring mean).
    peaks_g : ndarray (ny, nx, K, 2)
        The significant Bragg peaks of each window (one of each Friedel pair), rows
        ``(gx, gy)`` in 1/nm (1/px), NaN-padded, most significant first.
    peaks_ratio : ndarray (ny, nx, K)
        Their power over the ring mean (0 where padded).
    lattice_2d : ndarray of bool (ny, nx)
        A 2-D lattice was found; crystalline windows that are not ``lattice_2d`` hold one
        set of fringes (a crystal off its zone axis): there ``g[..., 1, :]`` is NaN.
    cell_ratio : ndarray (ny, nx)
        Reciprocal cell area of the window's own lattice over its grain's: 1 the same,
        0.5 a doubled (superstructure) cell, 2 a weak reflection family missed.
    layer_orientation : ndarray (ny, nx)
        Orientation (as ``orientation``) of the window's own long period when its own
        lattice is layered (layer normal, superstructure axis), NaN otherwise: ordering
        domains at 90 deg differ by pi/2 here.
    messages : tuple of str
        Warnings issued while mapping.
    """

    grid_y: np.ndarray
    grid_x: np.ndarray
    crystalline: np.ndarray
    confidence: np.ndarray
    g: np.ndarray
    spacings_nm: np.ndarray
    orientation: np.ndarray
    grains: np.ndarray
    grain_table: Any
    crystalline_fraction: float
    anisotropy: Anisotropy
    layered: bool
    normal_index: int | None
    residual: np.ndarray
    n_peaks: np.ndarray
    pixel_size: float | None
    image_shape: tuple
    window_px: int
    step_px: int
    threshold: float
    peaks_g: np.ndarray
    peaks_ratio: np.ndarray
    lattice_2d: np.ndarray
    cell_ratio: np.ndarray
    layer_orientation: np.ndarray
    messages: tuple = ()

    group: ClassVar[str] = "lattice_map"
    map_fields: ClassVar[tuple[str, ...]] = (
        "crystalline",
        "confidence",
        "orientation",
        "grains",
        "residual",
        "n_peaks",
        "lattice_2d",
        "cell_ratio",
        "layer_orientation",
    )
    table_fields: ClassVar[tuple[str, ...]] = ("grain_table",)
    array_fields: ClassVar[tuple[str, ...]] = (
        "grid_y",
        "grid_x",
        "g",
        "spacings_nm",
        "peaks_g",
        "peaks_ratio",
    )
    attr_fields: ClassVar[tuple[str, ...]] = (
        "crystalline_fraction",
        "anisotropy",
        "layered",
        "normal_index",
        "image_shape",
        "window_px",
        "step_px",
        "threshold",
        "messages",
    )

    @property
    def g_px(self) -> np.ndarray:
        """The basis field in cycles/px (``g * pixel_size``)."""
        return self.g * (self.pixel_size or 1.0)

    # -- pixel-wise views ----------------------------------------------------------
    def _fractional(self, y: Any, x: Any) -> tuple[np.ndarray, np.ndarray]:
        step = float(self.step_px)
        fy = (np.asarray(y, dtype=float) - self.grid_y[0]) / step
        fx = (np.asarray(x, dtype=float) - self.grid_x[0]) / step
        return (np.clip(fy, 0, len(self.grid_y) - 1), np.clip(fx, 0, len(self.grid_x) - 1))

    def _sample(self, field: np.ndarray, fy: np.ndarray, fx: np.ndarray, order: int) -> np.ndarray:
        """Bilinear (order 1, same grain only) or nearest (order 0) grid sampling."""
        ny, nx = self.grains.shape
        iy, ix = np.rint(fy).astype(int), np.rint(fx).astype(int)
        near = self.grains[iy, ix]
        if order == 0:
            return field[iy, ix]
        y0 = np.minimum(np.floor(fy).astype(int), ny - 1)
        x0 = np.minimum(np.floor(fx).astype(int), nx - 1)
        y1, x1 = np.minimum(y0 + 1, ny - 1), np.minimum(x0 + 1, nx - 1)
        wy, wx = fy - y0, fx - x0
        extra = (slice(None),) * 0 + (None,) * (field.ndim - 2)
        num = 0.0
        den = 0.0
        for cy, cx, w in (
            (y0, x0, (1 - wy) * (1 - wx)),
            (y0, x1, (1 - wy) * wx),
            (y1, x0, wy * (1 - wx)),
            (y1, x1, wy * wx),
        ):
            val = field[cy, cx]
            ok = (self.grains[cy, cx] == near) & (near > 0)
            ok = ok[(...,) + extra] & np.isfinite(val)
            ww = w[(...,) + extra] * ok
            num = num + ww * np.where(ok, val, 0.0)
            den = den + ww
        with np.errstate(invalid="ignore", divide="ignore"):
            out = num / den
        inside = (near > 0)[(...,) + extra]
        return np.where(inside & (den > 0), out, np.nan)

    def local_g(self, y: Any, x: Any) -> np.ndarray:
        """Local basis at pixel positions ``(y, x)`` (arrays), shape ``(..., 2, 2)``, 1/nm.

        Bilinear between the windows of the same grain; NaN outside the crystal.
        """
        fy, fx = self._fractional(y, x)
        return self._sample(self.g, fy, fx, order=1)

    def to_pixels(self, name: str) -> np.ndarray:
        """Upsample a grid field (``confidence``, ``orientation``, ``g``, ...) to the image.

        Float fields are interpolated bilinearly within each grain and are NaN outside
        the crystal; ``crystalline`` and ``grains`` are nearest-window.
        """
        fields = {*self.map_fields, "g", "spacings_nm"}
        if name not in fields:
            raise StemstrainError(f"name must be one of {sorted(fields)}, got {name!r}")
        h, w = self.image_shape
        fy, fx = self._fractional(np.arange(h)[:, None], np.arange(w)[None, :])
        fy, fx = np.broadcast_arrays(fy, fx)
        field = np.asarray(getattr(self, name))
        if name in ("crystalline", "grains", "n_peaks", "lattice_2d"):
            return self._sample(field, fy, fx, order=0)
        if name in ("orientation", "layer_orientation"):  # the doubled angle: no jump at 0/pi
            c = self._sample(np.cos(2 * field), fy, fx, order=1)
            s = self._sample(np.sin(2 * field), fy, fx, order=1)
            return np.mod(0.5 * np.arctan2(s, c), np.pi)
        return self._sample(field, fy, fx, order=1)

    def g_field(self, index: int | None = None, *, unit: str = "1/nm") -> np.ndarray:
        """Pixel-wise g vectors for demodulation: (H, W, 2, 2), or (H, W, 2) for ``g[index]``.

        ``unit="1/nm"`` (1/px when uncalibrated) or ``"cycles/px"``.
        """
        if unit not in ("1/nm", "cycles/px"):
            raise StemstrainError(f"unit must be '1/nm' or 'cycles/px', got {unit!r}")
        out = self.to_pixels("g")
        if unit == "cycles/px":
            out = out * (self.pixel_size or 1.0)
        return out if index is None else out[..., int(index), :]

    def to_signal(self) -> Any:
        """HyperSpy Signal2D of the grid maps (navigation axis = map), calibrated on the grid."""
        sig = super().to_signal()
        px = self.pixel_size or 1.0
        for ax, start in zip(
            sig.axes_manager.signal_axes[::-1], (self.grid_y[0], self.grid_x[0]), strict=True
        ):
            ax.scale = self.step_px * px
            ax.offset = float(start) * px
        return sig


def _check_options(window_nm: Any, step_nm: Any, d_range_nm: Any, misorientation_deg: Any) -> tuple:
    win = None if window_nm is None else check_positive(window_nm, "window_nm")
    step = None if step_nm is None else check_positive(step_nm, "step_nm")
    try:
        d_lo, d_hi = (float(v) for v in d_range_nm)
    except (TypeError, ValueError):
        raise StemstrainError(
            f"d_range_nm must be two numbers (d_min, d_max) in nm, got {d_range_nm!r}"
        ) from None
    if not 0 < d_lo < d_hi:
        raise StemstrainError(f"d_range_nm must satisfy 0 < d_min < d_max, got {d_range_nm!r}")
    mis = check_positive(misorientation_deg, "misorientation_deg")
    if mis >= 30:
        raise StemstrainError(f"misorientation_deg must be < 30, got {misorientation_deg!r}")
    return win, step, (d_lo, d_hi), mis


def lattice_map(
    image: Any,
    pixel_size: float | None = None,
    *,
    window_nm: float | None = None,
    step_nm: float | None = None,
    d_range_nm: tuple[float, float] = _DEFAULT_D_RANGE,
    isotropic: bool | None = None,
    misorientation_deg: float = 5.0,
    survey: bool = False,
    backend: str = "numpy",
) -> LatticeMap:
    """Map the local crystal lattice of an image on a grid of windows.

    Parameters
    ----------
    image : ndarray (H, W) or hyperspy Signal2D
        The micrograph.
    pixel_size : float, optional
        nm per pixel (taken from a calibrated signal). Without it every length is in px
        and ``window_nm``/``step_nm`` are read as px.
    window_nm : float, optional
        Window side, nm. Default: from the lattice of a central crop, six periods of the
        fine lattice and at least 3.2 of the longest period, rounded to an FFT-friendly
        size in 32 .. min(256, side / 2) px.
    step_nm : float, optional
        Grid step, nm. Default: half the window on images up to ~1100^2 px, the window
        itself (tiling, about one FFT of the image in cost) on larger ones.
    d_range_nm : (float, float)
        Physical band of lattice spacings searched, nm (default 0.08-3 nm; ignored
        when uncalibrated, where 2.5 px .. window / 2.5 is searched).
    isotropic : bool, optional
        Whether the lattice is known to be square/hexagonal in-plane (anisotropy
        measured). None: decided from the lattice found; False: anisotropy is NaN.
    misorientation_deg : float
        Neighbouring windows whose lattices differ by more than this (angle, or the
        same fraction in length) are in different grains.
    survey : bool
        A quick map of a large image: windows two window-widths apart (a quarter of the
        tiles, still over the whole field; the g choice of ``gpa`` uses it above 2048^2 px).
        Where at most 40 % of them hold a Bragg peak (particles on a support, which the
        skipped windows could miss) the default grid is mapped instead: ``step_px`` says
        which. Not with ``step_nm``.
    backend : {"numpy", "cupy", "auto"}
        Array module for the windowed FFT and peak search.

    Returns
    -------
    LatticeMap
        Per-window lattice, grains, anisotropy (see :class:`LatticeMap`).

    Raises
    ------
    StemstrainError
        For a bad option, NaN/inf in the image, or an image smaller than 32 px.

    Notes
    -----
    Peaks are significant when their power exceeds ``ln(M / 1e-3)`` times the ring
    mean of the window's power (M bins searched): for noise the power is ~exponential,
    so about one false peak per thousand windows. The sub-bin position uses the exact
    Hann interpolation ``delta = (2a - 1)/(1 + a)`` with ``a = |X(k+1)|/|X(k)|``.

    Examples
    --------
    >>> import stemstrain as ss
    >>> from stemstrain.synthetic import layered_oxide
    >>> lat = layered_oxide((256, 256), pixel_size=0.02, dose=None)
    >>> m = ss.lattice_map(lat.image, 0.02)
    >>> bool(m.layered), round(float(np.nanmedian(m.spacings_nm[..., 0])), 2)
    (True, 0.47)
    """
    data, px = image_and_pixel_size(image, pixel_size)
    win, step, d_range, mis = _check_options(window_nm, step_nm, d_range_nm, misorientation_deg)
    xp = resolve_backend(backend)
    data = xp.asarray(data)
    check_finite(data, "image")
    h, w = data.shape
    if min(h, w) < 32:
        raise StemstrainError(f"image must be at least 32 x 32 px for lattice_map, got {h} x {w}")
    scale = px or 1.0
    size = gr.auto_window(xp, data, px, d_range) if win is None else int(round(win / scale))
    if not 8 <= size <= min(h, w):
        raise StemstrainError(
            f"window_nm gives {size} px; it must be 8 px .. the image size ({min(h, w)} px)"
        )
    k_range = gr.bins_of(size, px, d_range)
    if _check_survey(survey, step):
        peaks, y0, x0, step_px = gr.survey_peaks(xp, data, size, k_range)
    else:
        step_px = None if step is None else max(1, int(round(step / scale)))
        peaks, y0, x0, step_px = gr.grid_peaks(xp, data, size, step_px, k_range)
    return _assemble(
        peaks,
        y0 + size / 2 - 0.5,
        x0 + size / 2 - 0.5,
        px=px,
        grid=(size, step_px),
        image=data,
        d_range=d_range,
        isotropic=isotropic,
        tol=np.sin(np.radians(mis)),
    )


def _check_survey(survey: Any, step: float | None) -> bool:
    if not isinstance(survey, (bool, np.bool_)):
        raise TypeError(f"survey must be True or False, got {type(survey).__name__} {survey!r}")
    if survey and step is not None:
        raise StemstrainError(
            f"survey=True sets the grid step (two windows); do not also give step_nm={step!r}"
        )
    return bool(survey)


def _band_px(px: float | None, d_range: tuple[float, float]) -> tuple[float, float]:
    """Return the searched |g| band in cycles/px (0 .. Nyquist without a calibration)."""
    return (px / d_range[1], px / d_range[0]) if px else (0.0, 0.5 * np.sqrt(2))


def _assemble(
    peaks: dict,
    gy: np.ndarray,
    gx: np.ndarray,
    *,
    px: float | None,
    grid: tuple[int, int],
    image: Any,
    d_range: tuple[float, float],
    isotropic: bool | None,
    tol: float,
) -> LatticeMap:
    size, step = grid
    ny, nx = len(gy), len(gx)
    g = peaks["g"].reshape(ny * nx, -1, 2)
    ratio = peaks["ratio"].reshape(ny * nx, -1)
    weight = np.log(np.maximum(ratio, 1.0))
    fit = mp.fit_basis(g, weight)
    lat2d = (fit["ok"] & (fit["n_indexed"] >= 3)).reshape(ny, nx)
    t = peaks["threshold"]
    with np.errstate(invalid="ignore", divide="ignore"):
        sig = np.clip(1.0 - t / np.fmin(fit["strength"][:, 0], fit["strength"][:, 1]), 0.0, 1.0)
        frac = np.where(fit["total"] > 0, fit["score"] / fit["total"], 0.0)
    conf = np.where(lat2d.ravel(), np.nan_to_num(sig) * frac, 0.0).reshape(ny, nx)
    own = np.where(lat2d[..., None, None], fit["basis"].reshape(ny, nx, 2, 2), np.nan)
    grains, edges = mg.segment_grains(own, lat2d, tol)
    basis = mg.align_bases(own, grains, edges, conf, tol)
    basis, grains, _ = mg.absorb_mixed(
        basis, grains, g.reshape(ny, nx, -1, 2), weight.reshape(ny, nx, -1), frac.reshape(ny, nx)
    )
    normals = ml.grain_normals(image, basis, grains, (gy, gx), size, _band_px(px, d_range))
    basis, table, layered_by_grain = _grain_basis(basis, grains, conf, normals)
    fringes, fg, flab = mg.fringe_windows(
        g.reshape(ny, nx, -1, 2), lat2d, tol, int(grains.max()) + 1, basis, grains
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        r0 = ratio.reshape(ny, nx, -1)[..., 0]
        conf = np.where(fringes, 0.5 * np.clip(1.0 - t / r0, 0, 1), conf)
    basis[fringes, 0, :] = fg[fringes]
    basis[fringes, 1, :] = np.nan
    grains = np.where(fringes, flab, grains)
    table = _fringe_rows(table, basis, grains, conf, int(flab.max()))
    if len(table):
        table["n_windows"] = [int((grains == lab).sum()) for lab in table.grain]
    cryst = lat2d | fringes
    cell_ratio, layer_orient = _own_lattice(own, basis, lat2d)
    scale = 1.0 / px if px else 1.0
    g_field = basis * scale
    lens = np.linalg.norm(g_field, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        spacings = 1.0 / lens
    orient = np.mod(np.arctan2(-g_field[..., 0, 1], g_field[..., 0, 0]), np.pi)
    messages = []
    aniso = _anisotropy(basis, grains, table, isotropic, size, step, messages)
    frac_c = float(cryst.mean())
    if not cryst.any():
        messages.append(
            "image: no crystalline window found (no 2-D lattice or lattice "
            "fringes of significant Bragg peaks in the physical band of "
            "spacings); every g is NaN"
        )
    for msg in messages:
        warnings.warn(msg, UserWarning, stacklevel=3)
    table = table.astype({"g1x": float, "g1y": float, "g2x": float, "g2y": float})
    table["area_fraction"] = table["n_windows"] / float(ny * nx)
    table["layer_period_nm"] = table["layer_period_nm"].astype(float) * (px or 1.0)
    for col in ("g1x", "g1y", "g2x", "g2y"):
        table[col] = table[col] * scale
    with np.errstate(divide="ignore", invalid="ignore"):
        table["d1_nm"] = 1.0 / np.hypot(table.g1x, table.g1y)
        table["d2_nm"] = 1.0 / np.hypot(table.g2x, table.g2y)
    top_layered = bool(layered_by_grain.get(1, False))
    return LatticeMap(
        grid_y=np.asarray(gy, float),
        grid_x=np.asarray(gx, float),
        crystalline=cryst,
        confidence=conf,
        g=g_field,
        spacings_nm=spacings,
        orientation=orient,
        grains=grains,
        grain_table=table,
        crystalline_fraction=frac_c,
        anisotropy=aniso,
        layered=top_layered,
        normal_index=0 if top_layered else None,
        residual=np.where(lat2d, fit["residual"].reshape(ny, nx) * scale, np.nan),
        n_peaks=np.where(lat2d, fit["n_indexed"].reshape(ny, nx), fringes.astype(int)).astype(
            np.int32
        ),
        lattice_2d=lat2d,
        cell_ratio=cell_ratio,
        layer_orientation=layer_orient,
        pixel_size=px,
        image_shape=tuple(image.shape),
        window_px=int(size),
        step_px=int(step),
        threshold=float(t),
        peaks_g=peaks["g"].reshape(ny, nx, -1, 2) * scale,
        peaks_ratio=peaks["ratio"].reshape(ny, nx, -1),
        messages=tuple(messages),
    )


def _fringe_rows(
    table: Any, basis: np.ndarray, grains: np.ndarray, conf: np.ndarray, last: int
) -> Any:
    """Append a row per fringe grain (g2 = NaN, lattice "fringes") to the grain table."""
    import pandas as pd

    first = int(table.grain.max()) + 1 if len(table) else 1
    rows = []
    for lab in range(first, last + 1):
        sel = grains == lab
        g1 = np.nanmedian(basis[sel, 0, :], axis=0)
        rows.append(
            {
                "grain": lab,
                "n_windows": int(sel.sum()),
                "g1x": g1[0],
                "g1y": g1[1],
                "g2x": np.nan,
                "g2y": np.nan,
                "orientation_deg": float(np.degrees(np.mod(np.arctan2(-g1[1], g1[0]), np.pi))),
                "layered": False,
                "lattice": "fringes",
                "confidence": float(np.median(conf[sel])),
                "superstructure": 0,
                "layer_period_nm": np.nan,
            }
        )
    if not rows:
        return table
    extra = pd.DataFrame(rows, columns=table.columns)
    return extra if not len(table) else pd.concat([table, extra], ignore_index=True)


def _own_lattice(
    own: np.ndarray, basis: np.ndarray, lat2d: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cell ratio of each window's own lattice to its grain's, and its own layer normal."""
    with np.errstate(invalid="ignore", divide="ignore"):
        a_own = np.abs(np.linalg.det(np.nan_to_num(own)))
        a_ref = np.abs(np.linalg.det(np.nan_to_num(basis)))
        ratio = np.where(lat2d, a_own / a_ref, np.nan)
    lens = np.linalg.norm(own, axis=-1)
    i = np.argmin(np.nan_to_num(lens, nan=np.inf), axis=-1)
    short = np.take_along_axis(own, i[..., None, None], axis=-2)[..., 0, :]
    other = np.take_along_axis(own, (1 - i)[..., None, None], axis=-2)[..., 0, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        n = short / np.linalg.norm(short, axis=-1, keepdims=True)
        perp = np.abs(other[..., 0] * n[..., 1] - other[..., 1] * n[..., 0])
        layered = np.linalg.norm(short, axis=-1) <= 0.68 * perp
    orient = np.mod(np.arctan2(-short[..., 1], short[..., 0]), np.pi)
    return ratio, np.where(lat2d & layered, orient, np.nan)


def _grain_basis(
    basis: np.ndarray, grains: np.ndarray, conf: np.ndarray, normals: dict
) -> tuple[np.ndarray, Any, dict]:
    """Per grain: layer normal first (if layered), median basis, the grain table.

    Layered by the windows' own basis (the long period resolved in a window), else by
    ``normals`` (a superstructure in the grain's crop, :mod:`._map_layers`): then g1 is
    the sub-cell reflection along the normal and ``superstructure`` its multiplicity.
    """
    import pandas as pd

    rows, layered_by = [], {}
    basis = basis.copy()
    for lab in range(1, int(grains.max()) + 1):
        sel = grains == lab
        med = np.nanmedian(basis[sel], axis=0)
        new, layered = mg.layer_normal_first(med)
        sup = normals.get(lab) if not layered else None
        if sup is not None:
            new, layered = sup["basis"], True
        u = np.rint(new @ np.linalg.inv(med))
        basis[sel] = np.einsum("ij,njk->nik", u, basis[sel])
        med = np.nanmedian(basis[sel], axis=0)
        iso = mg.isotropic_pair(med, layered=layered)
        kind = iso[0] if iso is not None else ("layered" if layered else "oblique")
        layered_by[lab] = layered
        m = sup["period"] if sup is not None else int(layered)
        rows.append(
            {
                "grain": lab,
                "n_windows": int(sel.sum()),
                "g1x": med[0, 0],
                "g1y": med[0, 1],
                "g2x": med[1, 0],
                "g2y": med[1, 1],
                "orientation_deg": float(
                    np.degrees(np.mod(np.arctan2(-med[0, 1], med[0, 0]), np.pi))
                ),
                "layered": layered,
                "lattice": kind,
                "confidence": float(np.median(conf[sel])),
                "superstructure": m,
                "layer_period_nm": m / float(np.linalg.norm(med[0])) if m else np.nan,
            }
        )
    return basis, pd.DataFrame(rows, columns=_TABLE_COLUMNS), layered_by


_TABLE_COLUMNS = [
    "grain",
    "n_windows",
    "g1x",
    "g1y",
    "g2x",
    "g2y",
    "orientation_deg",
    "layered",
    "lattice",
    "confidence",
    "superstructure",
    "layer_period_nm",
]


def _anisotropy(
    basis: np.ndarray,
    grains: np.ndarray,
    table: Any,
    isotropic: bool | None,
    size: int,
    step: int,
    messages: list,
) -> Anisotropy:
    none = Anisotropy(float("nan"), float("nan"), "none", 0, (), float("nan"))
    if isotropic is False or not len(table):
        return none
    n_min = max(3, 0.1 * float(table.n_windows.sum()))
    for lab in table.grain[(table.lattice != "fringes") & (table.n_windows >= n_min)]:
        med = np.nanmedian(basis[grains == lab], axis=0)  # largest grain with an isotropic net
        layered = bool(table.loc[table.grain == lab, "layered"].iloc[0])
        iso = mg.isotropic_pair(med, layered=layered)
        if iso is None:
            continue
        r = mg.anisotropy_ratio(basis[grains == lab], iso[0], iso[1])
        r = r[np.isfinite(r)]
        if len(r) == 0:
            continue
        med_r = float(np.median(r))
        # overlapping windows are correlated; windows further apart than their size are not
        n_eff = max(1.0, len(r) * (min(step, size) / size) ** 2)
        spread = 1.4826 * float(np.median(np.abs(r - med_r))) if len(r) > 2 else float("nan")
        sigma = spread / np.sqrt(n_eff) if len(r) > 2 else float("nan")
        u = np.einsum("i,nij->nj", iso[1][0].astype(float), basis[grains == lab])
        v = np.einsum("i,nij->nj", iso[1][1].astype(float), basis[grains == lab])
        with np.errstate(invalid="ignore"):
            cosang = np.abs((u * v).sum(-1)) / (
                np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1)
            )
        target = 90.0 if iso[0] == "square" else 60.0
        shear = float(np.nanmedian(np.degrees(np.arccos(np.clip(cosang, 0, 1))) - target))
        out = Anisotropy(med_r, sigma, iso[0], int(lab), tuple(map(tuple, iso[1].tolist())), shear)
        if abs(med_r - 1) > 0.01 and (not np.isfinite(sigma) or abs(med_r - 1) > 3 * sigma):
            messages.append(
                f"image: apparent x/y scale ratio {med_r:.4f} +- {sigma:.4f} measured on the "
                f"{iso[0]} net of grain {lab} (lengths along x look {100 * (med_r - 1):+.1f} % "
                "relative to y): scan distortion or calibration; not corrected"
            )
        return out
    if isotropic:
        messages.append(
            "image: isotropic=True but no square/hexagonal net was found in any "
            "grain; anisotropy is NaN"
        )
    return none
