"""A signal's data is cut in the event log like a node's output; the handler still gets it whole.

Probed on a live daphne: a running execution takes any number of signals, each with `data`
as big as a request body (2.5 MB), and every `signal` event (and `execution.resumed`) kept
it whole. After 20 signals of 2 MB, `GET …/events` answered 40 MB and daphne grew by 150 MB
for it; at the API's 6,000 requests a minute one user could make a page of gigabytes (and
so a websocket replay chunk), in the process every user shares."""

from __future__ import annotations

import json

import pytest

from engine.core.records import EVENT_OUTPUT_LIMIT
from engine.models import NodeRun
from tests.engine.runs import START, definition, start_run, wait_finished, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

BIG = {"blob": "x" * 1_000_000}


def test_big_signal_data_is_cut_in_events_and_whole_for_the_handler(alice, alice_client):
    d = definition([START, {"id": "wait", "type": "delay", "config": {"duration": 60_000}},
                    {"id": "h", "type": "transform",
                     "config": {"operation": "custom", "expression": "return input.blob.length"}}],
                   [("start", "wait")], signalHandlers={"poke": {"action": "custom", "handler": "h"},
                                                        "pause": {"action": "pause"}})
    ex = start_run(alice, d)
    wait_for(lambda: alice_client.get(f"/api/executions/{ex.pk}").json()["status"] == "running", what="running")
    url = f"/api/executions/{ex.pk}/signal"
    for _ in range(3):
        assert alice_client.post(url, {"type": "poke", "data": BIG}, format="json").status_code == 202
    assert alice_client.post(url, {"type": "pause"}, format="json").status_code == 202
    wait_for(lambda: alice_client.get(f"/api/executions/{ex.pk}").json()["status"] == "paused", what="paused")
    assert alice_client.post(url, {"type": "resume", "data": BIG}, format="json").status_code == 202
    wait_for(lambda: NodeRun.objects.filter(execution=ex, node_id="h", status="succeeded").count() == 3,
             what="three handler runs")
    wait_for(lambda: any(e["type"] == "execution.resumed"
                         for e in alice_client.get(f"/api/executions/{ex.pk}/events?afterSeq=0").json()),
             what="the resume applied")

    events = alice_client.get(f"/api/executions/{ex.pk}/events")
    assert events.status_code == 200
    assert len(events.content) < 20 * EVENT_OUTPUT_LIMIT, len(events.content)  # 5 MB before
    signals = [e for e in events.json() if e["type"] == "signal"]
    assert [e["data"]["type"] for e in signals] == ["poke", "poke", "poke", "pause", "resume"]
    size = len(json.dumps(BIG))
    assert signals[0]["data"]["data"] == {"truncated": True, "size": size}
    resumed = [e for e in events.json() if e["type"] == "execution.resumed"]
    assert resumed and resumed[0]["data"]["data"] == {"truncated": True, "size": size}
    # Small data is carried as before.
    assert alice_client.post(url, {"type": "poke", "data": {"n": 1}}, format="json").status_code == 202
    wait_for(lambda: [e for e in alice_client.get(f"/api/executions/{ex.pk}/events").json()
                      if e["type"] == "signal"][-1]["data"]["data"] == {"n": 1}, what="the small signal's event")
    # The handler's node run had the whole data.
    assert set(NodeRun.objects.filter(execution=ex, node_id="h", status="succeeded")
               .values_list("output", flat=True)[:3]) == {1_000_000}
    assert alice_client.post(url, {"type": "cancel"}, format="json").status_code == 202
    wait_finished(ex.pk)
