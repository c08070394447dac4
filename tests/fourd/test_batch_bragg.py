"""`stemstrain batch` on py4DSTEM Bragg-vector files: their own kind, phases and strain."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from stemstrain.batch import parse_config, run_batch
from stemstrain.synthetic._fourd import two_phase_vectors


@pytest.fixture(scope="module")
def bragg_session(tmp_path_factory):
    import ase.io

    root = tmp_path_factory.mktemp("bragg_session")
    data = root / "data"
    data.mkdir()
    bv, structures, truth = two_phase_vectors((6, 8))
    bv.save(data / "scan_bragg.h5")
    for s in structures:
        ase.io.write(root / f"{s.info['name']}.cif", s)
    return root, truth


def _rows(path):
    with open(path, newline="") as fh:
        return {r["path"]: r for r in csv.DictReader(fh)}


def test_bragg_file_is_its_own_kind_with_phase_fractions(bragg_session, tmp_path):
    root, truth = bragg_session
    cfg = parse_config(
        {
            "run": {"figures": False},
            "fourd_phases": {"structures": [str(root / "LCO.cif"), str(root / "spinel.cif")]},
        }
    )
    res = run_batch(root / "data", tmp_path / "out", cfg, progress=False)
    row = _rows(res.csv_path)["scan_bragg.h5"]
    assert row["kind"] == "bragg" and row["status"] == "ok", row["error"]
    fr = dict(kv.split("=") for kv in row["fourd_phase_fractions"].split("; "))
    assert float(fr["LCO"]) == pytest.approx(np.mean(truth["label_map"] == 0), abs=0.03)
    assert float(fr["spinel"]) == pytest.approx(np.mean(truth["label_map"] == 1), abs=0.03)
    assert float(row["fourd_phase_score_median"]) > 0.5
    # two lattices: the strain is that of the main phase only (NaN on the other), said
    name = max(("LCO", "spinel"), key=lambda k: float(fr[k]))
    assert float(row["fourd_valid_fraction"]) == pytest.approx(float(fr[name]), abs=0.03)
    assert f"fourd: the scan holds 2 phases (LCO, spinel); strain of {name}" in row["warnings"]
    # the exact ramp of that phase (two_phase_truth: exx up to 0.6 %), not a mix
    assert float(row["strain_p95_abs"]) < 0.008
    assert "4D-STEM Bragg vectors" in (tmp_path / "out" / "report.html").read_text()


def test_bragg_file_without_structures_says_why_phases_did_not_run(bragg_session, tmp_path):
    root, _ = bragg_session
    cfg = parse_config({"run": {"figures": False}})
    res = run_batch(root / "data", tmp_path / "out", cfg, progress=False)
    row = _rows(res.csv_path)["scan_bragg.h5"]
    assert row["kind"] == "bragg" and row["status"] == "ok", row["error"]
    assert row["fourd_phase_fractions"] == ""
    assert "fourd_phases not run: no [fourd_phases] structures configured" in row["warnings"]
    assert float(row["fourd_valid_fraction"]) > 0
