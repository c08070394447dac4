"""Strain conventions, written once (API.md): used by GPA, 4D-STEM and the series results.

Every function here is elementwise over arrays of any shape and any array module
(NumPy or CuPy): the components are passed as separate arrays, never stacked, so the
working precision (float32 stays float32) and the device are kept.

Conventions
-----------
* Image frame: ``x`` = column (to the right), ``y`` = row (downwards).
* Displacement gradient ``L[a][b] = du_a/dx_b`` with respect to reference positions
  (Lagrangian). GPA measures the deformed-frame distortion ``D_E``; convert it with
  :func:`lagrangian_from_eulerian`, ``D_L = D_E (I - D_E)^-1``.
* Small strain (``finite=False``): ``exx = L00``, ``eyy = L11``, ``exy = (L01 + L10)/2``,
  ``rotation = (L01 - L10)/2`` (radians, positive = counter-clockwise as displayed with
  y down), ``dilatation = exx + eyy``.
* Finite rotations (``finite=True``, the default): the rotation is first removed by the
  polar decomposition ``F = I + L = R U``; ``rotation`` is the angle of ``R`` (same sign),
  ``exx, eyy, exy`` are the components of the Biot strain ``U - I``. Identical to the
  small-strain values to first order (and exactly when ``L`` is symmetric), but a
  lattice rotated by 20 deg reads rotation = 0.349 and zero strain instead of
  rotation = sin 20 deg and exx = cos 20 deg - 1 = -0.06.
* Layer frame: ``n`` = unit vector along the (003) g with ``n_y > 0`` (``n_x > 0`` when
  ``n_y = 0``), ``t = (n_y, -n_x)``; ``e_nn = n.E.n``, ``e_tt = t.E.t``, ``e_nt = t.E.n``.
* Principal strains ``e1 >= e2`` of the symmetric tensor; ``principal_angle`` is the
  angle (radians, in (-pi/2, pi/2]) of the ``e1`` axis from ``+x``, counter-clockwise as
  displayed (the axis direction in (x, y) image coordinates is ``(cos a, -sin a)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "STRAIN_COMPONENTS",
    "layer_normal",
    "layer_tangent",
    "lagrangian_from_eulerian",
    "polar_decomposition",
    "strain_from_gradient",
    "to_layer_frame",
    "principal_strain",
    "StrainMaps",
    "StrainFields",
]

#: the eight strain maps of every strain result (GPA, 4D-STEM, series), in this order
STRAIN_COMPONENTS = ("exx", "eyy", "exy", "rotation", "dilatation", "e_nn", "e_tt", "e_nt")


def layer_normal(g: Any) -> np.ndarray:
    """Return the unit layer normal along ``g`` with the canonical sign.

    Parameters
    ----------
    g : array-like (2,)
        The (003) g-vector (gx, gy), any units.

    Returns
    -------
    ndarray (2,)
        ``n`` with ``n_y > 0``, or ``n_x > 0`` when ``n_y == 0``.

    Raises
    ------
    ValueError
        If ``g`` is not a finite non-zero 2-vector.
    """
    v = np.asarray(g, dtype=np.float64).reshape(-1)
    norm = float(np.hypot(*v)) if v.size == 2 else 0.0
    if v.size != 2 or not math.isfinite(norm) or norm == 0.0:
        raise ValueError(f"normal/g must be a finite non-zero (x, y) vector, got {g!r}")
    n = v / norm
    if n[1] < 0 or (n[1] == 0 and n[0] < 0):
        n = -n
    return n


def layer_tangent(normal: Any) -> np.ndarray:
    """Layer tangent ``t = (n_y, -n_x)`` of a (canonical) unit normal."""
    n = layer_normal(normal)
    return np.array([n[1], -n[0]])


def lagrangian_from_eulerian(d00: Any, d01: Any, d10: Any, d11: Any) -> tuple:
    """Lagrangian displacement gradient ``D_L = D_E (I - D_E)^-1`` from the Eulerian one.

    Parameters
    ----------
    d00, d01, d10, d11 : array-like
        ``D_E[a][b] = du_a/dx_b`` with respect to deformed positions.

    Returns
    -------
    tuple of arrays
        ``(l00, l01, l10, l11)``; NaN/inf where ``I - D_E`` is singular.
    """
    det = (1 - d00) * (1 - d11) - d01 * d10
    inv = 1 / det
    return (
        (d00 * (1 - d11) + d01 * d10) * inv,
        d01 * inv,
        d10 * inv,
        (d11 * (1 - d00) + d01 * d10) * inv,
    )


def polar_decomposition(l00: Any, l01: Any, l10: Any, l11: Any) -> tuple:
    """Rotation angle and Biot strain of ``F = I + L`` (2-D polar decomposition ``F = R U``).

    Parameters
    ----------
    l00, l01, l10, l11 : array-like
        Displacement gradient ``L[a][b] = du_a/dx_b`` (image frame, y down).

    Returns
    -------
    tuple of arrays
        ``(rotation, exx, eyy, exy)``: the angle of ``R`` (radians, counter-clockwise as
        displayed, the sign of ``(L01 - L10)/2``) and ``U - I``.

    Notes
    -----
    In 2-D, ``R = [[c, s], [-s, c]]`` with ``(c, s) ~ (F00 + F11, F01 - F10)``, and
    ``U = R^T F`` is symmetric positive definite when ``det F > 0``.
    """
    xp = _array_module(l00)
    f00, f11 = 1 + l00, 1 + l11
    a, b = f00 + f11, l01 - l10
    rot = xp.arctan2(b, a)
    r = (a * a + b * b) ** 0.5
    c, s = a / r, b / r
    # U = R^T F with R^T = [[c, -s], [s, c]]
    u00 = c * f00 - s * l10
    u11 = s * l01 + c * f11
    u01 = c * l01 - s * f11
    return rot, u00 - 1, u11 - 1, u01


def to_layer_frame(exx: Any, eyy: Any, exy: Any, normal: Any) -> dict:
    """Strain in the layer frame ``(t, n)`` of ``normal`` (see the module conventions).

    Parameters
    ----------
    exx, eyy, exy : array-like
        Image-frame small-strain components.
    normal : array-like (2,)
        Layer normal (any length and sign; made canonical).

    Returns
    -------
    dict
        ``e_nn``, ``e_tt``, ``e_nt`` (same shape and dtype as the inputs).
    """
    n = layer_normal(normal)
    t = np.array([n[1], -n[0]])
    return {
        "e_nn": float(n[0] ** 2) * exx + float(2 * n[0] * n[1]) * exy + float(n[1] ** 2) * eyy,
        "e_tt": float(t[0] ** 2) * exx + float(2 * t[0] * t[1]) * exy + float(t[1] ** 2) * eyy,
        "e_nt": float(t[0] * n[0]) * (exx - eyy) + float(t[0] * n[1] + t[1] * n[0]) * exy,
    }


def strain_from_gradient(
    l00: Any,
    l01: Any,
    l10: Any,
    l11: Any,
    *,
    normal: Any = None,
    finite: bool = True,
) -> dict:
    """Strain components from a (Lagrangian) displacement gradient.

    Parameters
    ----------
    l00, l01, l10, l11 : array-like
        ``L[a][b] = du_a/dx_b`` (a, b = x, y).
    normal : array-like (2,), optional
        Layer normal; adds ``e_nn, e_tt, e_nt``.
    finite : bool
        Remove the rotation by polar decomposition first (default; see the module
        conventions). ``False``: the small-strain formulas.

    Returns
    -------
    dict
        ``exx, eyy, exy, rotation, dilatation`` (and the layer frame with ``normal``).
    """
    if finite:
        rot, exx, eyy, exy = polar_decomposition(l00, l01, l10, l11)
    else:
        exx, eyy = l00, l11
        exy = 0.5 * (l01 + l10)
        rot = 0.5 * (l01 - l10)
    out = {"exx": exx, "eyy": eyy, "exy": exy, "rotation": rot, "dilatation": exx + eyy}
    if normal is not None:
        out.update(to_layer_frame(exx, eyy, exy, normal))
    return out


def principal_strain(exx: Any, eyy: Any, exy: Any) -> dict:
    """Principal strains and axis of the symmetric 2-D strain tensor.

    Parameters
    ----------
    exx, eyy, exy : array-like
        Image-frame small-strain components.

    Returns
    -------
    dict
        ``e1 >= e2``, ``max_shear = (e1 - e2)/2`` and ``angle`` (radians, the ``e1``
        axis from +x, counter-clockwise as displayed; NaN where the tensor is isotropic).
    """
    centre = 0.5 * (exx + eyy)
    half = 0.5 * (exx - eyy)
    radius = (half * half + exy * exy) ** 0.5
    xp = _array_module(radius)
    # image frame angle (y down) is 0.5 atan2(2 exy, exx - eyy); as displayed it is minus that
    angle = -0.5 * xp.arctan2(exy, half)
    angle = angle + math.pi * (angle <= -0.5 * math.pi)  # axis: (-pi/2, pi/2]
    angle = (
        xp.where(radius > 0, angle, xp.nan)
        if hasattr(radius, "shape")
        else (angle if radius > 0 else math.nan)
    )
    return {"e1": centre + radius, "e2": centre - radius, "max_shear": radius, "angle": angle}


def _array_module(a: Any) -> Any:
    mod = type(a).__module__.split(".")[0]
    if mod == "cupy":  # pragma: no cover - needs a GPU
        import cupy

        return cupy
    return np


class StrainMaps:
    """Mixin of the strain results (GPA, 4D-STEM, series): derived views of the tensor.

    The host class (a frozen dataclass) has ``exx, eyy, exy`` (and ``rotation``) arrays
    in the image frame, Lagrangian, API.md signs. Nothing is stored; each call returns
    new arrays.
    """

    __slots__ = ()

    def strain_tensor(self) -> np.ndarray:
        """Symmetric strain tensor (2, 2, ...) in the image frame (x, y)."""
        return np.array([[self.exx, self.exy], [self.exy, self.eyy]])

    def in_frame(self, normal: Any) -> dict:
        """Strain in the frame of a layer normal ``normal`` (x, y).

        Parameters
        ----------
        normal : array-like (2,)
            Any non-zero vector along the layer normal (image frame).

        Returns
        -------
        dict
            ``e_nn``, ``e_tt``, ``e_nt`` maps (``t = (n_y, -n_x)``, ``n_y > 0``).
        """
        return to_layer_frame(
            np.asarray(self.exx), np.asarray(self.eyy), np.asarray(self.exy), normal
        )

    def principal(self) -> dict:
        """Principal strains ``e1 >= e2``, ``max_shear`` and the ``angle`` of the e1 axis.

        Returns
        -------
        dict
            Maps of :func:`principal_strain`.
        """
        return principal_strain(np.asarray(self.exx), np.asarray(self.eyy), np.asarray(self.exy))


@dataclass(frozen=True)
class StrainFields(StrainMaps):
    """The eight strain maps of :data:`STRAIN_COMPONENTS` as dataclass fields, first.

    Base of the strain result dataclasses (``@dataclass(frozen=True) class R(StrainFields,
    ResultBase)``): the maps are declared once, in this order, before the result's own
    fields; the derived views are those of :class:`StrainMaps`.
    """

    exx: np.ndarray
    eyy: np.ndarray
    exy: np.ndarray
    rotation: np.ndarray
    dilatation: np.ndarray
    e_nn: np.ndarray
    e_tt: np.ndarray
    e_nt: np.ndarray
