"""The editor's "Test" on a past run (`POST …/test-expression` with `execution`) reads what
the expression sees, not every node run of that run.

Found by the attacker pass: it read all of the run's node runs, inputs and outputs, into
the HTTP thread to keep the top-level ones. On a run whose loop made 100,000 node runs of
1 KB it took 7 s and ~600 MB of the server's memory per click, and it did so before the
per-user cap of expression tests applied, so a few concurrent clicks on a million-item run
could take every HTTP thread and gigabytes. Now the database hands over only the last
successful top-level run of each node and the one node run the test names.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from tests.engine.runs import START, definition, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)

ITEMS = 2000


def test_a_test_on_a_big_run_reads_only_what_the_expression_sees(alice_client: Any):
    # Each item's body: `pad` outputs 2 KB, `n` (its input is that output) outputs the item.
    nodes = [START, {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.items}}", "maxConcurrency": 100}},
             {"id": "pad", "type": "output", "parentId": "loop", "config": {"value": "{{start.pad}}"}},
             {"id": "n", "type": "output", "parentId": "loop", "config": {"value": "{{item}}"}},
             {"id": "done", "type": "output", "config": {"value": "{{loop}}"}}]
    d = definition(nodes, [("start", "loop"), ("pad", "n"), ("loop", "done")])
    workflow = alice_client.post("/api/workflows", {"name": "Big", "definition": d}, format="json").json()["id"]
    run = alice_client.post(f"/api/workflows/{workflow}/run",
                            {"input": {"items": list(range(ITEMS)), "pad": "p" * 2000}}, format="json").json()
    assert wait_finished(run["id"], timeout=120).status == "succeeded"
    url = f"/api/workflows/{workflow}/test-expression"

    tracemalloc.start()
    try:
        answer = alice_client.post(url, {"code": "done.length + input.length", "execution": run["id"],
                                         "nodeId": "done"}, format="json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.status_code == 200, answer.content
    assert answer.json()["value"] == 2 * ITEMS  # `done`'s output and its input: the loop's list
    # The node runs of the items hold ~8 MB of JSON (2 KB in and out of each `pad`, 2 KB into
    # each `n`); what the test needs is two lists of 2,000 numbers.
    assert peak < 3_000_000, f"the test read {peak / 1e6:.1f} MB"


def test_a_test_on_a_loop_body_node_still_gets_that_nodes_input(alice_client: Any):
    nodes = [START, {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.items}}"}},
             {"id": "twice", "type": "output", "parentId": "loop", "config": {"value": "{{item}}"}}]
    d = definition(nodes, [("start", "loop")])
    workflow = alice_client.post("/api/workflows", {"name": "Small", "definition": d}, format="json").json()["id"]
    run = alice_client.post(f"/api/workflows/{workflow}/run", {"input": {"items": [5, 6, 7]}}, format="json").json()
    assert wait_finished(run["id"]).status == "succeeded"
    answer = alice_client.post(f"/api/workflows/{workflow}/test-expression",
                               {"code": "[input, loop, start.items.length]", "execution": run["id"],
                                "nodeId": "twice"}, format="json")
    assert answer.status_code == 200, answer.content
    value = answer.json()["value"]
    assert value[1] == [5, 6, 7] and value[2] == 3
    assert value[0] is not None  # the input of one of its runs, as before
