"""A real cluster for the scale-out tests, started once per module: redis-server on a free
port, a PostgreSQL database of its own (on tests/pg.py's cluster), two Celery workers (each a coordinator plus node
slots) and two daphne processes, all with `FLOWMAESTRO_EXECUTOR=celery` (engine.cluster).
Staleness and Redis's redelivery timeout are set small so that the crash tests end in
seconds; the tests talk to the cluster over HTTP and websockets, and read its database
directly only to see what a user cannot (which engine holds a run)."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from engine.cluster import LocalCluster, Proc, prepare_database
from tests.pg import in_ci, start_cluster

STALE_AFTER_S = 3.0
# Redis's own redelivery of a dead worker's tasks comes after the visibility timeout; the
# tests keep it far beyond their timeouts, so a redelivery they see is the coordinator's,
# after the dead worker's lease lapsed (WORKER_LOST_AFTER_S).
VISIBILITY_TIMEOUT_S = 900
WORKER_LOST_AFTER_S = 2.0
TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")


def _database() -> tuple[str, Callable[[], None]]:
    """(DATABASE_URL, drop) of a fresh database on the run's throw-away PostgreSQL cluster
    (tests/pg.py), whichever database the rest of the suite uses."""
    try:
        pg = start_cluster()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        if in_ci():
            pytest.fail(f"CI=true and PostgreSQL cannot be started: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL not available: {exc}")
    url = pg.create_database()
    name = url.rsplit("/", 1)[1]
    return url, lambda: pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Cluster:
    """The running cluster as the tests use it."""

    def __init__(self, local: LocalCluster, login: dict[str, str]):
        self.local = local
        self.token = login["token"]
        self.session = login["session"]
        self.user_id = int(login["user"])
        self.daphnes = [local.by_name("d1"), local.by_name("d2")]
        self.clients = [httpx.Client(base_url=f"http://{d.address}", timeout=30,
                                     headers={"Authorization": f"Token {self.token}"}) for d in self.daphnes]

    @property
    def api_base(self) -> str:
        """The demo API of the first daphne, for `http` nodes."""
        return f"http://{self.daphnes[0].address}/demo-api"

    def workers(self) -> list[Proc]:
        return [p for p in self.local.procs if p.name.startswith("w") and p.alive()]

    def create(self, definition: dict[str, Any], via: int = 0) -> int:
        r = self.clients[via].post("/api/workflows", json={"name": definition.get("name", "t"),
                                                          "definition": definition})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def run(self, workflow_id: int, input: Any = None, via: int = 0) -> int:
        r = self.clients[via].post(f"/api/workflows/{workflow_id}/run", json={"input": input or {}})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def get(self, execution_id: int, via: int = 0) -> dict[str, Any]:
        r = self.clients[via].get(f"/api/executions/{execution_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def signal(self, execution_id: int, type: str, via: int, **body: Any) -> httpx.Response:
        return self.clients[via].post(f"/api/executions/{execution_id}/signal", json={"type": type, **body})

    def wait(self, execution_id: int, statuses: tuple[str, ...] = TERMINAL, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            ex = self.get(execution_id)
            if ex["status"] in statuses:
                return ex
            assert time.monotonic() < deadline, f"execution {execution_id} still {ex['status']}"
            time.sleep(0.05)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the cluster's database (`%s` placeholders)."""
        url = self.local.database_url
        if url.startswith("sqlite:///"):
            with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
                return list(conn.execute(sql.replace("%s", "?"), params).fetchall())
        import psycopg

        with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
            return list(conn.execute(sql, params).fetchall())  # type: ignore[arg-type]

    def holder(self, execution_id: int) -> str:
        return str(self.query("SELECT engine_id FROM engine_execution WHERE id = %s", execution_id)[0][0] or "")

    def worker_of(self, engine_id: str) -> Proc:
        """The worker process whose coordinator has this engine id (host:pid:suffix)."""
        pid = int(engine_id.split(":")[1])
        for proc in self.workers():
            if proc.popen.pid == pid:
                return proc
        raise AssertionError(f"no live worker has pid {pid}")

    def restart(self, name: str) -> Proc:
        return self.local.start_worker(name, concurrency=4)

    def close(self) -> None:
        for client in self.clients:
            client.close()


def running_cluster(**env: str) -> Iterator[Cluster]:
    """The cluster of this module's tests (Redis, a database, workers w1 and w2, daphne d1
    and d2), with `env` over the settings below; stopped and its database dropped after."""
    url, drop = _database()
    login = prepare_database(url)
    local = LocalCluster(url, env={
        "FLOWMAESTRO_STALE_AFTER": str(STALE_AFTER_S),
        "FLOWMAESTRO_CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_S),
        "FLOWMAESTRO_WORKER_LOST_AFTER": str(WORKER_LOST_AFTER_S),
        "FLOWMAESTRO_POLL_INTERVAL": "0.2",
        "FLOWMAESTRO_HTTP_ALLOW_PRIVATE": "true",
        "FLOWMAESTRO_CELERY_CONCURRENCY": "4",
        **env,
    })
    try:
        local.start_redis()
        workers = [local.start_worker(name, concurrency=4, wait=False) for name in ("w1", "w2")]
        local.start_daphne("d1")
        local.start_daphne("d2")
        for worker in workers:
            local.wait_ready(worker)
        running = Cluster(local, login)
        yield running
        running.close()
    finally:
        local.stop()
        drop()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster()
