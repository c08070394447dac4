"""plot_ratio draws the profile with its band and the maps (Agg, no display)."""

from __future__ import annotations

import numpy as np

from stemstrain.eels import o_tm_ratio


def test_plot_linescan_band(linescans, tmp_path):
    r = o_tm_ratio(linescans[0][0])
    fig = r.plot(reference_line=2.0)
    ax = fig.axes[0]
    band = ax.collections[0].get_paths()[0].vertices
    inside = np.isfinite(r.ratio)
    # the band spans ratio -+ 1 sigma at the first inside position
    y = band[:, 1][np.isclose(band[:, 0], r.distance_nm[inside][0])]
    lo = r.ratio[inside][0] - r.uncertainty[inside][0]
    hi = r.ratio[inside][0] + r.uncertainty[inside][0]
    assert np.isclose(y.min(), lo, rtol=1e-4) and np.isclose(y.max(), hi, rtol=1e-4)
    assert ax.get_xlabel() == "distance from surface (nm)"
    fig.savefig(tmp_path / "profile.png")


def test_plot_map(small_si, tmp_path):
    r = o_tm_ratio(small_si[0])
    fig = r.plot()
    images = [a.images[0] for a in fig.axes if a.images]
    assert len(images) == 2
    assert np.allclose(images[0].get_array(), r.ratio, equal_nan=True)
    fig.savefig(tmp_path / "map.png")
