"""fourd_phases on generated two-phase scans with known boundary, cells and strain."""

import numpy as np
import pytest

import stemstrain as ss
from stemstrain import StemstrainError
from stemstrain.synthetic._fourd import two_phase_dataset, two_phase_vectors


@pytest.fixture(scope="module")
def cube_case():
    cube, probe, structures, truth = two_phase_dataset((12, 16))
    res = ss.fourd_phases(
        cube, structures, probe=probe, geometry=ss.DetectorGeometry(reciprocal_pixel_size=0.1)
    )
    return cube, probe, structures, truth, res


def test_phase_map_cells_and_orientation_from_a_cube(cube_case):
    _, _, _, truth, res = cube_case
    assert res.phases == ("LCO", "spinel")
    acc = float((res.label_map == truth["label_map"]).mean())
    assert acc >= 0.98, acc
    lp = res.lattice_parameters
    assert lp["LCO"]["a"][0] == pytest.approx(0.2816, abs=0.002)
    assert lp["LCO"]["c"][0] == pytest.approx(1.405, abs=0.01)
    assert lp["spinel"]["a"][0] == pytest.approx(0.8245, abs=0.004)
    assert lp["spinel"]["a"][1] > 0
    # zone axes: symmetry-equivalent to LCO [100] (hexagonal) and spinel [110]
    za = res.zone_axis[truth["label_map"] == 1]
    np.testing.assert_allclose(np.sort(np.abs(za), axis=1), [[0, 1, 1]] * len(za), atol=1e-6)
    za = res.zone_axis[truth["label_map"] == 0]
    assert np.all(np.sort(np.abs(za), axis=1)[:, :2] < 1e-6)  # one lattice axis: <100>
    fr = ss.phase_fractions(res)
    assert fr["LCO"] == pytest.approx(np.mean(truth["label_map"] == 0), abs=0.03)
    assert sum(fr.values()) == pytest.approx(1.0)


def test_per_phase_strain_from_the_cube(cube_case):
    cube, probe, _, truth, res = cube_case
    for p, name in enumerate(res.phases):
        r = ss.fourd_strain(
            cube, probe, reference=truth["reference_masks"][p], phase=(res, name), progress=False
        )
        m = truth["label_map"] == p
        assert np.isnan(r.exx[~m & (res.label_map != p)]).all()
        for k in ("exx", "eyy", "exy", "rotation"):
            err = float(np.nanmedian(np.abs(getattr(r, k) - truth[k])[m]))
            assert err < 5e-4, (name, k, err)
        # negative control: the other phase's reference does not lie in this phase
        with pytest.raises(StemstrainError, match="no scan position of that phase"):
            ss.fourd_strain(
                cube,
                probe,
                reference=truth["reference_masks"][1 - p],
                phase=(res, name),
                progress=False,
            )


def test_vectors_input_wrong_cell_is_refined_and_bad_structure_loses():
    bv, structures, truth = two_phase_vectors((8, 10))
    lco, spinel = structures
    wrong = lco.copy()
    wrong.set_cell(lco.cell.array * np.array([[1.035], [1.035], [1.0]]), scale_atoms=True)
    wrong.info["name"] = "LCO_cif"
    # the data's cell is not the input's: said, not silent
    with pytest.warns(UserWarning, match=r"LCO_cif: the fitted cell .* differs .* by 3\.[0-9]%"):
        res = ss.fourd_phases(bv, [wrong, spinel])
    assert res.lattice_parameters["LCO_cif"]["cell_change"] == pytest.approx(0.034, abs=0.003)
    assert res.lattice_parameters["spinel"]["cell_change"] < 0.005
    assert (res.label_map == truth["label_map"]).mean() >= 0.98
    # the fit finds the data's own a (0.2816 nm), not the 3.5 % larger input cell
    assert res.lattice_parameters["LCO_cif"]["cif"][0] == pytest.approx(0.2915, abs=1e-3)
    assert res.lattice_parameters["LCO_cif"]["a"][0] == pytest.approx(0.2816, abs=0.002)
    # per-phase zone axes: the true ones only give the same map
    lib = ss.PhaseLibrary(zone_axes={"LCO_cif": [[1, 0, 0]], "spinel": [[1, 1, 0]]})
    with pytest.warns(UserWarning, match="LCO_cif: the fitted cell"):
        res_z = ss.fourd_phases(bv, [wrong, spinel], library=lib)
    assert res_z.params["n_zone_axes"] == [1, 1]
    assert (res_z.label_map == truth["label_map"]).mean() >= 0.98
    # a single wrong structure: the spinel region is matched worse than by spinel itself
    fixed = ss.PhaseLibrary(scale_range=0)
    with pytest.warns(UserWarning, match="layered: the fitted cell"):  # a mixed lattice
        only = ss.fourd_phases(bv, [lco], names=["layered"], library=fixed)
    sp = truth["label_map"] == 1
    assert np.nanmedian(only.scores[0][sp]) < np.nanmedian(res.scores[1][sp]) - 0.1
    # with the cell-scale search the layered template may take the spinel's oxygen
    # sub-lattice spacing (a = 0.8245/2√2): closer, but still below spinel itself
    with pytest.warns(UserWarning, match="layered: the fitted cell"):
        free = ss.fourd_phases(bv, [lco], names=["layered"])
    assert np.nanmedian(only.scores[0][sp]) < np.nanmedian(free.scores[0][sp])
    assert np.nanmedian(free.scores[0][sp]) < np.nanmedian(res.scores[1][sp]) - 0.03


@pytest.mark.parametrize("factor", [1.045, 0.952])
def test_cell_scale_search_converges_from_a_cif_several_percent_off(factor):
    # the whole LCO cell (a and c) 4.5 % too large / 4.8 % too small: the scale search
    # finds the data's own cell; without it the wrong cell loses its own region
    bv, (lco, spinel), truth = two_phase_vectors((8, 10))
    wrong = lco.copy()
    wrong.set_cell(lco.cell.array * factor, scale_atoms=True)
    wrong.info["name"] = "LCO_cif"
    with pytest.warns(UserWarning, match="LCO_cif: the fitted cell"):
        res = ss.fourd_phases(bv, [wrong, spinel])
    assert (res.label_map == truth["label_map"]).mean() >= 0.98
    lp = res.lattice_parameters["LCO_cif"]
    assert lp["cif"][0] == pytest.approx(0.2816 * factor, rel=1e-6)
    assert lp["a"][0] == pytest.approx(0.2816, abs=0.001)
    assert lp["c"][0] == pytest.approx(1.405, abs=0.005)
    assert res.params["cell_scale_search"]["LCO_cif"] == pytest.approx(1 / factor, abs=0.01)
    with pytest.warns(UserWarning, match="only 0 indexed peaks"):
        off = ss.fourd_phases(bv, [wrong, spinel], library=ss.PhaseLibrary(scale_range=0))
    assert (off.label_map == truth["label_map"]).mean() < 0.9


def test_result_save_signal_key_figures(cube_case, tmp_path):
    res = cube_case[-1]
    path = res.save(tmp_path / "r.h5")
    back = ss.read_results(path)["fourd_phases"]
    np.testing.assert_array_equal(back["label_map"], res.label_map)
    kf = res.key_figures()
    assert kf["fraction_LCO"] + kf["fraction_spinel"] + kf["fraction_unassigned"] == pytest.approx(
        1.0
    )
    assert kf["LCO_a_nm"] == pytest.approx(res.lattice_parameters["LCO"]["a"][0])
    sig = res.to_signal()
    assert sig.data.shape[0] == 4
    import matplotlib

    matplotlib.use("Agg")
    fig = res.plot()
    assert len(fig.axes) >= 3


def test_errors(cube_case):
    cube, probe, structures, _, _ = cube_case
    with pytest.raises(StemstrainError, match="calibrated detector"):
        ss.fourd_phases(cube, structures, probe=probe)
    with pytest.raises(TypeError, match="CIF path or an ase.Atoms"):
        ss.fourd_phases(cube, [3.0], probe=probe)
    with pytest.raises(StemstrainError, match="not found"):
        ss.fourd_phases(cube, ["missing.cif"])
    with pytest.raises(StemstrainError, match="zone_axes"):
        ss.PhaseLibrary(zone_axes="all")
    with pytest.raises(StemstrainError, match="names must have one entry"):
        ss.fourd_phases(two_phase_vectors((2, 2))[0], structures, names=["a"])
    with pytest.raises(StemstrainError, match="phase must be None or"):
        ss.fourd_strain(cube, probe, phase="LCO", progress=False)


def test_napari_labels_layer_of_the_phase_map(cube_case):
    pytest.importorskip("magicgui")
    from napari_stemstrain._widgets._fourd import show_phase_labels

    class Viewer:  # the two calls the helper makes
        def __init__(self):
            self.layers, self.added = [], {}

        def add_labels(self, data, **kw):
            self.added = {"data": data, **kw}
            self.layers.append(kw["name"])
            return self.added

    res = cube_case[-1]
    v = Viewer()
    layer = show_phase_labels(v, res, pixel_size=2.0)
    np.testing.assert_array_equal(layer["data"], res.label_map + 1)
    assert layer["metadata"]["phases"] == {1: "LCO", 2: "spinel"}
    assert layer["scale"] == (2.0, 2.0)


def test_lazy_polar_patterns_equal_the_whole_array():
    from stemstrain.fourd._match import LazyPolarPatterns, PolarGrid, polar_patterns

    rng = np.random.default_rng(1)
    n, k = 40, 600
    pos = np.sort(rng.integers(0, n, k))
    pos[pos == 7] = 8  # a position without peaks
    qx, qy, w = rng.normal(0, 5, k), rng.normal(0, 5, k), rng.uniform(0.1, 1, k)
    grid = PolarGrid(1.0, 12.0, dlr=0.05, n_t=30)
    whole = polar_patterns(grid, pos, qx, qy, w, n)
    lazy = LazyPolarPatterns(grid, pos, qx, qy, w, n)
    assert lazy.shape == whole.shape
    np.testing.assert_array_equal(lazy[5:17], whole[5:17])
    sub = lazy.subset(np.array([3, 7, 8, 39]))
    np.testing.assert_array_equal(sub[0:4], whole[[3, 7, 8, 39]])
    assert not whole[7].any() and whole[8].any()
