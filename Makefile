# Inventory AI — developer and demo commands. `make demo` and `make test` work on a fresh machine with Python 3.11+.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The virtualenv is rebuilt when the pinned requirements change.
INSTALLED := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
# One BLAS thread per process: the suite runs workers and servers beside it on few cores.
TEST_ENV := DJANGO_SETTINGS_MODULE=tests.settings OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

.PHONY: help install demo test lint format check-migrations migrate run worker beat doctor clean chromium

help:
	@echo "make demo    - install, load the demo store and run web + worker + beat (Ctrl-C stops)"
	@echo "make test    - install, then lint, format check, migration check and the whole test suite"
	@echo "make format  - format the code with ruff"
	@echo "make doctor  - check the database, the broker and the workers"

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
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

# The admin's browser tests drive the system's Chromium; install it where we may (root with apt), else say how.
CHROMIUM_PATH ?= /usr/bin/chromium
chromium:
	@test -x "$(CHROMIUM_PATH)" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Chromium for the browser tests (apt-get install chromium)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium at $(CHROMIUM_PATH): sudo apt-get install chromium" >&2; exit 1; \
	  fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check-migrations: install
	$(TEST_ENV) $(BIN)/python manage.py makemigrations --check --dry-run

migrate: install
	$(BIN)/python manage.py migrate

doctor: install
	$(BIN)/python manage.py doctor

clean:
	rm -rf var .pytest_cache .ruff_cache
