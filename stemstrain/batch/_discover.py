"""Walk a session folder: data files to analyse, companions, and files to skip.

A microscope session mixes acquisitions with other files (README.txt, exported PNGs,
notes). A file is *data* when its extension is one ``ss.load`` reads; everything else
is listed as skipped with the reason. Some data files belong to another one and are
not analysed on their own: the ``.hdr`` of a ``.mib``, the ``_1.ser`` of an ``.emi``,
the vacuum probe of a 4D-STEM cube and the low-loss spectrum of an EELS acquisition
(named by globs in the config).
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, StemstrainError
from ..io import ALL_EXTENSIONS, TEXT_EXTENSIONS
from ._config import Config
from ._safety import OUTPUT_MARKER, RESULTS_MARKER, encode_name, safe_name

__all__ = ["DATA_EXTENSIONS", "Entry", "discover", "find_companion", "looks_like_spectrum"]

#: extensions ss.load reads (stemstrain.io's one list), lower case; text ones are sniffed
#: first and an .xml is data only as the EMPAD header of a .raw next to it
DATA_EXTENSIONS = frozenset(ALL_EXTENSIONS) - TEXT_EXTENSIONS - {".xml"}
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
        "todo" (to analyse), "skipped", or "failed" (cannot be read: unreadable folder,
        link loop).
    reason : str
        Why it is skipped ("" for "todo").
    out_name : str
        Results folder name (file name with its extension encoded, sanitised, unique in
        its folder: ``a.hspy`` -> ``a_hspy``).
    companions : list of str
        Absolute paths of files that belong to this one (hashed with it).
    out_parent : str
        The (sanitised) relative folder of the results folder inside ``--out``.
    """

    path: Path
    rel: str
    status: str = "todo"
    reason: str = ""
    out_name: str = ""
    companions: list[str] = field(default_factory=list)
    out_parent: str = ""

    @property
    def out_rel(self) -> str:
        """Results folder relative to the output folder: ``<relative dir>/<out_name>``."""
        return f"{self.out_parent}/{self.out_name}" if self.out_parent else self.out_name


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
    """Return "" for a data file, else why it is skipped."""
    ext = path.suffix.lower()
    if ext in DATA_EXTENSIONS:
        return ""
    if ext in TEXT_EXTENSIONS:
        return "" if looks_like_spectrum(path) else f"not a data file (text, {ext})"
    if ext == ".xml":
        return "" if _has_raw(path) else "not a data file (.xml without an EMPAD .raw)"
    return f"not a data file ({ext or 'no extension'})"


def _has_raw(path: Path) -> bool:
    return any(p.suffix.lower() == ".raw" for p in path.parent.glob(glob_escape(path.stem) + ".*"))


def _matches(rel: str, patterns: list[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _walk(root: Path, out_dir: Path | None) -> tuple[list[Path], list[Entry]]:
    """Files under ``root`` (sorted) and a failed/skipped entry per folder or file it cannot use.

    Never follows folder links (no loops); unreadable folders, links that do not resolve
    (loops, dangling) and special files (FIFO, socket, device) each give one entry.
    Hidden entries, the output folder and stemstrain results/output folders are ignored.
    """
    files, odd = [], []

    def onerror(exc: OSError) -> None:
        p = Path(exc.filename) if exc.filename else root
        odd.append(_odd(root, p, "failed", f"cannot read folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            sub = here / d
            if d.startswith(".") or (out_dir is not None and _same(sub, out_dir)):
                continue
            if d.lower().endswith(".zspy") and not sub.is_symlink():
                files.append(sub)  # a zarr store is one input (a folder)
                continue
            if sub.is_symlink():
                odd.append(_odd(root, sub, "skipped", "link to a folder (not followed)"))
                continue
            if (sub / RESULTS_MARKER).exists() or (sub / OUTPUT_MARKER).exists():
                continue  # stemstrain's own results: never input
            keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            if f.startswith("."):
                continue
            p = here / f
            why = _not_regular(p)
            if why:
                odd.append(_odd(root, p, *why))
            else:
                files.append(p)
    return sorted(files), odd


def _not_regular(p: Path) -> tuple[str, str] | None:
    try:
        st = p.stat()  # follows a file link
    except RuntimeError:
        return "failed", "link loop (the link points back to itself)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "failed", "link loop (the link points back to itself)"
        if p.is_symlink():
            return "failed", f"link does not resolve ({exc.strerror or exc})"
        return "failed", f"cannot stat ({exc.strerror or exc})"
    if stat.S_ISREG(st.st_mode):
        return None
    kind = (
        "FIFO"
        if stat.S_ISFIFO(st.st_mode)
        else "socket"
        if stat.S_ISSOCK(st.st_mode)
        else "device"
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
        else "folder"
    )
    return "skipped", f"not a regular file ({kind})"


def _odd(root: Path, p: Path, status: str, reason: str) -> Entry:
    try:
        rel = p.relative_to(root).as_posix()
    except ValueError:
        rel = str(p)
    return Entry(path=p.absolute(), rel=rel, status=status, reason=reason)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def find_companion(path: Path, pattern: str, *, exclude: tuple[Path, ...] = ()) -> Path | None:
    """Return the file next to ``path`` matching ``pattern`` ("{stem}": path's stem), or None.

    When several match, the one sharing the longest name prefix with ``path`` wins.
    """
    if not pattern or pattern == "none":
        return None
    pat = pattern.replace("{stem}", glob_escape(path.stem))
    cands = [
        p
        for p in sorted(path.parent.iterdir())
        if p.is_file()
        and p != path
        and p not in exclude
        and not p.name.startswith(".")
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
        if suffix == ".xml":
            for p in e.path.parent.glob(glob_escape(e.path.stem) + ".*"):
                if p.suffix.lower() == ".raw" and p in by_path:
                    _attach(e, by_path[p], "data of")
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


def _claim(used: set[str], name: str) -> str:
    """Return ``name`` or the first free ``name~N`` (case-insensitive) and record it."""
    cand, n = name, 1
    while cand.lower() in used:
        n += 1
        cand = f"{name}~{n}"
    used.add(cand.lower())
    return cand


def _unique_names(entries: list[Entry]) -> None:
    """Results folder per input: collision-free by construction (relative path encoded).

    Folders of the session map to sanitised folders of ``--out``; an input ``d/x.ext``
    gets ``d/x_ext`` there. Within one output folder the names of sub-folders and
    results folders are claimed once each, so no results folder is another's or inside one.
    """
    todo = sorted((e for e in entries if e.status == "todo"), key=lambda e: e.rel)
    dir_map: dict[str, str] = {"": ""}
    used: dict[str, set[str]] = {"": set()}

    def out_dir(rel_dir: str) -> str:
        if rel_dir not in dir_map:
            parent, _, name = rel_dir.rpartition("/")
            op = out_dir(parent)
            got = _claim(used.setdefault(op, set()), safe_name(name))
            dir_map[rel_dir] = f"{op}/{got}" if op else got
            used.setdefault(dir_map[rel_dir], set())
        return dir_map[rel_dir]

    for e in todo:
        out_dir(e.rel.rpartition("/")[0])
    for e in todo:
        e.out_parent = out_dir(e.rel.rpartition("/")[0])
        e.out_name = _claim(used[e.out_parent], encode_name(e.path.name))


def discover(
    session: str | os.PathLike, config: Config, *, out_dir: str | os.PathLike | None = None
) -> list[Entry]:
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
    files, odd = _walk(root, Path(out_dir) if out_dir is not None else None)
    for path in files:
        rel = path.relative_to(root).as_posix()
        e = Entry(path=path.resolve(), rel=rel)
        if not _matches(rel, files_cfg["include"]) or _matches(rel, files_cfg["exclude"]):
            e.status, e.reason = "skipped", "excluded by [files] patterns"
        elif reason := _data_reason(path):
            e.status, e.reason = "skipped", reason
        entries.append(e)
    _companions(entries, config)
    _unique_names(entries)
    return sorted(entries + odd, key=lambda e: e.rel)
