"""Reader of EMD 1.0 files (the HDF5 layout py4DSTEM 0.14 / emdfile write).

Read directly with h5py (read-only) rather than through ``py4DSTEM.read``: it needs
no 6 s py4DSTEM import and supports ``lazy=True`` (a dask array over the HDF5
dataset). Layout: groups with attribute ``emd_group_type == "array"`` hold ``data``
and one ``dim<i>`` vector per axis (attributes ``name``, ``units``; the first two
values give offset and step). py4DSTEM orders a DataCube ``(Rx, Ry, Qx, Qy)``; the
array order is kept and the axes keep py4DSTEM's names. The test suite checks this
reader against ``py4DSTEM.read`` on a file written by ``py4DSTEM.save``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptFileError

__all__ = ["read_emd1"]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def _array_groups(h5: Any) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []

    def visit(name: str, obj: Any) -> None:
        if hasattr(obj, "keys") and _text(obj.attrs.get("emd_group_type", "")) == "array":
            if "data" in obj:
                found.append((name, obj))

    h5.visititems(visit)
    return found


def _axis_dict(group: Any, i: int, size: int) -> dict:
    dim = group.get(f"dim{i}")
    axis = {
        "size": size,
        "scale": 1.0,
        "offset": 0.0,
        "name": f"dim{i}",
        "units": "<undefined>",
        "navigate": False,
    }
    if dim is None:
        return axis
    vec = np.asarray(dim[()], dtype=float).ravel()
    if vec.size >= 2:
        axis["offset"], axis["scale"] = float(vec[0]), float(vec[1] - vec[0])
    elif vec.size == 1:
        axis["offset"] = float(vec[0])
    axis["name"] = _text(dim.attrs.get("name", axis["name"]))
    axis["units"] = _text(dim.attrs.get("units", axis["units"]))
    return axis


def read_emd1(path: Path, *, lazy: bool) -> list[Any]:
    """Every array of an EMD 1.0 file as a HyperSpy signal (largest first).

    Parameters
    ----------
    path : Path
        The .h5/.emd file.
    lazy : bool
        Return dask-backed signals that read on demand (the file stays open read-only).

    Returns
    -------
    list of Signal1D/Signal2D
    """
    import h5py
    import hyperspy.api as hs

    h5 = h5py.File(path, "r")
    groups = _array_groups(h5)
    if not groups:
        h5.close()
        raise CorruptFileError(
            f"{path}: EMD 1.0 file holds no array (no group with "
            "emd_group_type='array' and a 'data' dataset)"
        )
    signals = []
    for name, group in groups:
        dset = group["data"]
        data: Any
        if lazy:
            import dask.array as da

            data = da.from_array(dset, chunks="auto")
        else:
            data = dset[()]
        ndim = data.ndim
        n_sig = 1 if ndim == 1 else 2
        axes = [_axis_dict(group, i, data.shape[i]) for i in range(ndim)]
        for i, ax in enumerate(axes):
            ax["navigate"] = i < ndim - n_sig
        cls = hs.signals.Signal1D if n_sig == 1 else hs.signals.Signal2D
        sig = cls(data, axes=axes)
        if lazy:
            sig = sig.as_lazy()
        sig.metadata.General.title = name.split("/")[-1]
        sig.metadata.General.original_filename = path.name
        signals.append(sig)
    if not lazy:
        h5.close()
    signals.sort(key=lambda s: -int(np.prod(s.data.shape)))
    return signals
