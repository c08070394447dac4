"""``stemstrain/_units.py``: one unit table (loader, analyses' checks, Bragg reader)."""

from __future__ import annotations

import pytest

from stemstrain._validate import inverse_length_unit_to_inv_nm, length_unit_to_nm
from stemstrain.io import unit_factor

LENGTHS = [("nm", 1.0), ("Å", 0.1), ("angstrom", 0.1), ("µm", 1e3), ("μm", 1e3), ("pm", 1e-3)]
RECIPROCAL = [("1/nm", 1.0), ("nm^-1", 1.0), ("1/Å", 10.0), ("A^-1", 10.0), ("1 / Å", 10.0)]
NOT_A_LENGTH = ["px", "", "<undefined>", "eV", "mrad", None]


@pytest.mark.parametrize(("units", "factor"), LENGTHS)
def test_lengths_are_read_alike_by_the_loader_and_the_analyses(units, factor):
    assert unit_factor(units, "real") == pytest.approx(factor, rel=1e-12)
    assert length_unit_to_nm(units) == pytest.approx(factor, rel=1e-12)


@pytest.mark.parametrize(("units", "factor"), RECIPROCAL)
def test_reciprocal_lengths_include_py4dstem_spelling(units, factor):
    """``A^-1`` (py4DSTEM's Q_pixel_units) was unknown to the analyses' own table before."""
    assert unit_factor(units, "reciprocal") == pytest.approx(factor, rel=1e-12)
    assert inverse_length_unit_to_inv_nm(units) == pytest.approx(factor, rel=1e-12)


@pytest.mark.parametrize("units", NOT_A_LENGTH)
def test_no_factor_for_what_is_not_a_length(units):
    assert length_unit_to_nm(units) is None and unit_factor(units, "real") is None
