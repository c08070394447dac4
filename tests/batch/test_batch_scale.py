"""Scale out: --scheduler on a real local Dask cluster and --workers give the local numbers."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from batch_helpers import batch_cli

from stemstrain.results import read_results

FOLDERS = ["strained_hspy", "bent_hspy", "day2/o1band_tif"]


def _assert_same_results(out_a, out_b):
    with open(out_a / "summary.csv") as fa, open(out_b / "summary.csv") as fb:
        ra = {r["path"]: r for r in csv.DictReader(fa)}
        rb = {r["path"]: r for r in csv.DictReader(fb)}
    for path in ra:  # first: the same inputs succeeded (else show why)
        assert ra[path]["status"] == rb[path]["status"], (path, rb[path]["error"])
    assert ra.keys() == rb.keys()
    for path in ra:
        for col in ("status", "kind", "error"):
            assert ra[path][col] == rb[path][col], (path, col)
        for col in ("strain_p95_abs", "e_nn_mean", "o1_fraction", "max_curvature_per_nm"):
            if ra[path][col]:
                assert float(ra[path][col]) == pytest.approx(
                    float(rb[path][col]), rel=1e-4, abs=1e-7
                ), (path, col)
    for folder in FOLDERS:
        a = read_results(out_a / folder / "results.h5")
        b = read_results(out_b / folder / "results.h5")
        for key in ("exx", "eyy", "exy", "rotation", "e_nn", "e_tt", "e_nt"):
            # float32 maps; FFT thread count may change the last bit (~1e-9)
            np.testing.assert_allclose(
                a["gpa"][key],
                b["gpa"][key],
                rtol=1e-5,
                atol=1e-7,
                equal_nan=True,
                err_msg=f"{folder} gpa/{key}",
            )
        # labels at gap boundaries may flip with last-bit differences of the fits
        differ = np.mean(a["stacking"]["label_map"] != b["stacking"]["label_map"])
        assert differ < 1e-3, f"{folder}: {differ:.2%} of the stacking labels differ"
        ca, cb = a["columns"], b["columns"]
        assert list(ca.columns) == list(cb.columns) and len(ca) == len(cb)
        for col in ("x", "y", "amplitude"):
            np.testing.assert_allclose(
                ca[col].to_numpy(float), cb[col].to_numpy(float), rtol=1e-5, atol=1e-6
            )
        assert a["attrs"]["input_sha256"] == b["attrs"]["input_sha256"]
        assert a["attrs"]["config_hash"] == b["attrs"]["config_hash"]


def test_dask_scheduler_gives_the_local_numbers(first_run, nofig_config, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # free port
        protocol="tcp",
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        out = tmp_path / "dask_out"
        code = batch_cli(
            first_run["session"], out, "--scheduler", address, "--quiet", config=nofig_config
        )
    assert code == 1
    _assert_same_results(first_run["out"], out)


def test_unreachable_scheduler_exits_2(first_run, tmp_path, capsys):
    code = batch_cli(
        first_run["session"], tmp_path / "o", "--scheduler", "tcp://127.0.0.1:9", "--quiet"
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot connect to the Dask scheduler" in err and err.count("\n") == 1


def test_local_worker_processes_give_the_local_numbers(first_run, nofig_config, tmp_path):
    out = tmp_path / "workers_out"
    code = batch_cli(first_run["session"], out, "--workers", "2", "--quiet", config=nofig_config)
    assert code == 1
    _assert_same_results(first_run["out"], out)
