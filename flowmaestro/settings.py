"""Settings for FlowMaestro.

Everything that differs between a laptop and a deployment comes from environment
variables (SPEC §2) with safe defaults: debug is off unless asked for, hosts are local,
the database is a SQLite file in WAL mode and the channel layer is in memory.
"""

from __future__ import annotations

import math
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

# Lets admin/queryset classes be subscripted for type hints at run time.
django_stubs_ext.monkeypatch()


# A setting the environment gets wrong stops the process at start with the variable's name
# and what it takes (ImproperlyConfigured), never a bare "invalid literal for int()" or a
# typo such as FLOWMAESTRO_CSP=of read silently as something else.
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    word = value.strip().lower()
    if word not in _TRUE | _FALSE:
        raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no, on/off), not {value[:40]!r}")
    return word in _TRUE


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = (os.environ.get(name) or "").strip()
    if not value:
        number = default
    elif value.isascii() and value.lstrip("-").isdigit():
        number = int(value)
    else:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value[:40]!r}")
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be {minimum} or more, not {number}")
    return number


def env_float(name: str, default: float) -> float:
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    try:
        number = float(value) if value.isascii() and "_" not in value else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ImproperlyConfigured(f"{name} must be a number (such as 0.5), not {value[:40]!r}")
    return number


BASE_DIR = Path(__file__).resolve().parent.parent

def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# --- Deployment: key, hosts, origins, TLS (README "Production") -----------------------------
DEBUG = env_bool("DJANGO_DEBUG", False)
# The development key lets `manage.py` tools run anywhere; the server itself refuses to
# start on it unless DEBUG is on (flowmaestro.deployment.refuse_insecure_start, called by
# the ASGI application), because a public key lets anyone forge sessions.
DEVELOPMENT_SECRET_KEY = "flowmaestro-insecure-development-key-change-me"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or DEVELOPMENT_SECRET_KEY
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_FAILURE_VIEW = "flowmaestro.api_errors.csrf_failure"  # JSON for /api/ paths
# Same-origin requests pass Django's CSRF origin check by themselves (the Origin is compared
# with the request's own scheme and host, on any port); list here only origins that differ
# from the Host the server sees, e.g. "https://flows.example.com" behind a proxy that
# rewrites Host.
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

# Served over HTTPS (FLOWMAESTRO_TLS): cookies only over TLS, HSTS, plain HTTP redirected.
FLOWMAESTRO_TLS = env_bool("FLOWMAESTRO_TLS", False)
if FLOWMAESTRO_TLS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("FLOWMAESTRO_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("FLOWMAESTRO_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("FLOWMAESTRO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("FLOWMAESTRO_HSTS_PRELOAD", True)
    # TLS usually ends at a reverse proxy, which tells the app with this header that the
    # client's request was HTTPS. Trusting it is only safe when the proxy always sets it
    # (and strips a client's own); empty when daphne itself terminates TLS.
    _proxy_header = os.environ.get("FLOWMAESTRO_TLS_PROXY_HEADER", "X-Forwarded-Proto").strip()
    if _proxy_header:
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")
# --- end of deployment: key, hosts, origins, TLS --------------------------------------------

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by WhiteNoise for /api/docs/
    "channels",
    "axes",  # login throttling (README "Production")
    "csp",  # Content-Security-Policy (README "Production")
    "editor",
    "engine",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "flowmaestro.static_files.StaticFilesMiddleware",  # WhiteNoise, async-capable
    "flowmaestro.nul_guard.nul_guard",  # %00 in an address: 400 (PostgreSQL text cannot hold it)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout found during authentication into the
    # lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "flowmaestro.urls"
APPEND_SLASH = False  # the API accepts both forms itself; never redirect a POST

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",  # {{ CSP_NONCE }} for the pages' <style> elements
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "flowmaestro.asgi.application"

# --- Database (DATABASES block; README "Configuration" and "PostgreSQL") -------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Requests are served on long-lived threads (flowmaestro.sync_http) that keep
        # their connection; opening one per request was ~1 ms of every API call.
        conn_max_age=env_int("FLOWMAESTRO_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the timeline read while the engine writes; IMMEDIATE transactions take the
    # write lock up front so concurrent writers queue on busy_timeout instead of failing
    # with "database is locked" when a read transaction is upgraded.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=30000;"
            "PRAGMA cache_size=-64000;"
        ),
    }
    # A file (not :memory:) so that daphne and engine subprocesses of the tests can share
    # it; one per test process so that concurrent test runs never share a database.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("FLOWMAESTRO_TEST_DB") or str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A bounded connection budget per process: Django's PostgreSQL pool (psycopg_pool).
    # The threads that use the database are the HTTP threads, the engine's coordinator,
    # writer and announcer, the housekeeping thread (schedules, retention) and the
    # websocket consumers' database thread; node bodies on worker threads never touch it. Each takes a connection from the pool for a request
    # (or, for the engine's threads, for the engine's life) and gives it back; when all are
    # taken, a thread waits up to the timeout, then gets an error instead of opening more.
    # Budget for N processes: N × FLOWMAESTRO_DB_POOL_MAX ≤ the server's max_connections.
    _pgbouncer = os.environ.get("FLOWMAESTRO_DB_PGBOUNCER", "").strip().lower()
    if _pgbouncer not in {"", "session", "transaction"}:
        raise ImproperlyConfigured(f"FLOWMAESTRO_DB_PGBOUNCER must be session or transaction, not {_pgbouncer!r}")
    _transaction_pooling = _pgbouncer == "transaction"
    # Default: the HTTP threads (FLOWMAESTRO_HTTP_THREADS) + coordinator, writer, announcer,
    # housekeeping and consumers' thread (5) + 2 spare (management commands, admin actions). Behind
    # PgBouncer in transaction mode PgBouncer pools; a second pool in front of it only
    # holds client slots, so the default is off (0) there.
    _pool_max = env_int("FLOWMAESTRO_DB_POOL_MAX",
                        0 if _transaction_pooling else env_int("FLOWMAESTRO_HTTP_THREADS", 8) + 5 + 2)
    if _pool_max > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # required by the pool: "closing" gives it back
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = False  # broken connections are dropped by the pool
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(env_int("FLOWMAESTRO_DB_POOL_MIN", 2), _pool_max),
            "max_size": _pool_max,
            "timeout": env_float("FLOWMAESTRO_DB_POOL_TIMEOUT", 30),
        }
    # Server-side binding: the query text and its values go apart, and psycopg prepares a
    # statement on its 5th run on a connection, so PostgreSQL stops parsing and planning
    # it (the engine's writes and the run request are the same few statements over and
    # over). Django's default quotes every value into new SQL text in Python, which can
    # never be prepared. Measured on `bench scaleout`'s cluster: PostgreSQL's CPU per run a
    # quarter lower, the whole cluster's ~5 %. (Django turns preparing off for the sake of
    # poolers; behind PgBouncer in transaction mode it stays off, below.)
    if env_bool("FLOWMAESTRO_DB_SERVER_BINDING", True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
    if _transaction_pooling:
        # Consecutive transactions may land on different server connections: no
        # server-side cursors (.iterator() holds one open across fetches) and no
        # server-side prepared statements (psycopg prepares a query run 5 times).
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
# --- end of the database block ----------------------------------------------------------------------

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = None  # files are served from STATICFILES_DIRS by WhiteNoise; no collectstatic
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/workflows/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REST_FRAMEWORK = {
    # Token first: DRF answers a missing or bad credential with 401 and the first class's
    # challenge (`WWW-Authenticate: Token`); the session names none, so first it made every
    # such answer a 403. A session without its CSRF token is still refused with 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "flowmaestro.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["flowmaestro.json_parser.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "flowmaestro.api_errors.json_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Anonymous requests are counted by REMOTE_ADDR only. Unset, DRF keys them on the whole
    # X-Forwarded-For header a client sends, so a made-up one per request escaped the anonymous
    # rate. Behind a proxy, daphne's --proxy-headers puts the client's address in REMOTE_ADDR.
    "NUM_PROXIES": 0,
    # Rates: FLOWMAESTRO_THROTTLE_RATES below (read on every request, so tests can change them).
    "DEFAULT_THROTTLE_CLASSES": [
        "flowmaestro.throttling.AnonThrottle",
        "flowmaestro.throttling.UserThrottle",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "FlowMaestro API",
    "VERSION": "1.0.0",
    # The schema maps every route and field: for logged-in users only, like the API itself.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Executions and node runs both have a `status` with different choices: name them apart.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ExecutionStatusEnum": "engine.models.ExecutionStatus",
        "NodeRunStatusEnum": "engine.models.NodeRunStatus",
    },
}

# channels-redis reads a channel with a blocking BZPOPMIN of 5 s (`brpop_timeout`), and
# redis-py 8 gives each connection a 5 s socket timeout by default: a stream with nothing to
# receive for 5 s raced its own read, and on a loaded machine the client gave up first,
# raising redis' TimeoutError into the websocket consumer (the stream closed) and losing
# any message Redis popped meanwhile. The socket waits well past the blocking read.
CHANNEL_LAYER_SOCKET_TIMEOUT_S = 30.0


def redis_channel_layers(url: str) -> dict[str, Any]:
    """`CHANNEL_LAYERS` on the Redis at `url` (also what the tests' Redis layer uses)."""
    host = {"address": url, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT_S}
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                        "CONFIG": {"hosts": [host], "capacity": 5000}}}


REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 5000}}}

# --- Celery (FLOWMAESTRO_EXECUTOR=celery; README "Scaling out") -----------------------------
# Two queues: `executions` (a recorded run for a worker's coordinator to claim) and `nodes`
# (remote-capable node bodies: http, JavaScript). Results do not use a result backend: a
# node task pushes its outcome to its coordinator's Redis list (engine.executors.celery_executor).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_ROUTES = {"flowmaestro.executions.*": {"queue": "executions"}, "flowmaestro.nodes.*": {"queue": "nodes"},
                      "flowmaestro.bench.*": {"queue": "nodes"}}
CELERY_TASK_DEFAULT_QUEUE = "executions"
# A message on `executions` is only a wake-up: the run itself is already recorded, and every
# coordinator's poll (FLOWMAESTRO_POLL_INTERVAL) claims queued runs whether or not a message
# came. So that queue is consumed without acknowledgements (`no_ack`): a wake-up lost with
# its worker costs at most one poll interval (with acknowledgements it came back only after
# the visibility timeout, an hour), and each run spares the worker the broker's unacked
# bookkeeping (two Redis transactions, ~40% of a worker's CPU per run in `bench scaleout`).
# Node bodies (`nodes`) keep late acknowledgement and redelivery.
# (Declared as Celery would create them, in its dict form: no kombu import in the settings.)
CELERY_TASK_QUEUES = {
    "executions": {"exchange": "executions", "exchange_type": "direct", "routing_key": "executions", "no_ack": True},
    "nodes": {"exchange": "nodes", "exchange_type": "direct", "routing_key": "nodes"},
}
CELERY_TASK_IGNORE_RESULT = True
# At-least-once: a task is acknowledged after it ran, and requeued when its worker process
# dies under it; the coordinator records the first result of an attempt only.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One task per slot at a time: a long node body never holds others back in a prefetch buffer.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A worker process hosts one coordinator (engine.tasks) and runs node bodies on threads:
# JavaScript runs in the V8 sandbox's own processes and HTTP waits on I/O, so threads use
# every core; `--concurrency` (default FLOWMAESTRO_CELERY_CONCURRENCY) is the slots.
CELERY_WORKER_POOL = os.environ.get("FLOWMAESTRO_CELERY_POOL", "threads")
CELERY_WORKER_CONCURRENCY = env_int("FLOWMAESTRO_CELERY_CONCURRENCY", 8)
# Redis redelivers a task whose worker died (unacknowledged) after the visibility timeout:
# keep it above the longest node body (a body still running then would run twice; its
# second result is ignored). The sweep for such tasks runs a few times per timeout.
FLOWMAESTRO_CELERY_VISIBILITY_TIMEOUT = env_int("FLOWMAESTRO_CELERY_VISIBILITY_TIMEOUT", 3600)
# Faster than the visibility timeout: each worker process renews a lease key in Redis, and a
# coordinator publishes again the node bodies whose worker's lease lapsed (engine.tasks,
# engine.executors.celery_executor). A body whose worker died is running again in about this
# many seconds, whatever the visibility timeout; a worker merely stalled that long runs it
# twice (the second result is ignored).
FLOWMAESTRO_WORKER_LOST_AFTER = env_float("FLOWMAESTRO_WORKER_LOST_AFTER", 15)
if not 1 <= FLOWMAESTRO_WORKER_LOST_AFTER <= 3600:
    raise ImproperlyConfigured("FLOWMAESTRO_WORKER_LOST_AFTER must be between 1 and 3600 seconds")
# How node bodies ride Celery (engine.executors.celery_executor): `runners` (default) — a
# Celery task per worker slot runs a coordinator's bodies from its Redis list, for up to
# FLOWMAESTRO_RUNNER_SLICE seconds before it lets other work have the slot; `tasks` — a
# Celery task per body (Flower then lists each body by its node run id), at several
# milliseconds of Celery's own CPU per body.
FLOWMAESTRO_NODE_BODIES = os.environ.get("FLOWMAESTRO_NODE_BODIES") or "runners"
if FLOWMAESTRO_NODE_BODIES not in ("runners", "tasks"):
    raise ImproperlyConfigured(f"FLOWMAESTRO_NODE_BODIES must be runners or tasks, not {FLOWMAESTRO_NODE_BODIES!r}")
FLOWMAESTRO_RUNNER_SLICE = env_float("FLOWMAESTRO_RUNNER_SLICE", 2)
if not 0.1 <= FLOWMAESTRO_RUNNER_SLICE <= 600:
    raise ImproperlyConfigured("FLOWMAESTRO_RUNNER_SLICE must be between 0.1 and 600 seconds")
# A worker's warm shutdown (SIGTERM): its coordinator starts nothing more, records the
# results that come within these seconds, then hands its runs back (another coordinator
# claims them at once); the node bodies its slots run are given back to their coordinators
# at once. Kept well under the stop timeouts of honcho (5 s), systemd and Compose.
FLOWMAESTRO_WORKER_STOP_GRACE = env_float("FLOWMAESTRO_WORKER_STOP_GRACE", 1)
if not 0 <= FLOWMAESTRO_WORKER_STOP_GRACE <= 600:
    raise ImproperlyConfigured("FLOWMAESTRO_WORKER_STOP_GRACE must be between 0 and 600 seconds")
# Kombu's Redis transport, keeping one client per channel instead of building one per
# published message (engine/executors/redis_transport.py); the broker URL stays redis://.
CELERY_BROKER_TRANSPORT = "engine.executors.redis_transport:Transport"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": FLOWMAESTRO_CELERY_VISIBILITY_TIMEOUT,
    "unacked_restore_interval": max(1, min(10, FLOWMAESTRO_CELERY_VISIBILITY_TIMEOUT // 4)),
    "unacked_restore_throttle": 1,
}
# A second guard after the node's own `timeout` and the sandbox's limits (enforced by
# Celery with the prefork pool; the thread pool cannot stop a thread).
CELERY_TASK_SOFT_TIME_LIMIT = env_int("FLOWMAESTRO_CELERY_SOFT_TIME_LIMIT", 3000)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
# Task events feed Flower (`celery -A flowmaestro flower`, in `make cluster`). Off unless asked
# for: each costs three more Redis messages per node body, and Flower turns them on in
# every worker itself when it starts (its `enable_events`). No "sent" event at all: it
# doubled the cost of publishing a node task.
CELERY_WORKER_SEND_TASK_EVENTS = env_bool("FLOWMAESTRO_CELERY_TASK_EVENTS", False)
CELERY_TASK_SEND_SENT_EVENT = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = True  # engine logs (e.g. a failed publish) reach the worker log

EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "flowmaestro@localhost")
# The SMTP server a cancel's `notify` mail goes through (with the smtp backend above).
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost").strip() or "localhost"
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25, minimum=1)
if EMAIL_PORT > 65535:
    raise ImproperlyConfigured(f"DJANGO_EMAIL_PORT must be a port number (1-65535), not {EMAIL_PORT}")
EMAIL_HOST_USER = os.environ.get("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = env_bool("DJANGO_EMAIL_USE_SSL", False)  # TLS from the first byte, usually port 465
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("DJANGO_EMAIL_USE_TLS and DJANGO_EMAIL_USE_SSL exclude each other: "
                               "set the one your mail server speaks")
# Django waits for a mail server forever by default; a server that accepts the connection
# and never answers would then hold the mail thread of every later cancel.
EMAIL_TIMEOUT = env_float("DJANGO_EMAIL_TIMEOUT", 10.0)
if not 0.1 <= EMAIL_TIMEOUT <= 600:
    raise ImproperlyConfigured(f"DJANGO_EMAIL_TIMEOUT must be between 0.1 and 600 seconds, not {EMAIL_TIMEOUT}")

# Engine (SPEC §2)
FLOWMAESTRO_EXECUTOR = os.environ.get("FLOWMAESTRO_EXECUTOR", "threads").strip().lower()
if FLOWMAESTRO_EXECUTOR not in ("threads", "celery"):
    raise ImproperlyConfigured(f"FLOWMAESTRO_EXECUTOR must be threads or celery, not {FLOWMAESTRO_EXECUTOR!r}")
if FLOWMAESTRO_EXECUTOR == "celery" and not REDIS_URL:
    raise ImproperlyConfigured("FLOWMAESTRO_EXECUTOR=celery needs REDIS_URL (the broker and the results' way back)")
# With Celery, coordinators live in the workers: the web tier only records and enqueues.
FLOWMAESTRO_ENGINE_IN_PROCESS = env_bool("FLOWMAESTRO_ENGINE_IN_PROCESS", FLOWMAESTRO_EXECUTOR != "celery")
# The web process's GIL-bound threads on one core (flowmaestro.affinity): "auto", a CPU
# number, or "off". Default: on for the single-process setup (engine inside daphne); off
# for scale-out, where several processes share the cores.
FLOWMAESTRO_PIN_THREADS = os.environ.get("FLOWMAESTRO_PIN_THREADS", "auto" if FLOWMAESTRO_ENGINE_IN_PROCESS else "off")
FLOWMAESTRO_MAX_WORKERS = env_int("FLOWMAESTRO_MAX_WORKERS", 32)
# Worker threads one user's node bodies may hold at once (0: one fewer than all of them), so
# another user's node run always finds one (engine/executors/thread.py).
FLOWMAESTRO_MAX_WORKERS_PER_USER = env_int("FLOWMAESTRO_MAX_WORKERS_PER_USER", 0, minimum=0)
FLOWMAESTRO_HTTP_ALLOW_PRIVATE = env_bool("FLOWMAESTRO_HTTP_ALLOW_PRIVATE", False)
# The public base URL of this server (scheme://host[:port]), when it differs from what a
# request shows (behind a proxy) or when there is no request (manage.py load_demo).
FLOWMAESTRO_SITE_URL = os.environ.get("FLOWMAESTRO_SITE_URL", "").rstrip("/")
# Threads serving HTTP requests in each daphne process (flowmaestro.sync_http).
FLOWMAESTRO_HTTP_THREADS = env_int("FLOWMAESTRO_HTTP_THREADS", 8)
# The editor's expression tests hold an HTTP thread each (editor.services.expression_test_slot).
FLOWMAESTRO_EXPRESSION_TESTS_MAX = env_int("FLOWMAESTRO_EXPRESSION_TESTS_MAX", max(2, FLOWMAESTRO_HTTP_THREADS // 2),
                                           minimum=1)
FLOWMAESTRO_EXPRESSION_TESTS_PER_USER = env_int("FLOWMAESTRO_EXPRESSION_TESTS_PER_USER", 2, minimum=1)
# Live streams (websockets) one user may have open at once per daphne process; past it the
# stream is closed with 4429 (engine.live.consumers). A page holds one or two.
FLOWMAESTRO_WS_STREAMS_PER_USER = env_int("FLOWMAESTRO_WS_STREAMS_PER_USER", 50, minimum=1)
# How deep JSON may nest (engine.core.json_bounds): request bodies (definitions, run
# inputs, signal data; a deeper one is a 400), and each node run's output (a deeper one
# fails that node run).
FLOWMAESTRO_JSON_MAX_DEPTH = env_int("FLOWMAESTRO_JSON_MAX_DEPTH", 64)
FLOWMAESTRO_OUTPUT_MAX_DEPTH = env_int("FLOWMAESTRO_OUTPUT_MAX_DEPTH", 128)
# How long a node run's output, and its config with the templates filled in, may be in
# characters of JSON: templates and joins can multiply a value without the definition
# growing; a longer one fails that node run.
FLOWMAESTRO_OUTPUT_MAX_BYTES = env_int("FLOWMAESTRO_OUTPUT_MAX_BYTES", 64_000_000, minimum=10_000)
# How many values and object keys an `http` node's JSON answer may parse into, counted in
# its text before parsing (engine.core.json_bounds): 20 MB of `[{},{},…]` parses into
# ~480 MB of objects; past it that node run fails.
FLOWMAESTRO_HTTP_JSON_MAX_VALUES = env_int("FLOWMAESTRO_HTTP_JSON_MAX_VALUES", 1_000_000, minimum=1000)
# Items one loop node run may have (a longer array fails that loop node run before any item
# starts), and node runs one execution may record, retries and loop items included (past
# it the execution fails): nested loops multiply rows without any one loop being long.
FLOWMAESTRO_LOOP_MAX_ITEMS = env_int("FLOWMAESTRO_LOOP_MAX_ITEMS", 1_000_000, minimum=1)
FLOWMAESTRO_EXECUTION_MAX_NODE_RUNS = env_int("FLOWMAESTRO_EXECUTION_MAX_NODE_RUNS", 5_000_000, minimum=100)
# Limits of one JavaScript evaluation (transform `custom`, condition) in the sandbox.
FLOWMAESTRO_EXPRESSION_TIMEOUT_MS = env_int("FLOWMAESTRO_EXPRESSION_TIMEOUT_MS", 1000, minimum=1)
FLOWMAESTRO_EXPRESSION_MEMORY_MB = env_int("FLOWMAESTRO_EXPRESSION_MEMORY_MB", 64, minimum=1)
# Read by each sandbox worker process itself (engine/expressions/worker.py); read here too so
# that a value written wrong stops the process at start naming it, rather than a bare
# "invalid literal for int()" at the first expression.
FLOWMAESTRO_SANDBOX_HEAP_CEILING_MB = env_int("FLOWMAESTRO_SANDBOX_HEAP_CEILING_MB", 512, minimum=1)
# Bounded answers (engine.node_run_pages): node runs kept whole in an execution's detail,
# the default page of /node-runs, the most JSON a page carries, bars in one timeline.
FLOWMAESTRO_NODE_RUNS_INLINE = env_int("FLOWMAESTRO_NODE_RUNS_INLINE", 1000, minimum=1)
FLOWMAESTRO_NODE_RUNS_PAGE_SIZE = env_int("FLOWMAESTRO_NODE_RUNS_PAGE_SIZE", 500, minimum=1)
FLOWMAESTRO_PAGE_MAX_BYTES = env_int("FLOWMAESTRO_PAGE_MAX_BYTES", 4_000_000, minimum=10_000)
FLOWMAESTRO_TIMELINE_MAX_BARS = env_int("FLOWMAESTRO_TIMELINE_MAX_BARS", 5000, minimum=1)
# Stored bounds (editor.services): workflows one user keeps (creating one more is a 409) and
# versions one workflow keeps (a save past it first removes the oldest versions no
# execution runs on; a 409 only when none can go).
FLOWMAESTRO_MAX_WORKFLOWS_PER_USER = env_int("FLOWMAESTRO_MAX_WORKFLOWS_PER_USER", 1000, minimum=1)
FLOWMAESTRO_MAX_VERSIONS_PER_WORKFLOW = env_int("FLOWMAESTRO_MAX_VERSIONS_PER_WORKFLOW", 500, minimum=2)
# Pinned test data (editor.pins): the JSON one node's pin may hold, and how many nodes of
# one workflow may be pinned. Every pin in force is copied onto an execution started with
# `usePinnedData`, so together they also bound that run's stored state.
FLOWMAESTRO_PINNED_DATA_MAX_BYTES = env_int("FLOWMAESTRO_PINNED_DATA_MAX_BYTES", 1_048_576, minimum=2)
FLOWMAESTRO_PINNED_DATA_PER_WORKFLOW = env_int("FLOWMAESTRO_PINNED_DATA_PER_WORKFLOW", 20, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every printed line goes through the filter: a webhook's token (its URL is the secret)
    # is cut wherever a path is logged (flowmaestro.secret_paths).
    "filters": {"webhook_tokens": {"()": "flowmaestro.secret_paths.RedactWebhookTokens"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["webhook_tokens"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
    "loggers": {
        "engine": {"level": os.environ.get("FLOWMAESTRO_LOG_LEVEL", "INFO")},
        # httpx logs every request's whole URL at INFO, and Celery workers log at INFO: the
        # query strings of `http` nodes (API keys among them) would land in every worker's
        # log. The node run records its request already, under its owner's login.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# Serve static files straight from STATICFILES_DIRS (static/dist is built by Vite) so a
# fresh clone needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
# Vite names every built asset after its content (`editor-Dku3E3d1.js`): such a file never
# changes, so browsers may keep it for a year without asking again (`immutable`). The pages
# and the manifest are not hashed and keep WhiteNoise's short max-age. Vite's build writes
# `.gz` and `.br` next to each script and style sheet, which WhiteNoise serves to browsers
# that accept them.
WHITENOISE_IMMUTABLE_FILE_TEST = r"^/static/dist/assets/.+-[A-Za-z0-9_-]{8}\.[a-z0-9]+$"

# Gen-0 threshold of Python's garbage collector in engine processes (engine.runtime); 0 keeps Python's.
FLOWMAESTRO_GC_THRESHOLD = env_int("FLOWMAESTRO_GC_THRESHOLD", 50_000)
# With it: a full collection whenever this many more small objects are held than after the
# last one (engine.runtime; 0: never — garbage of big answers then waits for a rare full pass).
FLOWMAESTRO_GC_COLLECT_GROWTH = env_int("FLOWMAESTRO_GC_COLLECT_GROWTH", 1_000_000, minimum=0)
# How often an engine looks for new work and signals, and after how long without a
# heartbeat another engine may take over an execution (a crashed process).
FLOWMAESTRO_POLL_INTERVAL = env_float("FLOWMAESTRO_POLL_INTERVAL", 0.5)
FLOWMAESTRO_STALE_AFTER = env_float("FLOWMAESTRO_STALE_AFTER", 15)


# --- Throttling: logins (django-axes) and the API (DRF) — README "Production" ---------------
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username+address before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins (login page and admin) are counted per username *and* client address: an
# attacker guessing alice's password from one address is locked out of alice after
# AXES_FAILURE_LIMIT tries, while alice (elsewhere) and every other user still log in.
# Behind a reverse proxy run daphne with --proxy-headers so the client address is the
# user's, not the proxy's.
AXES_FAILURE_LIMIT = env_int("FLOWMAESTRO_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("FLOWMAESTRO_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "flowmaestro.deployment.lockout_response"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"  # counts shared by every process
# Axes logs every login (AccessLog) and failed login (AccessFailureLog) for the admin; the
# engine's housekeeping deletes entries older than this many days, hourly.
FLOWMAESTRO_LOGIN_LOG_DAYS = env_int("FLOWMAESTRO_LOGIN_LOG_DAYS", 30, minimum=1)


def _rate(name: str, default: str) -> str | None:
    value = os.environ.get(name, default).strip()
    return None if value.lower() in {"", "off", "none", "0"} else value


# API requests per client: anonymous ones by address, logged-in ones by user. The defaults
# are generous (a script may post a few hundred runs at once); `manage.py bench` and the
# tests turn them off, and tests/security/test_throttling.py sets small ones.
FLOWMAESTRO_THROTTLE_RATES: dict[str, str | None] = {
    "anon": _rate("FLOWMAESTRO_THROTTLE_ANON", "600/minute"),
    "user": _rate("FLOWMAESTRO_THROTTLE_USER", "6000/minute"),
    # All of one owner's webhooks together (each webhook alone: the anon rate), above the
    # anon rate so that a leaked token, held to its webhook's share, leaves the owner's
    # other webhooks the rest (editor/trigger_api.py HookThrottle).
    "hook_owner": _rate("FLOWMAESTRO_THROTTLE_HOOK_OWNER", "1200/minute"),
}
# Throttle counts are kept in the cache: shared through Redis when there is one, else per
# process (LocMemCache). Each client keeps up to ten small counters per period
# (flowmaestro/throttling.py); LocMemCache's default of 300 entries would cull the counts
# of busy servers at random (and let clients through), so it holds this many instead.
FLOWMAESTRO_THROTTLE_CACHE_ENTRIES = env_int("FLOWMAESTRO_THROTTLE_CACHE_ENTRIES", 100_000, minimum=1000)
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    # Django's Redis cache, keeping its clients (flowmaestro/cache.py says why).
    CACHES = {"default": {"BACKEND": "flowmaestro.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                          "OPTIONS": {"MAX_ENTRIES": FLOWMAESTRO_THROTTLE_CACHE_ENTRIES}}}
# --- end of throttling ---------------------------------------------------------------------

# --- Content-Security-Policy (django-csp 4) — README "Production" ---------------------------
# Every page's script and stylesheet is a file of ours (Vite's bundles, Django admin's); the
# two <style> elements of the page shell carry the per-request nonce. style-src-attr allows
# inline *attributes* only: React Flow positions nodes and edges with style attributes, and
# a style attribute can restyle an element but never run code. Scripts get no inline or
# eval allowance at all.
_CSP_DIRECTIVES = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", NONCE],
    "style-src-attr": ["'unsafe-inline'"],
    "img-src": ["'self'", "data:"],  # data: for the empty favicon and React Flow's SVG markers
    "font-src": ["'self'"],
    "connect-src": ["'self'"],  # the API and the same-origin websockets (ws:/wss: are 'self' in CSP 3)
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# `on` (default): enforced, but only reported under DEBUG so Django's debug pages (inline
# scripts and styles) keep working; `report-only`: never enforced; `off`: no header.
FLOWMAESTRO_CSP = os.environ.get("FLOWMAESTRO_CSP", "on").strip().lower()
if FLOWMAESTRO_CSP not in {"on", "report-only", "off"}:
    raise ImproperlyConfigured(f"FLOWMAESTRO_CSP must be on, report-only or off, not {FLOWMAESTRO_CSP!r}")
if FLOWMAESTRO_CSP == "on" and not DEBUG:
    CONTENT_SECURITY_POLICY = {"DIRECTIVES": _CSP_DIRECTIVES}
elif FLOWMAESTRO_CSP != "off":
    CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": _CSP_DIRECTIVES}
# --- end of Content-Security-Policy ---------------------------------------------------------
# --- Triggers and housekeeping (webhooks, schedules, retention) ---------------------------
# Engine processes run a housekeeping thread: due schedules every FLOWMAESTRO_SCHEDULE_INTERVAL
# seconds (claimed with compare-and-set, so any number of processes may run it).
FLOWMAESTRO_HOUSEKEEPING = env_bool("FLOWMAESTRO_HOUSEKEEPING", True)
FLOWMAESTRO_SCHEDULE_INTERVAL = env_float("FLOWMAESTRO_SCHEDULE_INTERVAL", 1)
# An occurrence later than this many seconds counts as missed while down (catch-up policy).
FLOWMAESTRO_SCHEDULE_GRACE = env_float("FLOWMAESTRO_SCHEDULE_GRACE", 60)
FLOWMAESTRO_SCHEDULE_CATCH_UP_MAX = env_int("FLOWMAESTRO_SCHEDULE_CATCH_UP_MAX", 10)
# `POST /hooks/{token}?wait=…` holds its HTTP thread at most this long for the result.
FLOWMAESTRO_WEBHOOK_WAIT_MAX = env_float("FLOWMAESTRO_WEBHOOK_WAIT_MAX", 30)
# …and at most this many callers wait at once per process (each holds an HTTP thread);
# beyond it a `?wait=` call is answered at once with 202 and `"waited": false`.
FLOWMAESTRO_WEBHOOK_MAX_WAITERS = env_int("FLOWMAESTRO_WEBHOOK_MAX_WAITERS", 2)
# Seconds an HMAC webhook's X-FlowMaestro-Timestamp may be from the server's clock (either
# way); also how long each accepted signature is remembered to refuse its replay. At most an
# hour: a longer window keeps a captured request usable (and the replay cache full) longer.
FLOWMAESTRO_WEBHOOK_TOLERANCE = env_int("FLOWMAESTRO_WEBHOOK_TOLERANCE", 300, minimum=1)
if FLOWMAESTRO_WEBHOOK_TOLERANCE > 3600:
    raise ImproperlyConfigured(
        f"FLOWMAESTRO_WEBHOOK_TOLERANCE must be 3600 (seconds) or less, not {FLOWMAESTRO_WEBHOOK_TOLERANCE}")
# Retention of finished executions (per workflow in its settings panel or the admin;
# these are the defaults). 0 turns a rule off. Executions with an open dead letter are kept.
FLOWMAESTRO_RETENTION_DAYS = env_int("FLOWMAESTRO_RETENTION_DAYS", 30)
FLOWMAESTRO_RETENTION_KEEP_LAST = env_int("FLOWMAESTRO_RETENTION_KEEP_LAST", 0)
# Finished executions older than this many days keep only the events the timeline needs.
FLOWMAESTRO_RETENTION_COMPACT_DAYS = env_float("FLOWMAESTRO_RETENTION_COMPACT_DAYS", 7)
FLOWMAESTRO_RETENTION_INTERVAL = env_float("FLOWMAESTRO_RETENTION_INTERVAL", 60)
FLOWMAESTRO_RETENTION_BATCH = env_int("FLOWMAESTRO_RETENTION_BATCH", 500)  # rows per delete
FLOWMAESTRO_RETENTION_BUDGET = env_float("FLOWMAESTRO_RETENTION_BUDGET", 2)  # seconds per pass
# Seconds between the housekeeping's exports of finished executions as OpenTelemetry traces
# (engine.tracing; a no-op without OTEL_EXPORTER_OTLP_ENDPOINT). The README documented it
# before anything read it.
FLOWMAESTRO_TRACE_EXPORT_INTERVAL = env_float("FLOWMAESTRO_TRACE_EXPORT_INTERVAL", 1)
if not 0.1 <= FLOWMAESTRO_TRACE_EXPORT_INTERVAL <= 3600:
    raise ImproperlyConfigured("FLOWMAESTRO_TRACE_EXPORT_INTERVAL must be between 0.1 and 3600 seconds")
