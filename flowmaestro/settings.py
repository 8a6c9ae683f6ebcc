"""Settings for FlowMaestro.

Everything that differs between a laptop and a deployment comes from environment
variables (SPEC §2) with safe defaults: debug is off unless asked for, hosts are local,
the database is a SQLite file in WAL mode and the channel layer is in memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import django_stubs_ext

# Lets admin/queryset classes be subscripted for type hints at run time.
django_stubs_ext.monkeypatch()


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
# A fixed development key is only acceptable while debugging; deployments must set one.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "flowmaestro-insecure-development-key-change-me"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]
CSRF_FAILURE_VIEW = "flowmaestro.api_errors.csrf_failure"  # JSON for /api/ paths
CSRF_TRUSTED_ORIGINS = [f"http://{h}:8000" for h in ALLOWED_HOSTS]

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
    "channels",
    "editor",
    "engine",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "flowmaestro.static_files.StaticFilesMiddleware",  # WhiteNoise, async-capable
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
        raise ValueError(f"FLOWMAESTRO_DB_PGBOUNCER must be session or transaction, not {_pgbouncer!r}")
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
            "timeout": float(os.environ.get("FLOWMAESTRO_DB_POOL_TIMEOUT") or 30),
        }
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
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "flowmaestro.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "flowmaestro.api_errors.json_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "FlowMaestro API",
    "VERSION": "1.0.0",
    # Executions and node runs both have a `status` with different choices: name them apart.
    "ENUM_NAME_OVERRIDES": {
        "ExecutionStatusEnum": "engine.models.ExecutionStatus",
        "NodeRunStatusEnum": "engine.models.NodeRunStatus",
    },
}

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 5000},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 5000}}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL

EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "flowmaestro@localhost")

# Engine (SPEC §2)
FLOWMAESTRO_EXECUTOR = os.environ.get("FLOWMAESTRO_EXECUTOR", "threads")
FLOWMAESTRO_ENGINE_IN_PROCESS = env_bool("FLOWMAESTRO_ENGINE_IN_PROCESS", True)
# The web process's GIL-bound threads on one core (flowmaestro.affinity): "auto", a CPU
# number, or "off". Default: on for the single-process setup (engine inside daphne); off
# for scale-out, where several processes share the cores.
FLOWMAESTRO_PIN_THREADS = os.environ.get("FLOWMAESTRO_PIN_THREADS", "auto" if FLOWMAESTRO_ENGINE_IN_PROCESS else "off")
FLOWMAESTRO_MAX_WORKERS = env_int("FLOWMAESTRO_MAX_WORKERS", 32)
FLOWMAESTRO_HTTP_ALLOW_PRIVATE = env_bool("FLOWMAESTRO_HTTP_ALLOW_PRIVATE", False)
# Threads serving HTTP requests in each daphne process (flowmaestro.sync_http).
FLOWMAESTRO_HTTP_THREADS = env_int("FLOWMAESTRO_HTTP_THREADS", 8)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
    "loggers": {"engine": {"level": os.environ.get("FLOWMAESTRO_LOG_LEVEL", "INFO")}},
}

# Serve static files straight from STATICFILES_DIRS (static/dist is built by Vite) so a
# fresh clone needs no collectstatic step.
WHITENOISE_USE_FINDERS = True

# Gen-0 threshold of Python's garbage collector in engine processes (engine.runtime); 0 keeps Python's.
FLOWMAESTRO_GC_THRESHOLD = env_int("FLOWMAESTRO_GC_THRESHOLD", 50_000)
# How often an engine looks for new work and signals, and after how long without a
# heartbeat another engine may take over an execution (a crashed process).
FLOWMAESTRO_POLL_INTERVAL = float(os.environ.get("FLOWMAESTRO_POLL_INTERVAL", "0.5"))
FLOWMAESTRO_STALE_AFTER = float(os.environ.get("FLOWMAESTRO_STALE_AFTER", "15"))

# --- Triggers and housekeeping (webhooks, schedules, retention) ---------------------------
# Engine processes run a housekeeping thread: due schedules every FLOWMAESTRO_SCHEDULE_INTERVAL
# seconds (claimed with compare-and-set, so any number of processes may run it).
FLOWMAESTRO_HOUSEKEEPING = env_bool("FLOWMAESTRO_HOUSEKEEPING", True)
FLOWMAESTRO_SCHEDULE_INTERVAL = float(os.environ.get("FLOWMAESTRO_SCHEDULE_INTERVAL", "1"))
# An occurrence later than this many seconds counts as missed while down (catch-up policy).
FLOWMAESTRO_SCHEDULE_GRACE = float(os.environ.get("FLOWMAESTRO_SCHEDULE_GRACE", "60"))
FLOWMAESTRO_SCHEDULE_CATCH_UP_MAX = env_int("FLOWMAESTRO_SCHEDULE_CATCH_UP_MAX", 10)
# `POST /hooks/{token}?wait=…` holds its HTTP thread at most this long for the result.
FLOWMAESTRO_WEBHOOK_WAIT_MAX = float(os.environ.get("FLOWMAESTRO_WEBHOOK_WAIT_MAX", "30"))
