"""Structure models: projected columns and HAADF weights against hand-derived geometry."""

from __future__ import annotations

import numpy as np
import pytest

from stemstrain.errors import StemstrainError
from stemstrain.phases import phase_templates, project, structure
from stemstrain.phases._structures import Z_EXPONENT


def _cations(cell):
    keep = np.array([s != "O" for s in cell.species])
    return cell.t[keep], cell.n[keep], cell.weight[keep], np.array(cell.species)[keep]


def test_layered_family_a_o3_stacking_and_weights():
    cell = phase_templates("layered", "A")[0]
    assert cell.layer_spacing == pytest.approx(1.40542 / 3, abs=1e-4)  # c / 3
    assert cell.row_period == pytest.approx(0.28156 * np.sqrt(3) / 2, abs=1e-4)
    t, n, w, sp = _cations(cell)
    co = sp == "Co"
    # Co layers every d, shifted by a/3 per layer (ABC stacking)
    order = np.argsort(n[co])
    nn, tt = n[co][order], t[co][order]
    np.testing.assert_allclose(np.diff(nn), -np.diff(nn[::-1])[::-1])
    step = np.diff(nn)
    np.testing.assert_allclose(np.abs(step), cell.layer_spacing, atol=1e-4)
    shift = np.diff(tt) / cell.row_period % 1.0
    assert np.all(np.isclose(shift, 1 / 3, atol=1e-3) | np.isclose(shift, 2 / 3, atol=1e-3))
    # weights: Co column = 1 (reference), Li column = (3/27)^1.7, O = (8/27)^1.7
    np.testing.assert_allclose(w[co], 1.0, rtol=1e-6)
    np.testing.assert_allclose(w[sp == "Li"], (3 / 27) ** Z_EXPONENT, rtol=1e-6)
    li = sp == "Li"
    # Li midway between Co layers
    d_li = np.min(np.abs(n[li][:, None] - n[co][None, :]), axis=1)
    np.testing.assert_allclose(d_li, cell.layer_spacing / 2, atol=1e-4)


def test_rock_salt_fills_every_half_layer_and_c2m_two_bright_one_dark():
    rs = phase_templates("rock_salt", "A")[0]
    t, n, w, _ = _cations(rs)
    assert rs.layer_spacing == pytest.approx(2 * 0.42615 / np.sqrt(3), abs=1e-4)
    assert np.ptp(w) == pytest.approx(0, abs=1e-9)  # all cation columns equal
    lat_n = np.unique(np.round(n % (rs.layer_spacing / 2), 4))
    assert lat_n.size == 1  # cation layers every d/2
    c2m = phase_templates("C2/m", "B")[0]
    assert c2m.row_period == pytest.approx(0.1426, abs=2e-3)
    t, n, w, sp = _cations(c2m)
    layer = np.isclose(n, 0, atol=1e-3)
    o = np.argsort(t[layer])
    motif = "".join("M" if s == "Mn" else "L" for s in sp[layer][o])
    assert motif == "MMLMML"  # two bright Mn columns, one dark Li column, every b/6
    np.testing.assert_allclose(np.diff(t[layer][o]), 0.8532 / 6, atol=2e-3)
    assert w[layer][sp[layer] == "Mn"].min() > 20 * w[layer][sp[layer] == "Li"].max()


def test_spinel_mixed_layer_and_topotactic_spacings():
    sp = phase_templates("spinel", "A")[0]
    assert sp.layer_spacing == pytest.approx(0.80837 / np.sqrt(3), abs=1e-4)
    t, n, w, _ = _cations(sp)
    # columns at half-layer heights (the 1/4-filled "Li layer" of the layered parent)
    frac = np.round((n / sp.layer_spacing) % 1.0, 2)
    assert np.any(np.isclose(frac, 0.5, atol=0.02))
    # the family-A in-plane period is the same O-row period in all phases (within 7 %)
    rows = [phase_templates(p, "A")[0].row_period for p in ("layered", "spinel", "rock_salt")]
    assert max(rows) / min(rows) < 1.08


def test_shared_cifs_read_with_ase(shared_data_dir):
    from ase.io import read

    lco = read(shared_data_dir / "py4DSTEM__test_unit_test_data_crystal__LCO.cif")
    cell = project(lco, (1, 0, 0), (0, 0, 3))
    assert cell.layer_spacing == pytest.approx(1.425 / 3, abs=1e-4)  # c = 14.25 A as shipped
    assert cell.row_period == pytest.approx(0.292 * np.sqrt(3) / 2, abs=1e-4)
    lmo = read(shared_data_dir / "py4DSTEM__test_unit_test_data_crystal__LiMn2O4.cif")
    cell = project(lmo, (1, -1, 0), (1, 1, 1))
    assert cell.layer_spacing == pytest.approx(0.8245 / np.sqrt(3), abs=1e-4)
    with pytest.warns(UserWarning, match="monoclinic"):  # ASE's note on C2/m settings
        l2m = read(shared_data_dir / "py4DSTEM__test_unit_test_data_crystal__Li2MnO3.cif")
    cell = project(l2m, (1, 0, 0), (0, 0, 1))
    _, n, w, sp = _cations(cell)
    assert {"Li", "Mn"} <= set(sp)


def test_structure_errors():
    with pytest.raises(StemstrainError, match="structure must be one of"):
        structure("LiFePO4")
    with pytest.raises(StemstrainError, match="not perpendicular"):
        project(structure("CoO"), (1, 1, 1), (1, 1, 1))
    with pytest.raises(StemstrainError, match="phases must be among"):
        phase_templates("olivine", "A")
    with pytest.raises(StemstrainError, match="zone family"):
        phase_templates("layered", "C")
