"""Saving, plotting, reference proposal and the xp code path of the GPA result."""

from __future__ import annotations

import numpy as np
import pytest
from gpa_helpers import ANGLE, PX, reciprocal_basis

import stemstrain as ss
from stemstrain.geometric_phase import propose_reference
from stemstrain.geometric_phase._core import upsample
from stemstrain.results import TableResult, read_results
from stemstrain.synthetic import fields, layered_oxide

#: small test fields (256^2 at 0.02 nm): the border-band warning is right there and not
#: what these tests are about (tests/gpa/test_gpa_border.py tests it)
pytestmark = pytest.mark.filterwarnings("ignore:gpa. the border band:UserWarning")


@pytest.fixture(scope="module")
def dislocated():
    disp = fields.edge_dislocation((0.12, 0.25), (0.244, 0.0), angle_deg=ANGLE)
    s = layered_oxide((256, 256), pixel_size=PX, angle_deg=ANGLE, displacement=disp, seed=2)
    with pytest.warns(UserWarning, match="reference is distorted"):  # 5 nm from a core
        r = ss.gpa(s.image, pixel_size=PX, phases=True, reference="auto")
    return s, r


def test_save_layout(dislocated, tmp_path):
    _, r = dislocated
    path = r.save(tmp_path / "results.h5")
    data = read_results(path)["gpa"]
    for key in ("exx", "eyy", "exy", "rotation", "e_nn", "e_tt", "e_nt", "amplitude", "g_vectors"):
        assert key in data
    np.testing.assert_array_equal(data["exx"], r.exx)
    assert data["g_vectors"].shape == (2, 2)
    assert data["attrs"]["pixel_size_nm"] == pytest.approx(PX)
    assert "(003)" in data["attrs"]["g_info"]


def test_phases_full_size_consistent(dislocated):
    """Full-size phases are the upsampled coarse phasors; wrapped to (-pi, pi].

    Each coarse sample i lies at full-size position i * H / m_y (not an integer in
    general); the full-size phase at the nearest pixel must match it to within the
    phase change over half a pixel.
    """
    _, r = dislocated
    assert r.phases.shape == (2, 256, 256)
    assert np.nanmax(np.abs(r.phases)) <= np.pi + 1e-6
    m_y, m_x = r.phasor_lowres.shape[1:]
    rows = np.minimum(np.round(np.arange(m_y) * r.lowres_step[0]).astype(int), 255)
    cols = np.minimum(np.round(np.arange(m_x) * r.lowres_step[1]).astype(int), 255)
    for i in range(2):
        coarse = np.angle(r.phasor_lowres[i])
        full = r.phases[i][rows[:, None], cols[None, :]]
        d = np.angle(np.exp(1j * (coarse - full)))
        ok = np.isfinite(d) & r.mask[rows[:, None], cols[None, :]]
        assert ok.sum() > 100
        assert np.median(np.abs(d[ok])) < 0.05


def test_plots(dislocated):
    _, r = dislocated
    cores = ss.find_dislocations(r)
    fig = r.plot(dislocations=cores)
    assert len(fig.axes) >= 7
    fig3 = r.plot(uncertainty=True)
    titles = [ax.get_title() for ax in fig3.axes]
    assert sum("1 sigma" in t for t in titles) == 7
    assert "valid" in fig3._suptitle.get_text()
    fig2 = TableResult("dislocations", cores, PX).plot(image=r.exx)
    assert "1 dislocation" in fig2.axes[0].get_title()


def test_propose_reference_avoids_the_step():
    """The proposed region lies on one side of a strain step (uniform there)."""
    disp = fields.strain_step(-0.01, 0.02, angle_deg=0.0, along="t", position_nm=1.0)
    s = layered_oxide((256, 384), pixel_size=PX, angle_deg=0.0, displacement=disp, seed=3)
    r0, r1, c0, c1 = propose_reference(s.image, PX, size_px=64)
    step_col = 1.0 / PX + (384 - 1) / 2
    assert c1 < step_col - 20 or c0 > step_col + 20
    r = ss.gpa(s.image, pixel_size=PX, reference=(r0, r1, c0, c1))
    assert abs(np.nanmedian(r.exx[r0:r1, c0:c1])) < 5e-4


def test_upsample_is_accurate_on_smooth_fields():
    """Keys-cubic periodic upsampling of a band-limited field: error < 1e-3 relative."""
    m, n = 64, 320
    y = np.arange(m) * n / m
    f = lambda v: np.sin(2 * np.pi * 3 * v / n)  # noqa: E731
    coarse = f(y)[:, None] * f(y)[None, :]
    full = upsample(np, coarse, (n, n))
    exact = f(np.arange(n))[:, None] * f(np.arange(n))[None, :]
    assert np.max(np.abs(full - exact)) < 1e-3


def test_hyperspy_signal_input():
    hs = pytest.importorskip("hyperspy.api")
    s = layered_oxide(
        (256, 256), pixel_size=PX, angle_deg=ANGLE, seed=1, displacement=fields.uniform(exx=0.01)
    )
    sig = hs.signals.Signal2D(s.image)
    for ax in sig.axes_manager.signal_axes:
        ax.scale, ax.units = PX * 10, "Å"
    r = ss.gpa(sig, g=reciprocal_basis(ANGLE), refine=False)
    assert r.pixel_size == pytest.approx(PX)
    assert np.nanmedian(r.exx) == pytest.approx(0.01, abs=5e-4)


def test_to_signal(dislocated):
    pytest.importorskip("hyperspy.api")
    _, r = dislocated
    sig = r.to_signal()
    assert sig.data.shape == (8, 256, 256)
