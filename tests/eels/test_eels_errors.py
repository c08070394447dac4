"""Every user error of the eels package raises StemstrainError naming the problem."""

from __future__ import annotations

import numpy as np
import pytest

from stemstrain.eels import correlate_with_curvature, o_tm_ratio, ratio_profile
from stemstrain.errors import CalibrationError, InputShapeError, StemstrainError
from stemstrain.synthetic._eels import eels_linescan


@pytest.fixture(scope="module")
def scan():
    return eels_linescan(n_positions=10, surface_index=2, seed=0)


def test_no_o_edge_in_range():
    sig, _ = eels_linescan(n_positions=4, offset_ev=600.0, seed=0)
    with pytest.raises(StemstrainError, match="no O K edge in range"):
        o_tm_ratio(sig, method="integration")
    with pytest.raises(StemstrainError, match="needs a background window below the first edge"):
        o_tm_ratio(sig)


def test_o_edge_without_background_window():
    sig, _ = eels_linescan(n_positions=4, offset_ev=510.0, seed=0)
    with pytest.raises(StemstrainError, match="O K edge needs a background window"):
        o_tm_ratio(sig, method="integration")
    with pytest.raises(StemstrainError, match="record from 499 eV or lower"):
        o_tm_ratio(sig)


def test_tm_edge_out_of_range(scan):
    with pytest.raises(StemstrainError, match="Cu L2,3"):
        o_tm_ratio(scan[0], tm="Cu")


def test_overlapping_windows(scan):
    with pytest.raises(StemstrainError, match="O K and Cr L2,3 edges are too close"):
        o_tm_ratio(scan[0], tm="Cr", method="integration")
    with pytest.raises(StemstrainError, match="O K and V L2,3 edges are too close"):
        o_tm_ratio(scan[0], tm="V", method="integration")


def test_model_options_checked(scan):
    with pytest.raises(StemstrainError, match="other_edges: 'Xx'"):
        o_tm_ratio(scan[0], other_edges=("Xx",))
    with pytest.raises(StemstrainError, match="continuum needs the range up to"):
        o_tm_ratio(scan[0], stop_ev=800.0)
    with pytest.raises(StemstrainError, match="method must be one of"):
        o_tm_ratio(scan[0], method="fit")


def test_uncalibrated_energy_axis(scan):
    sig = scan[0].deepcopy()
    ax = sig.axes_manager.signal_axes[0]
    ax.scale, ax.offset = 1.0, 0.0
    with pytest.raises(CalibrationError, match="uncalibrated"):
        o_tm_ratio(sig)
    ax.units = "<undefined>"
    with pytest.raises(CalibrationError, match="not eV"):
        o_tm_ratio(sig)


def test_empty_reference_region(scan):
    with pytest.raises(StemstrainError, match="reference region .* is empty"):
        o_tm_ratio(scan[0], reference=slice(0, 2), reference_ratio=2.0)
    with pytest.raises(StemstrainError, match="reference region .* is empty"):
        o_tm_ratio(scan[0], reference=np.zeros(10, bool), reference_ratio=2.0)


def test_reference_arguments(scan):
    with pytest.raises(StemstrainError, match="without reference_ratio"):
        o_tm_ratio(scan[0], reference=slice(5, None))
    with pytest.raises(StemstrainError, match="reference_ratio given without reference"):
        o_tm_ratio(scan[0], reference_ratio=2.0)
    with pytest.raises(StemstrainError, match="reference_ratio must be a number > 0"):
        o_tm_ratio(scan[0], reference=slice(5, None), reference_ratio=-1)
    with pytest.raises(StemstrainError, match="reference mask has shape"):
        o_tm_ratio(scan[0], reference=np.ones(3, bool), reference_ratio=2.0)
    with pytest.raises(StemstrainError, match="does not index the navigation shape"):
        o_tm_ratio(scan[0], reference=[99], reference_ratio=2.0)


def test_wrong_signal_type_and_dims(scan):
    import hyperspy.api as hs

    with pytest.raises(StemstrainError, match="must be an EELS signal"):
        o_tm_ratio(np.ones((4, 100)))
    with pytest.raises(InputShapeError, match="exactly one signal"):
        o_tm_ratio(hs.signals.Signal2D(np.ones((8, 8))))
    with pytest.raises(InputShapeError, match="at most 2"):
        o_tm_ratio(hs.signals.Signal1D(np.ones((2, 2, 2, 64))))
    complex_sig = scan[0].deepcopy()
    complex_sig.data = complex_sig.data.astype(np.complex64)
    with pytest.raises(StemstrainError, match="real counts"):
        o_tm_ratio(complex_sig)


def test_bad_tm_method_backend(scan):
    with pytest.raises(StemstrainError, match="tm must be one of"):
        o_tm_ratio(scan[0], tm="Xx")
    with pytest.raises(StemstrainError, match="method must be"):
        o_tm_ratio(scan[0], method="magic")
    with pytest.raises(StemstrainError, match="backend must be"):
        o_tm_ratio(scan[0], backend="tpu")


def test_missing_metadata_warns_with_defaults(scan):
    sig = scan[0].deepcopy()
    del sig.metadata.Acquisition_instrument.TEM.Detector.EELS.collection_angle
    with pytest.warns(UserWarning, match="metadata lacks collection_angle"):
        r = o_tm_ratio(sig)
    assert r.parameters["collection_mrad"] == 30.0


def test_low_loss_mismatch(scan):
    sig, _ = scan
    with pytest.raises(InputShapeError, match="low_loss navigation shape"):
        o_tm_ratio(sig, low_loss=sig.inav[:3])
    with pytest.raises(StemstrainError, match="does not contain the zero-loss peak"):
        o_tm_ratio(sig, low_loss=sig)
    with pytest.raises(StemstrainError, match="low_loss must be an EELS signal"):
        o_tm_ratio(sig, low_loss=np.ones(10))


def test_profile_and_correlation_errors(scan):
    sig, _ = scan
    r = o_tm_ratio(sig, surface=2)
    with pytest.raises(StemstrainError, match="surface index 50 is outside"):
        o_tm_ratio(sig, surface=50)
    inside = eels_linescan(n_positions=6, surface_index=0, seed=0)[0]
    r_in = o_tm_ratio(inside)
    assert r_in.distance_nm is None
    with pytest.raises(StemstrainError, match="no surface found"):
        ratio_profile(r_in)
    with pytest.raises(InputShapeError, match="needs a spectrum-image"):
        correlate_with_curvature(r, object())
