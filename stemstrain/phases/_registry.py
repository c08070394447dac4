"""O3 / O1 on bent layers: the layered / O1 decision made on the drift-corrected registry.

The templates tell O3 ("layered") from O1 by the registry of adjacent TM layers (the
in-plane shift of one layer over the next: 1/3 period O3, 0 O1). When bent layers slip
over each other (each keeps its arc length) that registry drifts with the local layer
angle by ``beta (d / a) (theta - theta0)`` periods (``stemstrain.lattice`` module
``_slip``): 1.92 periods per radian, so an O3 crystal that turns by ~10 deg shows O1-like
registry in projection although its stacking sequence is O3 (and an O1 band can look O3).
The local Fourier features cannot tell the two apart; the column positions can: the drift
follows one law of the layer angle across the whole field, the stacking does not.

:func:`slip_relabel` therefore, when the layers of the layered / O1 area turn by at least
``BEND_DEG`` (the drift then reaches 1/6 period, half-way from O3 to O1), runs the public
:func:`stemstrain.stacking_map` (its slip fit, one implementation) on the columns (given,
or found with :func:`stemstrain.find_columns`) and, when it finds and removes a slip
drift, re-labels every "layered" / "O1" pixel with the stacking of its gap after the
drift is removed (O3 -> layered, O1 -> O1, "other" -> unknown; pixels off the painted gaps
take the nearest gap's label). In bent layers without slip (a neutral-plane bend, a kink,
two grains) the drift is zero and the column registry decides as well: it does not
depend on the lock-in frame, which follows rotations of +-20 deg only. Straight crystals
(spread < ``BEND_DEG``) keep the template labels unchanged. A warning of the slip fit (doubtful
anchoring, drift that does not follow one slip law, registry neither O3 nor O1), or a
stacking map that cannot be made, becomes a phase-map warning that the O3 / O1 labels are
doubtful. When the columns show TM layers over more than ``MISSED_FRACTION`` of their
area outside the phase map's crystal (a grain turned past the +-20 deg the lock-in frame
follows reads "amorphous" / vacuum), a warning says that grain is not mapped.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ..errors import StemstrainError

#: p5-p95 spread of the layer rotation (deg) of the layered / O1 area from which the slip
#: drift of bent layers (1.92 periods / rad in LiCoO2) can reach 1/6 period
BEND_DEG = 5.0
#: stacking_map codes -> phase codes ("layered" 1, "O1" 2, "unknown" 255); 0 = no gap there
_FROM_STACKING = np.array([0, 1, 2, 255], dtype=np.uint8)
#: share of the columns' layered area outside the phase map's crystal that is warned
MISSED_FRACTION = 0.05


def _rotation_spread(fit: Any, target: np.ndarray) -> float:
    """p5-p95 spread (deg) of the lock-in frame rotation over the target pixels."""
    rot = fit.feat.rotation
    sub = target[:: fit.stride, :: fit.stride][: rot.shape[0], : rot.shape[1]]
    if not sub.any():
        return 0.0
    lo, hi = np.percentile(rot[sub[: rot.shape[0], : rot.shape[1]]], [5, 95])
    return float(np.rad2deg(hi - lo))


def _stacking(fit: Any, columns: Any):
    """``stacking_map`` of the image and the messages of its warnings (recorded)."""
    from ..lattice import stacking_map

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        st = stacking_map(fit.img, fit.px, columns=columns)
    msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return st, msgs


def _relabel(labels: np.ndarray, target: np.ndarray, stack_labels: np.ndarray) -> np.ndarray:
    """Target pixels take the stacking of their gap (nearest painted gap off the gaps)."""
    painted = stack_labels > 0
    if not painted.any():
        return labels
    idx = ndi.distance_transform_edt(~painted, return_distances=False, return_indices=True)
    nearest = stack_labels[idx[0], idx[1]]
    return np.where(target, _FROM_STACKING[nearest], labels).astype(np.uint8)


def _check_missed_lattice(painted: np.ndarray, crystal: np.ndarray, notes: list[str]) -> None:
    """Warn when the columns show TM layers where the lock-in found no crystal."""
    missed = float(np.mean(painted & ~crystal) / max(np.mean(painted), 1e-12))
    if missed > MISSED_FRACTION:
        notes.append(
            f"{missed:.0%} of the layered area that the atom columns show lies outside the "
            "crystal of the phase map (labelled vacuum / amorphous there): a grain turned by "
            "more than 20 deg from the main lattice frame is not mapped; check the label map"
        )


def slip_relabel(
    fit: Any, labels: np.ndarray, notes: list[str], columns: Any = None
) -> tuple[np.ndarray, dict]:
    """Layered / O1 labels from the slip-corrected column registry of bent layers (module doc).

    Parameters
    ----------
    fit : phase_map's intermediate record
        Reads ``img, px, phases, feat.rotation, stride``.
    labels : ndarray of uint8 (H, W)
        Template labels (``PHASE_CODES``).
    notes : list of str
        Warnings of the phase map so far; a doubtful O3 / O1 reading is appended.
    columns : DataFrame, optional
        ``find_columns`` table (else found here, only when the layers bend).

    Returns
    -------
    labels : ndarray of uint8 (H, W)
        Unchanged unless the layers bend and their stacking map could be made.
    info : dict
        ``checked`` (stacking map made), ``rotation_spread_deg``, ``applied`` and, when
        checked, the slip fit (``beta, theta0_deg, coherence_raw, coherence, doubtful``),
        ``relabelled`` (fraction of the layered / O1 area whose label changed).
    """
    target = np.isin(labels, (1, 2))
    info: dict = dict(checked=False, applied=False, rotation_spread_deg=0.0, relabelled=0.0)
    if notes or "O1" not in fit.phases or not target.any():
        return labels, info
    spread = _rotation_spread(fit, target)
    info["rotation_spread_deg"] = spread
    if spread < BEND_DEG:
        return labels, info
    try:
        st, msgs = _stacking(fit, columns)
    except StemstrainError as err:
        notes.append(
            f"the layers turn by {spread:.0f} deg, so slip of bent layers can make O3 look O1 "
            f"or the reverse, and the interlayer slip could not be measured ({err}): the "
            "'layered' / 'O1' labels are doubtful in the bent layers"
        )
        return labels, info
    info.update(checked=True, **st.params["slip"])
    _check_missed_lattice(st.label_map > 0, fit.crystal, notes)
    if msgs:
        notes.append(
            "the O3 / O1 ('layered' / 'O1') labels are doubtful in the bent layers: the "
            f"stacking of their columns says {msgs[0].removeprefix('image: ')}"
        )
    out = _relabel(labels, target, st.label_map)
    info["relabelled"] = float(np.mean(out[target] != labels[target]))
    return out, info
