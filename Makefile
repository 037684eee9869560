# The two commands a user needs: `make run` and `make test`. Both create the virtualenv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: help venv run test lint format demo clean

help:
	@echo "make run    - local stack: AWS emulator, API on http://127.0.0.1:8000, worker"
	@echo "make test   - the whole offline suite (lint, types, tests)"
	@echo "make demo   - upload example_csv/campaign.csv to the running stack and watch it reach SENT"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[api,dev]'
	@touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/python -m campaign.local.run

test: venv lint
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo:
	scripts/demo.sh

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
