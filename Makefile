# `make run` and `make test` work on a fresh machine: they create the venv and install first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install locales lint format console migrate bench bench-load extract clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) locales

# Compiled catalogues are build output, not sources: made here, never committed.
# English is the source language: its catalogue translates nothing by design, so only Russian's
# statistics are worth a line.
locales: $(STAMP)
	@$(BIN)/pybabel -q compile --use-fuzzy -d locales -D messages -l en
	@$(BIN)/pybabel compile --use-fuzzy -d locales -D messages -l ru --statistics 2>&1 | grep 'translated' || true
	@test -f locales/ru/LC_MESSAGES/messages.mo

run: install
	$(BIN)/python -m bot

console: install
	$(BIN)/python -m bot console

migrate: install
	$(BIN)/python -m bot migrate

# One worker per core; each test module stays on one worker (its module fixtures, such as the
# pair of bot processes of the fault tests, are built once), and each worker has PostgreSQL
# schemas and Redis key prefixes of its own (tests/conftest.py).
test: install
	$(BIN)/python -m pytest -q -n auto --dist loadfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-extract user-facing strings after changing texts, then translate the new ones in ru.
extract: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k Nn_:1,2 -o locales/messages.pot --no-location --omit-header --sort-output .
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching --ignore-obsolete

bench: install
	$(BIN)/python -m bench.call_throughput
	$(BIN)/python -m bench.send_rate
	$(BIN)/python -m bench.digest_build
	$(BIN)/python -m bench.reminder_lateness
	$(BIN)/python -m bench.import_xlsx
	$(BIN)/python -m bench.export_clients
	$(BIN)/python -m bench.portfolio
	$(BIN)/python -m bench.charts
	$(BIN)/python -m bench.loop_stall

# Ten minutes of 50 updates/s through the webhook: two instances on PostgreSQL, then one on
# SQLite. Prints lost/duplicated updates, latency and each instance's memory trend.
bench-load: install
	$(BIN)/python -m bench.webhook_load --backend both --duration 600 --rate 50

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
