"""``stemstrain/_spectra.py``: the exact Hann sub-bin peak position (lattice_map and GPA)."""

from __future__ import annotations

import numpy as np
import pytest

from stemstrain._spectra import at_bins, hann, peak_g, refine_peaks, window_spectra

N = 64


def _tone(fx: float, fy: float) -> np.ndarray:
    y, x = np.mgrid[0:N, 0:N].astype(float)
    return np.cos(2 * np.pi * (fx * x + fy * y) / N)


@pytest.mark.parametrize(
    ("fx", "fy", "tol"),
    [(10.3, -5.7, 1e-6), (-3.45, 7.8, 1e-6), (12.0, 4.0, 1e-6), (0.2, 9.4, 2e-4)],
    ids=["generic", "negative-kx", "on-bin", "kx-below-one-bin"],
)
def test_sub_bin_position_of_a_pure_tone_is_exact(fx, fy, tol):
    """A cosine at a non-integer frequency: (gx, gy) within ``tol`` bins of the truth.

    kx < 1 bin reads the mirrored column kx = -1 (the conjugate bin): a clipped read
    would put the tone 0.5 bin off.
    """
    mag = window_spectra(np, _tone(fx, fy), N, N)[0]
    assert mag.shape == (1, 1, N, N // 2 + 1) and mag.dtype == np.float32
    spec = mag[0, 0]
    g, c0 = refine_peaks(np, spec[None], np.array([[np.argmax(spec)]]), N)
    assert g.shape == (1, 1, 2) and float(c0[0, 0]) == float(spec.max())
    want = np.array([fx, fy]) / N
    want = want if want[0] > 0 or (want[0] == 0 and want[1] > 0) else -want  # kx >= 0 half
    assert np.max(np.abs(g[0, 0] - want)) * N < tol


def test_peak_g_broadcasts_over_windows_and_agrees_with_refine_peaks():
    mags = np.stack([window_spectra(np, _tone(f, 3.3), N, N)[0][0, 0] for f in (5.2, 7.9)])
    flat = mags.reshape(2, -1)
    top = np.argmax(flat, axis=1)
    g, _ = peak_g(np, flat, np.arange(2), top // (N // 2 + 1), top % (N // 2 + 1), N)
    g2, _ = refine_peaks(np, mags, top[:, None], N)
    assert np.array_equal(g, g2[:, 0])
    assert np.allclose(g * N, [[5.2, 3.3], [7.9, 3.3]], atol=1e-5)


def test_mirrored_column_reads_the_conjugate_bin():
    spec = np.arange(N * (N // 2 + 1), dtype=np.float32).reshape(1, -1)
    ncol = N // 2 + 1
    got = at_bins(np, spec, 0, np.array([5, -3]), np.array([-1, 2]), N)
    assert got.tolist() == [((-5) % N) * ncol + 1, (N - 3) * ncol + 2]


def test_hann_is_periodic():
    w = hann(8)
    assert w.dtype == np.float32 and w[0] == 0 and w[4] == 1
    assert np.allclose(w, 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(8) / 8))
