"""Two engines on one database never run the same node run twice (SPEC §4.6).

Claims are compare-and-set updates. First the claims themselves race: many threads, each
an engine, claim the same executions and the same node runs at once — every row has
exactly one winner. Then two real `runengine` processes share a stream of executions:
every execution succeeds, both engines work, and every node run row is unique per
(execution, scope, node, attempt) with a single attempt each."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from engine.core.persistence import Batch
from engine.models import Execution, NodeRun
from engine.store.persistence import DjangoPersistence
from tests.reliability.conftest import Engines, definition, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
START = {"id": "start", "type": "start"}
RACERS = 8


def race(work: Any) -> list[Any]:
    """Run `work(i)` on RACERS threads released at the same instant; return their results."""
    barrier = threading.Barrier(RACERS)
    results: list[Any] = [None] * RACERS
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


def test_hundreds_of_execution_claims_have_exactly_one_winner_each(run_workflow: Any) -> None:
    d = definition([START], [])
    ids = [run_workflow(d).id for _ in range(300)]

    def claim_all(i: int) -> list[Any]:
        close_old_connections()
        store = DjangoPersistence()
        mine: list[Any] = []
        idle = 0
        while idle < 3:
            got = store.claim_executions(f"racer-{i}", stale_after_s=3600, limit=25)
            mine += got
            idle = 0 if got else idle + 1
        return mine

    claims = race(claim_all)
    winners = Counter(ex_id for mine in claims for ex_id in mine)
    assert sorted(winners) == sorted(ids)
    assert set(winners.values()) == {1}, "an execution was claimed by two engines"
    owner = {ex_id: f"racer-{i}" for i, mine in enumerate(claims) for ex_id in mine}
    for ex_id, engine_id in Execution.objects.filter(id__in=ids).values_list("id", "engine_id"):
        assert engine_id == owner[ex_id]
    assert sum(1 for mine in claims if mine) >= 2, "the claims did not actually race"


def test_hundreds_of_node_run_claims_have_exactly_one_winner_each(run_workflow: Any) -> None:
    """The node-run claim (`queued` → `running`) is a compare-and-set inside the fenced
    write: racers that all believe they own the execution (the case a stale takeover
    could create) get each node run exactly once between them, and racers of another
    engine id get none."""
    ex = run_workflow(definition([START], []))
    Execution.objects.filter(id=ex.id).update(status="running", engine_id="owner-engine", heartbeat_at=timezone.now())
    now = timezone.now()
    run_ids = [uuid.uuid4().hex for _ in range(300)]
    NodeRun.objects.bulk_create([
        NodeRun(id=run_id, execution_id=ex.id, node_id=f"n{i}", type="delay", status="queued", attempt=1,
                trace_id=ex.trace_id, seq=i + 1, queued_at=now)
        for i, run_id in enumerate(run_ids)
    ])
    rows = {r["id"]: r for r in NodeRun.objects.filter(execution_id=ex.id).values(
        "id", "execution_id", "node_id", "name", "type", "scope", "status", "attempt", "iteration", "branch_id",
        "branch_name", "trace_id", "queued_at", "started_at", "finished_at", "input", "output", "error", "handle",
        "claimed_by", "pinned", "seq")}
    intruders = {RACERS - 1, RACERS - 2}
    # Every racer commits its k-th chunk before any starts its (k+1)-th, so the forward and
    # backward racers really meet in the middle instead of one of them finishing alone.
    in_step = threading.Barrier(RACERS)

    def claim_all(i: int) -> set[str]:
        close_old_connections()
        store = DjangoPersistence()
        engine_id = f"intruder-{i}" if i in intruders else "owner-engine"
        won: set[str] = set()
        order = run_ids if i % 2 else list(reversed(run_ids))
        for chunk in range(0, len(order), 25):  # many transactions, interleaved with the others
            ids = order[chunk:chunk + 25]
            batch = Batch()
            for run_id in ids:
                batch.node_runs[run_id] = {**rows[run_id], "status": "running", "started_at": timezone.now(),
                                           "output": {"by": i}}
                batch.claims.append(run_id)
            lost = store.flush(batch, engine_id)
            won |= set(ids) - lost
            in_step.wait(timeout=60)
        return won

    results = race(claim_all)
    winners = Counter(run_id for won in results for run_id in won)
    assert sorted(winners) == sorted(run_ids)
    assert set(winners.values()) == {1}, "a node run was claimed twice"
    assert all(not results[i] for i in intruders), "an engine that does not own the execution claimed a node run"
    assert sum(1 for won in results if won) >= 2, "the claims did not actually race"
    winner = {run_id: i for i, won in enumerate(results) for run_id in won}
    for run_id, output, status in NodeRun.objects.filter(id__in=run_ids).values_list("id", "output", "status"):
        assert (output, status) == ({"by": winner[run_id]}, "running")


def test_two_runengine_processes_share_executions_and_never_run_a_node_run_twice(
    engines: Engines, run_workflow: Any
) -> None:
    d = definition([START, {"id": "a", "type": "delay", "config": {"duration": 50}},
                    {"id": "b", "type": "transform", "config": {"operation": "passthrough"}},
                    {"id": "c", "type": "delay", "config": {"duration": 50}},
                    {"id": "d", "type": "set", "config": {"values": {"n": "{{start.n}}"}}},
                    {"id": "m", "type": "merge"},
                    {"id": "loop", "type": "loop", "config": {"loopType": "forEach", "arrayPath": "{{start.items}}",
                                                               "parallel": True, "maxConcurrency": 4,
                                                               "itemVariable": "item"}},
                    {"id": "work", "type": "delay", "parentId": "loop", "config": {"duration": 20}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{loop}}"}}],
                   [("start", "a"), ("start", "c"), ("a", "b"), ("c", "d"), ("b", "m"), ("d", "m"), ("m", "loop"),
                    ("loop", "out")])
    # Staleness far away: two live engines must never take each other's executions.
    one = engines.start(stale_after=60)
    two = engines.start(stale_after=60)
    executions = []
    for n in range(60):
        executions.append(run_workflow(d, {"n": n, "items": [n, n + 1, n + 2]}).id)
        time.sleep(0.02)  # a stream of runs, so that both engines' polls find some
    wait_for(lambda: not Execution.objects.filter(id__in=executions, status__in=["queued", "running"]).exists(),
             timeout=90, what="all executions finished")
    statuses = Counter(Execution.objects.filter(id__in=executions).values_list("status", flat=True))
    assert statuses == {"succeeded": len(executions)}, Execution.objects.filter(id__in=executions).first().error
    for ex in Execution.objects.filter(id__in=executions):
        n = ex.input["n"]
        assert ex.output == {"out": [n, n + 1, n + 2]}
    runs = list(NodeRun.objects.filter(execution_id__in=executions)
                .values_list("execution_id", "scope", "node_id", "attempt", "status", "claimed_by"))
    keys = Counter((e, s, n, a) for e, s, n, a, _, _ in runs)
    assert max(keys.values()) == 1, [k for k, c in keys.items() if c > 1][:5]
    assert {a for _, _, _, a, _, _ in runs} == {1}, "a node run was retried or interrupted"
    assert {st for *_, st, _ in runs} == {"succeeded"}
    assert len(runs) == len(executions) * (8 + 3)
    # One engine drove each execution from start to end, and both engines had work.
    per_execution: dict[Any, set[str]] = {}
    for e, *_, claimed_by in runs:
        per_execution.setdefault(e, set()).add(claimed_by)
    assert all(len(engines_) == 1 for engines_ in per_execution.values())
    used = Counter(next(iter(v)) for v in per_execution.values())
    assert set(used) == {one.engine_id, two.engine_id}, used  # type: ignore[attr-defined]


def test_an_engine_that_stalls_and_wakes_up_after_a_takeover_runs_nothing_more(
    engines: Engines, run_workflow: Any
) -> None:
    """SIGSTOP an engine past the staleness window: another engine takes its executions
    over. When the first one wakes up (SIGCONT) its late writes are fenced off and it
    abandons those executions; no node run runs twice and no row is left running."""
    import os
    import signal

    d = definition([START, {"id": "a", "type": "delay", "config": {"duration": 1500}},
                    {"id": "b", "type": "transform", "config": {"operation": "passthrough"}},
                    {"id": "c", "type": "delay", "config": {"duration": 300}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{c}}"}}],
                   [("start", "a"), ("a", "b"), ("b", "c"), ("c", "out")])
    stalled = engines.start(stale_after=1)
    ids = [run_workflow(d, {"n": n}).id for n in range(5)]
    wait_for(lambda: NodeRun.objects.filter(execution_id__in=ids, node_id="a", status="running").count() == 5,
             what="all on node a")
    os.kill(stalled.pid, signal.SIGSTOP)
    try:
        taker = engines.start(stale_after=1)
        wait_for(lambda: set(Execution.objects.filter(id__in=ids).values_list("engine_id", flat=True))
                 == {taker.engine_id}, what="takeover")  # type: ignore[attr-defined]
    finally:
        os.kill(stalled.pid, signal.SIGCONT)  # wakes up while `a` of its own attempt is long due
    wait_for(lambda: not Execution.objects.filter(id__in=ids, status__in=["queued", "running"]).exists(),
             timeout=30, what="all finished")
    # The woken engine finds its late write fenced off and says it abandons those executions;
    # by then anything it would have done wrongly is in the store. (A fixed second for this
    # was too short on a loaded machine.)
    wait_for(lambda: "abandoning" in engines.output(stalled), timeout=30, what="the woken engine abandoning them")
    for ex in Execution.objects.filter(id__in=ids):
        assert ex.status == "succeeded", ex.error
        assert ex.output == {"out": {"n": ex.input["n"]}}
    runs = list(NodeRun.objects.filter(execution_id__in=ids).values_list("execution_id", "node_id", "attempt",
                                                                          "status", "claimed_by"))
    assert not [r for r in runs if r[3] in ("running", "queued", "retrying")]
    for ex_id in ids:
        mine = [r for r in runs if r[0] == ex_id]
        # `a` was interrupted by the takeover and ran again once; after it, only the new owner worked.
        assert [(n, a, s) for _, n, a, s, _ in mine if n == "a"] == [("a", 1, "cancelled"), ("a", 2, "succeeded")]
        for node_id in ("b", "c", "out"):
            assert [(a, s, by) for _, n, a, s, by in mine if n == node_id] == [(1, "succeeded", taker.engine_id)]  # type: ignore[attr-defined]
