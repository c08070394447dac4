"""Results file layout: atomic writes, groups, tables, attributes, round trip."""

import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from stemstrain.results import (
    Calibration,
    ResultBase,
    TableResult,
    atomic_write_text,
    file_sha256,
    read_results,
    write_results,
)


@dataclass(frozen=True)
class _Maps(ResultBase):
    group: ClassVar[str] = "gpa"
    map_fields: ClassVar[tuple] = ("exx", "eyy")
    array_fields: ClassVar[tuple] = ("g_vectors",)
    attr_fields: ClassVar[tuple] = ("params",)
    exx: np.ndarray
    eyy: np.ndarray
    g_vectors: np.ndarray
    pixel_size: float
    params: dict
    calibration: Calibration = Calibration()


def _maps(seed=0):
    rng = np.random.default_rng(seed)
    return _Maps(
        rng.normal(size=(8, 9)).astype(np.float32),
        rng.normal(size=(8, 9)),
        np.eye(2),
        0.02,
        {"resolution_nm": 1.0},
        Calibration.from_pixel_size(0.02),
    )


def test_round_trip_groups_tables_and_attrs(tmp_path):
    src = tmp_path / "input.dat"
    src.write_bytes(b"abc" * 100)
    res = _maps()
    table = pd.DataFrame({"x": [1.5, 2.5], "layer": [0, 1], "label": ["O3", "O1"]})
    out = write_results(
        tmp_path / "r" / "results.h5",
        [res, TableResult("columns", table, 0.02)],
        input_path=src,
        attrs={"config_hash": "abc"},
    )
    back = read_results(out)
    assert np.array_equal(back["gpa"]["exx"], res.exx)
    assert back["gpa"]["exx"].dtype == np.float32
    assert np.array_equal(back["gpa"]["g_vectors"], np.eye(2))
    assert back["gpa"]["attrs"]["pixel_size_nm"] == pytest.approx(0.02)
    assert '"resolution_nm": 1.0' in back["gpa"]["attrs"]["params"]
    pd.testing.assert_frame_equal(back["columns"], table)
    assert back["attrs"]["input_sha256"] == file_sha256(src)
    assert back["attrs"]["config_hash"] == "abc"
    # no temporary file left behind
    assert [p.name for p in out.parent.iterdir()] == ["results.h5"]


def test_append_keeps_other_groups_and_replaces_same(tmp_path):
    path = tmp_path / "results.h5"
    write_results(path, [TableResult("columns", pd.DataFrame({"x": [1.0]}))])
    first, second = _maps(seed=0), _maps(seed=1)
    assert not np.array_equal(first.exx, second.exx)
    first.save(path)
    second.save(path)
    back = read_results(path)
    assert set(back) == {"columns", "gpa", "attrs"}
    # the second save replaced the gpa group, the columns table is untouched
    assert np.array_equal(back["gpa"]["exx"], second.exx)
    assert np.array_equal(back["gpa"]["eyy"], second.eyy)
    pd.testing.assert_frame_equal(back["columns"], pd.DataFrame({"x": [1.0]}))


def test_failed_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "results.h5"
    write_results(path, [TableResult("columns", pd.DataFrame({"x": [1.0]}))])
    before = path.read_bytes()

    class Boom(ResultBase):
        group = "boom"

        def arrays(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_results(path, [Boom()])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.h5"]


def test_to_signal_is_calibrated():
    pytest.importorskip("hyperspy")
    sig = _maps().to_signal()
    assert sig.data.shape == (2, 8, 9)
    assert sig.axes_manager.signal_axes[0].scale == pytest.approx(0.02)
    assert sig.axes_manager.signal_axes[0].units == "nm"


def test_atomic_write_text(tmp_path):
    p = tmp_path / "a" / "s.json"
    atomic_write_text(p, "{}")
    assert p.read_text() == "{}"
    assert os.listdir(p.parent) == ["s.json"]
