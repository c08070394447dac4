"""Configuration: the documented example, validation naming the key, the config command."""

from __future__ import annotations

import pytest
import tomllib

from stemstrain.batch import example_config_text, load_config, parse_config
from stemstrain.batch._config import DEFAULTS
from stemstrain.cli import main
from stemstrain.errors import ConfigError, StemstrainError


def test_example_parses_to_the_defaults():
    cfg = parse_config(tomllib.loads(example_config_text()))
    assert cfg.data == DEFAULTS
    assert load_config(None).data == DEFAULTS
    assert cfg.analyses_for("image") == ["gpa", "dislocations", "columns", "curvature", "stacking"]
    assert cfg.analyses_for("eels") == ["eels"]
    assert cfg.analyses_for("4dstem") == ["fourd"]


def test_example_only_shows_keys_that_exist():
    import re

    lines = [
        re.sub(r"^# (?=\[[\w.]+\]$|[a-z_0-9]+ = )", "", ln)
        for ln in example_config_text().splitlines()
    ]
    uncommented = [
        a for a, b in zip(lines, example_config_text().splitlines(), strict=True) if a != b
    ]
    assert len(uncommented) >= 5  # resolution_nm, max_input_gb, reference_ratio, kwargs ...
    parse_config(tomllib.loads("\n".join(lines)))  # every shown key is valid


def test_non_utf8_config_is_a_config_error(tmp_path):
    p = tmp_path / "latin1.toml"
    p.write_bytes('[eels]\ntm = "Co" # caf\xe9\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(p)


def test_cli_prints_example(capsys):
    assert main(["config", "--example"]) == 0
    out = capsys.readouterr().out
    assert out == example_config_text()
    assert "[gpa]" in out and "reference" in out and "[fourd]" in out


def test_dependencies_are_added_in_order():
    cfg = parse_config({"analyses": {"image": ["stacking", "dislocations"]}})
    assert cfg.analyses_for("image") == ["gpa", "dislocations", "columns", "stacking"]


def test_config_hash_depends_only_on_the_kind():
    a = parse_config({})
    b = parse_config({"eels": {"tm": "Ni"}})
    assert a.config_hash("image") == b.config_hash("image")
    assert a.config_hash("eels") != b.config_hash("eels")
    c = parse_config({"gpa": {"resolution_nm": 2.0}})
    assert a.config_hash("image") != c.config_hash("image")


@pytest.mark.parametrize(
    "data, match",
    [
        ({"gpaa": {}}, r"unknown section \[gpaa\]"),
        ({"gpa": {"resolution": 1.0}}, r"unknown key 'gpa\.resolution'"),
        (
            {"gpa": {"resolution_nm": -1.0}},
            r"\[gpa\] resolution_nm must be a number in \(0, 1000\]",
        ),
        ({"gpa": {"resolution_nm": 1e300}}, r"\[gpa\] resolution_nm must be a number in"),
        ({"run": {"dpi": float("inf")}}, r"\[run\] dpi must be a number in \(9, 600\]"),
        ({"run": {"dpi": 5000}}, r"\[run\] dpi must be a number in"),
        ({"run": {"max_input_gb": 0}}, r"\[run\] max_input_gb must be a number in"),
        ({"eels": {"tm": "Xx"}}, r"\[eels\] tm must be one of"),
        ({"eels": {"reference": [0], "reference_ratio": float("nan")}}, r"reference_ratio must be"),
        ({"columns": {"kwargs": {"min_distance_px": 4}}}, r"\[columns\.kwargs\] unknown keyword"),
        ({"gpa": {"kwargs": {"reference": "auto"}}}, r"\[gpa\.kwargs\] unknown keyword"),
        ({"gpa": {"resolution_nm": "big"}}, r"\[gpa\] resolution_nm must be a number"),
        ({"gpa": {"reference": "centre"}}, r"\[gpa\] reference must be"),
        (
            {"gpa": {"reference": [0, 10, 5]}},
            r"\[gpa\] reference must be \[row0, row1, col0, col1\]",
        ),
        ({"gpa": {"g": [[1.0, 2.0]]}}, r"\[gpa\] g must be \[\[gx, gy\], \[gx, gy\]\]"),
        ({"gpa": {"g": "manual"}}, r"\[gpa\] g must be"),
        (
            {"analyses": {"image": ["gpa", "eels"]}},
            r"\[analyses\] image lists unknown analyses \['eels'\]",
        ),
        ({"analyses": {"spectra": ["eels"]}}, r"unknown key 'analyses\.spectra'"),
        ({"run": {"backend": "torch"}}, r"\[run\] backend must be one of"),
        ({"eels": {"method": "magic"}}, r"\[eels\] method must be one of"),
        ({"eels": {"reference": [0, 5]}}, r"reference_ratio is missing"),
        (
            {"eels": {"reference": [0.5, 5]}},
            r"\[eels\] reference must be \[start\] or \[start, stop\]",
        ),
        ({"eels": {"reference": [1, 2, 3], "reference_ratio": 2.0}}, r"\[eels\] reference must be"),
        ({"files": {"exclude": "*.txt"}}, r"\[files\] exclude must be a list"),
        ({"files": {"exclude": [1]}}, r"\[files\] exclude must be a list of glob strings"),
        ({"gpa": {"kwargs": 3}}, r"\[gpa\.kwargs\] must be a table"),
        ({"gpa": 3}, r"gpa must be a \[gpa\] table"),
    ],
)
def test_invalid_config_names_the_key(data, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(data)


def test_bad_config_file_exits_2_naming_the_key(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[gpa]\nresolution = 1.0\n")
    sess = tmp_path / "s"
    sess.mkdir()
    assert main(["batch", str(sess), "--out", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "gpa.resolution" in err and err.count("\n") == 1
    assert main(["config", "--check", str(cfg)]) == 2
    assert "gpa.resolution" in capsys.readouterr().err


def test_invalid_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[gpa\nx=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path / "missing.toml")


def test_config_check_prints_effective(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[eels]\ntm = "Ni"\nreference = [-5, 0]\nreference_ratio = 2.0\n')
    assert main(["config", "--check", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert '"tm": "Ni"' in out and "valid" in out
    with pytest.raises(StemstrainError):
        load_config(tmp_path / "nope.toml")
    assert main(["config", "--check", str(tmp_path / "nope.toml")]) == 2
