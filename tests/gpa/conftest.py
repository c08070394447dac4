"""Fixtures of the GPA tests: synthetic lattices generated once per module."""

from __future__ import annotations

import pytest
from gpa_helpers import ANGLE, PX

from stemstrain.synthetic import fields, layered_oxide


@pytest.fixture(scope="module")
def step_lattice():
    """Rotated lattice, Poisson noise, weak O columns, smooth step 0 -> (-1 %, +2 %)."""
    disp = fields.strain_step(-0.01, 0.02, angle_deg=ANGLE, along="t")
    return layered_oxide(
        (512, 512),
        pixel_size=PX,
        angle_deg=ANGLE,
        displacement=disp,
        o_amplitude=0.08,
        dose=200.0,
        seed=3,
    )
