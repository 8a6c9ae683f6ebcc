"""The seed page's examples (seed/parallel-execution.md), each loaded verbatim from a copy of
the page kept in tests/fixtures/seed/ and run — one test per example, in the page's order of
sections: Parallel Loop Execution, Queue Management, Merging Parallel Results, Workflow
Signals, Parallel Variables, Common Patterns (Batch Processing), Debugging (Logging,
Tracing), Error Handling in Parallel and Timeouts.

Each block is read out of the page by its section heading (`seed_block`) and turned into
JSON by `ts_object` (quote the keys, drop comments and trailing commas, a `...` template
literal becomes a string) — no hand-edited values. The two Timeouts blocks name 30 s and
60 s; they run on the real coordinator with its clock sped up 100× (timers, delays and
deadlines all read that clock), so the page's own numbers are used and the tests take well
under a second.
"""

from __future__ import annotations

import json
import re
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from engine.core.graph import validate_definition
from engine.models import DeadLetter, Execution
from tests.engine.core.conftest import graph as core_graph
from tests.engine.core_runner import CoreRunner
from tests.engine.definitions import custom_merge_definition
from tests.engine.definitions import peak_concurrency as peak_spans
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

SEED_PAGE = Path(__file__).resolve().parents[1] / "fixtures" / "seed" / "parallel-execution.md"


def seed_block(heading: str, index: int = 0) -> str:
    """The `index`-th fenced code block under the page's heading `heading` (any level),
    exactly as the page prints it."""
    text = SEED_PAGE.read_text(encoding="utf-8")
    match = re.search(rf"^#+ {re.escape(heading)}\s*$", text, flags=re.M)
    assert match, f"no section {heading!r} on the seed page"
    after = text[match.end():]
    following = re.search(r"^#+ ", after, flags=re.M)
    section = after[: following.start()] if following else after
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", section, flags=re.M | re.S)
    assert len(blocks) > index, f"section {heading!r} has {len(blocks)} code block(s)"
    return "\n" + blocks[index]


# -- the blocks, verbatim from the page ----------------------------------------------------------
LOOP_CONFIGURATION = seed_block("Configuration")
LOOP_EXAMPLE_DIAGRAM = seed_block("Example: Parallel API Calls")
QUEUE_CONFIGURATION = seed_block("Queue Configuration")
AUTOMATIC_MERGE = seed_block("Automatic Merge")
CUSTOM_MERGE = seed_block("Custom Merge Logic")
PAUSE_SIGNAL = seed_block("Pause Signal")
RESUME_SIGNAL = seed_block("Resume Signal")
CANCEL_SIGNAL = seed_block("Cancel Signal")
SIGNAL_HANDLERS = seed_block("Signal Handlers")
LOOP_VARIABLES = seed_block("In Parallel Loops")
BRANCH_VARIABLES = seed_block("In Parallel Branches")
BATCH_PROCESSING = seed_block("Batch Processing")
LOGGING = seed_block("Logging")
TRACING = seed_block("Tracing")
PARTIAL_SUCCESS = seed_block("Partial Success")
COLLECT_MODE = seed_block("Collect Mode")
FAIL_FAST = seed_block("Fail-Fast")
BRANCH_TIMEOUT = seed_block("Branch Timeout")
OVERALL_TIMEOUT = seed_block("Overall Timeout")


def ts_object(text: str) -> dict[str, Any]:
    """A TypeScript object literal of the page → the same value as JSON."""
    literals: list[str] = []

    def keep(match: re.Match[str]) -> str:
        literals.append(match.group(1))
        return f'"__template_literal_{len(literals) - 1}__"'

    text = re.sub(r"`(.*?)`", keep, text, flags=re.S)  # template literals hold code, kept as is
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"([{,]\s*)([A-Za-z_]\w*)\s*:", r'\1"\2":', text)
    text = re.sub(r",\s*([}\]])", r"\1", text)
    value = json.loads(text)

    def restore(v: Any) -> Any:
        if isinstance(v, str):
            m = re.fullmatch(r"__template_literal_(\d+)__", v)
            return literals[int(m.group(1))] if m else v
        if isinstance(v, dict):
            return {k: restore(x) for k, x in v.items()}
        if isinstance(v, list):
            return [restore(x) for x in v]
        return v

    return restore(value)


def request_body(block: str) -> tuple[str, dict[str, Any]]:
    """A signal block: `POST <path>` then a JSON body (after an optional comment line)."""
    lines = [line for line in block.strip().splitlines() if not line.strip().startswith("//")]
    assert lines[0].startswith("POST "), lines[0]
    return lines[0].split()[1], json.loads("\n".join(lines[1:]))


def test_the_blocks_translate_to_json():
    assert ts_object(LOOP_CONFIGURATION) == {
        "loopType": "forEach", "arrayPath": "{{users}}", "parallel": True, "maxConcurrency": 10,
        "itemVariable": "user", "outputVariable": "results",
    }
    assert ts_object(QUEUE_CONFIGURATION)["queue"]["timeout"] == 300000
    assert ts_object(BRANCH_TIMEOUT) == {"timeout": 30000, "onTimeout": "cancel"}


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
    # A loop item's entry has a merge branch's shape: the message, then what else it said.
    assert ok.output["o"]["errors"] == [{"index": 2, "error": "Expression threw Error: negative (line 1)",
                                         "details": {"kind": "thrown"}}]
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
    d = definition([START, {"id": "slow", "type": "delay", "config": {"duration": 10_000}},
                    {"id": "slower", "type": "delay", "config": {"duration": 15_000}},
                    {"id": "boom", "type": "fail", "config": {"message": "card declined"}},
                    {"id": "m", "type": "merge", "config": ts_object(FAIL_FAST)}],
                   [("start", "slow"), ("start", "slower"), ("start", "boom"),
                    ("slow", "m"), ("slower", "m"), ("boom", "m")])
    t = time.monotonic()
    ex = run(owner, d)
    # Half the shortest branch: far above any machine's overhead, far below waiting for it.
    assert time.monotonic() - t < 5.0
    assert ex.status == "failed"
    boom = runs_of(ex, "boom")[-1]
    for node in ("slow", "slower"):
        cancelled = runs_of(ex, node)[-1]
        assert cancelled.status == "cancelled"
        # Stopped because "boom" failed, not when its own 10 s or 15 s ran out.
        assert (cancelled.finished_at - boom.finished_at).total_seconds() < 5.0


# -- Timeouts (page's own numbers, coordinator clock at 100×) ----------------------------------------
WARP = 100.0


@pytest.fixture
def warped_core(monkeypatch: pytest.MonkeyPatch) -> Iterator[CoreRunner]:
    """The real coordinator on in-memory persistence, its clock running 100× fast."""
    import engine.core.timers as clock_module  # the core's one clock (timers.clock)

    real = time.monotonic
    origin = real()
    shim = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("__")})
    shim.monotonic = lambda: origin + (real() - origin) * WARP
    monkeypatch.setattr(clock_module, "time", shim)
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


# -- Merging Parallel Results --------------------------------------------------------------------
def test_automatic_merge_combines_branch_a_b_c(core):
    shape = ts_object(AUTOMATIC_MERGE.replace("// After parallel branches complete", ""))
    d = core_graph([START, *[{"id": n, "type": "transform", "config": {"expression": "return {result: '...'};"}}
                             for n in ("a", "b", "c")],
                    {"id": "m", "type": "merge"}, {"id": "o", "type": "output", "name": "o", "config": {"value": "{{m}}"}}],
                   [("start", "a"), ("start", "b"), ("start", "c"), ("a", "m"), ("b", "m"), ("c", "m"), ("m", "o")])
    ex = core.run(d)
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"] == shape


def test_custom_merge_logic_in_a_transform_join_and_after_a_merge(core):
    config = ts_object(CUSTOM_MERGE)
    assert config["operation"] == "custom" and "branch_a.count + branch_b.count" in config["expression"]
    as_join = custom_merge_definition(after_merge=False, config=config)
    after_merge = custom_merge_definition(after_merge=True, config=config)
    for d in (as_join, after_merge):
        ex = core.run(d)
        assert ex["status"] == "succeeded", ex["error"]
        out = ex["output"]["o"]
        assert out["totalUsers"] == 3 and out["allEmails"] == ["a@x", "b@x", "c@x"] and out["merged"] > 0


# -- Workflow Signals ------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_pause_resume_and_cancel_blocks_as_sent(alice_client, make_workflow, wait_for_execution):
    handlers = ts_object(SIGNAL_HANDLERS)
    d = definition([START, {"id": "wait", "type": "delay", "config": {"duration": 5000}},
                    {"id": "update_priority_node", "type": "log", "config": {"message": "priority {{input.level}}"}}],
                   [("start", "wait")], **handlers)
    assert validate_definition(d).ok
    workflow = make_workflow(definition=d)
    execution_id = alice_client.post(f"/api/workflows/{workflow.pk}/run", {"input": {}}, format="json").json()["id"]
    wait_for_execution(alice_client, execution_id, {"running"})

    def post(block: str) -> Any:
        path, body = request_body(block)
        assert path == "/api/executions/{executionId}/signal"
        response = alice_client.post(path.replace("{executionId}", str(execution_id)), body, format="json")
        assert response.status_code == 202, response.content
        return body

    custom = alice_client.post(f"/api/executions/{execution_id}/signal",
                               {"type": "priority_change", "data": {"level": "high"}}, format="json")
    assert custom.status_code == 202
    assert post(PAUSE_SIGNAL)["reason"] == "Awaiting approval"
    wait_for_execution(alice_client, execution_id, {"paused"})
    resumed = post(RESUME_SIGNAL)
    wait_for_execution(alice_client, execution_id, {"running"})
    post(CANCEL_SIGNAL)
    body = wait_for_execution(alice_client, execution_id)
    assert body["status"] == "cancelled" and body["error"] == {"message": "User requested cancellation"}
    handler = [r for r in body["nodeRuns"] if r["nodeId"] == "update_priority_node"]
    assert [(r["status"], r["input"]) for r in handler] == [("succeeded", {"level": "high"})]
    events = alice_client.get(f"/api/executions/{execution_id}/events").json()
    signals = [e["data"] for e in events if e["type"] == "signal"]
    assert [s["type"] for s in signals] == ["priority_change", "pause", "resume", "cancel"]
    assert signals[2]["data"] == resumed["data"] == {"approved": True, "approver": "user@example.com"}


def test_signal_handlers_block_is_valid_settings_and_a_misspelt_one_is_not():
    handlers = ts_object(SIGNAL_HANDLERS)
    node = {"id": "update_priority_node", "type": "log", "config": {"message": "p"}}
    assert validate_definition(definition([START, node], [], **handlers)).errors == []
    missing = validate_definition(definition([START], [], **handlers)).errors
    assert [e["message"] for e in missing] == [
        "settings.signalHandlers.priority_change.handler: 'update_priority_node' is not a node"]
    handlers["signalHandlers"]["pause"]["action"] = "pasue"
    [error] = validate_definition(definition([START, node], [], **handlers)).errors
    assert "did you mean 'pause'" in error["message"]


# -- Parallel Variables -----------------------------------------------------------------------------
def test_parallel_and_branch_variables(core):
    loop_names = re.findall(r"\{\{([\w.]+)\}\}", LOOP_VARIABLES)
    branch_names = re.findall(r"\{\{([\w.]+)\}\}", BRANCH_VARIABLES)
    assert loop_names == ["parallel.index", "parallel.total", "parallel.batchId"]
    assert branch_names == ["branch.id", "branch.name"]
    body = {"id": "vars", "type": "output", "parentId": "loop",
            "config": {"value": {n.split(".")[1]: f"{{{{{n}}}}}" for n in loop_names}}}
    d = core_graph([START, {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.items}}", "batchSize": 2}},
                    body, {"id": "a", "type": "output", "config": {"value": {n.split(".")[1]: f"{{{{{n}}}}}"
                                                                              for n in branch_names}}},
                    {"id": "b", "type": "output", "config": {"value": "{{branch.name}}"}}],
                   [("start", "loop"), {"source": "start", "target": "a", "branch": {"name": "checks"}},
                    ("start", "b")])
    ex = core.run(d, {"items": ["x", "y", "z"]})
    assert ex["status"] == "succeeded", ex["error"]
    by_item = sorted((r["output"] for r in ex["by_node"]["vars"]), key=lambda o: o["index"])
    assert by_item == [{"index": 0, "total": 3, "batchId": 0}, {"index": 1, "total": 3, "batchId": 0},
                       {"index": 2, "total": 3, "batchId": 1}]
    assert ex["by_node"]["a"][0]["output"] == {"id": "2", "name": "checks"}
    assert ex["by_node"]["b"][0]["output"] == "branch_c"


# -- Common Patterns: Batch Processing (page's own numbers, coordinator clock at 100×) ---------------
def test_batch_processing_block(warped_core):
    config = ts_object(BATCH_PROCESSING)
    assert config["arrayPath"] == "{{large_dataset}}"
    d = core_graph([START, {"id": "large_dataset", "type": "output", "config": {"value": "{{input.rows}}"}},
                    {"id": "loop", "type": "loop", "config": config},
                    {"id": "work", "type": "delay", "parentId": "loop", "config": {"duration": 50}},
                    {"id": "o", "type": "output", "name": "o", "config": {"value": "{{loop}}"}}],
                   [("start", "large_dataset"), ("large_dataset", "loop"), ("loop", "o")])
    rows = list(range(250))
    t = time.monotonic()
    ex = warped_core.run(d, {"rows": rows}, timeout=30)
    elapsed_ms = (time.monotonic() - t) * WARP * 1000
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"] == rows
    work = ex["by_node"]["work"]
    assert peak_spans([(r["started_at"], r["finished_at"]) for r in work]) <= 5
    # Three batches of 100 (the last 50), 1000 ms between them: at least 2 s of waiting.
    assert elapsed_ms >= 2000
    batches = [[r for r in work if r["iteration"] // 100 == b] for b in range(3)]
    for earlier, later in zip(batches, batches[1:], strict=False):
        gap = (min(r["started_at"] for r in later) - max(r["finished_at"] for r in earlier)).total_seconds()
        assert gap * WARP >= 0.95  # delayBetweenBatches: 1000 ms


# -- Debugging: Logging and Tracing ---------------------------------------------------------------
def test_logging_block_in_parallel_branches_of_a_loop(core):
    config = ts_object(LOGGING)
    assert config["type"] == "transform" and "operation" not in config
    node = {"id": "log", "type": config["type"], "parentId": "loop", "config": {"expression": config["expression"]}}
    d = core_graph([START, {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.items}}"}}, node,
                    {"id": "o", "type": "output", "name": "o", "config": {"value": "{{loop}}"}}],
                   [("start", "loop"), ("loop", "o")])
    ex = core.run(d, {"items": [{"n": 1}, {"n": 2}]})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"] == [{"n": 1}, {"n": 2}]  # `return input;`
    logs = [e for e in ex["events"] if e["type"] == "log"]
    assert len(logs) == 2 and all(e["data"]["message"].startswith("Branch ") for e in logs)
    assert len({e["trace_id"] for e in logs}) == 2  # each item logs under its own trace id


def test_tracing_block_trace_ids(core):
    lines = [line.strip() for line in TRACING.strip().splitlines()]
    main = lines[0].split(": ")[1]
    branches = [line.split(": ")[1] for line in lines[1:]]
    assert branches == [f"{main}-00{i}" for i in (1, 2, 3)]
    d = core_graph([START, *[{"id": f"b{i}", "type": "log", "config": {"message": "Branch {{branch.id}}"}}
                             for i in (1, 2, 3)]], [("start", "b1"), ("start", "b2"), ("start", "b3")])
    ex = core.run(d)  # the runner starts every run with the page's trace id, trace-abc123
    assert ex["trace_id"] == main
    assert [ex["by_node"][f"b{i}"][0]["trace_id"] for i in (1, 2, 3)] == branches


# -- Retries through the database (the worker pool's claim of a retry) --------------------------
@pytest.mark.django_db(transaction=True)
def test_a_throwing_custom_transform_is_retried_through_the_database(owner):
    d = definition([START, {"id": "flaky", "type": "transform", "config": {
                        "expression": "throw new Error('flaky upstream');", "retry": {"maxAttempts": 3, "initialDelay": 50}}}],
                   [("start", "flaky")])
    ex = run(owner, d)
    assert ex.status == "failed"
    assert [(r.attempt, r.status) for r in runs_of(ex, "flaky")] == [(1, "failed"), (2, "failed"), (3, "failed")]
