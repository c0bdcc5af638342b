# callflow — the two commands a new user needs:
#   make run    virtualenv, install, migrate, load the sample KB, serve on http://127.0.0.1:5000
#   make test   set up everything the suite needs (pip packages, PostgreSQL and Chromium from
#               Debian's packages) and run it on SQLite and on a throwaway PostgreSQL server
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/pip
FLASK := $(VENV)/bin/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install run serve worker simulate test test-deps pg-deps bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

# The embedded default, for development: signatures are off unless TWILIO_AUTH_TOKEN is set,
# logs are plain text (LOG_FORMAT=json in production), and the admin cookie works over plain http.
run: install
	$(FLASK) db upgrade
	$(FLASK) kb load --if-empty
	TWILIO_VALIDATE_SIGNATURES=$${TWILIO_VALIDATE_SIGNATURES:-false} LOG_FORMAT=$${LOG_FORMAT:-text} \
	ADMIN_COOKIE_SECURE=$${ADMIN_COOKIE_SECURE:-false} \
		$(FLASK) run --host $(HOST) --port $(PORT)

# Production-style: gunicorn with gunicorn.conf.py (gthread workers, timeouts under Twilio's 15 s).
serve: install
	$(FLASK) db upgrade
	$(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

worker: install
	$(FLASK) tickets worker

simulate: install
	$(FLASK) simulate --url http://$(HOST):$(PORT)

# PostgreSQL server binaries for the suite's PostgreSQL leg (tests/pgserver.py starts and removes the server).
pg-deps:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "pg-deps: PostgreSQL server binaries are installed"; \
	else \
		$(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends postgresql \
		|| { [ -z "$$CI" ] && echo "pg-deps: could not install postgresql; its test leg will be skipped"; }; \
	fi

test-deps: install pg-deps browser-deps

test: test-deps
	$(VENV)/bin/python -m pytest

bench: install pg-deps
	$(VENV)/bin/python bench/run_all.py

clean:
	rm -rf $(VENV) instance .pytest_cache

-include Makefile.admin.mk
