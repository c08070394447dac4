"""Issue 13: results never overwrite a user's data; names cannot escape --out; no collisions.

Each test builds the issue's minimal reproduction in tmp_path (tiny 96 px images and the
``columns`` analysis only, so each input takes well under a second).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from batch_helpers import PX, save_signal, tree_hashes

from stemstrain.batch import analyze_file, discover, parse_config, run_batch
from stemstrain.batch._safety import (
    RESULTS_MARKER,
    OutputLock,
    encode_name,
    escape,
    safe_name,
)
from stemstrain.cli import main

FAST = {"analyses": {"image": ["columns"]}, "run": {"figures": False}}


@pytest.fixture(scope="module")
def image_bytes(tmp_path_factory) -> bytes:
    from stemstrain.synthetic import layered_oxide

    p = tmp_path_factory.mktemp("img") / "a.hspy"
    save_signal(layered_oxide((96, 96), pixel_size=PX, seed=1).image, p)
    return p.read_bytes()


def _put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _cfg_file(tmp_path: Path) -> str:
    p = tmp_path / "fast.toml"
    p.write_text('[analyses]\nimage = ["columns"]\n[run]\nfigures = false\n')
    return str(p)


def _rows(out: Path) -> dict:
    with open(out / "summary.csv", newline="") as fh:
        return {r["path"]: r for r in csv.DictReader(fh)}


# --- 1. a folder stemstrain does not own is never renamed, replaced or removed ----------


def test_analyze_out_parent_of_input_is_refused(tmp_path, image_bytes, capsys):
    data = tmp_path / "d" / "data"
    inp = _put(data / "sample" / "sample.hspy", image_bytes)
    (data / "sample" / "notes.txt").write_text("my notes")
    before = tree_hashes(tmp_path / "d")
    code = main(
        ["analyze", str(inp), "--out", str(data), "--config", _cfg_file(tmp_path), "--quiet"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "contains the folder of the input" in err[0]
    assert tree_hashes(tmp_path / "d") == before


def test_batch_out_parent_of_session_is_refused(tmp_path, image_bytes, capsys):
    sess = tmp_path / "r" / "sess"
    _put(sess / "sess.hspy", image_bytes)
    before = tree_hashes(tmp_path / "r")
    code = main(["batch", str(sess), "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "contains the session folder" in err[0]
    assert tree_hashes(tmp_path / "r") == before and not (tmp_path / "r" / "summary.csv").exists()


def test_user_folder_with_the_results_name_survives(tmp_path, image_bytes):
    sess = tmp_path / "sess"
    _put(sess / "dislocation.hspy", image_bytes)
    out = tmp_path / "h"
    _put(out / "dislocation" / "thesis" / "chapter1.tex", b"my thesis")
    _put(out / "dislocation_hspy" / "draft.txt", b"my draft")  # even the encoded name
    before = tree_hashes(out)
    for _ in range(2):  # and a second run: still untouched, same fresh name reused
        res = run_batch(sess, out, parse_config(FAST), progress=False, report=False)
        row = res.rows[0]
        assert row["status"] == "ok", row["error"]
        assert Path(row["output"]).name == "dislocation_hspy~2"
        assert any("not a stemstrain results folder" in w for w in row["warnings"])
    after = tree_hashes(out)
    assert {k: after[k] for k in before} == before
    assert (out / "dislocation_hspy~2" / RESULTS_MARKER).is_file()
    assert _rows(out)["dislocation.hspy"]["output"] == "dislocation_hspy~2"


# --- 2. names cannot escape --out ---------------------------------------------------------


@pytest.mark.parametrize("name", ["...hspy", "..hspy", ".hspy"])
def test_dot_names_stay_inside_out(tmp_path, image_bytes, name):
    work = tmp_path / "work"
    inp = _put(tmp_path / "in" / name, b"not an hspy file")  # unreadable: failed summary
    out = work / "out"
    _put(work / "keep.txt", b"keep")
    summary = analyze_file(inp, out, parse_config(FAST))
    assert summary["status"] == "failed" and "cannot read" in summary["error"]
    folder = Path(summary["output"])
    assert folder.parent == out.resolve() and not folder.name.startswith(".")
    assert (folder / "summary.json").is_file() and (folder / RESULTS_MARKER).is_file()
    assert (work / "keep.txt").read_bytes() == b"keep" and out.is_dir()
    assert sorted(p.name for p in work.iterdir()) == ["keep.txt", "out"]


def test_safe_names():
    for bad in ("..", ".", "a/b", "a\\b", "x\x1b[31m", "\x00", ""):
        s = safe_name(bad)
        assert s not in (".", "..", "") and "/" not in s and "\\" not in s
        assert not s.startswith(".") and escape(s) == s
    assert encode_name("a.hspy") == "a_hspy" and encode_name("..hspy") == "__hspy"
    assert encode_name("...hspy") == "___hspy" and encode_name("README") == "README"


def test_results_path_through_a_link_outside_out_is_refused(tmp_path, image_bytes):
    sess = tmp_path / "sess"
    _put(sess / "sub" / "x.hspy", image_bytes)
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(outside, target_is_directory=True)
    res = run_batch(sess, out, parse_config(FAST), progress=False, report=False)
    row = res.rows[0]
    assert row["status"] == "failed" and "outside --out" in row["error"]
    assert list(outside.iterdir()) == []


# --- 3. collision-free names; good results kept ------------------------------------------


def test_colliding_names_get_distinct_folders(tmp_path, image_bytes):
    sess = tmp_path / "sess"
    for rel in ("a.hspy", "a/b.hspy", "x.hspy", "x_hspy.hspy", "x_hspy/c.hspy"):
        _put(sess / rel, image_bytes)
    out = tmp_path / "out"
    res = run_batch(sess, out, parse_config(FAST), progress=False, report=False)
    assert res.count("ok") == 5
    outs = [Path(r["output"]) for r in res.rows]
    assert len(set(outs)) == 5
    for a in outs:  # no results folder inside another
        assert not any(b != a and b in a.parents for b in outs)
    rows = _rows(out)
    for rel, r in rows.items():
        summary = json.loads((out / r["output"] / "summary.json").read_text())
        assert summary["path"] == rel  # summary.csv points at this file's own results
    assert rows["x_hspy.hspy"]["output"] == "x_hspy_hspy"
    assert rows["x_hspy/c.hspy"]["output"] == "x_hspy/c_hspy"
    assert rows["x.hspy"]["output"] == "x_hspy~2"  # the folder x_hspy/ claimed the name first


def test_failed_analyze_keeps_good_results(tmp_path, image_bytes, capsys):
    inp = _put(tmp_path / "in" / "dislocation.hspy", image_bytes)
    out = tmp_path / "out"
    cfg = _cfg_file(tmp_path)
    assert main(["analyze", str(inp), "--out", str(out), "--config", cfg, "--quiet"]) == 0
    good = tree_hashes(out / "dislocation_hspy")
    inp.write_bytes(image_bytes[:200])  # now broken
    assert main(["analyze", str(inp), "--out", str(out), "--config", cfg, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "kept" in err and "--overwrite" in err
    assert tree_hashes(out / "dislocation_hspy") == good
    assert (
        main(["analyze", str(inp), "--out", str(out), "--config", cfg, "--quiet", "--overwrite"])
        == 2
    )
    s = json.loads((out / "dislocation_hspy" / "summary.json").read_text())
    assert s["status"] == "failed" and not (out / "dislocation_hspy" / "results.h5").exists()


# --- 4/5. lock, discovery of odd entries ----------------------------------------------------


def test_second_run_on_the_same_out_gets_a_clear_error(tmp_path, image_bytes, capsys):
    sess = tmp_path / "sess"
    _put(sess / "a.hspy", image_bytes)
    out = tmp_path / "out"
    out.mkdir()
    with OutputLock(out):
        code = main(["batch", str(sess), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "in use by another stemstrain run" in err[0]
    assert f"pid {os.getpid()}" in err[0]
    with OutputLock(out):  # released: can be taken again
        pass


def test_symlink_loop_fifo_and_folder_link_are_one_row_each(tmp_path, image_bytes):
    sess = tmp_path / "sess"
    _put(sess / "good.hspy", image_bytes)
    (sess / "loop.hspy").symlink_to(sess / "loop.hspy")
    (sess / "dangling.tif").symlink_to(sess / "nowhere.tif")
    (sess / "sub").mkdir()
    (sess / "sub" / "up").symlink_to(sess, target_is_directory=True)  # folder loop
    os.mkfifo(sess / "pipe.hspy")  # reading it would block forever
    res = run_batch(sess, tmp_path / "out", parse_config(FAST), progress=False, report=False)
    rows = {r["path"]: r for r in res.rows}
    assert set(rows) == {"good.hspy", "loop.hspy", "dangling.tif", "sub/up", "pipe.hspy"}
    assert rows["good.hspy"]["status"] == "ok"
    assert rows["loop.hspy"]["status"] == "failed" and "loop" in rows["loop.hspy"]["error"]
    assert rows["dangling.tif"]["status"] == "failed"
    assert rows["sub/up"]["status"] == "skipped" and "not followed" in rows["sub/up"]["error"]
    assert rows["pipe.hspy"]["status"] == "skipped" and "FIFO" in rows["pipe.hspy"]["error"]
    assert (tmp_path / "out" / "summary.csv").is_file()


def test_unreadable_folder_is_one_failed_row(tmp_path, image_bytes, monkeypatch):
    sess = tmp_path / "sess"
    _put(sess / "good.hspy", image_bytes)
    _put(sess / "locked" / "x.hspy", image_bytes)
    real_scandir = os.scandir

    def scandir(path="."):  # root ignores permissions: simulate EACCES on one folder
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    entries = {e.rel: e for e in discover(sess, parse_config(FAST))}
    assert entries["good.hspy"].status == "todo"
    assert entries["locked"].status == "failed" and "Permission denied" in entries["locked"].reason


def test_results_folders_inside_the_session_are_not_input(tmp_path, image_bytes):
    sess = tmp_path / "sess"
    _put(sess / "a.hspy", image_bytes)
    res1 = run_batch(sess, sess / "results", parse_config(FAST), progress=False, report=False)
    assert res1.count("ok") == 1
    # a second output folder inside the session: the first one's results are not inputs
    res2 = run_batch(sess, sess / "results2", parse_config(FAST), progress=False, report=False)
    assert [r["path"] for r in res2.rows] == ["a.hspy"]


# --- 6. resume verifies completeness ----------------------------------------------------------


def test_resume_regenerates_missing_or_corrupt_results(tmp_path, image_bytes):
    sess = tmp_path / "sess"
    for n in ("a", "b", "c"):
        _put(sess / f"{n}.hspy", image_bytes)
    out = tmp_path / "out"
    cfg = parse_config(FAST)
    assert run_batch(sess, out, cfg, progress=False, report=False).count("ok") == 3
    (out / "a_hspy" / "results.h5").unlink()
    h5 = out / "b_hspy" / "results.h5"
    h5.write_bytes(h5.read_bytes()[:100])
    res = run_batch(sess, out, cfg, resume=True, progress=False, report=False)
    rows = {r["path"]: r for r in res.rows}
    assert res.count("ok") == 3
    assert not rows["a.hspy"]["resumed"] and not rows["b.hspy"]["resumed"]
    assert rows["c.hspy"]["resumed"]
    import h5py

    for n in ("a", "b"):
        with h5py.File(out / f"{n}_hspy" / "results.h5", "r") as f:
            assert "columns" in f


# --- 9. smaller: unusable --out early, user errors are one-line errors, escapes, .zspy ------


def test_out_under_a_file_fails_before_any_work(tmp_path, image_bytes, capsys):
    sess = tmp_path / "sess"
    _put(sess / "a.hspy", image_bytes)
    (tmp_path / "afile").write_text("x")
    code = main(["batch", str(sess), "--out", str(tmp_path / "afile" / "out"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "is a file, not a folder" in err[0]


def test_cupy_backend_without_cupy_is_a_config_error(tmp_path, image_bytes):
    from stemstrain._backend import cupy_available

    if cupy_available():
        pytest.skip("CuPy works here")
    inp = _put(tmp_path / "in" / "a.hspy", image_bytes)
    cfg = parse_config({**FAST, "run": {"figures": False, "backend": "cupy"}})
    s = analyze_file(inp, tmp_path / "out", cfg)
    assert s["status"] == "failed" and "ConfigError" in s["error"]
    assert "internal error" not in s["error"] and "numpy" in s["error"]


def test_control_characters_are_escaped_when_printed(tmp_path, capsys):
    import hyperspy.api as hs
    import numpy as np

    sig = hs.signals.Signal2D(np.arange(64.0).reshape(8, 8) + 1)
    sig.metadata.General.title = "evil\x1b]0;owned\x07\x1b[2J title"
    path = tmp_path / "evil\x1b[31mname.hspy"
    sig.save(path)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b" in out
    assert escape("ok\tfine") == "ok\\tfine" and escape("plain µm") == "plain µm"


def test_zspy_store_is_analysed(tmp_path):
    pytest.importorskip("zarr")
    from stemstrain.synthetic import layered_oxide

    sess = tmp_path / "sess"
    sess.mkdir()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # zarr 2 NestedDirectoryStore notice
        save_signal(layered_oxide((96, 96), pixel_size=PX, seed=1).image, sess / "a.zspy")
    assert (sess / "a.zspy").is_dir()
    res = run_batch(sess, tmp_path / "out", parse_config(FAST), progress=False, report=False)
    assert [r["path"] for r in res.rows] == ["a.zspy"]
    assert res.rows[0]["status"] == "ok", res.rows[0]["error"]
    assert Path(res.rows[0]["output"]).name == "a_zspy"
    res2 = run_batch(
        sess, tmp_path / "out", parse_config(FAST), resume=True, progress=False, report=False
    )
    assert res2.rows[0]["resumed"]  # the store is hashed file by file


def test_resume_redoes_a_folder_with_a_missing_figure(tmp_path):
    from stemstrain.batch._run import _complete
    from stemstrain.batch._safety import mark_results

    d = tmp_path / "a_hspy"
    d.mkdir()
    summary = {"results": None, "figures": ["gpa.png"]}
    assert not _complete(d, summary)  # no marker
    mark_results(d, "a.hspy")
    assert not _complete(d, summary)  # listed figure missing
    (d / "gpa.png").write_bytes(b"\x89PNG")
    assert _complete(d, summary)
    summary["results"] = "results.h5"
    (d / "results.h5").write_bytes(b"not hdf5")
    assert not _complete(d, summary)
