# LiveGate developer commands. The README's two commands are `make serve` and `make test`.
# Two virtual environments, each created on first use and re-installed only when a
# requirements file changes:
#   .venv      serving only (requirements.txt): what `make serve` and the Docker image run;
#   .venv-dev  serving + training + test tools (requirements-dev.txt): `make test`, lint,
#              typecheck, bench. Keeping them apart keeps the serving one small (no TensorFlow).
# The Dockerfile's builder stage runs `make install`.

PYTHON ?= python3
VENV ?= .venv
DEV_VENV ?= .venv-dev
BIN := $(VENV)/bin
DEV_BIN := $(DEV_VENV)/bin
PYTEST_ARGS ?=

.PHONY: serve run test install install-dev lint typecheck bench fuzz browser-deps compose-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

$(DEV_BIN)/python:
	$(PYTHON) -m venv $(DEV_VENV)
	$(DEV_BIN)/python -m pip install --quiet --upgrade "pip>=24"

# Serving dependencies only (no TensorFlow).
$(VENV)/.serve-installed: requirements.txt tools/dlib-binstub/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	@touch $@

# Serving + training + test tools, in their own environment.
$(DEV_VENV)/.dev-installed: requirements.txt requirements-train.txt requirements-dev.txt tools/dlib-binstub/pyproject.toml | $(DEV_BIN)/python
	$(DEV_BIN)/python -m pip install -r requirements-dev.txt
	@touch $@

install: $(VENV)/.serve-installed
install-dev: $(DEV_VENV)/.dev-installed

# Set up and serve on http://127.0.0.1:8000 (SQLite and a generated secret in instance/).
serve: $(VENV)/.serve-installed run

# Serve without checking the installation.
run:
	$(BIN)/flask --app webapp db upgrade
	$(BIN)/flask --app webapp keys seal
	$(BIN)/gunicorn -c gunicorn.conf.py "webapp:create_app()"

# Set up and run the whole test suite (browser tests skip when chromium is absent:
# `make browser-deps` installs Debian's chromium, as .ci/run does).
test: $(DEV_VENV)/.dev-installed
	$(DEV_BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV_VENV)/.dev-installed
	$(DEV_BIN)/ruff check webapp ml tests
	$(DEV_BIN)/ruff format --check webapp ml tests

typecheck: $(DEV_VENV)/.dev-installed
	$(DEV_BIN)/mypy webapp ml

bench: $(DEV_VENV)/.dev-installed
	$(DEV_BIN)/python -m benchmarks.frame_pipeline

# The long fuzz run: schemathesis against the OpenAPI document on a live server, about 700
# requests per operation (CI runs a bounded one inside `make test`: tests/fuzz/).
FUZZ_EXAMPLES ?= 700
fuzz: $(VENV)/.dev-installed
	$(BIN)/python -m tests.fuzz.driver --examples $(FUZZ_EXAMPLES)

browser-deps:
	apt-get update -qq && apt-get install -y -qq chromium chromium-driver

# Every compose profile validates (Debian's command is docker-compose; Docker's plugin is `docker compose`).
compose-check:
	docker-compose -f compose.yaml config --quiet
	docker-compose -f compose.yaml --profile https config --quiet

clean:
	rm -rf $(VENV) $(DEV_VENV) .pytest_cache .mypy_cache .ruff_cache
