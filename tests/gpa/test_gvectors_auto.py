"""The automatic g choice (find_g_vectors / choose_g) on layered and non-layered lattices."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import stemstrain as ss
from stemstrain.errors import NoLatticeError
from stemstrain.geometric_phase._gvectors import GChoice, choose_g, find_g_vectors
from stemstrain.synthetic import fields, layered_oxide

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lattice"))
from latticemap_helpers import column_image, square_basis

PX = 0.02


def _close_to_any(g, candidates, rel):
    return (
        min(np.linalg.norm(g - s * c) / np.linalg.norm(c) for c in candidates for s in (1, -1))
        < rel
    )


def test_layered_oxide_g1_is_the_layer_normal_and_says_so():
    lat = layered_oxide((384, 384), pixel_size=PX, angle_deg=-25.0, dose=200.0)
    g, info = find_g_vectors(lat.image, PX)
    t, n = fields.layer_frame(-25.0)
    assert _close_to_any(g[0] / PX, [n / 0.468], 0.005)
    assert g[0, 1] > 0  # n_y > 0
    assert info["layered"] and "layered" in info["reason"] and "(003)" in info["reason"]
    choice = info["choice"]
    assert isinstance(choice, GChoice) and choice.confidence > 0.7
    assert choice.presence[0] > 0.9 and choice.grain == 1
    assert np.hypot(*(g[1] / PX)) > 3.0  # an in-plane reflection, not the (006)


def test_square_lattice_is_not_layered_and_the_rule_is_not_applied():
    b = square_basis(0.39, 15.0)
    img = column_image((384, 384), b, PX, dose=200)
    g, info = find_g_vectors(img, PX)
    assert not info["layered"] and "not layered" in info["reason"]
    for gv in g:
        assert _close_to_any(gv / PX, b, 0.005)
    assert 85 < np.degrees(np.arccos(abs(g[0] @ g[1]) / np.prod(np.linalg.norm(g, axis=1)))) < 95


def test_noise_peaks_near_nyquist_and_beyond_the_physical_band_are_never_chosen():
    b = square_basis(0.39, 0.0)
    img = column_image((384, 384), b, PX, dose=100)
    yy, xx = np.mgrid[0:384, 0:384]
    # strong cosines at d = 0.045 nm (2.25 px, near Nyquist) and 0.07 nm (< 0.08 nm)
    img += 40 * np.cos(2 * np.pi * (xx / 2.25 + yy / 9.0)) + 40 * np.cos(2 * np.pi * yy / 3.5)
    g, info = find_g_vectors(img, PX)
    d = 1 / np.hypot(*(g / PX).T)
    assert np.all(d > 0.08)
    for gv in g:
        assert _close_to_any(gv / PX, b, 0.005)


def test_artefact_seen_in_vacuum_windows_is_rejected():
    # a lattice in the lower half, vacuum above; a scan-noise line pattern everywhere
    b = square_basis(0.30, 30.0)
    img = column_image((512, 512), b, PX, region=lambda x, y: y > 200, dose=200)
    yy = np.mgrid[0:512, 0:512][0]
    img = img + 15 * np.cos(2 * np.pi * yy / 17.0) * (1 + 0.0 * yy)
    lm = ss.lattice_map(img, PX)
    choice = choose_g(lm)
    for gv in choice.g_px:
        assert _close_to_any(gv / PX, b, 0.01)
    assert not any(abs(abs(gv[1]) - 1 / 17.0) < 2e-3 and abs(gv[0]) < 2e-3 for gv in choice.g_px)


def test_two_grains_report_per_grain_g_and_lower_confidence():
    b1, b2 = square_basis(0.39, 10.0), square_basis(0.39, 45.0)
    img = column_image((512, 512), b1, PX, region=lambda x, y: x < 256, dose=200) + column_image(
        (512, 512), b2, PX, region=lambda x, y: x >= 256, dose=200
    )
    lm = ss.lattice_map(img, PX)
    c1, c2 = choose_g(lm, grain=1), choose_g(lm, grain=2)
    assert len(c1.per_grain) == 2
    assert c1.confidence < 0.6 and "2 grains" in c1.reason
    grain_b = {1: None, 2: None}
    for c in (c1, c2):
        for b in (b1, b2):
            if all(_close_to_any(gv / PX, b, 0.01) for gv in c.g_px):
                grain_b[c.grain] = id(b)
    assert grain_b[1] is not None and grain_b[2] is not None and grain_b[1] != grain_b[2]
    _, info = find_g_vectors(img, PX, lattice=lm, grain=2)
    assert info["grain"] == 2 and len(info["grains"]) == 2


def test_no_lattice_and_fringes_raise_clear_errors():
    noise = np.random.default_rng(0).poisson(20.0, (256, 256)).astype(np.float32)
    with pytest.raises(NoLatticeError, match="no Bragg peaks"):
        find_g_vectors(noise, PX)
    yy = np.arange(256)[:, None] * np.ones((1, 256))
    fringes = 10 + np.cos(2 * np.pi * yy / 9.3)
    with pytest.raises(NoLatticeError, match="one direction"):
        find_g_vectors(fringes, PX)


def _particles_image(rng, n=512):
    """A small square-lattice particle (2-D) beside larger fringe particles (off zone)."""
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    img = np.full((n, n), 5.0)
    part = (xx - 390) ** 2 + (yy - 256) ** 2 < 80**2
    img += column_image((n, n), square_basis(0.3, 20.0), PX) * 10 * part
    for cx, cy, r, ang in ((120, 120, 100, 15.0), (120, 392, 100, 70.0)):
        disk = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
        t = np.radians(ang)
        phase = 2 * np.pi * (xx * np.cos(t) + yy * np.sin(t)) * PX / 0.235
        img += disk * (6.0 + 4.0 * np.cos(phase))
    return rng.poisson(img * 20).astype(np.float32)


def test_mostly_fringes_raise_naming_the_grains_and_a_chosen_grain_still_works():
    img = _particles_image(np.random.default_rng(4))
    lm = ss.lattice_map(img, PX)
    two_d = lm.grain_table[lm.grain_table.lattice != "fringes"]
    assert len(two_d) >= 1 and (lm.grain_table.lattice == "fringes").sum() >= 2
    with pytest.raises(
        NoLatticeError, match=r"one direction of lattice fringes only.*grain 1"
    ) as e:
        find_g_vectors(img, PX, lattice=lm)
    assert "grains=ss.lattice_map(image).to_pixels('grains') == 1" in str(e.value)
    with pytest.raises(NoLatticeError, match="one direction of lattice fringes only"):
        ss.gpa(img, PX)
    g, info = find_g_vectors(img, PX, lattice=lm, grain=1)  # the particle at a zone axis
    assert all(_close_to_any(gv / PX, square_basis(0.3, 20.0), 0.02) for gv in g)
