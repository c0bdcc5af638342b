# callflow — the two commands a new user needs:
#   make run    virtualenv, install, migrate, load the sample KB, serve on http://127.0.0.1:5000
#   make test   set up and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/pip
FLASK := $(VENV)/bin/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run test worker simulate bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(FLASK) db upgrade
	$(FLASK) kb load
	$(FLASK) run --host $(HOST) --port $(PORT)

worker: install
	$(FLASK) tickets worker

simulate: install
	$(FLASK) simulate --url http://$(HOST):$(PORT)

test: install
	$(VENV)/bin/python -m pytest

bench: install
	$(VENV)/bin/python bench/kb_routing.py

clean:
	rm -rf $(VENV) instance .pytest_cache
