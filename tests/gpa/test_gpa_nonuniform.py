"""The reference=None "non-uniform" warning: region-scale variation, not pixel scatter."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import stemstrain as ss

PX = 0.02


def _lattice(n=384, wave=0.0, step=0.0, seed=0):
    """Square cosine lattice (0.3 nm, with its g1 + g2 spots); ``wave``: exx = wave *
    cos(2 pi x / 48 px) (zero mean over any 1/8-field region); ``step``: the right half
    stretched along x (a region-scale strain)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    xs = xx - wave * 48 / (2 * np.pi) * np.sin(2 * np.pi * xx / 48)
    xs = np.where(xs > n / 2, n / 2 + (xs - n / 2) / (1 + step), xs)
    k = 2 * np.pi * PX / 0.3
    img = 10 + np.cos(k * xs) + np.cos(k * yy) + np.cos(k * xs) * np.cos(k * yy)
    return rng.poisson(img * 30).astype(np.float32)


def test_pixel_scale_variation_with_the_mean_lattice_typical_does_not_warn():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = ss.gpa(_lattice(wave=0.03), PX)
    assert not any("non-uniform" in str(x.message) for x in w)
    p10, p90 = np.nanpercentile(r.exx, [10, 90])
    assert p90 - p10 > 0.015  # the pixel maps do vary (the old pixel-spread rule warned)


def test_region_scale_strain_warns_with_its_size():
    with pytest.warns(UserWarning, match=r"non-uniform image: exx varies by [2-4]\.\d %"):
        ss.gpa(_lattice(step=0.03), PX)
