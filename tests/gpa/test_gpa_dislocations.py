"""Dislocation cores: found once at the right place with the right Burgers vector;
no false cores in bent, strained or O1-banded crystals."""

from __future__ import annotations

import numpy as np
import pytest
from gpa_helpers import ANGLE, PX

import stemstrain as ss
from stemstrain.errors import StemstrainError
from stemstrain.synthetic import fields, layered_oxide

# between columns: not on a TM site, not on a layer
CORE_NM = (0.3 * 0.244 + 0.05, 0.5 * 0.468 + 0.02)


@pytest.mark.parametrize("angle", [ANGLE, -25.0])
def test_edge_dislocation_found_once(angle):
    b_in = (0.244, 0.0)  # one in-plane period
    disp = fields.edge_dislocation(CORE_NM, b_in, angle_deg=angle)
    s = layered_oxide(
        (512, 512), pixel_size=PX, angle_deg=angle, displacement=disp, dose=200.0, seed=4
    )
    r = ss.gpa(s.image, pixel_size=PX, reference="auto")
    cores = ss.find_dislocations(r)
    assert len(cores) == 1
    c = cores.iloc[0]
    x0 = CORE_NM[0] / PX + (s.shape[1] - 1) / 2
    y0 = CORE_NM[1] / PX + (s.shape[0] - 1) / 2
    assert np.hypot(c.x - x0, c.y - y0) * PX <= 0.5
    assert c.b == pytest.approx(0.244, rel=0.15)
    t, n = fields.layer_frame(angle)
    b_true = b_in[0] * t + b_in[1] * n
    np.testing.assert_allclose([c.bx, c.by], b_true, atol=0.15 * 0.244)
    assert c.b_t == pytest.approx(0.244, rel=0.15) and abs(c.b_n) < 0.03


@pytest.mark.parametrize("case", ["bent", "strained", "o1_band", "ripple", "step"])
def test_no_false_cores(case):
    kw = {
        "bent": {"bend_radius_nm": 30.0},
        "strained": {"displacement": fields.uniform(exx=0.02, eyy=-0.01, exy=0.005)},
        "o1_band": {"o1_gaps": (-1, 1)},
        "ripple": {"displacement": fields.ripple(0.3, 1.5, angle_deg=ANGLE)},
        "step": {"displacement": fields.strain_step(-0.01, 0.02, angle_deg=ANGLE)},
    }[case]
    s = layered_oxide((512, 512), pixel_size=PX, angle_deg=ANGLE, dose=200.0, seed=7, **kw)
    if case == "ripple":  # curved everywhere: no window is undistorted, and gpa says so
        with pytest.warns(UserWarning, match="reference is distorted"):
            r = ss.gpa(s.image, pixel_size=PX, reference="auto")
    else:
        r = ss.gpa(s.image, pixel_size=PX, reference="auto")
    assert r.mask.mean() > 0.6
    assert len(ss.find_dislocations(r)) == 0


def test_find_dislocations_needs_gpa_result():
    with pytest.raises(StemstrainError, match="GPAResult"):
        ss.find_dislocations(np.zeros((8, 8)))
