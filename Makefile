# The two commands a user needs: `make run` and `make test`. Both create the virtualenv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

CHECKOV_VENV := .venv-checkov

.PHONY: deploy-local help venv lock run test lint format demo load fuzz bench clean package checkov lint-tf chromium ses-outage ses-recover

help:
	@echo "make run    - local stack: AWS emulator, API on http://127.0.0.1:8000, worker"
	@echo "make test   - the whole offline suite (lint, types, tests)"
	@echo "make test-fast - the unit tests only (no AWS emulator, no lint): the inner loop, well under a minute"
	@echo "make demo   - upload example_csv/campaign.csv to the running stack and watch it reach SENT"
	@echo "make ses-outage / ses-recover - take the running stack's emulated SES down / bring it back"
	@echo "make load   - 60 s of uploads + GraphQL reads on a local stack it starts and stops (loopback); prints the report"
	@echo "make fuzz   - the property, fuzz and Schemathesis tests with random draws and 10x the examples (a few min)"
	@echo "make bench  - ours vs a naive baseline on the emulator: requests, reads, memory, cold start, rows/s (5-8 min)"
	@echo "make package - build/ingestor.zip and build/worker.zip for Lambda (arm64, python3.12), from their locks"
	@echo "make lock   - after changing a pin in pyproject.toml: regenerate uv.lock and requirements/*.txt"
	@echo "make checkov - scan terraform/ with checkov (in its own virtualenv)"
	@echo "make deploy-local - terraform apply (bootstrap, then dev) to the running \`make run\` emulator; prints the outputs"

# The virtualenv holds exactly requirements/dev.txt (exported from uv.lock: every dependency of [api,dev], each
# checked against its hash), then the project itself, editable, without resolving anything more.
DEV_LOCK := requirements/dev.txt

$(STAMP): pyproject.toml $(DEV_LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

# After changing a pin in pyproject.toml: re-resolve uv.lock (keeping every other locked version; pass
# LOCK_ARGS=--upgrade to take the newest of everything), export the virtualenv's requirements and derive the
# Lambda zips' (scripts/package_lambdas.py --lock). Commit uv.lock and requirements/. uv is the version the lock
# pins (pyproject.toml's [tool.uv] required-version): to move to another, install it in the venv first.
$(BIN)/uv:
	$(MAKE) venv

lock: $(BIN)/uv
	$(BIN)/uv lock --quiet $(LOCK_ARGS)
	$(BIN)/uv export --quiet --frozen --extra api --extra dev --no-emit-project --format requirements-txt \
		--output-file $(DEV_LOCK)
	$(BIN)/python scripts/package_lambdas.py --lock

run: venv
	$(BIN)/python -m scripts.local.run

test: venv lint chromium
	$(BIN)/python -m pytest

# The inner loop: tests/unit only (plain Python, no emulator, no browser, no lint).
test-fast: venv
	$(BIN)/python -m pytest tests/unit -q -m "not slow"

# The browser tests (tests/http/browser) drive Debian's Chromium headless; Playwright's own browser download
# is never used. Installed once, from the system packages, when missing (root, or sudo when not root).
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

chromium: $(CHROMIUM)

lint: venv checkov
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/zizmor --offline --quiet .github/workflows

# checkov pins an old boto3, so it lives in its own virtualenv.
$(CHECKOV_VENV)/bin/checkov:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==3.3.30

checkov: $(CHECKOV_VENV)/bin/checkov
	$(CHECKOV_VENV)/bin/checkov -d terraform --quiet --compact --skip-download

package: venv
	$(BIN)/python scripts/package_lambdas.py

# terraform/bootstrap, then terraform/ in the dev workspace (STAGE=prod for prod), applied offline to the emulator
# of a running `make run` (LOCAL_AWS_ENDPOINT, default http://127.0.0.1:4566; or start one alone with
# `.venv/bin/python -m scripts.local.emulator --port 4566`). Works on copies in build/deploy-local/ (the state
# lives in the emulator's state bucket); providers from the local mirror (TF_PLUGIN_MIRROR to name another).
# Placeholder Lambda zips: the emulator never runs them. docs/deploy.md, "Try it on the emulator".
LOCAL_AWS_ENDPOINT ?= http://127.0.0.1:4566
STAGE ?= dev
deploy-local: venv
	$(BIN)/python -m scripts.local.terraform_local --endpoint $(LOCAL_AWS_ENDPOINT) --stage $(STAGE)

# Needs the Terraform binary and the provider registry: the GitHub workflow runs it.
lint-tf:
	terraform fmt -check -diff -recursive terraform
	cd terraform && terraform init -backend=false -input=false && terraform validate

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo:
	scripts/demo.sh

# For `SEND_MODE=ses,smtp make run`: while the emulated SES is down (scripts/local/emulator.py, its
# outage file), sends fail over to the SMTP provider (the local mailbox) and SES's circuit breaker
# opens; once it is back, the first send after the breaker's cooldown probes SES and closes it.
ses-outage: venv
	$(BIN)/python -c 'from scripts.local.emulator import outage_file; outage_file().touch()'

ses-recover: venv
	$(BIN)/python -c 'from scripts.local.emulator import outage_file; outage_file().unlink(missing_ok=True)'

# Starts its own local stack on free loopback ports and stops it at the end. LOAD_BASE_URL=<url> (with
# API_KEY) targets a running `make run` instead; LOAD_ARGS passes more options (see --help).
load: venv
	$(BIN)/python -m scripts.load_test $(if $(LOAD_BASE_URL),--base-url $(LOAD_BASE_URL),--start-stack) \
		--seconds 60 --concurrency 4 $(LOAD_ARGS)

# Not part of `make test`, which runs these same tests derandomized (the same draws every run): here
# the draws are random and each test runs FUZZ_FACTOR times as many examples (profiles:
# tests/support/hypothesis_profiles.py). A failure prints its seed: rerun that test with
# HYPOTHESIS_PROFILE=fuzz and --hypothesis-seed=<seed> (the derandomized profile ignores a seed).
# Stopped, as a failure, after FUZZ_SECONDS where `timeout` exists.
FUZZ_FACTOR ?= 10
FUZZ_SECONDS ?= 600
FUZZ_TESTS := tests/unit/test_hypothesis_profiles.py tests/unit/test_csv_properties.py \
	tests/unit/test_ids_and_cursor.py tests/unit/test_listing_plan.py tests/unit/test_delivery_listing.py \
	tests/http/test_upload_fuzz.py tests/http/test_graphql_fuzz.py tests/http/test_openapi_schemathesis.py
fuzz: venv
	HYPOTHESIS_PROFILE=fuzz FUZZ_FACTOR=$(FUZZ_FACTOR) \
		$(if $(shell command -v timeout),timeout --signal=INT --kill-after=60 $(FUZZ_SECONDS)) \
		$(BIN)/python -m pytest $(FUZZ_TESTS)

# Not part of `make test`: it takes minutes and measures this machine. Method: docs/BENCHMARKS.md.
bench: venv
	$(BIN)/python -m scripts.bench

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) build .pytest_cache .mypy_cache .ruff_cache
