"""Quality figures and warnings of a GPA result (how much to trust the maps)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._core import _BIAS_SIGMAS, FWHM_FACTOR, edge_sigmas, upsample

__all__ = ["LazyMaps", "assess", "border_quality", "BORDER_WARN"]

#: warn when less than this fraction of the (analysable) crystal is valid
MIN_VALID = 0.8
#: warn when a g is closer to Nyquist than this (cycles/px)
NEAR_NYQUIST = 0.4
#: warn when the measured scatter in the reference exceeds the predicted sigma this much
PHASE_NOISE_RATIO = 3.0
#: ... and the scatter exceeds this (strain): below it nobody is misled
PHASE_NOISE_FLOOR = 1e-3
#: warn when this fraction of a grain's valid area is cut from the reference by a g jump
JUMP_FRACTION = 0.05
#: warn when the NaN band along the image border covers more than this share of the field.
#: Above the 13-25 % the default band takes on ordinary fields (1024^2 at 0.01-0.02 nm/px:
#: 13 % on the generator, 18-21 % on the real SrTiO3 files; YBCO 512^2 13 %; PTO/SRO's
#: 224-px rows 25 %), so it is no noise there; beyond it the maps cover under two thirds
#: of the field while ``valid_fraction`` (of the crystal outside the band) may read 1.00
BORDER_WARN = 1.0 / 3.0
#: "non-uniform": p90 - p10 of 1/8-field means of a strain component above this, or of the
#: rotation (rad): another reference region could shift the maps by that much
NONUNIFORM_STRAIN, NONUNIFORM_ROTATION = 0.01, 0.02


class LazyMaps(Mapping):
    """Full-size maps upsampled from the coarse grid on first access (then cached).

    Used for ``GPAResult.uncertainty``: the sigma maps are smooth, so they are kept on
    the coarse grid and only produced at image size when asked for (or saved).
    """

    def __init__(self, coarse: dict, shape: tuple[int, int], mask: np.ndarray) -> None:
        self._coarse = {k: np.asarray(v) for k, v in coarse.items()}
        self._shape = tuple(shape)
        self._mask = mask
        self._cache: dict = {}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._cache:
            coarse = np.ascontiguousarray(self._coarse[key])
            self._cache[key] = upsample(np, coarse, self._shape, self._mask)  # NaN off the mask
        return self._cache[key]

    def __iter__(self):
        return iter(self._coarse)

    def __len__(self) -> int:
        return len(self._coarse)

    def __repr__(self) -> str:
        return f"LazyMaps({list(self._coarse)}, shape={self._shape})"

    def coarse(self, key: str) -> np.ndarray:
        """Return the coarse-grid map (no upsampling)."""
        return self._coarse[key]


def _detrended_std(a: np.ndarray, sel: np.ndarray) -> float:
    """Return the std of ``a[sel]`` about a least-squares plane (smooth strain removed)."""
    yy, xx = np.nonzero(sel)
    if yy.size > 20000:
        pick = np.linspace(0, yy.size - 1, 20000).astype(int)
        yy, xx = yy[pick], xx[pick]
    v = a[yy, xx].astype(float)
    design = np.stack([np.ones_like(v), yy.astype(float), xx.astype(float)], axis=1)
    coef, *_ = np.linalg.lstsq(design, v, rcond=None)
    return float(np.std(v - design @ coef))


def _median(a: np.ndarray, mask: np.ndarray) -> float:
    v = a[mask]
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else 0.0


def _spread(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    if a.size < 500:
        return 0.0
    lo, hi = np.percentile(a, [10, 90])
    return float(hi - lo)


def _block_means(a: np.ndarray, n: int = 8) -> np.ndarray:
    """Means of ``a`` over an n x n grid of blocks (NaN where < half the block is finite)."""
    h, w = a.shape
    bh, bw = max(h // n, 1), max(w // n, 1)
    b = a[: h // bh * bh, : w // bw * bw].reshape(h // bh, bh, w // bw, bw)
    fin = np.isfinite(b)
    cnt = fin.sum(axis=(1, 3))
    tot = np.where(fin, b, 0.0).sum(axis=(1, 3), dtype=np.float64)
    return np.where(cnt >= 0.5 * bh * bw, tot / np.maximum(cnt, 1), np.nan)


def _nonuniform(maps: dict) -> str | None:
    """Warning when a reference region could shift the maps materially (reference=None).

    The maps are relative to the mean lattice of the crystal; another reference adds a
    constant. How large that constant can be is the spread of the lattice at the scale of
    a reference region, not the pixel scatter (shot noise, row jitter: no reference
    removes them): p90 - p10 of 1/8-field block means, against ``NONUNIFORM_STRAIN`` /
    ``NONUNIFORM_ROTATION``. When most of that variance is between block rows (along y)
    the message says so: slow-scan distortion or drift, or a feature along the rows.
    """
    worst = None
    for k, lim in (("exx", NONUNIFORM_STRAIN), ("eyy", NONUNIFORM_STRAIN)) + (
        ("exy", NONUNIFORM_STRAIN),
        ("rotation", NONUNIFORM_ROTATION),
    ):
        b = _block_means(maps[k])
        v = b[np.isfinite(b)]
        if v.size < 8:
            return None
        lo, hi = np.percentile(v, [10, 90])
        if hi - lo > lim and (worst is None or (hi - lo) / lim > worst[1]):
            fin = np.isfinite(b)
            rows = np.where(fin, b, 0.0).sum(1, keepdims=True) / np.maximum(
                fin.sum(1, keepdims=True), 1
            )
            within = float(np.var((b - rows)[fin]))
            between = 1.0 - within / max(float(np.var(b[fin])), 1e-30)
            worst = (k, (hi - lo) / lim, hi - lo, between)
    if worst is None:
        return None
    k, _, spread, between = worst
    size = f"{spread:.3f} rad" if k == "rotation" else f"{100 * spread:.1f} %"
    where = (
        ", mostly between rows (along y: slow-scan distortion or drift, or an interface / "
        "planar fault along the rows; a reference region does not remove it)"
        if between > 0.75
        else ""
    )
    return (
        f"reference=None on a non-uniform image: {k} varies by {size} between 1/8-field "
        f"regions{where}; the maps are relative to the mean lattice of the whole crystal "
        "and another reference would shift them by up to that: pass reference='auto' or "
        "a region when a part of the crystal is the known reference"
    )


def assess(
    maps: dict,
    sigma: Mapping,
    mask: np.ndarray,
    crystal_full: np.ndarray,
    ctx: dict,
) -> tuple[dict, list]:
    """Quality figures and warning messages.

    Parameters
    ----------
    maps : dict
        Full-size maps (exx, eyy, exy, rotation, ...).
    sigma : Mapping
        Full-size 1-sigma maps (same names).
    mask : ndarray of bool
        Valid pixels.
    crystal_full : ndarray of bool
        Crystalline pixels inside the analysable area (border band excluded).
    ctx : dict
        ``g_px`` (cycles/px), ``pixel_size``, ``reference`` (as given), ``ref_mask_full``
        (host bool or None), ``grains`` (table rows), ``survey`` (bool), ``notes``.

    Returns
    -------
    (dict, list of str)
    """
    warn: list[str] = list(ctx.get("notes", []))
    n_cr = int(crystal_full.sum())
    valid_frac = float((mask & crystal_full).sum() / n_cr) if n_cr else float("nan")
    cryst_frac = float(crystal_full.mean()) if ctx["survey"] else float("nan")
    if n_cr and valid_frac < MIN_VALID:
        warn.append(
            f"only {valid_frac:.0%} of the crystal has valid maps (amplitude below "
            "threshold elsewhere): check g, the resolution or the reference"
        )
    if ctx["survey"] and cryst_frac < 0.05:
        warn.append(f"only {cryst_frac:.1%} of the image shows the chosen lattice fringes")
    g = np.asarray(ctx["g_px"], dtype=float)
    gmax = float(np.hypot(g[:, 0], g[:, 1]).max())
    if gmax > NEAR_NYQUIST:
        warn.append(
            f"a g-vector is at {gmax:.2f} cycles/px, near Nyquist (0.5): likely noise "
            "or aliasing; choose g explicitly"
        )
    px = ctx["pixel_size"]
    if px:
        d_min = px / gmax
        if d_min < 0.08:
            warn.append(
                f"a g-vector has spacing {d_min:.3f} nm (< 0.08 nm, unphysical for a "
                "crystal lattice): likely noise; choose g explicitly"
            )
    ratio = float("nan")
    ref = ctx.get("ref_mask_full")
    if ref is not None and ctx["reference"] is not None:
        sel = ref & mask
        if sel.sum() > 50:
            meas = np.mean([_detrended_std(maps[k], sel) for k in ("exx", "eyy")])
            pred = np.mean([np.median(sigma[k][sel]) for k in ("exx", "eyy")])
            ratio = float(meas / pred) if pred > 0 else float("nan")
            if ratio > PHASE_NOISE_RATIO and meas > PHASE_NOISE_FLOOR:
                warn.append(
                    f"strain scatter in the reference is {ratio:.1f}x the shot-noise "
                    "prediction: the reference is distorted or the phase noisy"
                )
    if ctx["reference"] is None:
        msg = _nonuniform(maps)
        if msg:
            warn.append(msg)
    grains = ctx["grains"]
    jumps = [r for r in grains if r.get("g_jump_fraction", 0.0) > JUMP_FRACTION]
    for r in jumps:
        warn.append(
            f"grain {r['label']}: the local g jumps by more than a mask width in "
            f"{r['g_jump_fraction']:.0%} of the valid area (not connected to the "
            "reference without a jump: a slip shear or boundary where g2 may be "
            "followed as g2 +- g1); the maps there may be off by a lattice shear"
        )
    if len(grains) > 1:
        desc = ", ".join(
            f"{r['label']} ({r['orientation_deg']:+.1f} deg, {r['fraction']:.0%})" for r in grains
        )
        warn.append(
            f"{len(grains)} grains found [{desc}]: each is measured against its own "
            "reference (see grain_table); values are not comparable across grains"
        )
    amp = ctx["amplitude_median"]
    quality = {
        "crystalline_fraction": cryst_frac,
        "valid_fraction": valid_frac,
        "amplitude_median": amp,
        "amplitude_snr": [a / ctx["noise_amp"] if ctx["noise_amp"] > 0 else math.inf for a in amp],
        "noise_sigma": ctx["noise_sigma"],
        "noise_source": ctx["noise_source"],
        "phase_noise_ratio": ratio,
        "n_grains": len(grains),
        "adaptive": any(r["adaptive"] for r in grains),
        "g_jump_fraction": max((r.get("g_jump_fraction", 0.0) for r in grains), default=0.0),
        "g_confidence": ctx.get("g_confidence"),
    }
    return quality, warn


def border_quality(
    mask: np.ndarray, border: int, sigma_px: float, px: float | None, ctx: tuple
) -> tuple[dict, list]:
    """Quality figures of the image border band, and the warning when it takes much of the field.

    ``ctx`` = (valid_fraction, whether the default resolution was made finer for this
    small field, nearest reciprocal-lattice distance of the g in cycles/px).
    """
    valid, adapted, d_near = ctx
    h, w = mask.shape
    n_sig = edge_sigmas(sigma_px, d_near)
    nominal = int(round(n_sig / (2 * math.pi * sigma_px)))
    frac = 1.0 - max(h - 2 * border, 0) * max(w - 2 * border, 0) / (h * w)
    finite = float(np.count_nonzero(mask)) / mask.size
    out = {
        "finite_fraction_image": finite,
        "border_px": int(border),
        "border_nm": float(border * px) if px else float("nan"),
        "border_fraction": float(frac),
        "border_sigmas": n_sig,
        "border_bias_px": int(
            round(edge_sigmas(sigma_px, d_near, _BIAS_SIGMAS) / (2 * math.pi * sigma_px))
        ),
        "resolution_small_field": bool(adapted),
    }
    unit, scale = ("nm", px) if px else ("px", 1.0)
    res = FWHM_FACTOR * scale / sigma_px
    if border == 0 and nominal > 0:
        return out, [
            f"the {h}x{w} field is too small for the border band ({nominal} px = "
            f"{n_sig:.3g} kernel sigmas at resolution {res:.3g} {unit}): the maps reach the "
            "image edge, where they are biased (by > 1e-2 within 2 sigmas); use a finer "
            "resolution_nm= or a larger field"
        ]
    if frac <= BORDER_WARN:
        return out, []
    finest = FWHM_FACTOR * scale * 2.5 / d_near
    how = (
        "the default is already the finest without leakage of the neighbouring reflections"
        if adapted
        else "a finer resolution_nm= narrows it"
    )
    width = f" = {border * px:.3g} nm" if px else ""
    return out, [
        f"the border band ({border} px{width}, {n_sig:.3g} kernel sigmas at resolution "
        f"{res:.3g} {unit}) removes {frac:.0%} of the {h}x{w} field: the maps are finite on "
        f"{finite:.0%} of the image, and valid_fraction ({valid:.2f}) counts only the crystal "
        f"away from the band; {how} (limit {finest:.3g} {unit}, noisier and biased by leakage), "
        "or record a larger field"
    ]
