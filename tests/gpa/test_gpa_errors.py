"""Every user error raises a StemstrainError naming the input and the fix."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gpa_helpers import ANGLE, PX, reciprocal_basis

import stemstrain as ss
from stemstrain.errors import InputShapeError, NoLatticeError, StemstrainError
from stemstrain.geometric_phase import propose_reference
from stemstrain.synthetic import layered_oxide

#: small test fields (256^2 at 0.02 nm): the border-band warning is right there and not
#: what these tests are about (tests/gpa/test_gpa_border.py tests it)
pytestmark = pytest.mark.filterwarnings("ignore:gpa. the border band:UserWarning")


@pytest.fixture(scope="module")
def lattice():
    return layered_oxide((256, 256), pixel_size=PX, angle_deg=ANGLE, dose=200.0, seed=1).image


def test_not_2d(lattice):
    with pytest.raises(InputShapeError, match="2-D"):
        ss.gpa(np.stack([lattice, lattice]), pixel_size=PX)


def test_nan(lattice):
    img = lattice.copy()
    img[5, 5] = np.nan
    with pytest.raises(StemstrainError, match="NaN"):
        ss.gpa(img, pixel_size=PX)


def test_constant():
    with pytest.raises(NoLatticeError, match="constant"):
        ss.gpa(np.full((128, 128), 3.0), pixel_size=PX)


def test_no_lattice_in_noise():
    noise = np.random.default_rng(0).poisson(20.0, (256, 256)).astype(np.float32)
    with pytest.raises(NoLatticeError, match="no Bragg peaks|one direction"):
        ss.gpa(noise, pixel_size=PX)


def test_only_fringes_in_one_direction():
    yy = np.arange(256)[:, None] * np.ones((1, 256))
    fringes = 10 + np.cos(2 * np.pi * yy / 9.3)
    with pytest.raises(NoLatticeError, match="non-collinear"):
        ss.gpa(fringes, pixel_size=PX)


def test_g_collinear(lattice):
    g = reciprocal_basis(ANGLE)
    with pytest.raises(StemstrainError, match="collinear"):
        ss.gpa(lattice, pixel_size=PX, g=[g[0], 2 * g[0]])


def test_g_all_collinear_three(lattice):
    g = reciprocal_basis(ANGLE)
    with pytest.raises(StemstrainError, match="collinear"):
        ss.gpa(lattice, pixel_size=PX, g=[g[0], 2 * g[0], -g[0]])


@pytest.mark.parametrize(
    "g, match",
    [
        ("fft", "'auto'"),
        ([(1.0, 2.0)], "two finite"),
        ([(1.0, np.nan), (2.0, 0.0)], "two finite"),
        ([(0.0, 0.0), (2.0, 0.0)], "zero"),
        ([(30.0, 0.0), (0.0, 2.0)], "Nyquist"),
        (object(), "'auto'"),
    ],
)
def test_g_bad(lattice, g, match):
    with pytest.raises(StemstrainError, match=match):
        ss.gpa(lattice, pixel_size=PX, g=g)


@pytest.mark.parametrize(
    "reference, match",
    [
        ((0, 300, 0, 100), "outside"),
        ((-5, 100, 0, 100), "outside"),
        ((50, 40, 0, 100), "outside"),
        ((0, 10, 0), "row0, row1"),
        ("left", "row0, row1"),
        ((0.5, 10, 0, 10), "row0, row1"),
    ],
)
def test_reference_outside_or_malformed(lattice, reference, match):
    with pytest.raises(StemstrainError, match=match):
        ss.gpa(lattice, pixel_size=PX, reference=reference)


def test_reference_mask_wrong(lattice):
    with pytest.raises(StemstrainError, match="shape"):
        ss.gpa(lattice, pixel_size=PX, reference=np.ones((10, 10), dtype=bool))
    with pytest.raises(StemstrainError, match="boolean"):
        ss.gpa(lattice, pixel_size=PX, reference=np.ones(lattice.shape))
    with pytest.raises(StemstrainError, match="fewer than 4"):
        ss.gpa(lattice, pixel_size=PX, reference=np.zeros(lattice.shape, dtype=bool))


def test_reference_in_vacuum(lattice):
    img = lattice.copy()
    img[:, 150:] = np.random.default_rng(1).poisson(10.0, img[:, 150:].shape)
    with pytest.raises(StemstrainError, match="reference region has no lattice"):
        ss.gpa(img, pixel_size=PX, reference=(60, 200, 180, 250), g=reciprocal_basis(ANGLE))


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"resolution_nm": 0.05}, "finer than this lattice"),
        ({"resolution_nm": -1.0}, "resolution_nm"),
        ({"resolution_nm": 500.0}, "coarser"),
        ({"dtype": np.int32}, "dtype"),
        ({"amplitude_threshold": 1.5}, "amplitude_threshold"),
        ({"backend": "tpu"}, "backend"),
        ({"refine": False}, "refine=False needs explicit g"),
    ],
)
def test_bad_parameters(lattice, kw, match):
    with pytest.raises(StemstrainError, match=match):
        ss.gpa(lattice, pixel_size=PX, **kw)


def test_too_small():
    with pytest.raises(InputShapeError, match="at least"):
        ss.gpa(np.random.default_rng(0).random((16, 200)), pixel_size=PX)


def test_bad_pixel_size(lattice):
    with pytest.raises(StemstrainError, match="pixel_size"):
        ss.gpa(lattice, pixel_size=-0.1)


def test_propose_reference_errors(lattice):
    with pytest.raises(StemstrainError, match="size_px"):
        propose_reference(lattice, PX, size_px=1000)
    img = lattice.copy()
    img[:, 100:] = np.random.default_rng(1).poisson(10.0, img[:, 100:].shape)
    with warnings.catch_warnings():  # a narrow crystal: gpa may warn about its valid fraction
        warnings.simplefilter("ignore", UserWarning)
        r = ss.gpa(img, pixel_size=PX, reference=(40, 200, 40, 90))
    with pytest.raises(NoLatticeError, match="no 200x200"):
        propose_reference(r, size_px=200)


def test_whole_image_reference_mostly_vacuum(lattice):
    """reference=None uses the crystal, not the vacuum: NaN there, and a warning."""
    img = lattice.copy()
    img[:, 60:] = np.random.default_rng(2).poisson(10.0, img[:, 60:].shape)
    with pytest.warns(UserWarning, match="shows the chosen lattice"):
        r = ss.gpa(img, pixel_size=PX, g=reciprocal_basis(ANGLE))
    assert not r.mask[:, 70:].any()
    assert r.quality["crystalline_fraction"] < 0.05
    assert any("shows the chosen lattice" in w for w in r.warnings)


def test_option_types(lattice):
    """#18: wrong types raise TypeError naming the option; bad values StemstrainError."""
    with pytest.raises(TypeError, match="refine"):
        ss.gpa(lattice, pixel_size=PX, refine="no")
    with pytest.raises(TypeError, match="amplitude_threshold"):
        ss.gpa(lattice, pixel_size=PX, amplitude_threshold="a")
    with pytest.raises(StemstrainError, match="adaptive"):
        ss.gpa(lattice, pixel_size=PX, adaptive="yes")
    with pytest.raises(StemstrainError, match="grains"):
        ss.gpa(lattice, pixel_size=PX, grains=np.ones((3, 3), dtype=int))
    with pytest.raises(TypeError, match="reference"):
        ss.gpa(lattice, pixel_size=PX, reference=3.5)


def test_region_forms_agree(lattice):
    """API.md region forms: a box, two slices and a boolean mask give the same maps."""
    box = ss.gpa(lattice, pixel_size=PX, reference=(60, 190, 60, 190))
    sl = ss.gpa(lattice, pixel_size=PX, reference=(slice(60, 190), slice(60, 190)))
    mask = np.zeros(lattice.shape, dtype=bool)
    mask[60:190, 60:190] = True
    mk = ss.gpa(lattice, pixel_size=PX, reference=mask)
    np.testing.assert_array_equal(box.exx, sl.exx)
    np.testing.assert_array_equal(box.exx, mk.exx)
    with pytest.raises(StemstrainError, match="step 1"):
        ss.gpa(lattice, pixel_size=PX, reference=(slice(0, 100, 2), slice(0, 100)))


def test_help_shows_the_gpa_function():
    """#18: help(ss.gpa) shows the function's signature and docstring in any import order."""
    import inspect
    import pydoc
    import subprocess
    import sys

    code = (
        "import inspect, pydoc, stemstrain.geometric_phase, stemstrain as ss;"
        "assert 'reference' in str(inspect.signature(ss.gpa));"
        "assert 'Geometric phase analysis' in pydoc.render_doc(ss.gpa)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    import stemstrain.geometric_phase  # noqa: F401

    assert "noise" in str(inspect.signature(ss.gpa))
    assert "Geometric phase analysis" in pydoc.render_doc(ss.gpa)


def test_near_nyquist_g_warns(lattice):
    with pytest.warns(UserWarning) as rec:  # noise peaks: also little valid
        r = ss.gpa(
            lattice,
            pixel_size=PX,
            g=[(0.42 / PX, 0.0), (0.0, 0.45 / PX)],
            refine=False,
            resolution_nm=0.5,
            adaptive=False,
            grains=None,
        )
    assert any("Nyquist" in w for w in r.warnings)
    assert any("Nyquist" in str(w.message) for w in rec)
