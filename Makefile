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

# The `siamese` change detector's network runs in a small environment of its own (torch and
# numpy): made from the first of TORCH_PYTHONS for which TORCH_WHEELS holds a PyTorch CPU
# wheel (the package indexes only offer the multi-gigabyte CUDA build). TWIN_TORCH_PYTHON,
# when set, names an interpreter with torch instead. Without either, the detector's tests skip.
TORCH_VENV := .venv-torch
TORCH_STAMP := $(TORCH_VENV)/.installed
TORCH_PYTHONS ?= python3.11 /usr/bin/python3.11 python3.12 python3.13 python3.10
TORCH_WHEELS ?= /opt/wheels

.PHONY: help run test lint bench clean torch

help:
	@echo "make run    build the Helsinki twin (once) and serve it"
	@echo "make test   install what the tests need and run them"
	@echo "make lint   ruff, mypy and the import contracts"
	@echo "make torch  the PyTorch environment of the siamese detector ($(TORCH_VENV))"
	@echo "make bench  run the benchmarks in bench/ (figures to bench/results/)"

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Python >= 3.12 is needed (python3.12 on PATH)"; exit 1; fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

torch:
	@if [ -n "$$TWIN_TORCH_PYTHON" ]; then \
	  echo "torch: using TWIN_TORCH_PYTHON=$$TWIN_TORCH_PYTHON"; \
	elif [ ! -f $(TORCH_STAMP) ]; then $(MAKE) --no-print-directory $(TORCH_STAMP); fi

$(TORCH_STAMP):
	@for p in $(TORCH_PYTHONS); do \
	  command -v $$p >/dev/null 2>&1 || continue; \
	  tag=$$($$p -c 'import sys; print("cp%d%d" % sys.version_info[:2])' 2>/dev/null) || continue; \
	  wheel=$$(ls $(TORCH_WHEELS)/torch-*+cpu-$$tag-$$tag-*linux*_x86_64.whl 2>/dev/null | tail -1); \
	  [ -n "$$wheel" ] || continue; \
	  rm -rf $(TORCH_VENV); \
	  $$p -m venv $(TORCH_VENV) || continue; \
	  echo "torch: installing $$(basename $$wheel) and numpy into $(TORCH_VENV)"; \
	  if $(TORCH_VENV)/bin/python -m pip install -q "$$wheel" numpy \
	     && $(TORCH_VENV)/bin/python -c 'import numpy, torch'; then \
	    touch $@; exit 0; fi; \
	done; \
	rm -rf $(TORCH_VENV); \
	echo "torch: no PyTorch CPU wheel in $(TORCH_WHEELS) installs for any of" \
	  "'$(TORCH_PYTHONS)'; the siamese detector's tests will be skipped" \
	  "(set TWIN_TORCH_PYTHON to a Python with torch to use one)"

run: $(STAMP)
	$(BIN)/twin build --if-missing --db $(DB)
	$(BIN)/twin serve --db $(DB)

test: $(STAMP) torch
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP) torch
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	$(BIN)/python bench/store_bench.py
	$(BIN)/python bench/service_tipg.py
	$(BIN)/python bench/routing_latency.py
	$(BIN)/python bench/routing_greenwave.py
	$(BIN)/python bench/routing_sumo.py
	$(BIN)/python bench/routing_api.py
	$(BIN)/python bench/address_parse.py
	$(BIN)/python bench/address_geocode.py
	$(BIN)/python bench/change_metrics.py
	$(BIN)/python bench/change_siamese.py

clean:
	rm -rf $(VENV) $(TORCH_VENV) var .pytest_cache .mypy_cache .ruff_cache
