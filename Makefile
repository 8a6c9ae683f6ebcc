# FlowMaestro — two commands: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# A websocket client that answers no ping within these seconds (stopped reading: frozen
# tab, lost network) is disconnected, so the server stops buffering frames for it; it
# resumes with ?afterSeq= (README, "Live stream").
WS_PING_INTERVAL ?= 10
WS_PING_TIMEOUT ?= 20

.PHONY: run test setup venv deps frontend migrate demo lint typecheck pytest vitest pytest-sqlite pytest-postgres clean

run: setup migrate demo
	@echo "Serving FlowMaestro on http://$(HOST):$(PORT)/ (engine in-process)"
	DJANGO_DEBUG=1 FLOWMAESTRO_HTTP_ALLOW_PRIVATE=1 $(VENV)/bin/daphne -b $(HOST) -p $(PORT) \
		--ping-interval $(WS_PING_INTERVAL) --ping-timeout $(WS_PING_TIMEOUT) flowmaestro.asgi:application

test: setup lint typecheck pytest

setup: deps frontend

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)

venv: $(VENV)/bin/activate

deps: venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules/.package-lock.json

frontend: node_modules/.package-lock.json
	npm run build

migrate: deps
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py ensure_login
	$(PY) manage.py load_demo --user admin

lint:
	$(VENV)/bin/ruff check .
	npm run typecheck

typecheck:
	$(VENV)/bin/mypy flowmaestro editor engine

# The whole pytest suite runs twice: on SQLite (the default database), then on PostgreSQL,
# on a throw-away cluster that tests/pg.py starts from the PostgreSQL binaries (initdb,
# pg_ctl: `apt-get install postgresql`) in a temporary directory and removes at the end.
# Browser tests run on both: the page talks to a real daphne with the engine inside, and
# that server's HTTP threads, connection pool and engine on PostgreSQL are what a user of
# the single-process setup on PostgreSQL gets; they add a few minutes, far inside CI's 90.
# Without PostgreSQL binaries pytest-postgres skips with the reason; under CI=true it fails.
pytest: vitest pytest-sqlite pytest-postgres

vitest:
	npm test

pytest-sqlite:
	$(VENV)/bin/pytest -q --database=sqlite

pytest-postgres:
	$(VENV)/bin/pytest -q --database=postgres

clean:
	rm -rf static/dist node_modules $(VENV) db.sqlite3 .test-db.sqlite3
