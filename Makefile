# Two commands on a fresh machine: `make run` and `make test`. Everything else is installed on demand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= auto

.PHONY: install test typecheck lint codegen codegen-check run bench check fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

typecheck: install
	$(BIN)/mypy

lint: install
	$(BIN)/rivet-dsl lint examples

codegen: install
	$(BIN)/python -m codegen --all-examples

codegen-check: install
	$(BIN)/python -m codegen --all-examples --check

test: install typecheck lint codegen-check
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q

check: test

run: install
	$(BIN)/python -m examples.run_demo

bench: install
	$(BIN)/python bench/run_all.py

fuzz: install
	RIVET_FUZZ_EXAMPLES=200 $(BIN)/python -m pytest tests/codegen -q -k fuzz

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .rivet
