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
from ._lattice import LABELS, SyntheticLattice, layered_oxide, render_columns

__all__ = ["CASES", "RealisticImage", "column_crb", "score_columns"]

CASES = (
    "bend_r15",
    "bend_r30",
    "ripple",
    "kink",
    "surface",
    "drift",
    "low_dose",
    "grains",
    "o1_bend",
    "jpeg",
)
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
        sel = (
            c.detectable
            & (c.x >= margin_px)
            & (c.x <= w - 1 - margin_px)
            & (c.y >= margin_px)
            & (c.y <= h - 1 - margin_px)
        )
        return c[sel].reset_index(drop=True)


# ----------------------------------------------------------------------------- helpers
def _poisson(ideal: np.ndarray, dose: float | None, seed: int):
    """Return (image, expected counts or None)."""
    if dose is None:
        return ideal.astype(np.float32), None
    rng = np.random.default_rng(seed)
    expected = np.clip(ideal, 0, None) * dose
    return rng.poisson(expected).astype(np.float32), expected.astype(np.float32)


def _render_sites(cols: pd.DataFrame, shape, pixel_size: float, dose, seed: int, background=0.05):
    """Render the drawn sites of ``cols`` (Gaussians of width _SIGMA) + background, with noise."""
    drawn = cols[cols.amplitude > 0]
    ideal = render_columns(drawn.x, drawn.y, drawn.amplitude, _SIGMA / pixel_size, shape)
    return _poisson(ideal + background, dose, seed)


def _flat_truth(shape, **maps) -> dict:
    """Truth maps of one unstrained, flat O3 grain filling the field, updated by ``maps``."""
    zero = np.zeros(shape, np.float32)
    truth = {
        "crystal": np.ones(shape, bool),
        "grain": np.ones(shape, np.int8),
        "curvature": zero,
        "e_tt": zero,
        "e_nn": zero,
        "e_nt": zero,
        "labels": np.full(shape, LABELS["O3"], np.uint8),
        "registry": np.full(shape, 1 / 3, np.float32),
    }
    truth.update(maps)
    return truth


def _case_params(shape, pixel_size, dose, seed, **case) -> dict:
    """Params of a case drawn here (not by one layered_oxide call): geometry, spacings, noise."""
    geometry = dict(shape=shape, pixel_size=pixel_size, **case)
    return {
        **geometry,
        "c_spacing": _D,
        "a_spacing": _A,
        "sigma_nm": _SIGMA,
        "dose": dose,
        "seed": seed,
    }


def _noisy_lattice(shape, dose, seed, **kw):
    """Return a layered_oxide lattice with Poisson noise drawn here (expectation kept)."""
    lat = layered_oxide(shape, dose=None, dtype=np.float64, seed=seed, **kw)
    image, expected = _poisson(lat.image, dose, seed)
    return _replace_image(lat, image), expected


def _detectable(cols: pd.DataFrame) -> np.ndarray:
    sp = cols.species.to_numpy()
    return ((sp == "TM") & (cols.amplitude.to_numpy() >= 0.3)) | (
        (sp == "Li") & (cols.amplitude.to_numpy() >= 0.5)
    )


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
    f = lat.deformation_gradient(*coords)
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
    return {
        "layer_angle_deg": np.rad2deg(phi).astype(np.float32),
        "rotation": (-turn).astype(np.float32),
        "e_tt": (tt - 1).astype(np.float32),
        "e_nn": (nn - 1).astype(np.float32),
        "e_nt": (0.5 * (tn + nt)).astype(np.float32),
    }


def _labels_from_registry(reg: np.ndarray) -> np.ndarray:
    lab = np.zeros(reg.shape, np.uint8)
    ok = np.isfinite(reg)
    r = np.abs(np.where(ok, reg, 0))
    lab[ok & (r <= 1 / 6)] = LABELS["O1"]
    lab[ok & (r > 1 / 6)] = LABELS["O3"]
    return lab


def _lattice_case(
    name,
    lat,
    *,
    curvature,
    extra=None,
    params=None,
    expected=None,
) -> RealisticImage:
    truth = _layer_frame_truth(lat)
    coord = lat.gap_coordinate_map()
    crystal = np.isfinite(coord)
    reg = lat.registry_map_truth()
    truth.update(
        crystal=crystal,
        grain=crystal.astype(np.int8),
        registry=reg.astype(np.float32),
        labels=_labels_from_registry(reg),
        labels_nominal=lat.label_map_truth(),
        curvature=np.where(crystal, curvature, np.nan).astype(np.float32),
    )
    if extra:
        truth.update(extra)
    cols = _finish_columns(lat.columns, lat.shape)
    return RealisticImage(
        case=name,
        image=lat.image,
        pixel_size=lat.pixel_size,
        columns=cols,
        truth=truth,
        params={**lat.params, **(params or {})},
        lattice=lat,
        expected=expected,
    )


def _pixel_nm(shape, pixel_size):
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    return (xx - (w - 1) / 2) * pixel_size, (yy - (h - 1) / 2) * pixel_size


# ------------------------------------------------------------------------------ cases
def bend(
    radius_nm: float = 15.0,
    *,
    shape=(1024, 1024),
    pixel_size: float = 0.02,
    angle_deg: float = 5.0,
    o1_gaps=None,
    dose: float | None = 200.0,
    seed: int = 0,
    name: str = "bend",
) -> RealisticImage:
    """Slipping bend: every layer a circular arc that keeps its arc length.

    The centre of curvature lies ``radius_nm`` along +n from the image centre; layer k
    (normal coordinate n_k) has radius ``R - n_k`` and curvature ``1 / (R - n_k)``.
    """
    lat, expected = _noisy_lattice(
        shape,
        dose,
        seed,
        pixel_size=pixel_size,
        angle_deg=angle_deg,
        bend_radius_nm=radius_nm,
        bend_mode="slip",
        o1_gaps=o1_gaps,
    )
    x, y = _pixel_nm(shape, pixel_size)
    t, n = _fields.layer_frame(angle_deg)
    r = np.hypot(x - radius_nm * n[0], y - radius_nm * n[1])
    return _lattice_case(
        name,
        lat,
        curvature=np.sign(radius_nm) / r,
        params={"radius_nm": radius_nm, "dose": dose},
        expected=expected,
    )


def ripple(
    *,
    shape=(1024, 1024),
    pixel_size: float = 0.02,
    angle_deg: float = -4.0,
    amplitude_nm: float = 0.58,
    width_nm: float = 2.0,
    separation_nm: float = 10.0,
    dose: float | None = 200.0,
    seed: int = 0,
) -> RealisticImage:
    """Two Gaussian ripples of opposite sign; tilt up to atan(A / w e^-1/2) (10 deg)."""
    s0 = 0.5 * separation_nm
    u = _fields.combine(
        _fields.ripple(amplitude_nm, width_nm, angle_deg=angle_deg, s0_nm=-s0),
        _fields.ripple(-amplitude_nm, width_nm, angle_deg=angle_deg, s0_nm=s0),
    )
    lat, expected = _noisy_lattice(
        shape, dose, seed, pixel_size=pixel_size, angle_deg=angle_deg, displacement=u
    )
    x, y = _pixel_nm(shape, pixel_size)
    xr, yr = lat._reference_of(x, y)
    t, _ = _fields.layer_frame(angle_deg)
    s = xr * t[0] + yr * t[1]
    # the two ripples overlap a little: the exact curvature of the sum f(s)
    z1, z2 = (s + s0) / width_nm, (s - s0) / width_nm
    f1 = amplitude_nm * (-z1 * np.exp(-(z1**2) / 2) + z2 * np.exp(-(z2**2) / 2)) / width_nm
    f2 = (
        amplitude_nm
        * ((z1**2 - 1) * np.exp(-(z1**2) / 2) - (z2**2 - 1) * np.exp(-(z2**2) / 2))
        / width_nm**2
    )
    kappa = f2 / (1 + f1**2) ** 1.5
    sg = np.linspace(-s0 - 4 * width_nm, s0 + 4 * width_nm, 20001)
    zg1, zg2 = (sg + s0) / width_nm, (sg - s0) / width_nm
    slope = amplitude_nm * (-zg1 * np.exp(-(zg1**2) / 2) + zg2 * np.exp(-(zg2**2) / 2)) / width_nm
    tilt = float(np.rad2deg(np.arctan(np.abs(slope).max())))
    return _lattice_case(
        "ripple",
        lat,
        curvature=kappa,
        params={
            "amplitude_nm": amplitude_nm,
            "width_nm": width_nm,
            "separation_nm": separation_nm,
            "max_tilt_deg": tilt,
            "dose": dose,
        },
        expected=expected,
    )


def o1_bend(
    *,
    shape=(1024, 1024),
    pixel_size: float = 0.02,
    radius_nm: float = 25.0,
    o1_gaps=(-2, 1),
    dose: float | None = 200.0,
    seed: int = 0,
) -> RealisticImage:
    """Generate an O1 band (gaps ``o1_gaps``, spacing 0.445 nm) in a slipping R = 25 nm bend."""
    return bend(
        radius_nm,
        shape=shape,
        pixel_size=pixel_size,
        o1_gaps=o1_gaps,
        dose=dose,
        seed=seed,
        name="o1_bend",
    )


def low_dose(
    *,
    shape=(1024, 1024),
    pixel_size: float = 0.02,
    angle_deg: float = 7.0,
    counts_per_column: float = 40.0,
    thickness=(0.5, 1.5),
    seed: int = 0,
) -> RealisticImage:
    """Thickness gradient along x (amplitude and background scale with it) at low dose."""
    lat = layered_oxide(shape, pixel_size=pixel_size, angle_deg=angle_deg, dose=None)
    h, w = shape
    cols = lat.columns.copy()
    tk = thickness[0] + (thickness[1] - thickness[0]) * np.clip(cols.x.to_numpy() / (w - 1), 0, 1)
    cols["amplitude"] = cols.amplitude.to_numpy() * tk
    bg = 0.05 * (thickness[0] + (thickness[1] - thickness[0]) * np.arange(w) / (w - 1))
    image, expected = _render_sites(cols, shape, pixel_size, counts_per_column, seed, bg[None, :])
    lat = _replace_image(lat, image, columns=cols)
    return _lattice_case(
        "low_dose",
        lat,
        curvature=np.zeros(shape),
        params={
            "counts_per_column": counts_per_column,
            "dose": counts_per_column,
            "thickness": tuple(thickness),
        },
        expected=expected,
    )


def _replace_image(lat: SyntheticLattice, image, **kw) -> SyntheticLattice:
    from dataclasses import replace

    return replace(lat, image=np.asarray(image, np.float32), **kw)


def _replace(rec: RealisticImage, **kw) -> RealisticImage:
    from dataclasses import replace

    return replace(rec, **kw)


def jpeg(
    *,
    shape=(1024, 1024),
    pixel_size: float = 0.02,
    quality: int = 75,
    dose: float | None = 200.0,
    seed: int = 0,
) -> RealisticImage:
    """Generate a gently rippled crystal (tilt 5 deg) saved as 8-bit JPEG and read back."""
    from PIL import Image

    rec = ripple(
        shape=shape,
        pixel_size=pixel_size,
        amplitude_nm=0.29,
        width_nm=2.0,
        angle_deg=3.0,
        dose=dose,
        seed=seed,
    )
    img = rec.image
    lo, hi = float(img.min()), float(np.percentile(img, 99.9))
    u8 = np.clip((img - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    back = np.asarray(Image.open(buf).convert("L"), dtype=np.float32)
    return _replace(
        rec,
        case="jpeg",
        image=back,
        params={
            **rec.params,
            "jpeg_quality": quality,
            "jpeg_bytes": buf.getbuffer().nbytes,
            "intensity_scale": 255 / (hi - lo),
            "intensity_offset": lo,
        },
    )


# ------------------------------------------------------------------------------- kink
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
    jac = np.stack(
        [
            a * g * dx / sig**2,
            a * g * dy / sig**2,
            g,
            a * g * (dx**2 + dy**2) / sig**3,
            np.ones_like(g),
        ],
        axis=-1,
    )
    wgt = np.where(ok, 1.0 / mu, 0.0)
    fisher = np.einsum("nyxi,nyx,nyxj->nij", jac, wgt, jac)
    cov = np.linalg.inv(fisher + 1e-12 * np.eye(5))
    return np.sqrt(cov[:, 0, 0] + cov[:, 1, 1])


def score_columns(
    rec: RealisticImage,
    found_x,
    found_y,
    *,
    margin_px: float | None = None,
    match_px: float | None = None,
) -> dict:
    """Recall, spurious fraction, RMS error and Cramer-Rao bound of found columns.

    Truth = ``rec.detectable_columns(margin_px=margin_px)`` (default margin 2 sigma + 1
    px: columns cut by the border are not scored); found columns in the same region are
    scored. A truth column is matched by the found column nearest to it if they are
    mutual nearest neighbours within ``match_px`` (default 0.3 in-plane period).
    Returns ``recall, spurious, rms_px`` (2-D), ``crb_px`` (RMS of the 2-D bound over
    the matched columns, NaN without noise), ``n_truth, n_found, n_matched``.
    """
    from scipy.spatial import cKDTree

    sig = float(rec.params.get("sigma_nm", _SIGMA)) / rec.pixel_size
    margin = 2 * sig + 1 if margin_px is None else float(margin_px)
    match = 0.3 * _A / rec.pixel_size if match_px is None else float(match_px)
    det = rec.columns[rec.columns.detectable.to_numpy()].reset_index(drop=True)
    h, w = rec.shape
    in_t = (
        (det.x >= margin)
        & (det.x <= w - 1 - margin)
        & (det.y >= margin)
        & (det.y <= h - 1 - margin)
    ).to_numpy()
    truth = det[in_t]
    tj = np.flatnonzero(in_t)
    fx, fy = np.asarray(found_x, float), np.asarray(found_y, float)
    region = (fx >= margin) & (fx <= w - 1 - margin) & (fy >= margin) & (fy <= h - 1 - margin)
    fxy = np.c_[fx[region], fy[region]]
    txy = np.c_[truth.x, truth.y]
    if len(fxy) == 0 or len(txy) == 0:
        return dict(
            recall=0.0,
            spurious=float(len(fxy) > 0),
            rms_px=np.nan,
            crb_px=np.nan,
            n_truth=len(txy),
            n_found=len(fxy),
            n_matched=0,
        )
    d_tf, i_tf = cKDTree(fxy).query(txy)
    _, i_ft = cKDTree(np.c_[det.x, det.y]).query(fxy)
    keep = (d_tf <= match) & (i_ft[i_tf] == tj)  # mutual nearest neighbours
    n_match = int(keep.sum())
    err = fxy[i_tf[keep]] - txy[keep]
    rms = float(np.sqrt(np.mean(np.sum(err**2, axis=1)))) if n_match else np.nan
    crb = np.nan
    if rec.expected is not None and n_match:
        crb = float(np.sqrt(np.mean(column_crb(rec, truth[keep]) ** 2)))
    used = np.zeros(len(fxy), bool)
    used[i_tf[keep]] = True
    return dict(
        recall=n_match / len(txy),
        spurious=float(1 - used.mean()),
        rms_px=rms,
        crb_px=crb,
        n_truth=len(txy),
        n_found=len(fxy),
        n_matched=n_match,
    )


# ------------------------------------------------------------------------ entry point
