"""series_apply: any per-frame analysis through a series, a table per frame."""

from __future__ import annotations

import numpy as np
import pytest

import stemstrain as ss
from stemstrain.errors import StemstrainError


def test_series_apply_table_and_failures():
    frames = np.stack([np.full((40, 40), float(v)) for v in (1, 2, 3)])
    frames[:, 0, 0] = 0

    class R:
        def __init__(self, m):
            self.fractions = {"mean": m}

    def fn(frame, px, *, fail_above=10.0):
        if frame.mean() > fail_above:
            raise StemstrainError("too bright")
        return R(float(frame.mean()))

    frames[2] += 20
    with pytest.warns(UserWarning, match="1 of 3 frames failed"):
        res = ss.series_apply(frames, fn, 0.1)
    tab = res.table
    assert list(tab.status) == ["ok", "ok", "failed"]
    np.testing.assert_allclose(tab["fraction_mean"][:2], [1 - 1 / 1600, 2 - 2 / 1600])
    assert res.frames[2] is None
    assert res.group == "series_fn"
    with pytest.raises(TypeError, match="callable"):
        ss.series_apply(frames, "gpa")


def test_series_apply_stacking_fractions(tmp_path):
    from stemstrain.synthetic import layered_oxide

    frames = np.stack(
        [layered_oxide((192, 192), o1_gaps=g, dose=None).image for g in ((-100, -99), (0, 1))]
    )
    res = ss.series_apply(frames, ss.stacking_map, 0.02)
    o1 = res.table["fraction_O1"].to_numpy()
    assert o1[0] < 0.02 < o1[1]
    res.save(tmp_path / "r.h5")
    assert "series_stacking_map" in ss.read_results(tmp_path / "r.h5")
    assert res.plot() is not None


def test_series_apply_curvature_vs_time():
    from stemstrain.synthetic import layered_oxide

    frames = np.stack(
        [layered_oxide((192, 192), bend_radius_nm=r, dose=None).image for r in (None, 8.0)]
    )
    res = ss.series_apply(frames, ss.layer_curvature, 0.02)
    k = res.table["max_abs_curvature"].to_numpy()
    med = res.table["median_curvature"].to_numpy()
    assert k[0] < 0.01 and abs(med[0]) < 1e-3  # flat layers
    assert med[1] == pytest.approx(1 / 8.0, rel=0.1)  # every layer bent about one centre
    assert list(res.table.status) == ["ok", "ok"]
