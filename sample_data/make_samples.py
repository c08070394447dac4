"""Make the bundled sample data and its ground truth (deterministic, seeded).

Usage: ``python sample_data/make_samples.py [--only haadf,fourd,eels] [--out DIR]``

Outputs (in ``sample_data/`` by default, < 20 MB in all):

(a) ``haadf_layered_oxide.hspy`` - 1024x1024 HAADF-STEM image of a LiCoO2-like layered
    oxide at 0.02 nm/px (R-3m, d003 = 0.468 nm, in-plane TM period 0.244 nm, O3 ABC
    stacking), layers at 8 deg to the image x axis, Poisson noise, weak O columns, with
    a localized bend (``fields.ripple``), an O1 band (two gaps) and an edge dislocation
    (b = one in-plane period along the layers). Truth: ``truth/haadf_layered_oxide.json``
    (parameters, core position, Burgers vector, O1 gaps, ripple, a defect-free reference
    box with the largest true strain inside it), ``truth/haadf_layered_oxide_columns.csv``
    (TM columns inside the image, px) and ``truth/haadf_layered_oxide_strain.npz`` (exact
    Lagrangian strain maps every 4 px, image and layer frame).
(b) ``fourd_strain.hspy`` + ``fourd_probe.npy`` - 24x24 scan x 96x96 detector uint16 cube
    from ``stemstrain.synthetic._fourd.fourd_dataset`` with its vacuum probe; truth in
    ``truth/fourd_strain.json`` + ``truth/fourd_strain.npz``.
(c) ``eels_linescan.hspy`` - core-loss line scan with O K and Co L2,3 edges from
    ``stemstrain.synthetic._eels.eels_linescan``; truth (O/Co per position, distance from
    the surface) in ``truth/eels_linescan.json``.

(b) and (c) are skipped with a message when their generator module is missing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------- (a) HAADF parameters
HAADF = {
    "shape": [1024, 1024],
    "pixel_size_nm": 0.02,
    "angle_deg": 8.0,
    "c_spacing_nm": 0.468,
    "a_spacing_nm": 0.244,
    "o1_gaps": [-12, -11],
    "o1_spacing_nm": 0.445,
    # a localized bend (R ~ 12 nm at its centre) confined to a few layers around n0: gentle
    # enough that the layers' registry (O3) is kept, as in a real bent crystal
    "ripple": {
        "amplitude_nm": 0.08,
        "width_nm": 1.0,
        "s0_nm": -6.0,
        "n0_nm": 1.872,
        "depth_nm": 2.5,
    },
    # core in the layer frame (s along t, n along the normal), nm from the image centre:
    # midway between TM layers 11 and 12 (a Li gap) and midway between two columns
    "dislocation": {
        "core_s_nm": 24.5 * 0.244,
        "core_n_nm": 11.5 * 0.468,
        "burgers_s_n_nm": [0.244, 0.0],
        "poisson": 0.3,
    },
    "sigma_nm": 0.045,
    "o_amplitude": 0.08,
    "dose": 200.0,
    "background": 0.05,
    "seed": 20261127,
    "microscope": {
        "beam_energy_kV": 300.0,
        "convergence_angle_mrad": 25.0,
        "detector": "HAADF",
        "collection_angle_mrad": [70.0, 200.0],
    },
}
REFERENCE_BOX_PX = 192


def _layer_to_xy(s_nm: float, n_nm: float, angle_deg: float) -> tuple[float, float]:
    from stemstrain.synthetic import fields

    t, n = fields.layer_frame(angle_deg)
    xy = s_nm * t + n_nm * n
    return float(xy[0]), float(xy[1])


def _best_reference_box(strain: dict, labels: np.ndarray, step: int, size_px: int) -> dict:
    """Box (px) of ``size_px`` with the smallest max |strain| that is all O3 (label 1)."""
    worst = np.max(np.abs(np.stack([strain[k] for k in ("exx", "eyy", "exy", "rotation")])), 0)
    o3 = labels[::step, ::step] == 1
    n = size_px // step
    best = None
    for r0 in range(0, worst.shape[0] - n + 1, max(1, n // 4)):
        for c0 in range(0, worst.shape[1] - n + 1, max(1, n // 4)):
            if not o3[r0 : r0 + n, c0 : c0 + n].all():
                continue
            value = float(worst[r0 : r0 + n, c0 : c0 + n].max())
            if best is None or value < best[0]:
                best = (value, r0 * step, c0 * step)
    value, row, col = best
    return {
        "row0": row,
        "col0": col,
        "row1": row + size_px,
        "col1": col + size_px,
        "max_abs_true_strain": value,
    }


def _layer_n_range(lat, first: int, last: int) -> list[float]:
    """Reference normal coordinates (nm) of TM layers ``first`` and ``last``."""
    tm = lat.columns[lat.columns.species == "TM"]
    return [float(tm.n[tm.layer == first].iloc[0]), float(tm.n[tm.layer == last].iloc[0])]


def make_haadf(out: Path) -> list[Path]:
    """Write (a): the HAADF image, its truth JSON, TM column CSV and strain maps."""
    import hyperspy.api as hs

    from stemstrain.synthetic import fields, layered_oxide

    p = HAADF
    a = p["angle_deg"]
    dis = p["dislocation"]
    core_xy = _layer_to_xy(dis["core_s_nm"], dis["core_n_nm"], a)
    field = fields.combine(
        fields.ripple(
            p["ripple"]["amplitude_nm"],
            p["ripple"]["width_nm"],
            angle_deg=a,
            s0_nm=p["ripple"]["s0_nm"],
            n0_nm=p["ripple"]["n0_nm"],
            depth_nm=p["ripple"]["depth_nm"],
        ),
        fields.edge_dislocation(
            core_xy, tuple(dis["burgers_s_n_nm"]), angle_deg=a, poisson=dis["poisson"]
        ),
    )
    lat = layered_oxide(
        tuple(p["shape"]),
        pixel_size=p["pixel_size_nm"],
        angle_deg=a,
        c_spacing=p["c_spacing_nm"],
        a_spacing=p["a_spacing_nm"],
        o1_gaps=tuple(p["o1_gaps"]),
        o1_spacing=p["o1_spacing_nm"],
        displacement=field,
        sigma_nm=p["sigma_nm"],
        o_amplitude=p["o_amplitude"],
        dose=p["dose"],
        background=p["background"],
        seed=p["seed"],
    )
    h, w = lat.shape
    ps = p["pixel_size_nm"]
    image = lat.image
    if image.max() > np.iinfo(np.uint16).max:
        raise RuntimeError("counts overflow uint16")
    sig = hs.signals.Signal2D(image.astype(np.uint16))
    for ax, name in zip(sig.axes_manager.signal_axes, ("x", "y"), strict=True):
        ax.name, ax.units, ax.scale = name, "nm", ps
    md = p["microscope"]
    sig.metadata.General.title = "HAADF"
    sig.metadata.set_item("Acquisition_instrument.TEM.beam_energy", md["beam_energy_kV"])
    sig.metadata.set_item(
        "Acquisition_instrument.TEM.convergence_angle", md["convergence_angle_mrad"]
    )
    sig.metadata.set_item("Acquisition_instrument.TEM.acquisition_mode", "STEM")
    sig.metadata.set_item("Acquisition_instrument.TEM.Detector.detector_type", md["detector"])
    sig.metadata.set_item(
        "General.notes",
        "synthetic (stemstrain sample_data/make_samples.py); "
        "truth in sample_data/truth/haadf_layered_oxide.json",
    )
    img_path = out / "haadf_layered_oxide.hspy"
    sig.save(img_path, overwrite=True)

    step = 4
    strain = lat.strain_truth(step=step)
    labels = lat.label_map_truth()
    box = _best_reference_box(strain, labels, step, REFERENCE_BOX_PX)
    truth_dir = out / "truth"
    truth_dir.mkdir(exist_ok=True)
    np.savez_compressed(
        truth_dir / "haadf_layered_oxide_strain.npz",
        step_px=step,
        label_map_step4=labels[::step, ::step],
        **{k: np.asarray(v, np.float32) for k, v in strain.items()},
    )
    tm = lat.tm_columns(inside=True)[["x", "y", "layer", "index", "s", "n"]]
    tm.to_csv(truth_dir / "haadf_layered_oxide_columns.csv", index=False, float_format="%.4f")

    core_px = (core_xy[0] / ps + (w - 1) / 2, core_xy[1] / ps + (h - 1) / 2)
    t, n = fields.layer_frame(a)
    b_xy = dis["burgers_s_n_nm"][0] * t + dis["burgers_s_n_nm"][1] * n
    rip = p["ripple"]
    s0_xy = _layer_to_xy(rip["s0_nm"], rip["n0_nm"], a)
    # the most curved layer is the one nearest n0: its amplitude A_k = A g(n_k)
    layer_n = lat.tm_columns().groupby("layer").n.first()
    k_peak = int((layer_n - rip["n0_nm"]).abs().idxmin())
    a_peak = float(
        fields.ripple_amplitude(
            layer_n.loc[k_peak], rip["amplitude_nm"], n0_nm=rip["n0_nm"], depth_nm=rip["depth_nm"]
        )
    )
    gaps = lat.gaps
    o1 = gaps[gaps.label == "O1"]
    truth = {
        "file": img_path.name,
        "description": "synthetic HAADF-STEM of a LiCoO2-like layered oxide (R-3m), O3 with "
        "an O1 band, a localized bend and an edge dislocation",
        "parameters": p,
        "pixel_size_nm": ps,
        "shape": [h, w],
        "frame": "x = column (right), y = row (down), px; layer direction t = (cos a, sin a), "
        "normal n = (-sin a, cos a); (0, 0) nm = image centre = px ((w-1)/2, (h-1)/2)",
        "layer_frame": {"t": t.tolist(), "n": n.tolist()},
        "dislocation": {
            "core_x_px": core_px[0],
            "core_y_px": core_px[1],
            "core_x_nm": core_xy[0],
            "core_y_nm": core_xy[1],
            "bx_nm": float(b_xy[0]),
            "by_nm": float(b_xy[1]),
            "b_nm": float(np.hypot(*b_xy)),
            "burgers_s_n_nm": dis["burgers_s_n_nm"],
            "note": "Volterra edge dislocation, branch cut from the core towards -b; "
            "sign of b follows stemstrain.synthetic.fields.edge_dislocation",
        },
        "o1_band": {
            "gaps": p["o1_gaps"],
            "spacing_nm": p["o1_spacing_nm"],
            "n_range_nm": _layer_n_range(lat, p["o1_gaps"][0], p["o1_gaps"][1] + 1),
            "area_fraction": float(np.mean(labels == 2)),
            "labels": gaps.loc[o1.index, ["gap", "label", "shift", "spacing_nm"]].to_dict(
                "records"
            ),
        },
        "ripple": {
            **rip,
            "centre_x_px": s0_xy[0] / ps + (w - 1) / 2,
            "centre_y_px": s0_xy[1] / ps + (h - 1) / 2,
            "peak_layer": k_peak,
            "max_abs_curvature_per_nm": float(
                abs(fields.ripple_curvature(rip["s0_nm"], a_peak, rip["width_nm"], rip["s0_nm"]))
            ),
            "curvature_at_s0_per_nm": float(
                fields.ripple_curvature(rip["s0_nm"], a_peak, rip["width_nm"], rip["s0_nm"])
            ),
            "note": "layer k displaced along n by A_k exp(-(s - s0)^2 / (2 w^2)), "
            "A_k = A exp(-(n_k - n0)^2 / (2 depth^2)); curvature = -A_k/w^2 at s = s0 "
            "(concave towards -n), largest on the layer nearest n0 at (centre_x_px, "
            "centre_y_px)",
        },
        "reference_region_px": box,
        "label_fractions": {"O3": float(np.mean(labels == 1)), "O1": float(np.mean(labels == 2))},
        "n_tm_columns_inside": int(len(tm)),
        "strain_maps": "truth/haadf_layered_oxide_strain.npz (every 4 px; exx, eyy, exy, "
        "rotation, dilatation, e_tt, e_nn, e_nt; API.md conventions)",
    }
    (truth_dir / "haadf_layered_oxide.json").write_text(json.dumps(truth, indent=1) + "\n")
    return [img_path, truth_dir / "haadf_layered_oxide.json"]


# ---------------------------------------------------------------- (b) 4D-STEM
FOURD = {
    "scan_shape": [24, 24],
    "detector_shape": [96, 96],
    "seed": 20261127,
    "scan_step_nm": 0.5,
    # detector px in 1/nm chosen so that |g1| = 21 px is LiCoO2's in-plane g(100) = 2/(sqrt(3) a),
    # a = 0.2816 nm -> 4.100 1/nm
    "g_length_px": 21.0,
    "g_length_per_nm": 2.0 / (np.sqrt(3.0) * 0.2816),
    "beam_energy_kV": 200.0,
}


def make_fourd(out: Path) -> list[Path]:
    """Write (b): the 4D-STEM cube (.hspy), its vacuum probe (.npy) and truth."""
    try:
        mod = importlib.import_module("stemstrain.synthetic._fourd")
    except ImportError as exc:
        print(f"skip 4D-STEM sample: stemstrain.synthetic._fourd not available ({exc})")
        return []
    import hyperspy.api as hs

    p = FOURD
    cube, probe, truth = mod.fourd_dataset(
        tuple(p["scan_shape"]),
        tuple(p["detector_shape"]),
        g_length_px=p["g_length_px"],
        seed=p["seed"],
    )
    q_px = p["g_length_per_nm"] / p["g_length_px"]
    sig = hs.signals.Signal2D(cube)
    names = ("y", "x", "ky", "kx")
    for ax, name in zip(sig.axes_manager._axes, names, strict=True):
        ax.name = name
        if ax.navigate:
            ax.units, ax.scale = "nm", p["scan_step_nm"]
        else:
            ax.units, ax.scale = "1/nm", q_px
            ax.offset = -q_px * (ax.size - 1) / 2.0
    sig.metadata.General.title = "4D-STEM (synthetic)"
    sig.metadata.set_item("Acquisition_instrument.TEM.beam_energy", p["beam_energy_kV"])
    from stemstrain.io import electron_wavelength_nm

    conv_mrad = float(truth["radius"]) * q_px * electron_wavelength_nm(p["beam_energy_kV"]) * 1e3
    sig.metadata.set_item("Acquisition_instrument.TEM.convergence_angle", conv_mrad)
    path = out / "fourd_strain.hspy"
    sig.save(path, overwrite=True)
    np.save(out / "fourd_probe.npy", np.asarray(probe, np.float32))
    truth_dir = out / "truth"
    truth_dir.mkdir(exist_ok=True)
    arrays = {k: np.asarray(v) for k, v in truth.items() if isinstance(v, np.ndarray)}
    np.savez_compressed(truth_dir / "fourd_strain.npz", **arrays)
    meta = {
        "file": path.name,
        "probe": "fourd_probe.npy",
        "parameters": p,
        "q_pixel_size_per_nm": q_px,
        "convergence_angle_mrad": conv_mrad,
        "disk_radius_px": float(truth["radius"]),
        "g0_px": np.asarray(truth["g0"]).tolist(),
        "reference": "left quarter of the scan (truth npz 'reference_mask'), zero strain",
        "maps": "truth/fourd_strain.npz: exx, eyy, exy, rotation (scan shape, API.md signs), "
        "gradient, g_det, origin, peaks, hk, reference_mask",
        "max_abs": {k: float(np.abs(truth[k]).max()) for k in ("exx", "eyy", "exy", "rotation")},
    }
    (truth_dir / "fourd_strain.json").write_text(json.dumps(meta, indent=1) + "\n")
    return [path, out / "fourd_probe.npy"]


# ---------------------------------------------------------------- (c) EELS
EELS = {"n_positions": 40, "tm": "Co", "white_lines": True, "seed": 20261127}


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return (
            [
                None if (isinstance(v, float) and not np.isfinite(v)) else v
                for v in value.astype(float).tolist()
            ]
            if value.ndim == 1
            else None
        )
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return None


def make_eels(out: Path) -> list[Path]:
    """Write (c): the EELS line scan and its O/Co truth."""
    try:
        mod = importlib.import_module("stemstrain.synthetic._eels")
    except ImportError as exc:
        print(f"skip EELS sample: stemstrain.synthetic._eels not available ({exc})")
        return []
    p = EELS
    sig, truth = mod.eels_linescan(
        p["n_positions"], tm=p["tm"], white_lines=p["white_lines"], seed=p["seed"]
    )
    sig.metadata.General.title = "EELS line scan (synthetic, O K + Co L2,3)"
    path = out / "eels_linescan.hspy"
    sig.save(path, overwrite=True)
    truth_dir = out / "truth"
    truth_dir.mkdir(exist_ok=True)
    keep = {
        k: _jsonable(v)
        for k, v in truth.items()
        if k not in ("expected", "low_loss") and _jsonable(v) is not None
    }
    meta = {
        "file": path.name,
        "parameters": p,
        "truth": keep,
        "note": "ratio = O/Co atomic ratio per position (null in vacuum); distance_nm from "
        "the surface (negative in vacuum)",
    }
    (truth_dir / "eels_linescan.json").write_text(json.dumps(meta, indent=1) + "\n")
    return [path]


MAKERS = {"haadf": make_haadf, "fourd": make_fourd, "eels": make_eels}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(MAKERS), help="comma list of haadf,fourd,eels")
    parser.add_argument("--out", default=str(HERE), help="output folder (default: sample_data/)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="Importing .* is deprecated")  # hyperspy
        for name in args.only.split(","):
            for path in MAKERS[name.strip()](out):
                print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file() and f.suffix != ".py")
    print(f"sample data total: {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
