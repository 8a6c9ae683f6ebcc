"""The `parallel` policy on every join (SPEC §4.3, issue 15 point 2): a merge, a Transform
with several incoming branches, a loop, and `settings.parallel` as the workflow's default.
The seed's "Fail-Fast — stop all branches when one fails" is two settings: `failFast`
(the section fails at the first failure, without waiting) and `cancelOnFailure` (the
branches still running are cancelled, otherwise they finish); all four combinations."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.engine.definitions import START, seconds

SLOW_MS = 1500



def section(graph, join: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """Three branches into `join` (id `j`): quick (10 ms), bad (fails at ~100 ms), slow."""
    nodes = [START,
             {"id": "quick", "type": "delay", "config": {"duration": 10}},
             {"id": "wait", "type": "delay", "config": {"duration": 100}},
             {"id": "bad", "type": "fail", "config": {"message": "card declined"}},
             {"id": "slow", "type": "delay", "config": {"duration": SLOW_MS}},
             join,
             {"id": "o", "type": "output", "name": "o", "config": {"value": "{{j}}"}}]
    edges = [("start", "quick"), ("start", "wait"), ("start", "slow"), ("wait", "bad"),
             ("quick", "j"), ("bad", "j"), ("slow", "j"), ("j", "o")]
    return graph(nodes, edges, **settings)


@pytest.mark.parametrize(("fail_fast", "cancel"), [(True, True), (True, False), (False, True), (False, False)])
def test_fail_fast_and_cancel_on_failure_are_two_settings_on_a_merge(core, graph, fail_fast, cancel):
    policy = {"failFast": fail_fast, "cancelOnFailure": cancel}
    t = time.monotonic()
    ex = core.run(section(graph, {"id": "j", "type": "merge", "config": {"parallel": policy}}), {"v": 1})
    wall = time.monotonic() - t
    assert ex["status"] == "failed"
    bad = ex["by_node"]["bad"][-1]
    join = ex["by_node"]["j"][-1]
    slow = ex["by_node"]["slow"][-1]
    assert join["status"] == "failed"
    waited = seconds(bad["finished_at"], join["finished_at"])
    if fail_fast:
        assert waited < 0.5, "failFast: the section fails at the first failure"
        assert join["error"]["message"].startswith("failFast")
    else:
        # the cut branch is not counted as a failure of its own, nor left out: it is named apart
        assert join["error"]["message"] == ("1 of 3 branches failed; 1 cancelled" if cancel else "1 of 3 branches failed")
    if cancel:
        assert slow["status"] == "cancelled", "cancelOnFailure: the running branch is cut"
        assert seconds(bad["finished_at"], slow["finished_at"]) < 0.5
        assert wall < SLOW_MS / 1000
        assert waited < 0.5  # nothing left to wait for
    else:
        assert slow["status"] == "succeeded", "without cancelOnFailure the branch finishes and keeps its result"
        assert slow["output"] == {"v": 1}
        assert wall >= SLOW_MS / 1000 - 0.05  # the run ends when the slow branch does
        if not fail_fast:
            assert waited >= SLOW_MS / 1000 - 0.2  # the default waits for every branch


def test_cancel_on_failure_with_continue_goes_on_with_what_succeeded(core, graph):
    policy = {"cancelOnFailure": True, "onPartialFailure": "continue"}
    t = time.monotonic()
    ex = core.run(section(graph, {"id": "j", "type": "merge", "config": {"parallel": policy}}), {"v": 1})
    assert time.monotonic() - t < SLOW_MS / 1000
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"] == {"branch_a": {"v": 1}}
    assert ex["by_node"]["slow"][-1]["status"] == "cancelled"


def test_a_transform_join_obeys_on_partial_failure_continue(core, graph):
    """The seed's Custom Merge uses a Transform as the join."""
    join = {"id": "j", "type": "transform", "config": {
        "operation": "custom", "parallel": {"onPartialFailure": "continue", "cancelOnFailure": True},
        "expression": "return {ok: Object.keys(input), quick: branch_a};"}}
    ex = core.run(section(graph, join), {"v": 1})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"]["quick"] == {"v": 1}
    assert ex["by_node"]["slow"][-1]["status"] == "cancelled"


def test_a_transform_join_fails_fast(core, graph):
    join = {"id": "j", "type": "transform", "config": {"parallel": {"failFast": True, "cancelOnFailure": True}}}
    t = time.monotonic()
    ex = core.run(section(graph, join))
    assert time.monotonic() - t < SLOW_MS / 1000
    assert ex["status"] == "failed"
    assert ex["by_node"]["j"][-1]["error"]["message"].startswith("failFast")


def test_settings_parallel_is_the_default_of_every_join(core, graph):
    d = section(graph, {"id": "j", "type": "merge"}, parallel={"onPartialFailure": "continue", "collectErrors": True,
                                                               "cancelOnFailure": True})
    ex = core.run(d, {"v": 1})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"]["branch_a"] == {"v": 1}
    assert ex["output"]["o"]["errors"] == [{"branch": "branch_b", "error": "card declined"},
                                           {"branch": "branch_c", "error": "cancelled"}]
    # A join's own policy wins over the default.
    own = section(graph, {"id": "j", "type": "merge", "config": {"parallel": {"onPartialFailure": "fail"}}},
                  parallel={"onPartialFailure": "continue"})
    assert core.run(own)["status"] == "failed"


def loop_graph(graph, policy: dict[str, Any], **settings: Any) -> dict[str, Any]:
    body = [{"id": "work", "type": "delay", "parentId": "loop", "config": {"duration": "{{item.ms}}"}},
            {"id": "check", "type": "transform", "parentId": "loop", "config": {
                "expression": "if (item.fail) throw new Error('bad item'); return item.ms;"}}]
    loop_config: dict[str, Any] = {"arrayPath": "{{input.items}}", "maxConcurrency": 3}
    if policy:
        loop_config["parallel"] = policy
    return graph([START, {"id": "loop", "type": "loop", "config": loop_config}, *body,
                  {"id": "o", "type": "output", "name": "o", "config": {"value": "{{loop}}"}}],
                 [("start", "loop"), ("work", "check"), ("loop", "o")], **settings)


# Item 0 fails after 400 ms: item 2 (10 ms, then its JavaScript check) must have succeeded
# by then, which at 80 ms a loaded machine (the sandbox's first calls) did not always manage.
ITEMS = {"items": [{"ms": 400, "fail": True}, {"ms": SLOW_MS}, {"ms": 10}]}


@pytest.mark.parametrize(("fail_fast", "cancel"), [(True, True), (True, False), (False, True), (False, False)])
def test_fail_fast_and_cancel_on_failure_on_a_loop(core, graph, fail_fast, cancel):
    policy = {"failFast": fail_fast, "cancelOnFailure": cancel, "onPartialFailure": "continue"}
    t = time.monotonic()
    ex = core.run(loop_graph(graph, policy), ITEMS)
    wall = time.monotonic() - t
    loop = ex["by_node"]["loop"][-1]
    slow = next(r for r in ex["by_node"]["work"] if r["iteration"] == 1)
    failed_item = next(r for r in ex["by_node"]["check"] if r["iteration"] == 0)
    if fail_fast:
        assert ex["status"] == "failed" and loop["status"] == "failed"
        assert seconds(failed_item["finished_at"], loop["finished_at"]) < 0.5
        assert "failFast" in loop["error"]["message"]
    else:
        assert ex["status"] == "succeeded", ex["error"]
    if cancel:
        assert slow["status"] == "cancelled"
        assert wall < SLOW_MS / 1000
        if not fail_fast:
            assert ex["output"]["o"] == [10]  # item 0 failed, item 1 cut
    else:
        assert slow["status"] == "succeeded"
        assert wall >= SLOW_MS / 1000 - 0.05
        if not fail_fast:
            assert ex["output"]["o"] == [SLOW_MS, 10]


def test_settings_parallel_is_the_default_of_a_loop(core, graph):
    ex = core.run(loop_graph(graph, {}, parallel={"onPartialFailure": "continue"}),
                  {"items": [{"ms": 1, "fail": True}, {"ms": 5}]})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"] == [5]


# One item (or branch) fails at ~80 ms; the two others are still running then.
CUT_ITEMS = {"items": [{"ms": 80, "fail": True}, {"ms": SLOW_MS}, {"ms": SLOW_MS}]}


def cut_section(graph, policy: dict[str, Any]) -> dict[str, Any]:
    """The merge twin of `loop_graph` over CUT_ITEMS: a failing branch and two slow ones."""
    nodes = [START, {"id": "wait", "type": "delay", "config": {"duration": 80}},
             {"id": "bad", "type": "fail", "config": {"message": "bad item"}},
             {"id": "slow1", "type": "delay", "config": {"duration": SLOW_MS}},
             {"id": "slow2", "type": "delay", "config": {"duration": SLOW_MS}},
             {"id": "j", "type": "merge", "config": {"parallel": policy}},
             {"id": "o", "type": "output", "name": "o", "config": {"value": "{{j}}"}}]
    edges = [("start", "wait"), ("wait", "bad"), ("start", "slow1"), ("start", "slow2"),
             ("bad", "j"), ("slow1", "j"), ("slow2", "j"), ("j", "o")]
    return graph(nodes, edges)


def test_cancel_on_failure_names_failed_and_cancelled_apart_on_a_loop_as_on_a_merge(core, graph):
    """A loop said "3 of 3 items failed" (its cut items counted as failures) where a merge
    said "1 of 1 branches failed" (its cut branches left out); both say what happened."""
    policy = {"cancelOnFailure": True}
    loop = core.run(loop_graph(graph, policy), CUT_ITEMS)
    merge = core.run(cut_section(graph, policy), {"v": 1})
    assert loop["status"] == merge["status"] == "failed"
    assert loop["by_node"]["loop"][-1]["error"]["message"] == "1 of 3 items failed; 2 cancelled"
    assert merge["by_node"]["j"][-1]["error"]["message"] == "1 of 3 branches failed; 2 cancelled"
    # The loop's error lists the item that failed, not the ones its failure cut.
    assert [e["index"] for e in loop["by_node"]["loop"][-1]["error"]["errors"]] == [0]
    assert {r["iteration"]: r["status"] for r in loop["by_node"]["work"]} == {0: "succeeded", 1: "cancelled", 2: "cancelled"}


def test_cut_items_and_branches_say_cancelled_in_a_collected_result(core, graph):
    policy = {"cancelOnFailure": True, "onPartialFailure": "collect"}
    loop = core.run(loop_graph(graph, policy), CUT_ITEMS)
    merge = core.run(cut_section(graph, policy), {"v": 1})
    assert loop["status"] == merge["status"] == "succeeded"
    items = loop["output"]["o"]
    assert [r.get("cancelled", False) for r in items["results"]] == [False, True, True]
    assert items["results"][0]["success"] is False and "bad item" in items["results"][0]["error"]
    # failureCount keeps its meaning: every item that did not succeed.
    assert (items["successCount"], items["failureCount"]) == (0, 3)
    branches = merge["output"]["o"]
    assert sorted((r["success"], r.get("cancelled", False)) for r in branches["results"]) == [
        (False, False), (False, True), (False, True)]


def test_a_queued_item_cut_by_cancel_on_failure_counts_as_cancelled(core, graph):
    """Items still waiting for a slot are cut too: they never ran, they did not fail."""
    d = loop_graph(graph, {"cancelOnFailure": True})
    d["nodes"][1]["config"]["maxConcurrency"] = 1
    ex = core.run(d, {"items": [{"ms": 1, "fail": True}, {"ms": 1}, {"ms": 1}, {"ms": 1}]})
    assert ex["by_node"]["loop"][-1]["error"]["message"] == "1 of 4 items failed; 3 cancelled"
