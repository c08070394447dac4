"""Errors a user can cause.

Every error that comes from bad input (a file, an array, a parameter) is a
:class:`StemstrainError`. It subclasses :class:`ValueError`, so code that
catches ``ValueError`` keeps working. The message is one line that names the
input and the problem, and says what to change where there is a fix.
"""

from __future__ import annotations

__all__ = [
    "StemstrainError",
    "UnsupportedFormatError",
    "CorruptFileError",
    "CalibrationError",
    "InputShapeError",
    "NoLatticeError",
    "NotLayeredError",
    "ConfigError",
    "DataValueError",
]


class StemstrainError(ValueError):
    """Base class of every error a user can cause."""

    def __init__(self, message: str) -> None:
        # Keep the message on one line: the CLI prints it as is.
        super().__init__(" ".join(str(message).split()))


class UnsupportedFormatError(StemstrainError):
    """The file's format is not one stemstrain reads."""


class CorruptFileError(StemstrainError):
    """The file has a known extension but cannot be parsed (truncated, random bytes, empty)."""


class CalibrationError(StemstrainError):
    """A calibration (pixel size, energy axis) is missing or unusable."""


class InputShapeError(StemstrainError):
    """An array has the wrong number of dimensions or the wrong size."""


class NoLatticeError(StemstrainError):
    """No crystal lattice (Bragg peaks, atom columns, disks) could be found."""


class NotLayeredError(NoLatticeError):
    """A lattice was found but it is not a layered one: a layered-oxide analysis does not apply."""


class ConfigError(StemstrainError):
    """A configuration file or option is invalid."""


class DataValueError(InputShapeError):
    """The data values cannot be analysed (all NaN, constant such as all zero, none positive)."""
