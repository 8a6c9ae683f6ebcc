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
