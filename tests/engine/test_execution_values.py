"""An execution's own input, output, error and state in answers (issue 12): whole while
small, `{"truncated": true, "size", "url"}` beyond the node-run fields' bound, and the URL
answers the whole value. Before, a 1,000,000-item loop's input (7 MB of JSON) went out
whole in the detail, every list row, the timeline and the retry answer, and each of those
requests decoded it. Runs on SQLite and on PostgreSQL (`--database=postgres`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from editor.models import Workflow
from engine import services
from engine.fields import ReadableJSONField
from engine.models import Execution

# FLOWMAESTRO_PAGE_MAX_BYTES / 8: values over 10,000 bytes of JSON are cut.
PAGE_MAX_BYTES = 80_000
CAP = PAGE_MAX_BYTES // 8
BIG_INPUT = {"items": list(range(20_000))}  # ~109 KB of JSON
BIG_OUTPUT = {"Tag": [{"item": i, "label": f"item {i}"} for i in range(2_000)]}
SMALL_INPUT = {"name": "Ada", "items": [1, 2, 3]}


def json_bytes(value: Any) -> int:
    return len(json.dumps(value).encode())


@pytest.fixture(autouse=True)
def _small_bound(settings: Any) -> None:
    settings.FLOWMAESTRO_PAGE_MAX_BYTES = PAGE_MAX_BYTES


def queued(workflow: Workflow, user: Any, run_input: Any) -> Execution:
    """An execution as `POST /run` makes it, left queued (no engine runs it here)."""
    with override_settings(FLOWMAESTRO_ENGINE_IN_PROCESS=False):
        return services.execution_start(workflow=workflow, user=user, input=run_input)


@pytest.fixture
def big(make_workflow: Any, alice: Any) -> Execution:
    execution = queued(make_workflow(), alice, BIG_INPUT)
    Execution.objects.filter(pk=execution.pk).update(status="succeeded", output=BIG_OUTPUT)
    return execution


@pytest.fixture
def decoded() -> Iterator[list[int]]:
    """The length of every JSON value decoded from the database while the test runs."""
    sizes: list[int] = []
    original = ReadableJSONField.from_db_value

    def spy(self: ReadableJSONField, value: Any, expression: Any, connection: Any) -> Any:
        if isinstance(value, str | bytes):
            sizes.append(len(value))
        return original(self, value, expression, connection)

    ReadableJSONField.from_db_value = spy  # type: ignore[method-assign]
    yield sizes
    ReadableJSONField.from_db_value = original  # type: ignore[method-assign]


def marker(execution_id: int, field: str, value: Any) -> dict[str, Any]:
    return {"truncated": True, "size": json_bytes(value), "url": f"/api/executions/{execution_id}/{field}"}


@pytest.mark.django_db
def test_small_values_are_answered_whole(alice_client: APIClient, make_workflow: Any, alice: Any) -> None:
    execution = queued(make_workflow(), alice, SMALL_INPUT)
    Execution.objects.filter(pk=execution.pk).update(status="failed", output={"a": 1}, error={"message": "no"})
    detail = alice_client.get(f"/api/executions/{execution.pk}").json()
    assert (detail["input"], detail["output"], detail["error"]) == (SMALL_INPUT, {"a": 1}, {"message": "no"})
    assert isinstance(detail["state"], dict)
    row = alice_client.get("/api/executions").json()[0]
    assert (row["input"], row["output"], row["error"]) == (SMALL_INPUT, {"a": 1}, {"message": "no"})
    timeline = alice_client.get(f"/api/executions/{execution.pk}/timeline").json()
    assert timeline["execution"]["input"] == SMALL_INPUT


@pytest.mark.django_db
def test_a_null_output_stays_null(alice_client: APIClient, make_workflow: Any, alice: Any) -> None:
    execution = queued(make_workflow(), alice, SMALL_INPUT)
    detail = alice_client.get(f"/api/executions/{execution.pk}").json()
    assert detail["output"] is None and detail["error"] is None
    response = alice_client.get(f"/api/executions/{execution.pk}/output")
    assert response.status_code == 200 and response.json() is None


@pytest.mark.django_db
def test_big_values_are_cut_in_the_detail_with_their_size_and_url(
    alice_client: APIClient, big: Execution, decoded: list[int]
) -> None:
    response = alice_client.get(f"/api/executions/{big.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["input"] == marker(big.pk, "input", BIG_INPUT)
    assert body["output"] == marker(big.pk, "output", BIG_OUTPUT)
    assert len(response.content) < 20_000
    # Sized by the database: neither value was read into Python.
    assert max(decoded, default=0) < CAP, decoded


@pytest.mark.django_db
def test_the_list_and_the_timeline_never_load_a_big_input(
    alice_client: APIClient, big: Execution, decoded: list[int]
) -> None:
    response = alice_client.get("/api/executions")
    row = next(r for r in response.json() if r["id"] == big.pk)
    assert row["input"] == marker(big.pk, "input", BIG_INPUT)
    assert row["output"] == marker(big.pk, "output", BIG_OUTPUT)
    timeline = alice_client.get(f"/api/executions/{big.pk}/timeline").json()
    assert timeline["execution"]["input"] == marker(big.pk, "input", BIG_INPUT)
    # And the routes that do not show the input do not read it either.
    assert alice_client.get(f"/api/executions/{big.pk}/node-runs").status_code == 200
    assert alice_client.get(f"/api/executions/{big.pk}/events").status_code == 200
    assert max(decoded, default=0) < CAP, decoded


@pytest.mark.django_db
def test_a_list_row_cuts_values_sooner_than_the_detail(
    alice_client: APIClient, make_workflow: Any, alice: Any
) -> None:
    # 200 rows of values just under the detail's bound would make a list of megabytes.
    medium = {"items": list(range(1500))}  # ~8.9 KB: whole in the detail, cut in the list
    execution = queued(make_workflow(), alice, medium)
    assert 4000 < json_bytes(medium) < CAP
    row = next(r for r in alice_client.get("/api/executions").json() if r["id"] == execution.pk)
    assert row["input"] == marker(execution.pk, "input", medium)
    assert alice_client.get(f"/api/executions/{execution.pk}").json()["input"] == medium


@pytest.mark.django_db
def test_the_url_answers_the_whole_value(alice_client: APIClient, big: Execution) -> None:
    response = alice_client.get(f"/api/executions/{big.pk}/input")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == BIG_INPUT
    assert len(response.content) == json_bytes(BIG_INPUT)
    assert alice_client.get(f"/api/executions/{big.pk}/output").json() == BIG_OUTPUT
    assert alice_client.get(f"/api/executions/{big.pk}/state/").status_code == 200
    download = alice_client.get(f"/api/executions/{big.pk}/input?download=1")
    assert download["Content-Disposition"] == f'attachment; filename="execution-{big.pk}-input.json"'


@pytest.mark.django_db
def test_only_the_owner_and_staff_read_a_whole_value(
    bob_client: APIClient, staff_client: APIClient, anon_client: APIClient, big: Execution
) -> None:
    missing = bob_client.get("/api/executions/999999999")
    for field in ("input", "output"):
        response = bob_client.get(f"/api/executions/{big.pk}/{field}")
        # Exactly what a missing execution answers: ids cannot be probed.
        assert response.status_code == 404 and response.json() == missing.json()
        assert anon_client.get(f"/api/executions/{big.pk}/{field}").status_code in (401, 403)
    assert staff_client.get(f"/api/executions/{big.pk}/input").json() == BIG_INPUT
    assert bob_client.get("/api/executions/999999999/input").status_code == 404
    assert staff_client.get(f"/api/executions/{big.pk}/definition").status_code == 404


@pytest.mark.django_db
def test_a_retry_keeps_the_whole_input_and_answers_it_cut(alice_client: APIClient, big: Execution) -> None:
    with override_settings(FLOWMAESTRO_ENGINE_IN_PROCESS=False):
        response = alice_client.post(f"/api/executions/{big.pk}/retry", {}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["input"] == marker(body["id"], "input", BIG_INPUT)
    assert len(response.content) < 20_000
    assert alice_client.get(f"/api/executions/{body['id']}/input").json() == BIG_INPUT


@pytest.mark.django_db
def test_the_schema_documents_the_whole_value_routes(staff_client: APIClient) -> None:
    schema = staff_client.get("/api/schema/?format=json").json()
    path = schema["paths"]["/api/executions/{execution_id}/{field}/"]
    field = next(p for p in path["get"]["parameters"] if p["name"] == "field")
    assert sorted(field["schema"]["enum"]) == ["error", "input", "output", "state"]
    detail = schema["components"]["schemas"]["Execution"]["properties"]["input"]
    assert "truncated" in detail["description"]


@pytest.mark.django_db
def test_node_run_pages_never_load_a_big_node_run_field(
    alice_client: APIClient, big: Execution, decoded: list[int]
) -> None:
    """The start node run holds the whole input, a loop node run every item's result: a
    page cuts them from the database's size, never decoding them."""
    from tests.engine.test_pagination import add_node_runs

    [loop] = add_node_runs(big.pk, 1, output=BIG_INPUT["items"])
    add_node_runs(big.pk, 2, first_seq=2)
    detail = alice_client.get(f"/api/executions/{big.pk}").json()
    shown = detail["nodeRuns"][0]["output"]
    assert shown == {"truncated": True, "size": json_bytes(BIG_INPUT["items"]),
                     "url": f"/api/executions/{big.pk}/timeline?nodeRun={loop.id}"}
    assert detail["nodeRuns"][1]["output"] == {"n": 0}
    page = alice_client.get(f"/api/executions/{big.pk}/node-runs?limit=2").json()
    assert page["results"][0]["output"] == shown and page["next"]
    assert max(decoded, default=0) < CAP, decoded
    # The URL gives that node run whole.
    whole = alice_client.get(shown["url"]).json()
    assert whole["nodeRun"]["output"] == BIG_INPUT["items"]


# -- dead letters keep a run's input: the same bound ---------------------------------------------

@pytest.fixture
def letter(big: Execution) -> Any:
    from engine.models import DeadLetter

    Execution.objects.filter(pk=big.pk).update(status="failed", error={"message": "no"})
    return DeadLetter.objects.create(execution=big, workflow=big.workflow, kind="run", input=BIG_INPUT,
                                     error={"message": "no"}, trace_id=big.trace_id)


@pytest.mark.django_db
def test_dead_letters_cut_a_big_input_and_serve_it_whole(
    alice_client: APIClient, bob_client: APIClient, letter: Any, decoded: list[int]
) -> None:
    cut = {"truncated": True, "size": json_bytes(BIG_INPUT), "url": f"/api/dead-letters/{letter.pk}/input"}
    listed = alice_client.get("/api/dead-letters")
    assert listed.status_code == 200
    row = next(r for r in listed.json() if r["id"] == letter.pk)
    assert row["input"] == cut and row["error"] == {"message": "no"}
    detail = alice_client.get(f"/api/dead-letters/{letter.pk}").json()
    assert detail["input"] == cut and detail["execution"] == letter.execution_id
    # Neither the letter's input nor its execution's was read to answer.
    assert max(decoded, default=0) < CAP, decoded
    assert alice_client.get(cut["url"]).json() == BIG_INPUT
    assert bob_client.get(cut["url"]).status_code == 404


@pytest.mark.django_db
def test_a_dead_letter_replays_its_whole_input_when_none_is_sent(alice_client: APIClient, letter: Any) -> None:
    with override_settings(FLOWMAESTRO_ENGINE_IN_PROCESS=False):
        response = alice_client.post(f"/api/dead-letters/{letter.pk}/replay", {}, format="json")
    assert response.status_code == 201, response.content
    assert len(response.content) < 20_000
    assert Execution.objects.get(pk=response.json()["id"]).input == BIG_INPUT
