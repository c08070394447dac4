"""``report.html``: one self-contained page per session (figures inlined as base64 PNG).

Layout: a header with the counts, the failures first (file, kind, error), then a
table per kind of input (key figures of summary.csv, then each input's figures),
then the skipped files with the reason. No JavaScript, no external resources.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import os
from pathlib import Path
from typing import Any

from ._steps import KEY_FIGURES

__all__ = ["write_report", "render_report"]

#: key-figure columns shown per kind
_KIND_KEYS = {
    "image": [
        "strain_mean_abs",
        "strain_p95_abs",
        "e_nn_mean",
        "e_tt_mean",
        "n_dislocations",
        "n_unresolved_strain",
        "n_columns",
        "max_curvature_per_nm",
        "max_curvature_x_px",
        "max_curvature_y_px",
        "o1_fraction",
        "li_occupancy_mean",
        "gpa_valid_fraction",
        "gpa_crystalline_fraction",
        "gpa_n_grains",
        "gpa_reference",
    ],
    "eels": ["o_tm_surface", "o_tm_interior"],
    "4dstem": [
        "strain_mean_abs",
        "strain_p95_abs",
        "fourd_valid_fraction",
        "fourd_residual_px_median",
    ],
    "bragg": [
        "fourd_phase_fractions",
        "fourd_phase_score_median",
        "strain_mean_abs",
        "strain_p95_abs",
        "fourd_valid_fraction",
    ],
}
#: columns of analyses that are off by default: shown when an input of the kind has them
_KIND_OPTIONAL = {
    "image": [
        "lattice_crystalline_fraction",
        "lattice_n_grains",
        "lattice_anisotropy",
        "phase_fraction_layered",
        "phase_fraction_O1",
        "phase_fraction_spinel",
        "phase_fraction_rock_salt",
        "phase_fraction_C2m",
        "surface_spinel_mean_nm",
        "surface_rock_salt_mean_nm",
        "void_count",
    ],
    "eels": ["valence_surface", "valence_interior", "o_prepeak_surface"],
    "4dstem": ["fourd_phase_fractions", "fourd_phase_score_median"],
    "bragg": [],
}
#: every kind: the number of warnings of the input (its list is under the heading)
_ALWAYS = ["n_warnings"]
_KIND_TITLE = {
    "image": "Images (HAADF/ADF STEM)",
    "eels": "EELS",
    "4dstem": "4D-STEM",
    "bragg": "4D-STEM Bragg vectors (py4DSTEM)",
}
_HEAD = {
    "strain_mean_abs": "mean |ε|",
    "strain_p95_abs": "p95 |ε|",
    "e_nn_mean": "mean ε<sub>nn</sub>",
    "e_tt_mean": "mean ε<sub>tt</sub>",
    "n_dislocations": "dislocations",
    "n_unresolved_strain": "unresolved strain spots",
    "n_columns": "columns",
    "max_curvature_per_nm": "max κ (1/nm)",
    "max_curvature_x_px": "κ<sub>max</sub> x (px)",
    "max_curvature_y_px": "κ<sub>max</sub> y (px)",
    "o1_fraction": "O1 fraction",
    "li_occupancy_mean": "Li-site occ.",
    "o_tm_surface": "O/TM surface",
    "o_tm_interior": "O/TM interior",
    "valence_surface": "valence surface",
    "valence_interior": "valence interior",
    "o_prepeak_surface": "O K pre-peak surface",
    "gpa_valid_fraction": "GPA valid",
    "gpa_crystalline_fraction": "GPA crystal",
    "gpa_n_grains": "GPA grains",
    "gpa_reference": "GPA reference",
    "lattice_crystalline_fraction": "lattice crystal",
    "lattice_n_grains": "lattice grains",
    "lattice_anisotropy": "x/y anisotropy",
    "phase_fraction_layered": "layered",
    "phase_fraction_O1": "O1 (phase)",
    "phase_fraction_spinel": "spinel",
    "phase_fraction_rock_salt": "rock salt",
    "phase_fraction_C2m": "C2/m",
    "surface_spinel_mean_nm": "spinel layer (nm)",
    "surface_rock_salt_mean_nm": "rock-salt layer (nm)",
    "void_count": "voids",
    "fourd_valid_fraction": "fitted",
    "fourd_residual_px_median": "fit residual (px)",
    "fourd_phase_fractions": "phase fractions",
    "fourd_phase_score_median": "phase score",
    "n_warnings": "warnings",
}
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;
color:#1d2327;max-width:1500px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #ddd}
.meta{color:#555;font-size:13px}.counts span{display:inline-block;margin:8px 8px 0 0;
padding:4px 10px;border-radius:12px;font-weight:600;font-size:13px}
.ok{background:#e3f4e6;color:#1b5e20}.failed{background:#fde2e1;color:#b71c1c}
.skipped{background:#eceff1;color:#455a64}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #d6d6d6;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f4f5f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.failedrow td{background:#fff6f5}.err{color:#b71c1c;font-family:monospace;font-size:12px}
.figs{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0 18px}
.figs figure{margin:0;border:1px solid #e0e0e0;padding:4px;background:#fff}
.figs img{max-width:580px;max-height:400px;display:block}
figcaption{font-size:12px;color:#555;text-align:center}
h3{font-size:15px;margin:16px 0 4px}
ul.warn{color:#8a5300;font-size:12px;margin:2px 0 6px;padding-left:18px}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        return f"{v:.4g}"
    return _e(v)


def _img(path: Path) -> str:
    try:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        return ""
    return (
        f'<figure><img alt="{_e(path.name)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(path.stem)}</figcaption></figure>"
    )


def _failures(rows: list[dict]) -> list[str]:
    failed = [r for r in rows if r.get("status") == "failed"]
    if not failed:
        return []
    out = [
        f"<h2>Failures ({len(failed)})</h2>",
        "<table><tr><th>file</th><th>kind</th><th>error</th></tr>",
    ]
    for r in failed:
        out.append(
            f'<tr class="failedrow"><td>{_e(r["path"])}</td><td>{_e(r.get("kind") or "")}'
            f'</td><td class="err">{_e(r.get("error", ""))}</td></tr>'
        )
    out.append("</table>")
    return out


def _kind_section(kind: str, rows: list[dict], out_dir: Path) -> list[str]:
    keys = _KIND_KEYS.get(kind, list(KEY_FIGURES))
    keys = (
        keys
        + [
            k
            for k in _KIND_OPTIONAL.get(kind, [])
            if any((r.get("keys") or {}).get(k) is not None for r in rows)
        ]
        + _ALWAYS
    )
    title = _KIND_TITLE.get(kind, kind)
    # failures first within the kind too
    rows = sorted(rows, key=lambda r: r.get("status") != "failed")
    out = [
        f"<h2>{_e(title)} ({len(rows)})</h2>",
        "<table><tr><th>file</th><th>status</th>"
        + "".join(f"<th>{_HEAD.get(k, _e(k))}</th>" for k in keys)
        + "<th>time (s)</th></tr>",
    ]
    for r in rows:
        cls = ' class="failedrow"' if r.get("status") == "failed" else ""
        note = " (up to date)" if r.get("resumed") else ""
        vals = {**(r.get("keys") or {}), "n_warnings": len(r.get("warnings") or [])}
        out.append(
            f"<tr{cls}><td>{_e(r['path'])}</td><td>{_e(r['status'])}{note}</td>"
            + "".join(f'<td class="num">{_num(vals.get(k))}</td>' for k in keys)
            + f'<td class="num">{_num(r.get("duration_s"))}</td></tr>'
        )
    out.append("</table>")
    for r in rows:
        folder = Path(r.get("output") or "")
        figs = (r.get("figures") or []) if folder.is_dir() else []
        warns = r.get("warnings") or []
        if not figs and not warns:
            continue
        rel = os.path.relpath(folder, Path(out_dir).resolve()) if folder.is_dir() else ""
        out.append(f"<h3>{_e(r['path'])} <span class='meta'>→ {_e(rel)}/</span></h3>")
        if warns:
            out.append("<ul class='warn'>" + "".join(f"<li>{_e(w)}</li>" for w in warns) + "</ul>")
        if figs:
            out.append('<div class="figs">' + "".join(_img(folder / f) for f in figs) + "</div>")
    return out


def render_report(
    rows: list[dict], *, out_dir: str | os.PathLike, session: str | os.PathLike = ""
) -> str:
    """Render the HTML text of a session report (see module docstring)."""
    from .. import __version__

    out_dir = Path(out_dir)
    counts = {s: sum(r.get("status") == s for r in rows) for s in ("ok", "failed", "skipped")}
    resumed = sum(bool(r.get("resumed")) for r in rows)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>stemstrain report – {_e(Path(session).name or session)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>stemstrain session report</h1>",
        f"<div class='meta'>session <b>{_e(session)}</b> · results <b>{_e(out_dir)}</b> · "
        f"{now} · stemstrain {_e(__version__)}</div>",
        "<div class='counts'>"
        f"<span class='ok'>{counts['ok']} ok</span>"
        f"<span class='failed'>{counts['failed']} failed</span>"
        f"<span class='skipped'>{counts['skipped']} skipped</span>"
        + (f"<span class='skipped'>{resumed} up to date (not redone)</span>" if resumed else "")
        + "</div>",
    ]
    parts += _failures(rows)
    kinds = [k for k in _KIND_TITLE if any(r.get("kind") == k for r in rows)]
    kinds += sorted({r.get("kind") for r in rows if r.get("kind")} - set(kinds) - {""})
    for kind in kinds:
        parts += _kind_section(kind, [r for r in rows if r.get("kind") == kind], out_dir)
    unread = [r for r in rows if not r.get("kind") and r.get("status") == "failed"]
    if unread:
        parts.append(
            f"<p class='meta'>{len(unread)} file(s) could not be read (kind unknown); "
            "see Failures.</p>"
        )
    skipped = [r for r in rows if r.get("status") == "skipped"]
    if skipped:
        parts.append(
            f"<h2>Skipped ({len(skipped)})</h2><table><tr><th>file</th><th>reason</th></tr>"
        )
        parts += [
            f"<tr><td>{_e(r['path'])}</td><td>{_e(r.get('error', ''))}</td></tr>" for r in skipped
        ]
        parts.append("</table>")
    parts.append(
        "<p class='meta'>Key figures: "
        + "; ".join(f"{_HEAD.get(k, k)} = {_e(v)}" for k, v in KEY_FIGURES.items())
        + ".</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    path: str | os.PathLike,
    rows: list[dict],
    *,
    out_dir: str | os.PathLike,
    session: str | os.PathLike = "",
) -> Path:
    """Write ``report.html`` atomically."""
    from ..results import atomic_write_text

    atomic_write_text(path, render_report(rows, out_dir=out_dir, session=session))
    return Path(path)
