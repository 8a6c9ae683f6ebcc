"""Scheduling order, concurrency, joins, skips and failures: through the real coordinator, and
(at the end) the scheduler's state machine driven directly, without threads or sleeps."""

from __future__ import annotations

import time

import pytest

from engine.core.plan import VersionPlan
from engine.core.scheduler import Actions, Outcome, ScopeScheduler
from tests.engine.definitions import NOT_WAITED_S, SLOW_MS, START, definition, delay, peak_concurrency


def test_independent_branches_overlap(core, graph):
    d = graph([START, delay("a", 300), delay("b", 300), delay("c", 300), {"id": "m", "type": "merge"}],
              [("start", "a"), ("start", "b"), ("start", "c"), ("a", "m"), ("b", "m"), ("c", "m")])
    t = time.monotonic()
    ex = core.run(d, {"n": 1})
    wall = time.monotonic() - t
    assert ex["status"] == "succeeded"
    assert wall < 0.6, f"3 × 300 ms branches took {wall:.2f}s (sequential would be 0.9 s)"
    starts = [ex["by_node"][n][0]["started_at"] for n in "abc"]
    assert (max(starts) - min(starts)).total_seconds() < 0.1


def test_node_starts_when_its_inputs_settle_not_in_waves(core, graph):
    # a (50 ms) → a2 must start long before the slow branch b (400 ms) ends.
    d = graph([START, delay("a", 50), delay("a2", 10), delay("b", 400)],
              [("start", "a"), ("start", "b"), ("a", "a2")])
    ex = core.run(d)
    a2 = ex["by_node"]["a2"][0]
    b = ex["by_node"]["b"][0]
    assert a2["started_at"] < b["finished_at"]
    assert (a2["started_at"] - ex["by_node"]["a"][0]["finished_at"]).total_seconds() < 0.05


def test_max_concurrency_caps_node_runs_in_flight(core, graph):
    nodes = [START] + [delay(f"d{i}", 100) for i in range(8)]
    d = graph(nodes, [("start", f"d{i}") for i in range(8)], maxConcurrency=2)
    ex = core.run(d)
    runs = [r for r in ex["runs"] if r["node_id"].startswith("d")]
    assert peak_concurrency((r["started_at"], r["finished_at"]) for r in runs) == 2
    assert all(r["queued_at"] <= r["started_at"] for r in runs)


def test_condition_skips_the_other_side(core, graph):
    d = graph(
        [START, {"id": "cond", "type": "condition", "config": {"expression": "input.amount > 10"}},
         {"id": "big", "type": "output", "name": "big", "config": {"value": "big"}},
         {"id": "small", "type": "output", "name": "small", "config": {"value": "small"}},
         {"id": "after_small", "type": "log", "config": {"message": "never"}}],
        [{"source": "start", "target": "cond"},
         {"source": "cond", "target": "big", "sourceHandle": "true"},
         {"source": "cond", "target": "small", "sourceHandle": "false"},
         {"source": "small", "target": "after_small"}],
    )
    ex = core.run(d, {"amount": 50})
    assert ex["status"] == "succeeded"
    assert ex["output"] == {"big": "big"}
    assert ex["by_node"]["small"][0]["status"] == "skipped"
    assert ex["by_node"]["after_small"][0]["status"] == "skipped"


def test_failure_without_join_fails_the_run_and_cancels_siblings(core, graph):
    d = graph([START, {"id": "boom", "type": "fail", "config": {"message": "nope"}}, delay("slow", SLOW_MS)],
              [("start", "boom"), ("start", "slow")])
    t = time.monotonic()
    ex = core.run(d)
    assert time.monotonic() - t < NOT_WAITED_S
    assert ex["status"] == "failed"
    assert ex["error"]["nodeId"] == "boom"
    assert ex["by_node"]["slow"][-1]["status"] == "cancelled"


def test_on_error_continue_and_route(core, graph):
    d = graph(
        [START,
         {"id": "soft", "type": "fail", "config": {"message": "soft", "onError": "continue"}},
         {"id": "routed", "type": "fail", "config": {"message": "routed", "onError": "route"}},
         {"id": "handler", "type": "output", "name": "handled", "config": {"value": "{{routed.error.message}}"}},
         {"id": "normal", "type": "output", "name": "normal", "config": {"value": "x"}},
         {"id": "o", "type": "output", "name": "soft", "config": {"value": "{{soft}}"}}],
        [{"source": "start", "target": "soft"}, {"source": "start", "target": "routed"},
         {"source": "routed", "target": "handler", "sourceHandle": "error"},
         {"source": "routed", "target": "normal"}, {"source": "soft", "target": "o"}],
    )
    ex = core.run(d)
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["handled"] == "routed"
    assert ex["output"]["soft"]["error"]["message"] == "soft"
    assert "normal" not in ex["output"]
    assert ex["by_node"]["normal"][0]["status"] == "skipped"


def test_retry_records_each_attempt_with_backoff(core, graph):
    d = graph([START, {"id": "flaky", "type": "fail", "config": {
        "message": "down", "retry": {"maxAttempts": 3, "backoff": "exponential", "initialDelay": 50}}}],
        [("start", "flaky")])
    ex = core.run(d)
    runs = ex["by_node"]["flaky"]
    assert [r["attempt"] for r in runs] == [1, 2, 3]
    assert all(r["status"] == "failed" for r in runs)
    gap1 = (runs[1]["started_at"] - runs[0]["finished_at"]).total_seconds()
    gap2 = (runs[2]["started_at"] - runs[1]["finished_at"]).total_seconds()
    assert 0.04 <= gap1 < 0.2 and 0.09 <= gap2 < 0.3 and gap2 > gap1
    assert ex["status"] == "failed"
    assert any(e["type"] == "node.retrying" for e in ex["events"])


def test_timeout_policies(core, graph):
    d = graph(
        [START,
         delay("cont", SLOW_MS, timeout=50, onTimeout="continue"),
         delay("err", SLOW_MS, timeout=50, onTimeout="error", onError="continue"),
         {"id": "m", "type": "merge"},
         {"id": "o", "type": "output", "name": "o", "config": {"value": "{{m}}"}}],
        [("start", "cont"), ("start", "err"), ("cont", "m"), ("err", "m"), ("m", "o")],
    )
    t = time.monotonic()
    ex = core.run(d)
    assert time.monotonic() - t < NOT_WAITED_S
    assert ex["status"] == "succeeded", ex["error"]
    out = ex["output"]["o"]
    assert out["branch_a"] == {"timedOut": True}
    assert "timed out" in out["branch_b"]["error"]["message"]


def test_on_timeout_cancel_is_not_retried_nor_handled_and_error_is(core, graph):
    """What docs/node-types.md says of `onTimeout`: `error` is a failure like any other
    (retried, then `onError`); `cancel` stops the node run as timed out at once."""
    policy = {"timeout": 50, "retry": {"maxAttempts": 2, "initialDelay": 1}, "onError": "continue"}
    error = core.run(graph([START, delay("slow", 1000, onTimeout="error", **policy)], [("start", "slow")]))
    assert [(r["attempt"], r["status"]) for r in error["by_node"]["slow"]] == [(1, "timed_out"), (2, "succeeded")]
    assert error["status"] == "succeeded" and "timed out" in error["by_node"]["slow"][-1]["output"]["error"]["message"]
    cancel = core.run(graph([START, delay("slow", 1000, onTimeout="cancel", **policy)], [("start", "slow")]))
    assert [(r["attempt"], r["status"]) for r in cancel["by_node"]["slow"]] == [(1, "timed_out")]
    assert cancel["status"] == "failed"


def test_timed_out_node_frees_its_slot(core, graph):
    d = graph([START, delay("hang", SLOW_MS, timeout=100, onTimeout="continue"), delay("next", 50)],
              [("start", "hang"), ("start", "next")], maxConcurrency=1)
    t = time.monotonic()
    ex = core.run(d)
    assert ex["status"] == "succeeded"
    assert time.monotonic() - t < NOT_WAITED_S


def test_execution_timeout(core, graph):
    d = graph([START, delay("long", 5000)], [("start", "long")], timeout=150)
    ex = core.run(d)
    assert ex["status"] == "timed_out"
    assert ex["by_node"]["long"][-1]["status"] == "cancelled"


def test_events_are_gap_free_and_ordered(core, graph):
    d = graph([START, delay("a", 10), delay("b", 10)], [("start", "a"), ("start", "b")])
    ex = core.run(d)
    seqs = [e["seq"] for e in ex["events"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert ex["events"][-1]["type"] == "execution.succeeded"


# --- the state machine itself, driven directly (no coordinator, no threads, no sleeps) -------
# In the way CPython tests graphlib.TopologicalSorter: start, report nodes done, and check
# what becomes ready, what is skipped or cancelled, and that misuse raises.


def scheduler(nodes: list[dict[str, object]], edges: list[object], **settings: object) -> ScopeScheduler:
    return ScopeScheduler(VersionPlan(definition(nodes, edges, **settings)).scopes[None])


def ok(output: object = None, handle: str | None = None) -> Outcome:
    return Outcome("succeeded", output=output, handle=handle)


def log(node_id: str) -> dict[str, object]:
    return {"id": node_id, "type": "log", "config": {"message": node_id}}


def test_a_chain_hands_out_one_node_at_a_time_until_finished():
    s = scheduler([START, log("a"), log("b")], [("start", "a"), ("a", "b")])
    assert s.start().ready == ["start"]
    s.mark_running("start")
    assert s.finish("start", ok()).ready == ["a"]
    assert not s.finished
    assert s.finish("a", ok()).ready == ["b"]
    actions = s.finish("b", ok())
    assert actions == Actions()
    assert s.finished
    assert list(s.unsettled()) == []


def test_a_join_is_ready_only_when_every_branch_settled_and_sees_their_outputs():
    s = scheduler([START, log("a"), log("b"), log("c"), {"id": "m", "type": "merge"}],
                  [("start", "a"), ("start", "b"), ("start", "c"), ("a", "m"), ("b", "m"), ("c", "m")])
    s.start()
    assert sorted(s.finish("start", ok()).ready) == ["a", "b", "c"]
    assert s.finish("a", ok(1)).ready == []
    assert s.finish("c", ok(3)).ready == []
    assert s.finish("b", ok(2)).ready == ["m"]
    assert sorted(result.data for _, result in s.inputs("m")) == [1, 2, 3]


def test_a_condition_readies_its_chosen_side_and_skips_the_other_side_downstream():
    s = scheduler(
        [START, {"id": "cond", "type": "condition", "config": {"expression": "true"}}, log("yes"), log("no"),
         log("after_no")],
        [{"source": "start", "target": "cond"}, {"source": "cond", "target": "yes", "sourceHandle": "true"},
         {"source": "cond", "target": "no", "sourceHandle": "false"}, {"source": "no", "target": "after_no"}],
    )
    s.start()
    s.finish("start", ok())
    actions = s.finish("cond", ok(handle="true"))
    assert actions.ready == ["yes"]
    assert actions.skipped == [("no", "upstream skipped"), ("after_no", "upstream skipped")]
    s.finish("yes", ok())
    assert s.finished


def test_a_first_success_join_fires_at_the_first_success_and_cancels_the_rest():
    s = scheduler([START, log("a"), log("b"), {"id": "m", "type": "merge", "config": {"mode": "first_success"}}],
                  [("start", "a"), ("start", "b"), ("a", "m"), ("b", "m")])
    s.start()
    s.finish("start", ok())
    s.mark_running("a")
    s.mark_running("b")
    actions = s.finish("b", ok("b won"))
    assert actions.ready == ["m"]
    assert actions.cancel == [("a", "m: first_success reached")]
    # The cancelled branch reports back later; the join does not run twice.
    assert s.finish("a", Outcome("cancelled")).ready == []


def test_a_failure_outside_any_join_fails_the_scope_and_stops_the_rest():
    s = scheduler([START, log("a"), log("b"), log("after_b")], [("start", "a"), ("start", "b"), ("b", "after_b")])
    s.start()
    s.finish("start", ok())
    s.mark_running("b")
    actions = s.finish("a", Outcome("failed", error={"message": "boom"}))
    assert actions.scope_failed == {"nodeId": "a", "error": {"message": "boom"}}
    assert actions.cancel == [("b", "workflow failed at a")]
    assert actions.skipped == [("after_b", "workflow failed at a")]


def test_finishing_a_node_twice_changes_nothing_the_second_time():
    s = scheduler([START, log("a")], [("start", "a")])
    s.start()
    assert s.finish("start", ok()).ready == ["a"]
    assert s.finish("start", ok()) == Actions()
    assert s.state["a"] == "ready"


def test_misuse_raises_with_the_node_named():
    s = scheduler([START, log("a")], [("start", "a")])
    s.start()
    with pytest.raises(ValueError, match=r"^node 'ghost' is not in this scope$"):
        s.finish("ghost", ok())
    with pytest.raises(ValueError, match=r"^node 'ghost' is not in this scope$"):
        s.mark_running("ghost")
    with pytest.raises(ValueError, match=r"^node 'a' is not ready \(it is pending\)$"):
        s.mark_running("a")
    s.mark_running("start")
    with pytest.raises(ValueError, match=r"^node 'start' is not ready \(it is running\)$"):
        s.mark_running("start")
