"""A definition is refused at save when a node id, node name or branch name would not fit
the columns every node run, event and dead letter copies it into, and what the engine
derives from the graph's shape (trace ids, branch ids, loop scopes) always fits.

Before: a node id of 101 characters, a node name or a branch name of 201, or fan-outs nested
about 50 deep (a trace id past 200 characters) or loops nested a few deep with long ids (a
scope past 400) were saved with a 201, and then every run of the workflow failed on
PostgreSQL with "the execution's state could not be saved: value too long for type
character varying(...)" while the same workflow succeeded on SQLite. Run these with
`--database=postgres` to see the failure they guard against."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.core import rules
from engine.models import DeadLetter, Event, NodeRun
from tests.conftest import SIMPLE_DEFINITION

pytestmark = pytest.mark.django_db(transaction=True)


def _set(node_id: str, name: str | None = None) -> dict[str, Any]:
    return {"id": node_id, "type": "set", "name": name or node_id[:20], "config": {"values": {"a": 1}}}


def _start() -> dict[str, Any]:
    return {"id": "start", "type": "start", "name": "Start", "config": {}}


def with_long_node_id(length: int) -> dict[str, Any]:
    d = copy.deepcopy(SIMPLE_DEFINITION)
    long = "g" * length
    d["nodes"][1]["id"] = long
    d["edges"][0]["target"] = long
    d["edges"][1]["source"] = long
    return d


def with_long_node_name(length: int) -> dict[str, Any]:
    d = copy.deepcopy(SIMPLE_DEFINITION)
    d["nodes"][1]["name"] = "N" * length
    return d


def with_long_branch_name(length: int) -> dict[str, Any]:
    """start fans out to x and y; the branch to x has a name of `length` characters."""
    return {"schemaVersion": 1, "name": "Fan", "nodes": [_start(), _set("x"), _set("y")],
            "edges": [{"id": "ex", "source": "start", "target": "x", "branch": {"name": "B" * length}},
                      {"id": "ey", "source": "start", "target": "y"}]}


def run(client: Any, definition: dict[str, Any], wait: Any) -> dict[str, Any]:
    created = client.post("/api/workflows", {"name": "Wide", "definition": definition}, format="json")
    assert created.status_code == 201, created.content
    started = client.post(f"/api/workflows/{created.json()['id']}/run", {"input": {"who": "x"}}, format="json")
    assert started.status_code == 201, started.content
    return dict(wait(client, started.json()["id"], timeout=30))


def test_the_bounds_are_the_widths_of_the_columns_they_are_stored_in():
    assert rules.MAX_NODE_ID_LENGTH == NodeRun._meta.get_field("node_id").max_length
    assert rules.MAX_NODE_ID_LENGTH == Event._meta.get_field("node_id").max_length
    assert rules.MAX_NODE_ID_LENGTH == DeadLetter._meta.get_field("node_id").max_length
    assert rules.MAX_NODE_NAME_LENGTH == NodeRun._meta.get_field("name").max_length
    assert rules.MAX_BRANCH_NAME_LENGTH == NodeRun._meta.get_field("branch_name").max_length
    assert rules.MAX_BRANCH_NAME_LENGTH == Event._meta.get_field("branch_name").max_length


@pytest.mark.parametrize(("make", "length", "where", "fragment"), [
    (with_long_node_id, 101, ("nodeId", "g" * 101), "a node id is at most 100 characters; this one has 101"),
    (with_long_node_name, 201, ("nodeId", "greet"), "a node name is at most 200 characters; this one has 201"),
    (with_long_branch_name, 201, ("edgeId", "ex"), "branch.name"),
])
def test_a_name_too_long_to_store_is_a_400_naming_its_node_or_edge(alice_client, make, length, where, fragment):
    key, value = where
    saved = alice_client.post("/api/workflows", {"name": "Too wide", "definition": make(length)}, format="json")
    assert saved.status_code == 400, saved.content
    errors = saved.json()["errors"]
    assert any(e.get(key) == value and fragment in e["message"] for e in errors), errors


@pytest.mark.parametrize(("make", "length"), [
    (with_long_node_id, 100), (with_long_node_name, 200), (with_long_branch_name, 200),
])
def test_a_name_at_the_bound_is_saved_and_runs(alice_client, wait_for_execution, make, length):
    body = run(alice_client, make(length), wait_for_execution)
    assert body["status"] == "succeeded", body["error"]
    assert max(len(n["nodeId"]) + len(n["name"]) + len(n["branchName"]) for n in body["nodeRuns"]) >= length


def test_fan_outs_nested_sixty_deep_run_and_keep_their_trace_ids(alice_client, wait_for_execution):
    nodes, edges, parent = [_start()], [], "start"
    for level in range(60):
        nodes += [_set(f"a{level}"), _set(f"b{level}")]
        edges += [{"id": f"ea{level}", "source": parent, "target": f"a{level}"},
                  {"id": f"eb{level}", "source": parent, "target": f"b{level}"}]
        parent = f"a{level}"
    body = run(alice_client, {"schemaVersion": 1, "name": "Deep", "nodes": nodes, "edges": edges}, wait_for_execution)
    assert body["status"] == "succeeded", body["error"]
    deepest = next(n for n in body["nodeRuns"] if n["nodeId"] == "a59")
    assert deepest["traceId"] == body["traceId"] + "-001" * 60
    assert deepest["branchId"] == ".".join(["1"] * 60)


def test_loops_nested_with_long_ids_run(alice_client, wait_for_execution):
    """Five loops one inside the other, each id 100 characters: a loop item's scope names every
    loop around it, about 5 × 103 characters."""
    ids = [f"{level}" * 100 for level in range(1, 6)]
    nodes: list[dict[str, Any]] = [_start()]
    for depth, loop_id in enumerate(ids):
        node: dict[str, Any] = {"id": loop_id, "type": "loop", "name": f"Loop {depth}",
                                "config": {"arrayPath": "{{variables.pair}}"}}
        if depth:
            node["parentId"] = ids[depth - 1]
        nodes.append(node)
    nodes.append({**_set("leaf"), "parentId": ids[-1]})
    definition = {"schemaVersion": 1, "name": "Nested", "settings": {"variables": {"pair": [1, 2]}}, "nodes": nodes,
                  "edges": [{"id": "e0", "source": "start", "target": ids[0]}]}
    created = alice_client.post("/api/workflows", {"name": "Nested", "definition": definition}, format="json")
    assert created.status_code == 201, created.content
    started = alice_client.post(f"/api/workflows/{created.json()['id']}/run", {"input": {}}, format="json")
    body = wait_for_execution(alice_client, started.json()["id"], timeout=30)
    assert body["status"] == "succeeded", body["error"]
    leaves = NodeRun.objects.filter(execution_id=body["id"], node_id="leaf")
    assert leaves.count() == 2 ** 5
    assert min(len(leaf.scope) for leaf in leaves) > 500
