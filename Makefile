# Two commands on a fresh machine: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The headline comparison (conf/experiment/headline.yaml): vanilla REA vs REA + GradSign (N = 10) on
# nb201/cifar10, 500 paired runs each, from the NB201 table and GradSign scores shipped in the package
# (NASEARCH_DATA, when set, overrides the table). Extra overrides: make run RUN_ARGS='runs=100'.
RUN_ARGS ?=

.PHONY: run test bench lint setup clean

setup: $(STAMP)

# torch==2.13.0 first (a CPU build on this machine's disk); a bare `torch` requirement installed
# first would pull a multi-GB CUDA build. The package's own range admits 2.13.0, so nothing more comes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,ray,launchers]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/nasearch experiment=headline $(RUN_ARGS)

test: $(STAMP)
	$(VENV)/bin/ruff check nasearch tests bench
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n 2 --dist worksteal -q --durations=15 $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run_bench.py $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check nasearch tests bench

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
