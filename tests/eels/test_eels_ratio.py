"""o_tm_ratio against the analytic truth of the synthetic generator."""

from __future__ import annotations

import numpy as np
import pytest

from stemstrain.eels import RatioResult, o_tm_ratio
from stemstrain.results import read_results
from stemstrain.synthetic._eels import eels_linescan, eels_spectrum_image


def rel_err(ratio, truth):
    ok = np.isfinite(truth)
    return ratio[ok] / truth[ok] - 1.0


@pytest.fixture(scope="module")
def results(linescans):
    return [(o_tm_ratio(sig, method="integration"), truth) for sig, truth in linescans]


@pytest.fixture(scope="module")
def model_results(linescans):
    return [(o_tm_ratio(sig), truth) for sig, truth in linescans]


@pytest.mark.parametrize("which", ["results", "model_results"])
def test_median_error_and_2sigma_coverage(which, request):
    """Acceptance: median |relative error| <= 3 %, 2 sigma covers the truth >= 90 %.

    The model's ``uncertainty`` adds the cross-section systematic of the absolute
    calibration; the counting part (what the synthetic truth tests) is
    ``uncertainty_statistical``.
    """
    results = request.getfixturevalue(which)
    errs = np.concatenate([rel_err(r.ratio, t["ratio"]) for r, t in results])
    z = np.concatenate(
        [
            ((r.ratio - t["ratio"]) / r.uncertainty_statistical)[np.isfinite(t["ratio"])]
            for r, t in results
        ]
    )
    assert np.isfinite(errs).all() and errs.size == 5 * 36
    assert np.median(np.abs(errs)) <= 0.03
    assert np.mean(np.abs(z) <= 2) >= 0.90
    # honest, not inflated: the normalised errors have a spread close to 1
    assert 0.8 < np.std(z) < 1.25
    assert abs(np.mean(errs)) < 0.01  # no bias beyond noise


@pytest.mark.parametrize("method", ["integration", "model"])
def test_noise_free_is_exact(clean_linescan, method):
    sig, truth = clean_linescan
    r = o_tm_ratio(sig, method=method)
    # the generator's cross-sections are its own code: they agree with the analyses' (exspy)
    # to ~0.5 % over a 50 eV L window (measured: integration 0.56 %, model 0.19 %)
    assert np.max(np.abs(rel_err(r.ratio, truth["ratio"]))) < 0.01
    assert r.calibration == "absolute (hydrogenic cross-sections)"
    assert r.k_factor == 1.0 and r.method == method and r.tm == "Co"
    assert r.ratio.dtype == np.float32  # float32 input -> float32 result


def test_default_is_the_model_with_a_systematic_sigma(clean_linescan):
    r = o_tm_ratio(clean_linescan[0])
    assert r.method == "model"
    p = r.parameters
    assert p["systematic_cross_section_relative"] == pytest.approx(np.hypot(0.05, 0.15))
    # pure power-law background: 2 and 3 correction columns agree (real spectra: 2-23 %)
    assert 0 <= p["systematic_background_model_relative"] < 0.002
    assert p["systematic_relative"] == pytest.approx(
        np.sqrt(0.05**2 + 0.15**2 + p["systematic_background_model_relative"] ** 2)
    )
    ok = np.isfinite(r.ratio)
    np.testing.assert_allclose(r.uncertainty[ok] / r.ratio[ok], np.hypot(0.05, 0.15), rtol=0.01)


def test_surface_and_distance(results):
    r, truth = results[0]
    assert r.surface_index == truth["surface_index"]
    assert np.allclose(r.distance_nm, truth["distance_nm"])
    assert np.isnan(r.ratio[: truth["surface_index"]]).all()
    assert r.pixel_size == pytest.approx(0.5)


def test_surface_detected_on_reversed_scan(linescans):
    sig, truth = linescans[1]
    rev = sig.deepcopy()
    rev.data = sig.data[::-1].copy()
    r = o_tm_ratio(rev)
    n = sig.data.shape[0]
    assert r.surface_index == n - 1 - truth["surface_index"]
    assert np.allclose(r.distance_nm, truth["distance_nm"][::-1])


def test_white_lines_biased_absolute_and_k_factor_recovers(white_line_scans):
    """Acceptance: k-factor on the interior recovers the profile within 5 %."""
    (clean, truth), (noisy, truth_n) = white_line_scans
    absolute = o_tm_ratio(clean, method="integration")
    assert np.median(rel_err(absolute.ratio, truth["ratio"])) < -0.4  # hydrogenic misses WL
    interior = slice(24, None)
    k_clean = o_tm_ratio(clean, reference=interior, reference_ratio=2.0, method="integration")
    assert np.max(np.abs(rel_err(k_clean.ratio, truth["ratio"]))) < 0.01
    assert k_clean.calibration.startswith("k-factor (reference=slice(24, None, None), ratio=2")
    k = o_tm_ratio(noisy, reference=interior, reference_ratio=2.0, method="integration")
    err = rel_err(k.ratio, truth_n["ratio"])
    assert np.median(np.abs(err)) < 0.03
    assert np.mean(np.abs(err) < 0.05) >= 0.9
    assert k.k_factor == pytest.approx(2.0 / np.nanmean(absolute.ratio[24:]), rel=0.03)
    assert 0 < k.k_factor_uncertainty < 0.02 * k.k_factor


def test_model_absolute_is_right_with_white_lines(white_line_scans):
    """The free ELNES columns absorb the white lines: no reference region needed."""
    (clean, truth), (noisy, truth_n) = white_line_scans
    r = o_tm_ratio(clean)
    assert np.max(np.abs(rel_err(r.ratio, truth["ratio"]))) < 0.005
    rn = o_tm_ratio(noisy)
    err = rel_err(rn.ratio, truth_n["ratio"])
    assert np.median(np.abs(err)) < 0.03
    ok = np.isfinite(truth_n["ratio"])
    z = (rn.ratio[ok] - truth_n["ratio"][ok]) / rn.uncertainty_statistical[ok]
    assert np.mean(np.abs(z) <= 2) >= 0.9


def test_reference_forms_agree(linescans):
    sig, _ = linescans[2]
    by_slice = o_tm_ratio(sig, reference=slice(30, 40), reference_ratio=2.0)
    mask = np.zeros(40, bool)
    mask[30:] = True
    by_mask = o_tm_ratio(sig, reference=mask, reference_ratio=2.0)
    by_index = o_tm_ratio(sig, reference=list(range(30, 40)), reference_ratio=2.0)
    assert by_slice.k_factor == pytest.approx(by_mask.k_factor)
    assert by_slice.k_factor == pytest.approx(by_index.k_factor)
    assert "mask of 10 positions" in by_mask.calibration


def test_model_method_agrees_with_integration(linescans, clean_linescan):
    sig, truth = linescans[0]
    rm = o_tm_ratio(sig, method="model")
    ri = o_tm_ratio(sig, method="integration")
    assert rm.method == "model"
    ok = np.isfinite(truth["ratio"])
    assert np.median(np.abs(rm.ratio[ok] / ri.ratio[ok] - 1)) < 0.05  # integration noise
    assert np.median(np.abs(rel_err(rm.ratio, truth["ratio"]))) < 0.02
    z = (rm.ratio[ok] - truth["ratio"][ok]) / rm.uncertainty[ok]
    assert np.mean(np.abs(z) <= 2) >= 0.85


def test_spectrum_image_shapes_and_truth(small_si):
    sig, truth = small_si
    r = o_tm_ratio(sig)
    assert r.ratio.shape == (12, 16) and r.distance_nm is None and not r.is_linescan
    assert np.isnan(r.ratio[:, :2]).all()
    err = rel_err(r.ratio, truth["ratio"])
    assert np.median(np.abs(err)) < 0.03
    sig_ = r.to_signal()
    assert sig_.data.shape == (2, 12, 16)
    assert sig_.axes_manager.signal_axes[0].scale == pytest.approx(0.5)


def test_model_low_loss_convolution_removes_plural_scattering_bias():
    sig, truth = eels_linescan(
        n_positions=12, surface_index=2, thickness=0.8, seed=None, white_lines=True
    )
    with pytest.warns(UserWarning, match="plural scattering: the near-edge structure"):
        plain = o_tm_ratio(sig)
    assert np.median(np.abs(rel_err(plain.ratio, truth["ratio"]))) > 0.03
    assert 0.5 < plain.parameters["plural_replica_weight"] < 0.9  # t/lambda 0.8
    r = o_tm_ratio(sig, low_loss=truth["low_loss"])
    assert np.max(np.abs(rel_err(r.ratio, truth["ratio"]))) < 0.005
    assert np.allclose(r.thickness, 0.8, rtol=0.05)
    assert r.parameters["low_loss"] == "convolved (forward model)"


@pytest.mark.parametrize("shift_ev", [-3.0, 2.5])
def test_model_low_loss_aligned_on_its_zero_loss_peak(shift_ev):
    """A low loss whose ZLP sits off 0 eV (drift, miscalibration) gives the same O/TM."""
    sig, truth = eels_linescan(
        n_positions=8, surface_index=2, thickness=0.8, seed=None, white_lines=True
    )
    low_loss = truth["low_loss"].deepcopy()
    low_loss.axes_manager.signal_axes[0].offset += shift_ev
    r = o_tm_ratio(sig, low_loss=low_loss)
    assert np.max(np.abs(rel_err(r.ratio, truth["ratio"]))) < 0.005
    assert r.parameters["zlp_offset_ev"] == pytest.approx(shift_ev, abs=0.05)
    assert np.allclose(r.thickness, 0.8, rtol=0.05)


def test_weak_tm_edge_warns_below_the_limit_of_quantification():
    """3-10 sigma TM edges give a number and a warning; its sigma still covers the truth."""
    sig, truth = eels_linescan(n_positions=14, surface_index=2, seed=3, dose=300)
    with pytest.warns(UserWarning, match=r"Co L2,3 edge is weak at \d+ of \d+ quantified"):
        r = o_tm_ratio(sig)
    weak = np.isfinite(r.ratio) & (r.significance_tm < 10)
    assert weak.sum() >= 8  # dose 300: TM edges at ~5 sigma
    z = (r.ratio[weak] - truth["ratio"][weak]) / r.uncertainty_statistical[weak]
    assert np.mean(np.abs(z) <= 2) >= 0.8


def test_low_loss_deconvolution_removes_plural_scattering_bias():
    sig, truth = eels_linescan(n_positions=12, surface_index=2, thickness=0.8, seed=None)
    plain = o_tm_ratio(sig, method="integration")
    assert np.median(rel_err(plain.ratio, truth["ratio"])) > 0.03  # plural scattering bias
    r = o_tm_ratio(sig, low_loss=truth["low_loss"], method="integration")
    assert np.max(np.abs(rel_err(r.ratio, truth["ratio"]))) < 0.01
    assert np.allclose(r.thickness, 0.8, rtol=0.05)
    assert r.parameters["deconvolved"] is True


def test_thin_sample_is_not_deconvolved():
    sig, truth = eels_linescan(n_positions=8, surface_index=2, thickness=0.15, seed=1)
    r = o_tm_ratio(sig, low_loss=truth["low_loss"], method="integration")
    assert r.parameters["deconvolved"] is False
    assert np.allclose(r.thickness, 0.15, rtol=0.1)


def test_other_transition_metal_and_float64():
    sig, truth = eels_spectrum_image(shape=(4, 8), tm="Ni", seed=None, dtype=np.float64)
    r = o_tm_ratio(sig, tm="Ni")
    assert r.ratio.dtype == np.float64
    assert np.max(np.abs(rel_err(r.ratio, truth["ratio"]))) < 0.005


def test_save_and_read_back(results, tmp_path):
    r, _ = results[0]
    assert isinstance(r, RatioResult)
    path = r.save(tmp_path / "results.h5")
    back = read_results(path)["eels"]
    assert np.allclose(back["ratio"], r.ratio, equal_nan=True)
    assert np.allclose(back["uncertainty"], r.uncertainty, equal_nan=True)
    assert back["attrs"]["calibration"] == "absolute (hydrogenic cross-sections)"
    assert np.allclose(back["distance_nm"], r.distance_nm)
    sig = r.to_signal()
    assert sig.data.shape == (2, 40)


def test_gpu_backend_matches_numpy(linescans):
    pytest.importorskip("cupy")
    from stemstrain._backend import cupy_available

    if not cupy_available():
        pytest.skip("no CUDA GPU")
    sig, _ = linescans[0]
    a = o_tm_ratio(sig, method="integration")
    b = o_tm_ratio(sig, backend="cupy", method="integration")
    assert np.allclose(a.ratio, b.ratio, rtol=1e-5, equal_nan=True)


def test_lazy_and_integer_inputs_match(linescans):
    sig, _ = linescans[4]
    ref = o_tm_ratio(sig)
    lazy = o_tm_ratio(sig.as_lazy())
    assert np.allclose(lazy.ratio, ref.ratio, rtol=1e-6, equal_nan=True)
    counts = sig.deepcopy()
    counts.data = sig.data.astype(np.uint32)
    r = o_tm_ratio(counts)
    assert r.ratio.dtype == np.float64
    assert np.allclose(r.ratio, ref.ratio, rtol=1e-5, equal_nan=True)


def test_model_low_loss_flat_along_a_thickness_gradient():
    """Uniform O/Mn = 3, t/lambda 0.2 -> 1.0 along the scan (the held-back file's failure mode).

    With the per-position low loss the ratio stays flat; without it it drifts down with the
    thickness (measured: -16 % at 0.3 to -37 % at 1.0), which is why low_loss= matters.
    """
    thick = np.array([0.2, 0.6, 1.0])
    cores, lows = [], []
    for t in thick:
        sig, truth = eels_linescan(
            n_positions=2,
            surface_index=1,
            thickness=float(t),
            seed=None,
            white_lines=True,
            tm="Mn",
            o_tm_profile=np.r_[np.nan, 3.0],
            n_channels=760,  # 430-809.5 eV: what the Mn model uses
        )
        cores.append(sig.inav[1:])
        lows.append(truth["low_loss"].inav[1:])
    import hyperspy.api as hs

    core = hs.stack(cores, axis=0, show_progressbar=False)
    low = hs.stack(lows, axis=0, show_progressbar=False)
    r = o_tm_ratio(core, tm="Mn", low_loss=low)
    assert np.allclose(r.thickness, thick, rtol=0.06)
    assert np.max(np.abs(r.ratio / 3.0 - 1)) < 0.02
    with pytest.warns(UserWarning, match="plural scattering"):
        plain = o_tm_ratio(core, tm="Mn")
    drift = plain.ratio[-1] / plain.ratio[0] - 1
    assert drift < -0.15  # the no-low-loss model drifts with the thickness, and says so
    assert r.parameters["plural_replica_weight"] is None  # low loss given: no diagnostic


@pytest.mark.parametrize("tm", ["Co", "Mn"])
def test_plural_replica_weight_tracks_thickness_without_low_loss(tm):
    """The no-low-loss diagnostic: ~0 for single scattering (no warning), rises with t/lambda."""
    weights = []
    for t in (0.0, 0.3, 0.6):  # at 1.0 the Co replicas also trip the La M5 (832 eV) heuristic
        sig, _ = eels_linescan(
            n_positions=3,
            surface_index=1,
            thickness=t,
            seed=0,
            white_lines=True,
            tm=tm,
            o_tm_profile=np.r_[np.nan, 2.0, 2.0],
        )
        if t == 0.0:
            r = o_tm_ratio(sig, tm=tm)  # filterwarnings=error: no plural warning here
        else:
            with pytest.warns(UserWarning, match="plural scattering"):
                r = o_tm_ratio(sig, tm=tm)
        weights.append(r.parameters["plural_replica_weight"])
    assert abs(weights[0]) < 0.05
    assert 0.2 < weights[1] < 0.45 and weights[2] > weights[1] + 0.1
