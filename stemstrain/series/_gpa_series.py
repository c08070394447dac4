"""``gpa_series``: GPA of every frame of a drifting series against one common reference lattice."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._regions import region_mask
from ..errors import StemstrainError
from ..results import Calibration
from ._input import frames_and_calibration
from ._register import (
    MIN_COHERENCE,
    coarse_drift,
    lattice_drift,
    mean_phasor,
    shift_mask,
)
from ._result import _COMPONENTS, GPASeriesResult

__all__ = ["gpa_series"]

_ALIGN = ("auto", "lattice", "image", "none")
#: with continuity, a change of drift this close to half a lattice period is flagged
_MAX_AMBIGUITY = 0.35
#: a warning names the frames whose reference region reads more than this (median exx/eyy)
_MAX_REF_STRAIN = 2e-3


def _check_align(align: Any, n: int) -> tuple[str, np.ndarray | None]:
    if isinstance(align, str):
        if align not in _ALIGN:
            raise StemstrainError(
                f"align must be one of {_ALIGN} or an (n_frames, 2) array of "
                f"drift (x, y) px, got {align!r}"
            )
        return align, None
    d = np.asarray(align, dtype=float)
    if d.shape != (n, 2) or not np.all(np.isfinite(d)):
        raise StemstrainError(
            f"align as a drift array must be finite with shape ({n}, 2) "
            f"(x, y) px per frame, got shape {d.shape}"
        )
    return "given", d - d[0]


def _predict(history: list[tuple[int, np.ndarray]], k: int) -> np.ndarray:
    """Drift of frame ``k`` from the accepted frames ``(index, drift)`` (constant velocity)."""
    if len(history) >= 2:
        (k1, d1), (k2, d2) = history[-2], history[-1]
        return d2 + (d2 - d1) * (k - k2) / (k2 - k1)
    return history[-1][1] if history else np.zeros(2)


def _frame(ctx: dict, k: int, frame: np.ndarray, history: list) -> tuple[Any, dict]:
    """GPA of frame ``k`` with the common g and its drift; returns (GPAResult or None, row)."""
    from ..geometric_phase import gpa as _gpa

    mode, score = ctx["mode"], ctx["score"]
    coarse = history[-1][1] + ctx["coarse"][k]
    row: dict[str, Any] = {
        "coarse_x": coarse[0],
        "coarse_y": coarse[1],
        "coarse_score": score[k],
        "coherence": np.nan,
        "ambiguity": np.nan,
        "gpa_warnings": "",
    }
    if mode == "given":
        prior, method = ctx["given"][k], "given"
    elif mode == "image":
        prior, method = coarse, "image"
    elif mode == "none":
        prior, method = np.zeros(2), "none"
    else:
        prior, method = _predict(history, k), "lattice+continuity"
    row["method"] = method
    ref_k = shift_mask(ctx["ref0"], prior)
    if ref_k.sum() < 16:
        return None, dict(row, drift=prior, ok=False, reason="reference region left the frame")
    try:
        # a frame's GPA doubts go into its quality row (one summary warning), not one per frame
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = _gpa(
                frame,
                ctx["px"],
                g=ctx["g"],
                reference=ref_k,
                refine=False,
                resolution_nm=ctx["resolution_nm"],
                backend=ctx["backend"],
                dtype=ctx["dtype"],
            )
    except StemstrainError as exc:
        return None, dict(row, drift=prior, ok=False, reason=f"gpa failed: {exc}")
    row["gpa_warnings"] = " | ".join(
        dict.fromkeys(
            " ".join(str(w.message).split()) for w in caught if issubclass(w.category, UserWarning)
        )
    )
    ok, reason, d = True, "", prior
    if method.startswith("lattice"):
        d, _, amb = lattice_drift(ctx["z0"], mean_phasor(res, ref_k), ctx["g_px"], prior)
        # re-centre the region on the refined drift and solve again
        d, coh, _ = lattice_drift(
            ctx["z0"], mean_phasor(res, shift_mask(ctx["ref0"], d)), ctx["g_px"], d
        )
        row.update(coherence=coh, ambiguity=amb)
        mismatch = float(np.hypot(*(d - prior))) if np.all(np.isfinite(d)) else np.inf
        if not coh >= MIN_COHERENCE:
            ok, reason = (
                False,
                (
                    f"lattice phase incoherent in the reference region "
                    f"(coherence {coh:.2f} < {MIN_COHERENCE})"
                ),
            )
            d = prior if not np.all(np.isfinite(d)) else d
        elif amb > _MAX_AMBIGUITY:
            ok, reason = (
                False,
                (
                    f"lattice-period ambiguity: the drift changed by {amb:.2f} of "
                    f"a lattice period from the constant-velocity prediction "
                    f"({mismatch:.1f} px); pass align= a drift array"
                ),
            )
    return res, dict(row, drift=d, ok=ok, reason=reason)


def _row_stats(res: Any, ref: np.ndarray) -> dict:
    if res is None:
        return {"valid_fraction": 0.0, "ref_exx": np.nan, "ref_eyy": np.nan}
    sel = ref & res.mask
    return {
        "valid_fraction": float(res.mask.mean()),
        "ref_exx": float(np.median(res.exx[sel])) if sel.any() else np.nan,
        "ref_eyy": float(np.median(res.eyy[sel])) if sel.any() else np.nan,
    }


def gpa_series(
    stack: Any,
    pixel_size: float | None = None,
    *,
    reference: Any = None,
    g: Any = "auto",
    align: Any = "auto",
    resolution_nm: float | None = None,
    backend: str = "numpy",
    dtype: Any = np.float32,
) -> GPASeriesResult:
    """GPA strain maps of every frame of a drifting series, against one common reference lattice.

    Parameters
    ----------
    stack : ndarray (n_frames, H, W) or hyperspy Signal2D with one navigation axis
        The series (the navigation axis is taken as time).
    pixel_size : float, optional
        nm per px (from the signal's axes when omitted).
    reference : None, (row0, row1, col0, col1) or bool mask
        Zero-strain region **in frame-0 coordinates**; in frame ``k`` it is moved by the
        drift. None: the whole of frame 0.
    g : "auto" or sequence of (gx, gy)
        As in :func:`stemstrain.gpa`, for frame 0. Its refined g (the reference lattice of
        frame 0) is used unchanged (``refine=False``) for every frame.
    align : {"auto", "lattice", "image", "none"} or ndarray (n_frames, 2)
        ``"auto"`` (= ``"lattice"``): the drift from the change of the GPA phase of the common
        g in the reference region (sub-pixel, exact for a rigid shift), its lattice-period
        ambiguity resolved by continuity (the translation nearest the constant-velocity
        prediction; a frame whose drift changes by more than 0.35 of a period is flagged).
        ``"image"``: only a coarse registration of the low-pass (lattice-free) content
        (template matching, ~1-2 px; for frames with little lattice). ``"none"``: no drift.
        An array: known drift (x, y) px per frame (e.g. from a fiducial).
    resolution_nm : float, optional
        GPA resolution (as in :func:`stemstrain.gpa`); the same for all frames.
    backend : {"numpy", "cupy", "auto"}
        Array module of the per-frame GPA.
    dtype : {numpy.float32, numpy.float64}
        GPA working precision.

    Returns
    -------
    GPASeriesResult
        Maps (n_frames, H, W), ``drift``, ``times``, the common ``g_vectors`` and a
        per-frame ``quality`` table; frames with a rejected registration are NaN (warned).

    Raises
    ------
    StemstrainError
        Not a (n, H, W) stack or single frame, NaN in the stack, a bad ``align``, or
        anything :func:`stemstrain.gpa` rejects on frame 0.

    Notes
    -----
    With ``P_g`` the GPA phase of frame ``k`` (common g), a drift ``d`` gives
    ``P_g^k(r) = P_g^0(r - d) - 2 pi g . d``; in the unstrained reference region ``P^0`` is
    flat, so the change of the region's mean phasor gives ``g . d`` modulo 1 for each g.

    Examples
    --------
    >>> from stemstrain.synthetic import drifting_movie
    >>> m = drifting_movie((384, 384), n_frames=3, dose=None, surface=False)
    >>> r = gpa_series(m.frames, m.pixel_size, reference=m.reference)
    >>> bool(np.max(np.abs(r.drift - m.drift)) < 0.15)
    True
    """
    from ..geometric_phase import gpa as _gpa

    frames, px, times, tunits = frames_and_calibration(stack, pixel_size)
    n, h, w = frames.shape
    mode, given = _check_align(align, n)
    r0 = _gpa(
        frames[0],
        px,
        g=g,
        reference=reference,
        resolution_nm=resolution_nm,
        backend=backend,
        dtype=dtype,
    )
    g_px = np.asarray(r0.g_vectors) * (px or 1.0)
    g_min = float(np.min(np.hypot(g_px[:, 0], g_px[:, 1])))
    coarse, score = (
        (coarse_drift(frames, g_min))
        if mode == "image"
        else (np.full((n, 2), np.nan), np.full(n, np.nan))
    )
    ref0 = region_mask(reference, (h, w))
    ctx = {
        "mode": mode,
        "given": given,
        "coarse": coarse,
        "score": score,
        "ref0": ref0,
        "px": px,
        "g": r0.g_vectors.tolist(),
        "g_px": g_px,
        "resolution_nm": r0.resolution_nm,
        "backend": backend,
        "dtype": dtype,
        "z0": mean_phasor(r0, ref0),
    }
    # np.empty: each frame's maps are written once (NaN for flagged frames), no second pass
    maps = {c: np.empty((n, h, w), dtype=r0.exx.dtype) for c in _COMPONENTS}
    mask = np.zeros((n, h, w), dtype=bool)
    drifts: list[np.ndarray] = [np.zeros(2)]
    history: list[tuple[int, np.ndarray]] = [(0, np.zeros(2))]
    rows = [
        dict(
            frame=0,
            coarse_x=0.0,
            coarse_y=0.0,
            coarse_score=1.0,
            coherence=1.0,
            ambiguity=0.0,
            method="reference",
            drift=np.zeros(2),
            ok=True,
            reason="",
            gpa_warnings="; ".join(getattr(r0, "warnings", ()) or ()),
            **_row_stats(r0, ref0),
        )
    ]
    for c in _COMPONENTS:
        maps[c][0] = getattr(r0, c)
    mask[0] = r0.mask
    for k in range(1, n):
        res, row = _frame(ctx, k, frames[k], history)
        drifts.append(np.asarray(row["drift"], dtype=float))
        if row["ok"]:
            history.append((k, drifts[-1]))
        rows.append(dict(row, frame=k, **_row_stats(res, shift_mask(ref0, row["drift"]))))
        ok = res is not None and row["ok"]
        for c in _COMPONENTS:
            maps[c][k] = getattr(res, c) if ok else np.nan
        if ok:
            mask[k] = res.mask
        del res  # free this frame's arrays before the next GPA (memory reuse: much faster)
    return _assemble(maps, mask, np.array(drifts), rows, times, tunits, r0, reference, mode)


def _assemble(maps, mask, drift, rows, times, tunits, r0, reference, mode):
    import pandas as pd

    for r in rows:
        r["drift_x"], r["drift_y"] = (float(v) for v in r.pop("drift"))
    quality = pd.DataFrame(rows)
    quality.insert(1, "time", np.asarray(times, dtype=float))
    cols = [
        "frame",
        "time",
        "drift_x",
        "drift_y",
        "coarse_x",
        "coarse_y",
        "coarse_score",
        "coherence",
        "ambiguity",
        "method",
        "valid_fraction",
        "ref_exx",
        "ref_eyy",
        "ok",
        "reason",
        "gpa_warnings",
    ]
    quality = quality[cols]
    ref = quality[["ref_exx", "ref_eyy"]].abs().max(axis=1)
    moved = quality.loc[quality.ok.astype(bool) & (ref > _MAX_REF_STRAIN)]
    if len(moved):
        warnings.warn(
            f"gpa_series: the reference region reads up to {float(ref.max()):.2g} strain "
            f"(> {_MAX_REF_STRAIN:g}) in frames {moved.frame.tolist()}: its lattice changed "
            "against frame 0 (scan distortion from drift during the scan, or real strain); "
            "those frames' maps include that change (see quality.ref_exx/ref_eyy)",
            UserWarning,
            stacklevel=3,
        )
    doubtful = quality.loc[
        quality.ok.astype(bool) & (quality.frame > 0) & (quality.gpa_warnings != "")
    ]
    if len(doubtful):
        warnings.warn(
            f"gpa_series: GPA warned on frames {doubtful.frame.tolist()} (see "
            f"quality.gpa_warnings), e.g. frame {int(doubtful.frame.iloc[0])}: "
            f"{doubtful.gpa_warnings.iloc[0][:200]}",
            UserWarning,
            stacklevel=3,
        )
    bad = quality.loc[~quality.ok.astype(bool)]
    if len(bad):
        msg = "; ".join(f"frame {int(f)}: {r}" for f, r in zip(bad.frame, bad.reason, strict=True))
        warnings.warn(
            f"gpa_series: {len(bad)} of {len(quality)} frames flagged and left NaN ({msg[:400]})",
            UserWarning,
            stacklevel=3,
        )
    return GPASeriesResult(
        **maps,
        drift=drift,
        times=np.asarray(times, dtype=float),
        time_units=tunits,
        g_vectors=np.asarray(r0.g_vectors),
        pixel_size=r0.pixel_size,
        calibration=Calibration.from_pixel_size(r0.pixel_size),
        reference=reference,
        resolution_nm=float(r0.resolution_nm),
        normal=np.asarray(r0.normal),
        quality=quality,
        mask=mask,
        align=mode,
        g_info=dict(r0.g_info),
    )
