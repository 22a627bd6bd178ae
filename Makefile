# City Twin: `make run` builds the Helsinki twin and serves it; `make test` runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first Python >= 3.12 found (pygeoapi >= 0.22 needs it).
PYTHON ?= $(shell for p in python3.14 python3.13 python3.12 /root/.pyenv/versions/3.12.1/bin/python3 python3; do \
  if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
    command -v $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= var/helsinki.gpkg

.PHONY: help run test lint bench clean

help:
	@echo "make run    build the Helsinki twin (once) and serve it"
	@echo "make test   install what the tests need and run them"
	@echo "make lint   ruff, mypy and the import contracts"
	@echo "make bench  run the benchmarks in bench/ (figures to bench/results/)"

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Python >= 3.12 is needed (python3.12 on PATH)"; exit 1; fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

run: $(STAMP)
	$(BIN)/twin build --if-missing --db $(DB)
	$(BIN)/twin serve --db $(DB)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	$(BIN)/python bench/store_bench.py
	$(BIN)/python bench/service_tipg.py
	$(BIN)/python bench/routing_latency.py
	$(BIN)/python bench/routing_greenwave.py
	$(BIN)/python bench/routing_sumo.py
	$(BIN)/python bench/address_parse.py
	$(BIN)/python bench/address_geocode.py
	$(BIN)/python bench/change_metrics.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
