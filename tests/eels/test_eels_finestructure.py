"""O K pre-peak ratio and MLLS phase fractions on synthetic spectra with known fine structure."""

from __future__ import annotations

import numpy as np

from stemstrain.eels import mlls_fit, o_prepeak_ratio
from stemstrain.synthetic._eels import eels_fine_structure

FRACTION = np.linspace(0.1, 0.9, 40).reshape(4, 10)


def test_prepeak_ratio_recovered_with_coverage():
    sig, truth = eels_fine_structure(FRACTION, seed=1)
    res = o_prepeak_ratio(sig)
    err = res.ratio / truth["prepeak_ratio"] - 1
    assert np.median(np.abs(err)) < 0.05
    z = (res.ratio - truth["prepeak_ratio"]) / res.uncertainty
    assert np.mean(np.abs(z) < 2) >= 0.9
    assert 0.6 < np.std(z) < 1.5  # sigma neither inflated nor too small


def test_prepeak_noise_free_exact_and_falls_with_rock_salt():
    sig, truth = eels_fine_structure(FRACTION, seed=None)
    res = o_prepeak_ratio(sig)
    np.testing.assert_allclose(res.ratio, truth["prepeak_ratio"], rtol=0.01)
    assert res.ratio[0, 0] < res.ratio[-1, -1]  # more layered phase, larger pre-peak


def test_mlls_fractions_recovered_with_coverage():
    sig, truth = eels_fine_structure(FRACTION, seed=2)
    res = mlls_fit(sig, truth["references"], names=["layered", "rocksalt"])
    f = res.fractions[0]
    assert np.median(np.abs(f - FRACTION) / FRACTION) < 0.05
    z = (f - FRACTION) / res.fractions_uncertainty[0]
    assert np.mean(np.abs(z) < 2) >= 0.9
    np.testing.assert_allclose(res.fractions.sum(0), 1.0, atol=1e-9)
    assert np.median(res.reduced_chi2) < 1.3
    # the weights themselves (truth: fraction, 1 - fraction of the given references)
    w_true = np.stack([FRACTION, 1 - FRACTION])
    assert np.median(np.abs(res.weights / w_true - 1)) < 0.05
    zw = (res.weights - w_true) / res.weights_uncertainty
    assert np.mean(np.abs(zw) < 2) >= 0.9
    assert 0.6 < np.std(zw) < 1.5


def test_mlls_wrong_reference_is_flagged_by_chi2():
    sig, truth = eels_fine_structure(FRACTION, seed=3)
    res = mlls_fit(sig, truth["references"][:1])  # the rock-salt reference is missing
    assert np.median(res.reduced_chi2) > 1.5


def test_prepeak_and_mlls_save_and_plot(tmp_path):
    from stemstrain.results import read_results

    sig, truth = eels_fine_structure(FRACTION[:2, :4], seed=4)
    pre = o_prepeak_ratio(sig)
    mlls = mlls_fit(sig, truth["references"], names=["layered", "rocksalt"])
    path = pre.save(tmp_path / "r.h5")
    mlls.save(path)
    back = read_results(path)
    np.testing.assert_allclose(back["eels"]["prepeak"]["ratio"], pre.ratio)
    np.testing.assert_allclose(back["eels"]["mlls"]["fractions"], mlls.fractions)
    assert pre.plot() is not None and mlls.plot(index=1) is not None
    assert pre.to_signal().data.shape == (2, 2, 4)
    assert mlls.to_signal().data.shape == (4, 2, 4)
