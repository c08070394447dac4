"""Walk a session folder: data files to analyse, companions, and files to skip.

A microscope session mixes acquisitions with other files (README.txt, exported PNGs,
notes). A file is *data* when its extension is one ``ss.load`` reads; everything else
is listed as skipped with the reason. Some data files belong to another one and are
not analysed on their own: the ``.hdr`` of a ``.mib``, the ``_1.ser`` of an ``.emi``,
the vacuum probe of a 4D-STEM cube and the low-loss spectrum of an EELS acquisition
(named by globs in the config).
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, StemstrainError
from ._config import Config

__all__ = ["DATA_EXTENSIONS", "Entry", "discover", "find_companion", "looks_like_spectrum"]

#: binary extensions ss.load reads (API.md), lower case; text ones are sniffed first
DATA_EXTENSIONS = frozenset({
    ".dm3", ".dm4", ".emd", ".emi", ".ser", ".mrc", ".mrcz", ".tif", ".tiff", ".hspy",
    ".zspy", ".h5", ".hdf5", ".mib", ".hdr", ".blo", ".msa", ".ems", ".npy", ".gtg",
})
#: text formats ss.load reads when they hold a two-column spectrum
TEXT_EXTENSIONS = frozenset({".txt", ".csv", ".dat"})
_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass
class Entry:
    """One file of the session.

    Attributes
    ----------
    path : Path
        Absolute path.
    rel : str
        Path relative to the session folder, with "/".
    status : str
        "todo" (to analyse) or "skipped".
    reason : str
        Why it is skipped ("" for "todo").
    out_name : str
        Results folder name (the stem, made unique within its folder).
    companions : list of str
        Absolute paths of files that belong to this one (hashed with it).
    """

    path: Path
    rel: str
    status: str = "todo"
    reason: str = ""
    out_name: str = ""
    companions: list[str] = field(default_factory=list)

    @property
    def out_rel(self) -> str:
        """Results folder relative to the output folder: ``<relative dir>/<out_name>``."""
        parent = Path(self.rel).parent
        return (parent / self.out_name).as_posix()


def looks_like_spectrum(path: Path, *, n_bytes: int = 8192) -> bool:
    """Return True when a text file holds a two-column numeric table (energy, counts)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(n_bytes)
    except OSError:
        return False
    if b"\0" in head:
        return False
    lines = head.decode("utf-8", errors="replace").splitlines()[:-1] or []
    lines = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if len(lines) < 10:
        return False
    numeric = sum(
        len(parts) == 2 and all(_NUM.match(p) for p in parts)
        for parts in (re.split(r"[,;\s]+", ln) for ln in lines)
    )
    return numeric >= 0.8 * len(lines)


def _data_reason(path: Path) -> str:
    """"" for a data file, else why it is skipped."""
    ext = path.suffix.lower()
    if ext in DATA_EXTENSIONS:
        return ""
    if ext in TEXT_EXTENSIONS:
        return "" if looks_like_spectrum(path) else f"not a data file (text, {ext})"
    return f"not a data file ({ext or 'no extension'})"


def _matches(rel: str, patterns: list[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _walk(root: Path, out_dir: Path | None) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            sub = here / d
            if d.startswith(".") or (out_dir is not None and _same(sub, out_dir)):
                continue
            keep.append(d)
        dirnames[:] = keep
        files.extend(here / f for f in sorted(filenames) if not f.startswith("."))
    return sorted(files)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def find_companion(path: Path, pattern: str, *, exclude: tuple[Path, ...] = ()) -> Path | None:
    """Return the file next to ``path`` matching ``pattern`` ("{stem}": path's stem), or None.

    When several match, the one sharing the longest name prefix with ``path`` wins.
    """
    if not pattern or pattern == "none":
        return None
    pat = pattern.replace("{stem}", glob_escape(path.stem))
    cands = [
        p for p in sorted(path.parent.iterdir())
        if p.is_file() and p != path and p not in exclude and not p.name.startswith(".")
        and fnmatch.fnmatch(p.name, pat)
    ]
    if not cands:
        return None
    return max(cands, key=lambda p: (len(os.path.commonprefix([p.stem, path.stem])), -len(p.name)))


def glob_escape(text: str) -> str:
    """Escape glob metacharacters."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _companions(entries: list[Entry], config: Config) -> None:
    """Mark files that belong to another data file as skipped companions."""
    by_path = {e.path: e for e in entries}
    # probe / low-loss files are never analysed on their own (set the glob to "none" to)
    probe_pat = config.data["fourd"].get("probe", "none")
    ll_pat = config.data["eels"].get("low_loss", "none")
    data = [e for e in entries if e.status == "todo"]
    for e in data:
        suffix = e.path.suffix.lower()
        if suffix == ".mib":
            hdr = e.path.with_suffix(".hdr")
            if hdr in by_path:
                _attach(e, by_path[hdr], "header of")
        if suffix == ".emi":
            for p in e.path.parent.glob(glob_escape(e.path.stem) + "_*.ser"):
                if p in by_path:
                    _attach(e, by_path[p], "data of")
    for pat, what in ((probe_pat, "vacuum probe for 4D-STEM cubes"), (ll_pat, "low-loss spectrum")):
        if pat in ("", "none"):
            continue
        for e in data:
            if e.status != "todo":
                continue
            if "{stem}" not in pat:
                if fnmatch.fnmatch(e.path.name, pat):
                    e.status, e.reason = "skipped", f"{what} (matches {pat!r})"
                continue
            comp = find_companion(e.path, pat)
            if comp is not None and comp in by_path and by_path[comp].status == "todo":
                _attach(e, by_path[comp], what + " of")


def _attach(owner: Entry, comp: Entry, what: str) -> None:
    comp.status, comp.reason = "skipped", f"{what} {owner.rel}"
    owner.companions.append(str(comp.path))


def _unique_names(entries: list[Entry]) -> None:
    seen: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        if e.status == "todo":
            seen.setdefault((str(Path(e.rel).parent), e.path.stem), []).append(e)
    for group in seen.values():
        for e in group:
            e.out_name = e.path.stem if len(group) == 1 else e.path.name.replace(".", "_")


def discover(session: str | os.PathLike, config: Config, *,
             out_dir: str | os.PathLike | None = None) -> list[Entry]:
    """List the files of a session folder: what to analyse and what is skipped (and why).

    Parameters
    ----------
    session : path-like
        The session folder (walked recursively, hidden entries ignored).
    config : Config
        Its ``[files]`` include/exclude globs and the probe/low-loss globs are used.
    out_dir : path-like, optional
        The output folder; never walked when it lies inside the session.

    Raises
    ------
    StemstrainError
        If ``session`` is not a folder.
    """
    root = Path(session)
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        raise StemstrainError(
            f"session folder {str(root)!r} {what}; give the folder of the session"
        )
    files_cfg = config.data["files"]
    for key in ("include", "exclude"):
        if not isinstance(files_cfg.get(key), list):
            raise ConfigError(f"[files] {key} must be a list of globs")
    entries = []
    for path in _walk(root, Path(out_dir) if out_dir is not None else None):
        rel = path.relative_to(root).as_posix()
        e = Entry(path=path.resolve(), rel=rel)
        if not _matches(rel, files_cfg["include"]) or _matches(rel, files_cfg["exclude"]):
            e.status, e.reason = "skipped", "excluded by [files] patterns"
        elif reason := _data_reason(path):
            e.status, e.reason = "skipped", reason
        entries.append(e)
    _companions(entries, config)
    _unique_names(entries)
    return entries
