"""Readers: microscope files -> calibrated HyperSpy signals (API.md ``ss.load``).

* :func:`load` - read a file (RosettaSciIO/HyperSpy, an h5py reader of py4DSTEM's EMD 1.0,
  NumPy, two-column EELS text, py4DSTEM for K2), decide its kind and normalise units
  (nm, 1/nm, eV). Missing calibration is warned about once and recorded.
* :func:`describe` / :func:`format_description` - what ``stemstrain info`` prints.
* :func:`detect_kind`, :func:`pick_primary`, :data:`SUPPORTED_EXTENSIONS`, :data:`KINDS`.
* :func:`check_decoded_size`, :func:`check_values` - the input guards (size before
  reading, NaN/inf/constant values) the batch applies before an analysis.
* :data:`ALL_EXTENSIONS` - every extension ``load`` accepts (sorted); the one list the
  batch discovery and the napari plugin (reader and manifest, checked by a test) use.
* :class:`BraggVectors` - the peaks per scan position that ``load`` returns for a py4DSTEM
  Bragg-vector file and :meth:`BraggVectors.save` writes (EMD 1.0); the same class as
  ``stemstrain.fourd.BraggVectors``: this package owns the object and its file format.

HyperSpy and friends are imported inside the functions, so importing this package is light.
"""

from __future__ import annotations

from .._units import unit_factor
from ._bragg import BraggVectors
from ._describe import describe, format_description
from ._guards import check_decoded_size, check_values
from ._load import KINDS, detect_kind, load, pick_primary
from ._readers import ALL_EXTENSIONS, SUPPORTED_EXTENSIONS, TEXT_EXTENSIONS
from ._units import electron_wavelength_nm

__all__ = [
    "load",
    "describe",
    "format_description",
    "detect_kind",
    "pick_primary",
    "KINDS",
    "SUPPORTED_EXTENSIONS",
    "ALL_EXTENSIONS",
    "TEXT_EXTENSIONS",
    "check_decoded_size",
    "check_values",
    "unit_factor",
    "electron_wavelength_nm",
    "BraggVectors",
]
