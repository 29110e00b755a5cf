# Two commands for a new machine: `make demo` and `make test`. See README.md.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
# The suite runs on PostgreSQL: $DATABASE_URL when it names one, else the local server when it answers, else an
# embedded one (scripts/run_tests.py; pytest creates test_<name>).
TEST_DATABASE_URL ?= $(if $(filter postgres%,$(DATABASE_URL)),$(DATABASE_URL),postgres://postgres@127.0.0.1:5432/billing_portal)

.PHONY: demo demo-reset test install browser node-tools pdftotext services-check lint bench bench-tools soak clean pgbouncer messages oidc-provider

# Quiet: the first lines `make demo` prints are the demo's address and logins. The log is shown only on failure.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PIP) install -q --upgrade pip >/dev/null 2>&1
	@$(PIP) install -q -e '.[dev]' >$(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

# The demo needs the runtime dependencies only (no test tools): a fresh clone serves sooner. A full install
# (`make test`, `make install`) serves the demo too.
DEMO_STAMP := $(VENV)/.installed-runtime
$(DEMO_STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@test -f $(STAMP) -a $(STAMP) -nt pyproject.toml || $(PIP) install -q -e . >$(VENV)/install.log 2>&1 \
	  || { cat $(VENV)/install.log; exit 1; }
	@touch $(DEMO_STAMP)

# Embedded PostgreSQL (data in .demo/), migrate, collectstatic, seed, gunicorn + Celery worker with beat;
# Ctrl-C stops it all (scripts/demo.py).
demo: $(DEMO_STAMP) messages
	@$(PY) scripts/demo.py

# Start the demo afresh next time (its database, broker folder and collected static files).
demo-reset:
	rm -rf .demo staticfiles

# Chromium comes from the OS packages: nothing downloads a browser build at run time.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Chromium from the OS packages..."; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The suite's JavaScript tools (axe-core, injected into every page the browser tests open), pinned by
# package-lock.json and installed from the npm registry only when the lock file changed.
node_modules/.installed: package.json package-lock.json
	@npm ci --no-audit --no-fund --silent
	@touch $@

node-tools: node_modules/.installed

# pdftotext (poppler-utils) reads the invoice PDFs in the browser test; also from the OS packages.
pdftotext:
	@command -v pdftotext >/dev/null 2>&1 || { \
	  echo "Installing poppler-utils (pdftotext) from the OS packages..."; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq poppler-utils >/dev/null; }

# The translation catalogs (locale/*/django.po) compiled to .mo with Babel: no OS gettext needed.
# Quiet: `make test`'s first line says which PostgreSQL, and `make demo`'s first lines are its address and logins.
messages:
	@$(PY) scripts/compile_messages.py >/dev/null

services-check: $(STAMP)
	@DATABASE_URL=$(TEST_DATABASE_URL) $(PY) scripts/check_services.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# PgBouncer comes from the OS packages too (tests/scale run the machine API tests through it).
pgbouncer:
	@command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || { \
	  echo "Installing PgBouncer from the OS packages..."; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq pgbouncer >/dev/null; }

# First line: which PostgreSQL; then browser, ruff, the Redis check and pytest (scripts/run_tests.py).
test: $(STAMP) messages
	@$(PY) scripts/run_tests.py $(PYTEST_ARGS)

# The local OpenID Connect provider the SSO tests start (npm oidc-provider, pinned by tests/oidc/package-lock.json).
oidc-provider: tests/oidc/node_modules/.installed
tests/oidc/node_modules/.installed: tests/oidc/package.json tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
	@touch $@

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
	rm -rf $(VENV) .demo staticfiles test-output node_modules
