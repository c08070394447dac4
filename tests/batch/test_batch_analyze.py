"""`stemstrain analyze`, EELS and 4D-STEM inputs in a batch, the demo, exit codes."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from stemstrain.batch import analyze_file, load_config, parse_config, run_batch
from stemstrain.batch._steps import strain_stats
from stemstrain.cli import main
from stemstrain.errors import ConfigError, StemstrainError
from stemstrain.results import read_results


def test_analyze_one_file_with_subset(session, nofig_config, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "analyze",
            str(session / "strained.hspy"),
            "--out",
            str(out),
            "--config",
            str(nofig_config),
            "--analyses",
            "gpa,stacking",
            "--quiet",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "gpa: ok" in text and "results:" in text
    res = read_results(out / "strained_hspy" / "results.h5")
    # stacking needs columns: both are run and saved; curvature is not
    assert {"gpa", "columns", "stacking"} <= set(res) and "curvature" not in res
    summary = json.loads((out / "strained_hspy" / "summary.json").read_text())
    assert summary["status"] == "ok" and list(summary["analyses"]) == ["columns", "gpa", "stacking"]


def test_analyze_exit_codes(session, tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main(["analyze", str(session / "broken.hspy"), "--out", out, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "CorruptFileError" in err and err.count("\n") == 1
    assert main(["analyze", str(session / "missing.hspy"), "--out", out]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert (
        main(["analyze", str(session / "strained.hspy"), "--out", out, "--analyses", "gpa,magic"])
        == 2
    )
    assert "unknown ['magic']" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="--analyses"):
        analyze_file(session / "strained.hspy", out, analyses=["nope"])
    with pytest.raises(StemstrainError, match="is not a file"):
        analyze_file(session, out)


def test_analysis_failure_is_exit_1_and_keeps_other_results(session, tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[gpa]\nreference = [0, 10, 300, 400]\n")  # box outside the 256x256 image
    code = main(
        [
            "analyze",
            str(session / "strained.hspy"),
            "--out",
            str(tmp_path / "o"),
            "--config",
            str(cfg),
            "--analyses",
            "gpa,columns",
            "--quiet",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "gpa: ConfigError: [gpa] reference box [0, 10, 300, 400] does not fit" in err
    res = read_results(tmp_path / "o" / "strained_hspy" / "results.h5")
    assert "columns" in res and "gpa" not in res


def test_bad_invocations_exit_2(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["batch", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "is the session folder itself" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["batch", str(tmp_path), "--out", str(tmp_path / "o"), "--workers", "0"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["batch", str(tmp_path), "--out", "o", "--workers", "2", "--scheduler", "tcp://x:1"])
    with pytest.raises(StemstrainError, match="--workers must be >= 1"):
        run_batch(tmp_path, tmp_path / "o", parse_config({}), workers=0)


def test_empty_session_is_exit_0(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "notes.md").write_text("# nothing\n")
    assert main(["batch", str(tmp_path / "s"), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    with open(tmp_path / "o" / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["path"], r["status"]) for r in rows] == [("notes.md", "skipped")]


@pytest.fixture(scope="module")
def mixed_session(tmp_path_factory):
    """An EELS line scan and a 4D-STEM cube with its probe (synthetic, with truth)."""
    import hyperspy.api as hs

    from stemstrain.synthetic import eels_linescan, fourd_dataset

    root = tmp_path_factory.mktemp("mixed")
    sig, eels_truth = eels_linescan(40, seed=2)
    sig.save(root / "linescan.hspy")
    cube, probe, fourd_truth = fourd_dataset((12, 12), (64, 64), g_length_px=14.0, seed=3)
    s4 = hs.signals.Signal2D(cube)
    for ax in s4.axes_manager.navigation_axes:
        ax.scale, ax.units = 0.5, "nm"
    for ax in s4.axes_manager.signal_axes:
        ax.scale, ax.units = 0.05, "1/nm"
    s4.save(root / "cube.hspy")
    sp = hs.signals.Signal2D(probe)
    for ax in sp.axes_manager.signal_axes:
        ax.scale, ax.units = 0.05, "1/nm"
    sp.save(root / "cube_probe.hspy")
    return root, eels_truth, fourd_truth


def test_eels_and_fourd_inputs(mixed_session, tmp_path):
    root, eels_truth, fourd_truth = mixed_session
    cfg = parse_config({"run": {"figures": False}, "fourd": {"probe": "{stem}_probe.*"}})
    result = run_batch(root, tmp_path / "out", cfg, progress=False)
    rows = {r["path"]: r for r in result.rows}
    assert result.exit_code == 0, [r.get("error") for r in result.rows]
    assert rows["cube_probe.hspy"]["status"] == "skipped"
    assert rows["linescan.hspy"]["kind"] == "eels" and rows["cube.hspy"]["kind"] == "4dstem"
    # EELS: interior O/TM -> 2.0 (truth), surface lower (O-depleted)
    keys = rows["linescan.hspy"]["keys"]
    ratio_true = np.asarray(eels_truth["ratio"], dtype=float)
    dist = np.asarray(eels_truth["distance_nm"], dtype=float)
    inner = dist > 0.5 * np.nanmax(dist)
    assert keys["o_tm_interior"] == pytest.approx(np.nanmedian(ratio_true[inner]), abs=0.12)
    near = (dist >= 0) & (dist < 1)
    assert keys["o_tm_surface"] == pytest.approx(np.nanmean(ratio_true[near]), abs=0.2)
    assert keys["o_tm_surface"] < keys["o_tm_interior"] - 0.2
    eels = read_results(tmp_path / "out" / "linescan_hspy" / "results.h5")["eels"]
    assert eels["ratio"].shape == (40,) and eels["uncertainty"].shape == (40,)
    # 4D-STEM: the cube's probe was used and the strain statistic follows the truth
    s = json.loads((tmp_path / "out" / "cube_hspy" / "summary.json").read_text())
    assert s["companions"] == [str((root / "cube_probe.hspy").resolve())]
    fourd = read_results(tmp_path / "out" / "cube_hspy" / "results.h5")["fourd"]
    assert fourd["exx"].shape == (12, 12)
    exx, eyy, exy = (np.asarray(fourd_truth[k], float) for k in ("exx", "eyy", "exy"))
    mag = np.abs(0.5 * (exx + eyy)) + np.hypot(0.5 * (exx - eyy), exy)  # max |principal|
    assert rows["cube.hspy"]["keys"]["strain_p95_abs"] == pytest.approx(
        np.percentile(mag, 95), abs=0.004
    )
    assert strain_stats(exx, eyy, exy)["strain_p95_abs"] == pytest.approx(
        np.percentile(mag, 95), rel=1e-9
    )


def test_fourd_flat_kwargs_build_the_settings_dataclasses(mixed_session, tmp_path):
    from stemstrain.batch._steps import _fourd_settings
    from stemstrain.fourd import DetectorGeometry, DiskDetection

    kw = _fourd_settings(
        {
            "max_peaks": 6,
            "batch_patterns": 50,
            "ellipse": [1.0, 0.98, 10.0],
            "detection": {"subpixel": "poly"},
            "g": "auto",
        }
    )
    assert kw["detection"] == DiskDetection(max_peaks=6, batch_patterns=50, subpixel="poly")
    assert kw["geometry"] == DetectorGeometry(ellipse=[1.0, 0.98, 10.0])
    assert kw["g"] == "auto" and _fourd_settings({"workers": 1}) == {"workers": 1}
    with pytest.raises(StemstrainError, match="max_peaks"):
        _fourd_settings({"max_peaks": 1})
    # end to end: [fourd.kwargs] keys reach fourd_strain
    root, _, _ = mixed_session
    cfg = parse_config(
        {
            "run": {"figures": False},
            "fourd": {"probe": "{stem}_probe.*", "kwargs": {"max_peaks": 6, "batch_patterns": 50}},
        }
    )
    analyze_file(root / "cube.hspy", tmp_path / "out", cfg)
    fourd = read_results(tmp_path / "out" / "cube_hspy" / "results.h5")["fourd"]
    assert np.nanmax(fourd["n_peaks"]) <= 6


def test_no_analysis_for_kind_is_skipped(mixed_session, tmp_path):
    root, _, _ = mixed_session
    cfg = parse_config({"analyses": {"4dstem": [], "eels": []}})
    result = run_batch(root, tmp_path / "out", cfg, progress=False, report=False)
    rows = {r["path"]: r for r in result.rows}
    assert rows["cube.hspy"]["status"] == "skipped"
    assert "no analyses configured for kind '4dstem'" in rows["cube.hspy"]["error"]
    assert rows["linescan.hspy"]["status"] == "skipped"
    assert result.exit_code == 0


def test_demo_uses_sample_folder(mixed_session, tmp_path, monkeypatch, capsys):
    root, _, _ = mixed_session
    monkeypatch.setenv("STEMSTRAIN_SAMPLE_DATA", str(root))
    (tmp_path / "cfg").mkdir()
    assert main(["demo", "--out", str(tmp_path / "demo"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"report: {tmp_path / 'demo' / 'report.html'}" in out
    assert (tmp_path / "demo" / "linescan_hspy" / "results.h5").exists()
    assert main(["demo", "--out", str(tmp_path / "demo"), "--quiet", "--resume"]) == 0
    assert "2 ok (2 up to date, skipped)" in capsys.readouterr().out


def test_load_config_none_is_defaults():
    assert load_config(None).analyses_for("image")[0] == "gpa"


def test_image_stack_rules(tmp_path):
    import hyperspy.api as hs

    from stemstrain.synthetic import layered_oxide

    frames = [layered_oxide((128, 128), pixel_size=0.02, seed=s).image for s in (1, 2, 3)]
    stack = hs.signals.Signal2D(np.stack(frames))
    for ax in stack.axes_manager.signal_axes:
        ax.scale, ax.units = 0.02, "nm"
    sess = tmp_path / "s"
    sess.mkdir()
    stack.save(sess / "series.hspy")
    base = {"analyses": {"image": ["columns"]}, "run": {"figures": False}}
    counts = {}
    for rule in ("sum", "first"):
        cfg = parse_config({**base, "run": {"figures": False, "image_stack": rule}})
        r = run_batch(sess, tmp_path / rule, cfg, progress=False)
        row = r.rows[0]
        assert row["status"] == "ok", row["error"]
        assert any("image stack of (3,) frames" in w for w in row["warnings"])
        counts[rule] = row["keys"]["n_columns"]
        html = (tmp_path / rule / "report.html").read_text()
        assert "image stack of (3,) frames" in html  # warnings are shown in the report
    assert counts["sum"] == pytest.approx(counts["first"], rel=0.05)
    cfg = parse_config({**base, "run": {"figures": False, "image_stack": "error"}})
    r = run_batch(sess, tmp_path / "error", cfg, progress=False)
    assert r.exit_code == 1
    assert "InputShapeError" in r.rows[0]["error"] and "image_stack" in r.rows[0]["error"]
    with pytest.raises(ConfigError, match=r"\[run\] image_stack must be one of"):
        parse_config({"run": {"image_stack": "median"}})


def test_auto_reference_falls_back_with_a_warning(tmp_path):
    """A crystal smaller than the proposed reference window: whole-image reference + warning."""
    from batch_helpers import particle_in_vacuum_session

    sess = particle_in_vacuum_session(tmp_path, "particle.hspy")
    cfg = parse_config(
        {"analyses": {"image": ["gpa"]}, "run": {"figures": False}, "gpa": {"reference": "auto"}}
    )
    row = run_batch(sess, tmp_path / "o", cfg, progress=False).rows[0]
    assert any("gpa: no automatic reference region" in w for w in row["warnings"])
    assert row["status"] == "ok"
    res = read_results(tmp_path / "o" / "particle_hspy" / "results.h5")
    assert np.isfinite(res["gpa"]["exx"]).any()


def test_demo_without_sample_folder_generates_one(tmp_path, monkeypatch):
    """Non-editable installs have no sample_data/: the demo generates a synthetic session."""
    from stemstrain.batch import _demo

    monkeypatch.setattr(_demo, "find_sample_data", lambda: None)
    monkeypatch.setattr(
        _demo,
        "DEMO_CONFIG",
        {
            "analyses": {"image": ["columns", "stacking"]},
            "run": {"figures": False},
            "eels": {"reference": [-5], "reference_ratio": 2.0},
        },
    )
    result = _demo.run_demo(tmp_path / "demo", progress=False)
    rows = {r["path"]: r for r in result.rows}
    assert {k: (r["kind"], r["status"]) for k, r in rows.items()} == {
        "README.txt": ("", "skipped"),
        "eels_linescan.hspy": ("eels", "ok"),
        "fourd_strain.hspy": ("4dstem", "ok"),
        "fourd_strain_probe.hspy": ("", "skipped"),
        "haadf_layered_oxide.hspy": ("image", "ok"),
    }
    assert rows["haadf_layered_oxide.hspy"]["keys"]["o1_fraction"] > 0.1  # O1 band (3 gaps)
    assert rows["eels_linescan.hspy"]["keys"]["o_tm_interior"] == pytest.approx(2.0, abs=0.1)
    assert (tmp_path / "demo" / "_generated_samples" / "haadf_layered_oxide.hspy").exists()


def test_not_layered_image_is_ok_with_stacking_not_run(tmp_path):
    """A square (perovskite-like) lattice: stacking does not apply; the input stays ok."""
    from batch_helpers import PX, save_signal

    from stemstrain.synthetic import render_columns

    period = 0.39 / PX  # SrTiO3 [001] at 0.02 nm/px
    yy, xx = np.mgrid[0:14, 0:14] * period + 6.0
    img = render_columns(xx.ravel(), yy.ravel(), 1.0, 2.5, (256, 256)) + 0.05
    sess = tmp_path / "s"
    sess.mkdir()
    save_signal(img.astype(np.float32), sess / "sto.hspy")
    cfg = parse_config({"analyses": {"image": ["columns", "stacking"]}, "run": {"figures": False}})
    r = run_batch(sess, tmp_path / "out", cfg, progress=False)
    row = r.rows[0]
    assert r.exit_code == 0 and row["status"] == "ok", row["error"]
    summary = json.loads((tmp_path / "out" / "sto_hspy" / "summary.json").read_text())
    assert summary["analyses"]["columns"].startswith("ok")
    assert summary["analyses"]["stacking"].startswith("not run: not a layered lattice")
    assert any("interlayer spacing / in-plane period" in w for w in row["warnings"])


def test_run_pixel_size_for_uncalibrated_images_only(tmp_path):
    """[run] pixel_size_nm calibrates a TIFF without a pixel size, never a calibrated file."""
    import tifffile
    from batch_helpers import PX, save_signal

    from stemstrain.synthetic import layered_oxide

    img = layered_oxide((192, 192), pixel_size=PX, seed=2).image.astype(np.float32)
    sess = tmp_path / "s"
    sess.mkdir()
    tifffile.imwrite(sess / "export.tif", img)  # no resolution tags
    save_signal(img, sess / "calibrated.hspy")  # 0.02 nm/px stored
    base = {"analyses": {"image": ["columns", "curvature"]}, "run": {"figures": False}}
    r = run_batch(sess, tmp_path / "none", parse_config(base), progress=False)
    before = {row["path"]: row for row in r.rows}
    assert "CalibrationError" in before["export.tif"]["error"]  # as before: says what is missing
    assert "[run] pixel_size_nm" in before["export.tif"]["error"]  # and where to set it
    cfg = parse_config({**base, "run": {"figures": False, "pixel_size_nm": 0.05}})
    r = run_batch(sess, tmp_path / "set", cfg, progress=False)
    rows = {row["path"]: row for row in r.rows}
    assert rows["export.tif"]["status"] == "ok", rows["export.tif"]["error"]
    assert any("pixel_size_nm = 0.05 nm used" in w for w in rows["export.tif"]["warnings"])
    assert rows["calibrated.hspy"]["status"] == "ok"
    assert not any("pixel_size_nm" in w for w in rows["calibrated.hspy"]["warnings"])
    # the calibrated file's results do not depend on the option
    key = "max_curvature_per_nm"
    assert rows["calibrated.hspy"]["keys"][key] == before["calibrated.hspy"]["keys"][key]
    assert np.isfinite(before["calibrated.hspy"]["keys"][key])
    with pytest.raises(ConfigError, match="pixel_size_nm"):
        parse_config({"run": {"pixel_size_nm": -1}})


def test_low_loss_alone_is_not_run_with_the_pairing_hint(tmp_path):
    """A DualEELS low-loss file met on its own: no O/TM (no O K edge), not a failure."""
    import exspy

    e = np.arange(-50.0, 462.0, 1.0)
    ll = 1e5 * np.exp(-0.5 * (e / 0.6) ** 2) + 2e3 * np.exp(-0.5 * ((e - 25.0) / 6.0) ** 2)
    sig = exspy.signals.EELSSpectrum(np.tile(ll, (4, 1)).astype(np.float32))
    ax = sig.axes_manager.signal_axes[0]
    ax.offset, ax.scale, ax.units = -50.0, 1.0, "eV"
    nav = sig.axes_manager.navigation_axes[0]
    nav.scale, nav.units = 1.0, "nm"
    sess = tmp_path / "s"
    sess.mkdir()
    sig.save(sess / "scan_low_loss.hspy")
    r = run_batch(sess, tmp_path / "out", parse_config({"run": {"figures": False}}), progress=False)
    row = r.rows[0]
    assert r.exit_code == 0 and row["status"] == "ok", row["error"]
    assert any("a low-loss spectrum" in w and "[eels] low_loss" in w for w in row["warnings"])
    spec = 100.0 + 50.0 * np.exp(-0.5 * ((630.0 + 0.2 * np.arange(200) - 641.0) / 1.5) ** 2)
    tm_only = exspy.signals.EELSSpectrum(np.tile(spec, (2, 1)).astype(np.float32))
    ax = tm_only.axes_manager.signal_axes[0]
    ax.offset, ax.scale, ax.units = 630.0, 0.2, "eV"  # a Mn L2,3 reference: no O K
    tm_only.axes_manager.navigation_axes[0].units = "nm"
    tm_only.save(sess / "mn_ref.hspy")
    cfg = parse_config({"run": {"figures": False}})
    row = {x["path"]: x for x in run_batch(sess, tmp_path / "o2", cfg, progress=False).rows}
    row = row["mn_ref.hspy"]
    assert row["status"] == "ok", row["error"]
    assert any("no O K edge recorded" in w for w in row["warnings"])
