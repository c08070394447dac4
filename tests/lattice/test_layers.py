"""trace_layers: linking TM columns into layers numbered along the normal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from stemstrain import NoLatticeError, StemstrainError
from stemstrain.lattice import find_columns, trace_layers
from stemstrain.synthetic import fields, layered_oxide


def paired(lat, cols):
    """Truth layer/index of every detected column (nearest truth TM column)."""
    tm = lat.tm_columns(inside=False)
    d, i = cKDTree(np.c_[tm.x, tm.y]).query(np.c_[cols.x, cols.y])
    assert np.all(d < 3.0)
    return pd.DataFrame(
        {
            "tl": tm.layer.to_numpy()[i],
            "ti": tm["index"].to_numpy()[i],
            "dl": cols.layer.to_numpy(),
            "dp": cols.layer_pos.to_numpy(),
            "n": cols.n.to_numpy(),
        }
    )


@pytest.mark.parametrize(
    "kw",
    [
        dict(angle_deg=0.0),
        dict(angle_deg=-37.0),
        dict(angle_deg=25.0, bend_radius_nm=20.0),
        dict(angle_deg=-70.0, bend_radius_nm=-25.0, o1_gaps=(-2, 1)),
    ],
    ids=["flat", "rotated", "bent_R20", "steep_bent_O1"],
)
def test_layers_match_truth(kw):
    lat = layered_oxide((320, 320), seed=1, **kw)
    cols = find_columns(lat.image, pixel_size=lat.pixel_size)
    p = paired(lat, cols)
    assert (cols.layer >= 0).all()
    # one constant offset between truth and found layer numbers: consistent numbering
    assert (p.dl - p.tl).nunique() == 1
    # numbered from 0, in order along the canonical normal (truth layers increase along n)
    assert cols.layer.min() == 0
    assert cols.attrs["n_layers"] == p.tl.nunique()
    # index along the layer consistent within each layer
    assert (p.dp - p.ti).groupby(p.dl).nunique().max() == 1


def test_numbering_increases_along_normal():
    lat = layered_oxide((256, 256), angle_deg=50.0, seed=2)
    cols = find_columns(lat.image, pixel_size=0.02)
    med_n = cols.groupby("layer").n.median()
    assert np.all(np.diff(med_n.to_numpy()) > 0)
    assert np.diff(med_n.to_numpy()).mean() == pytest.approx(0.468 / 0.02, rel=0.02)


def test_missing_columns_are_bridged():
    lat = layered_oxide((320, 320), angle_deg=15.0, bend_radius_nm=30.0, seed=3)
    cols = find_columns(lat.image, pixel_size=0.02)
    rng = np.random.default_rng(0)
    drop = rng.random(len(cols)) < 0.05
    sub = trace_layers(cols[~drop].reset_index(drop=True))
    p = paired(lat, sub)
    assert (p.dl - p.tl).nunique() == 1
    # chains bridged across single missing columns: about one chain per layer
    assert sub.chain.nunique() <= sub.layer.nunique() + 3
    assert (p.dp - p.ti).groupby(p.dl).nunique().max() == 1


def test_dislocation_half_plane():
    angle = 5.0
    u = fields.edge_dislocation((0.0, 0.0), (0.244 / 3, 0.468), angle_deg=angle)
    lat = layered_oxide((320, 320), angle_deg=angle, displacement=u, seed=4)
    cols = find_columns(lat.image, pixel_size=0.02)
    assert (cols.layer >= 0).all()
    # every layer is a chain of nearest neighbours: no two columns share a (layer, layer_pos)
    assert not cols.duplicated(["layer", "layer_pos"]).any()
    # within a layer, consecutive columns are one period apart (no jumps to another layer)
    for _, g in cols.groupby("chain"):
        g = g.sort_values("layer_pos")
        step = np.hypot(np.diff(g.x), np.diff(g.y)) / np.diff(g.layer_pos)
        assert np.all(np.abs(step - 12.2) < 2.5)
    # Burgers circuit: between the same two heights, one more layer on one side of the core
    c = (lat.shape[1] - 1) / 2
    t, n = np.array(cols.attrs["tangent"]), np.array(cols.attrs["normal"])
    s_c, n_c = c * (t[0] + t[1]), c * (n[0] + n[1])
    tree = cKDTree(np.c_[cols.s, cols.n])

    def frac_layer(s, nn):
        _, i = tree.query([s, nn])
        return cols.layer.iloc[i] + (nn - cols.n.iloc[i]) / 23.4

    k = [
        frac_layer(s_c + side, n_c + 100) - frac_layer(s_c + side, n_c - 100) for side in (-90, 90)
    ]
    assert abs(abs(k[0] - k[1]) - 1.0) < 0.35


def test_explicit_parameters_and_errors():
    lat = layered_oxide((192, 192), angle_deg=10.0, seed=1)
    cols = find_columns(lat.image, pixel_size=0.02, trace=False)
    bare = pd.DataFrame({"x": cols.x, "y": cols.y})
    with pytest.raises(StemstrainError, match="normal"):
        trace_layers(bare)
    n = (-np.sin(np.deg2rad(10)), np.cos(np.deg2rad(10)))
    out = trace_layers(bare, normal=(-n[0], -n[1]), spacing_px=23.4)
    assert out.attrs["normal"][1] > 0
    assert (out.layer >= 0).all()
    ref = trace_layers(cols)
    assert np.array_equal(out.layer.to_numpy(), ref.layer.to_numpy())
    with pytest.raises(StemstrainError, match="'x' and 'y'"):
        trace_layers(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(NoLatticeError, match="at least 4"):
        trace_layers(bare.iloc[:3], normal=n, spacing_px=23.4)


def test_rock_salt_li_site_columns_stay_unassigned():
    """TM on the Li sites (rock salt, right part): those columns are found but get no layer."""
    lat = layered_oxide(
        (320, 320),
        angle_deg=10.0,
        dose=200,
        seed=3,
        li_occupancy=lambda x, y: np.where(x > 1.0, 1.0, 0.0),
    )
    cols = find_columns(lat.image, pixel_size=0.02)
    li = lat.columns[
        (lat.columns.species == "Li") & (lat.columns.occupancy > 0) & lat.columns.inside
    ]
    d, i = cKDTree(np.c_[cols.x, cols.y]).query(np.c_[li.x, li.y])
    assert np.mean(d < 3.0) > 0.95  # bright Li-site columns are detected...
    assert np.mean(cols.layer.to_numpy()[i[d < 3.0]] == -1) > 0.9  # ...but not given a layer
    tm = lat.tm_columns()
    d, i = cKDTree(np.c_[cols.x, cols.y]).query(np.c_[tm.x, tm.y])
    assert np.all(d < 3.0)
    assert np.unique(cols.layer.to_numpy()[i] - tm.layer.to_numpy()).size == 1
