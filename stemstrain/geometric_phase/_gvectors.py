"""Bragg-peak finding in the power spectrum and the choice of the GPA g-vectors.

Peaks are found in the Hann-windowed power spectrum of a central crop (at most
``_MAX_CROP`` px square: precision is refined later on the reference region, so a
crop is enough and keeps this step cheap on large images). Each peak's excess over
the ring background is its *strength*; sub-pixel positions come from
three-point parabolas of the log power.

Choice (``g="auto"``, :func:`find_g_vectors` / :func:`choose_g`): from the local
lattice model (:func:`stemstrain.lattice_map`), so only reflections of a 2-D lattice
found in crystalline windows, in the physical band of spacings and away from Nyquist,
are candidates; those also present in non-crystalline windows (scan lines, detector
or JPEG-block artefacts) or on the 8-px JPEG grid are rejected. In a *layered* lattice
``g1`` is the layer normal (the lowest-order strong reflection along the long period,
the (003) of a layered oxide seen edge-on); otherwise ``g1`` is the shortest strong
reflection and the reason says no layer rule was applied. ``g2`` is the shortest
strong reflection > 15 deg from ``g1``. The choice, its confidence and the g of every
grain are returned in a :class:`GChoice` (``g_info["choice"]``).
:func:`find_peaks_spectrum` (whole-crop peaks) is kept for callers that want them.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._backend import asnumpy
from .._spectra import refine_peaks, window_spectra
from .._validate import image_and_pixel_size
from ..errors import NoLatticeError, StemstrainError

__all__ = ["find_g_vectors", "find_peaks_spectrum", "choose_g", "GChoice"]

_MAX_CROP = 512
#: JPEG compresses 8 x 8 px blocks: their grid puts artefact peaks at multiples of 1/8 cycles/px
_JPEG_PERIOD_PX = 8
#: images with more pixels get the g-choice lattice map on every other window (speed)
_SPARSE_MAP_PX = 2048 * 2048
_MIN_STRENGTH = 12.0  # smoothed power over the ring background; noise stays below ~5
_REL_STRENGTH = 0.005  # "strong" = at least this fraction of the strongest peak's power
_MIN_ANGLE_DEG = 15.0
_REL_STRENGTH_LOG = 0.3  # "strong" = ln(power ratio) at least this fraction of the strongest


def _crop(image: np.ndarray) -> np.ndarray:
    h, w = image.shape
    n = min(h, w, _MAX_CROP)
    r0, c0 = (h - n) // 2, (w - n) // 2
    return np.asarray(asnumpy(image[r0 : r0 + n, c0 : c0 + n]), dtype=np.float64)


def _radial_background(power: np.ndarray, kr: np.ndarray, nbins: int) -> np.ndarray:
    """Geometric mean of ``power`` in rings of ``kr`` (bins), smoothed over +-2 rings.

    Bragg peaks cover a tiny fraction of a ring and the log compresses them, so this is
    a robust background estimate at O(N) cost (no sorting).
    """
    ring = np.minimum(kr.astype(np.int64), nbins - 1).ravel()
    logp = np.log(power.ravel() + 1e-300)
    count = np.bincount(ring, minlength=nbins)
    mean = np.bincount(ring, weights=logp, minlength=nbins) / np.maximum(count, 1)
    mean[count == 0] = mean[count > 0].max()
    kern = np.ones(5) / 5.0
    mean = np.convolve(np.pad(mean, 2, mode="edge"), kern, mode="valid")
    return np.exp(mean)[ring].reshape(power.shape)


def find_peaks_spectrum(image: np.ndarray, *, max_peaks: int = 40) -> dict:
    """Bragg peaks of an image's windowed power spectrum.

    Parameters
    ----------
    image : ndarray (H, W)
        Real image (any size; a central square crop of at most 1024 px is used).
    max_peaks : int
        Most peaks returned (one of each Friedel pair, strongest first).

    Returns
    -------
    dict
        ``g`` (n, 2) peak positions (gx, gy) in cycles/px, ``strength`` (n,) power over
        the ring background (3x3-smoothed), ``power`` (n,) peak power relative
        to the strongest peak (strongest first), ``crop`` size in px.
    """
    from scipy import ndimage as ndi

    crop = _crop(image)
    n = crop.shape[0]
    win = np.hanning(n)
    spec = np.fft.fftshift(np.fft.fft2((crop - crop.mean()) * win[:, None] * win[None, :]))
    power = np.maximum(ndi.uniform_filter(np.abs(spec) ** 2, 3, mode="wrap"), 0.0)
    k = np.arange(n) - n // 2
    kr = np.hypot(k[:, None], k[None, :])
    ratio = power / _radial_background(power, kr, n // 2 + 2)
    is_max = (power == ndi.maximum_filter(power, 5, mode="wrap")) & (ratio >= _MIN_STRENGTH)
    is_max &= kr >= max(6.0, 0.01 * n)
    # one of each Friedel pair: ky > 0, or ky == 0 and kx > 0
    is_max &= (k[:, None] > 0) | ((k[:, None] == 0) & (k[None, :] > 0))
    rows, cols = np.nonzero(is_max)
    peak_power = power[rows, cols]
    order = np.argsort(peak_power)[::-1][:max_peaks]
    rows, cols = rows[order], cols[order]
    strength, peak_power = ratio[rows, cols], peak_power[order]
    logp = np.log(np.abs(spec) ** 2 + 1e-30)
    gy = (rows - n // 2 + _parabola(logp, rows, cols, axis=0)) / n
    gx = (cols - n // 2 + _parabola(logp, rows, cols, axis=1)) / n
    return {
        "g": np.stack([gx, gy], axis=1),
        "strength": strength,
        "power": peak_power / peak_power.max() if len(rows) else peak_power,
        "crop": n,
    }


def _parabola(logp: np.ndarray, rows: np.ndarray, cols: np.ndarray, axis: int) -> np.ndarray:
    """Sub-pixel offset of a maximum from a 3-point parabola along ``axis``."""
    n0, n1 = logp.shape
    if axis == 0:
        a = logp[(rows - 1) % n0, cols]
        c = logp[(rows + 1) % n0, cols]
    else:
        a = logp[rows, (cols - 1) % n1]
        c = logp[rows, (cols + 1) % n1]
    b = logp[rows, cols]
    den = a - 2 * b + c
    off = np.where(den < 0, 0.5 * (a - c) / np.where(den < 0, den, -1.0), 0.0)
    return np.clip(off, -0.5, 0.5)


def _angle_deg(g1: np.ndarray, g2: np.ndarray) -> float:
    c = abs(float(np.dot(g1, g2))) / (np.linalg.norm(g1) * np.linalg.norm(g2))
    return float(np.degrees(np.arccos(min(1.0, c))))


@dataclass(frozen=True)
class GChoice:
    """The automatic g choice for GPA and how far to trust it.

    Attributes
    ----------
    g_px : ndarray (2, 2)
        Rows (gx, gy) in cycles/px; ``g_px[0]`` is the layer normal when ``layered``.
    g : ndarray (2, 2)
        The same in 1/nm (1/px uncalibrated).
    indices : tuple
        Indices (h, k) of both g in the grain's reduced basis.
    layered : bool
        The lattice is layered: g1 is the layer normal ((003)-type) and the layer frame
        of GPA is meaningful. When False the layer-normal logic was not applied.
    grain : int
        The lattice-map grain the g belong to (1 = largest).
    confidence : float
        0..1: grain confidence x presence of the weaker g in the grain's windows x the
        grain's share of the crystal.
    presence : tuple of float
        Fraction of the grain's windows where each g was detected.
    reason : str
        One paragraph saying what was chosen and why.
    per_grain : pandas.DataFrame
        A row per grain: ``grain, n_windows, area_fraction, g1x, g1y, g2x, g2y``
        (cycles/px), ``confidence``, ``layered``.
    rejected : tuple of str
        Reflections rejected as artefacts (and why).
    """

    g_px: np.ndarray
    g: np.ndarray
    indices: tuple
    layered: bool
    grain: int
    confidence: float
    presence: tuple
    reason: str
    per_grain: Any
    rejected: tuple = ()


def _reflection_stats(lmap: Any, lab: int, scale: float) -> dict:
    """Presence and strength of every low-order reflection (|h|, |k| <= 3) in grain ``lab``.

    Over the grain's 2-D lattice windows (fringe windows carry one g only).
    """
    sel = (lmap.grains == lab) & lmap.lattice_2d
    basis = lmap.g[sel] * scale  # (n, 2, 2) cycles/px
    peaks = lmap.peaks_g[sel] * scale  # (n, K, 2)
    wlog = np.log(np.maximum(lmap.peaks_ratio[sel], 1.0))
    inv = np.linalg.inv(basis)
    coef = np.einsum("nkc,ncd->nkd", np.nan_to_num(peaks), inv)
    rnd = np.rint(coef)
    ok = (np.abs(coef - rnd).max(-1) < 0.15) & (wlog > 0)
    # one sign per Friedel pair: h > 0, or h == 0 and k > 0
    flip = (rnd[..., 0] < 0) | ((rnd[..., 0] == 0) & (rnd[..., 1] < 0))
    rnd = np.where(flip[..., None], -rnd, rnd)
    idx = _LOW_INDICES
    match = ok[..., None] & (rnd[..., None, 0] == idx[:, 0]) & (rnd[..., None, 1] == idx[:, 1])
    present = match.any(1)  # (n, M)
    strength = np.where(match, wlog[..., None], 0.0).max(1)
    med_basis = np.nanmedian(basis, axis=0)
    return {
        "presence": present.mean(0),
        "strength": np.array(
            [
                np.median(strength[present[:, m], m]) if present[:, m].any() else 0.0
                for m in range(len(idx))
            ]
        ),
        "g": idx @ med_basis,
        "basis": med_basis,
    }


_LOW_INDICES = np.array(
    [(h, k) for h in range(0, 4) for k in range(-3, 4) if (h > 0 or k > 0)], dtype=float
)


def _artefacts(lmap: Any, g_px: np.ndarray, scale: float) -> np.ndarray:
    """Flag reflections that are artefacts, not the crystal.

    True where a reflection is also found in most non-crystalline windows (scan lines,
    detector patterns) or lies on the 8-px JPEG block grid.
    """
    vac = ~lmap.crystalline
    bad = np.zeros(len(g_px), dtype=bool)
    tol = 1.0 / lmap.window_px
    if vac.sum() >= 8:
        pk = lmap.peaks_g[vac] * scale  # (n, K, 2)
        d = np.minimum(
            np.linalg.norm(pk[:, :, None, :] - g_px[None, None], axis=-1),
            np.linalg.norm(pk[:, :, None, :] + g_px[None, None], axis=-1),
        )
        seen = np.nan_to_num(d, nan=1.0).min(1) < tol
        bad |= seen.mean(0) >= 0.3
    frac8 = g_px * _JPEG_PERIOD_PX
    on8 = np.abs(frac8 - np.rint(frac8)) < 0.25 * tol * _JPEG_PERIOD_PX
    bad |= on8.all(-1) & (np.abs(g_px) > 0.5 * tol).any(-1)
    return bad


def _pick(stats: dict, layered: bool, bad: np.ndarray) -> tuple[int, int] | None:
    """Pick g1 and g2 (indices into _LOW_INDICES): strong, present, low order."""
    p, s, g = stats["presence"], stats["strength"], stats["g"]
    mag = np.linalg.norm(g, axis=1)
    usable = (p >= max(0.2, 0.5 * p.max())) & (s > 0) & ~bad
    if not usable.any():
        return None
    strong = usable & (s >= _REL_STRENGTH_LOG * s[usable].max())
    if layered:
        row = strong & (_LOW_INDICES[:, 1] == 0)  # harmonics of the layer normal
        if not row.any():
            return None
        i1 = int(np.flatnonzero(row)[np.argmin(mag[row])])
    else:
        cand = np.flatnonzero(strong)
        short = cand[mag[cand] <= 1.03 * mag[cand].min()]
        i1 = int(short[np.argmax(s[short])])
    c = np.abs(g @ g[i1]) / (mag * mag[i1])
    other = strong & (c < np.cos(np.radians(_MIN_ANGLE_DEG)))
    if not other.any():
        return None
    cand = np.flatnonzero(other)
    short = cand[mag[cand] <= 1.03 * mag[cand].min()]
    return i1, int(short[np.argmax(s[short])])


def _per_grain(lmap: Any, scale: float) -> Any:
    import pandas as pd

    t = lmap.grain_table
    n_cryst = max(int(lmap.crystalline.sum()), 1)
    out = pd.DataFrame(
        {
            "grain": t.grain,
            "n_windows": t.n_windows,
            "area_fraction": t.n_windows / float(lmap.grains.size),
            "crystal_fraction": t.n_windows / float(n_cryst),
            "g1x": t.g1x * scale,
            "g1y": t.g1y * scale,  # 1/nm -> cycles/px
            "g2x": t.g2x * scale,
            "g2y": t.g2y * scale,
            "confidence": t.confidence,
            "layered": t.layered,
        }
    )
    return out


def _layered_reason(row: Any, stats: dict, px: float | None, g1: float) -> str:
    """Why g1 is the layer normal: the period the windows or the grain's spectrum showed."""
    unit, length = ("1/nm", "nm") if px else ("1/px", "px")
    m = int(row.get("superstructure", 1) or 1)
    period = row.get("layer_period_nm", np.nan)
    if not np.isfinite(period):
        period = 1 / np.linalg.norm(stats["basis"][0]) * (px or 1.0)
    if m > 1:
        seen = (
            f"the windows resolve only the sub-cell, but the grain's spectrum has "
            f"superstructure spots at 1/{m} of the sub-cell reflection along one direction "
            f"only: layers repeating every {period:.4g} {length} = {m} sub-cells; g1 is "
            f"the (00{m}) of that supercell"
        )
    else:
        seen = f"period {period:.4g} {length} along the normal"
    return (
        f"the lattice is layered ({seen}): g1 = the lowest-order strong reflection along "
        f"the layer normal, taken as the (003)-type normal (|g1| = {g1:.3f} {unit}, "
        f"d = {1 / g1:.4g}); its harmonics along the normal are not used"
    )


def choose_g(lmap: Any, *, grain: int = 1) -> GChoice:
    """Choose GPA g-vectors from a lattice map (see :func:`find_g_vectors`).

    Parameters
    ----------
    lmap : LatticeMap
        From :func:`stemstrain.lattice_map`.
    grain : int
        Grain whose g are returned (1 = largest).

    Returns
    -------
    GChoice

    Raises
    ------
    NoLatticeError
        No crystalline window, or fewer than two usable non-collinear reflections.
    """
    px = lmap.pixel_size
    scale = px if px else 1.0  # 1/nm -> cycles/px
    unit = "1/nm" if px else "1/px"
    if not lmap.lattice_2d.any():
        if lmap.crystalline.any() or (lmap.peaks_ratio > 0).any(-1).mean() > 0.3:
            raise NoLatticeError(
                "image: only one direction of lattice fringes found (need two non-collinear "
                "Bragg peaks for a 2-D strain tensor, g1 +- g2 present); pass g= explicitly "
                "or use a zone-axis image"
            )
        raise NoLatticeError(
            "image: no Bragg peaks of a 2-D lattice found (noise, amorphous or vacuum, or "
            "spacings outside d_range_nm); check the image or pass g=[(gx, gy), (gx, gy)] "
            "in 1/nm"
        )
    if not 1 <= grain <= int(lmap.grains.max()):
        raise StemstrainError(f"grain must be 1..{int(lmap.grains.max())}, got {grain!r}")
    row = lmap.grain_table.set_index("grain").loc[grain]
    if row["lattice"] == "fringes":
        raise NoLatticeError(
            f"image: grain {grain} shows only one direction of lattice fringes (need two "
            "non-collinear Bragg peaks for a 2-D strain tensor); pass g= explicitly"
        )
    layered = bool(row["layered"])
    stats = _reflection_stats(lmap, grain, scale)
    bad = _artefacts(lmap, stats["g"], scale)
    pick = _pick(stats, layered, bad)
    if pick is None:
        raise NoLatticeError(
            f"image: grain {grain} has fewer than two strong non-collinear reflections present "
            "in most of its windows; pass g=[(gx, gy), (gx, gy)] in 1/nm"
        )
    i1, i2 = pick
    g_px = np.stack([stats["g"][i1], stats["g"][i2]])
    if layered and g_px[0, 1] < 0:
        g_px[0] = -g_px[0]
    pres = (float(stats["presence"][i1]), float(stats["presence"][i2]))
    share = float(row["n_windows"]) / max(int(lmap.crystalline.sum()), 1)
    conf = float(row["confidence"]) * min(pres) * share
    mag = np.linalg.norm(g_px, axis=1) / scale
    ang = _angle_deg(g_px[0], g_px[1])
    n_grains = int(lmap.grains.max())
    if layered:
        how = _layered_reason(row, stats, px, mag[0])
    else:
        how = (
            f"the lattice is not layered ({row['lattice']} net), so no (003) layer-normal "
            f"rule was applied and the layer frame (e_nn, e_tt) follows g1 by convention: "
            f"g1 = the shortest strong reflection (|g1| = {mag[0]:.3f} {unit}, "
            f"d = {1 / mag[0]:.4g})"
        )
    rejected = tuple(
        f"({int(h)}, {int(k)}) at |g| = {np.linalg.norm(gv) / scale:.3f} {unit}: "
        "also in non-crystalline windows or on the 8-px JPEG grid"
        for (h, k), gv, b, p in zip(_LOW_INDICES, stats["g"], bad, stats["presence"], strict=True)
        if b and p > 0.2
    )
    cryst = 100 * lmap.crystalline_fraction
    reason = (
        f"From the lattice map ({lmap.window_px}-px windows, {cryst:.0f} % crystalline, "
        f"{n_grains} grain{'s' if n_grains != 1 else ''}; g of grain {grain}, "
        f"{100 * share:.0f} % of the crystal): {how}; g2 = the shortest strong reflection "
        f"not collinear with g1 (|g2| = {mag[1]:.3f} {unit}, {ang:.1f} deg from g1). "
        f"Detected in {100 * pres[0]:.0f} % / {100 * pres[1]:.0f} % of the grain's windows;"
        f" confidence {conf:.2f}." + (f" Rejected: {'; '.join(rejected)}." if rejected else "")
    )
    idx = tuple(tuple(int(v) for v in _LOW_INDICES[i]) for i in (i1, i2))
    return GChoice(
        g_px=g_px,
        g=g_px / scale,
        indices=idx,
        layered=layered,
        grain=int(grain),
        confidence=conf,
        presence=pres,
        reason=reason,
        per_grain=_per_grain(lmap, scale),
        rejected=rejected,
    )


def find_g_vectors(
    image: Any,
    pixel_size: float | None = None,
    *,
    d_range_nm: tuple[float, float] = (0.08, 3.0),
    lattice: Any = None,
    grain: int | None = None,
) -> tuple[np.ndarray, dict]:
    """Choose two strong, sharp, low-order reflections of the crystal's 2-D lattice for GPA.

    The lattice comes from :func:`stemstrain.lattice_map` (computed here unless
    ``lattice`` is given; on images above 2048^2 px with ``survey=True``, a quarter of
    the cost: ``g_info["lattice_step_px"]``): only reflections of a 2-D lattice found
    in the crystalline windows (``g1 +- g2`` present), with spacings in
    ``d_range_nm``, below 0.4 cycles/px, present in most windows of the grain and absent from the
    non-crystalline ones (scan-line, JPEG-block and detector artefacts are rejected)
    are candidates. In a *layered* lattice g1 is the layer normal ((003)-type: the
    lowest-order strong reflection along the long period); otherwise g1 is the
    shortest strong reflection and the text says that no layer rule was applied.
    g2 is the shortest strong reflection at > 15 deg from g1.

    Parameters
    ----------
    image : ndarray (H, W)
        The image.
    pixel_size : float, optional
        nm per pixel; g is then reported in 1/nm (else 1/px) in ``g_info``.
    d_range_nm : (float, float)
        Physical band of spacings, nm (default 0.08-3 nm).
    lattice : LatticeMap, optional
        A lattice map of ``image`` already computed (saves its cost).
    grain : int, optional
        Grain whose g are used; every grain's g is in ``g_info["grains"]``. None (the
        automatic choice): the largest 2-D grain (1), unless most of the crystal shows
        only one direction of fringes (particles off their zone axis): then one g pair
        would mix lattices and a :class:`NoLatticeError` names the grains and says how
        to analyse a 2-D grain alone.

    Returns
    -------
    g_px : ndarray (2, 2)
        Rows (gx, gy) in cycles/px; ``g_px[0]`` is the layer-normal (003) candidate.
    g_info : dict
        ``method``, ``unit``, ``reason``, ``candidates`` (gx, gy, g, d, strength,
        presence, used), ``normal_index``, ``layered``, ``confidence``, ``grains`` (a row
        per grain) and ``choice`` (the :class:`GChoice`).

    Raises
    ------
    NoLatticeError
        When no 2-D lattice or fewer than two non-collinear strong reflections are found.
    """
    data, pixel_size = image_and_pixel_size(image, pixel_size)
    if lattice is None:
        with warnings.catch_warnings():  # anisotropy etc. are reported in g_info
            warnings.simplefilter("ignore", UserWarning)
            lattice = _choice_map(data, pixel_size, d_range_nm)
    if grain is None:
        _check_not_mostly_fringes(lattice)
    choice = choose_g(lattice, grain=1 if grain is None else grain)
    g_ref = _refine_on_image(data, lattice, choice)
    px_s = pixel_size if pixel_size else 1.0
    choice = dataclasses.replace(choice, g_px=g_ref, g=g_ref / px_s)
    scale = 1.0 / pixel_size if pixel_size else 1.0
    px_scale = pixel_size if pixel_size else 1.0
    stats = _reflection_stats(lattice, choice.grain, px_scale)
    cands = []
    for i in np.argsort(-stats["strength"]):
        if stats["presence"][i] < 0.2:
            continue
        gv = stats["g"][i] * scale
        gm = float(np.linalg.norm(gv))
        used = tuple(int(v) for v in _LOW_INDICES[i]) in choice.indices
        cands.append(
            {
                "gx": float(gv[0]),
                "gy": float(gv[1]),
                "g": gm,
                "d": 1.0 / gm,
                "strength": float(np.exp(stats["strength"][i])),
                "presence": float(stats["presence"][i]),
                "used": used,
            }
        )
    info = {
        "method": "auto",
        "unit": "1/nm" if pixel_size else "1/px",
        "reason": choice.reason,
        "candidates": cands,
        "crop_px": int(lattice.window_px),
        "lattice_step_px": int(lattice.step_px),
        "normal_index": 0,
        "layered": choice.layered,
        "confidence": choice.confidence,
        "grains": choice.per_grain.to_dict("records"),
        "grain": choice.grain,
        "anisotropy": tuple(lattice.anisotropy)[:2],
        "choice": choice,
    }
    return np.asarray(choice.g_px, dtype=float), info


def _choice_map(data: Any, pixel_size: float | None, d_range_nm: tuple) -> Any:
    """Map the lattice for the g choice (above ``_SPARSE_MAP_PX``: ``survey=True``).

    The choice needs the lattice, its grains and the presence of each reflection, not
    every window: on a large image windows two window-widths apart (a quarter of them,
    still over the whole field) give the same choice at a quarter of the cost (GPA then
    refines g on its reference anyway); ``lattice_map`` maps the default grid instead
    where the crystal is sparse (particles on a support).
    """
    from ..lattice import lattice_map

    h, w = data.shape
    return lattice_map(data, pixel_size, d_range_nm=d_range_nm, survey=h * w > _SPARSE_MAP_PX)


def _check_not_mostly_fringes(lmap: Any, max_share: float = 0.5) -> None:
    """Raise when fringe grains hold more than ``max_share`` of a crystal that has a 2-D grain.

    One g pair demodulates one lattice; the particles showing fringes of other
    orientations would give garbage maps (or NaN at best). The message names both kinds.
    """
    t = lmap.grain_table
    if not len(t) or not lmap.lattice_2d.any():
        return  # no 2-D lattice at all: choose_g raises its own message
    n_cr = max(int(lmap.crystalline.sum()), 1)
    fr, two_d = t[t.lattice == "fringes"], t[t.lattice != "fringes"]
    share = float(fr.n_windows.sum()) / n_cr
    if share <= max_share:
        return
    unit = "nm" if lmap.pixel_size else "px"
    fringes = ", ".join(f"{int(r.grain)} (d {r.d1_nm:.3g} {unit})" for r in fr.head(6).itertuples())
    more = f" and {len(fr) - 6} more" if len(fr) > 6 else ""
    best = two_d.iloc[0]
    rows, cols = np.nonzero(lmap.grains == best.grain)
    where = f"x ~ {lmap.grid_x[cols].mean():.0f}, y ~ {lmap.grid_y[rows].mean():.0f} px"
    g = [(round(float(best.g1x), 3), round(float(best.g1y), 3))]
    g.append((round(float(best.g2x), 3), round(float(best.g2y), 3)))
    raise NoLatticeError(
        f"image: {share:.0%} of the crystal shows one direction of lattice fringes only "
        f"(grains {fringes}{more}: crystals off their zone axis, no 2-D strain there); a "
        f"2-D lattice only in {len(two_d)} grain(s), the largest grain {int(best.grain)} "
        f"({float(best.n_windows) / n_cr:.0%} of the crystal, {where}): one g pair would mix "
        f"the lattices. For that grain alone: ss.gpa(image, g={g}, grains=ss.lattice_map("
        f"image).to_pixels('grains') == {int(best.grain)})"
    )


def given_g_vectors(g, pixel_size: float | None, shape: tuple[int, int]) -> tuple[np.ndarray, dict]:
    """Validate user g-vectors ((gx, gy) rows in 1/nm, or 1/px without calibration)."""
    try:
        arr = np.asarray(g, dtype=float)
    except (TypeError, ValueError):
        raise StemstrainError(
            f"g must be 'auto' or a list of (gx, gy) pairs in 1/nm, got {g!r}"
        ) from None
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 2 or not np.all(np.isfinite(arr)):
        raise StemstrainError(
            f"g must be 'auto' or at least two finite (gx, gy) pairs in 1/nm, got {g!r}"
        )
    g_px = arr * (pixel_size if pixel_size else 1.0)
    mags = np.hypot(g_px[:, 0], g_px[:, 1])
    if np.any(mags <= 2.0 / min(shape)):
        raise StemstrainError(
            f"g: a g-vector is (nearly) zero or below the image's frequency resolution: {g!r}"
        )
    if np.any(np.abs(g_px) >= 0.5):
        raise StemstrainError(
            f"g: a g-vector lies beyond the Nyquist frequency (0.5 cycles/px = "
            f"{0.5 / (pixel_size or 1.0):.3g} 1/nm): {g!r}; check pixel_size"
        )
    for i in range(1, len(g_px)):
        if _angle_deg(g_px[0], g_px[i]) < 5.0 and len(g_px) == 2:
            raise StemstrainError(
                f"g: the two g-vectors {arr[0].tolist()} and {arr[1].tolist()} are collinear; "
                "choose two reflections at least 5 deg apart"
            )
    cross = np.abs(np.cross(g_px[:, None, :], g_px[None, :, :]))
    if len(g_px) > 2 and cross.max() / (mags.max() ** 2) < np.sin(np.radians(5.0)):
        raise StemstrainError(f"g: all g-vectors are collinear: {g!r}; add a non-collinear one")
    info = {
        "method": "given",
        "unit": "1/nm" if pixel_size else "1/px",
        "normal_index": 0,
        "reason": "g-vectors given by the user; the first is taken as the layer normal (003)",
        "candidates": [],
    }
    return g_px, info


def _refine_on_image(image: Any, lmap: Any, choice: GChoice) -> np.ndarray:
    """Re-measure the chosen g on the spectrum of a square crop over the grain (mean lattice).

    The crop (at most 1024 px) is centred on the grain's windows; each g is the
    largest |FFT| within +-2 bins of the lattice-map prediction, refined with the
    exact Hann interpolation. Falls back to the prediction when the crop is small.
    """
    h, w = image.shape
    sel = lmap.grains == choice.grain
    rows, cols = np.nonzero(sel)
    ys, xs = lmap.grid_y[rows], lmap.grid_x[cols]
    half = lmap.window_px / 2
    extent = max(ys.max() - ys.min(), xs.max() - xs.min()) + 2 * half
    n = int(min(h, w, 1024, max(extent, 2 * lmap.window_px)))
    cy = int(np.clip(round(ys.mean() - n / 2), 0, h - n))
    cx = int(np.clip(round(xs.mean() - n / 2), 0, w - n))
    crop = np.asarray(asnumpy(image[cy : cy + n, cx : cx + n]), dtype=np.float32)
    mag = window_spectra(np, crop, n, n)[0][0, 0]
    out = np.array(choice.g_px, dtype=float)
    for i, g in enumerate(choice.g_px):
        sgn = -1.0 if (g[0] < 0 or (g[0] == 0 and g[1] < 0)) else 1.0
        kx, ky = sgn * g[0] * n, sgn * g[1] * n
        ix0, iy0 = int(round(kx)), int(round(ky))
        dy, dx = np.mgrid[-2:3, -2:3]
        iy, ix = iy0 + dy.ravel(), ix0 + dx.ravel()
        okx = (ix >= 0) & (ix < mag.shape[1] - 1)
        if not okx.any():
            continue
        iy, ix = iy[okx], ix[okx]
        best = int(np.argmax(mag[iy % n, ix]))
        flat = np.array([[(iy[best] % n) * mag.shape[1] + ix[best]]])
        new = sgn * refine_peaks(np, mag[None], flat, n)[0][0, 0]
        if np.linalg.norm(new - g) < 1.5 / lmap.window_px:  # stay on the predicted reflection
            out[i] = new
    return out
