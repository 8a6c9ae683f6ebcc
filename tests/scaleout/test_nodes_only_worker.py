"""Split queues (README "Scaling out"): a worker started with `-Q nodes` runs node bodies
only. It used to host a coordinator all the same, whose poll claimed runs, so a machine
meant for node bodies held executions too."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from engine.cluster import LocalCluster, prepare_database
from tests.scaleout.conftest import _database
from tests.scaleout.test_no_worker import DEFINITION


@pytest.fixture
def cluster() -> Iterator[tuple[LocalCluster, httpx.Client]]:
    url, drop = _database()
    login = prepare_database(url)
    local = LocalCluster(url, env={"FLOWMAESTRO_POLL_INTERVAL": "0.2"})
    try:
        local.start_redis()
        base = f"http://{local.start_daphne('d1').address}"
        with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Token {login['token']}"}) as api:
            yield local, api
    finally:
        local.stop()
        drop()


def test_a_nodes_only_worker_claims_no_run(cluster: tuple[LocalCluster, httpx.Client]) -> None:
    local, api = cluster
    nodes_only = local.start_worker("n1", concurrency=2, queues="nodes", wait=False)
    deadline = time.monotonic() + 60
    while " ready." not in nodes_only.log_text():
        assert nodes_only.alive() and time.monotonic() < deadline, nodes_only.log_text()[-3000:]
        time.sleep(0.1)
    assert "coordinates executions" not in nodes_only.log_text()
    assert "runs node bodies only" in nodes_only.log_text()

    workflow = api.post("/api/workflows", json={"name": "Hello", "definition": DEFINITION}).json()["id"]
    run = api.post(f"/api/workflows/{workflow}/run", json={"input": {}}).json()["id"]
    time.sleep(3)  # fifteen poll intervals
    assert api.get(f"/api/executions/{run}").json()["status"] == "queued"

    local.start_worker("w1", concurrency=2)  # executions and nodes
    while api.get(f"/api/executions/{run}").json()["status"] != "succeeded":
        assert time.monotonic() < deadline + 30, "the run did not start once a coordinating worker ran"
        time.sleep(0.2)
