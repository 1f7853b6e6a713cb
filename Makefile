# Two commands set everything up: `make demo` and `make test` create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# nbgrader calls `alembic` by name when it creates a gradebook: the venv's bin/ must be on PATH.
export PATH := $(BIN):$(PATH)

.PHONY: demo lab test test-fast lint lessons fixtures bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python -m autograder demo

lab: $(VENV)/.installed
	$(BIN)/jupyter lab lessons

lint: $(VENV)/.installed
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -n 2 -ra

test-fast: lint
	$(BIN)/python -m pytest -n 2 -m "not slow"

lessons: $(VENV)/.installed
	$(BIN)/python -m autograder lessons

fixtures: $(VENV)/.installed
	$(BIN)/python -m autograder fixtures

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_cells.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
