# stemstrain: two commands on a fresh clone.
#   make demo  - set up .venv and run the main job on the sample data
#   make test  - set up .venv and run the tests
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test setup bench lint docs clean system-deps

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q -e ".[napari,test,bench]"
	touch $(STAMP)

setup: $(STAMP)

system-deps:
	@bash .ci/system-deps.sh

demo: setup
	$(VENV)/bin/stemstrain demo --out demo_results

LINT_PATHS := stemstrain plugins tests benchmarks sample_data docs

# the gates, in order: lint (unused noqa included), format, the docstring examples, the tests
test: setup system-deps
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(PY) -m pytest -q -p no:cacheprovider --doctest-modules stemstrain
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: setup
	$(PY) benchmarks/run_all.py

lint: setup
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

DOCS_STAMP := $(VENV)/.docs-stamp
$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install -q -e ".[docs]"
	touch $(DOCS_STAMP)

# API reference (numpydoc) + example gallery (sphinx-gallery, run on sample_data), warnings are errors
docs: $(DOCS_STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

clean:
	rm -rf $(VENV) demo_results .pytest_cache docs/_build docs/generated docs/auto_examples
