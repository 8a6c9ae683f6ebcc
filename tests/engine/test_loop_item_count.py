"""A loop says how many items it has when it starts (issue: a running loop's lane read
"2 items so far"): its `node.started` event carries `data.itemCount` — the count, never the
items — and the timeline API gives it on the loop's bar and lane, so a page reloaded in the
middle of a run still knows the loop's length."""

from __future__ import annotations

from typing import Any

import pytest

from engine.models import Event, NodeRun
from tests.engine.runs import START, definition, loop_definition, run, start_run, wait_finished, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _loop_lane(timeline: dict[str, Any], lane_id: str = "loop:loop") -> dict[str, Any]:
    return next(lane for lane in timeline["lanes"] if lane["id"] == lane_id)


def test_the_loop_start_event_carries_the_item_count_not_the_items(alice):
    d = loop_definition({"maxConcurrency": 4}, [{"id": "double", "type": "transform",
                                                  "config": {"operation": "custom", "expression": "return item * 2"}}])
    ex = run(alice, d, {"items": list(range(1000))}, timeout=60)
    assert ex.status == "succeeded", ex.error
    started = Event.objects.get(execution=ex, type="node.started", node_id="loop")
    assert started.data == {"itemCount": 1000}
    # The other nodes' start events carry nothing new.
    assert not Event.objects.filter(execution=ex, type="node.started", node_id="double", data__isnull=False).exists()


def test_an_empty_loop_and_a_non_array_say_what_they_have(alice):
    d = loop_definition({}, [{"id": "w", "type": "delay", "config": {"duration": 1}}])
    empty = run(alice, d, {"items": []})
    assert empty.status == "succeeded"
    assert Event.objects.get(execution=empty, type="node.started", node_id="loop").data == {"itemCount": 0}
    wrong = run(alice, d, {"items": {"not": "a list"}})
    assert wrong.status == "failed"
    # Not an array: no count to tell (the loop fails with its own message).
    assert Event.objects.get(execution=wrong, type="node.started", node_id="loop").data is None


def test_a_reloaded_timeline_knows_a_running_loops_length(alice, alice_client):
    d = loop_definition({"maxConcurrency": 2}, [{"id": "w", "type": "delay", "config": {"duration": 700}}])
    ex = start_run(alice, d, {"items": list(range(6))})
    url = f"/api/executions/{ex.pk}/timeline"
    wait_for(lambda: NodeRun.objects.filter(execution=ex, node_id="w").exists(), what="the first item")
    mid = alice_client.get(url).json()
    assert mid["execution"]["status"] == "running"
    lane = _loop_lane(mid)
    assert lane["itemCount"] == 6 and lane["items"] < 6, lane
    loop_bar = next(b for b in mid["bars"] if b["nodeId"] == "loop")
    assert loop_bar["itemCount"] == 6 and loop_bar["status"] == "running"
    assert all("itemCount" not in b for b in mid["bars"] if b["nodeId"] != "loop")
    done = wait_finished(ex.pk, 30)
    assert done.status == "succeeded"
    lane = _loop_lane(alice_client.get(url).json())
    assert lane["itemCount"] == 6 and lane["items"] == 6


def test_a_nested_loops_lane_counts_the_items_of_every_inner_run(alice, alice_client):
    d = definition([
        START,
        {"id": "outer", "type": "loop", "name": "Outer", "config": {"arrayPath": "{{input.groups}}", "itemVariable": "g"}},
        {"id": "inner", "type": "loop", "name": "Inner", "parentId": "outer",
         "config": {"arrayPath": "{{g}}", "itemVariable": "x"}},
        {"id": "t", "type": "transform", "parentId": "inner", "config": {"operation": "custom", "expression": "return x"}},
    ], [("start", "outer")])
    ex = run(alice, d, {"groups": [[1, 2], [3, 4, 5], []]})
    assert ex.status == "succeeded", ex.error
    counts = sorted(e.data["itemCount"] for e in Event.objects.filter(execution=ex, type="node.started", node_id="inner"))
    assert counts == [0, 2, 3]
    timeline = alice_client.get(f"/api/executions/{ex.pk}/timeline").json()
    assert _loop_lane(timeline, "loop:outer")["itemCount"] == 3
    assert _loop_lane(timeline, "loop:outer/inner")["itemCount"] == 5
