# Two commands are all the set-up there is: `make run` and `make test`.
# Both create .venv and install the package on first use (and again whenever
# pyproject.toml changes).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
# The benchmarks' peers (statsforecast, Glances) pin older libraries (statsforecast
# holds pandas below 3), so they get their own environment: `make bench` never
# changes what `make test` runs on.
BVENV  ?= .venv-bench
BPY    := $(BVENV)/bin/python
BSTAMP := $(BVENV)/.installed-bench

.PHONY: run test bench lint venv clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Workbench needs Python >= 3.11; found " + sys.version.split()[0] + ". Set PYTHON=/path/to/python3.11 and retry.")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(BSTAMP): pyproject.toml
	@test -x $(BPY) || $(PYTHON) -m venv $(BVENV)
	$(BPY) -m pip install --quiet --upgrade pip
	$(BPY) -m pip install --quiet -e '.[bench]'
	@touch $(BSTAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/workbench agent $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(BSTAMP)
	$(BPY) benchmarks/run_all.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check workbench tests benchmarks

clean:
	rm -rf $(VENV) $(BVENV) build *.egg-info .pytest_cache
