"""The speed paths of GPA against direct definitions (issue 14: <= 4 FFT-equivalents at 4096^2).

Blocked in-place upsampling vs a direct Keys-cubic evaluation, the one-gather validity mask
vs its stencil definition, the one-gather spectrum windows vs the full FFT, the deferred
maps vs the eager ones they must equal, and the sparse g-choice lattice map vs the dense one.
"""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
from gpa_helpers import PX

import stemstrain as ss
from stemstrain.geometric_phase import _core, _gvectors
from stemstrain.geometric_phase._result import Deferred


def _keys(f: np.ndarray) -> np.ndarray:
    """Keys (a = -0.5) weights of the taps at -1, 0, 1, 2 (hand formula), shape (4, n)."""
    d = np.stack([1 + f, f, 1 - f, 2 - f])
    near = 1.5 * d**3 - 2.5 * d**2 + 1
    far = -0.5 * d**3 + 2.5 * d**2 - 4 * d + 2
    return np.where(d <= 1, near, far)


def _direct_matrix(m: int, n: int) -> np.ndarray:
    """Dense (n, m) periodic Keys-cubic resampling matrix, output p at coarse m p / n."""
    pos = np.arange(n) * m / n
    i0 = np.floor(pos).astype(int)
    wts = _keys(pos - i0)
    mat = np.zeros((n, m))
    for t in range(4):
        np.add.at(mat, (np.arange(n), (i0 - 1 + t) % m), wts[t])
    return mat


@pytest.mark.parametrize(
    ("m_y", "m_x", "h", "w", "block"), [(20, 15, 97, 130, 16), (24, 24, 24, 200, 8)]
)
def test_upsample_equals_direct_keys_cubic(m_y, m_x, h, w, block):
    """Blocks (partial last one, periodic wrap at both ends) = the dense resampling matrices."""
    rng = np.random.default_rng(0)
    coarse = rng.normal(size=(2, m_y, m_x)).astype(np.float32)
    mask = rng.random((h, w)) > 0.2
    got = _core.upsample(np, coarse, (h, w), mask, block=block)
    for g, c in zip(got, coarse, strict=True):
        want = _direct_matrix(m_y, h) @ c.astype(float) @ _direct_matrix(m_x, w).T
        assert np.array_equal(np.isnan(g), ~mask)
        assert np.max(np.abs(g[mask] - want[mask])) < 2e-5


def test_full_mask_equals_stencil_definition():
    """Valid = all 4 x 4 coarse samples of the cubic stencil valid, and outside the border band."""
    rng = np.random.default_rng(1)
    m_y, m_x, h, w, border = 18, 13, 101, 77, 5
    valid = rng.random((m_y, m_x)) > 0.1
    iy = np.floor(np.arange(h) * m_y / h).astype(int)
    ix = np.floor(np.arange(w) * m_x / w).astype(int)
    want = np.ones((h, w), dtype=bool)
    for ty in range(-1, 3):
        for tx in range(-1, 3):
            want &= valid[(iy + ty)[:, None] % m_y, (ix + tx)[None, :] % m_x]
    want[:border] = want[-border:] = False
    want[:, :border] = want[:, -border:] = False
    assert np.array_equal(_core._full_mask(np, valid, (h, w), border), want)
    assert want.any() and not want.all()


@pytest.mark.parametrize("shape", [(64, 64), (65, 63)])
def test_gather_window_equals_full_spectrum(shape):
    """Windows of the full FFT from the half spectrum: either half, straddling, at Nyquist."""
    h, w = shape
    img = np.random.default_rng(2).random(shape)
    spec, full = np.fft.rfft2(img), np.fft.fft2(img)
    for k0 in [
        (3, 10),
        (-5, -10),
        (0, 0),
        (7, w // 2 - 4),
        (-3, -(w // 2) + 4),
        (1, -1),
        (5, -w // 2),
    ]:
        for kh in [(0, 0), (2, 3), (4, 4)]:
            ky = (k0[0] + np.arange(-kh[0], kh[0] + 1)) % h
            kx = (k0[1] + np.arange(-kh[1], kh[1] + 1)) % w
            got = _core._gather_window(np, spec, shape, k0, kh)
            assert np.allclose(got, full[ky[:, None], kx[None, :]], atol=1e-9), (k0, kh)


@pytest.fixture(scope="module")
def lazy_result(step_lattice):
    return ss.gpa(step_lattice.image, pixel_size=PX, reference=(64, 448, 32, 200))


def test_deferred_maps_equal_the_tensor_of_the_eager_ones(lazy_result):
    """dilatation and the layer frame (upsampled on first access) = the same tensor's components."""
    r = lazy_result
    names = ("dilatation", "e_nn", "e_tt", "e_nt", "amplitude", "crystalline", "grains")
    assert [k for k in names if isinstance(r.__dict__[k], Deferred)] == list(names)
    n0, n1 = r.normal
    exx, eyy, exy = r.exx, r.eyy, r.exy
    want = {
        "dilatation": exx + eyy,
        "e_nn": n0 * n0 * exx + 2 * n0 * n1 * exy + n1 * n1 * eyy,
        "e_tt": n1 * n1 * exx - 2 * n0 * n1 * exy + n0 * n0 * eyy,
        "e_nt": n0 * n1 * (exx - eyy) + (n1 * n1 - n0 * n0) * exy,
    }
    for k, v in want.items():
        got = getattr(r, k)
        assert got.shape == exx.shape and got.dtype == np.float32
        assert np.array_equal(np.isnan(got), ~r.mask), k
        assert np.nanmax(np.abs(got - v)) < 1e-6, k
    amp = r.amplitude
    assert amp.shape == (2,) + exx.shape and np.all(np.isfinite(amp))
    assert np.allclose(np.median(amp[:, r.mask], axis=1), r.quality["amplitude_median"], rtol=0.02)
    assert r.__dict__["e_nn"] is r.e_nn  # computed once, then a plain array
    assert r.grains.dtype == np.int16 and set(np.unique(r.grains)) == {1}
    assert r.crystalline.shape == exx.shape and 0.9 < r.crystalline[r.mask].mean() <= 1.0


def test_deferred_maps_survive_pickle_and_replace(step_lattice):
    r = ss.gpa(step_lattice.image, pixel_size=PX, reference=(64, 448, 32, 200))
    back = pickle.loads(pickle.dumps(r))
    assert not isinstance(back.__dict__["e_nt"], Deferred)
    assert np.array_equal(back.e_nt, r.e_nt, equal_nan=True)
    r2 = dataclasses.replace(r, warnings=())
    assert np.array_equal(r2.amplitude, r.amplitude)
    assert "e_nn" in r.arrays() and r.arrays()["e_nn"].shape == r.exx.shape


def test_sparse_choice_map_gives_the_same_g(step_lattice, monkeypatch):
    """Every other window (the large-image path) chooses the same reflections as all windows."""
    g_dense, info_dense = _gvectors.find_g_vectors(step_lattice.image, PX)
    monkeypatch.setattr(_gvectors, "_SPARSE_MAP_PX", 256 * 256)
    g_sparse, info = _gvectors.find_g_vectors(step_lattice.image, PX)
    assert info["lattice_step_px"] == 2 * info["crop_px"]
    assert info_dense["lattice_step_px"] < info_dense["crop_px"]
    assert info["choice"].indices == info_dense["choice"].indices
    assert np.max(np.abs(g_sparse - g_dense)) < 0.01 * np.linalg.norm(g_dense, axis=1).min()


def test_sparse_crystal_falls_back_to_the_default_map(monkeypatch):
    """A particle on a support: the g choice takes the default (refined) map, not the sparse."""
    from stemstrain.synthetic import layered_oxide

    s = layered_oxide(
        (512, 512),
        pixel_size=PX,
        angle_deg=12.0,
        dose=200.0,
        seed=4,
        vacuum=lambda x, y: (x - 3.0) ** 2 + (y - 3.5) ** 2 > 2.2**2,
    )
    monkeypatch.setattr(_gvectors, "_SPARSE_MAP_PX", 256 * 256)
    _, info = _gvectors.find_g_vectors(s.image, PX)
    assert info["lattice_step_px"] < info["crop_px"]  # the default map here: overlapping windows
