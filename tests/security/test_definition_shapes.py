"""A definition's parent chains: checked in linear time, bounded in depth, any JSON refused
with a 400.

Probed on a live daphne: a 6,000-deep chain of loops (520 KB of JSON, each loop the
`parentId` of the next) took 6.7 s of an HTTP thread to save, and as long again to validate
or run — quadratic walks over the chains, on the core the engine's coordinator shares; a
400-deep one was saved and then failed every run with `internal error: RecursionError`; a
`parentId` that was a JSON array or object was a 500, and so (found by mutating the demo
definitions) were an array or object as a node's `type`, an edge's `source`, `target` or
`sourceHandle`, or a signal handler's `action`."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from editor.models import Workflow
from engine.core import rules
from tests.engine.runs import START, definition, run

pytestmark = pytest.mark.django_db(transaction=True)


def nested(depth: int) -> dict[str, Any]:
    """start → loop l0 ⊃ l1 ⊃ … ⊃ l{depth-1} ⊃ a log node: the log node is inside `depth` loops.
    Every loop runs over the run's one item (`{{start.items}}`)."""
    loops = [{"id": f"l{i}", "type": "loop", "config": {"arrayPath": "{{start.items}}"},
              **({"parentId": f"l{i - 1}"} if i else {})} for i in range(depth)]
    leaf = {"id": "leaf", "type": "log", "parentId": f"l{depth - 1}", "config": {"message": "deep"}}
    return definition([START, *loops, leaf], [("start", "l0")])


def _save(client, d: dict[str, Any], **extra: Any) -> tuple[int, dict[str, Any], float]:
    t0 = time.monotonic()
    answer = client.generic("POST", "/api/workflows", json.dumps({"name": "Deep", "definition": d, **extra}),
                            content_type="application/json")
    return answer.status_code, answer.json(), time.monotonic() - t0


def test_loops_nest_32_deep_and_run_but_not_deeper(alice, alice_client):
    assert rules.MAX_NESTING == 32
    code, body, _ = _save(alice_client, nested(33))
    assert code == 400, body
    assert body["errors"] == [{"message": "containers nest at most 32 deep; this node is inside 33 of them",
                               "nodeId": "leaf"}]
    ex = run(alice, nested(32), {"items": [1]})
    assert ex.status == "succeeded", ex.error


def test_a_very_long_chain_of_loops_is_refused_quickly_with_one_error(alice_client):
    code, body, took = _save(alice_client, nested(10_000))
    assert code == 400
    assert body["errors"] == [{"message": "containers nest at most 32 deep; this node is inside 33 of them",
                               "nodeId": "l33"}]
    assert took < 5, took  # ~18 s before (quadratic)
    code, body, took = _save(alice_client, nested(10_000), draft=True)  # a draft is stored as it is
    assert code == 201
    run_answer = alice_client.post(f"/api/workflows/{body['id']}/run", {"input": {}}, format="json")
    assert run_answer.status_code == 400 and "at most 32 deep" in json.dumps(run_answer.json())


@pytest.mark.parametrize(("parent", "shown"), [(["l0"], "(a JSON array)"), ({"id": "l0"}, "(a JSON object)"),
                                               (7, "7"), ("nope", "'nope'")])
def test_a_parent_id_of_any_json_type_is_a_400_naming_the_node(alice_client, parent, shown):
    d = nested(1)
    d["nodes"][-1]["parentId"] = parent
    code, body, _ = _save(alice_client, d)
    assert code == 400, body
    assert {"message": f"parentId {shown} is not a node", "nodeId": "leaf"} in body["errors"]
    assert not Workflow.objects.exists()


def test_a_parent_cycle_is_still_named_on_every_node_it_holds(alice_client):
    d = nested(3)
    d["nodes"][1]["parentId"] = "l2"  # l0 inside l2 inside l1 inside l0
    code, body, _ = _save(alice_client, d)
    assert code == 400
    named = {e.get("nodeId") for e in body["errors"] if e["message"] == "parentId chain forms a loop"}
    assert named == {"l0", "l1", "l2", "leaf"}


DEMO = json.loads((Path(__file__).resolve().parents[2] / "editor/demo/02_parallel_with_fallback.json").read_text())


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    d = copy.deepcopy(DEMO.get("definition", DEMO))
    target = d
    for key in path[:-1]:
        target = target[key] if isinstance(target, list) else target.setdefault(key, {})
    target[path[-1]] = value
    return d


@pytest.mark.parametrize("path", [("nodes", 1, "type"), ("nodes", 2, "type"), ("edges", 0, "source"),
                                  ("edges", 0, "target"), ("edges", 0, "sourceHandle"),
                                  ("settings", "signalHandlers", "pause", "action")])
@pytest.mark.parametrize("value", [["x"], {"x": 1}])
def test_an_array_or_object_where_a_name_belongs_is_a_400(alice_client, path, value):
    code, body, _ = _save(alice_client, _with(path, value))
    assert code == 400, body
    assert body["detail"] == "Invalid workflow definition." and body["errors"]
