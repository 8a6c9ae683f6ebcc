"""The API while Redis is down (REDIS_URL's server stopped or unreachable), as a client and
an operator meet it: every request was a 500 "Server error." with a traceback in daphne's
log per request (the throttle's counts live in Redis). It is a 503 that says Redis is
unreachable, with Retry-After, and the log names the error in one line."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from engine.cluster import LocalCluster, Proc, free_port, prepare_database
from tests.scaleout.conftest import _database


@pytest.fixture
def daphne_without_redis() -> Iterator[tuple[Proc, dict[str, str]]]:
    url, drop = _database()
    login = prepare_database(url)
    # Throttling as deployed (the scale-out tests turn it off): its counts are in Redis.
    local = LocalCluster(url, env={"FLOWMAESTRO_THROTTLE_USER": "6000/minute", "FLOWMAESTRO_THROTTLE_ANON": "600/minute"})
    local.redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    try:
        yield local.start_daphne("d1"), login
    finally:
        local.stop()
        drop()


def test_requests_while_redis_is_down_are_a_clear_503(daphne_without_redis: tuple[Proc, dict[str, str]]) -> None:
    daphne, login = daphne_without_redis
    with httpx.Client(base_url=f"http://{daphne.address}", timeout=30,
                      headers={"Authorization": f"Token {login['token']}"}) as api:
        for _ in range(3):
            answer = api.get("/api/workflows")
            assert answer.status_code == 503, answer.text
            assert "cannot reach Redis" in answer.json()["detail"]
            assert answer.headers["Retry-After"] == "5"
        answer = api.post("/api/workflows", json={"name": "x", "definition": {}})
        assert answer.status_code == 503
    time.sleep(0.5)
    log = daphne.log_text()
    assert log.count("Redis (REDIS_URL) unreachable") == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
