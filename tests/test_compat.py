"""``keyword_only_after``: old positional calls still work for one release, with a FutureWarning."""

from __future__ import annotations

import inspect
import pydoc

import numpy as np
import pytest

from stemstrain._compat import keyword_only_after


@keyword_only_after(2, order=("columns", "method"))
def _analysis(image, pixel_size=None, *, method="a", columns=None, window_nm=1.0):
    """Stand-in analysis: returns what it received."""
    return image, pixel_size, method, columns, window_nm


def test_keyword_calls_do_not_warn():
    assert _analysis(1, 0.02, method="b", columns=3) == (1, 0.02, "b", 3, 1.0)
    assert _analysis(1) == (1, None, "a", None, 1.0)


def test_positional_options_are_mapped_in_the_old_order_with_a_future_warning():
    with pytest.warns(FutureWarning, match=r"_analysis\(\): passing columns, method positionally"):
        got = _analysis(1, 0.02, 7, "c", window_nm=2.0)
    assert got == (1, 0.02, "c", 7, 2.0)


def test_default_order_is_the_declaration_order():
    @keyword_only_after(1, since="9.9")
    def f(data, *, tm="Co", method="model"):
        return data, tm, method

    msg = r"f\(\): passing tm positionally is deprecated since 9\.9"
    with pytest.warns(FutureWarning, match=msg):
        assert f(0, "Ni") == (0, "Ni", "model")


def test_too_many_or_twice_given_positional_values_are_type_errors():
    with pytest.raises(TypeError, match="positional arguments at most"):
        _analysis(1, 0.02, 3, "c", 5)
    with pytest.raises(TypeError, match="multiple values for argument 'columns'"):
        _analysis(1, 0.02, 3, columns=4)


def test_the_real_signature_and_docstring_are_shown():
    sig = inspect.signature(_analysis)
    assert str(sig) == "(image, pixel_size=None, *, method='a', columns=None, window_nm=1.0)"
    assert _analysis.__name__ == "_analysis"
    text = pydoc.render_doc(_analysis, renderer=pydoc.plaintext)
    assert "*, method='a'" in text and "Stand-in analysis" in text


def test_wrong_declarations_fail_at_decoration():
    with pytest.raises(TypeError, match="has 1 positional parameters, not 2"):
        keyword_only_after(2)(lambda a, *, b=1: a)
    with pytest.raises(TypeError, match="must be keyword-only"):
        keyword_only_after(1, order=("a",))(lambda a, *, b=1: a)


# ------------------------------------------------- the public functions it is applied to
#: function -> (parameters that stay positional, options that were positional in 0.1)
DEPRECATED_POSITIONAL = {
    "fourd_probe": (("datacube", "probe"), ("reference",)),
    "fourd_strain": (("datacube", "probe"), ("reference", "backend")),
    "o_tm_ratio": (("spectrum",), ("tm", "method", "reference", "reference_ratio", "low_loss")),
    "correlate_with_curvature": (("ratio_result", "curvature_result"), ("registration",)),
    "layer_curvature": (("image", "pixel_size"), ("columns",)),
    "stacking_map": (("image", "pixel_size"), ("columns",)),
    "li_layer_occupancy": (("image", "pixel_size"), ("columns",)),
}


@pytest.mark.parametrize("name", sorted(DEPRECATED_POSITIONAL))
def test_public_options_are_keyword_only_and_help_shows_it(name):
    import stemstrain as ss

    fn = getattr(ss, name)
    positional, old = DEPRECATED_POSITIONAL[name]
    params = inspect.signature(fn).parameters
    kinds = {p.name: p.kind for p in params.values()}
    assert [n for n, k in kinds.items() if k is inspect.Parameter.POSITIONAL_OR_KEYWORD] == list(
        positional
    )
    assert all(kinds[n] is inspect.Parameter.KEYWORD_ONLY for n in old)
    assert fn.__wrapped__.__name__ == name  # the decorator, with the real function inside
    text = pydoc.render_doc(fn, renderer=pydoc.plaintext)
    keyword_part = text.split("*,", 1)[1].split(")", 1)[0]  # the signature after the "*"
    assert all(f" {n}" in keyword_part for n in old)


def test_old_positional_columns_call_still_works_with_a_future_warning():
    """layer_curvature(image, px, columns) = layer_curvature(image, px, columns=columns)."""
    import stemstrain as ss
    from stemstrain.synthetic import layered_oxide

    lat = layered_oxide((128, 128), pixel_size=0.02, bend_radius_nm=8.0, dose=None)
    cols = ss.find_columns(lat.image, pixel_size=0.02)
    new = ss.layer_curvature(lat.image, 0.02, columns=cols)
    with pytest.warns(FutureWarning, match=r"layer_curvature\(\): passing columns positionally"):
        old = ss.layer_curvature(lat.image, 0.02, cols)
    np.testing.assert_array_equal(old.map, new.map)
