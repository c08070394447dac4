"""napari plugin for stemstrain: readers, sample data and analysis widgets.

The plugin holds no analysis code: every widget calls the public functions of
:mod:`stemstrain` (the same calls a notebook makes) and only turns their results
into napari layers. Importing this package is light; napari, Qt and HyperSpy are
imported by the contributions when napari calls them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
