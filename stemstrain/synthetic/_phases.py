"""HAADF images of multi-phase cathode particles with known phase labels, shells and voids.

Columns come from the ASE structure models of :func:`stemstrain.phases.phase_templates`
(projected along a zone of family "A" or "B", all in one layer frame: the topotactic
relation layered (003) || spinel (111) || rock-salt (111), one shared origin), rendered
as Gaussians with weight ``sum(Z**1.7)`` per nm, then Poisson noise at ``dose`` counts
per LiCoO2 Co column peak.

* :func:`cathode_particle` - an elliptical particle: layered core, a spinel shell and a
  rock-salt surface layer of given thicknesses (measured along the inward surface
  normal), optional voids (thickness holes) and an O1 band.
* :func:`lrmo_domains` - a Li-rich layered matrix with Li2MnO3-type (C2/m) domains
  (family "B" zone, where C2/m shows its two-bright-one-dark motif).

Voids are spherical holes of diameter ``D`` in a specimen of thickness ``thickness_nm``:
every column's intensity is scaled by ``1 - 2 sqrt(R^2 - r^2) / thickness_nm``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..phases import PHASE_CODES, phase_templates  # the label convention and ASE models
from ._lattice import render_columns

__all__ = ["PhaseSynthetic", "cathode_particle", "lrmo_domains", "PHASE_CODES"]


@dataclass(frozen=True)
class PhaseSynthetic:
    """A synthetic multi-phase image and its truth.

    Attributes
    ----------
    image : ndarray (H, W)
        Counts.
    pixel_size : float
        nm per pixel.
    label_truth : ndarray of uint8 (H, W)
        Phase code per pixel (``PHASE_CODES``), 0 = vacuum.
    depth_nm : ndarray (H, W)
        Distance from the particle surface inward (nm), 0 outside.
    voids : DataFrame
        ``x, y`` (px), ``diameter_nm`` per void.
    shells : dict
        Phase -> true thickness (nm) of the surface layers.
    angle_deg : float
        Layer direction (degrees, x towards y).
    params : dict
        Generator parameters.
    """

    image: np.ndarray
    pixel_size: float
    label_truth: np.ndarray
    depth_nm: np.ndarray
    voids: pd.DataFrame
    shells: dict
    angle_deg: float
    params: dict


def _frame(angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    a = np.deg2rad(angle_deg)
    return np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])


def _phase_columns(
    phase: str, family: str, angle_deg: float, shape, pixel_size: float, variant: int = 0
):
    """Columns of one phase tiled over the whole image: x, y (px), weight."""
    cell = phase_templates(phase, family)[variant % len(phase_templates(phase, family))]
    h, w = shape
    half = 0.5 * np.hypot(h, w) * pixel_size + 1.0
    tt, nn, ww = cell.tile((-half, half), (-half, half))
    t, n = _frame(angle_deg)
    x = (tt * t[0] + nn * n[0]) / pixel_size + (w - 1) / 2
    y = (tt * t[1] + nn * n[1]) / pixel_size + (h - 1) / 2
    return x, y, ww


def _ellipse_depth(xx_nm, yy_nm, a_nm: float, b_nm: float) -> np.ndarray:
    """Approximate signed distance inside an axis-aligned ellipse (nm, > 0 inside)."""
    # distance along the radial direction, scaled by the local normal: accurate for a ~ b
    r = np.hypot(xx_nm / a_nm, yy_nm / b_nm)
    grad = np.hypot(xx_nm / a_nm**2, yy_nm / b_nm**2)
    # r / |grad r| -> min(a, b) at the centre (limit along the short axis)
    scale = np.where(r > 1e-9, r / np.maximum(grad, 1e-300), min(a_nm, b_nm))
    return (1 - r) * scale


def _render(columns, shape, pixel_size, *, sigma_nm, dose, background, seed, dtype):
    x, y, wgt = columns
    ideal = render_columns(x, y, wgt, sigma_nm / pixel_size, shape) + background
    if dose is None:
        return ideal.astype(dtype)
    return np.random.default_rng(seed).poisson(ideal * dose).astype(dtype)


def _void_factor(x_px, y_px, voids: pd.DataFrame, pixel_size: float, thickness_nm: float):
    f = np.ones_like(x_px, dtype=float)
    for vx, vy, d in zip(voids.x, voids.y, voids.diameter_nm, strict=True):
        r2 = ((x_px - vx) ** 2 + (y_px - vy) ** 2) * pixel_size**2
        chord = 2 * np.sqrt(np.clip((d / 2) ** 2 - r2, 0, None))
        f *= np.clip(1 - chord / thickness_nm, 0, None)
    return f


def cathode_particle(  # noqa: PLR0913
    shape: tuple[int, int] = (512, 512),
    *,
    pixel_size: float = 0.02,
    angle_deg: float = 20.0,
    semi_axes_nm: tuple[float, float] | None = None,
    spinel_nm: float = 1.0,
    rock_salt_nm: float = 1.5,
    voids: list[tuple[float, float, float]] | None = None,
    thickness_nm: float = 15.0,
    family: str = "A",
    sigma_nm: float = 0.045,
    dose: float | None = 200.0,
    background: float = 0.05,
    seed: int = 0,
    dtype: Any = np.float32,
) -> PhaseSynthetic:
    """Simulate a HAADF image of a cathode particle: layered core, spinel shell, rock-salt skin.

    Parameters
    ----------
    shape : (int, int)
        Image shape.
    pixel_size : float
        nm per pixel.
    angle_deg : float
        Layer direction in the image (degrees).
    semi_axes_nm : (float, float), optional
        Semi-axes (x, y) of the elliptical particle, nm; default 0.42 and 0.38 of the
        field of view.
    spinel_nm, rock_salt_nm : float
        Thickness (nm, along the inward normal) of the spinel shell under the rock-salt
        surface layer and of the rock-salt layer itself.
    voids : list of (x_px, y_px, diameter_nm), optional
        Spherical voids (thickness holes).
    thickness_nm : float
        Specimen thickness used for the void contrast.
    family : str
        Zone family "A" or "B" (see :func:`stemstrain.phases.phase_templates`).
    sigma_nm, dose, background, seed, dtype
        Column width (nm), counts per Co column peak (None: no noise), constant
        background (relative), noise seed, output dtype.

    Returns
    -------
    PhaseSynthetic
        Image and truth (``label_truth``, ``depth_nm``, ``voids``, ``shells``).
    """
    h, w = shape
    if semi_axes_nm is None:
        semi_axes_nm = (0.42 * w * pixel_size, 0.38 * h * pixel_size)
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = (w - 1) / 2, (h - 1) / 2
    depth = _ellipse_depth((xx - cx) * pixel_size, (yy - cy) * pixel_size, *semi_axes_nm)
    truth = np.zeros(shape, np.uint8)
    inside = depth > 0
    truth[inside] = PHASE_CODES["layered"]
    truth[inside & (depth < rock_salt_nm + spinel_nm)] = PHASE_CODES["spinel"]
    truth[inside & (depth < rock_salt_nm)] = PHASE_CODES["rock_salt"]
    void_table = pd.DataFrame(voids or [], columns=["x", "y", "diameter_nm"], dtype=float)
    xs, ys, ws = [], [], []
    for phase in ("layered", "spinel", "rock_salt"):
        x, y, wgt = _phase_columns(phase, family, angle_deg, shape, pixel_size)
        d = _ellipse_depth((x - cx) * pixel_size, (y - cy) * pixel_size, *semi_axes_nm)
        lo, hi = {
            "rock_salt": (0, rock_salt_nm),
            "spinel": (rock_salt_nm, rock_salt_nm + spinel_nm),
            "layered": (rock_salt_nm + spinel_nm, np.inf),
        }[phase]
        keep = (d > lo) & (d <= hi)
        xs.append(x[keep])
        ys.append(y[keep])
        ws.append(wgt[keep])
    x, y, wgt = np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)
    wgt = wgt * _void_factor(x, y, void_table, pixel_size, thickness_nm)
    image = _render(
        (x, y, wgt),
        shape,
        pixel_size,
        sigma_nm=sigma_nm,
        dose=dose,
        background=background,
        seed=seed,
        dtype=dtype,
    )
    params = dict(
        shape=shape,
        pixel_size=pixel_size,
        angle_deg=angle_deg,
        semi_axes_nm=semi_axes_nm,
        spinel_nm=spinel_nm,
        rock_salt_nm=rock_salt_nm,
        thickness_nm=thickness_nm,
        family=family,
        sigma_nm=sigma_nm,
        dose=dose,
        background=background,
        seed=seed,
    )
    return PhaseSynthetic(
        image=image,
        pixel_size=pixel_size,
        label_truth=truth,
        depth_nm=np.where(inside, depth, 0.0),
        voids=void_table,
        shells={"spinel": spinel_nm, "rock_salt": rock_salt_nm},
        angle_deg=angle_deg,
        params=params,
    )


def lrmo_domains(
    shape: tuple[int, int] = (512, 512),
    *,
    pixel_size: float = 0.02,
    angle_deg: float = 10.0,
    n_domains: int = 4,
    domain_nm: tuple[float, float] = (2.5, 4.0),
    sigma_nm: float = 0.04,
    dose: float | None = 200.0,
    background: float = 0.05,
    seed: int = 0,
    dtype: Any = np.float32,
) -> PhaseSynthetic:
    """Simulate a Li-rich layered oxide with Li2MnO3-type (C2/m) domains (zone family "B").

    Parameters
    ----------
    shape : (int, int)
        Image shape.
    pixel_size : float
        nm per pixel.
    angle_deg : float
        Layer direction (degrees).
    n_domains : int
        Number of elliptical C2/m domains (random, non-overlapping centres).
    domain_nm : (float, float)
        Range of the domain semi-axes, nm.
    sigma_nm, dose, background, seed, dtype
        As :func:`cathode_particle`.

    Returns
    -------
    PhaseSynthetic
        Image and truth; ``label_truth`` is 1 (layered) or 5 (C2/m) everywhere.
    """
    h, w = shape
    rng = np.random.default_rng(seed + 1)
    yy, xx = np.mgrid[0:h, 0:w]

    def domain_mask(px, py, specs):
        m = np.zeros(np.shape(px), bool)
        for x0, y0, ax, ay in specs:
            m |= ((px - x0) / ax) ** 2 + ((py - y0) / ay) ** 2 < 1
        return m

    specs = []
    for _ in range(200):
        if len(specs) == n_domains:
            break
        ax, ay = rng.uniform(*domain_nm, size=2) / pixel_size
        x0, y0 = rng.uniform(ax, w - ax), rng.uniform(ay, h - ay)
        if all(
            np.hypot(x0 - s[0], y0 - s[1]) > (max(ax, ay) + max(s[2], s[3])) * 1.1 for s in specs
        ):
            specs.append((x0, y0, ax, ay))
    truth = np.where(
        domain_mask(xx, yy, specs), PHASE_CODES["C2/m"], PHASE_CODES["layered"]
    ).astype(np.uint8)
    x1, y1, w1 = _phase_columns("layered", "B", angle_deg, shape, pixel_size)
    keep1 = ~domain_mask(x1, y1, specs)
    x2, y2, w2 = _phase_columns("C2/m", "B", angle_deg, shape, pixel_size)
    keep2 = domain_mask(x2, y2, specs)
    cols = (np.r_[x1[keep1], x2[keep2]], np.r_[y1[keep1], y2[keep2]], np.r_[w1[keep1], w2[keep2]])
    image = _render(
        cols,
        shape,
        pixel_size,
        sigma_nm=sigma_nm,
        dose=dose,
        background=background,
        seed=seed,
        dtype=dtype,
    )
    params = dict(
        shape=shape,
        pixel_size=pixel_size,
        angle_deg=angle_deg,
        domains=specs,
        sigma_nm=sigma_nm,
        dose=dose,
        seed=seed,
    )
    return PhaseSynthetic(
        image=image,
        pixel_size=pixel_size,
        label_truth=truth,
        depth_nm=np.zeros(shape),
        voids=pd.DataFrame(columns=["x", "y", "diameter_nm"], dtype=float),
        shells={},
        angle_deg=angle_deg,
        params=params,
    )
