"""Realistic synthetic micrographs with exact ground truth (issue 14, item 6).

One entry point, :func:`realistic` (``case`` by name), and one function per case. Every
case returns a frozen :class:`RealisticImage`: the image, the column truth (positions
computed from analytic geometry, never pixel shifts) and truth maps on the pixel grid.

Cases (``CASES``), defaults for a 20-nm field (1024 px at 0.02 nm):

``bend_r15``, ``bend_r30``
    Layers bent to R = 15 / 30 nm at the image centre; every layer keeps its arc length
    (layers slip over each other), so there is no in-plane strain, the layers turn by
    up to +-40 deg (R = 15) and the registry of each gap drifts by ``d theta / a``.
``ripple``
    Two Gaussian ripples of opposite sign, every layer displaced along the normal;
    the largest layer tilt is +-10 deg.
``kink``
    A 20 deg kink band: the layers turn by 20 deg along a circular arc 1.5 nm long,
    the band boundaries bisect the turn (spacing kept), both sides perfect O3.
``surface``
    A particle surface: crystal, a 1.2-nm rock-salt surface band (TM on the Li sites),
    amorphous carbon on part of the vacuum, bare vacuum.
``drift``
    A strain step (e_tt = 1 %) imaged with slow-scan drift and row jitter, applied to
    the scan coordinates (the beam position of each pixel), not to the image.
``low_dose``
    A thickness gradient (0.5x to 1.5x across the field) at about 40 counts per
    column.
``grains``
    Two grains whose layers are 35 deg apart, a curved boundary.
``o1_bend``
    An O1 band (4 gaps) inside an R = 25 nm slipping bend.
``jpeg``
    A gently rippled O3 crystal saved as 8-bit JPEG (quality 75) in memory and read back.

Truth maps (``RealisticImage.truth``; NaN / False where undefined): ``crystal`` (bool),
``grain`` (int, 0 none), ``layer_angle_deg`` (local layer direction, the ``angle_deg``
convention of :func:`layered_oxide`), ``rotation`` (rad, of the layers relative to the
case's reference direction, positive counter-clockwise as displayed, API.md),
``curvature`` (1/nm of the layer through the pixel, positive when concave towards +n),
``e_tt, e_nn, e_nt`` (layer-frame distortion after removing the local layer rotation),
``labels`` (stacking: 1 O3, 2 O1, 3 other, 0 none) and ``registry`` (shift of the upper
layer of the gap, fraction of the period) where defined, plus case masks (``vacuum``,
``carbon``, ``rocksalt``, ``band`` ...).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import fields as _fields
from ._lattice import LABELS, O_OFFSET_NM, SyntheticLattice, layered_oxide, render_columns

__all__ = ["CASES", "RealisticImage", "column_crb", "realistic", "score_columns"]

CASES = ("bend_r15", "bend_r30", "ripple", "kink", "surface", "drift", "low_dose", "grains",
         "o1_bend", "jpeg")
_A = 0.244
_D = 0.468
_SIGMA = 0.045


@dataclass(frozen=True)
class RealisticImage:
    """A realistic synthetic image and its exact truth.

    Attributes
    ----------
    case : str
        Case name (one of ``CASES``).
    image : ndarray (H, W)
        Counts (float32), Poisson noise included.
    pixel_size : float
        nm per pixel.
    columns : DataFrame
        Every site: ``x, y`` (px, where the column appears in the image), ``species``
        ("TM", "O", "Li"), ``layer``, ``index``, ``amplitude`` (relative to a TM column
        of unit thickness), ``grain``, ``inside``, ``detectable`` (a bright column a
        detector of TM columns must find: TM, or a Li site at least half filled).
    truth : dict of str to ndarray
        Truth maps on the pixel grid (see the module docstring).
    params : dict
        Geometry of the case (nm, deg), dose, seed.
    lattice : SyntheticLattice or None
        The underlying generator record when the case is one deformed lattice (its
        ``strain_truth`` gives the full Lagrangian gradient).
    expected : ndarray (H, W) or None
        Expected counts per pixel (the noise-free image times the dose, before JPEG),
        for Cramer-Rao bounds; None for a noise-free case.
    """

    case: str
    image: np.ndarray
    pixel_size: float
    columns: pd.DataFrame
    truth: dict = field(repr=False)
    params: dict = field(default_factory=dict)
    lattice: SyntheticLattice | None = field(default=None, repr=False)
    expected: np.ndarray | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape (rows, cols)."""
        return self.image.shape

    def detectable_columns(self, *, margin_px: float = 0.0) -> pd.DataFrame:
        """Columns a TM-column finder must find, at least ``margin_px`` inside the image."""
        c = self.columns
        h, w = self.shape
        sel = (c.detectable & (c.x >= margin_px) & (c.x <= w - 1 - margin_px)
               & (c.y >= margin_px) & (c.y <= h - 1 - margin_px))
        return c[sel].reset_index(drop=True)


# ----------------------------------------------------------------------------- helpers
def _poisson(ideal: np.ndarray, dose: float | None, seed: int):
    """Return (image, expected counts or None)."""
    if dose is None:
        return ideal.astype(np.float32), None
    rng = np.random.default_rng(seed)
    expected = np.clip(ideal, 0, None) * dose
    return rng.poisson(expected).astype(np.float32), expected.astype(np.float32)


def _noisy_lattice(shape, dose, seed, **kw):
    """Return a layered_oxide lattice with Poisson noise drawn here (expectation kept)."""
    lat = layered_oxide(shape, dose=None, dtype=np.float64, seed=seed, **kw)
    image, expected = _poisson(lat.image, dose, seed)
    return _replace_image(lat, image), expected


def _detectable(cols: pd.DataFrame) -> np.ndarray:
    sp = cols.species.to_numpy()
    return ((sp == "TM") & (cols.amplitude.to_numpy() >= 0.3)) | (
        (sp == "Li") & (cols.amplitude.to_numpy() >= 0.5))


def _finish_columns(cols: pd.DataFrame, shape, grain: int = 1) -> pd.DataFrame:
    h, w = shape
    cols = cols.copy()
    if "grain" not in cols:
        cols["grain"] = grain
    cols["inside"] = (cols.x >= 0) & (cols.x <= w - 1) & (cols.y >= 0) & (cols.y <= h - 1)
    cols["detectable"] = _detectable(cols)
    keep = ["x", "y", "species", "layer", "index", "amplitude", "grain", "inside", "detectable"]
    return cols[keep].reset_index(drop=True)


def _layer_frame_truth(lat: SyntheticLattice, coords=None) -> dict:
    """Co-rotated layer-frame distortion, layer angle and rotation from the exact gradient.

    ``coords``: image-centred nm (x, y) of the points (default: the pixel grid).
    """
    if coords is None:
        h, w = lat.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(float)
        coords = lat.pixel_to_nm(xx, yy)
    x0, y0 = lat._reference_of(*coords)
    grad = _fields.gradient(lambda x, y: tuple(
        np.subtract(v, r) for v, r in zip(lat._mapping(x, y), (x, y), strict=True)), x0, y0)
    f = grad + np.eye(2)[:, :, None, None]
    t, n = _fields.layer_frame(lat.angle_deg)
    ft = np.einsum("ij...,j->i...", f, t)
    fn = np.einsum("ij...,j->i...", f, n)
    phi = np.arctan2(ft[1], ft[0])
    turn = phi - np.deg2rad(lat.angle_deg)
    c, s = np.cos(turn), np.sin(turn)
    # components of Q^T F t and Q^T F n in the reference (t, n) frame, Q = rotation by turn
    def back(v):
        vx, vy = c * v[0] + s * v[1], -s * v[0] + c * v[1]
        return vx * t[0] + vy * t[1], vx * n[0] + vy * n[1]
    tt, tn = back(ft)
    nt, nn = back(fn)
    return {"layer_angle_deg": np.rad2deg(phi).astype(np.float32),
            "rotation": (-turn).astype(np.float32),
            "e_tt": (tt - 1).astype(np.float32), "e_nn": (nn - 1).astype(np.float32),
            "e_nt": (0.5 * (tn + nt)).astype(np.float32)}


def _labels_from_registry(reg: np.ndarray) -> np.ndarray:
    lab = np.zeros(reg.shape, np.uint8)
    ok = np.isfinite(reg)
    r = np.abs(np.where(ok, reg, 0))
    lab[ok & (r <= 1 / 6)] = LABELS["O1"]
    lab[ok & (r > 1 / 6)] = LABELS["O3"]
    return lab


def _lattice_case(name, lat, *, curvature, extra=None, params=None,  # noqa: PLR0913
                  expected=None) -> RealisticImage:
    truth = _layer_frame_truth(lat)
    coord = lat.gap_coordinate_map()
    crystal = np.isfinite(coord)
    reg = lat.registry_map_truth()
    truth.update(crystal=crystal, grain=crystal.astype(np.int8), registry=reg.astype(np.float32),
                 labels=_labels_from_registry(reg), labels_nominal=lat.label_map_truth(),
                 curvature=np.where(crystal, curvature, np.nan).astype(np.float32))
    if extra:
        truth.update(extra)
    cols = _finish_columns(lat.columns, lat.shape)
    return RealisticImage(case=name, image=lat.image, pixel_size=lat.pixel_size, columns=cols,
                          truth=truth, params={**lat.params, **(params or {})}, lattice=lat,
                          expected=expected)


def _pixel_nm(shape, pixel_size):
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    return (xx - (w - 1) / 2) * pixel_size, (yy - (h - 1) / 2) * pixel_size


# ------------------------------------------------------------------------------ cases
def bend(radius_nm: float = 15.0, *, shape=(1024, 1024), pixel_size: float = 0.02,
         angle_deg: float = 5.0, o1_gaps=None, dose: float | None = 200.0,
         seed: int = 0, name: str = "bend") -> RealisticImage:
    """Slipping bend: every layer a circular arc that keeps its arc length.

    The centre of curvature lies ``radius_nm`` along +n from the image centre; layer k
    (normal coordinate n_k) has radius ``R - n_k`` and curvature ``1 / (R - n_k)``.
    """
    lat, expected = _noisy_lattice(shape, dose, seed, pixel_size=pixel_size,
                                   angle_deg=angle_deg, bend_radius_nm=radius_nm,
                                   bend_mode="slip", o1_gaps=o1_gaps)
    x, y = _pixel_nm(shape, pixel_size)
    t, n = _fields.layer_frame(angle_deg)
    r = np.hypot(x - radius_nm * n[0], y - radius_nm * n[1])
    return _lattice_case(name, lat, curvature=np.sign(radius_nm) / r,
                         params={"radius_nm": radius_nm, "dose": dose}, expected=expected)


def ripple(*, shape=(1024, 1024), pixel_size: float = 0.02, angle_deg: float = -4.0,
           amplitude_nm: float = 0.58, width_nm: float = 2.0, separation_nm: float = 10.0,
           dose: float | None = 200.0, seed: int = 0) -> RealisticImage:
    """Two Gaussian ripples of opposite sign; tilt up to atan(A / w e^-1/2) (10 deg)."""
    s0 = 0.5 * separation_nm
    u = _fields.combine(
        _fields.ripple(amplitude_nm, width_nm, angle_deg=angle_deg, s0_nm=-s0),
        _fields.ripple(-amplitude_nm, width_nm, angle_deg=angle_deg, s0_nm=s0))
    lat, expected = _noisy_lattice(shape, dose, seed, pixel_size=pixel_size,
                                   angle_deg=angle_deg, displacement=u)
    x, y = _pixel_nm(shape, pixel_size)
    xr, yr = lat._reference_of(x, y)
    t, _ = _fields.layer_frame(angle_deg)
    s = xr * t[0] + yr * t[1]
    # the two ripples overlap a little: the exact curvature of the sum f(s)
    z1, z2 = (s + s0) / width_nm, (s - s0) / width_nm
    f1 = amplitude_nm * (-z1 * np.exp(-z1**2 / 2) + z2 * np.exp(-z2**2 / 2)) / width_nm
    f2 = amplitude_nm * ((z1**2 - 1) * np.exp(-z1**2 / 2)
                         - (z2**2 - 1) * np.exp(-z2**2 / 2)) / width_nm**2
    kappa = f2 / (1 + f1**2) ** 1.5
    sg = np.linspace(-s0 - 4 * width_nm, s0 + 4 * width_nm, 20001)
    zg1, zg2 = (sg + s0) / width_nm, (sg - s0) / width_nm
    slope = amplitude_nm * (-zg1 * np.exp(-zg1**2 / 2) + zg2 * np.exp(-zg2**2 / 2)) / width_nm
    tilt = float(np.rad2deg(np.arctan(np.abs(slope).max())))
    return _lattice_case("ripple", lat, curvature=kappa,
                         params={"amplitude_nm": amplitude_nm, "width_nm": width_nm,
                                 "separation_nm": separation_nm, "max_tilt_deg": tilt,
                                 "dose": dose}, expected=expected)


def o1_bend(*, shape=(1024, 1024), pixel_size: float = 0.02, radius_nm: float = 25.0,
            o1_gaps=(-2, 1), dose: float | None = 200.0, seed: int = 0) -> RealisticImage:
    """Generate an O1 band (gaps ``o1_gaps``, spacing 0.445 nm) in a slipping R = 25 nm bend."""
    return bend(radius_nm, shape=shape, pixel_size=pixel_size, o1_gaps=o1_gaps, dose=dose,
                seed=seed, name="o1_bend")


def low_dose(*, shape=(1024, 1024), pixel_size: float = 0.02, angle_deg: float = 7.0,
             counts_per_column: float = 40.0, thickness=(0.5, 1.5), seed: int = 0
             ) -> RealisticImage:
    """Thickness gradient along x (amplitude and background scale with it) at low dose."""
    lat = layered_oxide(shape, pixel_size=pixel_size, angle_deg=angle_deg, dose=None)
    h, w = shape
    cols = lat.columns.copy()
    tk = thickness[0] + (thickness[1] - thickness[0]) * np.clip(cols.x.to_numpy() / (w - 1), 0, 1)
    cols["amplitude"] = cols.amplitude.to_numpy() * tk
    drawn = cols[cols.amplitude > 0]
    bg = 0.05 * (thickness[0] + (thickness[1] - thickness[0]) * np.arange(w) / (w - 1))
    ideal = render_columns(drawn.x, drawn.y, drawn.amplitude, _SIGMA / pixel_size, shape)
    image, expected = _poisson(ideal + bg[None, :], counts_per_column, seed)
    lat = _replace_image(lat, image, columns=cols)
    return _lattice_case("low_dose", lat, curvature=np.zeros(shape),
                         params={"counts_per_column": counts_per_column, "dose": counts_per_column,
                                 "thickness": tuple(thickness)}, expected=expected)


def _replace_image(lat: SyntheticLattice, image, **kw) -> SyntheticLattice:
    from dataclasses import replace  # noqa: PLC0415

    return replace(lat, image=np.asarray(image, np.float32), **kw)


def _replace(rec: RealisticImage, **kw) -> RealisticImage:
    from dataclasses import replace  # noqa: PLC0415

    return replace(rec, **kw)


def jpeg(*, shape=(1024, 1024), pixel_size: float = 0.02, quality: int = 75,
         dose: float | None = 200.0, seed: int = 0) -> RealisticImage:
    """Generate a gently rippled crystal (tilt 5 deg) saved as 8-bit JPEG and read back."""
    from PIL import Image  # noqa: PLC0415

    rec = ripple(shape=shape, pixel_size=pixel_size, amplitude_nm=0.29, width_nm=2.0,
                 angle_deg=3.0, dose=dose, seed=seed)
    img = rec.image
    lo, hi = float(img.min()), float(np.percentile(img, 99.9))
    u8 = np.clip((img - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    back = np.asarray(Image.open(buf).convert("L"), dtype=np.float32)
    return _replace(rec, case="jpeg", image=back,
                    params={**rec.params, "jpeg_quality": quality,
                            "jpeg_bytes": buf.getbuffer().nbytes,
                            "intensity_scale": 255 / (hi - lo), "intensity_offset": lo})


# ------------------------------------------------------------------------------- kink
def _kink_curve(sigma, rho, delta):
    """Return the base layer of the kink in (u, v) layer coordinates (line, arc, line)."""
    L = rho * delta
    psi = np.clip((sigma + L / 2) / rho, 0.0, delta)
    o0 = np.array([-L / 2, rho])
    u = np.where(sigma < -L / 2, sigma, o0[0] + rho * np.sin(psi))
    v = np.where(sigma < -L / 2, 0.0, o0[1] - rho * np.cos(psi))
    beyond = np.clip(sigma - L / 2, 0.0, None)
    u = u + beyond * np.cos(delta)
    v = v + beyond * np.sin(delta)
    return u, v, psi


def _smoothstep(z):
    z = np.clip(z, 0.0, 1.0)
    return z * z * (3 - 2 * z)


def _kink_sites(half, rho, delta, a, d):
    """Column sites of every layer of the kink, (u, v) nm, with labels."""
    L = rho * delta
    tan_h = np.tan(delta / 2)
    b = np.array([-d * tan_h, d])
    t2 = np.array([np.cos(delta), np.sin(delta)])
    k = np.arange(-int(half / d) - 4, int(half / d) + 5)
    j = np.arange(-int(1.6 * half / a) - 4, int(1.6 * half / a) + 5)
    shift = k / 3.0
    o1 = shift * a + k * d * tan_h
    o2 = shift * a + L - 2 * rho * tan_h - k * (b @ t2)
    dofs = np.mod(o2 - o1 + a / 2, a) - a / 2
    # species: (name, in-plane offset in periods, normal offset nm, amplitude)
    species = [("TM", 0.0, 0.0, 1.0), ("O", -1 / 3, O_OFFSET_NM, 0.08),
               ("O", 1 / 3, -O_OFFSET_NM, 0.08), ("Li", -1 / 3, d / 2, 0.0)]
    rows = []
    for name, f, nu, amp in species:
        kk, jj = np.meshgrid(k, j, indexing="ij")
        ki = kk - k[0]
        pre = (jj + f) * a + o1[ki]
        sig = pre + dofs[ki] * _smoothstep((pre + L / 2) / L)
        u, v, psi = _kink_curve(sig, rho, delta)
        u = u + kk * b[0] - nu * np.sin(psi)
        v = v + kk * b[1] + nu * np.cos(psi)
        rows.append(pd.DataFrame({"u": u.ravel(), "v": v.ravel(), "species": name,
                                  "layer": kk.ravel(), "index": jj.ravel(), "amplitude": amp,
                                  "sigma_arc": sig.ravel()}))
    return pd.concat(rows, ignore_index=True), b


def _kink_maps(u, v, rho, delta, b, d):
    """Turn angle psi and band mask of every point (u, v) of the kink."""
    L = rho * delta
    tan_h = np.tan(delta / 2)
    nu1 = v / d
    side1 = (u + nu1 * d * tan_h) < -L / 2
    p_end = np.array([-L / 2 + rho * np.sin(delta), rho - rho * np.cos(delta)])
    n2 = np.array([-np.sin(delta), np.cos(delta)])
    t2 = np.array([np.cos(delta), np.sin(delta)])
    nu2 = ((u - p_end[0]) * n2[0] + (v - p_end[1]) * n2[1]) / d
    sig2 = (u - nu2 * b[0] - p_end[0]) * t2[0] + (v - nu2 * b[1] - p_end[1]) * t2[1]
    side2 = (~side1) & (sig2 > 0)
    qx, qy = u + L / 2, v - rho
    bb = b @ b
    qb = qx * b[0] + qy * b[1]
    disc = np.clip(qb**2 - bb * (qx**2 + qy**2 - rho**2), 0, None)
    roots = np.stack([(qb - np.sqrt(disc)) / bb, (qb + np.sqrt(disc)) / bb])
    nu = np.where(np.abs(roots[0] - nu1) < np.abs(roots[1] - nu1), roots[0], roots[1])
    ex, ey = qx - nu * b[0], qy - nu * b[1]
    psi = np.clip(np.arctan2(ex, -ey), 0, delta)
    psi = np.where(side1, 0.0, np.where(side2, delta, psi))
    band = ~(side1 | side2)
    return psi, band


def kink(*, shape=(1024, 1024), pixel_size: float = 0.02, angle_deg: float = 3.0,
         turn_deg: float = 20.0, width_nm: float = 1.5, dose: float | None = 200.0,
         seed: int = 0) -> RealisticImage:
    """Generate a kink band: the layers turn by ``turn_deg`` along an arc ``width_nm`` long.

    Every layer is a translate of one curve (straight, circular arc of radius
    ``width / turn``, straight) along the band boundary ``b = d (n - tan(turn/2) t)``,
    which bisects the turn, so the spacing is d on both sides. Side 1 is the perfect O3
    lattice; side 2 the same lattice rotated by ``turn_deg`` about the intersection of
    the tangents (perfect O3 too); each layer's columns slip by less than half a period
    across the band to go from one to the other.
    """
    h, w = shape
    a, d = _A, _D
    delta = np.deg2rad(turn_deg)
    rho = width_nm / delta
    half = 0.5 * np.hypot(h, w) * pixel_size + 1.0
    sites, b = _kink_sites(half, rho, delta, a, d)
    t1, n1 = _fields.layer_frame(angle_deg)
    x_nm = sites.u * t1[0] + sites.v * n1[0]
    y_nm = sites.u * t1[1] + sites.v * n1[1]
    sites["x"] = x_nm / pixel_size + (w - 1) / 2
    sites["y"] = y_nm / pixel_size + (h - 1) / 2
    m = 4 * _SIGMA / pixel_size
    sites = sites[(sites.x > -m) & (sites.x < w - 1 + m) & (sites.y > -m)
                  & (sites.y < h - 1 + m)].reset_index(drop=True)
    drawn = sites[sites.amplitude > 0]
    ideal = render_columns(drawn.x, drawn.y, drawn.amplitude, _SIGMA / pixel_size, shape) + 0.05
    image, expected = _poisson(ideal, dose, seed)
    x, y = _pixel_nm(shape, pixel_size)
    u = x * t1[0] + y * t1[1]
    v = x * n1[0] + y * n1[1]
    psi, band = _kink_maps(u, v, rho, delta, b, d)
    zero = np.where(band, np.nan, 0.0).astype(np.float32)
    labels = np.where(band, LABELS["other"], LABELS["O3"]).astype(np.uint8)
    truth = {"crystal": np.ones(shape, bool), "grain": np.ones(shape, np.int8),
             "layer_angle_deg": (angle_deg + np.rad2deg(psi)).astype(np.float32),
             "rotation": (-psi).astype(np.float32),
             "curvature": np.where(band, 1.0 / rho, 0.0).astype(np.float32),
             "e_tt": zero, "e_nn": zero, "e_nt": zero, "labels": labels,
             "registry": np.where(band, np.nan, 1 / 3).astype(np.float32), "band": band,
             "side": np.where(band, 0, np.where(psi > delta / 2, 2, 1)).astype(np.int8)}
    params = dict(shape=shape, pixel_size=pixel_size, angle_deg=angle_deg, turn_deg=turn_deg,
                  width_nm=width_nm, radius_nm=rho, boundary_nm=tuple(b), c_spacing=d,
                  a_spacing=a, sigma_nm=_SIGMA, dose=dose, seed=seed)
    return RealisticImage(case="kink", image=image, pixel_size=pixel_size,
                          columns=_finish_columns(sites, shape), truth=truth, params=params,
                          expected=expected)


# ---------------------------------------------------------------------------- surface
def _surface_distance(x, y, normal_deg, offset_nm, wave_nm, period_nm):
    """Signed distance-like coordinate to the surface, > 0 inside the particle."""
    m = np.array([np.cos(np.deg2rad(normal_deg)), np.sin(np.deg2rad(normal_deg))])
    along = -x * m[1] + y * m[0]
    return offset_nm + wave_nm * np.sin(2 * np.pi * along / period_nm) - (x * m[0] + y * m[1])


def surface(*, shape=(1024, 1024), pixel_size: float = 0.02, angle_deg: float = 12.0,
            rocksalt_nm: float = 1.2, carbon_nm: float = 3.0, dose: float | None = 200.0,
            seed: int = 0) -> RealisticImage:
    """Generate a particle surface: crystal, rock-salt band, amorphous carbon, vacuum.

    The surface is a gently waved line (normal at -35 deg); within ``rocksalt_nm`` of it
    the Li sites carry a full TM column (rock salt); outside, amorphous carbon (random
    weak Gaussians, 25 per nm^2) covers a ``carbon_nm`` band, the rest is bare vacuum.
    The crystal adds a thickness background of 0.04 (TM peak = 1) to the detector's 0.02.
    """
    geo = dict(normal_deg=-35.0, offset_nm=0.12 * shape[1] * pixel_size, wave_nm=0.6,
               period_nm=9.0)

    def dist(x, y):
        return _surface_distance(x, y, **geo)

    lat = layered_oxide(shape, pixel_size=pixel_size, angle_deg=angle_deg, dose=None,
                        background=0.0, vacuum=lambda x, y: dist(x, y) < 0,
                        li_occupancy=lambda x, y: (dist(x, y) < rocksalt_nm).astype(float))
    x, y = _pixel_nm(shape, pixel_size)
    dmap = dist(x, y)
    crystal = dmap >= 0
    rng = np.random.default_rng(seed + 1000)
    area = shape[0] * shape[1] * pixel_size**2
    n_c = rng.poisson(25 * area)
    cx = rng.uniform(0, shape[1] - 1, n_c)
    cy = rng.uniform(0, shape[0] - 1, n_c)
    cd = dist((cx - (shape[1] - 1) / 2) * pixel_size, (cy - (shape[0] - 1) / 2) * pixel_size)
    patch = carbon_nm * (1 + 0.3 * np.sin(cy * pixel_size / 2.3))
    keep = (cd < 0) & (cd > -patch)
    carbon_img = render_columns(cx[keep], cy[keep], rng.uniform(0.03, 0.10, keep.sum()),
                                0.07 / pixel_size, shape)
    ndi = __import__("scipy.ndimage", fromlist=["gaussian_filter"])
    thick = ndi.gaussian_filter(crystal.astype(float), 0.3 / pixel_size) * 0.04
    ideal = lat.image.astype(float) + carbon_img + thick + 0.02
    image, expected = _poisson(ideal, dose, seed)
    lat = _replace_image(lat, image)
    y_row = (y[:, :1] * np.ones_like(x))
    carbon = (~crystal) & (dmap > -carbon_nm * (1 + 0.3 * np.sin(
        (y_row / pixel_size + (shape[0] - 1) / 2) * pixel_size / 2.3)))
    rocksalt = crystal & (dmap < rocksalt_nm)
    rec = _lattice_case("surface", lat, curvature=np.zeros(shape),
                        params={"rocksalt_nm": rocksalt_nm, "carbon_nm": carbon_nm,
                                "dose": dose, **geo}, expected=expected)
    truth = dict(rec.truth)
    for key in ("layer_angle_deg", "rotation", "e_tt", "e_nn", "e_nt", "registry", "curvature"):
        truth[key] = np.where(crystal, truth[key], np.nan).astype(np.float32)
    labels = np.where(crystal, truth["labels"], 0).astype(np.uint8)
    labels[rocksalt] = LABELS["other"]
    truth.update(crystal=crystal, grain=crystal.astype(np.int8), labels=labels,
                 rocksalt=rocksalt, carbon=carbon, vacuum=~crystal & ~carbon,
                 surface_distance_nm=dmap.astype(np.float32))
    return _replace(rec, truth=truth)


# ------------------------------------------------------------------------------ drift
def _render_scanned(xs, ys, amp, sigma_px, shape, x_off, y_rows):
    """Render columns at specimen px (xs, ys) seen by a beam at (j + x_off[i], y_rows[i])."""
    h, w = shape
    r = int(np.ceil(4 * sigma_px))
    off = np.arange(-r, r + 1)
    out = np.zeros(h * w)
    scale = (y_rows[-1] - y_rows[0]) / (h - 1)
    chunk = max(1, 1_000_000 // off.size**2)
    for i0 in range(0, xs.size, chunk):
        x, y, a = xs[i0:i0 + chunk], ys[i0:i0 + chunk], amp[i0:i0 + chunk]
        rows = np.round((y - y_rows[0]) / scale).astype(int)[:, None] + off[None, :]
        okr = (rows >= 0) & (rows < h)
        rc = np.clip(rows, 0, h - 1)
        jx = x[:, None] - x_off[rc]                      # (N, R) column centre in each row
        dy2 = (y_rows[rc] - y[:, None]) ** 2
        cols = np.round(jx).astype(int)[:, :, None] + off[None, None, :]
        val = a[:, None, None] * np.exp(-((cols - jx[:, :, None]) ** 2 + dy2[:, :, None])
                                        / (2 * sigma_px**2))
        ok = okr[:, :, None] & (cols >= 0) & (cols < w)
        idx = (rc[:, :, None] * w + cols)[ok]
        out += np.bincount(idx, weights=val[ok], minlength=h * w)
    return out.reshape(h, w)


def drift(*, shape=(1024, 1024), pixel_size: float = 0.02, angle_deg: float = 4.0,
          e_tt: float = 0.01, drift_x_px_per_row: float = 0.02, stretch_y: float = 0.01,
          jitter_px: float = 0.2, dose: float | None = 200.0, seed: int = 0) -> RealisticImage:
    """Generate a strain step (e_tt = 1 % across s = 0) scanned with drift and row jitter.

    Row i of the image is scanned at specimen y = c + (i - c)(1 + stretch_y) px and
    x = j + drift_x (i - c) + jitter_i px (c the image centre, jitter ~ N(0, jitter_px)
    per row, seeded). Column truth ``x, y`` is where each column appears: the row at
    which the beam passes its centre, and the Gaussian-weighted mean over the rows it
    covers of its x in the image. ``params["scan_matrix"]`` maps specimen to image px
    (jitter aside); the strain maps are the specimen's, at each pixel's beam position.
    """
    u = _fields.strain_step(e_tt, 0.0, angle_deg=angle_deg, position_nm=0.0, width_nm=0.5)
    lat = layered_oxide(shape, pixel_size=pixel_size, angle_deg=angle_deg, displacement=u,
                        dose=None, background=0.0)
    h, w = shape
    c = (h - 1) / 2
    rng = np.random.default_rng(seed + 2000)
    i = np.arange(h, dtype=float)
    x_off = drift_x_px_per_row * (i - c) + rng.normal(0.0, jitter_px, h)
    y_rows = c + (i - c) * (1 + stretch_y)
    cols = lat.columns
    drawn = cols[cols.amplitude > 0]
    sig = _SIGMA / pixel_size
    ideal = _render_scanned(drawn.x.to_numpy(), drawn.y.to_numpy(), drawn.amplitude.to_numpy(),
                            sig, shape, x_off, y_rows) + 0.05
    image, expected = _poisson(ideal, dose, seed)
    # apparent positions
    ys = cols.y.to_numpy()
    y_img = c + (ys - c) / (1 + stretch_y)
    r = int(np.ceil(4 * sig))
    rows = np.round(y_img).astype(int)[:, None] + np.arange(-r, r + 1)[None, :]
    rc = np.clip(rows, 0, h - 1)
    wgt = np.exp(-((y_rows[rc] - ys[:, None]) ** 2) / (2 * sig**2)) * ((rows >= 0) & (rows < h))
    x_img = cols.x.to_numpy() - (wgt * x_off[rc]).sum(1) / np.maximum(wgt.sum(1), 1e-300)
    spec = cols.copy()
    spec["x"], spec["y"] = x_img, y_img
    lat2 = _replace_image(lat, image)
    xb = (np.arange(w)[None, :] + x_off[:, None] - (w - 1) / 2) * pixel_size
    yb = (y_rows[:, None] * np.ones((1, w)) - c) * pixel_size
    truth = _layer_frame_truth(lat, coords=(xb, yb))
    t, _ = _fields.layer_frame(angle_deg)
    xr, yr = lat._reference_of(xb, yb)
    truth.update(crystal=np.ones(shape, bool), grain=np.ones(shape, np.int8),
                 curvature=np.zeros(shape, np.float32),
                 labels=np.full(shape, LABELS["O3"], np.uint8),
                 registry=np.full(shape, 1 / 3, np.float32),
                 s_nm=(xr * t[0] + yr * t[1]).astype(np.float32))
    a_mat = [[1.0, -drift_x_px_per_row / (1 + stretch_y)], [0.0, 1.0 / (1 + stretch_y)]]
    params = {**lat.params, "dose": dose, "e_tt": e_tt, "drift_x_px_per_row": drift_x_px_per_row,
              "stretch_y": stretch_y, "jitter_px": jitter_px, "scan_matrix": a_mat,
              "row_offsets_px": x_off, "row_y_px": y_rows}
    return RealisticImage(case="drift", image=image, pixel_size=pixel_size,
                          columns=_finish_columns(spec, shape), truth=truth, params=params,
                          lattice=lat2, expected=expected)


# ----------------------------------------------------------------------------- grains
def grains(*, shape=(1024, 1024), pixel_size: float = 0.02, angle_deg: float = 5.0,
           misorientation_deg: float = 35.0, dose: float | None = 200.0,
           seed: int = 0) -> RealisticImage:
    """Two grains whose layers are ``misorientation_deg`` apart, a waved boundary.

    Grain 1 (layers at ``angle_deg``) lies left of ``x = 1 + 0.8 sin(2 pi y / 12)`` nm,
    grain 2 (``angle_deg + misorientation_deg``) right of it; grain-2 columns closer than
    0.15 nm to a grain-1 column are dropped.
    """
    from scipy.spatial import cKDTree  # noqa: PLC0415

    g1 = layered_oxide(shape, pixel_size=pixel_size, angle_deg=angle_deg, dose=None,
                       background=0.0)
    g2 = layered_oxide(shape, pixel_size=pixel_size, angle_deg=angle_deg + misorientation_deg,
                       dose=None, background=0.0)
    h, w = shape

    def side(xpx, ypx):
        xn = (np.asarray(xpx) - (w - 1) / 2) * pixel_size
        yn = (np.asarray(ypx) - (h - 1) / 2) * pixel_size
        return xn - (1.0 + 0.8 * np.sin(2 * np.pi * yn / 12.0))

    c1 = g1.columns[side(g1.columns.x, g1.columns.y) < 0].assign(grain=1)
    c2 = g2.columns[side(g2.columns.x, g2.columns.y) >= 0].assign(grain=2)
    d, _ = cKDTree(np.c_[c1.x, c1.y]).query(np.c_[c2.x, c2.y])
    c2 = c2[d * pixel_size >= 0.15]
    cols = pd.concat([c1, c2], ignore_index=True)
    drawn = cols[cols.amplitude > 0]
    ideal = render_columns(drawn.x, drawn.y, drawn.amplitude, _SIGMA / pixel_size, shape) + 0.05
    image, expected = _poisson(ideal, dose, seed)
    yy, xx = np.mgrid[0:h, 0:w]
    sd = side(xx, yy)
    gmap = np.where(sd < 0, 1, 2).astype(np.int8)
    ang = np.where(gmap == 1, angle_deg, angle_deg + misorientation_deg).astype(np.float32)
    zero = np.zeros(shape, np.float32)
    truth = {"crystal": np.ones(shape, bool), "grain": gmap, "layer_angle_deg": ang,
             "rotation": np.deg2rad(angle_deg - ang).astype(np.float32), "curvature": zero,
             "e_tt": zero, "e_nn": zero, "e_nt": zero,
             "labels": np.full(shape, LABELS["O3"], np.uint8),
             "registry": np.full(shape, 1 / 3, np.float32),
             "boundary": np.abs(sd) < 0.5}
    params = dict(shape=shape, pixel_size=pixel_size, angle_deg=angle_deg,
                  misorientation_deg=misorientation_deg, c_spacing=_D, a_spacing=_A,
                  sigma_nm=_SIGMA, dose=dose, seed=seed)
    return RealisticImage(case="grains", image=image, pixel_size=pixel_size,
                          columns=_finish_columns(cols, shape), truth=truth, params=params,
                          expected=expected)


# ------------------------------------------------------------------- scoring helpers
def column_crb(rec: RealisticImage, columns: pd.DataFrame | None = None) -> np.ndarray:
    """Cramer-Rao bound (px, 2-D: sqrt(var x + var y)) of each column's position.

    Poisson likelihood of the expected counts ``rec.expected`` over a patch of radius
    3 sigma, five unknowns per column (x, y, amplitude, sigma, a local constant
    background); the neighbours' intensity is known (part of the expectation), so this
    is the bound of an estimator that knows everything but the column itself.
    ``columns`` defaults to ``rec.detectable_columns()``.
    """
    if rec.expected is None:
        raise ValueError("column_crb needs a noisy case (dose is None here)")
    cols = rec.detectable_columns() if columns is None else columns
    sig = float(rec.params.get("sigma_nm", _SIGMA)) / rec.pixel_size
    dose = float(rec.params["dose"])
    r = int(np.ceil(3 * sig))
    off = np.arange(-r, r + 1)
    h, w = rec.shape
    xc, yc = cols.x.to_numpy(float), cols.y.to_numpy(float)
    amp = cols.amplitude.to_numpy(float) * dose
    px = np.round(xc).astype(int)[:, None, None] + off[None, None, :]
    py = np.round(yc).astype(int)[:, None, None] + off[None, :, None]
    ok = (px >= 0) & (px < w) & (py >= 0) & (py < h)
    mu = np.maximum(rec.expected[np.clip(py, 0, h - 1), np.clip(px, 0, w - 1)], 1e-3)
    dx, dy = px - xc[:, None, None], py - yc[:, None, None]
    g = np.exp(-(dx**2 + dy**2) / (2 * sig**2))
    a = amp[:, None, None]
    jac = np.stack([a * g * dx / sig**2, a * g * dy / sig**2, g,
                    a * g * (dx**2 + dy**2) / sig**3, np.ones_like(g)], axis=-1)
    wgt = np.where(ok, 1.0 / mu, 0.0)
    fisher = np.einsum("nyxi,nyx,nyxj->nij", jac, wgt, jac)
    cov = np.linalg.inv(fisher + 1e-12 * np.eye(5))
    return np.sqrt(cov[:, 0, 0] + cov[:, 1, 1])


def score_columns(rec: RealisticImage, found_x, found_y, *, margin_px: float | None = None,
                  match_px: float | None = None) -> dict:
    """Recall, spurious fraction, RMS error and Cramer-Rao bound of found columns.

    Truth = ``rec.detectable_columns(margin_px=margin_px)`` (default margin 2 sigma + 1
    px: columns cut by the border are not scored); found columns in the same region are
    scored. A truth column is matched by the found column nearest to it if they are
    mutual nearest neighbours within ``match_px`` (default 0.3 in-plane period).
    Returns ``recall, spurious, rms_px`` (2-D), ``crb_px`` (RMS of the 2-D bound over
    the matched columns, NaN without noise), ``n_truth, n_found, n_matched``.
    """
    from scipy.spatial import cKDTree  # noqa: PLC0415

    sig = float(rec.params.get("sigma_nm", _SIGMA)) / rec.pixel_size
    margin = 2 * sig + 1 if margin_px is None else float(margin_px)
    match = 0.3 * _A / rec.pixel_size if match_px is None else float(match_px)
    det = rec.columns[rec.columns.detectable.to_numpy()].reset_index(drop=True)
    h, w = rec.shape
    in_t = ((det.x >= margin) & (det.x <= w - 1 - margin) & (det.y >= margin)
            & (det.y <= h - 1 - margin)).to_numpy()
    truth = det[in_t]
    tj = np.flatnonzero(in_t)
    fx, fy = np.asarray(found_x, float), np.asarray(found_y, float)
    region = (fx >= margin) & (fx <= w - 1 - margin) & (fy >= margin) & (fy <= h - 1 - margin)
    fxy = np.c_[fx[region], fy[region]]
    txy = np.c_[truth.x, truth.y]
    if len(fxy) == 0 or len(txy) == 0:
        return dict(recall=0.0, spurious=float(len(fxy) > 0), rms_px=np.nan, crb_px=np.nan,
                    n_truth=len(txy), n_found=len(fxy), n_matched=0)
    d_tf, i_tf = cKDTree(fxy).query(txy)
    _, i_ft = cKDTree(np.c_[det.x, det.y]).query(fxy)
    keep = (d_tf <= match) & (i_ft[i_tf] == tj)   # mutual nearest neighbours
    n_match = int(keep.sum())
    err = fxy[i_tf[keep]] - txy[keep]
    rms = float(np.sqrt(np.mean(np.sum(err**2, axis=1)))) if n_match else np.nan
    crb = np.nan
    if rec.expected is not None and n_match:
        crb = float(np.sqrt(np.mean(column_crb(rec, truth[keep]) ** 2)))
    used = np.zeros(len(fxy), bool)
    used[i_tf[keep]] = True
    return dict(recall=n_match / len(txy), spurious=float(1 - used.mean()), rms_px=rms,
                crb_px=crb, n_truth=len(txy), n_found=len(fxy), n_matched=n_match)


# ------------------------------------------------------------------------ entry point
def realistic(case: str, *, seed: int = 0, shape: tuple[int, int] = (1024, 1024),
              pixel_size: float = 0.02, dose: float | None = 200.0) -> RealisticImage:
    """Generate one realistic test case with exact ground truth.

    Parameters
    ----------
    case : str
        One of ``CASES``: "bend_r15", "bend_r30", "ripple", "kink", "surface", "drift",
        "low_dose", "grains", "o1_bend", "jpeg" (see :mod:`stemstrain.synthetic._realistic`).
    seed : int
        Seed of the noise (and of the carbon, the jitter).
    shape : (int, int)
        Image shape; the default 1024 px at 0.02 nm is a 20-nm field.
    pixel_size : float
        nm per pixel.
    dose : float or None
        Counts at a TM column peak (None: noise-free). ``low_dose`` uses 40 per column
        of unit thickness whatever is given here, unless ``dose`` is None.

    Returns
    -------
    RealisticImage
        Image, column truth and truth maps.

    Examples
    --------
    >>> from stemstrain.synthetic import realistic
    >>> rec = realistic("kink", shape=(128, 128))
    >>> rec.image.shape, bool(rec.truth["band"].any())
    ((128, 128), True)
    """
    if not isinstance(case, str):
        raise TypeError(f"case must be a str, got {type(case).__name__}")
    kw = dict(shape=tuple(shape), pixel_size=float(pixel_size), seed=int(seed))
    if case == "low_dose":
        return low_dose(**kw) if dose is not None else low_dose(**kw, counts_per_column=None)
    kw["dose"] = dose
    makers = {"bend_r15": lambda: bend(15.0, name="bend_r15", **kw),
              "bend_r30": lambda: bend(30.0, name="bend_r30", **kw),
              "ripple": lambda: ripple(**kw), "kink": lambda: kink(**kw),
              "surface": lambda: surface(**kw), "drift": lambda: drift(**kw),
              "grains": lambda: grains(**kw), "o1_bend": lambda: o1_bend(**kw),
              "jpeg": lambda: jpeg(**kw)}
    if case not in makers:
        raise ValueError(f"case must be one of {', '.join(CASES)}; got {case!r}")
    return makers[case]()
