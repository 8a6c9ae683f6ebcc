"""Fail fast on a database the process cannot reach. With Django's PostgreSQL pool, a wrong
DATABASE_URL (closed port, unknown database, bad password) made the first query wait for
FLOWMAESTRO_DB_POOL_TIMEOUT (30 s) while psycopg_pool logged the cause a dozen times, then
ended in a long traceback whose last line said only "couldn't get a connection after 30.00
sec"; daphne even started and answered every request that way. Processes that need the
database (daphne, a Celery worker, `migrate`, `ensure_login`, `runengine`, `load_demo`)
open one plain connection first and, when it fails, exit with one line that names the
server and the driver's reason."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings

# OPTIONS of FlowMaestro's settings that are Django's, not connection parameters.
DJANGO_ONLY_OPTIONS = {"pool", "server_side_binding", "prepare_threshold", "isolation_level", "assume_role"}
CONNECT_TIMEOUT_S = 10


def database_problem() -> str | None:
    """None when the default database answers (or is SQLite), else one line saying why not."""
    db: dict[str, Any] = dict(settings.DATABASES["default"])
    if db["ENGINE"] != "django.db.backends.postgresql":
        return None
    import psycopg

    params: dict[str, Any] = {k: v for k, v in (db.get("OPTIONS") or {}).items() if k not in DJANGO_ONLY_OPTIONS}
    params.update({key: db[name] for key, name in (("dbname", "NAME"), ("user", "USER"), ("password", "PASSWORD"),
                                                   ("host", "HOST"), ("port", "PORT")) if db.get(name)})
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    try:
        psycopg.connect(**params).close()
    except psycopg.Error as exc:
        where = f"{db.get('USER') or '(default user)'}@{db.get('HOST') or '(local socket)'}"
        where += f":{db.get('PORT') or 5432}/{db.get('NAME')}"
        reason = " ".join(str(exc).split())  # psycopg's message spans lines
        return f"cannot connect to the database DATABASE_URL names ({where}): {reason}"
    return None


def refuse_unreachable_database(what: str) -> None:
    """Exit 1 with one line on stderr when the database cannot be reached. `what` names the
    process for the message ("daphne", "the worker", "manage.py migrate")."""
    problem = database_problem()
    if problem is not None:
        print(f"Refusing to start {what}: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(1)
