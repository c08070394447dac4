"""Batch key figures of the new analyses and the quality of every result (issues 14/15/16/19).

A tmp session of small generated inputs with analytic truth: a pure layered image (GPA
valid everywhere, one grain, all "layered", no rock salt), a two-phase 4D-STEM cube
(phase fractions known) with its CIFs, and the EELS line scan with valence / pre-peak on.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from batch_helpers import PX, particle_in_vacuum_session, save_signal

from stemstrain.batch import parse_config, run_batch
from stemstrain.cli import main
from stemstrain.errors import ConfigError


@pytest.fixture(scope="module")
def image_session(tmp_path_factory):
    from stemstrain.synthetic import layered_oxide

    root = tmp_path_factory.mktemp("quality")
    sess = root / "s"
    sess.mkdir()
    save_signal(layered_oxide((256, 256), pixel_size=PX, seed=7).image, sess / "layered.hspy")
    cfg = parse_config(
        {
            "analyses": {"image": ["gpa", "columns", "curvature", "lattice_map", "phases"]},
            "run": {"dpi": 30},
            "gpa": {"resolution_nm": 0.8},
        }
    )
    result = run_batch(sess, root / "o", cfg, progress=False)
    return sess, root / "o", result


def _csv(out):
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        return {r["path"]: r for r in csv.DictReader(fh)}


def test_image_quality_and_new_key_figures_in_csv_and_report(image_session):
    _, out, result = image_session
    row = _csv(out)["layered.hspy"]
    assert row["status"] == "ok", row["error"]
    # GPA quality: a perfect crystal is valid on (almost) all of it, one grain, auto reference
    assert float(row["gpa_valid_fraction"]) >= 0.95
    assert row["gpa_n_grains"] == "1" and row["gpa_reference"] == "auto"
    # lattice map: crystalline everywhere, one grain
    assert float(row["lattice_crystalline_fraction"]) >= 0.95
    assert row["lattice_n_grains"] == "1"
    # phase map of a pure layered crystal: layered, no rock salt / spinel (issue 16)
    assert float(row["phase_fraction_layered"]) >= 0.9
    assert float(row["phase_fraction_rock_salt"]) <= 0.01
    assert float(row["phase_fraction_spinel"]) <= 0.01
    assert row["void_count"] == "0"
    assert int(row["n_warnings"]) == len(result.rows[0]["warnings"])
    s = json.loads((out / "layered_hspy" / "summary.json").read_text())
    assert s["keys"]["gpa_valid_fraction"] == pytest.approx(
        float(row["gpa_valid_fraction"]), rel=1e-5
    )
    assert {"gpa", "lattice_map", "phases"} <= set(s["groups"])
    html = (out / "report.html").read_text(encoding="utf-8")
    for head in (
        "GPA valid",
        "GPA grains",
        "lattice crystal",
        "x/y anisotropy",
        "rock salt",
        "voids",
        "warnings",
    ):
        assert f"<th>{head}</th>" in html, head
    for fig in ("gpa", "lattice_map", "phases"):
        assert f'alt="{fig}.png"' in html, fig


def test_warnings_reach_csv_and_report(tmp_path):
    """A particle in vacuum: GPA warns (little of the image is crystal); both outputs say so."""
    sess = particle_in_vacuum_session(tmp_path, "particle<b>.hspy")
    cfg = parse_config({"analyses": {"image": ["gpa"]}, "run": {"figures": False}})
    run_batch(sess, tmp_path / "o", cfg, progress=False)
    row = _csv(tmp_path / "o")["particle<b>.hspy"]
    assert int(row["n_warnings"]) >= 1 and "gpa:" in row["warnings"]
    assert float(row["gpa_crystalline_fraction"]) < 0.2  # truth: 1.8 nm of 5.1 nm square
    html = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    warn = html[html.index("<ul class='warn'>") :]
    assert "<li>UserWarning: gpa: only" in warn[: warn.index("</ul>")]
    assert "particle&lt;b&gt;" in html


def test_analyze_prints_one_quality_line(image_session, tmp_path, capsys):
    sess, _, _ = image_session
    code = main(
        [
            "analyze",
            str(sess / "layered.hspy"),
            "--out",
            str(tmp_path / "a"),
            "--analyses",
            "gpa,lattice_map",
            "--quiet",
        ]
    )
    assert code == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "quality:" in ln]
    assert len(lines) == 1
    assert "GPA valid" in lines[0] and "lattice crystal" in lines[0] and "warning" in lines[0]


def test_quality_line_escapes_control_characters():
    from stemstrain.batch._cli import quality_line
    from stemstrain.batch._safety import escape

    line = escape(
        quality_line(
            {"keys": {"gpa_reference": "auto\x1b[31m", "gpa_n_grains": 2}, "warnings": ["a", "b"]}
        )
    )
    assert "\x1b" not in line and "grains 2" in line and "2 warnings" in line


def test_fourd_phases_batch_fractions(tmp_path):
    import ase.io
    import hyperspy.api as hs

    from stemstrain.synthetic import two_phase_dataset

    cube, probe, structures, truth = two_phase_dataset((8, 10))
    sess = tmp_path / "s"
    (sess / "cifs").mkdir(parents=True)
    names = []
    for atoms, name in zip(structures, ("LCO", "spinel"), strict=True):
        ase.io.write(sess / "cifs" / f"{name}.cif", atoms, format="cif")
        names.append(f"cifs/{name}.cif")
    sig = hs.signals.Signal2D(cube)
    for ax in sig.axes_manager.signal_axes:
        ax.scale, ax.units = truth["reciprocal_pixel_size"], "1/nm"
    sig.save(sess / "scan.hspy")
    hs.signals.Signal2D(probe).save(sess / "scan_probe.hspy")
    cfg = parse_config(
        {
            "analyses": {"4dstem": ["fourd", "fourd_phases"]},
            "run": {"figures": False},
            "fourd_phases": {"structures": names},
        }
    )
    run_batch(sess, tmp_path / "o", cfg, progress=False)
    row = _csv(tmp_path / "o")["scan.hspy"]
    assert row["status"] == "ok", row["error"]
    fr = dict(kv.split("=") for kv in row["fourd_phase_fractions"].split("; "))
    assert float(fr["LCO"]) == pytest.approx(np.mean(truth["label_map"] == 0), abs=0.05)
    assert float(fr["spinel"]) == pytest.approx(np.mean(truth["label_map"] == 1), abs=0.05)
    assert float(row["fourd_valid_fraction"]) > 0
    html = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert "<th>phase fractions</th>" in html and "LCO=" in html


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"analyses": {"4dstem": ["fourd_phases"]}}, "[fourd_phases] structures is empty"),
        ({"fourd_phases": {"structures": ["a.txt"]}}, "[fourd_phases] structures must be"),
        ({"phases": {"phases": ["spinel"]}}, '"layered"'),
        ({"phases": {"phases": ["layered", "olivine"]}}, "[phases] phases must list"),
        ({"lattice_map": {"backend": "gpu"}}, "[lattice_map] backend must be one of"),
        ({"lattice_map": {"kwargs": {"no_such_option": 1}}}, "[lattice_map.kwargs] unknown"),
    ],
)
def test_config_check_validates_the_new_keys(table, needle, tmp_path, capsys):
    with pytest.raises(ConfigError, match=None) as info:
        parse_config(table)
    assert needle in str(info.value)
    import tomllib  # the CLI check says the same

    path = tmp_path / "c.toml"
    lines = []
    for sec, body in table.items():
        for key, val in body.items():
            if isinstance(val, dict):
                lines += [f"[{sec}.{key}]", *(f"{k} = {json.dumps(v)}" for k, v in val.items())]
            else:
                lines += [f"[{sec}]", f"{key} = {json.dumps(val)}"]
    path.write_text("\n".join(lines) + "\n")
    tomllib.loads(path.read_text())
    assert main(["config", "--check", str(path)]) != 0
    assert needle in capsys.readouterr().err


def test_eels_valence_and_prepeak_columns(tmp_path):
    """[eels] valence / prepeak switches: their key figures reach summary.csv and the report."""
    from stemstrain.synthetic import eels_linescan

    sig, truth = eels_linescan(tm="Mn", white_lines=True)
    sess = tmp_path / "s"
    sess.mkdir()
    sig.save(sess / "line.hspy")
    cfg = parse_config(
        {
            "run": {"figures": False},
            "eels": {"tm": "Mn", "method": "model", "valence": True, "prepeak": True},
        }
    )
    run_batch(sess, tmp_path / "o", cfg, progress=False)
    row = _csv(tmp_path / "o")["line.hspy"]
    assert row["status"] == "ok", row["error"]
    dist = np.asarray(truth["distance_nm"], float)
    inner = dist > 0.5 * np.nanmax(dist)
    assert float(row["o_tm_interior"]) == pytest.approx(np.median(truth["ratio"][inner]), abs=0.15)
    assert 1.5 < float(row["valence_interior"]) < 4.5  # a Mn valence, not NaN
    assert abs(float(row["o_prepeak_surface"])) < 0.05  # the generator has no pre-peak
    html = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert "<th>valence surface</th>" in html and "<th>O K pre-peak surface</th>" in html
