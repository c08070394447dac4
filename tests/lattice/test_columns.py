"""find_columns against the generator's analytic column positions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from stemstrain import InputShapeError, NoLatticeError, StemstrainError
from stemstrain.lattice import find_columns
from stemstrain.lattice._columns import estimate_lattice
from stemstrain.synthetic import fields, layered_oxide


def match(truth, found, period_px):
    """RMS (2-D and per axis), recall and spurious fraction of found vs truth TM columns."""
    tree = cKDTree(np.c_[found.x, found.y])
    d, i = tree.query(np.c_[truth.x, truth.y])
    ok = d < 0.3 * period_px
    dx = found.x.to_numpy()[i[ok]] - truth.x.to_numpy()[ok]
    dy = found.y.to_numpy()[i[ok]] - truth.y.to_numpy()[ok]
    matched = np.zeros(len(found), dtype=bool)
    matched[i[ok]] = True
    return dict(
        rms=float(np.sqrt(np.mean(d[ok] ** 2))),
        rms_axis=float(np.sqrt(np.mean(np.r_[dx, dy] ** 2))),
        recall=float(ok.mean()),
        unmatched=~matched,
    )


def hard_lattice(dose, seed=0, shape=(448, 448)):
    """Rotated, bent, O1 band, dislocation, Poisson noise."""
    angle = 12.0
    disl = fields.edge_dislocation((1.2, -0.8), (0.244 / 3, 0.468), angle_deg=angle)
    return layered_oxide(
        shape,
        angle_deg=angle,
        bend_radius_nm=45.0,
        o1_gaps=(2, 4),
        displacement=disl,
        dose=dose,
        seed=seed,
    )


@pytest.fixture(scope="module")
def hard300():
    lat = hard_lattice(300.0)
    return lat, find_columns(lat.image, pixel_size=lat.pixel_size)


def spurious_fraction(lat, found):
    """Found columns not within 0.3 period of any TM column (inside or just outside)."""
    all_tm = lat.tm_columns(inside=False)
    d, _ = cKDTree(np.c_[all_tm.x, all_tm.y]).query(np.c_[found.x, found.y])
    return float(np.mean(d > 0.3 * 0.244 / lat.pixel_size))


def test_hard_lattice_precision_recall_spurious(hard300):
    lat, cols = hard300
    m = match(lat.tm_columns(), cols, 0.244 / lat.pixel_size)
    # dose 300 counts/peak: Cramer-Rao bound ~0.041 px (2-D); atomap ~0.09 px
    assert m["rms"] <= 0.05
    assert m["recall"] >= 0.99
    assert spurious_fraction(lat, cols) <= 0.01


def test_dose200_per_axis_precision():
    lat = hard_lattice(200.0, seed=3, shape=(320, 320))
    cols = find_columns(lat.image, pixel_size=lat.pixel_size)
    m = match(lat.tm_columns(), cols, 0.244 / lat.pixel_size)
    # Cramer-Rao bound at this dose: 0.035 px per axis, 0.050 px 2-D
    assert m["rms_axis"] <= 0.042
    assert m["rms"] <= 0.06
    assert m["recall"] >= 0.99
    assert spurious_fraction(lat, cols) <= 0.01


def test_amplitude_sigma_and_attrs(hard300):
    lat, cols = hard300
    assert set(["x", "y", "amplitude", "sigma", "layer", "layer_pos", "s", "n"]) <= set(cols)
    sigma_px = lat.params["sigma_nm"] / lat.pixel_size
    assert np.nanmedian(cols.sigma) == pytest.approx(sigma_px, rel=0.03)
    assert np.median(cols.amplitude) == pytest.approx(300.0, rel=0.05)
    a = cols.attrs
    assert a["pixel_size"] == lat.pixel_size
    t_true = np.array([np.cos(np.deg2rad(12)), np.sin(np.deg2rad(12))])
    n_true = np.array([-t_true[1], t_true[0]])
    # bend and dislocation tilt the layers locally; the global normal stays within 3 deg
    assert np.degrees(np.arccos(abs(np.dot(a["normal"], n_true)))) < 3.0
    assert a["normal"][1] > 0
    assert a["tangent"] == pytest.approx((a["normal"][1], -a["normal"][0]))
    assert a["period_px"] == pytest.approx(0.244 / lat.pixel_size, rel=0.05)
    assert cols.s.to_numpy() == pytest.approx(cols.x * a["tangent"][0] + cols.y * a["tangent"][1])


@pytest.mark.parametrize("angle", [0.0, 33.0, -61.0])
def test_lattice_estimate_from_fft(angle):
    lat = layered_oxide((256, 256), angle_deg=angle, seed=2)
    est = estimate_lattice(lat.image)
    n_true = np.array([-np.sin(np.deg2rad(angle)), np.cos(np.deg2rad(angle))])
    assert abs(np.dot(est.normal, n_true)) > np.cos(np.deg2rad(0.5))
    assert est.normal[1] > 0
    assert est.spacing_px == pytest.approx(0.468 / 0.02, rel=0.01)
    assert est.period_px == pytest.approx(0.244 / 0.02, rel=0.02)


def test_o_columns_not_taken_as_tm():
    lat = layered_oxide((256, 256), angle_deg=-20, o_amplitude=0.2, dose=400, seed=5)
    cols = find_columns(lat.image, pixel_size=lat.pixel_size)
    o = lat.columns[lat.columns.species == "O"]
    d, _ = cKDTree(np.c_[o.x, o.y]).query(np.c_[cols.x, cols.y])
    assert np.all(d > 2.0)  # no detection sits on an O column
    m = match(lat.tm_columns(), cols, 0.244 / lat.pixel_size)
    assert m["recall"] >= 0.99


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
def test_dtypes_agree(dtype, monkeypatch):
    """float32 is worked in float32 (no silent upcast), integers in float64; same columns."""
    import stemstrain.lattice._columns as columns_module

    seen = []
    candidates = columns_module._candidates

    def spy(img, *args, **kwargs):
        seen.append(img.dtype)
        return candidates(img, *args, **kwargs)

    lat = layered_oxide((192, 192), angle_deg=8, dose=300, seed=4, dtype=np.float64)
    ref = find_columns(lat.image, pixel_size=0.02)
    monkeypatch.setattr(columns_module, "_candidates", spy)
    cols = find_columns(lat.image.astype(dtype), pixel_size=0.02)
    assert seen == [np.dtype(np.float32 if dtype == np.float32 else np.float64)]
    assert len(cols) == len(ref)
    assert np.abs(cols.x.to_numpy() - ref.x.to_numpy()).max() < 2e-3


def test_noise_free_is_exact():
    lat = layered_oxide((192, 192), angle_deg=25, dose=None, dtype=np.float64)
    cols = find_columns(lat.image)
    tm = lat.tm_columns()
    interior = (tm.x > 6) & (tm.x < 185) & (tm.y > 6) & (tm.y < 185)
    m = match(tm[interior], cols, 12.2)
    assert m["rms"] < 0.01
    assert cols.attrs["pixel_size"] is None


def test_trace_false_leaves_layers_unassigned():
    lat = layered_oxide((160, 160), seed=1)
    cols = find_columns(lat.image, pixel_size=0.02, trace=False, refine=False)
    assert (cols.layer == -1).all()
    assert np.all(np.mod(cols.x, 1) == 0)


def test_nan_raises():
    img = layered_oxide((128, 128)).image.copy()
    img[5, 5] = np.nan
    with pytest.raises(StemstrainError, match="NaN"):
        find_columns(img)


def test_noise_has_no_lattice():
    img = np.random.default_rng(0).poisson(50.0, (256, 256)).astype(float)
    with pytest.raises(NoLatticeError, match="no lattice"):
        find_columns(img)


def test_flat_image_has_no_lattice():
    with pytest.raises(NoLatticeError, match="no lattice"):
        find_columns(np.ones((128, 128)))


def test_too_small_raises():
    with pytest.raises(NoLatticeError, match="too small"):
        find_columns(np.ones((8, 8)))


def test_too_few_columns_raises():
    img = np.zeros((200, 200))
    yy, xx = np.mgrid[0:200, 0:200]
    for cx, cy in [(50, 50), (62, 50)]:
        img += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 8.0)
    with pytest.raises(NoLatticeError):
        find_columns(img)


def test_bad_threshold_and_shape():
    img = layered_oxide((128, 128)).image
    with pytest.raises(StemstrainError, match="threshold"):
        find_columns(img, threshold=1.5)
    with pytest.raises(StemstrainError, match="n_iter"):
        find_columns(img, n_iter=0)
    with pytest.raises(InputShapeError, match="2-D"):
        find_columns(np.stack([img, img]))


def test_vacuum_region_and_surface():
    """A particle surface: most of the image vacuum, columns only on one side."""
    lat = layered_oxide(
        (320, 320), angle_deg=10.0, vacuum=lambda x, y: x + 0.3 * y > -1.2, dose=200, seed=3
    )
    cols = find_columns(lat.image, pixel_size=lat.pixel_size)
    tm = lat.tm_columns()
    assert len(tm) < 0.4 * 320 * 320 / (12.2 * 23.4)
    m = match(tm, cols, 12.2)
    assert m["recall"] >= 0.99
    assert spurious_fraction(lat, cols) <= 0.01
    assert (cols.layer >= 0).all()


@pytest.mark.gpu
def test_cupy_backend_matches_numpy():
    cp = pytest.importorskip("cupy")
    from stemstrain._backend import cupy_available

    if not cupy_available():
        pytest.skip("no CUDA device")
    lat = layered_oxide((256, 256), angle_deg=15.0, dose=200, seed=8)
    ref = find_columns(lat.image, pixel_size=0.02)
    gpu = find_columns(cp.asarray(lat.image), pixel_size=0.02, backend="cupy")
    assert len(gpu) == len(ref)
    assert np.abs(gpu.x.to_numpy() - ref.x.to_numpy()).max() < 1e-2
    assert np.array_equal(gpu.layer.to_numpy(), ref.layer.to_numpy())
