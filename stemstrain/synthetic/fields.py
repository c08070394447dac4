"""Analytic displacement fields for synthetic lattices.

A field is a callable ``u(x, y) -> (ux, uy)`` taking image-frame coordinates in nm
(x right, y down, measured from the image centre, *reference* positions) and returning
the displacement in nm. Fields add with :func:`combine`. :func:`gradient` gives the
displacement gradient by central differences of the analytic field (exact to ~1e-9).

Layer-frame helpers take the lattice angle ``angle_deg`` of :func:`layered_oxide`:
the in-plane (layer) direction is ``t = (cos a, sin a)`` and the layer normal
``n = (-sin a, cos a)`` in (x, y) image coordinates (so ``n_y > 0``, and
``t = (n_y, -n_x)``: the canonical layer frame of stemstrain).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Field = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

__all__ = [
    "layer_frame",
    "uniform",
    "strain_step",
    "ripple",
    "ripple_curvature",
    "ripple_amplitude",
    "edge_dislocation",
    "combine",
    "gradient",
    "strain_from_gradient",
]


def layer_frame(angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the unit vectors (t, n) of the layer frame in image (x, y) coordinates."""
    a = np.deg2rad(angle_deg)
    return np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])


def uniform(exx: float = 0.0, eyy: float = 0.0, exy: float = 0.0, rotation: float = 0.0) -> Field:
    """Homogeneous field with the given small strain and rotation (API.md signs).

    ``du_x/dx = exx``, ``du_y/dy = eyy``, ``du_x/dy = exy + rotation``,
    ``du_y/dx = exy - rotation``.
    """

    def u(x, y):
        return exx * x + (exy + rotation) * y, (exy - rotation) * x + eyy * y

    return u


def strain_step(
    e_tt: float,
    e_nn: float,
    *,
    angle_deg: float = 0.0,
    position_nm: float = 0.0,
    width_nm: float = 0.5,
    along: str = "t",
) -> Field:
    """Smooth step in layer-frame strain, from 0 to (e_tt, e_nn).

    The strain rises as ``S(w) = (1 + tanh((w - position)/width))/2`` where ``w`` is the
    coordinate along ``along`` ("t" or "n"). With ``along="t"`` the step runs across the
    layers' direction, so only e_tt needs a displacement that integrates S; e_nn is a
    displacement along n proportional to the n coordinate times S - which also makes a
    shear where S varies. Use :func:`gradient` for the exact truth everywhere.
    """
    t, n = layer_frame(angle_deg)

    def integral(w):  # integral of S from -inf, shifted (exact)
        z = (w - position_nm) / width_nm
        return (
            0.5 * (w - position_nm)
            + 0.5 * width_nm * np.logaddexp(z, -z)
            - 0.5 * width_nm * np.log(2)
        )

    def step(w):
        return 0.5 * (1 + np.tanh((w - position_nm) / width_nm))

    def u(x, y):
        ws = x * t[0] + y * t[1]
        wn = x * n[0] + y * n[1]
        if along == "t":
            us = e_tt * integral(ws)
            un = e_nn * wn * step(ws)
        else:
            us = e_tt * ws * step(wn)
            un = e_nn * integral(wn)
        return us * t[0] + un * n[0], us * t[1] + un * n[1]

    return u


def ripple(
    amplitude_nm: float,
    width_nm: float,
    *,
    angle_deg: float = 0.0,
    s0_nm: float = 0.0,
    n0_nm: float = 0.0,
    depth_nm: float | None = None,
) -> Field:
    """Localized bend: layers displaced along n by ``A g(n) exp(-(s - s0)^2 / (2 w^2))``.

    ``g(n) = exp(-(n - n0)^2 / (2 depth^2))`` confines the bend to the layers near
    ``n0`` (``depth_nm=None``: g = 1, every layer bends alike, so the curvature is
    largest along a whole line across the layers). Layer k, at reference normal
    coordinate n_k, becomes the curve ``n(s) = n_k + A_k e(s)`` with
    ``A_k = A g(n_k)``; its signed curvature is ``ripple_curvature(s, A_k, w, s0)``
    (positive where the layer is concave towards +n), largest at ``s = s0``:
    ``kappa = -A_k / w^2``. Coordinates s, n are measured from the image centre.
    """
    t, n = layer_frame(angle_deg)

    def u(x, y):
        s = x * t[0] + y * t[1]
        f = amplitude_nm * np.exp(-((s - s0_nm) ** 2) / (2 * width_nm**2))
        if depth_nm is not None:
            nn = x * n[0] + y * n[1]
            f = f * np.exp(-((nn - n0_nm) ** 2) / (2 * depth_nm**2))
        return f * n[0], f * n[1]

    return u


def ripple_amplitude(
    n_nm, amplitude_nm: float, *, n0_nm: float = 0.0, depth_nm: float | None = None
):
    """Amplitude ``A_k`` of :func:`ripple` for a layer at reference normal coordinate n (nm)."""
    n_nm = np.asarray(n_nm, dtype=float)
    if depth_nm is None:
        return amplitude_nm * np.ones_like(n_nm)
    return amplitude_nm * np.exp(-((n_nm - n0_nm) ** 2) / (2 * depth_nm**2))


def ripple_curvature(s_nm, amplitude_nm: float, width_nm: float, s0_nm: float = 0.0):
    """Exact signed curvature of a layer under :func:`ripple` at arc coordinate s (nm)."""
    z = (np.asarray(s_nm, dtype=float) - s0_nm) / width_nm
    f = amplitude_nm * np.exp(-(z**2) / 2)
    f1 = -f * z / width_nm
    f2 = f * (z**2 - 1) / width_nm**2
    return f2 / (1 + f1**2) ** 1.5


def edge_dislocation(
    core_xy_nm: tuple[float, float],
    burgers_s_n_nm: tuple[float, float],
    *,
    angle_deg: float = 0.0,
    poisson: float = 0.3,
) -> Field:
    """Isotropic-elasticity (Volterra) edge dislocation, line along the beam.

    ``burgers_s_n_nm`` is the Burgers vector in the layer frame (along t, along n), nm;
    it must be a lattice vector (e.g. one in-plane period (0.244, 0) or, for O3, the
    layer-terminating (a/3, d003)). The branch cut runs from the core towards -b.
    """
    t, n = layer_frame(angle_deg)
    b_vec = burgers_s_n_nm[0] * t + burgers_s_n_nm[1] * n
    b = float(np.hypot(*b_vec))
    e1 = b_vec / b  # glide direction along b
    e2 = np.array([-e1[1], e1[0]])
    nu = poisson

    def u(x, y):
        dx, dy = x - core_xy_nm[0], y - core_xy_nm[1]
        p = dx * e1[0] + dy * e1[1]
        q = dx * e2[0] + dy * e2[1]
        r2 = p * p + q * q + 1e-12
        theta = np.arctan2(q, p)
        up = b / (2 * np.pi) * (theta + p * q / (2 * (1 - nu) * r2))
        uq = (
            -b
            / (2 * np.pi)
            * ((1 - 2 * nu) / (4 * (1 - nu)) * np.log(r2) + (p * p - q * q) / (4 * (1 - nu) * r2))
        )
        return up * e1[0] + uq * e2[0], up * e1[1] + uq * e2[1]

    return u


def combine(*fields: Field) -> Field:
    """Sum of displacement fields."""

    def u(x, y):
        ux = np.zeros(np.broadcast(x, y).shape)
        uy = np.zeros_like(ux)
        for f in fields:
            a, b = f(x, y)
            ux = ux + a
            uy = uy + b
        return ux, uy

    return u


def gradient(field: Field, x, y, h: float = 1e-4) -> np.ndarray:
    """Displacement gradient ``[[dux/dx, dux/dy], [duy/dx, duy/dy]]`` (shape (2, 2, ...)).

    Central differences of the analytic field with respect to reference positions
    (Lagrangian), accurate to ~h^2 times the third derivative.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    uxp, uyp = field(x + h, y)
    uxm, uym = field(x - h, y)
    vxp, vyp = field(x, y + h)
    vxm, vym = field(x, y - h)
    return np.array(
        [
            [(uxp - uxm) / (2 * h), (vxp - vxm) / (2 * h)],
            [(uyp - uym) / (2 * h), (vyp - vym) / (2 * h)],
        ]
    )


def strain_from_gradient(grad: np.ndarray, angle_deg: float | None = None) -> dict:
    """Small-strain components (API.md) from a displacement gradient.

    Returns exx, eyy, exy, rotation, dilatation and, with ``angle_deg``, the layer
    frame e_tt, e_nn, e_nt (t, n from :func:`layer_frame`).
    """
    exx = grad[0, 0]
    eyy = grad[1, 1]
    exy = 0.5 * (grad[0, 1] + grad[1, 0])
    out = {
        "exx": exx,
        "eyy": eyy,
        "exy": exy,
        "rotation": 0.5 * (grad[0, 1] - grad[1, 0]),
        "dilatation": exx + eyy,
    }
    if angle_deg is not None:
        t, n = layer_frame(angle_deg)
        out["e_tt"] = t[0] * t[0] * exx + 2 * t[0] * t[1] * exy + t[1] * t[1] * eyy
        out["e_nn"] = n[0] * n[0] * exx + 2 * n[0] * n[1] * exy + n[1] * n[1] * eyy
        out["e_nt"] = t[0] * n[0] * exx + (t[0] * n[1] + t[1] * n[0]) * exy + t[1] * n[1] * eyy
    return out
