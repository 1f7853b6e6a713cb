# Two commands set everything up: `make demo` and `make test` create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# nbgrader calls `alembic` by name when it creates a gradebook: the venv's bin/ must be on PATH.
export PATH := $(BIN):$(PATH)

.PHONY: demo lab test test-fast lint lessons fixtures bench clean

# Everything the suite needs that pip can install: pyproject's test extra (PyTorch 2.13.0 for the
# cross-checks, Playwright for the browser test). Debian packages (bubblewrap, chromium) need root:
# .ci/run installs them.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python -m autograder demo

# JupyterLab on the course folder itself (lessons/ and rnnkit/ side by side), lesson 00 open.
lab: $(VENV)/.installed
	cd "$(CURDIR)" && $(BIN)/jupyter lab lessons/00-orientation.ipynb

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

# The course on a JupyterHub (deploy/README.md). `make hub-deps` installs jupyterhub into .venv,
# configurable-http-proxy from npm (needs node and npm) and the learner environment;
# `make class` runs a class on 127.0.0.1 with demo learners until Ctrl-C.
PORT ?= 8000
.PHONY: hub-deps class

$(VENV)/hub-environments.json: $(VENV)/.installed pyproject.toml deploy/hub/setup.sh \
		deploy/hub/requirements-hub.txt deploy/hub/requirements-server.txt deploy/hub/proxy/package-lock.json
	LEARNER_VENV="$(LEARNER_VENV)" HUB_PYTHON="$(HUB_PYTHON)" deploy/hub/setup.sh

hub-deps: $(VENV)/.installed
	LEARNER_VENV="$(LEARNER_VENV)" HUB_PYTHON="$(HUB_PYTHON)" deploy/hub/setup.sh

class: $(VENV)/hub-environments.json
	$(BIN)/python deploy/hub/rnnhub.py local --port $(PORT)
