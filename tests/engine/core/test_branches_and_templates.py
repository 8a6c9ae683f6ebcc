"""Branch names, hierarchical trace ids and `{{…}}` templates."""

from __future__ import annotations

from engine.core.branches import default_branch_name
from engine.core.templates import render

START = {"id": "start", "type": "start"}


def test_default_branch_names():
    assert [default_branch_name(i) for i in (0, 1, 2, 25, 26)] == [
        "branch_a", "branch_b", "branch_c", "branch_z", "branch_aa"]


def test_nested_fan_out_trace_ids_and_named_branches(core, graph):
    nodes = [START] + [{"id": n, "type": "log", "config": {"message": "{{branch.id}} {{branch.name}} {{trace.id}}"}}
                       for n in ("a", "b", "a1", "a2", "j")]
    d = graph(nodes, [
        {"source": "start", "target": "a"},
        {"source": "start", "target": "b", "branch": {"name": "backup"}},
        {"source": "a", "target": "a1"}, {"source": "a", "target": "a2"},
        {"source": "a1", "target": "j"}, {"source": "a2", "target": "j"},
    ])
    ex = core.run(d)
    row = {n: ex["by_node"][n][0] for n in ("start", "a", "b", "a1", "a2", "j")}
    assert (row["start"]["branch_id"], row["start"]["trace_id"]) == ("main", "trace-abc123")
    assert (row["a"]["branch_id"], row["a"]["branch_name"], row["a"]["trace_id"]) == ("1", "branch_a", "trace-abc123-001")
    assert (row["b"]["branch_id"], row["b"]["branch_name"], row["b"]["trace_id"]) == ("2", "backup", "trace-abc123-002")
    assert (row["a2"]["branch_id"], row["a2"]["trace_id"]) == ("1.2", "trace-abc123-001-002")
    assert row["j"]["branch_id"] == "1"  # the join returns to the branch its inputs share
    logs = [e for e in ex["events"] if e["type"] == "log" and e["node_id"] == "a2"]
    assert logs[0]["data"]["message"] == "1.2 branch_b trace-abc123-001-002"
    assert logs[0]["trace_id"] == "trace-abc123-001-002"


def test_templates_keep_types_when_whole():
    ctx = {"users": {"body": [{"id": 1}]}, "n": 3, "s": "x"}
    assert render("{{users.body}}", ctx) == [{"id": 1}]
    assert render("{{ n }}", ctx) == 3
    assert render("id={{users.body[0].id}}/{{users.body.0.id}}", ctx) == "id=1/1"
    assert render("{{missing.path}}", ctx) is None
    assert render("a{{missing}}b", ctx) == "ab"
    assert render({"k": ["{{n}}", "{{users.body}}!"]}, ctx) == {"k": [3, '[{"id":1}]!']}


def test_templates_are_lookups_only():
    assert render("{{__import__('os')}}", {}) is None
    assert render("{{n + 1}}", {"n": 1}) is None


def test_variables_set_and_run_input(core, graph):
    d = graph([START, {"id": "s", "type": "set", "config": {"values": {"greeting": "hi {{input.name}}"}}},
               {"id": "o", "type": "output", "name": "o", "config": {"value": "{{variables.greeting}} / {{variables.base}}"}}],
              [("start", "s"), ("s", "o")], variables={"base": "B"})
    ex = core.run(d, {"name": "ada"})
    assert ex["output"] == {"o": "hi ada / B"}


def test_loop_items_have_their_own_trace_ids_and_results_in_order(core, graph):
    d = graph([START,
               {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.items}}", "maxConcurrency": 4,
                                                         "itemVariable": "user", "outputVariable": "results"}},
               {"id": "wait", "type": "delay", "parentId": "loop", "config": {"duration": "{{user.ms}}"}},
               {"id": "tag", "type": "output", "parentId": "loop",
                "config": {"value": "{{user.id}}@{{parallel.index}}/{{parallel.total}}"}},
               {"id": "o", "type": "output", "name": "o", "config": {"value": "{{results}}"}}],
              [("start", "loop"), ("loop", "o"), ("wait", "tag")])
    items = [{"id": i, "ms": 80 - i * 10} for i in range(6)]
    ex = core.run(d, {"items": items})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"]["o"] == [f"{i}@{i}/6" for i in range(6)]
    tags = {r["iteration"]: r["trace_id"] for r in ex["by_node"]["tag"]}
    assert tags[0] == "trace-abc123-001" and tags[5] == "trace-abc123-006"


def test_trace_ids_are_unique_in_a_run_with_fan_outs_and_a_loop_on_one_branch(core, graph):
    # A fan-out, a second fan-out from the same branch, then a loop: before, the second
    # fan-out's branches and the loop's items took the first fan-out's trace ids (-001…),
    # so a trace id named three things and the run page's trace tree dropped items.
    log = {"type": "log", "config": {"message": "{{trace.id}}"}}
    d = graph([START, *({"id": n, **log} for n in ("a", "b", "c", "m1", "x", "y", "m2")),
               {"id": "loop", "type": "loop", "config": {"arrayPath": "{{start.items}}", "maxConcurrency": 2}},
               {"id": "each", "type": "output", "parentId": "loop", "config": {"value": "{{item}}"}}],
              [("start", "a"), ("start", "b"), ("start", "c"), ("a", "m1"), ("b", "m1"), ("c", "m1"),
               ("m1", "x"), ("m1", "y"), ("x", "m2"), ("y", "m2"), ("m2", "loop")])
    ex = core.run(d, {"items": list(range(5))})
    assert ex["status"] == "succeeded", ex["error"]
    trace = {n: ex["by_node"][n][0]["trace_id"] for n in ("a", "b", "c", "x", "y", "m2", "loop")}
    # The first fan-out keeps the seed's numbers; the second goes on from them.
    assert [trace[n] for n in ("a", "b", "c")] == ["trace-abc123-001", "trace-abc123-002", "trace-abc123-003"]
    assert [trace[n] for n in ("x", "y")] == ["trace-abc123-004", "trace-abc123-005"]
    assert ex["by_node"]["x"][0]["branch_id"] == "4" and trace["m2"] == "trace-abc123"
    # The loop beside them has a number of its own, and its items are under it.
    assert trace["loop"] == "trace-abc123-006"
    items = sorted(r["trace_id"] for r in ex["by_node"]["each"])
    assert items == [f"trace-abc123-006-{i:03d}" for i in range(1, 6)]
    every = [r["trace_id"] for n in ("a", "b", "c", "x", "y") for r in ex["by_node"][n]] + items
    assert len(set(every)) == len(every)


def test_a_loop_alone_on_its_branch_keeps_the_short_item_trace_ids(core, graph):
    d = graph([START, {"id": "a", "type": "log", "config": {"message": "a"}},
               {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.items}}"}},
               {"id": "each", "type": "output", "parentId": "loop", "config": {"value": "{{item}}"}},
               {"id": "after", "type": "log", "config": {"message": "after"}}],
              [("start", "a"), ("start", "loop"), ("loop", "after")])
    ex = core.run(d, {"items": [1, 2]})
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["by_node"]["loop"][0]["trace_id"] == "trace-abc123-002"  # branch_b, its only child
    assert sorted(r["trace_id"] for r in ex["by_node"]["each"]) == ["trace-abc123-002-001", "trace-abc123-002-002"]
