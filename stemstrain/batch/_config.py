"""Batch configuration: a TOML file, validated key by key, with documented defaults.

The documented example is ``example_config.toml`` (package data), printed by
``stemstrain config --example``. Defaults live in :data:`DEFAULTS` below and the
tests check that the example file parses to exactly these defaults.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = [
    "Config",
    "load_config",
    "parse_config",
    "example_config_text",
    "ANALYSES",
    "KINDS",
    "DEFAULTS",
]

#: analyses by kind of input, in the order they run
ANALYSES: dict[str, tuple[str, ...]] = {
    "image": (
        "gpa",
        "dislocations",
        "columns",
        "curvature",
        "stacking",
        "occupancy",
        "lattice_map",
        "phases",
    ),
    "eels": ("eels",),
    "4dstem": ("fourd", "fourd_phases"),
    # py4DSTEM Bragg-vector files (ss.BraggVectors): no disk detection; fourd_phases is
    # skipped with a reason in summary.csv when [fourd_phases] structures is empty; it runs
    # first so that the strain of a multi-phase scan is that of one phase, not a mix
    "bragg": ("fourd_phases", "fourd"),
}
KINDS = tuple(ANALYSES)
#: analyses another one needs
REQUIRES: dict[str, tuple[str, ...]] = {
    "dislocations": ("gpa",),
    "curvature": ("columns",),
    "stacking": ("columns",),
    "occupancy": ("columns",),
}

_STR, _NUM, _BOOL, _LIST = "str", "number", "bool", "list"

# section -> key -> (allowed types, default); None default = "not set"
_SCHEMA: dict[str, dict[str, tuple[tuple[str, ...], Any]]] = {
    "files": {"include": ((_LIST,), ["*"]), "exclude": ((_LIST,), [])},
    "analyses": {
        "image": ((_LIST,), ["gpa", "dislocations", "columns", "curvature", "stacking"]),
        "eels": ((_LIST,), ["eels"]),
        "4dstem": ((_LIST,), ["fourd"]),
        "bragg": ((_LIST,), ["fourd", "fourd_phases"]),
    },
    "run": {
        "backend": ((_STR,), "numpy"),
        "figures": ((_BOOL,), True),
        "dpi": ((_NUM,), 90),
        "image_stack": ((_STR,), "sum"),
        "max_input_gb": ((_NUM,), None),
        "pixel_size_nm": ((_NUM,), None),
    },
    "gpa": {
        "g": ((_STR, _LIST), "auto"),
        "resolution_nm": ((_NUM,), None),
        "reference": ((_STR, _LIST), "auto"),
        "backend": ((_STR,), None),
    },
    "dislocations": {},
    "columns": {"backend": ((_STR,), None)},
    "curvature": {},
    "stacking": {},
    "occupancy": {},
    "lattice_map": {"backend": ((_STR,), None)},
    "phases": {
        "phases": ((_LIST,), ["layered", "O1", "spinel", "rock_salt", "C2/m"]),
        "backend": ((_STR,), None),
    },
    "eels": {
        "tm": ((_STR,), "Co"),
        "method": ((_STR,), "model"),
        "reference": ((_STR, _LIST), "none"),
        "reference_ratio": ((_NUM,), None),
        "low_loss": ((_STR,), "none"),
        "valence": ((_BOOL,), False),
        "prepeak": ((_BOOL,), False),
    },
    "fourd": {
        "probe": ((_STR,), "*probe*"),
        "reference": ((_STR, _LIST), "none"),
        "lazy": ((_BOOL,), True),
        "backend": ((_STR,), None),
    },
    "fourd_phases": {"structures": ((_LIST,), [])},
}
_ANALYSIS_SECTIONS = tuple(a for names in ANALYSES.values() for a in names)
_CHOICES = {
    ("run", "backend"): ("numpy", "cupy", "auto"),
    ("gpa", "backend"): ("numpy", "cupy", "auto"),
    ("columns", "backend"): ("numpy", "cupy", "auto"),
    ("fourd", "backend"): ("numpy", "cupy", "auto"),
    ("lattice_map", "backend"): ("numpy", "cupy", "auto"),
    ("phases", "backend"): ("numpy", "cupy", "auto"),
    ("eels", "method"): ("integration", "model", "exspy"),
    ("run", "image_stack"): ("sum", "first", "error", "series"),
}


#: (exclusive low, inclusive high) of numeric keys
_RANGES = {
    "dpi": (9, 600),
    "resolution_nm": (0, 1000),
    "reference_ratio": (0, 100),
    "max_input_gb": (0, 1 << 20),
    "pixel_size_nm": (0, 1000),
}
#: phase models ss.phase_map knows (stemstrain.phases.PHASE_MODELS; "layered" required)
_PHASES = ("layered", "O1", "spinel", "rock_salt", "C2/m")
#: transition metals ss.o_tm_ratio knows (stemstrain.eels)
_TMS = ("Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu")


def _defaults() -> dict:
    out: dict[str, Any] = {}
    for sec, keys in _SCHEMA.items():
        out[sec] = {k: copy.deepcopy(d) for k, (_, d) in keys.items() if d is not None}
        if sec in _ANALYSIS_SECTIONS:
            out[sec]["kwargs"] = {}
    return out


DEFAULTS: dict = _defaults()


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, (int, float)):
        return _NUM
    if isinstance(value, str):
        return _STR
    if isinstance(value, list):
        return _LIST
    return type(value).__name__


def _check_value(sec: str, key: str, value: Any, src: str) -> Any:
    types, _ = _SCHEMA[sec][key]
    if _type_name(value) not in types:
        raise ConfigError(f"{src}: [{sec}] {key} must be a {' or '.join(types)}, got {value!r}")
    choices = _CHOICES.get((sec, key))
    if choices and value not in choices:
        raise ConfigError(f"{src}: [{sec}] {key} must be one of {list(choices)}, got {value!r}")
    if sec == "analyses":
        bad = [a for a in value if a not in ANALYSES[key]]
        if bad:
            raise ConfigError(
                f"{src}: [analyses] {key} lists unknown analyses {bad}; "
                f"allowed for {key}: {list(ANALYSES[key])}"
            )
    if sec == "files" and not all(isinstance(p, str) for p in value):
        raise ConfigError(f"{src}: [files] {key} must be a list of glob strings, got {value!r}")
    if key == "reference" and isinstance(value, list):
        _check_box(sec, value, src)
    elif key == "reference" and value not in (("auto", "none") if sec == "gpa" else ("none",)):
        allowed = '"auto", "none"' if sec == "gpa" else '"none"'
        raise ConfigError(
            f"{src}: [{sec}] reference must be {allowed} or a list of indices, got {value!r}"
        )
    if sec == "gpa" and key == "g":
        _check_g(value, src)
    if key in _RANGES:
        lo, hi = _RANGES[key]
        if not (isinstance(value, (int, float)) and math.isfinite(value) and lo < value <= hi):
            raise ConfigError(
                f"{src}: [{sec}] {key} must be a number in ({lo:g}, {hi:g}], got {value!r}"
            )
    if sec == "phases" and key == "phases":
        bad = [v for v in value if v not in _PHASES]
        if bad or "layered" not in value:
            raise ConfigError(
                f"{src}: [phases] phases must list names from {list(_PHASES)} "
                f'including "layered", got {value!r}'
            )
    if (
        sec == "fourd_phases"
        and key == "structures"
        and not all(isinstance(v, str) and v.lower().endswith(".cif") for v in value)
    ):
        raise ConfigError(
            f"{src}: [fourd_phases] structures must be a list of CIF file paths "
            f'("*.cif"), got {value!r}'
        )
    if sec == "eels" and key == "tm" and value not in _TMS:
        raise ConfigError(f"{src}: [eels] tm must be one of {list(_TMS)}, got {value!r}")
    return value


def _check_box(sec: str, value: list, src: str) -> None:
    sizes = (1, 2) if sec == "eels" else (4,)
    if len(value) not in sizes or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        what = "[start] or [start, stop]" if sec == "eels" else "[row0, row1, col0, col1]"
        raise ConfigError(f"{src}: [{sec}] reference must be {what} (integers), got {value!r}")


def _check_g(value: Any, src: str) -> None:
    if isinstance(value, str):
        if value != "auto":
            raise ConfigError(
                f'{src}: [gpa] g must be "auto" or [[gx, gy], [gx, gy]], got {value!r}'
            )
        return
    ok = len(value) == 2 and all(
        isinstance(v, list) and len(v) == 2 and all(_type_name(c) == _NUM for c in v) for v in value
    )
    if not ok:
        raise ConfigError(f"{src}: [gpa] g must be [[gx, gy], [gx, gy]] in 1/nm, got {value!r}")


#: analysis section -> the public function its [<section>.kwargs] are passed to
_KWARGS_OF = {
    "gpa": "gpa",
    "dislocations": "find_dislocations",
    "columns": "find_columns",
    "curvature": "layer_curvature",
    "stacking": "stacking_map",
    "occupancy": "li_layer_occupancy",
    "eels": "o_tm_ratio",
    "lattice_map": "lattice_map",
    "phases": "phase_map",
}
#: keyword arguments the batch sets itself (not allowed in [<section>.kwargs])
_SET_BY_BATCH = {
    "gpa": {"g", "reference", "backend", "resolution_nm"},
    "columns": {"backend"},
    "curvature": {"columns"},
    "stacking": {"columns"},
    "occupancy": {"columns"},
    "eels": {"tm", "method", "reference", "low_loss"},
    "lattice_map": {"backend"},
    "phases": {"phases", "columns", "curvature", "backend"},
}


def _check_kwargs(sec: str, table: dict, src: str) -> None:
    """Unknown keyword arguments in ``[<sec>.kwargs]`` are a ConfigError naming them."""
    fname = _KWARGS_OF.get(sec)
    if fname is None or not table:
        return
    import inspect

    try:
        import stemstrain

        params = inspect.signature(getattr(stemstrain, fname)).parameters
    except (ImportError, AttributeError, KeyError, ValueError, TypeError):  # area not installed
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    allowed = [
        n
        for n, p in params.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and n not in _SET_BY_BATCH.get(sec, ())
    ]
    bad = [k for k in table if k not in allowed]
    if bad:
        raise ConfigError(
            f"{src}: [{sec}.kwargs] unknown keyword(s) {bad} for ss.{fname}; allowed: {allowed}"
        )


def parse_config(data: dict, *, source: str = "config") -> Config:
    """Validate a configuration dict (as read from TOML) and fill in the defaults.

    Raises
    ------
    ConfigError
        Naming the section/key that is unknown or has a bad value.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a configuration must be a table, got {type(data).__name__}")
    merged = copy.deepcopy(DEFAULTS)
    for sec, body in data.items():
        if sec not in _SCHEMA:
            raise ConfigError(
                f"{source}: unknown section [{sec}]; allowed sections: {sorted(_SCHEMA)}"
            )
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: {sec} must be a [{sec}] table, got {body!r}")
        for key, value in body.items():
            if key == "kwargs" and sec in _ANALYSIS_SECTIONS:
                if not isinstance(value, dict):
                    raise ConfigError(f"{source}: [{sec}.kwargs] must be a table, got {value!r}")
                _check_kwargs(sec, value, source)
                merged[sec]["kwargs"] = dict(value)
                continue
            if key not in _SCHEMA[sec]:
                allowed = sorted(_SCHEMA[sec]) + (["kwargs"] if sec in _ANALYSIS_SECTIONS else [])
                raise ConfigError(
                    f"{source}: unknown key '{sec}.{key}'; allowed keys in [{sec}]: {allowed}"
                )
            merged[sec][key] = _check_value(sec, key, value, source)
    eels = merged["eels"]
    if eels.get("reference", "none") != "none" and "reference_ratio" not in eels:
        raise ConfigError(
            f"{source}: [eels] reference is set but reference_ratio is missing; "
            "give the O/TM ratio of the reference region (e.g. reference_ratio = 2.0)"
        )
    wanted = merged["analyses"].get("4dstem", [])
    if "fourd_phases" in wanted and not merged["fourd_phases"].get("structures"):
        raise ConfigError(
            f'{source}: [analyses] 4dstem lists "fourd_phases" but [fourd_phases] structures '
            "is empty; list the CIF files of the candidate phases"
        )
    return Config(merged, source=source)


def load_config(path: str | os.PathLike | None) -> Config:
    """Read and validate a TOML configuration file; ``None`` gives the defaults."""
    if path is None:
        return Config(copy.deepcopy(DEFAULTS), source="defaults")
    import tomllib

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config {str(path)!r} is not UTF-8 text (byte {exc.start}: "
            f"{exc.reason}); save it as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {str(path)!r} is not valid TOML: {exc}") from None
    return parse_config(data, source=str(path))


def example_config_text() -> str:
    """Return the documented example configuration (``stemstrain config --example``)."""
    return resources.files("stemstrain.batch").joinpath("example_config.toml").read_text("utf-8")


@dataclass(frozen=True)
class Config:
    """A validated batch configuration (plain, picklable data).

    Attributes
    ----------
    data : dict
        Every section with its defaults filled in.
    source : str
        Where it came from (file name or "defaults").
    """

    data: dict
    source: str = "defaults"
    _hash_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def section(self, name: str) -> dict:
        """Return the parameters of one section (a copy)."""
        return copy.deepcopy(self.data[name])

    def analyses_for(self, kind: str) -> list[str]:
        """Analyses to run for ``kind``, dependencies first, in the canonical order."""
        wanted = set(self.data["analyses"].get(kind, []))
        for name in list(wanted):
            wanted.update(REQUIRES.get(name, ()))
        return [a for a in ANALYSES.get(kind, ()) if a in wanted]

    def kind_parameters(self, kind: str) -> dict:
        """Everything that determines the results of an input of ``kind``."""
        names = self.analyses_for(kind)
        run = self.section("run")
        out = {
            "kind": kind,
            "analyses": names,
            "requested": list(self.data["analyses"].get(kind, [])),
            "backend": run["backend"],
            "params": {a: self.section(a) for a in names},
        }
        if kind == "image":
            out["image_stack"] = run["image_stack"]
            if run.get("pixel_size_nm") is not None:  # absent: hashes of older configs hold
                out["pixel_size_nm"] = run["pixel_size_nm"]
        return out

    def config_hash(self, kind: str) -> str:
        """SHA-256 of the parameters of ``kind`` and the stemstrain version (resume key)."""
        if kind not in self._hash_cache:
            from .. import __version__

            blob = json.dumps(
                {"stemstrain": __version__, **self.kind_parameters(kind)},
                sort_keys=True,
                default=str,
            )
            self._hash_cache[kind] = hashlib.sha256(blob.encode()).hexdigest()
        return self._hash_cache[kind]

    def to_json(self) -> str:
        """Return the effective configuration as JSON."""
        return json.dumps(self.data, sort_keys=True, indent=1)
