"""Bounded answers for big executions (issue 12, SPEC §7): the execution detail keeps
`nodeRuns` whole up to a bound and pages beyond it, `GET /api/executions/{id}/node-runs`
pages with a cursor, signal answers are summaries, the timeline draws a bounded number of
bars. Before, a 20,000-item loop's detail was 8.4 MB and a 1,000,000-item loop's 261 MB."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from editor.models import Workflow
from engine.models import Execution, NodeRun
from tests.engine.definitions import loop_definition

STATUSES = ["succeeded", "failed", "running", "queued"]


def run(client: APIClient, workflow: Workflow, body: dict[str, Any] | None = None) -> int:
    response = client.post(f"/api/workflows/{workflow.pk}/run", body or {"input": {}}, format="json")
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def add_node_runs(execution_id: int, count: int, *, first_seq: int = 1, output: Any = None,
                  node_ids: tuple[str, ...] = ("body",)) -> list[NodeRun]:
    """`count` node runs of a loop body, as the engine writes them (one per item)."""
    now = timezone.now()
    rows = [
        NodeRun(
            id=uuid.uuid4().hex, execution_id=execution_id, node_id=node_ids[i % len(node_ids)], name="Body",
            type="set", scope=f"loop#{i}", status=STATUSES[i % len(STATUSES)], attempt=1, iteration=i,
            branch_id="main", branch_name="main", trace_id=f"trace-x-{i}", queued_at=now + timedelta(milliseconds=i),
            started_at=now + timedelta(milliseconds=i), finished_at=now + timedelta(milliseconds=i + 1),
            input={"item": i}, output=output if output is not None else {"n": i}, seq=first_seq + i,
        )
        for i in range(count)
    ]
    NodeRun.objects.bulk_create(rows, batch_size=500)
    return rows


def follow(client: APIClient, url: str | None) -> list[dict[str, Any]]:
    """Every node run from `url` on, page after page."""
    seen: list[dict[str, Any]] = []
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        seen += body["results"]
        url = body["next"]
        pages += 1
        assert pages < 10_000
    return seen


@pytest.fixture
def execution_id(alice_client: APIClient, make_workflow: Any) -> int:
    return run(alice_client, make_workflow())


@pytest.mark.django_db
def test_the_detail_keeps_node_runs_whole_up_to_the_documented_bound(
    alice_client: APIClient, execution_id: int
) -> None:
    add_node_runs(execution_id, 1000)
    body = alice_client.get(f"/api/executions/{execution_id}").json()
    assert len(body["nodeRuns"]) == 1000
    assert [r["iteration"] for r in body["nodeRuns"]] == list(range(1000))
    assert body["nodeRunsNext"] is None
    assert body["nodeRunCountsByNode"] is None
    assert body["nodeRunCounts"] == {s: 250 for s in STATUSES}


@pytest.mark.django_db
def test_beyond_the_bound_the_detail_carries_the_first_page_counts_and_the_next_url(
    alice_client: APIClient, execution_id: int
) -> None:
    add_node_runs(execution_id, 1001, node_ids=("body", "check"))
    response = alice_client.get(f"/api/executions/{execution_id}")
    body = response.json()
    assert len(body["nodeRuns"]) == 500  # the default page
    assert [r["iteration"] for r in body["nodeRuns"]] == list(range(500))
    assert sum(body["nodeRunCounts"].values()) == 1001
    assert body["nodeRunCountsByNode"] == {"body": {"succeeded": 251, "running": 250},
                                           "check": {"failed": 250, "queued": 250}}
    assert body["nodeRunsNext"].startswith(f"/api/executions/{execution_id}/node-runs?")

    rest = follow(alice_client, body["nodeRunsNext"])
    everything = body["nodeRuns"] + rest
    assert [r["iteration"] for r in everything] == list(range(1001))
    assert len({r["id"] for r in everything}) == 1001


@pytest.mark.django_db
def test_node_runs_page_with_a_cursor_and_filters(alice_client: APIClient, execution_id: int) -> None:
    add_node_runs(execution_id, 300, node_ids=("a", "b", "c"))
    url = f"/api/executions/{execution_id}/node-runs"

    first = alice_client.get(url, {"limit": 120}).json()
    assert len(first["results"]) == 120 and first["next"]
    everything = first["results"] + follow(alice_client, first["next"])
    assert [r["iteration"] for r in everything] == list(range(300))

    only_b = follow(alice_client, f"{url}?nodeId=b&limit=7")
    assert [r["iteration"] for r in only_b] == [i for i in range(300) if i % 3 == 1]
    assert {r["nodeId"] for r in only_b} == {"b"}

    failed_or_queued = follow(alice_client, f"{url}?status=failed,queued&limit=50")
    assert [r["iteration"] for r in failed_or_queued] == [i for i in range(300) if i % 4 in (1, 3)]

    both = follow(alice_client, f"{url}?status=running&nodeId=a&limit=5")
    assert [r["iteration"] for r in both] == [i for i in range(300) if i % 4 == 2 and i % 3 == 0]

    last = alice_client.get(url, {"limit": 1000}).json()
    assert len(last["results"]) == 300 and last["next"] is None


@pytest.mark.django_db
def test_a_cursor_neither_skips_nor_repeats_while_the_execution_grows(
    alice_client: APIClient, execution_id: int
) -> None:
    add_node_runs(execution_id, 100)
    page = alice_client.get(f"/api/executions/{execution_id}/node-runs", {"limit": 60}).json()
    add_node_runs(execution_id, 50, first_seq=101)  # the engine goes on meanwhile
    rest = follow(alice_client, page["next"])
    assert [r["iteration"] for r in page["results"] + rest] == list(range(60)) + list(range(60, 100)) + list(range(50))
    seqs = [NodeRun.objects.get(pk=r["id"]).seq for r in page["results"] + rest]
    assert seqs == list(range(1, 151))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "limit=x", "status=done", "status=failed,nope", "cursor=garbage", "cursor=1.a.b",
     "nodeId=" + "n" * 101],
)
def test_bad_paging_parameters_are_400(alice_client: APIClient, execution_id: int, query: str) -> None:
    response = alice_client.get(f"/api/executions/{execution_id}/node-runs?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["detail"]


@pytest.mark.django_db
def test_another_users_node_runs_are_404_and_staff_see_them(
    alice_client: APIClient, bob_client: APIClient, staff_client: APIClient, execution_id: int
) -> None:
    add_node_runs(execution_id, 5)
    for path in (f"/api/executions/{execution_id}/node-runs", f"/api/executions/{execution_id}/node-runs?cursor=1.abc"):
        response = bob_client.get(path)
        assert response.status_code == 404
        assert response.json()["detail"]
    assert len(staff_client.get(f"/api/executions/{execution_id}/node-runs").json()["results"]) == 5


@pytest.mark.django_db
def test_a_page_also_ends_at_its_byte_budget(alice_client: APIClient, execution_id: int) -> None:
    big = {"blob": "x" * 300_000}  # a node run output of ~300 KB, shown whole
    add_node_runs(execution_id, 40, output=big)
    response = alice_client.get(f"/api/executions/{execution_id}")
    assert len(response.content) < 5_000_000
    body = response.json()
    assert 1 <= len(body["nodeRuns"]) < 40 and body["nodeRunsNext"]
    everything = body["nodeRuns"] + follow(alice_client, body["nodeRunsNext"])
    assert [r["iteration"] for r in everything] == list(range(40))
    assert all(r["output"] == big for r in everything)


@pytest.mark.django_db
def test_a_node_run_bigger_than_a_page_is_shown_truncated_with_a_link_to_it_whole(
    alice_client: APIClient, execution_id: int
) -> None:
    """A loop's output is every item's result: 5 MB here, in one node run."""
    [loop] = add_node_runs(execution_id, 1, output=list(range(1_000_000)))
    add_node_runs(execution_id, 3, first_seq=2)
    response = alice_client.get(f"/api/executions/{execution_id}")
    assert len(response.content) < 100_000
    body = response.json()
    assert [r["iteration"] for r in body["nodeRuns"]] == [0, 0, 1, 2]
    shown = body["nodeRuns"][0]["output"]
    assert shown["truncated"] is True and shown["size"] > 4_000_000
    assert body["nodeRuns"][0]["input"] == {"item": 0}  # small fields stay
    assert body["nodeRuns"][1]["output"] == {"n": 0}
    whole = alice_client.get(shown["url"]).json()
    assert whole["nodeRun"]["id"] == loop.id and len(whole["nodeRun"]["output"]) == 1_000_000


@pytest.mark.django_db
def test_the_bounds_are_configurable(alice_client: APIClient, execution_id: int, settings: Any) -> None:
    settings.FLOWMAESTRO_NODE_RUNS_INLINE = 10
    settings.FLOWMAESTRO_NODE_RUNS_PAGE_SIZE = 4
    add_node_runs(execution_id, 11)
    body = alice_client.get(f"/api/executions/{execution_id}").json()
    assert len(body["nodeRuns"]) == 4
    assert len(follow(alice_client, body["nodeRunsNext"])) == 7


@pytest.mark.django_db
def test_the_timeline_draws_a_bounded_number_of_bars(
    alice_client: APIClient, execution_id: int, settings: Any
) -> None:
    settings.FLOWMAESTRO_TIMELINE_MAX_BARS = 100
    add_node_runs(execution_id, 250)
    body = alice_client.get(f"/api/executions/{execution_id}/timeline").json()
    assert len(body["bars"]) == 100
    assert body["truncated"]["bars"] == 100 and body["truncated"]["nodeRuns"] == 250
    assert body["summary"]["nodeRuns"] == 250
    assert sum(body["summary"]["counts"].values()) == 250
    settings.FLOWMAESTRO_TIMELINE_MAX_BARS = 250
    body = alice_client.get(f"/api/executions/{execution_id}/timeline").json()
    assert len(body["bars"]) == 250 and "truncated" not in body


@pytest.mark.django_db
def test_a_signal_answer_is_a_small_summary(alice_client: APIClient, execution_id: int) -> None:
    add_node_runs(execution_id, 5000)
    response = alice_client.post(f"/api/executions/{execution_id}/signal", {"type": "cancel"}, format="json")
    assert response.status_code == 202, response.content
    assert len(response.content) < 2000
    body = response.json()
    assert body["id"] == execution_id and body["status"] == "cancelled"
    assert sum(body["nodeRunCounts"].values()) == 5000
    assert "nodeRuns" not in body and "input" not in body


# -- on the real engine ---------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_big_loop_is_run_watched_and_cancelled_with_bounded_answers(
    alice_client: APIClient, make_workflow: Any, wait_for_execution: Any
) -> None:
    items = 3000
    definition = loop_definition(
        {"maxConcurrency": 50},
        [{"id": "body", "type": "delay", "name": "Body", "config": {"duration": 40}}],
    )
    workflow = make_workflow(definition=definition)
    execution_id = run(alice_client, workflow, {"input": {"items": list(range(items))}})

    largest = 0
    deadline = time.monotonic() + 120
    while True:
        response = alice_client.get(f"/api/executions/{execution_id}")
        largest = max(largest, len(response.content))
        body = response.json()
        if sum(body["nodeRunCounts"].values()) > 1200 or body["status"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, "the loop never got going"
        time.sleep(0.1)
    assert body["status"] == "running", body["status"]
    assert len(body["nodeRuns"]) == 500 and body["nodeRunsNext"]
    assert body["nodeRunCountsByNode"]["loop"] == {"running": 1}

    response = alice_client.post(f"/api/executions/{execution_id}/signal", {"type": "cancel"}, format="json")
    assert response.status_code == 202
    assert len(response.content) < 2000
    final = wait_for_execution(alice_client, execution_id, timeout=60)
    assert final["status"] == "cancelled"
    largest = max(largest, len(json.dumps(final)))

    total = sum(final["nodeRunCounts"].values())
    assert total == Execution.objects.get(pk=execution_id).node_runs.count() > 1200
    everything = final["nodeRuns"] + follow(alice_client, final["nodeRunsNext"])
    assert len(everything) == total and len({r["id"] for r in everything}) == total
    # 500 node runs of a delay are ~250 KB; the whole list would be ~1.5 MB and grow with the loop.
    assert largest < 600_000, largest
