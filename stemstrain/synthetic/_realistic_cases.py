"""Realistic generator cases, part 2: kink band, surface, scan drift, two grains; the entry point.

Part 1 (:mod:`._realistic`) holds the shared record, the bend / ripple / O1 / low-dose / JPEG
cases and the column scoring; :func:`realistic` here dispatches to both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import fields as _fields
from ._lattice import LABELS, O_OFFSET_NM, layered_oxide, render_columns
from ._realistic import (
    _A,
    _D,
    _SIGMA,
    CASES,
    RealisticImage,
    _case_params,
    _finish_columns,
    _flat_truth,
    _lattice_case,
    _layer_frame_truth,
    _pixel_nm,
    _poisson,
    _render_sites,
    _replace,
    _replace_image,
    bend,
    jpeg,
    low_dose,
    o1_bend,
    ripple,
)


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
    species = [
        ("TM", 0.0, 0.0, 1.0),
        ("O", -1 / 3, O_OFFSET_NM, 0.08),
        ("O", 1 / 3, -O_OFFSET_NM, 0.08),
        ("Li", -1 / 3, d / 2, 0.0),
    ]
    rows = []
    for name, f, nu, amp in species:
        kk, jj = np.meshgrid(k, j, indexing="ij")
        ki = kk - k[0]
        pre = (jj + f) * a + o1[ki]
        sig = pre + dofs[ki] * _smoothstep((pre + L / 2) / L)
        u, v, psi = _kink_curve(sig, rho, delta)
        u = u + kk * b[0] - nu * np.sin(psi)
        v = v + kk * b[1] + nu * np.cos(psi)
        rows.append(
            pd.DataFrame(
                {
                    "u": u.ravel(),
                    "v": v.ravel(),
                    "species": name,
                    "layer": kk.ravel(),
                    "index": jj.ravel(),
                    "amplitude": amp,
                    "sigma_arc": sig.ravel(),
                }
            )
        )
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


def kink(
    *,
    shape=(1024, 1024),
    pixel_size: float = 0.02,
    angle_deg: float = 3.0,
    turn_deg: float = 20.0,
    width_nm: float = 1.5,
    dose: float | None = 200.0,
    seed: int = 0,
) -> RealisticImage:
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
    sites = sites[
        (sites.x > -m) & (sites.x < w - 1 + m) & (sites.y > -m) & (sites.y < h - 1 + m)
    ].reset_index(drop=True)
    image, expected = _render_sites(sites, shape, pixel_size, dose, seed)
    x, y = _pixel_nm(shape, pixel_size)
    u = x * t1[0] + y * t1[1]
    v = x * n1[0] + y * n1[1]
    psi, band = _kink_maps(u, v, rho, delta, b, d)
    zero = np.where(band, np.nan, 0.0).astype(np.float32)
    truth = _flat_truth(
        shape,
        layer_angle_deg=(angle_deg + np.rad2deg(psi)).astype(np.float32),
        rotation=(-psi).astype(np.float32),
        curvature=np.where(band, 1.0 / rho, 0.0).astype(np.float32),
        e_tt=zero,
        e_nn=zero,
        e_nt=zero,
        labels=np.where(band, LABELS["other"], LABELS["O3"]).astype(np.uint8),
        registry=np.where(band, np.nan, 1 / 3).astype(np.float32),
        band=band,
        side=np.where(band, 0, np.where(psi > delta / 2, 2, 1)).astype(np.int8),
    )
    params = _case_params(
        shape,
        pixel_size,
        dose,
        seed,
        angle_deg=angle_deg,
        turn_deg=turn_deg,
        width_nm=width_nm,
        radius_nm=rho,
        boundary_nm=tuple(b),
    )
    return RealisticImage(
        case="kink",
        image=image,
        pixel_size=pixel_size,
        columns=_finish_columns(sites, shape),
        truth=truth,
        params=params,
        expected=expected,
    )


# ---------------------------------------------------------------------------- surface
def _surface_distance(x, y, normal_deg, offset_nm, wave_nm, period_nm):
    """Signed distance-like coordinate to the surface, > 0 inside the particle."""
    m = np.array([np.cos(np.deg2rad(normal_deg)), np.sin(np.deg2rad(normal_deg))])
    along = -x * m[1] + y * m[0]
    return offset_nm + wave_nm * np.sin(2 * np.pi * along / period_nm) - (x * m[0] + y * m[1])


def surface(
    *,
    shape=(1024, 1024),
    pixel_size: float = 0.02,
    angle_deg: float = 12.0,
    rocksalt_nm: float = 1.2,
    carbon_nm: float = 3.0,
    dose: float | None = 200.0,
    seed: int = 0,
) -> RealisticImage:
    """Generate a particle surface: crystal, rock-salt band, amorphous carbon, vacuum.

    The surface is a gently waved line (normal at -35 deg); within ``rocksalt_nm`` of it
    the Li sites carry a full TM column (rock salt); outside, amorphous carbon (random
    weak Gaussians, 25 per nm^2) covers a ``carbon_nm`` band, the rest is bare vacuum.
    The crystal adds a thickness background of 0.04 (TM peak = 1) to the detector's 0.02.
    """
    geo = dict(normal_deg=-35.0, offset_nm=0.12 * shape[1] * pixel_size, wave_nm=0.6, period_nm=9.0)

    def dist(x, y):
        return _surface_distance(x, y, **geo)

    lat = layered_oxide(
        shape,
        pixel_size=pixel_size,
        angle_deg=angle_deg,
        dose=None,
        background=0.0,
        vacuum=lambda x, y: dist(x, y) < 0,
        li_occupancy=lambda x, y: (dist(x, y) < rocksalt_nm).astype(float),
    )
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
    carbon_img = render_columns(
        cx[keep], cy[keep], rng.uniform(0.03, 0.10, keep.sum()), 0.07 / pixel_size, shape
    )
    ndi = __import__("scipy.ndimage", fromlist=["gaussian_filter"])
    thick = ndi.gaussian_filter(crystal.astype(float), 0.3 / pixel_size) * 0.04
    ideal = lat.image.astype(float) + carbon_img + thick + 0.02
    image, expected = _poisson(ideal, dose, seed)
    lat = _replace_image(lat, image)
    y_row = y[:, :1] * np.ones_like(x)
    carbon = (~crystal) & (
        dmap
        > -carbon_nm
        * (1 + 0.3 * np.sin((y_row / pixel_size + (shape[0] - 1) / 2) * pixel_size / 2.3))
    )
    rocksalt = crystal & (dmap < rocksalt_nm)
    rec = _lattice_case(
        "surface",
        lat,
        curvature=np.zeros(shape),
        params={"rocksalt_nm": rocksalt_nm, "carbon_nm": carbon_nm, "dose": dose, **geo},
        expected=expected,
    )
    truth = dict(rec.truth)
    for key in ("layer_angle_deg", "rotation", "e_tt", "e_nn", "e_nt", "registry", "curvature"):
        truth[key] = np.where(crystal, truth[key], np.nan).astype(np.float32)
    labels = np.where(crystal, truth["labels"], 0).astype(np.uint8)
    labels[rocksalt] = LABELS["other"]
    truth.update(
        crystal=crystal,
        grain=crystal.astype(np.int8),
        labels=labels,
        rocksalt=rocksalt,
        carbon=carbon,
        vacuum=~crystal & ~carbon,
        surface_distance_nm=dmap.astype(np.float32),
    )
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
        x, y, a = xs[i0 : i0 + chunk], ys[i0 : i0 + chunk], amp[i0 : i0 + chunk]
        rows = np.round((y - y_rows[0]) / scale).astype(int)[:, None] + off[None, :]
        okr = (rows >= 0) & (rows < h)
        rc = np.clip(rows, 0, h - 1)
        jx = x[:, None] - x_off[rc]  # (N, R) column centre in each row
        dy2 = (y_rows[rc] - y[:, None]) ** 2
        cols = np.round(jx).astype(int)[:, :, None] + off[None, None, :]
        val = a[:, None, None] * np.exp(
            -((cols - jx[:, :, None]) ** 2 + dy2[:, :, None]) / (2 * sigma_px**2)
        )
        ok = okr[:, :, None] & (cols >= 0) & (cols < w)
        idx = (rc[:, :, None] * w + cols)[ok]
        out += np.bincount(idx, weights=val[ok], minlength=h * w)
    return out.reshape(h, w)


def drift(
    *,
    shape=(1024, 1024),
    pixel_size: float = 0.02,
    angle_deg: float = 4.0,
    e_tt: float = 0.01,
    drift_x_px_per_row: float = 0.02,
    stretch_y: float = 0.01,
    jitter_px: float = 0.2,
    dose: float | None = 200.0,
    seed: int = 0,
) -> RealisticImage:
    """Generate a strain step (e_tt = 1 % across s = 0) scanned with drift and row jitter.

    Row i of the image is scanned at specimen y = c + (i - c)(1 + stretch_y) px and
    x = j + drift_x (i - c) + jitter_i px (c the image centre, jitter ~ N(0, jitter_px)
    per row, seeded). Column truth ``x, y`` is where each column appears: the row at
    which the beam passes its centre, and the Gaussian-weighted mean over the rows it
    covers of its x in the image. ``params["scan_matrix"]`` maps specimen to image px
    (jitter aside); the strain maps are the specimen's, at each pixel's beam position.
    """
    u = _fields.strain_step(e_tt, 0.0, angle_deg=angle_deg, position_nm=0.0, width_nm=0.5)
    lat = layered_oxide(
        shape, pixel_size=pixel_size, angle_deg=angle_deg, displacement=u, dose=None, background=0.0
    )
    h, w = shape
    c = (h - 1) / 2
    rng = np.random.default_rng(seed + 2000)
    i = np.arange(h, dtype=float)
    x_off = drift_x_px_per_row * (i - c) + rng.normal(0.0, jitter_px, h)
    y_rows = c + (i - c) * (1 + stretch_y)
    cols = lat.columns
    drawn = cols[cols.amplitude > 0]
    sig = _SIGMA / pixel_size
    ideal = (
        _render_scanned(
            drawn.x.to_numpy(),
            drawn.y.to_numpy(),
            drawn.amplitude.to_numpy(),
            sig,
            shape,
            x_off,
            y_rows,
        )
        + 0.05
    )
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
    truth = _flat_truth(shape, **truth, s_nm=(xr * t[0] + yr * t[1]).astype(np.float32))
    a_mat = [[1.0, -drift_x_px_per_row / (1 + stretch_y)], [0.0, 1.0 / (1 + stretch_y)]]
    params = {
        **lat.params,
        "dose": dose,
        "e_tt": e_tt,
        "drift_x_px_per_row": drift_x_px_per_row,
        "stretch_y": stretch_y,
        "jitter_px": jitter_px,
        "scan_matrix": a_mat,
        "row_offsets_px": x_off,
        "row_y_px": y_rows,
    }
    return RealisticImage(
        case="drift",
        image=image,
        pixel_size=pixel_size,
        columns=_finish_columns(spec, shape),
        truth=truth,
        params=params,
        lattice=lat2,
        expected=expected,
    )


# ----------------------------------------------------------------------------- grains
def grains(
    *,
    shape=(1024, 1024),
    pixel_size: float = 0.02,
    angle_deg: float = 5.0,
    misorientation_deg: float = 35.0,
    dose: float | None = 200.0,
    seed: int = 0,
) -> RealisticImage:
    """Two grains whose layers are ``misorientation_deg`` apart, a waved boundary.

    Grain 1 (layers at ``angle_deg``) lies left of ``x = 1 + 0.8 sin(2 pi y / 12)`` nm,
    grain 2 (``angle_deg + misorientation_deg``) right of it; grain-2 columns closer than
    0.15 nm to a grain-1 column are dropped.
    """
    from scipy.spatial import cKDTree

    g1 = layered_oxide(shape, pixel_size=pixel_size, angle_deg=angle_deg, dose=None, background=0.0)
    g2 = layered_oxide(
        shape,
        pixel_size=pixel_size,
        angle_deg=angle_deg + misorientation_deg,
        dose=None,
        background=0.0,
    )
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
    image, expected = _render_sites(cols, shape, pixel_size, dose, seed)
    yy, xx = np.mgrid[0:h, 0:w]
    sd = side(xx, yy)
    gmap = np.where(sd < 0, 1, 2).astype(np.int8)
    ang = np.where(gmap == 1, angle_deg, angle_deg + misorientation_deg).astype(np.float32)
    truth = _flat_truth(
        shape,
        grain=gmap,
        layer_angle_deg=ang,
        rotation=np.deg2rad(angle_deg - ang).astype(np.float32),
        boundary=np.abs(sd) < 0.5,
    )
    params = _case_params(
        shape, pixel_size, dose, seed, angle_deg=angle_deg, misorientation_deg=misorientation_deg
    )
    return RealisticImage(
        case="grains",
        image=image,
        pixel_size=pixel_size,
        columns=_finish_columns(cols, shape),
        truth=truth,
        params=params,
        expected=expected,
    )


# ------------------------------------------------------------------- scoring helpers
def realistic(
    case: str,
    *,
    seed: int = 0,
    shape: tuple[int, int] = (1024, 1024),
    pixel_size: float = 0.02,
    dose: float | None = 200.0,
) -> RealisticImage:
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
    makers = {
        "bend_r15": lambda: bend(15.0, name="bend_r15", **kw),
        "bend_r30": lambda: bend(30.0, name="bend_r30", **kw),
        "ripple": lambda: ripple(**kw),
        "kink": lambda: kink(**kw),
        "surface": lambda: surface(**kw),
        "drift": lambda: drift(**kw),
        "grains": lambda: grains(**kw),
        "o1_bend": lambda: o1_bend(**kw),
        "jpeg": lambda: jpeg(**kw),
    }
    if case not in makers:
        raise ValueError(f"case must be one of {', '.join(CASES)}; got {case!r}")
    return makers[case]()
