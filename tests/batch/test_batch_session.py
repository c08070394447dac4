"""Acceptance: a session with good and bad files, results layout, key figures vs truth, resume."""

from __future__ import annotations

import csv
import json
import time

import h5py
import numpy as np
import pytest
from batch_helpers import STEP_E_NN, batch_cli, mtimes, tree_hashes

from stemstrain.batch import run_batch
from stemstrain.batch._config import load_config
from stemstrain.results import file_sha256, read_results

GOOD = ["strained.hspy", "bent.hspy", "day2/o1band.tif"]
BAD = ["broken.hspy", "day2/noise.dm4"]


def _rows(out):
    with open(out / "summary.csv", newline="") as fh:
        return {r["path"]: r for r in csv.DictReader(fh)}


def test_exit_code_rows_and_errors(first_run):
    assert first_run["code"] == 1
    rows = _rows(first_run["out"])
    assert set(rows) == set(GOOD + BAD + ["README.txt"])
    for name in GOOD:
        assert rows[name]["status"] == "ok", rows[name]["error"]
        assert rows[name]["kind"] == "image" and rows[name]["error"] == ""
    assert rows["README.txt"]["status"] == "skipped"
    assert "not a data file" in rows["README.txt"]["error"]
    assert rows["broken.hspy"]["status"] == "failed"
    assert "CorruptFileError" in rows["broken.hspy"]["error"]
    assert "broken.hspy" in rows["broken.hspy"]["error"]
    assert rows["day2/noise.dm4"]["status"] == "failed"
    assert "CorruptFileError" in rows["day2/noise.dm4"]["error"]


def test_inputs_are_byte_identical(first_run):
    assert tree_hashes(first_run["session"]) == first_run["before"]


def test_good_files_have_complete_results(first_run):
    out = first_run["out"]
    for name, folder in [
        ("strained.hspy", "strained_hspy"),
        ("bent.hspy", "bent_hspy"),
        ("day2/o1band.tif", "day2/o1band_tif"),
    ]:
        d = out / folder
        summary = json.loads((d / "summary.json").read_text())
        assert summary["status"] == "ok" and summary["kind"] == "image"
        src = first_run["session"] / name
        assert summary["input_sha256"] == file_sha256(src)
        with h5py.File(d / "results.h5", "r") as h5:
            for key in (
                "gpa/exx",
                "gpa/e_nn",
                "gpa/e_tt",
                "gpa/g_vectors",
                "columns",
                "stacking/label_map",
                "curvature/map",
                "curvature/layers",
                "dislocations",
            ):
                assert key in h5, f"{folder}: /{key} missing"
            assert h5["gpa/exx"].shape == (256, 256)
            assert h5["stacking/label_map"].dtype == np.uint8
            assert h5.attrs["input_sha256"] == file_sha256(src)
            assert h5.attrs["config_hash"] == summary["config_hash"]
            assert json.loads(h5.attrs["parameters"])["kind"] == "image"
            for a in ("stemstrain_version", "started", "finished"):
                assert a in h5.attrs
        for fig in ("gpa.png", "curvature.png", "stacking.png"):
            assert (d / fig).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{folder}/{fig}"
        assert not list(d.parent.glob(".*tmp-*"))


def test_failed_inputs_have_no_results_file(first_run):
    for folder in ("broken_hspy", "day2/noise_dm4"):
        d = first_run["out"] / folder
        assert not (d / "results.h5").exists()
        assert json.loads((d / "summary.json").read_text())["status"] == "failed"


def test_key_figures_match_ground_truth(first_run):
    """summary.csv numbers against the generator's analytic truth."""
    rows = _rows(first_run["out"])
    lat = first_run["lattices"]["strained.hspy"]
    res = read_results(first_run["out"] / "strained_hspy" / "results.h5")
    e_nn = res["gpa"]["e_nn"]
    true_nn = lat.strain_truth(step=1)["e_nn"]
    assert np.nanmax(true_nn) == pytest.approx(STEP_E_NN, abs=1e-3)
    ok = np.isfinite(e_nn)  # GPA masks ~1 resolution (40 px) at the borders
    assert ok.sum() > 0.4 * ok.size
    # the step (x = 167 px) is blurred by the 0.8 nm GPA resolution: medians on each side
    cols = np.arange(256)[None, :].repeat(256, 0)
    left, right = ok & (cols < 100), ok & (cols > 200)
    assert left.sum() > 5000 and right.sum() > 2000
    assert np.median(e_nn[left]) == pytest.approx(0.0, abs=0.002)
    assert np.median(e_nn[right]) == pytest.approx(STEP_E_NN, abs=0.004)
    # the key figures are the statistics of the stored maps
    got = float(rows["strained.hspy"]["e_nn_mean"])
    assert got == pytest.approx(float(np.nanmean(e_nn)), rel=1e-5)
    assert got == pytest.approx(float(np.mean(true_nn[ok])), abs=0.002)
    p95 = float(rows["strained.hspy"]["strain_p95_abs"])
    assert p95 == pytest.approx(STEP_E_NN, abs=0.004)
    # O1 fraction of the labelled area against the truth label map
    for name in ("strained.hspy", "day2/o1band.tif"):
        lt = first_run["lattices"][name].label_map_truth()
        true_o1 = float((lt == 2).sum() / max((lt > 0).sum(), 1))
        assert float(rows[name]["o1_fraction"]) == pytest.approx(true_o1, abs=0.06), name
    assert float(rows["day2/o1band.tif"]["o1_fraction"]) > 0.15
    # curvature of the bent lattice: 1 / (R - n), R = 15 nm, |n| < 3 nm -> 0.05 .. 0.083 /nm
    kmax = float(rows["bent.hspy"]["max_curvature_per_nm"])
    assert 0.03 < abs(kmax) < 0.15
    bent = read_results(first_run["out"] / "bent_hspy" / "results.h5")
    layers = bent["curvature"]["layers"]
    i = int(np.nanargmax(np.abs(layers["curvature"].to_numpy(float))))
    assert kmax == pytest.approx(float(layers["curvature"].iloc[i]), rel=1e-5)
    x = float(rows["bent.hspy"]["max_curvature_x_px"])
    y = float(rows["bent.hspy"]["max_curvature_y_px"])
    assert 0 <= x < 256 and 0 <= y < 256


def test_report_is_self_contained_failures_first(first_run):
    html = (first_run["out"] / "report.html").read_text()
    assert "<h2>Failures (2)</h2>" in html
    assert html.index("Failures") < html.index("Images (HAADF/ADF STEM)") < html.index("Skipped")
    assert html.count("data:image/png;base64,") >= 9
    assert 'src="http' not in html and "<script" not in html
    assert "broken.hspy" in html and "CorruptFileError" in html


def test_resume_redoes_nothing(first_run, capsys):
    out = first_run["out"]
    before = {k: v for k, v in mtimes(out).items() if "/" in k}
    rows_before = _rows(out)
    t0 = time.perf_counter()
    code = batch_cli(
        first_run["session"], out, "--resume", "--quiet", config=first_run["fast_config"]
    )
    elapsed = time.perf_counter() - t0
    assert code == 1  # the two bad files are retried and fail again
    text = capsys.readouterr().out
    assert "3 ok (3 up to date, skipped), 2 failed" in text
    after = {k: v for k, v in mtimes(out).items() if "/" in k}
    good_files = {
        k: v for k, v in before.items() if not k.startswith(("broken_hspy/", "day2/noise_dm4/"))
    }
    assert {k: after[k] for k in good_files} == good_files  # results untouched
    rows_after = _rows(out)
    for name in GOOD:
        assert rows_after[name]["resumed"] == "True"
        for col in ("e_nn_mean", "o1_fraction", "max_curvature_per_nm", "status"):
            assert rows_after[name][col] == rows_before[name][col]
    assert elapsed < 0.3 * first_run["elapsed"], (elapsed, first_run["elapsed"])


def test_changed_config_redoes_only_that_kind(session, nofig_config, tmp_path):
    fast_config = nofig_config
    cfg = load_config(fast_config)
    out = tmp_path / "out"
    r1 = run_batch(session, out, cfg, progress=False, report=False)
    assert r1.count("ok") == 3
    # same config: nothing redone
    r2 = run_batch(session, out, cfg, resume=True, progress=False, report=False)
    assert r2.n_resumed == 3
    # EELS parameters do not touch images
    text = fast_config.read_text() + '\n[eels]\ntm = "Ni"\n'
    (tmp_path / "c2.toml").write_text(text)
    r3 = run_batch(
        session, out, load_config(tmp_path / "c2.toml"), resume=True, progress=False, report=False
    )
    assert r3.n_resumed == 3
    # a modified input is redone, the others are not
    p = session / "bent.hspy"
    data = bytearray(p.read_bytes())
    (session / "bent.hspy").write_bytes(bytes(data))  # same bytes: still up to date
    r4 = run_batch(session, out, cfg, resume=True, progress=False, report=False)
    assert r4.n_resumed == 3
    import shutil

    shutil.copy(session / "strained.hspy", session / "bent.hspy")
    r5 = run_batch(session, out, cfg, resume=True, progress=False, report=False)
    assert r5.n_resumed == 2
    redone = [r for r in r5.rows if r["path"] == "bent.hspy"][0]
    assert not redone["resumed"] and redone["status"] == "ok"
    # a moved output folder still resumes, and its rows point at the new place
    moved = tmp_path / "moved"
    out.rename(moved)
    r6 = run_batch(session, moved, cfg, resume=True, progress=False)
    assert r6.n_resumed == 3
    assert all(r["output"].startswith(str(moved)) for r in r6.rows if r["status"] == "ok")
