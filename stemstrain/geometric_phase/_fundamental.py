"""g on the fundamental reflections when part of a layered crystal lacks its (003).

A layered R-3m oxide (LiCoO2, NMC) and its rock-salt (Fm-3m) degradation product share
the oxygen and cation sub-lattice (a topotactic relation): only the Li/TM ordering of
the layered phase adds the *superstructure* reflections, the (003) first. Where TM
occupies the Li sites (a reconstructed surface layer, a rock-salt band) the (003) is
absent, so GPA on the (003) is blind there, while the *fundamental* reflections (the
(006), and the in-plane ones that are the rock salt's (111)/(200)-type) exist on both
sides. When the automatic choice is layered and a crystalline region shows the (006)
and an in-plane fundamental but no (003), g becomes that fundamental pair: one
continuous strain map over both phases, relative to the same layered reference. The
(006) is parallel to the (003), so ``g[0]`` still defines the layer normal and frame.

Which in-plane reflection is fundamental depends on the projected stacking (for the
basis (003), g2: ``g2`` or ``g2 +- g1``); it is measured, not assumed: the one of the
three that keeps its amplitude where the (003) vanishes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import asnumpy
from ._run import border_cells

#: a cell belongs to a reflection's crystal above this fraction of its median there
_AMP_FRAC = 0.3
#: the (003)-less crystalline region must hold this share of the layered crystal
_MIN_GAP_SHARE = 0.05
#: an in-plane fundamental keeps at least this fraction of its layered amplitude there
_MIN_KEPT = 0.5


def _amplitudes(xp: Any, sp: Any, g_all: np.ndarray, sigma: float) -> np.ndarray:
    hh, _ = sp.demodulate(xp, g_all, sigma, grads=False)
    return np.abs(asnumpy(hh)).astype(float)


def _kept(amp: np.ndarray, gap: np.ndarray, layered: np.ndarray) -> np.ndarray:
    """Median amplitude of each reflection in ``gap`` over its median in ``layered``."""
    if not gap.any():
        return np.zeros(len(amp))
    return np.array([np.median(a[gap]) / max(np.median(a[layered]), 1e-30) for a in amp])


def fundamental_pair(xp: Any, sp: Any, g_px: np.ndarray, g_info: dict, sigma: float) -> tuple:
    """Return (g_px, g_info, note): the (006) + in-plane fundamental pair, or unchanged.

    Only for the automatic choice on a layered lattice; ``note`` (str or None) says why
    g changed (it becomes a result warning); ``g_info["fundamental"]`` the figures.
    """
    if g_info.get("method") != "auto" or not g_info.get("layered"):
        return g_px, g_info, None
    g1, g2 = np.asarray(g_px[0], float), np.asarray(g_px[1], float)
    inplane = np.stack([g2, g1 + g2, g1 - g2])
    g_all = np.vstack([g1, 2 * g1, inplane])
    if np.abs(g_all).max() >= 0.5:  # (006) or g1 +- g2 beyond Nyquist
        return g_px, g_info, None
    amp = _amplitudes(xp, sp, g_all, sigma)
    inner = border_cells(sp.shape, sigma, *amp.shape[1:])
    a1 = amp[0]
    top = inner & (a1 >= _AMP_FRAC * np.percentile(a1[inner], 90))
    med1 = np.median(a1[top]) if top.any() else 0.0
    layered = inner & (a1 >= _AMP_FRAC * med1)
    if layered.sum() < 16:
        return g_px, g_info, None
    # where the (003) is absent but the (006) keeps most of its layered amplitude
    med006 = np.median(amp[1][layered])
    cand = inner & ~layered & (amp[1] >= _MIN_KEPT * med006)
    kept = _kept(amp[1:], cand, layered)
    best = int(np.argmax(kept[1:]))
    med_in = np.median(amp[2 + best][layered])
    gap = cand & (amp[2 + best] >= _MIN_KEPT * med_in)
    share = float(gap.sum() / layered.sum())
    fig = {"gap_share": share, "kept": kept.tolist(), "used": False}
    if share < _MIN_GAP_SHARE or min(kept[0], kept[1 + best]) < _MIN_KEPT:
        return g_px, dict(g_info, fundamental=fig), None
    new = np.stack([2 * g1, inplane[best]])
    names = ("g2", "g1 + g2", "g1 - g2")[best]
    fig.update(used=True, in_plane=names)
    note = (
        f"{share:.0%} of the layered crystal's area is crystalline without the (003) "
        f"superstructure reflection (a rock-salt-type or cation-disordered region: the (006) "
        f"and the in-plane {names} keep {kept[0]:.0%} / {kept[1 + best]:.0%} of their "
        "amplitude there); g = the shared fundamental reflections (006) and "
        f"{names} of the layered lattice, so the maps run continuously over both phases "
        "relative to the layered reference; the layer normal is the (006) = 2 x (003)"
    )
    reason = g_info.get("reason", "") + " Then: " + note + "."
    return new, dict(g_info, fundamental=fig, reason=reason, normal_index=0), note
