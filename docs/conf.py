"""Sphinx configuration: API reference from the numpydoc docstrings + a sphinx-gallery of examples.

Built by ``make docs`` (``sphinx-build -W --keep-going -b html docs docs/_build/html``): warnings
are errors.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

import stemstrain

project = "stemstrain"
author = "the stemstrain developers"
copyright = "2026, the stemstrain developers"
release = stemstrain.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

# only the reStructuredText sources are part of the site; engineering notes stay markdown on GitHub
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build", "notes", "screenshots", "examples/README.txt", "API.md", "STYLE.md"]
root_doc = "index"

autosummary_generate = True
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "run_stale_examples": True,
    "within_subsection_order": "FileNameSortKey",
}

html_theme = "alabaster"
html_static_path = []
nitpicky = False
suppress_warnings = ["config.cache"]
