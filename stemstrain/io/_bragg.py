"""Read and write py4DSTEM Bragg-vector files (EMD 0.13 and EMD 1.0) with plain h5py.

* EMD 0.13 (py4DSTEM 0.13): root ``4DSTEM`` (``version_major = 0``) holding groups with
  ``py4dstem_class = PointListArray``; each ``data`` dataset is an object array of the scan
  shape whose entries are structured arrays ``(qx, qy, intensity)``. Groups named
  ``*_cal*`` are calibrated (1/Å, centred on the (000) beam); others are detector pixels.
* EMD 1.0 (py4DSTEM 0.14, emdfile): a group with ``python_class = BraggVectors`` holding
  ``_v_uncal/data`` (detector px) and, in the root's ``metadatabundle/calibration``,
  ``Q_pixel_size``/``Q_pixel_units`` and the origin ``qx0_mean``/``qy0_mean`` when set;
  or a bare ``PointListArray`` group.

py4DSTEM's ``qx`` is the detector row: ``BraggVectors.x = qy`` and ``BraggVectors.y = qx``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFileError

__all__ = ["is_bragg_file", "read_bragg", "write_emd1"]

_INV_ANGSTROM = {
    "a^-1": 10.0,
    "a-1": 10.0,
    "1/a": 10.0,
    "å^-1": 10.0,
    "1/å": 10.0,
    "nm^-1": 1.0,
    "1/nm": 1.0,
}


def _attr(obj: Any, key: str, default: Any = None) -> Any:
    v = obj.attrs.get(key, default)
    return v.decode() if isinstance(v, bytes) else v


def _find_groups(h5: Any) -> list[tuple[str, str]]:
    """(path, kind) of every Bragg-vector group: kind "bv1", "pla1" or "pla13"."""
    found: list[tuple[str, str]] = []

    def visit(name: str, obj: Any) -> None:
        if not hasattr(obj, "keys"):
            return
        if _attr(obj, "python_class") == "BraggVectors" and "_v_uncal" in obj:
            found.append((name, "bv1"))
        elif _attr(obj, "py4dstem_class") == "PointListArray" and "data" in obj:
            found.append((name, "pla13"))
        elif (
            _attr(obj, "python_class") == "PointListArray"
            and "data" in obj
            and "/_v_uncal" not in f"/{name}"
            and not name.endswith("_v_uncal")
        ):
            found.append((name, "pla1"))

    h5.visititems(visit)
    return found


def is_bragg_file(path: str | os.PathLike) -> bool:
    """Tell whether an HDF5 file holds py4DSTEM Bragg vectors (and no other data)."""
    p = Path(path)
    if p.suffix.lower() not in (".h5", ".hdf5", ".emd"):
        return False
    try:
        import h5py

        with h5py.File(p, "r") as h5:
            if not any(
                _attr(h5[k], "emd_group_type") == "root" for k in h5 if hasattr(h5[k], "keys")
            ):
                return False
            return bool(_find_groups(h5))
    except (OSError, KeyError):
        return False


def _read_pla(ds: Any) -> tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    arr = ds[()]
    if arr.ndim != 2:
        raise CorruptFileError(
            f"Bragg vectors {ds.name}: expected a 2-D scan of point lists, got shape {arr.shape}"
        )
    flat = arr.ravel()
    counts = np.fromiter((len(p) for p in flat), dtype=np.int64, count=len(flat))
    allp = np.concatenate(list(flat)) if counts.sum() else np.zeros(0, flat[0].dtype)
    names = allp.dtype.names or ()
    if not {"qx", "qy", "intensity"} <= set(names):
        raise CorruptFileError(f"Bragg vectors {ds.name}: fields {names}, need qx, qy, intensity")
    off = np.concatenate([[0], np.cumsum(counts)])
    return (
        arr.shape,
        allp["qy"].astype(float),
        allp["qx"].astype(float),
        allp["intensity"].astype(float),
        off,
    )


def _calibration(h5: Any, path: str) -> dict:
    """py4DSTEM calibration (EMD 1.0) of the root holding ``path``."""
    root = path.split("/")[0]
    cal = h5.get(f"{root}/metadatabundle/calibration")
    out: dict = {}
    if cal is None:
        return out
    for key in ("Q_pixel_size", "Q_pixel_units", "qx0_mean", "qy0_mean"):
        if key in cal:
            v = cal[key][()]
            out[key] = v.decode() if isinstance(v, bytes) else v
    return out


def read_bragg(path: str | os.PathLike, *, group: str | None = None) -> Any:
    """Read the Bragg vectors of a py4DSTEM file into a ``BraggVectors``.

    Parameters
    ----------
    path : path-like
        EMD 0.13 or 1.0 HDF5 file.
    group : str, optional
        HDF5 path of the group to read (default: the first calibrated one, else the first).

    Returns
    -------
    stemstrain.fourd.BraggVectors
    """
    import h5py

    from ..fourd._bragg import BraggVectors

    p = Path(path)
    with h5py.File(p, "r") as h5:
        found = _find_groups(h5)
        if group is not None:
            found = [f for f in found if f[0] == group.strip("/")]
        if not found:
            raise CorruptFileError(
                f"{p.name}: no py4DSTEM Bragg-vector group" + (f" named {group!r}" if group else "")
            )
        found.sort(key=lambda f: ("_cal" not in f[0].rsplit("/", 1)[-1], f[0]))
        name, kind = found[0]
        sub = h5[name]
        if kind == "bv1":
            shape, x, y, inten, off = _read_pla(sub["_v_uncal/data"])
        else:
            shape, x, y, inten, off = _read_pla(sub["data"])
        units, origin, recip = "px", None, None
        if kind == "pla13" and "_cal" in name.rsplit("/", 1)[-1]:
            units, origin = "1/nm", (0.0, 0.0)
            x, y = x * 10.0, y * 10.0  # 1/Å → 1/nm
        elif kind in ("pla1", "bv1"):
            cal = _calibration(h5, name)
            factor = _INV_ANGSTROM.get(str(cal.get("Q_pixel_units", "")).strip().lower())
            if factor and "Q_pixel_size" in cal:
                recip = float(cal["Q_pixel_size"]) * factor
            if kind == "pla1" and _attr(sub, "units"):
                f = _INV_ANGSTROM.get(str(_attr(sub, "units")).strip().lower())
                if f:
                    units, origin, recip = "1/nm", (0.0, 0.0), None
                    x, y = x * f, y * f
            if "qx0_mean" in cal and "qy0_mean" in cal and units == "px":
                origin = (float(cal["qy0_mean"]), float(cal["qx0_mean"]))
    return BraggVectors(
        shape,
        x,
        y,
        inten,
        off,
        units=units,
        origin=origin,
        reciprocal_pixel_size=recip,
        source=f"{p.name}:/{name}",
    )


def _vlen_points(bv: Any, scale: float) -> np.ndarray:
    import h5py

    dt = np.dtype([("qx", "<f8"), ("qy", "<f8"), ("intensity", "<f8")])
    out = np.empty(bv.scan_shape, dtype=h5py.vlen_dtype(dt))
    flat = out.reshape(-1)
    rec = np.empty(len(bv.x), dtype=dt)
    rec["qx"], rec["qy"], rec["intensity"] = bv.y * scale, bv.x * scale, bv.intensity
    for i in range(bv.n_positions):  # one record array per position (HDF5 vlen layout)
        flat[i] = rec[bv.offsets[i] : bv.offsets[i + 1]]
    return out


def _item(group: Any, key: str, value: Any, kind: str) -> None:
    """One emdfile ``Metadata`` item (a dataset with its ``type`` attribute)."""
    group.create_dataset(key, data=value).attrs["type"] = kind


def write_emd1(bv: Any, path: str | os.PathLike) -> Path:
    """Write ``bv`` as an EMD 1.0 file (py4DSTEM/emdfile layout); returns the path.

    Detector-pixel vectors go into a ``BraggVectors`` group (``_v_uncal``) with the pixel
    size (1/Å) and origin in the root calibration; calibrated vectors into a
    ``PointListArray`` group ``braggpeaks_cal`` in 1/Å (``units`` attribute).
    """
    import h5py

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(p, "w") as h5:
        h5.attrs.update(
            {
                "emd_group_type": "file",
                "version_major": 1,
                "version_minor": 0,
                "authoring_program": "stemstrain",
                "authoring_user": "",
                "UUID": str(uuid.uuid4()),
            }
        )
        root = h5.create_group("braggvectors_root")
        root.attrs.update({"emd_group_type": "root", "python_class": "Root"})
        cal = root.create_group("metadatabundle").create_group("calibration")
        cal.attrs.update({"emd_group_type": "metadata", "python_class": "Calibration"})
        if bv.units == "px":
            grp = root.create_group("braggvectors")
            grp.attrs.update({"emd_group_type": "custom", "python_class": "BraggVectors"})
            pla = grp.create_group("_v_uncal")
            pla.attrs.update(
                {"emd_group_type": "custom_pointlistarray", "python_class": "PointListArray"}
            )
            pla.create_dataset("data", data=_vlen_points(bv, 1.0))
            if bv.reciprocal_pixel_size is not None:
                _item(cal, "Q_pixel_size", bv.reciprocal_pixel_size / 10.0, "number")
                _item(cal, "Q_pixel_units", "A^-1", "string")
            if bv.origin is not None:
                _item(cal, "qx0_mean", float(bv.origin[1]), "number")
                _item(cal, "qy0_mean", float(bv.origin[0]), "number")
            shapes = grp.create_group("metadatabundle").create_group("_braggvectors_shape")
            shapes.attrs.update({"emd_group_type": "metadata", "python_class": "Metadata"})
            _item(shapes, "Rshape", np.asarray(bv.scan_shape), "tuple")
            q = [int(np.ceil(np.max(v, initial=0.0))) + 1 for v in (bv.y, bv.x)]
            _item(shapes, "Qshape", np.asarray(q), "tuple")
        else:
            ox, oy = bv.origin if bv.origin is not None else (0.0, 0.0)
            centred = type(bv)(
                bv.scan_shape, bv.x - ox, bv.y - oy, bv.intensity, bv.offsets, units=bv.units
            )
            pla = root.create_group("braggpeaks_cal")
            pla.attrs.update(
                {
                    "emd_group_type": "pointlistarray",
                    "python_class": "PointListArray",
                    "units": "A^-1",
                }
            )
            pla.create_dataset("data", data=_vlen_points(centred, 0.1))  # 1/nm → 1/Å
    return p
