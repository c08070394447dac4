"""The five analysis dock widgets of the stemstrain napari plugin."""

from ._eels import EELSWidget
from ._fourd import FourDWidget
from ._gpa import GPAWidget
from ._lattice import ColumnsWidget, StackingWidget

__all__ = ["GPAWidget", "ColumnsWidget", "StackingWidget", "EELSWidget", "FourDWidget"]
