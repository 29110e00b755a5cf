# Two commands for a new machine: `make demo` and `make test`. See README.md.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# The suite runs on PostgreSQL: $DATABASE_URL when it names one, else the local default (pytest creates test_<name>).
TEST_DATABASE_URL ?= $(if $(filter postgres%,$(DATABASE_URL)),$(DATABASE_URL),postgres://postgres@127.0.0.1:5432/billing_portal)
DEMO_ENV := DEBUG=true DATABASE_URL=sqlite:///$(CURDIR)/db.sqlite3 SECURE_SSL_REDIRECT=false

.PHONY: demo test install browser services-check lint bench bench-tools soak clean messages

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PIP) install -q --upgrade pip >/dev/null
	$(PIP) install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP) messages
	$(DEMO_ENV) $(PY) manage.py migrate --noinput -v0
	$(DEMO_ENV) $(PY) manage.py seed_demo
	$(DEMO_ENV) $(PY) manage.py runserver 127.0.0.1:8000

# Chromium comes from the OS packages: nothing downloads a browser build at run time.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Chromium from the OS packages..."; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The translation catalogs (locale/*/django.po) compiled to .mo with Babel: no OS gettext needed.
messages: $(STAMP)
	@$(PY) scripts/compile_messages.py

services-check: $(STAMP)
	@DATABASE_URL=$(TEST_DATABASE_URL) $(PY) scripts/check_services.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP) browser services-check lint messages
	DATABASE_URL=$(TEST_DATABASE_URL) $(VENV)/bin/pytest -q -p no:randomly $(PYTEST_ARGS)

# The load generator and pgbench come from the OS packages too.
bench-tools:
	@command -v wrk >/dev/null 2>&1 && command -v pgbench >/dev/null 2>&1 || { \
	  echo "Installing wrk and pgbench from the OS packages..."; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk postgresql-contrib >/dev/null; }

bench: $(STAMP) bench-tools
	$(PY) bench/run.py

soak: $(STAMP)
	$(PY) bench/soak.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles test-output
