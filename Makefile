# offhours: make install | test | lint | validate | docs | docs-serve | demo | build | deploy | invoke | logs
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test unit lint validate docs docs-build docs-serve demo bench build deploy invoke logs smoke smoke-clean clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The site's build is part of the tests: a broken link or anchor, or a page out of the nav, fails.
test: install lint validate
	$(BIN)/pytest
	$(MAKE) --no-print-directory docs-build

unit: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check src tests bench smoke docs
	$(BIN)/ruff format --check src tests bench smoke docs
	$(BIN)/mypy

# AWS SAM CLI lives in its own venv: it pins boto3, botocore, click, pydantic and cfn-lint
# exactly, which would downgrade the project's own (.venv) versions.
SAM_VENV := $(VENV)/sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed
SAM_CLI ?= aws-sam-cli>=1.120,<2
# No telemetry; a region and dummy credentials so that offline commands never look for real ones.
SAM_ENV := SAM_CLI_TELEMETRY=0
SAM_OFFLINE := $(SAM_ENV) AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline
# `sam build` needs the Lambda runtime's python3.13 on PATH (pyenv's shim needs PYENV_VERSION).
PY313 = $(shell PYENV_VERSION=3.13.0 python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null)

$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet '$(SAM_CLI)'
	touch $(SAM_STAMP)

validate: install $(SAM_STAMP)
	$(BIN)/cfn-lint template.yaml member.yaml
	$(SAM_OFFLINE) $(SAM) validate --lint --template template.yaml

# `sam build` alone makes the package (src/Makefile, BuildMethod makefile): the wheels for
# python3.13 on arm64, bytecode compiled by python3.13 when it is on PATH.
build: $(SAM_STAMP)
	@test -n "$(PY313)" || echo "warning: python3.13 not found: the package ships without bytecode" >&2
	PATH="$(if $(PY313),$(dir $(PY313)):)$$PATH" $(SAM_ENV) $(SAM) build

deploy: build
	$(SAM_ENV) $(SAM) deploy --guided

invoke: build
	$(SAM_ENV) $(SAM) local invoke OffhoursFunction -e events/scheduled.json

logs: $(SAM_STAMP)
	$(SAM_ENV) $(SAM) logs --stack-name offhours --tail

# A throw-away stack in a real account, two t4g.nano instances and a db.t4g.micro, two runs,
# the checks, and everything deleted (about 2 cents, 25 minutes; README "Smoke test"). Refuses to
# run unless OFFHOURS_SMOKE_ACCOUNT names the account of your credentials, before `sam build`.
# SMOKE_ARGS: --no-database (about 10 minutes), --yes, --region R, --subnet-id S.
smoke: install $(SAM_STAMP)
	$(BIN)/python -m smoke check $(SMOKE_ARGS)
	$(MAKE) build
	$(BIN)/python -m smoke run --sam $(SAM) $(SMOKE_ARGS)

# Deletes what smoke runs left in the region (a run killed with SIGKILL): only resources tagged
# offhours-smoke-run, stacks and log groups named offhours-smoke-*. SMOKE_ARGS: --run-id ID.
smoke-clean: install
	$(BIN)/python -m smoke clean $(SMOKE_ARGS)

# The manual (mkdocs.yml, docs/): docs/cli.md written again from the parser, then built into
# site/ with --strict (a broken link, anchor or nav entry fails); docs-serve on 127.0.0.1:8000,
# where a broken link is a warning in the log, not a server that stops while you write.
# docs-build (what `make test` runs) only builds: tests/test_docs.py catches a stale docs/cli.md.
# NO_MKDOCS_2_WARNING silences Material's banner about its end of life (not a build warning).
MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs

docs: install
	$(BIN)/python docs/gen_cli.py
	$(BIN)/python docs/gen_troubleshooting.py
	$(MKDOCS) build --strict --site-dir site

docs-build: install
	$(MKDOCS) build --strict --site-dir site

docs-serve: install
	$(BIN)/python docs/gen_cli.py
	$(BIN)/python docs/gen_troubleshooting.py
	$(MKDOCS) serve --no-strict

demo: install
	$(BIN)/offhours demo

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache site
