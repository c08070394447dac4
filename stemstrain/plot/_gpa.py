"""Figures of GPA results: strain/rotation maps and dislocation cores."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import new_figure, show_map

__all__ = ["plot_gpa", "plot_dislocations"]

_LABELS = {
    "exx": r"$\varepsilon_{xx}$",
    "eyy": r"$\varepsilon_{yy}$",
    "exy": r"$\varepsilon_{xy}$",
    "rotation": r"rotation $\omega$",
    "dilatation": "dilatation",
    "e_nn": r"$\varepsilon_{nn}$ (normal)",
    "e_tt": r"$\varepsilon_{tt}$ (in-plane)",
    "e_nt": r"$\varepsilon_{nt}$ (shear)",
}


def plot_gpa(
    result: Any,
    *,
    components: tuple[str, ...] | None = None,
    percent: bool = True,
    dislocations: Any = None,
    ncols: int = 4,
    uncertainty: bool = False,
) -> Any:
    """Strain, rotation and layer-frame maps of a :class:`~stemstrain.GPAResult`.

    Parameters
    ----------
    result : GPAResult
        The GPA result.
    components : tuple of str, optional
        Maps to show (default: exx, eyy, exy, rotation, e_nn, e_tt, e_nt).
    percent : bool
        Show strains in % (rotation in degrees) instead of fractions (radians).
    dislocations : DataFrame, optional
        Cores from :func:`stemstrain.find_dislocations`, drawn as markers on every map.
    ncols : int
        Maps per row.
    uncertainty : bool
        Also show the 1-sigma precision map of each component (``result.uncertainty``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(components or ("exx", "eyy", "exy", "rotation", "e_nn", "e_tt", "e_nt"))
    unc = getattr(result, "uncertainty", {}) or {}
    if uncertainty:
        names = names + [f"sigma_{n}" for n in names if n in unc]
    ncols = max(1, min(ncols, len(names)))
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = new_figure(ncols, nrows)
    for ax, name in zip(axes, names, strict=False):
        base = name[6:] if name.startswith("sigma_") else name
        values = np.asarray(unc[base] if base != name else getattr(result, name), dtype=float)
        if percent:
            values = np.degrees(values) if base == "rotation" else 100.0 * values
        unit = (
            ("deg" if base == "rotation" else "%")
            if percent
            else ("rad" if base == "rotation" else "")
        )
        title = _LABELS.get(base, base) if base == name else f"1 sigma of {_LABELS.get(base, base)}"
        show_map(ax, values, title, pixel_size=result.pixel_size, label=unit)
        if dislocations is not None and len(dislocations):
            ax.plot(dislocations["x"], dislocations["y"], "k^", ms=6, mfc="none", mew=1.5)
    for ax in axes[len(names) :]:
        ax.axis("off")
    q = getattr(result, "quality", {}) or {}
    extra = ""
    if q:
        extra = (
            f", valid {q.get('valid_fraction', float('nan')):.0%} of the crystal, "
            f"{q.get('n_grains', 1)} grain(s)"
        )
    nwarn = len(getattr(result, "warnings", ()) or ())
    extra += f", {nwarn} warning(s)" if nwarn else ""
    fig.suptitle(
        f"GPA, resolution {result.resolution_nm:.2g} {'nm' if result.pixel_size else 'px'}{extra}",
        fontsize=10,
    )
    return fig


def plot_dislocations(result: Any, *, image: Any = None, scale: float | None = None) -> Any:
    """Dislocation cores (markers) and Burgers vectors (arrows) over an image.

    Parameters
    ----------
    result : DataFrame or TableResult
        Output of :func:`stemstrain.find_dislocations` (or a ``TableResult`` holding it).
    image : ndarray, optional
        Background (the micrograph or a strain map).
    scale : float, optional
        Arrow length in px per nm of Burgers vector (default: 40 px per 0.25 nm).

    Returns
    -------
    matplotlib.figure.Figure
    """
    table = getattr(result, "table", result)
    fig, axes = new_figure(1)
    ax = axes[0]
    if image is not None:
        ax.imshow(np.asarray(image, dtype=float), cmap="gray", interpolation="nearest")
    else:
        ax.invert_yaxis()
        ax.set_aspect("equal")
    if len(table):
        k = scale if scale is not None else 40.0 / 0.25
        ax.plot(table["x"], table["y"], "r^", ms=8, mfc="none", mew=1.5)
        ax.quiver(
            table["x"],
            table["y"],
            np.asarray(table["bx"]) * k,
            np.asarray(table["by"]) * k,
            color="r",
            angles="xy",
            scale_units="xy",
            scale=1.0,
        )
    ax.set_title(f"{len(table)} dislocation core(s)", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig
