# fxticker: `make run` serves the app on the embedded database; `make test` runs the suite.
# Both install what they need first (`make setup`, idempotent).

VENV    := .venv
BIN     := $(VENV)/bin
PYTHON  ?= python3
HOST    ?= 127.0.0.1
PORT    ?= 8000
STAMP   := $(VENV)/.installed

.PHONY: setup system run test lint pytest bench clean-db

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

lint:
	$(BIN)/ruff check fxticker tests
	$(BIN)/mypy

pytest:
	$(BIN)/pytest

clean-db:
	-$(BIN)/fxticker db stop
	rm -rf .fxticker
