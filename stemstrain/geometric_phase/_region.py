"""The region convention lives in :mod:`stemstrain._regions` (shared by every sub-package)."""

from .._regions import parse_region, region_box

__all__ = ["parse_region", "region_box"]
