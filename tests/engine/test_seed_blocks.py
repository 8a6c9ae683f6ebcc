"""Every code block of the seed page's sections "Parallel Loop Execution", "Queue
Management", "Error Handling in Parallel" and "Timeouts" (seed/parallel-execution.md),
pasted into a node's config, does what the page says — one test per block.

Each block is kept here exactly as the page prints it (TypeScript object literal) and
turned into JSON by `ts_object` (quote the keys, drop comments and trailing commas) — no
hand-edited values. The two Timeouts blocks name 30 s and 60 s; they run on the real
coordinator with its clock sped up 100× (timers, delays and deadlines all read that
clock), so the page's own numbers are used and the tests take well under a second.
"""

from __future__ import annotations

import json
import re
import time
import types
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User

from engine.models import DeadLetter, Execution
from tests.engine.core.conftest import CoreRunner
from tests.engine.core.conftest import graph as core_graph
from tests.engine.runs import (
    START,
    definition,
    make_workflow,
    peak_concurrency,
    run,
    runs_of,
    start,
    wait_finished,
)

# -- the blocks, verbatim ----------------------------------------------------------------------
LOOP_CONFIGURATION = """
{
  loopType: "forEach",
  arrayPath: "{{users}}",
  parallel: true,
  maxConcurrency: 10,  // Limit concurrent executions
  itemVariable: "user",
  outputVariable: "results"
}
"""

LOOP_EXAMPLE_DIAGRAM = """
[Get User List] → [Parallel Loop] → [Enrich User Data] → [Collect Results]
                       ↓
              Process 10 users at once
              instead of one at a time
"""

QUEUE_CONFIGURATION = """
{
  queue: {
    maxSize: 1000,
    priority: "fifo",  // fifo, lifo, priority
    timeout: 300000,   // Max queue wait time
    deadLetterQueue: true
  }
}
"""

PARTIAL_SUCCESS = """
{
  parallel: {
    onPartialFailure: "continue",  // continue, fail, collect
    minSuccessRate: 0.8,           // 80% must succeed
    collectErrors: true             // Gather all errors
  }
}
"""

COLLECT_MODE = """
{
  results: [
    { success: true, data: {...} },
    { success: true, data: {...} },
    { success: false, error: "Timeout" }
  ],
  successCount: 2,
  failureCount: 1
}
"""

FAIL_FAST = """
{
  parallel: {
    failFast: true,
    cancelOnFailure: true
  }
}
"""

BRANCH_TIMEOUT = """
{
  timeout: 30000,  // 30 seconds per branch
  onTimeout: "cancel"  // cancel, continue, error
}
"""

OVERALL_TIMEOUT = """
{
  parallel: {
    totalTimeout: 60000,  // 60 seconds total
    onTimeout: "collect_partial"
  }
}
"""


def ts_object(text: str) -> dict[str, Any]:
    """A TypeScript object literal of the page → the same value as JSON."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"([{,]\s*)([A-Za-z_]\w*)\s*:", r'\1"\2":', text)
    text = re.sub(r",\s*([}\]])", r"\1", text)
    return json.loads(text)


def test_the_blocks_translate_to_json():
    assert ts_object(LOOP_CONFIGURATION) == {
        "loopType": "forEach", "arrayPath": "{{users}}", "parallel": True, "maxConcurrency": 10,
        "itemVariable": "user", "outputVariable": "results",
    }
    assert ts_object(QUEUE_CONFIGURATION)["queue"]["timeout"] == 300000
    assert ts_object(BRANCH_TIMEOUT) == {"timeout": 30000, "onTimeout": "cancel"}


@pytest.fixture
def owner(transactional_db: None) -> User:
    return User.objects.create_user("seed-owner", password="pw")


def slow_users(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "ms": 100} for i in range(1, n + 1)]


# -- Parallel Loop Execution ---------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_loop_configuration_runs_ten_users_at_a_time_into_results(owner):
    loop = ts_object(LOOP_CONFIGURATION)
    d = definition(
        [START,
         # `{{users}}` is the output of the node with id `users`.
         {"id": "users", "type": "output", "name": "users", "config": {"value": "{{input.users}}"}},
         {"id": "loop", "type": "loop", "name": "Parallel Loop", "config": loop},
         {"id": "enrich", "type": "delay", "parentId": "loop", "config": {"duration": "{{user.ms}}"}},
         {"id": "collect", "type": "output", "name": "Collect Results", "config": {"value": "{{results}}"}}],
        [("start", "users"), ("users", "loop"), ("loop", "collect")], maxConcurrency=50)
    users = slow_users(30)
    t = time.monotonic()
    ex = run(owner, d, {"users": users})
    wall = time.monotonic() - t
    assert ex.status == "succeeded", ex.error
    assert ex.output["Collect Results"] == users  # outputVariable `results`, in item order
    enrich = runs_of(ex, "enrich")
    assert peak_concurrency(enrich) == 10  # "Limit concurrent executions"
    assert wall < 2.0  # 30 × 100 ms, ten at a time: ~0.3 s, not 3 s


@pytest.mark.django_db(transaction=True)
def test_parallel_api_calls_example_enriches_ten_users_at_once(owner, live_server, settings):
    assert "Process 10 users at once" in LOOP_EXAMPLE_DIAGRAM
    from engine.runtime import start_engine

    start_engine().options.http_allow_private = True
    api = f"{live_server.url}/demo-api"
    loop = ts_object(LOOP_CONFIGURATION)
    d = definition(
        [START,
         {"id": "users", "type": "http", "name": "Get User List", "config": {"method": "GET", "url": f"{api}/users"}},
         {"id": "loop", "type": "loop", "name": "Parallel Loop", "config": {**loop, "arrayPath": "{{users.body}}"}},
         {"id": "enrich", "type": "http", "name": "Enrich User Data", "parentId": "loop",
          "config": {"method": "GET", "url": f"{api}/users/{{{{user.id}}}}/profile?latency=300"}},
         {"id": "collect", "type": "output", "name": "Collect Results", "config": {"value": "{{results}}"}}],
        [("start", "users"), ("users", "loop"), ("loop", "collect")])
    t = time.monotonic()
    ex = run(owner, d, timeout=30)
    wall = time.monotonic() - t
    assert ex.status == "succeeded", ex.error
    results = ex.output["Collect Results"]
    assert [r["body"]["id"] for r in results] == list(range(1, 11))
    assert peak_concurrency(runs_of(ex, "enrich")) == 10
    assert wall < 2.5  # ten 300 ms calls at once, not 3 s one at a time


# -- Queue Management ------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_queue_configuration_on_a_loop(owner):
    """Items enter the queue, workers pick them by the concurrency limit (fifo), completed
    items move to results, failed items go to retry and then the dead-letter queue."""
    config = {"arrayPath": "{{input.items}}", "maxConcurrency": 2, "parallel": {"onPartialFailure": "continue"},
              **ts_object(QUEUE_CONFIGURATION)}
    d = definition(
        [START, {"id": "loop", "type": "loop", "config": config},
         {"id": "check", "type": "condition", "parentId": "loop", "config": {"expression": "item.ok"}},
         {"id": "work", "type": "delay", "parentId": "loop", "config": {"duration": 20}},
         {"id": "boom", "type": "fail", "parentId": "loop",
          "config": {"message": "item {{item.n}} failed", "retry": {"maxAttempts": 2, "initialDelay": 10}}},
         {"id": "o", "type": "output", "name": "o", "config": {"value": "{{loop}}"}}],
        [("start", "loop"), ("loop", "o"),
         {"source": "check", "target": "work", "sourceHandle": "true"},
         {"source": "check", "target": "boom", "sourceHandle": "false"}])
    items = [{"n": i, "ok": i != 3} for i in range(8)]
    ex = run(owner, d, {"items": items})
    assert ex.status == "succeeded", ex.error
    assert [r["work"]["n"] for r in ex.output["o"]] == [0, 1, 2, 4, 5, 6, 7]
    starts = sorted(runs_of(ex, "check"), key=lambda r: (r.started_at, r.seq))
    assert [r.iteration for r in starts] == list(range(8))  # fifo
    assert peak_concurrency(runs_of(ex, "work")) <= 2
    assert [(r.attempt, r.status) for r in runs_of(ex, "boom") if r.status != "skipped"] == [(1, "failed"), (2, "failed")]
    letter = DeadLetter.objects.get(execution=ex)
    assert (letter.kind, letter.item_index, letter.input, letter.attempts) == ("item", 3, items[3], 2)


@pytest.mark.django_db(transaction=True)
def test_queue_configuration_on_the_workflow_settings(owner):
    """The same block in `settings`: runs wait in a fifo queue and a failed run is kept."""
    d = definition([START, {"id": "check", "type": "condition", "config": {"expression": "input.ok"}},
                    {"id": "done", "type": "output", "name": "o", "config": {"value": "{{input.n}}"}},
                    {"id": "boom", "type": "fail", "config": {"message": "run {{input.n}} failed"}}],
                   [("start", "check"), {"source": "check", "target": "done", "sourceHandle": "true"},
                    {"source": "check", "target": "boom", "sourceHandle": "false"}],
                   **{**ts_object(QUEUE_CONFIGURATION), "queue": {**ts_object(QUEUE_CONFIGURATION)["queue"],
                                                               "maxConcurrentRuns": 1}})
    wf = make_workflow(owner, d)
    ids = [start(owner, wf, {"n": n, "ok": n != 1}).id for n in range(3)]
    finished = [wait_finished(i) for i in ids]
    assert [ex.status for ex in finished] == ["succeeded", "failed", "succeeded"]
    assert [ex.id for ex in sorted(finished, key=lambda e: e.started_at)] == ids  # fifo
    assert list(DeadLetter.objects.values_list("execution_id", "kind")) == [(ids[1], "run")]


# -- Error Handling in Parallel -------------------------------------------------------------------
def _branches(n_ok: int, n_failed: int) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    nodes = [{"id": f"ok{i}", "type": "delay", "config": {"duration": 10}} for i in range(n_ok)]
    nodes += [{"id": f"bad{i}", "type": "fail", "config": {"message": f"bad {i}"}} for i in range(n_failed)]
    return nodes, [("start", n["id"]) for n in nodes] + [(n["id"], "m") for n in nodes]


def _merge_run(owner: User, merge_config: dict[str, Any], n_ok: int, n_failed: int) -> Execution:
    nodes, edges = _branches(n_ok, n_failed)
    d = definition([START, *nodes, {"id": "m", "type": "merge", "config": merge_config},
                    {"id": "o", "type": "output", "name": "o", "config": {"value": "{{m}}"}}],
                   [*edges, ("m", "o")])
    return run(owner, d, {"v": 1})


@pytest.mark.django_db(transaction=True)
def test_partial_success_continues_gathers_errors_and_needs_80_percent(owner):
    policy = ts_object(PARTIAL_SUCCESS)
    four_of_five = _merge_run(owner, policy, 4, 1)
    assert four_of_five.status == "succeeded", four_of_five.error
    out = four_of_five.output["o"]
    assert sorted(k for k in out if k != "errors") == ["branch_a", "branch_b", "branch_c", "branch_d"]
    assert out["errors"] == [{"branch": "branch_e", "error": "bad 0"}]
    three_of_five = _merge_run(owner, policy, 3, 2)
    assert three_of_five.status == "failed"
    assert "minSuccessRate" in runs_of(three_of_five, "m")[0].error["message"]
    # The same block on a loop: 80 % of the items must succeed; errors gathered.
    d = definition([START, {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.items}}", **policy}},
                    {"id": "f", "type": "transform", "parentId": "loop", "config": {
                        "operation": "custom", "expression": "if (item < 0) throw new Error('negative'); return item;"}},
                    {"id": "o", "type": "output", "name": "o", "config": {"value": "{{loop}}"}}],
                   [("start", "loop"), ("loop", "o")])
    ok = run(owner, d, {"items": [1, 2, -3, 4, 5]})
    assert ok.status == "succeeded", ok.error
    assert ok.output["o"]["results"] == [1, 2, 4, 5]
    assert [e["index"] for e in ok.output["o"]["errors"]] == [2]
    too_few = run(owner, d, {"items": [1, -2, -3, 4, 5]})
    assert too_few.status == "failed"


@pytest.mark.django_db(transaction=True)
def test_collect_mode_has_the_pages_shape(owner):
    shape = COLLECT_MODE.replace("{...}", "null")
    expected = ts_object(shape)
    d = definition([START, {"id": "loop", "type": "loop", "config": {
                        "arrayPath": "{{input.items}}", "parallel": {"onPartialFailure": "collect"}}},
                    {"id": "call", "type": "condition", "parentId": "loop", "config": {"expression": "item.ok"}},
                    {"id": "data", "type": "output", "parentId": "loop", "config": {"value": "{{item.data}}"}},
                    {"id": "timeout", "type": "fail", "parentId": "loop", "config": {"message": "Timeout"}},
                    {"id": "o", "type": "output", "name": "o", "config": {"value": "{{loop}}"}}],
                   [("start", "loop"), ("loop", "o"), {"source": "call", "target": "data", "sourceHandle": "true"},
                    {"source": "call", "target": "timeout", "sourceHandle": "false"}])
    items = [{"ok": True, "data": {"id": 1}}, {"ok": True, "data": {"id": 2}}, {"ok": False}]
    ex = run(owner, d, {"items": items})
    assert ex.status == "succeeded", ex.error
    out = ex.output["o"]
    assert set(out) == set(expected) and out["successCount"] == 2 and out["failureCount"] == 1
    assert [set(r) for r in out["results"]] == [set(r) for r in expected["results"]]
    assert [r["success"] for r in out["results"]] == [True, True, False]
    assert out["results"][2]["error"] == "Timeout"
    assert [r["data"]["data"] for r in out["results"][:2]] == [{"id": 1}, {"id": 2}]


@pytest.mark.django_db(transaction=True)
def test_fail_fast_stops_all_branches_when_one_fails(owner):
    d = definition([START, {"id": "slow", "type": "delay", "config": {"duration": 5000}},
                    {"id": "slower", "type": "delay", "config": {"duration": 8000}},
                    {"id": "boom", "type": "fail", "config": {"message": "card declined"}},
                    {"id": "m", "type": "merge", "config": ts_object(FAIL_FAST)}],
                   [("start", "slow"), ("start", "slower"), ("start", "boom"),
                    ("slow", "m"), ("slower", "m"), ("boom", "m")])
    t = time.monotonic()
    ex = run(owner, d)
    assert time.monotonic() - t < 2.0
    assert ex.status == "failed"
    boom = runs_of(ex, "boom")[-1]
    for node in ("slow", "slower"):
        cancelled = runs_of(ex, node)[-1]
        assert cancelled.status == "cancelled"
        assert (cancelled.finished_at - boom.finished_at).total_seconds() < 0.3


# -- Timeouts (page's own numbers, coordinator clock at 100×) ----------------------------------------
WARP = 100.0


@pytest.fixture
def warped_core(monkeypatch: pytest.MonkeyPatch) -> Iterator[CoreRunner]:
    """The real coordinator on in-memory persistence, its clock running 100× fast."""
    import engine.core.engine as engine_module

    real = time.monotonic
    origin = real()
    shim = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("__")})
    shim.monotonic = lambda: origin + (real() - origin) * WARP
    monkeypatch.setattr(engine_module, "time", shim)
    runner = CoreRunner()
    runner.engine.poll_interval = 0.005
    yield runner
    runner.engine.stop(1)


def _seconds(run_row: dict[str, Any]) -> float:
    return (run_row["finished_at"] - run_row["started_at"]).total_seconds() * WARP


@pytest.mark.parametrize("on_timeout", ["cancel", "continue", "error"])
def test_branch_timeout_of_30_seconds(warped_core, on_timeout):
    branch = ts_object(BRANCH_TIMEOUT)
    branch["onTimeout"] = on_timeout  # the block's comment lists the three choices
    d = core_graph(
        [START, {"id": "slow_call", "type": "delay", "config": {"duration": 45000}},
         {"id": "quick_call", "type": "delay", "config": {"duration": 10000}},
         {"id": "m", "type": "merge", "config": {"parallel": {"onPartialFailure": "continue"}}},
         {"id": "o", "type": "output", "name": "o", "config": {"value": "{{m}}"}}],
        [{"source": "start", "target": "slow_call", "branch": {"name": "slow", **branch}},
         {"source": "start", "target": "quick_call", "branch": {"name": "quick", **branch}},
         {"source": "slow_call", "target": "m"}, {"source": "quick_call", "target": "m"},
         {"source": "m", "target": "o"}])
    ex = warped_core.run(d, {"v": 1})
    assert ex["status"] == "succeeded", ex["error"]
    slow = ex["by_node"]["slow_call"][-1]
    quick = ex["by_node"]["quick_call"][-1]
    assert quick["status"] == "succeeded"  # 10 s is within 30 s per branch
    assert 29 <= _seconds(slow) <= 34  # stopped at 30 s, not at 45 s
    out = ex["output"]["o"]
    if on_timeout == "continue":
        assert slow["status"] == "succeeded" and out["slow"] == {"timedOut": True}
    else:
        assert slow["status"] == "timed_out" and "timed out after 30000 ms" in slow["error"]["message"]
        assert "slow" not in out and out["quick"] == {"v": 1}


def test_overall_timeout_of_60_seconds_collects_what_finished(warped_core):
    section = ts_object(OVERALL_TIMEOUT)
    d = core_graph(
        [START, {"id": "a", "type": "delay", "config": {"duration": 20000}},
         {"id": "b", "type": "delay", "config": {"duration": 50000}},
         {"id": "c", "type": "delay", "config": {"duration": 120000}},
         {"id": "m", "type": "merge", "config": section},
         {"id": "o", "type": "output", "name": "o", "config": {"value": "{{m}}"}}],
        [("start", "a"), ("start", "b"), ("start", "c"), ("a", "m"), ("b", "m"), ("c", "m"), ("m", "o")])
    t = time.monotonic()
    ex = warped_core.run(d, {"v": 1})
    assert (time.monotonic() - t) * WARP < 75  # ended at 60 s, not at 120 s
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"] == {"branch_a": {"v": 1}, "branch_b": {"v": 1}, "cancelled": ["branch_c"]}
    assert ex["by_node"]["c"][-1]["status"] == "cancelled"
    # The same block on a loop: items still running at 60 s are cut and listed.
    loop = core_graph(
        [START, {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.ms}}", **section}},
         {"id": "work", "type": "delay", "parentId": "loop", "config": {"duration": "{{item}}"}},
         {"id": "o", "type": "output", "name": "o", "config": {"value": "{{loop}}"}}],
        [("start", "loop"), ("loop", "o")])
    ex = warped_core.run(loop, {"ms": [10000, 90000, 30000]})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"] == {"results": [10000, 30000], "cancelled": [1]}
