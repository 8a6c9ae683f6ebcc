"""What "Redrive failed (…)" offers, counted by the engine when a run ends (the execution's
`failed_nodes` and `failed_items`): the same rule as what a redrive without a selection
re-runs (engine.core.redrive.redrives), on the real engine with in-memory persistence."""

from __future__ import annotations

from engine.core.graph import Graph
from engine.core.redrive import rerun_keys
from tests.engine.definitions import START, delay, loop_definition

BROKEN = {"id": "b", "type": "fail", "config": {"message": "b is broken"}}


def _fan(graph, branches, merge_config):
    nodes = [START, *branches, {"id": "m", "type": "merge", "config": merge_config},
             {"id": "o", "type": "output", "name": "o", "config": {"value": "{{m}}"}}]
    edges = [("start", b["id"]) for b in branches] + [(b["id"], "m") for b in branches] + [("m", "o")]
    return graph(nodes, edges)


def test_a_branch_left_out_by_continue_counts_as_one_node(core, graph):
    ex = core.run(_fan(graph, [delay("a", 10), BROKEN], {"parallel": {"onPartialFailure": "continue"}}))
    assert ex["status"] == "succeeded", ex["error"]
    assert (ex["failed_nodes"], ex["failed_items"]) == (1, 0)


def test_the_loser_of_a_race_is_not_a_failure(core, graph):
    ex = core.run(_fan(graph, [delay("slow", 2000), delay("fast", 10)], {"mode": "first_success"}))
    assert ex["status"] == "succeeded"
    assert ex["by_node"]["slow"][-1]["status"] == "cancelled"
    assert (ex["failed_nodes"], ex["failed_items"]) == (0, 0)


def test_a_failed_branch_and_its_join_count_in_a_failed_run(core, graph):
    ex = core.run(_fan(graph, [delay("a", 10), BROKEN], {}))
    assert ex["status"] == "failed"
    # The branch's node and the merge whose section it failed: both red, both re-run.
    assert (ex["failed_nodes"], ex["failed_items"]) == (2, 0)


def test_a_loop_that_failed_through_its_items_counts_as_those_items(core):
    d = loop_definition({"maxConcurrency": 2}, [{"id": "double", "type": "transform", "config": {
        "operation": "custom", "expression": "if (item % 3 === 0) { throw new Error('no') } return item"}}])
    ex = core.run(d, {"items": list(range(7))})
    assert ex["status"] == "failed"
    assert ex["by_node"]["loop"][-1]["status"] == "failed"
    assert (ex["failed_nodes"], ex["failed_items"]) == (0, 3)  # items 0, 3 and 6


def test_a_run_that_succeeded_keeps_its_cancelled_top_level_node_runs_on_a_redrive(graph):
    """What the count leaves out, a redrive without a selection does not re-run either."""
    d = _fan(graph, [delay("slow", 2000), delay("fast", 10), BROKEN],
             {"mode": "first_success"})
    rows = [{"scope": "", "node_id": n, "status": s} for n, s in
            [("start", "succeeded"), ("fast", "succeeded"), ("slow", "cancelled"), ("b", "failed"),
             ("m", "succeeded"), ("o", "succeeded")]]
    g = Graph.from_definition(d)
    assert rerun_keys(g, rows, after_success=True) == {("", "b"), ("", "m"), ("", "o")}
    # So does a run that failed later: the race's join succeeded past `slow` (cut by design).
    assert ("", "slow") not in rerun_keys(g, rows)
    # A run cancelled before anything after `slow` succeeded re-runs what was cancelled in it.
    cut_short = [{"scope": "", "node_id": n, "status": s} for n, s in
                 [("start", "succeeded"), ("fast", "cancelled"), ("slow", "cancelled"), ("b", "failed")]]
    assert {("", "slow"), ("", "fast")} <= rerun_keys(g, cut_short)
