"""Shared synthetic EELS data for the eels tests (built once per session: exspy import ~3 s)."""

from __future__ import annotations

import pytest

from stemstrain.synthetic._eels import eels_linescan, eels_spectrum_image


@pytest.fixture(scope="session")
def linescans():
    """Five noisy default line scans (seeds 0..4) and their truth."""
    return [eels_linescan(seed=seed) for seed in range(5)]


@pytest.fixture(scope="session")
def clean_linescan():
    return eels_linescan(seed=None)


@pytest.fixture(scope="session")
def white_line_scans():
    """Noise-free and noisy line scans with Co white lines."""
    return eels_linescan(white_lines=True, seed=None), eels_linescan(white_lines=True, seed=7)


@pytest.fixture(scope="session")
def small_si():
    """A 12 x 16 spectrum image (surface at column 2)."""
    return eels_spectrum_image(shape=(12, 16), seed=3)
