"""The database connection budget of a process (README, "PostgreSQL"): settings from the
environment, engine threads that give their connection back when the engine stops, and a
daphne process that never holds more than its pool's maximum however many requests come."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from engine import runtime, services
from tests.daphne import running_daphne
from tests.pg import current_database_url, on_postgres

ROOT = Path(__file__).resolve().parents[2]
PG_URL = "postgres://u:pw@db.example/flowmaestro"


def database_settings(**env: str) -> tuple[int, dict[str, Any] | str]:
    """settings.DATABASES["default"] as a fresh process computes it from `env`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWMAESTRO_DB_", "FLOWMAESTRO_HTTP"))}
    environ.update(env)
    done = subprocess.run(
        [sys.executable, "-c", "import json; from flowmaestro import settings; "
                               "print(json.dumps(settings.DATABASES['default'], default=str))"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
    )
    if done.returncode != 0:
        return done.returncode, done.stderr
    return 0, json.loads(done.stdout)


def test_postgresql_gets_a_pool_sized_from_the_process_threads_and_the_environment() -> None:
    code, default = database_settings(DATABASE_URL=PG_URL)
    assert code == 0, default
    assert isinstance(default, dict)
    # 8 HTTP threads + coordinator, writer, announcer, housekeeping, consumers' thread + 2 spare.
    assert default["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 15, "timeout": 30.0}
    assert default["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections

    code, sized = database_settings(DATABASE_URL=PG_URL, FLOWMAESTRO_HTTP_THREADS="2",
                                    FLOWMAESTRO_DB_POOL_TIMEOUT="5")
    assert isinstance(sized, dict) and sized["OPTIONS"]["pool"]["max_size"] == 9
    assert sized["OPTIONS"]["pool"]["timeout"] == 5.0
    code, explicit = database_settings(DATABASE_URL=PG_URL, FLOWMAESTRO_DB_POOL_MAX="3", FLOWMAESTRO_DB_POOL_MIN="5")
    assert isinstance(explicit, dict) and explicit["OPTIONS"]["pool"] == {"min_size": 3, "max_size": 3,
                                                                          "timeout": 30.0}

    # Pool off: connections per thread for CONN_MAX_AGE, as before.
    code, off = database_settings(DATABASE_URL=PG_URL, FLOWMAESTRO_DB_POOL_MAX="0")
    assert isinstance(off, dict) and "pool" not in off.get("OPTIONS", {}) and off["CONN_MAX_AGE"] == 600


def test_behind_pgbouncer_in_transaction_mode_there_is_no_pool_no_server_side_cursor_and_no_prepared_statement(
) -> None:
    code, bouncer = database_settings(DATABASE_URL=PG_URL, FLOWMAESTRO_DB_PGBOUNCER="transaction")
    assert code == 0 and isinstance(bouncer, dict), bouncer
    assert "pool" not in bouncer["OPTIONS"]
    assert bouncer["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert bouncer["OPTIONS"]["prepare_threshold"] is None

    code, session = database_settings(DATABASE_URL=PG_URL, FLOWMAESTRO_DB_PGBOUNCER="session")
    assert isinstance(session, dict) and session["OPTIONS"]["pool"]["max_size"] == 15
    assert session["DISABLE_SERVER_SIDE_CURSORS"] is False

    code, message = database_settings(DATABASE_URL=PG_URL, FLOWMAESTRO_DB_PGBOUNCER="statement")
    assert code != 0 and "FLOWMAESTRO_DB_PGBOUNCER must be session or transaction" in str(message)


def test_postgresql_binds_values_on_the_server_unless_turned_off() -> None:
    code, default = database_settings(DATABASE_URL=PG_URL)
    assert isinstance(default, dict) and default["OPTIONS"]["server_side_binding"] is True
    assert default["OPTIONS"]["prepare_threshold"] == 5
    code, off = database_settings(DATABASE_URL=PG_URL, FLOWMAESTRO_DB_SERVER_BINDING="false")
    assert isinstance(off, dict) and "server_side_binding" not in off["OPTIONS"]
    assert "prepare_threshold" not in off["OPTIONS"]  # Django's default: nothing prepared
    code, bouncer = database_settings(DATABASE_URL=PG_URL, FLOWMAESTRO_DB_PGBOUNCER="transaction")
    assert isinstance(bouncer, dict) and bouncer["OPTIONS"]["server_side_binding"] is True
    assert bouncer["OPTIONS"]["prepare_threshold"] is None


@pytest.mark.django_db(transaction=True)
def test_a_statement_run_again_and_again_is_prepared_once_on_its_connection(alice: Any) -> None:
    if not on_postgres():
        pytest.skip("prepared statements are PostgreSQL's (this test runs in the PostgreSQL pass)")
    from engine.models import Execution

    for _ in range(8):  # psycopg prepares a statement on its 5th run on a connection
        list(Execution.objects.filter(owner=alice).values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    # With Django's defaults (client-side binding, prepare_threshold None) nothing is prepared.
    assert any("engine_execution" in statement for statement in prepared), prepared


def test_sqlite_has_no_pool() -> None:
    code, sqlite = database_settings(DATABASE_URL="sqlite:///x.sqlite3", FLOWMAESTRO_DB_POOL_MAX="3")
    assert isinstance(sqlite, dict) and "pool" not in sqlite["OPTIONS"]


def _in_use() -> int:
    """Connections of this process's pool that some thread holds."""
    stats = connection.pool.get_stats()  # type: ignore[attr-defined]
    return int(stats["pool_size"] - stats["pool_available"])


@pytest.mark.django_db(transaction=True)
def test_an_engine_started_and_stopped_many_times_gives_its_connections_back(
    make_workflow: Any, alice: Any, settings: Any
) -> None:
    if not on_postgres():
        pytest.skip("the connection pool is PostgreSQL's (this test runs in the PostgreSQL pass)")
    workflow = make_workflow()
    connection.close()  # the test's own connection back too: count only the engines'
    before = _in_use()
    for _ in range(6):
        engine = runtime.start_engine()
        execution = services.execution_start(workflow=workflow, user=alice, input={"who": "pool"})
        assert engine.wait(execution.pk, 20)
        connection.close()
        runtime.stop_engine()
        # Each stop leaves nothing taken: without that, the pool (or, with no pool, the
        # server's max_connections) runs out after a few dozen engine restarts.
        assert _in_use() == before


@pytest.mark.django_db(transaction=True)
def test_a_daphne_process_holds_at_most_its_pool_however_many_requests_arrive(
    make_workflow: Any, alice: Any
) -> None:
    if not on_postgres():
        pytest.skip("the connection pool is PostgreSQL's (this test runs in the PostgreSQL pass)")
    workflow = make_workflow()
    token = Token.objects.get_or_create(user=alice)[0].key
    app = f"budget-{os.getpid()}"
    url = f"{current_database_url()}?application_name={app}"
    env = {"DATABASE_URL": url, "FLOWMAESTRO_HTTP_THREADS": "8", "FLOWMAESTRO_DB_POOL_MAX": "3",
           "FLOWMAESTRO_DB_POOL_MIN": "1"}
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        with psycopg.connect(**params, autocommit=True) as conn:
            while not stop.is_set():
                row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                   [app]).fetchone()
                peak = max(peak, int(row[0]) if row else 0)
                stop.wait(0.02)

    with running_daphne(env=env) as host:
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            def run(i: int) -> int:
                return httpx.post(f"http://{host}/api/workflows/{workflow.pk}/run", json={"input": {"n": i}},
                                  headers={"Authorization": f"Token {token}"}, timeout=60).status_code

            with ThreadPoolExecutor(16) as pool:
                codes = list(pool.map(run, range(48)))
        finally:
            stop.set()
            watcher.join()
    # Eight HTTP threads wanted a connection at once; they took turns on three.
    assert codes == [201] * 48
    assert 1 <= peak <= 3
