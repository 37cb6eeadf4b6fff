# Inventory AI — developer and demo commands. `make demo` and `make test` work on a fresh machine with Python 3.11+.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The virtualenv is rebuilt when the pinned requirements change.
INSTALLED := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
# One BLAS thread per process: the suite runs workers and servers beside it on few cores.
TEST_ENV := DJANGO_SETTINGS_MODULE=tests.settings OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# One test process per core (pytest-xdist), each with its own test database, broker database and files; the longest
# tests are shared out as they finish (worksteal). TEST_PROCESSES=0 runs the suite in this one process.
TEST_PROCESSES ?= auto

.PHONY: help install demo test lint format check-migrations migrate run worker beat doctor clean chromium messages

help:
	@echo "make demo    - install, load the demo store and run web + worker + beat (Ctrl-C stops)"
	@echo "make test    - install, then lint, format check, migration check and the whole test suite"
	@echo "make format  - format the code with ruff"
	@echo "make doctor  - check the database, the broker and the workers"
	@echo "make messages - gather the interface's strings into the catalogues and compile them (needs GNU gettext)"

$(INSTALLED): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(INSTALLED)

demo: install
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py demo

test: install lint check-migrations chromium
	$(TEST_ENV) $(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist worksteal $(PYTEST_ARGS)

# The admin's browser tests drive a Chromium: the system's (CHROMIUM_PATH, /usr/bin/chromium, Chrome on macOS) or
# Playwright's own. Without one: apt-get as root where there is apt, else Playwright's download (no root needed);
# when neither works, say how to get one (the tests fail rather than pass without a browser).
CHROMIUM_PATH ?= /usr/bin/chromium
MAC_CHROME := /Applications/Google Chrome.app/Contents/MacOS/Google Chrome
chromium: install
	@test -x "$(CHROMIUM_PATH)" || test -x /usr/bin/chromium-browser || test -x "$(MAC_CHROME)" || \
	  $(BIN)/python -c 'import os, sys; from playwright.sync_api import sync_playwright; p = sync_playwright().start(); sys.exit(0 if os.path.exists(p.chromium.executable_path) else 1)' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Chromium for the browser tests (apt-get install chromium)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Installing Playwright's Chromium for the browser tests (no root needed)"; \
	    $(BIN)/python -m playwright install chromium || { \
	      echo "The browser tests need a Chromium: sudo apt-get install chromium, or set CHROMIUM_PATH" >&2; exit 1; }; \
	  fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check-migrations: install
	$(TEST_ENV) $(BIN)/python manage.py makemigrations --check --dry-run

# The translation catalogues (inventory_ai/locale/<lang>/LC_MESSAGES/django.po) and their compiled .mo files, which
# are committed so that installing needs no gettext. tests/test_translations.py fails when a string lacks a translation.
LOCALES := zh_Hans
messages: install
	cd inventory_ai && DEBUG=1 DJANGO_SETTINGS_MODULE=inventory_ai.settings PYTHONPATH=.. ../$(BIN)/django-admin \
	  makemessages $(addprefix -l ,$(LOCALES)) --add-location file --no-obsolete -i "migrations/*" -i "demo/*"
	cd inventory_ai && DEBUG=1 DJANGO_SETTINGS_MODULE=inventory_ai.settings PYTHONPATH=.. ../$(BIN)/django-admin \
	  compilemessages $(addprefix -l ,$(LOCALES))

migrate: install
	$(BIN)/python manage.py migrate

doctor: install
	$(BIN)/python manage.py doctor

clean:
	rm -rf var .pytest_cache .ruff_cache
