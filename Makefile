# stemstrain: two commands on a fresh clone.
#   make demo  - set up .venv and run the main job on the sample data
#   make test  - set up .venv and run the tests
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test setup bench lint clean system-deps

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

test: setup system-deps
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: setup
	$(PY) benchmarks/run_all.py

lint: setup
	$(VENV)/bin/ruff check stemstrain plugins

clean:
	rm -rf $(VENV) demo_results .pytest_cache
