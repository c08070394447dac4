import numpy as np
import pytest

from stemstrain.synthetic._fourd import fourd_dataset


@pytest.fixture(scope="session")
def default_data():
    """The default synthetic dataset (24×24 scan, 96² detector, Poisson noise)."""
    return fourd_dataset()


@pytest.fixture(scope="session")
def small_data():
    """Small noisy dataset for input-type tests."""
    return fourd_dataset((8, 10), (64, 64), g_length_px=14.0, disk_radius_px=3.0, seed=3)


def median_errors(res, truth, keys=("exx", "eyy", "exy", "rotation")):
    return {k: float(np.nanmedian(np.abs(getattr(res, k) - truth[k]))) for k in keys}
