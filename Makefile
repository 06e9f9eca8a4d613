# Two commands are all the set-up there is: `make run` and `make test`.
# (`make test` also installs Debian's chromium for the browser tests if missing.)
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

# The agent and the dashboard together (demo data loaded on the first run);
# Ctrl-C stops both. `make run ARGS="--port 9000"` passes options to `workbench up`.
run: $(STAMP)
	$(VENV)/bin/workbench up $(ARGS)

test: $(STAMP)
	@test -n "$$WORKBENCH_CHROMIUM" || scripts/ensure-chromium
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(BSTAMP)
	$(BPY) benchmarks/run_all.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check workbench tests benchmarks

clean:
	rm -rf $(VENV) $(BVENV) build *.egg-info .pytest_cache
