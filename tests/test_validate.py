import numpy as np
import pytest

from stemstrain import StemstrainError
from stemstrain._backend import resolve_backend
from stemstrain._validate import check_finite, check_positive, float_dtype, image_and_pixel_size


def test_float_dtype_rules():
    assert float_dtype(np.float32) == np.float32
    assert float_dtype(np.float16) == np.float32
    assert float_dtype(np.uint16) == np.float64
    assert float_dtype(np.complex64) == np.float32


def test_image_and_pixel_size_array_and_errors():
    img = np.zeros((4, 5))
    assert image_and_pixel_size(img, 0.1)[1] == pytest.approx(0.1)
    assert image_and_pixel_size(img)[1] is None
    with pytest.raises(StemstrainError, match="2-D image.*shape"):
        image_and_pixel_size(np.zeros((2, 3, 4)), 0.1)
    with pytest.raises(StemstrainError, match="pixel_size"):
        image_and_pixel_size(img, -1)
    with pytest.raises(StemstrainError, match="real numbers"):
        image_and_pixel_size(np.zeros((4, 4), complex), 0.1)
    with pytest.raises(StemstrainError, match="NaN"):
        check_finite(np.array([[np.nan, 1.0]]), "image")
    with pytest.raises(StemstrainError, match="backend"):
        resolve_backend("tpu")
    with pytest.raises(StemstrainError, match="> 0"):
        check_positive(0, "sigma_px")


def test_signal_calibration_converted_to_nm():
    hs = pytest.importorskip("hyperspy.api")
    s = hs.signals.Signal2D(np.zeros((4, 4)))
    for ax in s.axes_manager.signal_axes:
        ax.scale, ax.units = 2.0, "Å"
    assert image_and_pixel_size(s)[1] == pytest.approx(0.2)
    s2 = hs.signals.Signal2D(np.zeros((4, 4)))
    with pytest.warns(UserWarning, match="not a length"):
        assert image_and_pixel_size(s2)[1] is None


def test_one_line_messages():
    assert "\n" not in str(StemstrainError("a\nb   c"))
