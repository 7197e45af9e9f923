# fxticker: `make run` serves the app on the embedded database; `make test` runs the suite.
# Both install what they need first (`make setup`, idempotent).

VENV    := .venv
BIN     := $(VENV)/bin
PYTHON  ?= python3
HOST    ?= 127.0.0.1
PORT    ?= 8000
STAMP   := $(VENV)/.installed
TEST_WORKERS ?= auto

.PHONY: setup system run test test-unit lint pytest bench reliability clean-db

setup: system $(STAMP)

system:
	@bash scripts/setup-system.sh

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

run: setup
	$(BIN)/fxticker db start
	$(BIN)/fxticker migrate
	$(BIN)/fxticker sample
	FXTICKER=$(BIN)/fxticker scripts/with-scheduler.sh \
		$(BIN)/fxticker serve --host $(HOST) --port $(PORT)

test: setup lint pytest

# The fast tier: no database, server, browser or subprocess; seconds, for the edit-test loop.
test-unit: setup
	$(BIN)/pytest tests/unit

lint:
	$(BIN)/ruff check fxticker tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# The whole suite spread over the cores by pytest-xdist: each worker starts its own embedded cluster and
# takes whole files, and the timing tests run one after another on a single worker (tests/conftest.py
# groups them).
# TEST_WORKERS=0 runs it in this process alone.
pytest:
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

# The reliability tests (hostile pages, load with a database restart, kill -9 of ingest) are part of
# `make test`; this runs them alone.
reliability: setup
	$(BIN)/pytest -m reliability

# Benchmarks are not part of `make test`: they take minutes and print ratios against floors measured in
# the same run. The reliability figures are recorded first so that docs/benchmarks.md holds both.
bench: setup
	rm -rf test-output/reliability
	$(BIN)/pytest -q -m reliability
	$(BIN)/python -m benchmarks.run

clean-db:
	-$(BIN)/fxticker db stop
	rm -rf .fxticker
