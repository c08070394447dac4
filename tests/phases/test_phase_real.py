"""phase_map on the real shared images: domains, and no phase labels where the models misfit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import stemstrain as ss
from stemstrain.phases import PHASE_CODES

pytestmark = pytest.mark.shared_data


def _quiet_map(image, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = ss.phase_map(image, **kw)
    return r, [str(w.message) for w in caught]


def test_llto_two_90_degree_ordering_domains(shared_data_dir):
    from PIL import Image

    img = np.asarray(
        Image.open(shared_data_dir / "AI-STEM__image_test__LLTO.jpg").convert("L"), dtype=np.float32
    )
    r, msgs = _quiet_map(img)
    assert any("does not fit this crystal" in m for m in msgs)  # a perovskite, not a cathode
    assert r.fractions["unknown"] > 0.99
    d = r.domains
    assert len(d) == 2 and d.rule.iloc[0] == "anti-correlated reflections"
    assert min(d.fraction) > 0.25
    g = d[["gx", "gy"]].to_numpy()
    # the two domains are named by superstructure reflections at 90 degrees (x and y)
    cos = abs(g[0] @ g[1]) / np.linalg.norm(g[0]) / np.linalg.norm(g[1])
    assert cos < 0.1
    assert np.all(1 / np.linalg.norm(g, axis=1) == pytest.approx(19.3, abs=1.0))  # px


def test_ybco_planar_fault_is_a_separate_region(shared_data_dir):
    sig = ss.load(shared_data_dir / "SciLink__data__YBCO_tem.tif")
    r, msgs = _quiet_map(sig)
    assert any("does not fit this crystal" in m for m in msgs)
    band = (r.domain_map[240:262] == 2).mean()
    rest = (r.domain_map[:200] == 2).mean()
    assert band > 0.7 and rest < 0.15


@pytest.mark.parametrize("name", ["openNCEM__ncempy_data__16_STOimage.emi"])
def test_srtio3_not_labelled_spinel_or_rock_salt(shared_data_dir, name):
    r, msgs = _quiet_map(ss.load(shared_data_dir / name))
    labelled = np.isin(r.label_map, [PHASE_CODES["spinel"], PHASE_CODES["rock_salt"]]).mean()
    assert labelled == 0 or any("does not fit this crystal" in m for m in msgs)
    assert any("does not fit this crystal" in m for m in msgs)
