"""Grouped settings of :func:`~stemstrain.fourd.fourd_strain` and ``find_disks``.

``DiskDetection`` holds how Bragg disks are found (kernel, correlation, sub-pixel, batch
size); ``DetectorGeometry`` holds how the detector maps onto the scan frame. Both are
frozen and validated on construction, so a bad value fails before the long pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import StemstrainError
from ._disks import SUBPIXEL_METHODS

__all__ = ["DiskDetection", "DetectorGeometry", "detector_to_scan_matrix"]

KERNEL_KINDS = ("ring", "flat")


@dataclass(frozen=True)
class DiskDetection:
    """Bragg-disk detection settings (batched probe-kernel FFT correlation).

    Parameters
    ----------
    subpixel : {"quadratic", "poly", "gaussian", "none"}
        Sub-pixel refinement of the correlation peaks.
    corr_power : float
        1 cross, 0 phase, between hybrid correlation.
    kernel : {"ring", "flat"}
        Probe kernel (see :func:`~stemstrain.fourd.make_kernel`).
    sigma_cc_px : float
        Gaussian smoothing of the correlation, px.
    min_relative_intensity : float
        Disks weaker than this fraction of the strongest are ignored.
    max_peaks : int
        Disks kept per pattern (>= 3).
    batch_patterns : int
        Patterns per batch (memory ≈ 12 bytes × batch × det_y × det_x).
    n_basis_samples : int
        Scan positions averaged for the basis choice (``fourd_strain`` only).

    Raises
    ------
    StemstrainError
        A value out of range; the message names the field.

    Examples
    --------
    >>> DiskDetection(subpixel="poly", max_peaks=32).max_peaks
    32
    """

    subpixel: str = "quadratic"
    corr_power: float = 1.0
    kernel: str = "ring"
    sigma_cc_px: float = 2.0
    min_relative_intensity: float = 0.005
    max_peaks: int = 64
    batch_patterns: int = 256
    n_basis_samples: int = 256

    def __post_init__(self) -> None:
        """Validate every field (the message names the field)."""
        if self.subpixel not in SUBPIXEL_METHODS:
            raise StemstrainError(
                f"subpixel must be one of {SUBPIXEL_METHODS}, got {self.subpixel!r}"
            )
        if not 0 <= float(self.corr_power) <= 1:
            raise StemstrainError(f"corr_power must be in [0, 1], got {self.corr_power!r}")
        if self.kernel not in KERNEL_KINDS:
            raise StemstrainError(f"kernel must be 'ring' or 'flat', got {self.kernel!r}")
        if int(self.max_peaks) < 3:
            raise StemstrainError(f"max_peaks must be >= 3, got {self.max_peaks!r}")
        for name in ("batch_patterns", "n_basis_samples"):
            if int(getattr(self, name)) < 1:
                raise StemstrainError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("max_peaks", "batch_patterns", "n_basis_samples"):  # counts are ints
            object.__setattr__(self, name, int(getattr(self, name)))

    def detect_kw(self) -> dict[str, Any]:
        """Keyword arguments of ``_disks.detect_batch`` (normalised types)."""
        return {
            "subpixel": self.subpixel,
            "corr_power": float(self.corr_power),
            "min_relative_intensity": float(self.min_relative_intensity),
            "max_peaks": int(self.max_peaks),
        }


def detector_to_scan_matrix(
    rotation_deg: float = 0.0, flip: bool = False, ellipse: Any = None
) -> np.ndarray:
    """2×2 matrix taking a detector vector (x, y) to the scan frame.

    The elliptical distortion is removed first (``ellipse=(a, b, theta_deg)``: circles
    appear as ellipses with semi-axis ``a`` along ``theta_deg`` (from +x towards +y) and
    ``b`` across; they are mapped back onto circles of radius ``a``), then the detector
    (x, y) is swapped when ``flip`` (a transpose of the pattern), then rotated by
    ``rotation_deg`` (counter-clockwise in x-right/y-up maths convention).
    """
    t = np.deg2rad(float(rotation_deg))
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    swap = np.array([[0.0, 1.0], [1.0, 0.0]]) if flip else np.eye(2)
    undistort = np.eye(2)
    if ellipse is not None:
        try:
            a, b, theta = (float(v) for v in ellipse)
        except (TypeError, ValueError):
            raise StemstrainError(
                f"ellipse must be (a, b, theta_deg) or None, got {ellipse!r}"
            ) from None
        if not (a > 0 and b > 0):
            raise StemstrainError(f"ellipse semi-axes must be > 0, got a={a!r}, b={b!r}")
        c, s = np.cos(np.deg2rad(theta)), np.sin(np.deg2rad(theta))
        r = np.array([[c, -s], [s, c]])
        undistort = r @ np.diag([1.0, a / b]) @ r.T
    return rot @ swap @ undistort


@dataclass(frozen=True)
class DetectorGeometry:
    """Detector-to-scan geometry and detector calibration.

    Parameters
    ----------
    detector_rotation_deg : float
        Rotation of the detector relative to the scan, degrees (counter-clockwise).
    detector_flip : bool
        Detector (x, y) swapped (a transposed pattern), applied before the rotation.
    ellipse : (a, b, theta_deg), optional
        Elliptical distortion of the patterns, removed before the strain is computed
        (see :func:`detector_to_scan_matrix`).
    reciprocal_pixel_size : float, optional
        Detector pixel in 1/nm; overrides the calibration of a signal.

    Raises
    ------
    StemstrainError
        A malformed ``ellipse`` or a non-positive ``reciprocal_pixel_size``.

    Examples
    --------
    >>> DetectorGeometry(detector_rotation_deg=90.0).matrix().round(6).tolist()
    [[0.0, -1.0], [1.0, 0.0]]
    """

    detector_rotation_deg: float = 0.0
    detector_flip: bool = False
    ellipse: Any = None
    reciprocal_pixel_size: float | None = None

    def __post_init__(self) -> None:
        """Validate the fields (the message names the field)."""
        try:
            float(self.detector_rotation_deg)
        except (TypeError, ValueError):
            raise StemstrainError(
                f"detector_rotation_deg must be a number, got {self.detector_rotation_deg!r}"
            ) from None
        if not isinstance(self.detector_flip, (bool, np.bool_)):
            raise StemstrainError(
                f"detector_flip must be True or False, got {self.detector_flip!r}"
            )
        self.matrix()  # validates ellipse
        rp = self.reciprocal_pixel_size
        if rp is not None and not (isinstance(rp, (int, float, np.number)) and rp > 0):
            raise StemstrainError(f"reciprocal_pixel_size must be > 0 (1/nm) or None, got {rp!r}")

    def matrix(self) -> np.ndarray:
        """2×2 detector → scan matrix (:func:`detector_to_scan_matrix`)."""
        return detector_to_scan_matrix(self.detector_rotation_deg, self.detector_flip, self.ellipse)
