"""Merge modes and parallel-section policies (SPEC §4.3)."""

from __future__ import annotations

import time

from tests.engine.definitions import NOT_WAITED_S, SLOW_MS, START, custom_merge_definition, delay


def fan(graph, branches, merge_config, **settings):
    nodes = [START, *branches, {"id": "m", "type": "merge", "config": merge_config},
             {"id": "o", "type": "output", "name": "o", "config": {"value": "{{m}}"}}]
    edges = [("start", b["id"]) for b in branches] + [(b["id"], "m") for b in branches] + [("m", "o")]
    return graph(nodes, edges, **settings)


def test_first_success_goes_on_and_cancels_the_slow_branch(core, graph):
    d = fan(graph, [delay("primary", SLOW_MS), delay("backup", 100)], {"mode": "first_success", "output": "first"})
    t = time.monotonic()
    ex = core.run(d, {"v": 7})
    assert time.monotonic() - t < NOT_WAITED_S
    assert ex["status"] == "succeeded"
    assert ex["output"]["o"] == {"v": 7}
    primary = ex["by_node"]["primary"][-1]
    assert primary["status"] == "cancelled"
    assert "first_success" in primary["error"]["message"]


def test_first_success_skips_failed_branches(core, graph):
    d = fan(graph, [{"id": "bad", "type": "fail", "config": {"message": "primary down"}}, delay("backup", 50)],
            {"mode": "first_success"})
    ex = core.run(d, {"v": 1})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"] == {"branch_b": {"v": 1}}


def test_first_success_fails_when_every_branch_fails(core, graph):
    d = fan(graph, [{"id": "x", "type": "fail", "config": {"message": "a"}},
                    {"id": "y", "type": "fail", "config": {"message": "b"}}], {"mode": "first_success"})
    ex = core.run(d)
    assert ex["status"] == "failed"
    assert ex["by_node"]["m"][0]["status"] == "failed"
    assert "no branch succeeded" in ex["by_node"]["m"][0]["error"]["message"]


def test_quorum_cancels_the_rest(core, graph):
    d = fan(graph, [delay("a", 50), delay("b", 80), delay("c", SLOW_MS)], {"mode": "quorum", "quorum": 2})
    t = time.monotonic()
    ex = core.run(d)
    assert time.monotonic() - t < NOT_WAITED_S
    assert set(ex["output"]["o"]) == {"branch_a", "branch_b"}
    assert ex["by_node"]["c"][-1]["status"] == "cancelled"


def test_collect_keeps_failures_in_the_output(core, graph):
    d = fan(graph, [delay("a", 10), {"id": "b", "type": "fail", "config": {"message": "Timeout"}}],
            {"output": "collect", "parallel": {"onPartialFailure": "collect"}})
    ex = core.run(d)
    assert ex["status"] == "succeeded", ex["error"]
    out = ex["output"]["o"]
    assert out["successCount"] == 1 and out["failureCount"] == 1
    assert {"branch": "branch_b", "success": False, "error": "Timeout"} in out["results"]


def test_default_policy_fails_the_section_after_all_branches_settle(core, graph):
    d = fan(graph, [delay("a", 200), {"id": "b", "type": "fail", "config": {"message": "x"}}], {})
    ex = core.run(d)
    assert ex["status"] == "failed"
    assert ex["by_node"]["a"][0]["status"] == "succeeded"  # not cancelled: no failFast
    assert ex["by_node"]["m"][0]["status"] == "failed"


def test_fail_fast_cancels_running_branches_now(core, graph):
    d = fan(graph, [delay("slow", SLOW_MS), {"id": "b", "type": "fail", "config": {"message": "x"}}],
            {"parallel": {"failFast": True, "cancelOnFailure": True}})
    t = time.monotonic()
    ex = core.run(d)
    assert time.monotonic() - t < NOT_WAITED_S
    assert ex["status"] == "failed"
    assert ex["by_node"]["slow"][-1]["status"] == "cancelled"


def test_continue_leaves_failed_branches_out_and_min_success_rate(core, graph):
    branches = [delay(f"ok{i}", 10) for i in range(4)] + [{"id": "bad", "type": "fail", "config": {"message": "x"}}]
    ok = core.run(fan(graph, branches, {"parallel": {"onPartialFailure": "continue", "minSuccessRate": 0.8}}))
    assert ok["status"] == "succeeded"
    assert len(ok["output"]["o"]) == 4
    too_few = core.run(fan(graph, branches, {"parallel": {"onPartialFailure": "continue", "minSuccessRate": 0.9}}))
    assert too_few["status"] == "failed"
    assert "minSuccessRate" in too_few["by_node"]["m"][0]["error"]["message"]


def test_total_timeout_collect_partial_returns_what_finished(core, graph):
    d = fan(graph, [delay("fast", 20), delay("slow", SLOW_MS)],
            {"parallel": {"totalTimeout": 200, "onTimeout": "collect_partial"}})
    t = time.monotonic()
    ex = core.run(d, {"v": 1})
    assert time.monotonic() - t < NOT_WAITED_S
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"] == {"branch_a": {"v": 1}, "cancelled": ["branch_b"]}
    assert ex["by_node"]["slow"][-1]["status"] == "cancelled"


def test_total_timeout_fail(core, graph):
    d = fan(graph, [delay("fast", 20), delay("slow", SLOW_MS)], {"parallel": {"totalTimeout": 150}})
    t = time.monotonic()
    ex = core.run(d)
    assert time.monotonic() - t < NOT_WAITED_S
    assert ex["status"] == "failed"
    assert "totalTimeout" in ex["by_node"]["m"][0]["error"]["message"]
    assert ex["by_node"]["slow"][-1]["status"] == "cancelled"


def test_custom_merge_seed_expression(core):
    ex = core.run(custom_merge_definition(after_merge=False))
    assert ex["status"] == "succeeded", ex["error"]
    out = ex["output"]["o"]
    assert out["totalUsers"] == 3 and out["allEmails"] == ["a@x", "b@x", "c@x"]
    assert isinstance(out["merged"], int | float)


def test_a_failed_section_names_the_node_that_failed_in_each_branch_error(core, graph):
    # b1 fails and b2 after it is skipped: the error comes from b1, whatever edge carried it.
    d = graph([START, delay("a", 20), {"id": "b1", "type": "fail", "config": {"message": "card declined"}},
               delay("b2", 10), {"id": "m", "type": "merge", "config": {}},
               {"id": "o", "type": "output", "name": "o", "config": {"value": "{{m}}"}}],
              [("start", "a"), ("start", "b1"), ("b1", "b2"), ("a", "m"), ("b2", "m"), ("m", "o")])
    ex = core.run(d)
    assert ex["status"] == "failed"
    errors = ex["by_node"]["m"][0]["error"]["branchErrors"]
    assert [(e["nodeId"], e["message"]) for e in errors] == [("b1", "card declined")]
