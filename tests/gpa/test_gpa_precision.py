"""Per-pixel precision maps (#17 item 3): coverage of the true error, dose scaling."""

from __future__ import annotations

import numpy as np
import pytest
from gpa_helpers import ANGLE, PX, reciprocal_basis

import stemstrain as ss
from stemstrain.results import read_results
from stemstrain.synthetic import fields, layered_oxide

COMPONENTS = ["exx", "eyy", "exy", "rotation", "dilatation", "e_nn", "e_tt", "e_nt"]
DISP = fields.uniform(exx=0.01, eyy=-0.005, exy=0.002)
DOSES = (20.0, 200.0, 2000.0)


@pytest.fixture(scope="module")
def runs():
    """A uniformly strained lattice at three doses; g = the exact reference lattice."""
    out = {}
    for dose in DOSES:
        s = layered_oxide(
            (512, 512), pixel_size=PX, angle_deg=ANGLE, displacement=DISP, dose=dose, seed=6
        )
        out[dose] = (s, ss.gpa(s.image, pixel_size=PX, g=reciprocal_basis(ANGLE), refine=False))
    return out


@pytest.mark.parametrize("dose", DOSES)
def test_two_sigma_coverage_of_the_true_error(runs, dose):
    """Acceptance: the fraction of pixels with |true error| < 2 sigma is in [0.9, 0.98]."""
    s, r = runs[dose]
    truth = s.strain_truth()
    for name in COMPONENTS:
        sig = r.uncertainty[name]
        err = getattr(r, name) - truth[name]
        ok = np.isfinite(err)
        assert np.isfinite(sig[ok]).all() and (sig[ok] > 0).all()
        assert not np.isfinite(sig[~r.mask]).any()  # NaN where the maps are
        cover = np.mean(np.abs(err[ok]) < 2 * sig[ok])
        assert 0.9 <= cover <= 0.98, f"{name} at dose {dose}: 2-sigma coverage {cover:.3f}"


def test_sigma_scales_as_inverse_sqrt_dose(runs):
    med = [np.nanmedian(runs[d][1].uncertainty["exx"]) for d in DOSES]
    for lo, hi in zip(med[:-1], med[1:], strict=True):
        assert lo / hi == pytest.approx(np.sqrt(10.0), rel=0.1)


def test_given_noise_model_matches_estimate(runs):
    """noise={'gain': 1} (counts) and the estimate from the spectrum agree."""
    s, r = runs[200.0]
    given = ss.gpa(
        s.image,
        pixel_size=PX,
        g=reciprocal_basis(ANGLE),
        refine=False,
        noise={"gain": 1.0, "read": 0.0},
    )
    assert given.quality["noise_source"] == "poisson+read"
    assert r.quality["noise_source"].startswith("estimated")
    a, b = np.nanmedian(given.uncertainty["e_nn"]), np.nanmedian(r.uncertainty["e_nn"])
    assert a == pytest.approx(b, rel=0.1)
    # the estimated white level is the mean count rate (Poisson, gain 1)
    assert r.quality["noise_sigma"] ** 2 == pytest.approx(float(s.image.mean()), rel=0.15)


def test_uncertainty_saved_and_noise_errors(runs, tmp_path):
    s, r = runs[2000.0]
    data = read_results(r.save(tmp_path / "r.h5"))["gpa"]
    np.testing.assert_array_equal(data["sigma_exx"], r.uncertainty["exx"])
    assert "noise_sigma" in data["attrs"]["quality"]
    with pytest.raises(ss.StemstrainError, match="noise"):
        ss.gpa(s.image, pixel_size=PX, noise={"read": 1.0})
    with pytest.raises(ss.StemstrainError, match="noise"):
        ss.gpa(s.image, pixel_size=PX, noise=np.ones((3, 3)))
    with pytest.raises(TypeError, match="noise"):
        ss.gpa(s.image, pixel_size=PX, noise=[1.0])
    zero = ss.gpa(s.image, pixel_size=PX, noise=0.0)
    assert np.nanmax(zero.uncertainty["exx"]) == 0.0
