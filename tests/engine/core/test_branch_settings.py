"""Branch settings hold for the branch as a whole (SPEC §4.3, issue 15 point 1). The seed:
"Each parallel branch can have its own: error handling strategy, timeout settings, retry
policies" and "Branch Timeout — set timeout per parallel branch" (`timeout`, `onTimeout`)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.engine.definitions import START, seconds


def two_branches(graph, branch: dict[str, Any], body: list[dict[str, Any]], join: dict[str, Any] | None = None,
                 **settings: Any) -> dict[str, Any]:
    """start → [body chain, in a branch named `work` with `branch`] and [quick] → merge `j` → output."""
    nodes = [START, *body, {"id": "quick", "type": "delay", "config": {"duration": 10}},
             join or {"id": "j", "type": "merge", "config": {"parallel": {"onPartialFailure": "continue"}}},
             {"id": "o", "type": "output", "name": "o", "config": {"value": "{{j}}"}}]
    chain = [(a["id"], b["id"]) for a, b in zip(body, body[1:], strict=False)]
    edges = [{"source": "start", "target": body[0]["id"], "branch": {"name": "work", **branch}},
             ("start", "quick"), *chain, (body[-1]["id"], "j"), ("quick", "j"), ("j", "o")]
    return graph(nodes, edges, **settings)


def delays(*ms: int) -> list[dict[str, Any]]:
    return [{"id": f"d{i}", "type": "delay", "config": {"duration": m}} for i, m in enumerate(ms, 1)]


@pytest.mark.parametrize("on_timeout", ["cancel", "continue", "error"])
def test_the_timeout_bounds_the_branch_as_a_whole_not_each_node(core, graph, on_timeout):
    """Two 250 ms steps under a 400 ms branch timeout: the branch stops at 400 ms, although
    each step alone is well within it."""
    t = time.monotonic()
    ex = core.run(two_branches(graph, {"timeout": 400, "onTimeout": on_timeout}, delays(250, 250)), {"v": 1})
    wall = time.monotonic() - t
    assert wall < 0.49 + 0.3
    first, second = ex["by_node"]["d1"][-1], ex["by_node"]["d2"][-1]
    assert first["status"] == "succeeded"  # done at 250 ms
    started = ex["by_node"]["d1"][0]["started_at"]
    assert 0.38 <= seconds(started, second["finished_at"]) <= 0.6  # cut at 400 ms, not at 500 ms
    assert ex["status"] == "succeeded", ex["error"]
    out = ex["output"]["o"]
    if on_timeout == "continue":
        assert second["status"] == "succeeded" and second["output"] == {"timedOut": True}
        assert out["work"] == {"timedOut": True}
    else:
        assert second["status"] == "timed_out"
        assert second["error"]["message"] == "branch work timed out after 400 ms"
        assert "work" not in out and out["branch_b"] == {"v": 1}  # failed, left out by `continue`


def test_a_branch_that_finishes_in_time_is_not_touched(core, graph):
    ex = core.run(two_branches(graph, {"timeout": 400}, delays(50, 50)), {"v": 1})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"]["work"] == {"v": 1}


def test_a_timed_out_branch_fails_the_section_under_the_default_policy(core, graph):
    d = two_branches(graph, {"timeout": 200, "onTimeout": "cancel"}, delays(150, 150),
                     join={"id": "j", "type": "merge"})
    ex = core.run(d)
    assert ex["status"] == "failed"
    assert ex["by_node"]["j"][-1]["error"]["message"] == "1 of 2 branches failed"


def test_retry_re_runs_the_failed_branch_from_its_first_node_each_attempt_visible(core, graph):
    body = [{"id": "prepare", "type": "delay", "config": {"duration": 20}},
            {"id": "charge", "type": "fail", "config": {"message": "card declined"}}]
    ex = core.run(two_branches(graph, {"retry": {"maxAttempts": 3, "initialDelay": 30}}, body))
    prepare = ex["by_node"]["prepare"]
    charge = ex["by_node"]["charge"]
    assert [(r["attempt"], r["status"]) for r in prepare] == [(1, "succeeded"), (2, "succeeded"), (3, "succeeded")]
    assert [(r["attempt"], r["status"]) for r in charge] == [(1, "failed"), (2, "failed"), (3, "failed")]
    # Each attempt starts again at the first node, after the retry delay.
    for failed, again in zip(charge, prepare[1:], strict=False):
        assert seconds(failed["finished_at"], again["started_at"]) >= 0.025
    retries = [e for e in ex["events"] if e["type"] == "log" and "running it again" in e["data"]["message"]]
    assert len(retries) == 2
    assert ex["status"] == "succeeded", ex["error"]  # the join's `continue` leaves the branch out
    assert "work" not in ex["output"]["o"]


def test_a_nodes_own_retry_still_applies_inside_a_branch_with_retry(core, graph):
    body = [{"id": "charge", "type": "fail", "config": {"message": "declined", "retry": {"maxAttempts": 2,
                                                                                          "initialDelay": 1}}}]
    ex = core.run(two_branches(graph, {"retry": {"maxAttempts": 2, "initialDelay": 1}}, body))
    # Node: 2 attempts per branch attempt; branch: 2 attempts → 4 node runs.
    assert [r["attempt"] for r in ex["by_node"]["charge"]] == [1, 2, 3, 4]


def test_on_error_continue_decides_what_the_join_sees(core, graph):
    body = [{"id": "prepare", "type": "delay", "config": {"duration": 10}},
            {"id": "charge", "type": "fail", "config": {"message": "card declined"}},
            {"id": "receipt", "type": "log", "config": {"message": "never"}}]
    ex = core.run(two_branches(graph, {"onError": "continue"}, body, join={"id": "j", "type": "merge"}), {"v": 1})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"]["work"] == {"error": {"message": "card declined"}}
    assert ex["by_node"]["receipt"][-1]["status"] == "skipped"


def test_on_timeout_error_is_subject_to_on_error(core, graph):
    d = two_branches(graph, {"timeout": 100, "onTimeout": "error", "onError": "continue"}, delays(500),
                     join={"id": "j", "type": "merge"})
    ex = core.run(d, {"v": 1})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"]["work"]["error"]["message"] == "branch work timed out after 100 ms"


def test_branch_settings_no_longer_copy_onto_each_node(core, graph):
    """A branch timeout of 300 ms over three 120 ms steps cuts the third step: copied onto
    each node (the old behaviour) every step would have passed."""
    ex = core.run(two_branches(graph, {"timeout": 300, "onTimeout": "cancel"}, delays(120, 120, 120)))
    assert [ex["by_node"][n][-1]["status"] for n in ("d1", "d2", "d3")] == ["succeeded", "succeeded", "timed_out"]
