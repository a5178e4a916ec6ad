# backoffice: two commands.
#   make run    install everything, migrate, seed demo data when empty, serve on http://127.0.0.1:5000
#   make test   install what the tests need, then run the whole suite
# Also: make bench (every bench/*.py), make lint (ruff, mypy, radon: no function ranked D or worse).
#
# Every target is idempotent: the venv is made once, pip runs again only when pyproject.toml changed
# (stamp files in .venv), and system packages are installed only when dpkg says they are missing.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app backoffice
HOST ?= 127.0.0.1
PORT ?= 5000

STAMP_RUN := $(VENV)/.installed-run
# The interface's translations: the .po catalogues are in the repo, the compiled .mo files are made here.
CATALOGUES := $(wildcard backoffice/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)
BABEL_KEYWORDS := -k _l -k N_ -k msg
STAMP_TEST := $(VENV)/.installed-test

.PHONY: help run serve test bench lint install install-test system-deps system-deps-test translations messages

help:
	@echo "make run    install, migrate, seed demo data when empty, serve on http://$(HOST):$(PORT)"
	@echo "make serve  production: gunicorn (backoffice/gunicorn_conf.py) and the print worker on $(HOST):$(PORT)"
	@echo "make test   install test dependencies (incl. Chromium) and run the whole suite"
	@echo "make bench  run every bench/*.py, on SQLite and PostgreSQL"
	@echo "make lint   ruff, mypy and radon (no function ranked D or worse)"
	@echo "make messages      extract the interface's texts and merge them into the catalogues"
	@echo "make translations  compile the catalogues (make run and make test do this)"

system-deps:
	@bash .ci/install-system-deps run

system-deps-test:
	@bash .ci/install-system-deps test

# The venv exists once pip is in it (a half-made venv without pip is completed on the next run).
$(VENV)/bin/pip: | system-deps
	$(PYTHON) -m venv $(VENV)

$(STAMP_RUN): pyproject.toml | $(VENV)/bin/pip
	$(PY) -m pip install -e .
	@touch $@

$(STAMP_TEST): pyproject.toml | $(VENV)/bin/pip
	$(PY) -m pip install -e ".[test]"
	@touch $@ $(STAMP_RUN)

install: system-deps $(STAMP_RUN) translations

install-test: system-deps-test $(STAMP_TEST) translations

# Compile each catalogue (.po -> .mo) when it changed; refuses a catalogue with errors.
translations: $(COMPILED)

backoffice/translations/%/LC_MESSAGES/messages.mo: backoffice/translations/%/LC_MESSAGES/messages.po | $(STAMP_RUN)
	$(VENV)/bin/pybabel compile --statistics -d backoffice/translations -l $* -i $< -o $@

# After changing texts in code or templates: extract them and merge them into every catalogue (then translate the
# new entries in the .po files; tests/test_translations.py lists what is missing).
messages: $(STAMP_RUN)
	$(VENV)/bin/pybabel extract -F backoffice/translations/babel.cfg $(BABEL_KEYWORDS) --no-location \
		--sort-output -o backoffice/translations/messages.pot .
	$(VENV)/bin/pybabel update -i backoffice/translations/messages.pot -d backoffice/translations --no-fuzzy-matching \
		--ignore-obsolete

# The print queue worker (Huey consumer) runs beside the web server. A background job of a non-interactive shell
# ignores Ctrl+C, so the trap stops it when the server ends, however it ends.
run: install
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	@echo "Serving on http://$(HOST):$(PORT) with the print queue worker  (Ctrl+C stops both)"
	@$(VENV)/bin/huey_consumer backoffice.printing.tasks.huey --workers 1 --max-delay 1 --logfile "$${BACKOFFICE_INSTANCE_PATH:-instance}/print_worker.log" & \
	worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

# Production serving (README, "Production"): gunicorn with the repo's settings (backoffice/gunicorn_conf.py: workers
# from the core count or WEB_CONCURRENCY) and the print worker, both against DATABASE_URL, both logging to stderr.
# With BACKOFFICE_ENV=production, config.py refuses to start without real keys, and nothing is migrated here: the
# app's database role may not change the schema, so the operator runs `flask db upgrade` as the owner (README).
# When either process ends, the other is stopped too (and so is make, with its exit status).
serve: install
	@if [[ "$${BACKOFFICE_ENV:-development}" != production ]]; then $(FLASK) db upgrade; fi
	@echo "Serving on http://$(HOST):$(PORT) with gunicorn and the print queue worker  (Ctrl+C or SIGTERM stops both)"
	@$(VENV)/bin/huey_consumer backoffice.printing.tasks.huey --workers 1 --max-delay 1 & worker=$$!; \
	HOST=$(HOST) PORT=$(PORT) $(VENV)/bin/gunicorn --config backoffice/gunicorn_conf.py backoffice.wsgi:app & web=$$!; \
	trap 'kill -TERM $$web $$worker 2>/dev/null; wait $$web $$worker 2>/dev/null' EXIT; \
	trap 'exit 143' TERM; trap 'exit 130' INT; \
	wait -n $$web $$worker

test: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

bench: install-test
	$(PY) bench/_run.py

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/radon cc -n D -s backoffice
