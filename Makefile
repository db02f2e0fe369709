# LiveGate developer commands. The README's two commands are `make serve` and `make test`;
# both create the virtual environment in .venv on first use and re-install only when a
# requirements file changes. The Dockerfile runs the same install and serve steps.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: serve run test install install-dev lint typecheck bench fuzz browser-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

# Serving dependencies only (no TensorFlow).
$(VENV)/.serve-installed: requirements.txt tools/dlib-binstub/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	@touch $@

# Serving + training + test tools.
$(VENV)/.dev-installed: requirements.txt requirements-train.txt requirements-dev.txt tools/dlib-binstub/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -r requirements-dev.txt
	@touch $@ $(VENV)/.serve-installed

install: $(VENV)/.serve-installed
install-dev: $(VENV)/.dev-installed

# Set up and serve on http://127.0.0.1:8000 (SQLite and a generated secret in instance/).
serve: $(VENV)/.serve-installed run

# Serve without checking the installation (the Docker image installs at build time).
run:
	$(BIN)/flask --app webapp db upgrade
	$(BIN)/flask --app webapp keys seal
	$(BIN)/gunicorn -c gunicorn.conf.py "webapp:create_app()"

# Set up and run the whole test suite (browser tests skip when chromium is absent:
# `make browser-deps` installs Debian's chromium, as .ci/run does).
test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check webapp ml tests
	$(BIN)/ruff format --check webapp ml tests

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy webapp ml

bench: $(VENV)/.dev-installed
	$(BIN)/python -m benchmarks.frame_pipeline

# The long fuzz run: schemathesis against the OpenAPI document on a live server, about 700
# requests per operation (CI runs a bounded one inside `make test`: tests/fuzz/).
FUZZ_EXAMPLES ?= 700
fuzz: $(VENV)/.dev-installed
	$(BIN)/python -m tests.fuzz.driver --examples $(FUZZ_EXAMPLES)

browser-deps:
	apt-get update -qq && apt-get install -y -qq chromium chromium-driver

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
