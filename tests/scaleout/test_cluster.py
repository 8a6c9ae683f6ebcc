"""FlowMaestro on real processes (FLOWMAESTRO_EXECUTOR=celery): Redis, a database of its
own, two Celery workers and two daphne processes (tests/scaleout/conftest.py).

- the seed's patterns give the same statuses and outputs as the thread executor (the
  pytest process's own engine on the test database), with signals sent through both daphne;
- websocket clients on either daphne see every event of a run coordinated in a worker;
- `kill -9` of a worker in the middle of node bodies: the bodies are redelivered, the run
  succeeds, every node run is recorded once;
- `kill -9` of the worker coordinating a run: the other takes it over within
  FLOWMAESTRO_STALE_AFTER and repeats no finished node run;
- node bodies ride runners (FLOWMAESTRO_NODE_BODIES=runners, the default): a few Celery
  tasks serve many bodies, a cancelled run's waiting bodies never run; with `tasks`, each
  body is a Celery task Flower lists by its node run id;
- with the prefork pool, a body longer than the worker lease runs once;
- a pinned node (pinned test data) publishes no body to the workers.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import httpx
import pytest
from django.contrib.auth.models import AbstractUser
from rest_framework.test import APIClient

from engine.runtime import stop_engine
from tests.engine.definitions import START, definition, loop_definition
from tests.scaleout.conftest import (
    STALE_AFTER_S,
    TERMINAL,
    WORKER_LOST_AFTER_S,
    Cluster,
)

pytestmark = [pytest.mark.timeout(240)]
# A lapsed lease is seen at the coordinator's next check (each second), after the last
# renewal (a third of the lease) ran out.
LEASE_SLACK_S = 1.0
# What a worker logs for each node body a runner takes and ends (engine.tasks.serve_bodies).
BODY_RECEIVED = re.compile(r"node body ([0-9a-f]+) received")
BODY_ENDED = re.compile(r"node body ([0-9a-f]+) (?:succeeded|failed)")
RUNNER_RECEIVED = re.compile(r"flowmaestro\.nodes\.serve\[[0-9a-f]+\] received")


def js(node_id: str, expression: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "transform", "name": node_id,
            "config": {"operation": "custom", "expression": expression, **config}}


def http_slow(node_id: str, api: str, ms: int, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "http", "name": node_id,
            "config": {"method": "GET", "url": f"{api}/slow", "query": {"ms": ms, "source": node_id, "apiKey": API_KEY},
                       **config}}


# A secret in an `http` node's query string: it stays in the node run, out of the workers' logs.
API_KEY = "sk-live-4f1c9e"


# -- the seed's patterns -----------------------------------------------------------------------
def fan_out_merge(api: str) -> dict[str, Any]:
    return definition(
        [START, js("a", "return {a: input.x + 1}"), http_slow("b", api, 200), js("c", "return input.x * 3"),
         {"id": "m", "type": "merge", "config": {"mode": "all", "output": "object"}},
         {"id": "o", "type": "output", "config": {"value": {"a": "{{a.a}}", "b": "{{b.body.source}}", "c": "{{c}}"}}}],
        [("start", "a"), ("start", "b"), ("start", "c"), ("a", "m"), ("b", "m"), ("c", "m"), ("m", "o")],
        name="fan-out/merge")


def first_success(api: str) -> dict[str, Any]:
    return definition(
        [START, http_slow("slow", api, 1500), js("fast", "return 'fast ' + input.x"),
         {"id": "m", "type": "merge", "config": {"mode": "first_success", "output": "first"}},
         {"id": "o", "type": "output", "config": {"value": "{{m}}"}}],
        [("start", "slow"), ("start", "fast"), ("slow", "m"), ("fast", "m"), ("m", "o")], name="first success")


def parallel_loop(api: str) -> dict[str, Any]:
    d = loop_definition({"maxConcurrency": 3}, [js("work", "return item * 10")], name="parallel loop")
    return d


def rate_and_batches(api: str) -> dict[str, Any]:
    return loop_definition({"maxConcurrency": 4, "rateLimit": 40, "batchSize": 4, "delayBetweenBatches": 100},
                           [js("work", "return {item: item, square: item * item}")], name="rate and batches")


def queue_dead_letters(api: str) -> dict[str, Any]:
    # One item at a time, 600 ms each (a timer of the coordinator, whichever executor);
    # items may wait 900 ms: the third and fourth expire into dead letters.
    d = loop_definition({"maxConcurrency": 1, "queue": {"timeout": 900, "deadLetterQueue": True},
                         "parallel": {"onPartialFailure": "continue"}},
                        [{"id": "wait", "type": "delay", "config": {"duration": 600}},
                         {"id": "work", "type": "output", "config": {"value": "{{item.name}}#{{parallel.index}}"}}],
                        [("wait", "work")], name="queue and dead letters")
    d["nodes"][1]["config"]["itemVariable"] = "item"
    return d


def chain(api: str) -> dict[str, Any]:
    return definition(
        [START, http_slow("s1", api, 700), js("s2", "return input.body.source + '+s2'"), http_slow("s3", api, 300),
         {"id": "o", "type": "output", "config": {"value": "{{s2}}"}}],
        [("start", "s1"), ("s1", "s2"), ("s2", "s3"), ("s3", "o")], name="signals")


def approval(api: str) -> dict[str, Any]:
    return definition(
        [START, js("before", "return input.x"),
         {"id": "ok", "type": "approval", "config": {"message": "go?"}},
         js("after", "return {approved: input.approved, by: input.by, before: before}"),
         {"id": "o", "type": "output", "config": {"value": "{{after}}"}}],
        [("start", "before"), ("before", "ok"), ("ok", "after"), ("after", "o")], name="approval")


class Side(Protocol):
    """One way of running workflows: the cluster or the thread executor."""

    def create(self, definition: dict[str, Any], via: int = 0) -> int: ...

    def run(self, workflow_id: int, input: Any = None, via: int = 0) -> int: ...

    def get(self, execution_id: int, via: int = 0) -> dict[str, Any]: ...

    def signal(self, execution_id: int, type: str, via: int, **body: Any) -> Any: ...

    def wait(self, execution_id: int, statuses: tuple[str, ...] = TERMINAL, timeout: float = 60) -> dict[str, Any]: ...


class Threads:
    """The pytest process's own engine (thread executor) through the same API views."""

    def __init__(self, client: APIClient):
        self.client = client

    def create(self, definition: dict[str, Any], via: int = 0) -> int:
        r = self.client.post("/api/workflows", {"name": definition["name"], "definition": definition}, format="json")
        assert r.status_code == 201, r.content
        return int(r.json()["id"])

    def run(self, workflow_id: int, input: Any = None, via: int = 0) -> int:
        r = self.client.post(f"/api/workflows/{workflow_id}/run", {"input": input or {}}, format="json")
        assert r.status_code == 201, r.content
        return int(r.json()["id"])

    def get(self, execution_id: int, via: int = 0) -> dict[str, Any]:
        return dict(self.client.get(f"/api/executions/{execution_id}").json())

    def signal(self, execution_id: int, type: str, via: int, **body: Any) -> Any:
        return self.client.post(f"/api/executions/{execution_id}/signal", {"type": type, **body}, format="json")

    def wait(self, execution_id: int, statuses: tuple[str, ...] = TERMINAL, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (ex := self.get(execution_id))["status"] not in statuses:
            assert time.monotonic() < deadline, f"execution {execution_id} still {ex['status']}"
            time.sleep(0.05)
        return ex


def plain(side: Side, execution_id: int) -> None:
    pass


def pause_resume(side: Side, execution_id: int) -> None:
    side.wait(execution_id, ("running",))
    time.sleep(0.2)
    assert side.signal(execution_id, "pause", 0, reason="look").status_code == 202
    side.wait(execution_id, ("paused",), timeout=20)
    time.sleep(0.8)  # nothing starts while paused
    assert side.get(execution_id)["status"] == "paused"
    assert side.signal(execution_id, "resume", 1).status_code == 202  # through the other daphne


def cancel(side: Side, execution_id: int) -> None:
    side.wait(execution_id, ("running",))
    time.sleep(0.3)
    assert side.signal(execution_id, "cancel", 1, reason="enough").status_code == 202


def approve(side: Side, execution_id: int) -> None:
    side.wait(execution_id, ("paused",), timeout=30)
    assert side.signal(execution_id, "resume", 1, data={"approved": True, "by": "ops"}).status_code == 202


PATTERNS: dict[str, tuple[Callable[[str], dict[str, Any]], Any, Callable[[Side, int], None]]] = {
    "fan-out/merge": (fan_out_merge, {"x": 4}, plain),
    "first success": (first_success, {"x": 1}, plain),
    "parallel loop": (parallel_loop, {"items": list(range(12))}, plain),
    "rate and batches": (rate_and_batches, {"items": list(range(8))}, plain),
    "queue and dead letters": (queue_dead_letters, {"items": [{"name": n} for n in ("ann", "ben", "cat", "dan")]},
                               plain),
    "pause/resume": (chain, {}, pause_resume),
    "cancel": (chain, {}, cancel),
    "approval": (approval, {"x": 7}, approve),
}


def outcome(side: Side, execution_id: int) -> dict[str, Any]:
    ex = side.wait(execution_id)
    runs = Counter((r["nodeId"], r["iteration"], r["status"]) for r in ex["nodeRuns"])
    return {"status": ex["status"], "output": ex["output"], "runs": sorted(runs.items(), key=str)}


def run_pattern(side: Side, name: str, api: str) -> tuple[int, dict[str, Any]]:
    make, input, drive = PATTERNS[name]
    wf = side.create(make(api))
    execution_id = side.run(wf, input)
    drive(side, execution_id)
    return execution_id, outcome(side, execution_id)


@pytest.fixture
def threads(settings: Any, alice: AbstractUser, client_for: Callable[[AbstractUser], APIClient]) -> Iterator[Threads]:
    # The `http` nodes call the cluster's demo API on 127.0.0.1.
    stop_engine(1)
    settings.FLOWMAESTRO_HTTP_ALLOW_PRIVATE = True
    yield Threads(client_for(alice))
    stop_engine(1)


@pytest.mark.django_db(transaction=True)
def test_the_seed_patterns_give_what_the_thread_executor_gives(cluster: Cluster, threads: Threads) -> None:
    api = cluster.api_base
    results: dict[str, dict[str, Any]] = {}
    # Both sides at once (one thread per side): the cluster's workers and this process's
    # engine are separate processes.
    cluster_runs: dict[str, tuple[int, dict[str, Any]]] = {}

    def on_cluster() -> None:
        for name in PATTERNS:
            cluster_runs[name] = run_pattern(cluster, name, api)

    worker = threading.Thread(target=on_cluster)
    worker.start()
    for name in PATTERNS:
        results[name] = run_pattern(threads, name, api)[1]
    worker.join(180)
    assert set(cluster_runs) == set(PATTERNS), "the cluster did not finish every pattern"
    for name in PATTERNS:
        assert cluster_runs[name][1] == results[name], name

    # What the patterns did, as a user sees it (the same on both sides, as just checked).
    assert results["fan-out/merge"]["output"] == {"o": {"a": 5, "b": "b", "c": 12}}
    assert results["first success"]["output"] == {"o": "fast 1"}
    assert (("slow", None, "cancelled"), 1) in results["first success"]["runs"]
    assert results["parallel loop"]["output"] == {"o": [i * 10 for i in range(12)]}
    assert results["rate and batches"]["output"] == {"o": [{"item": i, "square": i * i} for i in range(8)]}
    assert results["queue and dead letters"]["output"] == {"o": ["ann#0", "ben#1"]}
    assert results["pause/resume"]["status"] == "succeeded"
    assert results["pause/resume"]["output"] == {"o": "s1+s2"}
    assert results["cancel"]["status"] == "cancelled"
    assert results["approval"]["output"] == {"o": {"approved": True, "by": "ops", "before": 7}}

    # The loop's maxConcurrency held across the workers' processes.
    loop = cluster.get(cluster_runs["parallel loop"][0])
    spans = sorted((r["startedAt"], 1) for r in loop["nodeRuns"] if r["nodeId"] == "work") + \
        sorted((r["finishedAt"], -1) for r in loop["nodeRuns"] if r["nodeId"] == "work")
    live = peak = 0
    for _, step in sorted(spans, key=lambda s: (s[0], s[1])):
        live += step
        peak = max(peak, live)
    assert 1 <= peak <= 3
    # Dead letters of the expired items, on the cluster too.
    letters = cluster.clients[1].get(f"/api/dead-letters?execution={cluster_runs['queue and dead letters'][0]}"
                                     "&kind=item").json()
    assert sorted(x["itemIndex"] for x in letters) == [2, 3]
    # The bodies ran on both workers (the `nodes` queue spreads the runners).
    logs = [p.log_text() for p in cluster.workers()]
    assert all(BODY_RECEIVED.search(text) for text in logs)
    assert not any(API_KEY in text for text in logs)


def test_events_reach_clients_of_both_daphne_with_no_gap(cluster: Cluster) -> None:
    from websockets.sync.client import connect

    api = cluster.api_base
    wf = cluster.create(definition(
        [START, *[js(f"n{i}", f"return {i}") for i in range(12)], http_slow("tail", api, 300),
         {"id": "o", "type": "output", "config": {"value": "{{tail.body.source}}"}}],
        [("start", "n0"), *[(f"n{i}", f"n{i + 1}") for i in range(11)], ("n11", "tail"), ("tail", "o")],
        name="stream"))
    execution_id = cluster.run(wf, via=0)
    received: dict[int, list[dict[str, Any]]] = {0: [], 1: []}

    def follow(index: int) -> None:
        address = cluster.daphnes[index].address
        with connect(f"ws://{address}/ws/executions/{execution_id}/", origin=f"http://{address}",
                     additional_headers={"Cookie": f"sessionid={cluster.session}"}, open_timeout=10) as ws:
            while True:
                frame = json.loads(ws.recv(timeout=30))
                for event in frame if isinstance(frame, list) else frame.get("events", [frame]):
                    received[index].append(event)
                    if str(event.get("type", "")).startswith("execution.") and event.get("type") not in (
                            "execution.queued", "execution.started", "execution.running"):
                        return

    readers = [threading.Thread(target=follow, args=(i,)) for i in (0, 1)]
    for reader in readers:
        reader.start()
    ex = cluster.wait(execution_id)
    for reader in readers:
        reader.join(30)
    assert ex["status"] == "succeeded" and ex["output"] == {"o": "tail"}
    last = int(cluster.query("SELECT last_seq FROM engine_execution WHERE id = %s", execution_id)[0][0])
    for index in (0, 1):
        seqs = [int(e["seq"]) for e in received[index]]
        assert seqs == list(range(1, last + 1)), f"daphne {index + 1}: {seqs}"


def _finished_once(ex: dict[str, Any]) -> None:
    succeeded = Counter((r["nodeId"], r["iteration"]) for r in ex["nodeRuns"] if r["status"] == "succeeded")
    assert succeeded and set(succeeded.values()) == {1}, succeeded


def test_kill_9_of_a_worker_mid_node_redelivers_and_records_once(cluster: Cluster) -> None:
    api = cluster.api_base
    d = loop_definition({"maxConcurrency": 8}, [http_slow("work", api, 1500), js("slept", "return input.body.sleptMs")],
                        [("work", "slept")], name="redelivery")
    execution_id = cluster.run(cluster.create(d), {"items": list(range(8))})
    cluster.wait(execution_id, ("running",))
    coordinator = cluster.worker_of(cluster.holder(execution_id))
    victim = next(w for w in cluster.workers() if w is not coordinator)
    # Wait until the victim is in the middle of node bodies, then kill it.
    deadline = time.monotonic() + 20
    while not BODY_RECEIVED.search(victim.log_text()):
        assert time.monotonic() < deadline, "no node body reached the second worker"
        time.sleep(0.05)
    time.sleep(0.3)
    taken = set(BODY_RECEIVED.findall(victim.log_text()))
    done_there = set(BODY_ENDED.findall(victim.log_text()))
    cluster.local.kill(victim)
    killed_at = time.monotonic()
    in_flight = taken - done_there
    assert in_flight, "the victim had no node body running"

    ex = cluster.wait(execution_id, timeout=60)
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"] == {"o": [1500] * 8}
    _finished_once(ex)
    # The bodies the victim held were delivered again, to the surviving worker, by the
    # coordinator once the victim's lease lapsed: seconds, not Redis's visibility timeout.
    # (the lease, the next check, the 1.5 s bodies run again; slack for a loaded machine)
    assert time.monotonic() - killed_at < WORKER_LOST_AFTER_S + LEASE_SLACK_S + 1.5 + 15
    assert "node bodies published again" in coordinator.log_text()
    redelivered = set(BODY_RECEIVED.findall(coordinator.log_text()))
    assert in_flight <= redelivered
    # Each attempt id that ran is one node run, recorded once; no interrupted retries needed.
    assert {r["id"] for r in ex["nodeRuns"] if r["nodeId"] == "work"} >= in_flight
    assert [r for r in ex["nodeRuns"] if r["status"] == "cancelled"] == []
    cluster.restart(victim.name)


def test_kill_9_of_the_coordinating_worker_hands_the_run_over(cluster: Cluster) -> None:
    api = cluster.api_base
    d = loop_definition({"maxConcurrency": 2}, [http_slow("work", api, 400)], name="takeover")
    execution_id = cluster.run(cluster.create(d), {"items": list(range(10))})
    cluster.wait(execution_id, ("running",))
    # Let a few items finish first.
    deadline = time.monotonic() + 30
    while sum(r["status"] == "succeeded" and r["nodeId"] == "work" for r in cluster.get(execution_id)["nodeRuns"]) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    holder = cluster.holder(execution_id)
    coordinator = cluster.worker_of(holder)
    # The admin names the process that holds the run.
    admin = httpx.get(f"http://{cluster.daphnes[1].address}/admin/engine/execution/",
                      cookies={"sessionid": cluster.session}, timeout=30)
    assert admin.status_code == 200 and holder in admin.text
    before = {(r["nodeId"], r["iteration"]): r["id"] for r in cluster.get(execution_id)["nodeRuns"]
              if r["status"] == "succeeded"}
    cluster.local.kill(coordinator)
    killed_at = time.monotonic()
    while (new_holder := cluster.holder(execution_id)) in ("", holder):
        assert time.monotonic() - killed_at < STALE_AFTER_S + 5, "nobody took the run over"
        time.sleep(0.05)
    took = time.monotonic() - killed_at
    assert took <= STALE_AFTER_S + 3, took  # staleness + the other's next poll + heartbeat slack
    survivor = cluster.worker_of(new_holder)
    assert survivor is not coordinator

    ex = cluster.wait(execution_id, timeout=60)
    assert ex["status"] == "succeeded", ex["error"]
    assert len(ex["output"]["o"]) == 10
    _finished_once(ex)
    # What had finished before the crash was not run again: the same node runs stand.
    after = {(r["nodeId"], r["iteration"]): r["id"] for r in ex["nodeRuns"] if r["status"] == "succeeded"}
    assert all(after[key] == run_id for key, run_id in before.items())
    cluster.restart(coordinator.name)


def _log_sizes(cluster: Cluster) -> dict[str, int]:
    return {p.name: len(p.log_text()) for p in cluster.workers()}


def _logged_since(cluster: Cluster, sizes: dict[str, int]) -> str:
    return "".join(p.log_text()[sizes.get(p.name, 0):] for p in cluster.workers())


def test_runners_serve_many_bodies_each(cluster: Cluster) -> None:
    """Celery's per-task protocol is paid per runner, not per body: 40 JavaScript bodies
    four at a time ride far fewer Celery tasks, on both workers, each body once."""
    before = _log_sizes(cluster)
    d = loop_definition({"maxConcurrency": 4}, [js("triple", "return input * 3")], name="runners")
    ex = cluster.wait(cluster.run(cluster.create(d), {"items": list(range(40))}))
    assert ex["status"] == "succeeded" and ex["output"] == {"o": [i * 3 for i in range(40)]}
    run_ids = {r["id"] for r in ex["nodeRuns"] if r["nodeId"] == "triple"}
    assert len(run_ids) == 40
    logged = _logged_since(cluster, before)
    received = Counter(a for a in BODY_RECEIVED.findall(logged) if a in run_ids)
    assert set(received) == run_ids and set(received.values()) == {1}
    runners = len(RUNNER_RECEIVED.findall(logged))
    assert 1 <= runners <= 20, runners


def test_a_pinned_node_sends_no_body_to_the_workers(cluster: Cluster) -> None:
    """Pinned test data in queue mode: the pinned JavaScript node's body is never published,
    in any loop item (it would throw), and the node after it gets the pin in every item."""
    before = _log_sizes(cluster)
    d = loop_definition({"maxConcurrency": 4}, [js("fetch", "throw new Error('a pinned node must not run')"),
                                                js("after", "return input.x + 1")], [("fetch", "after")], name="pinned")
    workflow_id = cluster.create(d)
    pinned = cluster.clients[0].put(f"/api/workflows/{workflow_id}/pins/fetch", json={"data": {"x": 41}})
    assert pinned.status_code == 200, pinned.text
    started = cluster.clients[0].post(f"/api/workflows/{workflow_id}/run",
                                      json={"input": {"items": list(range(12))}, "usePinnedData": True})
    assert started.status_code == 201, started.text
    ex = cluster.wait(int(started.json()["id"]))
    assert ex["status"] == "succeeded" and ex["output"] == {"o": [42] * 12}, ex.get("error")
    fetch_ids = {r["id"] for r in ex["nodeRuns"] if r["nodeId"] == "fetch"}
    after_ids = {r["id"] for r in ex["nodeRuns"] if r["nodeId"] == "after"}
    assert len(fetch_ids) == 12 and all(r["pinned"] for r in ex["nodeRuns"] if r["nodeId"] == "fetch")
    received = set(BODY_RECEIVED.findall(_logged_since(cluster, before)))
    assert received & fetch_ids == set()
    assert after_ids <= received  # the workers did run the node after it


def test_run_to_here_sends_no_body_past_the_stop(cluster: Cluster) -> None:
    """"Run to here" in queue mode: the chosen JavaScript node runs on a worker; the other
    branch (it would throw) and the node after the stop are never published, and the run's
    output is the stop's."""
    before = _log_sizes(cluster)
    d = definition([START, js("a", "return 1"), js("b", "throw new Error('past the stop: must not run')"),
                    js("after", "return input + 1")],
                   [("start", "a"), ("start", "b"), ("a", "after")], name="run to here")
    started = cluster.clients[1].post(f"/api/workflows/{cluster.create(d)}/run", json={"runUntil": "a"})
    assert started.status_code == 201, started.text
    ex = cluster.wait(int(started.json()["id"]))
    assert ex["status"] == "succeeded" and ex["output"] == {"a": 1}, ex.get("error")
    runs = {r["nodeId"]: r for r in ex["nodeRuns"]}
    assert {n: r["status"] for n, r in runs.items()} == {"start": "succeeded", "a": "succeeded", "b": "skipped",
                                                         "after": "skipped"}
    received = set(BODY_RECEIVED.findall(_logged_since(cluster, before)))
    assert runs["a"]["id"] in received and not {runs["b"]["id"], runs["after"]["id"]} & received


def test_cancel_takes_the_waiting_bodies_off_the_list(cluster: Cluster) -> None:
    """24 one-second calls at once on 8 slots: 16 wait on the coordinator's list. A cancel
    settles them at once and takes them off the list; no worker runs them afterwards."""
    import redis

    api = cluster.api_base
    before = _log_sizes(cluster)
    d = loop_definition({"maxConcurrency": 24}, [http_slow("call", api, 1000)], name="cancel waiting")
    execution_id = cluster.run(cluster.create(d), {"items": list(range(24))})
    deadline = time.monotonic() + 30
    while len(BODY_RECEIVED.findall(_logged_since(cluster, before))) < 8:
        assert time.monotonic() < deadline, "the bodies did not start"
        time.sleep(0.05)
    assert cluster.signal(execution_id, "cancel", 1, reason="enough").status_code == 202
    ex = cluster.wait(execution_id)
    assert ex["status"] == "cancelled"
    holder = cluster.holder(execution_id) or ""
    time.sleep(1.5)  # what was running ends; nothing waiting may start
    run_ids = {r["id"] for r in ex["nodeRuns"] if r["nodeId"] == "call"}
    ran = {a for a in BODY_RECEIVED.findall(_logged_since(cluster, before)) if a in run_ids}
    assert 8 <= len(ran) <= 12, len(ran)
    engines = [holder] if holder else [k.decode().removeprefix("flowmaestro:bodies:") for k in
                                       redis.Redis.from_url(cluster.local.redis_url).keys("flowmaestro:bodies:*")]
    client = redis.Redis.from_url(cluster.local.redis_url)
    assert all(client.llen(f"flowmaestro:bodies:{engine}") == 0 for engine in engines)
    client.close()


def _restart_workers(cluster: Cluster, **env: str) -> None:
    cluster.local.env.update(env)
    for worker in cluster.workers():
        cluster.local.kill(worker, 15)
        cluster.restart(worker.name)


def test_a_prefork_pool_child_keeps_its_lease_through_a_long_body(cluster: Cluster) -> None:
    """With FLOWMAESTRO_CELERY_POOL=prefork a body runs in a pool child under the child's
    own lease: a body longer than FLOWMAESTRO_WORKER_LOST_AFTER must not be taken for lost
    and run again while it still runs."""
    _restart_workers(cluster, FLOWMAESTRO_CELERY_POOL="prefork")
    try:
        before = _log_sizes(cluster)
        long_ms = int((WORKER_LOST_AFTER_S + LEASE_SLACK_S + 1.5) * 1000)
        d = loop_definition({"maxConcurrency": 2}, [http_slow("long", cluster.api_base, long_ms)], name="prefork")
        ex = cluster.wait(cluster.run(cluster.create(d), {"items": [0, 1]}), timeout=90)
        assert ex["status"] == "succeeded", ex["error"]
        assert [item["body"]["sleptMs"] for item in ex["output"]["o"]] == [long_ms, long_ms]
        logged = _logged_since(cluster, before)
        assert "node bodies published again" not in logged
        run_ids = {r["id"] for r in ex["nodeRuns"] if r["nodeId"] == "long"}
        received = Counter(a for a in BODY_RECEIVED.findall(logged) if a in run_ids)
        assert set(received) == run_ids and set(received.values()) == {1}, received
    finally:
        _restart_workers(cluster, FLOWMAESTRO_CELERY_POOL="threads")


def test_flower_shows_the_workers_and_each_node_body_by_its_node_run_id(cluster: Cluster) -> None:
    """Monitoring is Celery's own: Flower turns the workers' task events on and lists each
    node body under its attempt id, which is the node run's id in FlowMaestro's API."""
    _restart_workers(cluster, FLOWMAESTRO_NODE_BODIES="tasks")  # a Celery task per body
    try:
        _flower_lists_each_body(cluster)
    finally:
        _restart_workers(cluster, FLOWMAESTRO_NODE_BODIES="runners")


def _flower_lists_each_body(cluster: Cluster) -> None:
    flower = cluster.local.start_flower()
    base = f"http://{flower.address}"
    deadline = time.monotonic() + 30
    while True:  # Flower has found both workers
        workers = httpx.get(f"{base}/api/workers", params={"refresh": "true"}, timeout=30).json()
        if sum(name.split("@")[0] in ("w1", "w2") for name in workers) == 2:
            break
        assert time.monotonic() < deadline, workers
        time.sleep(0.5)
    # ... and turned their task events on (off by default: FLOWMAESTRO_CELERY_TASK_EVENTS).
    while not all("Events of group {task} enabled by remote" in w.log_text() for w in cluster.workers()):
        assert time.monotonic() < deadline + 15, "Flower did not enable the workers' task events"
        time.sleep(0.5)
    d = loop_definition({"maxConcurrency": 4}, [js("double", "return input * 2")], name="watched")
    ex = cluster.wait(cluster.run(cluster.create(d), {"items": list(range(6))}))
    assert ex["status"] == "succeeded" and ex["output"] == {"o": [0, 2, 4, 6, 8, 10]}
    run_ids = {r["id"] for r in ex["nodeRuns"] if r["nodeId"] == "double"}
    assert len(run_ids) == 6
    while True:
        tasks = httpx.get(f"{base}/api/tasks", params={"taskname": "flowmaestro.nodes.run"}, timeout=30).json()
        succeeded = {uuid for uuid, task in tasks.items() if task.get("state") == "SUCCESS"}
        if run_ids <= succeeded:
            break
        assert time.monotonic() < deadline + 30, (run_ids - succeeded, tasks)
        time.sleep(0.5)
    assert all(tasks[uuid]["worker"].split("@")[0] in ("w1", "w2") for uuid in run_ids)
