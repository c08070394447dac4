"""GPU checks of the GPA core, called by ``benchmarks/gpu_check.py``.

:func:`run_gpu_gpa_checks` compares CuPy against NumPy (same internal function
:func:`stemstrain.geometric_phase._core.gpa_arrays`, same inputs) and times the device pipeline at
4096^2 and 8192^2 with proper synchronisation (a warm-up call, then
``Device.synchronize()`` before every clock read). Every helper takes the array
module ``xp`` as an argument, so the tests run the very same code with ``xp=numpy``.
"""

from __future__ import annotations

import math
import time
from types import ModuleType
from typing import Callable

import numpy as np

from stemstrain.geometric_phase._api import default_sigma
from stemstrain.geometric_phase._core import gpa_arrays
from stemstrain.synthetic import fields, layered_oxide

PX = 0.02
ANGLE = 12.0
MAPS = ("exx", "eyy", "exy", "rotation", "e_nn", "e_tt", "e_nt")


def reciprocal_px(angle_deg: float = ANGLE) -> np.ndarray:
    """Exact (003) and in-plane g of the generator's lattice, cycles/px."""
    t, n = fields.layer_frame(angle_deg)
    return np.array([n / 0.468, t / 0.244 - n / (3 * 0.468)]) * PX


def device_lattice(xp: ModuleType, n: int, seed: int = 0) -> object:
    """An n x n float32 lattice image built on the device (sum of Bragg cosines + noise)."""
    g = reciprocal_px()
    y = xp.arange(n, dtype=xp.float32)[:, None]
    x = xp.arange(n, dtype=xp.float32)[None, :]
    img = xp.full((n, n), 3.0, dtype=xp.float32)
    for i, j, amp in [(1, 0, 1.0), (0, 1, 0.7), (1, 1, 0.6), (2, 0, 0.5), (1, -1, 0.5)]:
        gv = i * g[0] + j * g[1]
        img += xp.float32(amp) * xp.cos(
            xp.float32(2 * math.pi) * (xp.float32(gv[0]) * x + xp.float32(gv[1]) * y)
        )
    rng = np.random.default_rng(seed)
    noise = xp.asarray(rng.standard_normal((n, n)).astype(np.float32))
    return img + xp.float32(0.2) * noise


def _sync(xp: ModuleType) -> Callable[[], None]:
    if xp is np:
        return lambda: None
    return xp.cuda.Device().synchronize


def agreement(xp_ref: ModuleType, xp_test: ModuleType, n: int = 512) -> dict:
    """Max |difference| of the strain maps between two array modules (float32)."""
    disp = fields.strain_step(-0.01, 0.02, angle_deg=ANGLE, along="t")
    s = layered_oxide((n, n), pixel_size=PX, angle_deg=ANGLE, displacement=disp, seed=1)
    g = reciprocal_px()
    sigma = default_sigma(g)
    ref = np.zeros(s.shape, dtype=bool)
    ref[n // 8 : -n // 8, n // 10 : n // 3] = True
    outs = []
    for xp in (xp_ref, xp_test):
        o = gpa_arrays(xp, xp.asarray(s.image), g, sigma, ref, dtype=np.float32)
        outs.append({k: _host(o[k]) for k in MAPS})
    worst, mask_diff = 0.0, 0.0
    for k in MAPS:
        a, b = outs[0][k], outs[1][k]
        # pixels exactly at the amplitude threshold may flip between backends
        mask_diff = max(mask_diff, float(np.mean(np.isnan(a) != np.isnan(b))))
        ok = np.isfinite(a) & np.isfinite(b)
        worst = max(worst, float(np.max(np.abs(a[ok] - b[ok]))) if ok.any() else math.inf)
    return {
        "row": f"gpa {n}x{n} {_name(xp_test)} vs {_name(xp_ref)}: max |strain diff|",
        "value": worst,
        "unit": "strain",
        "note": f"target <= 1e-5 where both valid; valid masks differ on {mask_diff:.1e} "
        "of pixels (allowed <= 1e-3)",
        "passed": bool(worst <= 1e-5 and mask_diff <= 1e-3),
    }


def _host(x):
    return x.get() if hasattr(x, "get") else np.asarray(x)


def _name(xp: ModuleType) -> str:
    return "numpy" if xp is np else "cupy"


def time_gpa(xp: ModuleType, n: int, repeats: int = 10) -> list[dict]:
    """Device time of the GPA pipeline (image already on the device, g given) and of one
    complex64 FFT of the same size, both synchronised."""
    fft = xp.fft if xp is not np else None
    img = device_lattice(xp, n)
    g = reciprocal_px()
    sigma = default_sigma(g)
    ref = np.ones((n, n), dtype=bool)
    sync = _sync(xp)
    out = gpa_arrays(xp, img, g, sigma, ref)  # warm-up: plans, kernels, memory pool
    sync()
    # the timed pipeline must produce maps: the (uniform) lattice is valid almost everywhere
    valid = float(np.mean(np.isfinite(_host(out["exx"])))) if "exx" in out else 0.0
    del out
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        gpa_arrays(xp, img, g, sigma, ref)
        sync()
        times.append(time.perf_counter() - t0)
    rows = [
        {
            "row": f"gpa {n}x{n} full tensor ({_name(xp)})",
            "value": min(times) * 1e3,
            "unit": "ms",
            "note": f"min of {repeats}, median {np.median(times) * 1e3:.3g} ms; "
            f"8 maps + amplitudes on the device, float32; finite exx on {valid:.0%}",
            "passed": bool(0 < min(times) < math.inf and valid >= 0.5),
        }
    ]
    if fft is not None:
        z = img.astype(xp.complex64)
        fft.fft2(z)
        sync()
        ft = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fft.fft2(z)
            sync()
            ft.append(time.perf_counter() - t0)
        rows.append(
            {
                "row": f"one complex64 fft2 {n}x{n} (cupy)",
                "value": min(ft) * 1e3,
                "unit": "ms",
                "note": f"ratio gpa/fft = {min(times) / min(ft):.2f}",
                "passed": bool(0 < min(ft) < math.inf),
            }
        )
    return rows


def run_gpu_gpa_checks(
    xp: ModuleType | None = None, sizes: tuple[int, ...] = (4096, 8192), repeats: int = 10
) -> list[dict]:
    """CuPy-vs-NumPy agreement and device timings; ``xp`` defaults to CuPy.

    Returns a list of dicts (``row, value, unit, note, passed``) for ``gpu_check.py``.
    """
    if xp is None:
        from stemstrain._backend import resolve_backend

        xp = resolve_backend("cupy")
    rows = [agreement(np, xp)]
    for n in sizes:
        try:
            rows.extend(time_gpa(xp, n, repeats))
        except Exception as exc:
            rows.append(
                {
                    "row": f"gpa {n}x{n} ({_name(xp)})",
                    "value": None,
                    "unit": "ms",
                    "note": f"{type(exc).__name__}: {exc}",
                    "passed": False,
                }
            )
    return rows
