"""Redis lost under a running worker, as its operator reads the worker's log: one line
saying Redis is unreachable and one when it answers again, not a traceback every second;
and a worker stopped together with Redis (Ctrl-C of `make cluster` stops every process at
once) shuts down without a traceback of its own."""

from __future__ import annotations

import re
import signal
import socket
import time
from collections.abc import Iterator

import pytest

from engine.cluster import LocalCluster, Proc, prepare_database, redis_server_binary
from tests.scaleout.conftest import _database


@pytest.fixture
def one_worker() -> Iterator[tuple[LocalCluster, Proc]]:
    url, drop = _database()
    prepare_database(url)
    local = LocalCluster(url, env={"FLOWMAESTRO_POLL_INTERVAL": "0.2", "FLOWMAESTRO_CELERY_CONCURRENCY": "2"})
    try:
        local.start_redis()
        yield local, local.start_worker("w1", concurrency=2)
    finally:
        local.stop()
        drop()


def _start_redis_again(local: LocalCluster) -> Proc:
    port = int(local.redis_url.rsplit(":", 1)[1].split("/")[0])
    proc = local._spawn("redis", [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no"])
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start again"
            time.sleep(0.05)


def _engine_lines(text: str, after: int = 0) -> list[str]:
    return [line for line in text[after:].splitlines() if "engine: reading" in line or "engine: dropping" in line]


def test_a_redis_outage_is_one_line_then_one_line_when_it_is_back(one_worker: tuple[LocalCluster, Proc]) -> None:
    local, worker = one_worker
    redis = local.by_name("redis")
    local.kill(redis)
    time.sleep(5)  # the coordinator retries every second
    redis = _start_redis_again(local)
    deadline = time.monotonic() + 15
    while "answers again" not in worker.log_text():
        assert time.monotonic() < deadline, worker.log_text()[-3000:]
        time.sleep(0.2)
    lines = _engine_lines(worker.log_text())
    assert len(lines) == 2, "\n".join(lines)
    port = local.redis_url.rsplit(":", 1)[1].split("/")[0]
    assert f"Redis at 127.0.0.1:{port} unreachable (" in lines[0], lines[0]
    assert "answers again" in lines[1]

    # Ctrl-C of make cluster: Redis and the worker get SIGTERM together.
    seen = len(worker.log_text())
    local.kill(redis, signal.SIGTERM)
    local.kill(worker, signal.SIGTERM)
    after = worker.log_text()[seen:]
    assert "Warm shutdown" in after
    # The coordinator may fail to drop its list (one line); never a traceback of its own.
    assert all("Redis unreachable" not in line for line in _engine_lines(after)), after[-3000:]
    engine_tracebacks = re.findall(r"engine: [^\n]*\n(?:[^\n]*\| )?Traceback", after)
    assert not engine_tracebacks, after[-3000:]
