"""Walking a session folder: data vs non-data, companions, probes, names, patterns."""

from __future__ import annotations

import numpy as np
import pytest

from stemstrain.batch import discover, parse_config
from stemstrain.batch._discover import find_companion, looks_like_spectrum
from stemstrain.errors import StemstrainError


def _touch(path, data=b"\x00" * 16):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _by_rel(entries):
    return {e.rel: e for e in entries}


def test_data_and_non_data(tmp_path):
    _touch(tmp_path / "a.hspy")
    _touch(tmp_path / "sub" / "deeper" / "b.dm4")
    (tmp_path / "README.txt").write_text("notes about the session\n")
    _touch(tmp_path / "overview.png")  # pictures are images ss.load reads (greyscale)
    _touch(tmp_path / "slides.pdf")
    _touch(tmp_path / "meta.xml")  # no EMPAD .raw next to it: not data
    _touch(tmp_path / "scan.xml")
    _touch(tmp_path / "scan.raw")
    _touch(tmp_path / ".hidden.hspy")
    _touch(tmp_path / ".cache" / "c.hspy")
    spectrum = "\n".join(f"{500 + 0.5 * i:.1f}\t{1000 - i}" for i in range(50)) + "\n"
    (tmp_path / "spectrum.txt").write_text("# energy counts\n" + spectrum)
    ents = _by_rel(discover(tmp_path, parse_config({})))
    assert set(ents) == {
        "a.hspy",
        "sub/deeper/b.dm4",
        "README.txt",
        "overview.png",
        "spectrum.txt",
        "slides.pdf",
        "meta.xml",
        "scan.xml",
        "scan.raw",
    }
    assert ents["a.hspy"].status == "todo" and ents["a.hspy"].out_rel == "a_hspy"
    assert ents["sub/deeper/b.dm4"].out_rel == "sub/deeper/b_dm4"
    assert ents["README.txt"].status == "skipped" and "not a data file" in ents["README.txt"].reason
    assert ents["overview.png"].status == "todo" and ents["slides.pdf"].status == "skipped"
    assert ents["meta.xml"].status == "skipped" and ents["scan.xml"].status == "todo"
    assert ents["scan.raw"].status == "skipped" and "data of scan.xml" in ents["scan.raw"].reason
    assert ents["spectrum.txt"].status == "todo"  # a two-column spectrum ss.load reads


def test_looks_like_spectrum(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("\n".join(f"{i},{i * 2.5e3}" for i in range(40)))
    assert looks_like_spectrum(p)
    p.write_text("name,value\n" + "\n".join(f"item{i},{i}" for i in range(40)))
    assert not looks_like_spectrum(p)
    p.write_bytes(b"\x00\x01" * 100)
    assert not looks_like_spectrum(p)


def test_out_dir_inside_session_is_not_walked(tmp_path):
    _touch(tmp_path / "a.hspy")
    _touch(tmp_path / "results" / "a" / "results.h5")
    ents = discover(tmp_path, parse_config({}), out_dir=tmp_path / "results")
    assert [e.rel for e in ents] == ["a.hspy"]


def test_include_exclude_patterns(tmp_path):
    _touch(tmp_path / "keep" / "a.hspy")
    _touch(tmp_path / "drop" / "b.hspy")
    _touch(tmp_path / "keep" / "c.tif")
    cfg = parse_config({"files": {"include": ["keep/*"], "exclude": ["*.tif"]}})
    ents = _by_rel(discover(tmp_path, cfg))
    assert ents["keep/a.hspy"].status == "todo"
    assert ents["drop/b.hspy"].status == "skipped" and "patterns" in ents["drop/b.hspy"].reason
    assert ents["keep/c.tif"].status == "skipped"


def test_companions_and_probe(tmp_path):
    _touch(tmp_path / "scan.mib")
    _touch(tmp_path / "scan.hdr")
    _touch(tmp_path / "img.emi")
    _touch(tmp_path / "img_1.ser")
    _touch(tmp_path / "cube.hspy")
    _touch(tmp_path / "cube_probe.hspy")
    ents = _by_rel(discover(tmp_path, parse_config({})))
    assert ents["scan.hdr"].status == "skipped" and "header of scan.mib" in ents["scan.hdr"].reason
    assert ents["scan.mib"].companions == [str((tmp_path / "scan.hdr").resolve())]
    assert ents["img_1.ser"].status == "skipped" and ents["img.emi"].status == "todo"
    assert ents["cube_probe.hspy"].status == "skipped"
    assert "probe" in ents["cube_probe.hspy"].reason
    # still a probe when 4D-STEM is not analysed; probe = "none" makes it an ordinary input
    cfg = parse_config({"analyses": {"4dstem": []}})
    assert _by_rel(discover(tmp_path, cfg))["cube_probe.hspy"].status == "skipped"
    cfg = parse_config({"fourd": {"probe": "none"}})
    assert _by_rel(discover(tmp_path, cfg))["cube_probe.hspy"].status == "todo"


def test_stem_pattern_companion(tmp_path):
    a = _touch(tmp_path / "ls1.hspy")
    low = _touch(tmp_path / "ls1_low_loss.hspy")
    _touch(tmp_path / "ls2.hspy")
    assert find_companion(a, "{stem}_low_loss.*") == low
    assert find_companion(tmp_path / "ls2.hspy", "{stem}_low_loss.*") is None
    cfg = parse_config({"eels": {"low_loss": "{stem}_low_loss.*"}})
    ents = _by_rel(discover(tmp_path, cfg))
    assert ents["ls1_low_loss.hspy"].status == "skipped"
    assert ents["ls1.hspy"].companions == [str(low.resolve())]
    assert ents["ls2.hspy"].status == "todo"


def test_same_stem_gets_unique_folders(tmp_path):
    _touch(tmp_path / "a.hspy")
    _touch(tmp_path / "a.tif")
    _touch(tmp_path / "sub" / "a.tif")
    ents = _by_rel(discover(tmp_path, parse_config({})))
    names = {ents["a.hspy"].out_rel, ents["a.tif"].out_rel, ents["sub/a.tif"].out_rel}
    assert names == {"a_hspy", "a_tif", "sub/a_tif"}


def test_missing_session_raises(tmp_path):
    with pytest.raises(StemstrainError, match="does not exist"):
        discover(tmp_path / "nope", parse_config({}))
    f = _touch(tmp_path / "file.hspy")
    with pytest.raises(StemstrainError, match="is not a folder"):
        discover(f, parse_config({}))


def test_random_names_are_stable(tmp_path):
    rng = np.random.default_rng(0)
    names = [f"f{int(i)}.hspy" for i in rng.permutation(20)]
    for n in names:
        _touch(tmp_path / n)
    rels = [e.rel for e in discover(tmp_path, parse_config({}))]
    assert rels == sorted(rels) and len(rels) == 20
