"""HAADF images of layered oxides with analytic ground truth.

Geometry (R-3m LiCoO2 seen along [100]_hex): TM layers are rows of bright columns
with in-plane projected period ``a_spacing`` (0.244 nm) stacked along the layer normal
every ``c_spacing`` (d003 = 0.468 nm). Across each Li layer (a *gap*) the upper TM
layer is shifted in-plane by +1/3 period (O3), -1/3 (O3 twin variant) or 0 (O1,
contracted spacing ``o1_spacing``). The octahedral Li-layer site of a gap sits midway
along the normal, in-plane at ``shift_below - delta`` (delta = the gap's shift), where
TM on Li sites (cation mixing, rock salt) shows as intensity. O columns are weak, at
+-0.103 nm from each TM layer, shifted by -+1/3 period.

Positions are computed, never pixel-shifted: reference positions in the layer frame
-> optional bend (every layer a circular arc about one centre, radius ``R - n_k``)
-> optional displacement field (``fields``) -> pixels. Columns are rendered as 2-D
Gaussians, then Poisson noise is drawn.

Frames: the layer direction is ``t = (cos a, sin a)`` and the normal ``n = (-sin a, cos a)``
in image (x right, y down) coordinates; ``(0, 0)`` nm is the image centre.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import fields as _fields

__all__ = ["SyntheticLattice", "layered_oxide", "render_columns"]

LABELS = {"unknown": 0, "O3": 1, "O1": 2, "other": 3}
_SHIFT = {"O3": 1.0 / 3.0, "O3t": -1.0 / 3.0, "O1": 0.0}
O_OFFSET_NM = 0.103


def render_columns(x_px, y_px, amplitude, sigma_px, shape, *, dtype=np.float64) -> np.ndarray:
    """Sum of isotropic 2-D Gaussians ``A exp(-r^2 / (2 sigma^2))`` on a pixel grid (vectorised)."""
    x_px = np.asarray(x_px, dtype=float)
    y_px = np.asarray(y_px, dtype=float)
    amplitude = np.broadcast_to(np.asarray(amplitude, dtype=float), x_px.shape)
    sigma = np.broadcast_to(np.asarray(sigma_px, dtype=float), x_px.shape)
    h, w = shape
    r = int(np.ceil(4 * float(np.max(sigma)))) if x_px.size else 1
    off = np.arange(-r, r + 1)
    out = np.zeros(h * w, dtype=float)
    # process in chunks to bound memory
    chunk = max(1, 2_000_000 // off.size**2)
    for i0 in range(0, x_px.size, chunk):
        xs, ys = x_px[i0 : i0 + chunk], y_px[i0 : i0 + chunk]
        a, s = amplitude[i0 : i0 + chunk], sigma[i0 : i0 + chunk]
        cx, cy = np.round(xs).astype(int), np.round(ys).astype(int)
        px = cx[:, None, None] + off[None, None, :]
        py = cy[:, None, None] + off[None, :, None]
        val = a[:, None, None] * np.exp(
            -((px - xs[:, None, None]) ** 2 + (py - ys[:, None, None]) ** 2)
            / (2 * s[:, None, None] ** 2)
        )
        ok = (px >= 0) & (px < w) & (py >= 0) & (py < h)
        idx = np.broadcast_to(py * w + px, ok.shape)[ok]
        out += np.bincount(idx, weights=val[ok], minlength=h * w)
    return out.reshape(h, w).astype(dtype, copy=False)


@dataclass(frozen=True)
class SyntheticLattice:
    """A synthetic layered-oxide image and its ground truth.

    Attributes
    ----------
    image : ndarray (H, W)
        Counts (Poisson noise if requested).
    pixel_size : float
        nm per pixel.
    columns : DataFrame
        Every site: ``x, y`` (px), ``species`` ("TM", "O", "Li"), ``layer`` (TM layer
        index; for Li sites the gap index = layer below), ``index`` (along the layer),
        ``amplitude``, ``occupancy`` (TM fraction on Li sites), ``inside`` (centre in image).
    gaps : DataFrame
        Per gap (between TM layer ``gap`` and ``gap+1``): ``label`` ("O3", "O3t", "O1"),
        ``shift`` (fraction of the period), ``spacing_nm``, ``curvature`` (1/nm of the layer
        below, 0 if flat).
    angle_deg : float
        Layer direction in the image, degrees (x towards y, i.e. clockwise as displayed).
    """

    image: np.ndarray
    pixel_size: float
    columns: pd.DataFrame
    gaps: pd.DataFrame
    angle_deg: float
    params: dict
    _mapping: Callable = field(repr=False)
    _inverse: Callable | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ helpers
    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape

    def tm_columns(self, inside: bool = True) -> pd.DataFrame:
        """TM columns (inside the image by default)."""
        c = self.columns
        sel = c["species"] == "TM"
        if inside:
            sel &= c["inside"]
        return c[sel].reset_index(drop=True)

    def pixel_to_nm(self, x_px, y_px):
        """Image-centred nm coordinates of pixel positions."""
        h, w = self.shape
        return (np.asarray(x_px) - (w - 1) / 2) * self.pixel_size, (
            np.asarray(y_px) - (h - 1) / 2
        ) * self.pixel_size

    def _reference_of(self, x_nm, y_nm, iterations: int = 12):
        """Invert the mapping by Newton iteration: reference point of a deformed point.

        Newton steps use the exact (central-difference) Jacobian of the mapping, so large
        rotations (a 40 degree bend) converge as fast as small ones.
        """
        x_nm, y_nm = np.asarray(x_nm, dtype=float), np.asarray(y_nm, dtype=float)
        if self._inverse is not None:
            return self._inverse(x_nm, y_nm)
        x0, y0 = x_nm.copy(), y_nm.copy()
        for _ in range(iterations):
            fx, fy = self._mapping(x0, y0)
            rx, ry = fx - x_nm, fy - y_nm
            if float(np.max(np.abs(rx) + np.abs(ry), initial=0)) < 1e-11:
                break
            j = _fields.gradient(self._mapping, x0, y0, h=1e-5)
            det = j[0, 0] * j[1, 1] - j[0, 1] * j[1, 0]
            x0 = x0 - (j[1, 1] * rx - j[0, 1] * ry) / det
            y0 = y0 - (-j[1, 0] * rx + j[0, 0] * ry) / det
        return x0, y0

    def strain_truth(self, step: int = 1) -> dict:
        """Exact strain maps on the pixel grid (every ``step`` px), API.md conventions.

        Lagrangian: derivatives of the displacement with respect to reference positions,
        evaluated at the reference point of each pixel. Includes image-frame
        ``exx, eyy, exy, rotation, dilatation`` and layer-frame ``e_tt, e_nn, e_nt``.
        """
        h, w = self.shape
        yy, xx = np.mgrid[0:h:step, 0:w:step].astype(float)
        xn, yn = self.pixel_to_nm(xx, yy)
        return _fields.strain_from_gradient(self._displacement_gradient(xn, yn), self.angle_deg)

    def gap_coordinate_map(self) -> np.ndarray:
        """Return the continuous TM-layer coordinate per pixel (layer k at k; NaN outside)."""
        from scipy.interpolate import LinearNDInterpolator

        tm = self.columns[self.columns["species"] == "TM"]
        h, w = self.shape
        pad = 6 * self.params["sigma_nm"] / self.pixel_size
        tm = tm[(tm.x > -pad) & (tm.x < w + pad) & (tm.y > -pad) & (tm.y < h + pad)]
        interp = LinearNDInterpolator(np.c_[tm.x, tm.y], tm.layer.to_numpy(float))
        yy, xx = np.mgrid[0:h, 0:w]
        return interp(xx, yy)

    def _displacement_gradient(self, x_nm, y_nm) -> np.ndarray:
        """Exact du/dX (2, 2, ...) at the reference points of deformed positions (nm)."""
        x0, y0 = self._reference_of(x_nm, y_nm)
        return _fields.gradient(
            lambda x, y: tuple(
                np.subtract(v, r) for v, r in zip(self._mapping(x, y), (x, y), strict=True)
            ),
            x0,
            y0,
        )

    def deformation_gradient(self, x_nm, y_nm) -> np.ndarray:
        """Exact F = I + du/dX (2, 2, ...) at the reference points of deformed positions (nm)."""
        return self._displacement_gradient(x_nm, y_nm) + np.eye(2)[:, :, None, None]

    def registry_map_truth(self) -> np.ndarray:
        """Local registry of the gap each pixel lies in, fraction of the in-plane period.

        The in-plane shift of layer k + 1 relative to layer k measured along the local
        layer direction, wrapped to [-1/2, 1/2): +1/3 O3, -1/3 O3 twin, 0 O1. Computed
        from the exact deformation gradient F at the pixel's reference point,
        ``delta_k + d_k (F n . T) / (a |F t|)`` (T the deformed layer direction), i.e.
        first order in the layer spacing; a slipping bend drifts by ``d_k theta / a``.
        NaN outside the layers.
        """
        coord = self.gap_coordinate_map()
        h, w = self.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(float)
        f = self.deformation_gradient(*self.pixel_to_nm(xx, yy))
        t, n = _fields.layer_frame(self.angle_deg)
        ft = np.einsum("ij...,j->i...", f, t)
        fn = np.einsum("ij...,j->i...", f, n)
        norm_ft = np.hypot(ft[0], ft[1])
        slip = (fn[0] * ft[0] + fn[1] * ft[1]) / norm_ft / (norm_ft * self.params["a_spacing"])
        ok = np.isfinite(coord)
        gap = np.floor(np.where(ok, coord, 0)).astype(int)
        table = self.gaps.set_index("gap")
        g = np.clip(gap, table.index.min(), table.index.max())
        full = np.arange(table.index.min(), table.index.max() + 1)
        delta = table["shift"].reindex(full).to_numpy()
        spacing = table["spacing_nm"].reindex(full).to_numpy()
        i = g - table.index.min()
        reg = delta[i] + spacing[i] * slip
        reg = np.mod(reg + 0.5, 1.0) - 0.5
        return np.where(ok, reg, np.nan)

    def label_map_truth(self) -> np.ndarray:
        """uint8 map of the stacking of the gap each pixel lies in: 1 O3 (either variant), 2 O1.

        Pixels of gap k are those whose layer coordinate lies in [k, k + 1).
        """
        coord = self.gap_coordinate_map()
        out = np.zeros(self.shape, dtype=np.uint8)
        ok = np.isfinite(coord)
        gap = np.floor(np.where(ok, coord, 0)).astype(int)
        lut = {
            int(g): (LABELS["O1"] if lab == "O1" else LABELS["O3"])
            for g, lab in zip(self.gaps.gap, self.gaps.label, strict=True)
        }
        codes = np.vectorize(lambda g: lut.get(int(g), 0), otypes=[np.uint8])(gap)
        out[ok] = codes[ok]
        return out


def _gap_labels(gaps: np.ndarray, o1_gaps, twin_gaps, stacking) -> list[str]:
    labels = []
    for g in gaps:
        if stacking is not None:
            lab = stacking(int(g))
        elif o1_gaps is not None and o1_gaps[0] <= g <= o1_gaps[1]:
            lab = "O1"
        elif twin_gaps is not None and twin_gaps[0] <= g <= twin_gaps[1]:
            lab = "O3t"
        else:
            lab = "O3"
        if lab not in _SHIFT:
            raise ValueError(f"stacking label must be one of {sorted(_SHIFT)}, got {lab!r}")
        labels.append(lab)
    return labels


def layered_oxide(  # noqa: PLR0913 - specimen knobs, all keyword-only
    shape: tuple[int, int] = (512, 512),
    *,
    pixel_size: float = 0.02,
    angle_deg: float = 0.0,
    c_spacing: float = 0.468,
    a_spacing: float = 0.244,
    o1_gaps: tuple[int, int] | None = None,
    o1_spacing: float = 0.445,
    twin_gaps: tuple[int, int] | None = None,
    stacking: Callable[[int], str] | None = None,
    bend_radius_nm: float | None = None,
    bend_mode: str = "neutral",
    displacement: Callable | None = None,
    li_occupancy: float | Callable = 0.0,
    vacuum: Callable | None = None,
    sigma_nm: float = 0.045,
    o_amplitude: float = 0.08,
    dose: float | None = 200.0,
    background: float = 0.05,
    seed: int = 0,
    dtype: Any = np.float32,
) -> SyntheticLattice:
    """Simulate a HAADF-STEM image of a layered oxide with known truth.

    Parameters
    ----------
    shape : (int, int)
        Image shape (rows, cols).
    pixel_size : float
        nm per pixel.
    angle_deg : float
        Angle of the layers to the image x axis, degrees, in (-90, 90).
    c_spacing, a_spacing : float
        (003) interlayer spacing and projected in-plane TM period, nm.
    o1_gaps, twin_gaps : (int, int), optional
        Inclusive ranges of gap indices that are O1 / O3 twin variant (gap k lies
        between TM layer k and k+1; layer 0 passes through the image centre).
    o1_spacing : float
        Interlayer spacing of O1 gaps, nm.
    stacking : callable, optional
        ``stacking(gap) -> "O3" | "O3t" | "O1"``; overrides the ranges.
    bend_radius_nm : float, optional
        Bend every layer into a circular arc; the centre of curvature lies at
        ``R * n`` from the image centre (R > 0: on the +n side, layers concave
        towards +n, curvature of layer k = 1 / (R - n_k) > 0).
    bend_mode : {"neutral", "slip"}
        ``"neutral"``: the whole crystal bends about its neutral plane (layer k at angle
        s / R, so its in-plane strain is -n_k / R, registry kept). ``"slip"``: every
        layer keeps its arc length (layer k at angle s / (R - n_k), no in-plane strain)
        and the layers slip over each other, so the registry of gap k drifts by
        ``spacing_k * theta / a_spacing`` periods at tilt ``theta`` (rad); see
        :meth:`SyntheticLattice.registry_map_truth`.
    displacement : callable, optional
        Field ``u(x, y) -> (ux, uy)`` in nm (see :mod:`stemstrain.synthetic.fields`),
        evaluated at the (bent) reference positions.
    li_occupancy : float or callable
        Fraction of a TM column on each Li-layer octahedral site, or ``f(x_nm, y_nm)``.
    vacuum : callable, optional
        ``f(x_nm, y_nm) -> bool`` (image-centred nm, final positions): columns of every
        species where it is True are dropped (vacuum outside a particle surface).
    sigma_nm, o_amplitude : float
        Column width (nm) and O column amplitude relative to TM (1).
    dose : float or None
        Counts at a TM column peak; None for a noise-free image.
    background : float
        Constant background relative to a TM peak.
    seed : int
        Seed of the noise.
    """
    if bend_mode not in ("neutral", "slip"):
        raise ValueError(f"bend_mode must be 'neutral' or 'slip', got {bend_mode!r}")
    h, w = shape
    t, n = _fields.layer_frame(angle_deg)
    half_diag = 0.5 * np.hypot(h, w) * pixel_size + 4 * c_spacing
    if bend_radius_nm is not None:
        half_diag *= 1.3
    stack = _layer_stack(
        half_diag, c_spacing, a_spacing, o1_spacing, (o1_gaps, twin_gaps, stacking)
    )
    cols = _reference_sites(stack, a_spacing, o_amplitude)
    gaps, labels, spacing, deltas, n_k = (
        stack[k] for k in ("gaps", "labels", "spacing", "deltas", "n_k")
    )
    curvature = np.zeros(len(gaps))
    if bend_radius_nm is not None:
        curvature = 1.0 / (float(bend_radius_nm) - n_k[:-1])
    mapping, inverse = _bend_maps(t, n, bend_radius_nm, bend_mode, displacement)
    if bend_radius_nm is not None and bend_mode == "slip":
        # layers beyond the centre of curvature, and arc points past half a turn, do not exist
        r_ref = (float(bend_radius_nm) - cols.n.to_numpy()) * np.sign(float(bend_radius_nm))
        keep = (r_ref > 0.5 * c_spacing) & (np.abs(cols.s.to_numpy()) < 0.9 * np.pi * np.abs(r_ref))
        cols = cols[keep].reset_index(drop=True)
    cols = _place_sites(cols, (t, n), mapping, shape, pixel_size, li_occupancy, vacuum, sigma_nm)
    sigma_px = sigma_nm / pixel_size
    drawn = cols[cols.amplitude > 0]
    ideal = render_columns(drawn.x, drawn.y, drawn.amplitude, sigma_px, shape) + background
    if dose is not None:
        rng = np.random.default_rng(seed)
        image = rng.poisson(ideal * dose).astype(dtype)
    else:
        image = ideal.astype(dtype)
    cols = cols[
        ["x", "y", "species", "layer", "index", "amplitude", "occupancy", "inside", "s", "n"]
    ]
    gap_table = pd.DataFrame(
        {
            "gap": gaps,
            "label": labels,
            "shift": deltas,
            "spacing_nm": spacing,
            "curvature": curvature,
        }
    )
    params = dict(
        shape=shape,
        pixel_size=pixel_size,
        angle_deg=angle_deg,
        c_spacing=c_spacing,
        a_spacing=a_spacing,
        o1_gaps=o1_gaps,
        o1_spacing=o1_spacing,
        twin_gaps=twin_gaps,
        bend_radius_nm=bend_radius_nm,
        bend_mode=bend_mode,
        sigma_nm=sigma_nm,
        o_amplitude=o_amplitude,
        dose=dose,
        background=background,
        seed=seed,
    )
    return SyntheticLattice(
        image=image,
        pixel_size=pixel_size,
        columns=cols,
        gaps=gap_table,
        angle_deg=angle_deg,
        params=params,
        _mapping=mapping,
        _inverse=inverse if (bend_radius_nm is not None and displacement is None) else None,
    )


def _layer_stack(half_diag, c_spacing, a_spacing, o1_spacing, stacking_rule) -> dict:
    """Layer indices, gap labels/spacings/shifts, layer normal coordinates and shifts.

    Layer 0 passes through the image centre (n = 0, no shift); ``stacking_rule`` is
    ``(o1_gaps, twin_gaps, stacking)`` of :func:`layered_oxide`.
    """
    k_max = int(np.ceil(half_diag / min(c_spacing, o1_spacing))) + 1
    layers = np.arange(-k_max, k_max + 1)
    gaps = layers[:-1]
    labels = _gap_labels(gaps, *stacking_rule)
    spacing = np.array([o1_spacing if lab == "O1" else c_spacing for lab in labels])
    deltas = np.array([_SHIFT[lab] for lab in labels])
    # normal coordinate and in-plane shift (fraction) of each layer, layer 0 at n = 0
    i0 = int(np.where(layers == 0)[0][0])
    n_k = np.concatenate([[0.0], np.cumsum(spacing)])
    n_k -= n_k[i0]
    shift_k = np.concatenate([[0.0], np.cumsum(deltas)])
    shift_k -= shift_k[i0]
    half_j = int(np.ceil(half_diag / a_spacing))
    j = np.arange(-half_j - 2, half_j + 3)
    return dict(layers=layers, gaps=gaps, labels=labels, spacing=spacing, deltas=deltas,
                n_k=n_k, shift_k=shift_k, j=j)  # fmt: skip


def _reference_sites(stack: dict, a_spacing: float, o_amplitude: float) -> pd.DataFrame:
    """Every TM, O and Li site in the flat reference frame: ``s`` along, ``n`` across (nm)."""
    layers, gaps, n_k, shift_k, deltas, j = (
        stack[k] for k in ("layers", "gaps", "n_k", "shift_k", "deltas", "j")
    )
    rows = []

    def site(s, nn, species, k, amplitude):
        return pd.DataFrame(
            {"s": s, "n": nn, "species": species, "layer": k, "index": j, "amplitude": amplitude}
        )

    for li, k in enumerate(layers):
        rows.append(site((j + shift_k[li]) * a_spacing, n_k[li], "TM", k, 1.0))
        if o_amplitude > 0:
            for sign in (+1, -1):
                s_o = (j + shift_k[li] - sign / 3.0) * a_spacing
                rows.append(site(s_o, n_k[li] + sign * O_OFFSET_NM, "O", k, o_amplitude))
        if li < len(gaps):
            s_li = (j + shift_k[li] - deltas[li]) * a_spacing
            rows.append(site(s_li, 0.5 * (n_k[li] + n_k[li + 1]), "Li", k, 0.0))
    return pd.concat(rows, ignore_index=True)


def _bend_maps(t, n, bend_radius_nm, bend_mode, displacement):
    """Return ``(mapping, inverse)``: reference nm to image-centred nm (bend, then displace).

    ``inverse`` is the exact inverse of the pure bend (used only without a displacement).
    """

    def bend(x, y):
        if bend_radius_nm is None:
            return x, y
        s = x * t[0] + y * t[1]
        nn = x * n[0] + y * n[1]
        R_ = float(bend_radius_nm)
        theta = s / R_ if bend_mode == "neutral" else s / (R_ - nn)
        sb = (R_ - nn) * np.sin(theta)
        nb = R_ - (R_ - nn) * np.cos(theta)
        return sb * t[0] + nb * n[0], sb * t[1] + nb * n[1]

    def mapping(x, y):
        bx, by = bend(x, y)
        if displacement is None:
            return bx, by
        ux, uy = displacement(bx, by)
        return bx + ux, by + uy

    def inverse(x, y):  # exact inverse of a pure bend
        sb = x * t[0] + y * t[1]
        nb = x * n[0] + y * n[1]
        R_ = float(bend_radius_nm)
        rr = np.sign(R_) * np.hypot(sb, R_ - nb)
        theta = np.arctan2(sb / rr, (R_ - nb) / rr)
        nn = R_ - rr
        s = theta * (R_ if bend_mode == "neutral" else rr)
        return s * t[0] + nn * n[0], s * t[1] + nn * n[1]

    return mapping, inverse


def _place_sites(cols, frame, mapping, shape, pixel_size, li_occupancy, vacuum, sigma_nm):
    """Map the reference sites into the image (px), fill the Li sites, drop vacuum / far sites."""
    h, w = shape
    t, n = frame
    s_ref, n_ref = cols.s.to_numpy(), cols.n.to_numpy()
    x_nm, y_nm = mapping(s_ref * t[0] + n_ref * n[0], s_ref * t[1] + n_ref * n[1])
    cols["x"] = x_nm / pixel_size + (w - 1) / 2
    cols["y"] = y_nm / pixel_size + (h - 1) / 2
    if callable(li_occupancy):
        occ = np.asarray(li_occupancy(x_nm, y_nm), dtype=float) * np.ones(len(cols))
    else:
        occ = np.full(len(cols), float(li_occupancy))
    is_li = (cols.species == "Li").to_numpy()
    occ = np.where(is_li, occ, 0.0)
    cols["occupancy"] = occ
    cols.loc[is_li, "amplitude"] = occ[is_li]
    if vacuum is not None:
        gone = np.broadcast_to(np.asarray(vacuum(x_nm, y_nm), dtype=bool), (len(cols),))
        cols = cols[~gone].reset_index(drop=True)
    margin = 4 * sigma_nm / pixel_size
    near = (
        (cols.x > -margin)
        & (cols.x < w - 1 + margin)
        & (cols.y > -margin)
        & (cols.y < h - 1 + margin)
    )
    cols = cols[near].reset_index(drop=True)
    cols["inside"] = (cols.x >= 0) & (cols.x <= w - 1) & (cols.y >= 0) & (cols.y <= h - 1)
    return cols
