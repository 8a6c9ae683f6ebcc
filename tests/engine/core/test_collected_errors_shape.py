"""`parallel.collectErrors` lists a section's failures under `errors` in one shape for a
merge's branches and a loop's items (one partial-failure policy for both): `error` is the
message, a string; what else the failure said (a thrown expression's `{"kind": "thrown"}`)
is under `details`, left out when there is nothing; `branch` or `index` says which one.
A loop used to list its items' whole error objects (`"error": {"message", "details"}`)
while a merge listed the message and dropped the details."""

from __future__ import annotations

from typing import Any

from tests.engine.definitions import START

CONTINUE = {"onPartialFailure": "continue", "collectErrors": True}
THROWS = "Expression threw Error: bad {} (line 1)"


def merge_and_loop(graph, parallel: dict[str, Any]) -> dict[str, Any]:
    """One run, two sections under `parallel`: a merge `m` of a branch that succeeds, one
    whose expression throws and one whose `fail` node fails; and a loop over [0, 1, 2] whose
    item 1 throws and item 2 fails. Outputs: `m` and `l`."""
    throw = "if ({}) throw new Error('bad ' + {}); return {};"
    nodes = [START,
             {"id": "ok", "type": "log", "config": {"message": "fine"}},
             {"id": "thrown", "type": "transform", "config": {
                 "operation": "custom", "expression": throw.format("true", "'branch'", "1")}},
             {"id": "failed", "type": "fail", "config": {"message": "declined"}},
             {"id": "m", "type": "merge", "config": {"parallel": parallel}},
             {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.items}}", "parallel": parallel}},
             {"id": "check", "type": "condition", "parentId": "loop", "config": {"expression": "item === 2"}},
             {"id": "work", "type": "transform", "parentId": "loop", "config": {
                 "operation": "custom", "expression": throw.format("item === 1", "'item'", "item")}},
             {"id": "refuse", "type": "fail", "parentId": "loop", "config": {"message": "declined"}},
             {"id": "om", "type": "output", "name": "m", "config": {"value": "{{m}}"}},
             {"id": "ol", "type": "output", "name": "l", "config": {"value": "{{loop}}"}}]
    edges = [("start", "ok"), ("start", "thrown"), ("start", "failed"), ("ok", "m"), ("thrown", "m"),
             ("failed", "m"), ("m", "om"), ("start", "loop"), ("loop", "ol"),
             {"source": "check", "target": "work", "sourceHandle": "false"},
             {"source": "check", "target": "refuse", "sourceHandle": "true"}]
    return graph(nodes, edges)


def test_a_merge_and_a_loop_list_their_errors_in_one_shape(core, graph):
    ex = core.run(merge_and_loop(graph, CONTINUE), {"items": [0, 1, 2]})
    assert ex["status"] == "succeeded", ex["error"]
    branches, items = ex["output"]["m"]["errors"], ex["output"]["l"]["errors"]
    assert branches == [{"branch": "branch_b", "error": THROWS.format("branch"), "details": {"kind": "thrown"}},
                        {"branch": "branch_c", "error": "declined"}]
    assert items == [{"index": 1, "error": THROWS.format("item"), "details": {"kind": "thrown"}},
                     {"index": 2, "error": "declined"}]
    # The same keys, path key aside, for the same kind of failure.
    for branch, item in zip(branches, items, strict=True):
        assert set(branch) - {"branch"} == set(item) - {"index"}
        assert isinstance(branch["error"], str) and isinstance(item["error"], str)
    assert ex["output"]["l"]["results"] == [{"work": 0}]  # the body ends in two nodes: keyed by node


def test_collect_results_carry_the_same_error_and_details(core, graph):
    """`onPartialFailure: "collect"` lists every branch and item; a failed one is
    `{success: false, error, details?}` with the entry `collectErrors` gives it."""
    ex = core.run(merge_and_loop(graph, {"onPartialFailure": "collect", "collectErrors": True}), {"items": [0, 1, 2]})
    assert ex["status"] == "succeeded", ex["error"]
    merged, looped = ex["output"]["m"], ex["output"]["l"]
    failed_branches = [r for r in merged["results"] if not r["success"]]
    assert failed_branches == [{"branch": e["branch"], "success": False, **{k: v for k, v in e.items() if k != "branch"}}
                               for e in merged["errors"]]
    failed_items = [r for r in looped["results"] if not r["success"]]
    assert failed_items == [{"success": False, **{k: v for k, v in e.items() if k != "index"}} for e in looped["errors"]]
    assert failed_items[0] == {"success": False, "error": THROWS.format("item"), "details": {"kind": "thrown"}}


def test_an_inner_loops_failure_lists_its_items_under_details(core, graph):
    """An outer item whose inner loop failed: its message is the inner loop's verdict, and
    the inner loop's own `errors` (in the same shape) are under `details`."""
    d = graph([START,
               {"id": "outer", "type": "loop", "config": {"arrayPath": "{{input.rows}}", "itemVariable": "row",
                                                          "parallel": CONTINUE}},
               {"id": "inner", "type": "loop", "parentId": "outer", "config": {"arrayPath": "{{row}}",
                                                                               "itemVariable": "cell"}},
               {"id": "f", "type": "transform", "parentId": "inner", "config": {
                   "operation": "custom", "expression": "if (cell < 0) throw new Error('bad ' + cell); return cell;"}},
               {"id": "o", "type": "output", "name": "o", "config": {"value": "{{outer}}"}}],
              [("start", "outer"), ("outer", "o")])
    ex = core.run(d, {"rows": [[1, -2], [3]]})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"] == {"results": [[3]], "errors": [
        {"index": 0, "error": "1 of 2 items failed", "details": {"errors": [
            {"index": 1, "error": "Expression threw Error: bad -2 (line 1)", "details": {"kind": "thrown"}}]}}]}


def test_a_timed_out_branch_reads_as_its_message_too(core, graph):
    """A branch's own timeout (`edges[].branch.timeout`) failed it with more than a message:
    its entry was that whole object; now the message, with the rest under `details`."""
    d = graph([START,
               {"id": "ok", "type": "log", "config": {"message": "fine"}},
               {"id": "slow", "type": "delay", "config": {"duration": 2000}},
               {"id": "m", "type": "merge", "config": {"parallel": CONTINUE}},
               {"id": "o", "type": "output", "name": "o", "config": {"value": "{{m}}"}}],
              [("start", "ok"), {"source": "start", "target": "slow", "branch": {"timeout": 50, "onTimeout": "cancel"}},
               ("ok", "m"), ("slow", "m"), ("m", "o")])
    ex = core.run(d, {"v": 1})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"]["errors"] == [{"branch": "branch_b", "error": "branch branch_b timed out after 50 ms",
                                            "details": {"timeout": True, "branch": "branch_b"}}]
