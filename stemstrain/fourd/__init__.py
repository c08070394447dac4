"""4D-STEM (nanobeam diffraction) strain and rotation maps.

* :func:`fourd_strain` - strain/rotation maps over the scan from a 4-D dataset (arrays,
  memmaps, Dask, HyperSpy, py4DSTEM), chunk by chunk.
* :func:`fourd_probe` - the vacuum probe ``fourd_strain`` uses (given, vacuum mean or
  synthesised from the (000) disk of the mean pattern).
* :func:`find_disks` - batched Bragg-disk detection (probe-kernel FFT correlation).
* :class:`DiskDetection`, :class:`DetectorGeometry` - grouped detection and detector
  settings (``detection=``, ``geometry=``).
* :func:`choose_basis` - primitive reciprocal basis from a set of disks.
* :class:`BraggVectors` - peaks per scan position (py4DSTEM files, ``find_disks``); defined
  with its file format in :mod:`stemstrain.io` (``fourd`` imports it from there).
* :func:`fourd_phases` - phase/orientation/lattice-parameter maps from CIFs (kinematic
  template matching); :func:`phase_fractions`.
* :func:`calibrate_detector` - ellipticity, rotation, pixel size from a standard.
* :func:`measure_detector_rotation` - detector-to-scan rotation/flip from the (000) disk
  deflection (curl-free condition).
"""

from ..io import BraggVectors
from ._calibrate import measure_detector_rotation
from ._core import (
    FourDStrainResult,
    detector_to_scan_matrix,
    find_disks,
    fourd_probe,
    fourd_strain,
)
from ._detector import calibrate_detector
from ._disks import make_kernel
from ._lattice import choose_basis, gauss_reduce
from ._phases import FourDPhasesResult, PhaseLibrary, fourd_phases, phase_fractions
from ._settings import DetectorGeometry, DiskDetection

__all__ = [
    "fourd_strain",
    "fourd_probe",
    "FourDStrainResult",
    "find_disks",
    "DiskDetection",
    "DetectorGeometry",
    "choose_basis",
    "gauss_reduce",
    "make_kernel",
    "detector_to_scan_matrix",
    "measure_detector_rotation",
    "BraggVectors",
    "fourd_phases",
    "FourDPhasesResult",
    "PhaseLibrary",
    "phase_fractions",
    "calibrate_detector",
]
