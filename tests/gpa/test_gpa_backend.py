"""Backends and dtypes: one code path over xp; the GPU check's helpers run on NumPy here."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from gpa_helpers import ANGLE, PX

import stemstrain as ss
from stemstrain._backend import cupy_available
from stemstrain.synthetic import fields, layered_oxide

#: small test fields (256^2 at 0.02 nm): the border-band warning is right there and not
#: what these tests are about (tests/gpa/test_gpa_border.py tests it)
pytestmark = pytest.mark.filterwarnings("ignore:gpa. the border band:UserWarning")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

requires_cupy = pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA GPU")


@pytest.fixture(scope="module")
def image():
    disp = fields.uniform(exx=0.01, eyy=-0.005)
    return layered_oxide(
        (256, 256), pixel_size=PX, angle_deg=ANGLE, displacement=disp, seed=8
    ).image


@pytest.mark.parametrize(
    "device", ["cpu", pytest.param("gpu", marks=[requires_cupy, pytest.mark.gpu])]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_device(image, device, dtype):
    """Results come back as NumPy in the working precision."""
    r = ss.gpa(image, pixel_size=PX, backend="numpy" if device == "cpu" else "cupy", dtype=dtype)
    for name in ("exx", "e_nn", "amplitude"):
        arr = getattr(r, name)
        assert type(arr) is np.ndarray and arr.dtype == dtype
    assert r.backend == ("numpy" if device == "cpu" else "cupy")


def test_float32_matches_float64(image):
    a = ss.gpa(image, pixel_size=PX, dtype=np.float32)
    b = ss.gpa(image, pixel_size=PX, dtype=np.float64)
    ok = a.mask & b.mask
    assert np.array_equal(a.mask, b.mask)
    assert np.max(np.abs(a.exx[ok] - b.exx[ok])) < 2e-5


def test_backend_auto_resolution(image, monkeypatch):
    """backend='auto' is CuPy exactly when CuPy and a GPU are there, else NumPy."""
    import stemstrain._backend as backend

    r = ss.gpa(image, pixel_size=PX, backend="auto")
    assert r.backend == ("cupy" if cupy_available() else "numpy")
    assert type(r.exx) is np.ndarray
    with pytest.raises(ValueError, match="backend"):
        ss.gpa(image, pixel_size=PX, backend="cuda")
    # the rule itself, on any machine: a stand-in module when a GPU is reported, else NumPy
    fake_cupy = object()
    monkeypatch.setattr(backend, "_import_cupy", lambda: fake_cupy)
    monkeypatch.setattr(backend, "cupy_available", lambda: True)
    assert backend.resolve_backend("auto") is fake_cupy
    monkeypatch.setattr(backend, "cupy_available", lambda: False)
    assert backend.resolve_backend("auto") is np


def test_gpu_timing_helper_runs_on_numpy():
    """The GPU check's timing helper is array-module generic (smoke run on NumPy)."""
    from _gpu_gpa import time_gpa

    rows = time_gpa(np, 256, repeats=1)
    assert rows[0]["unit"] == "ms" and rows[0]["value"] > 0
    assert rows[0]["passed"], rows[0]  # computed: the timed pipeline produced valid maps


@requires_cupy
@pytest.mark.gpu
def test_cupy_agrees_with_numpy():
    """CuPy and NumPy strain maps agree to 1e-5 (runs only where CuPy and a GPU exist)."""
    import cupy
    from _gpu_gpa import agreement

    row = agreement(np, cupy, n=512)
    assert row["passed"], row
