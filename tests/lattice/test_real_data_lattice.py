"""find_columns / trace_layers / layer_spacing / layer_curvature on the real files (#14)."""

import warnings

import numpy as np
import pytest

import stemstrain as ss
from stemstrain.lattice import find_columns, layer_curvature, layer_spacing


def _image(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sig = ss.load(path)
    sig = sig[0] if isinstance(sig, list) else sig
    ax = sig.axes_manager.signal_axes[0]
    scale = {"nm": 1.0, "Å": 0.1}.get(str(ax.units))
    return np.asarray(sig.data, dtype=np.float32), (ax.scale * scale if scale else None)


@pytest.mark.shared_data
def test_ybco_layers_traced_and_spacing_map(shared_data_dir):
    img, ps = _image(shared_data_dir / "SciLink__data__YBCO_tem.tif")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cols = find_columns(img, pixel_size=ps)
        sp = layer_spacing(cols, pixel_size=ps, shape=img.shape)
        cv = layer_curvature(img, pixel_size=ps, columns=cols)
    assert len(cols) > 1000 and cols.attrs["lattice_source"].startswith("lattice_map")
    assert cols.attrs["n_layers"] > 10 and (cols.layer >= 0).mean() > 0.4
    # spacing map covers the rows above and below the planar fault (y ~ 252 px)
    m = np.asarray(sp.spacing)
    assert np.isfinite(m[200:240]).mean() > 0.3 and np.isfinite(m[265:305]).mean() > 0.3
    assert 0.2 < np.nanmedian(m) < 1.2  # nm: physical
    assert np.isfinite(cv.layers.curvature).mean() > 0.5


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "name",
    [
        "TEMUL__PTO_supercrystal_hadjimichael__Cropped_PTO-SRO_Aligned.hspy",
        "openNCEM__ncempy_data__16_STOimage.emi",
    ],
)
def test_columns_on_perovskite_images(shared_data_dir, name):
    img, ps = _image(shared_data_dir / name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cols = find_columns(img, pixel_size=ps)
    period_nm = cols.attrs["period_px"] * ps
    assert 0.15 < period_nm < 0.45  # a B-B or A-A projected distance of a perovskite
    assert len(cols) > 300


@pytest.mark.shared_data
def test_llto_jpeg_through_pil(shared_data_dir):
    from PIL import Image

    img = np.asarray(
        Image.open(shared_data_dir / "AI-STEM__image_test__LLTO.jpg").convert("L"), dtype=np.float32
    )
    cols = find_columns(img)
    assert len(cols) > 1000 and 4 < cols.attrs["period_px"] < 20
