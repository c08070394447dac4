"""Key figures of an EELS analysis (batch summary): surface / interior O/TM, valence, pre-peak."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stemstrain.eels import eels_key_figures, o_prepeak_ratio, o_tm_ratio, tm_valence
from stemstrain.synthetic._eels import eels_linescan


@pytest.fixture(scope="module")
def mn_scan():
    return eels_linescan(tm="Mn", white_lines=True, seed=4, n_channels=2048, scale_ev=0.25)


def test_key_figures_surface_and_interior(mn_scan):
    sig, truth = mn_scan
    res = o_tm_ratio(sig, tm="Mn")
    val = tm_valence(sig, "Mn", energy_reference="none")
    pre = o_prepeak_ratio(sig)
    keys = eels_key_figures(res, valence=val, prepeak=pre)
    d = truth["distance_nm"]
    near = (d >= 0) & (d < 1.0)
    far = d > 0.5 * d.max()
    assert keys["o_tm_surface"] == pytest.approx(np.mean(res.ratio[near]))
    assert keys["o_tm_surface"] == pytest.approx(np.mean(truth["ratio"][near]), rel=0.05)
    assert keys["o_tm_interior"] == pytest.approx(2.0, rel=0.03)
    assert keys["valence_interior"] == pytest.approx(np.median(val.valence[far]))
    assert np.isfinite(keys["valence_surface"]) and np.isfinite(keys["o_prepeak_surface"])
    assert set(keys) == {
        "o_tm_surface",
        "o_tm_interior",
        "valence_surface",
        "valence_interior",
        "o_prepeak_surface",
        "o_prepeak_interior",
    }


def test_batch_step_uses_the_library_key_figures(mn_scan, tmp_path):
    from stemstrain.batch._steps import KEY_FIGURES, StepContext, step_eels

    sig, _ = mn_scan
    ctx = StepContext(
        signal=sig,
        path=Path(tmp_path / "scan.hspy"),
        params={"eels": {"tm": "Mn", "method": "model", "valence": True, "prepeak": True}},
        backend="numpy",
    )
    out = step_eels(ctx)  # O K in range: the valence axis is self-calibrated (no warning)
    assert set(out.keys) <= set(KEY_FIGURES)
    assert {"valence_surface", "valence_interior", "o_prepeak_surface"} <= set(out.keys)
    assert [r.group for r in out.results] == ["eels", "eels/valence", "eels/prepeak"]
    assert set(out.figures) == {"eels", "eels_valence", "eels_prepeak"}
