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

.PHONY: doc-screenshots run test cluster setup venv deps frontend migrate demo lint typecheck pytest vitest pytest-sqlite pytest-postgres clean

run: setup migrate demo
	@echo "Serving FlowMaestro on http://$(HOST):$(PORT)/ (engine in-process)"
	DJANGO_DEBUG=1 FLOWMAESTRO_HTTP_ALLOW_PRIVATE=1 $(VENV)/bin/daphne -b $(HOST) -p $(PORT) \
		--ping-interval $(WS_PING_INTERVAL) --ping-timeout $(WS_PING_TIMEOUT) flowmaestro.asgi:application

test: setup lint typecheck pytest

# The scale-out topology on this machine: Redis, then (Procfile, run by honcho) two daphne
# (ports 8001, 8002), two Celery workers and Flower (5555), against DATABASE_URL (PostgreSQL).
REDIS_PORT ?= 6379
WEB1_PORT ?= 8001
WEB2_PORT ?= 8002
FLOWER_PORT ?= 5555
# The cluster's Redis keeps its pid file and log here (nothing is saved to disk).
REDIS_RUN = $(or $(TMPDIR),/tmp)/flowmaestro-cluster-redis-$(REDIS_PORT)
# Like `make run`, the demo workflows (Load demo workflows) call this machine's /demo-api, a
# loopback address the http node refuses unless FLOWMAESTRO_HTTP_ALLOW_PRIVATE is on; a
# deployment leaves it off (README "Configuration").
CLUSTER_ALLOW_PRIVATE = $(or $(FLOWMAESTRO_HTTP_ALLOW_PRIVATE),1)
CLUSTER_ENV = REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0 FLOWMAESTRO_EXECUTOR=celery REDIS_PORT=$(REDIS_PORT) \
	FLOWMAESTRO_HTTP_ALLOW_PRIVATE=$(CLUSTER_ALLOW_PRIVATE) \
	WEB1_PORT=$(WEB1_PORT) WEB2_PORT=$(WEB2_PORT) FLOWER_PORT=$(FLOWER_PORT) HOST=$(HOST)
# daphne refuses the development key without DEBUG: the cluster uses DJANGO_SECRET_KEY when
# set, else a random one made once per `make cluster` (sessions then end when the cluster
# restarts). Exported rather than written into the commands, which make prints.
cluster: export DJANGO_SECRET_KEY := $(or $(DJANGO_SECRET_KEY),$(shell head -c 48 /dev/urandom | base64 | tr -d '/+=\n'))
cluster: setup
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "make cluster needs DATABASE_URL=postgres://user:pw@host/db" \
		"(several processes share the database; SQLite is for one process)"; exit 1;; esac
	$(CLUSTER_ENV) $(PY) manage.py migrate --noinput
	$(CLUSTER_ENV) $(PY) manage.py ensure_login --url http://$(HOST):$(WEB1_PORT)/ --random-password
	@echo "FlowMaestro cluster: http://$(HOST):$(WEB1_PORT)/ and http://$(HOST):$(WEB2_PORT)/," \
		"Flower http://$(HOST):$(FLOWER_PORT)/ (Ctrl-C stops it)"
	@# Redis runs beside honcho, not under it: honcho stops every process at once, and the
	@# workers' warm shutdown (acknowledging their tasks, handing their runs over) needs
	@# Redis, so it starts first and stops last (the trap, after honcho has stopped the rest).
	@! redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1 || { echo "make cluster: something already answers" \
		"on port $(REDIS_PORT) (REDIS_PORT=… moves the cluster's Redis)"; exit 1; }
	redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
		--pidfile $(REDIS_RUN).pid --logfile $(REDIS_RUN).log && \
	trap 'kill $$(cat $(REDIS_RUN).pid 2>/dev/null) 2>/dev/null; rm -f $(REDIS_RUN).pid' EXIT INT TERM && \
	until redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1; do sleep 0.1; done && \
	$(CLUSTER_ENV) $(VENV)/bin/honcho start -f Procfile

setup: deps frontend

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)

venv: $(VENV)/bin/activate

# Set-up steps run again only when what they depend on changed, so a second `make run`
# starts in seconds: the Python packages when pyproject.toml changed (a stamp in the venv),
# the front end (a ~20 s build) when its sources, the lock file or the build's
# configuration are newer than the last build's manifest. Directories are listed with the
# files, so adding or deleting a source file counts as a change.
DEPS_STAMP := $(VENV)/.flowmaestro-deps
FRONTEND_SOURCES := $(shell find editor/frontend/src) package.json package-lock.json vite.config.ts \
	tsconfig.json tsconfig.node.json
FRONTEND_MANIFEST := static/dist/.vite/manifest.json

deps: $(DEPS_STAMP)

$(DEPS_STAMP): pyproject.toml | venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	@touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules/.package-lock.json

frontend: $(FRONTEND_MANIFEST)

$(FRONTEND_MANIFEST): node_modules/.package-lock.json $(FRONTEND_SOURCES)
	npm run build

migrate: deps
	$(PY) manage.py migrate --noinput

# Where this server is reached: the login it prints and the demo API the demo workflows
# call follow PORT and HOST (or FLOWMAESTRO_SITE_URL), so `make run PORT=8765` gives demos
# that call port 8765, not a server that may not be there.
SITE_URL = $(patsubst %/,%,$(or $(FLOWMAESTRO_SITE_URL),http://$(HOST):$(PORT)))

demo: migrate
	$(PY) manage.py ensure_login --url $(SITE_URL)/
	$(PY) manage.py load_demo --user admin --api-base $(SITE_URL)/demo-api

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
# tests/scaleout (Celery workers, two daphne) always runs on a PostgreSQL database of its
# own, whatever the pass: it runs once, in the PostgreSQL pass.
pytest: vitest pytest-sqlite pytest-postgres

vitest:
	npm test

pytest-sqlite:
	$(VENV)/bin/pytest -q --durations=30 --database=sqlite --ignore=tests/scaleout

pytest-postgres:
	$(VENV)/bin/pytest -q --durations=30 --database=postgres

clean:
	rm -rf static/dist node_modules $(VENV) db.sqlite3 .test-db-*.sqlite3*

# The screenshots of docs/parallel-execution.md, taken again by the browser test that
# checks them (a normal test run writes them to test-artifacts/ instead).
doc-screenshots: setup
	FLOWMAESTRO_WRITE_DOC_SCREENSHOTS=1 $(VENV)/bin/pytest -q tests/browser/test_docs_screenshots.py
