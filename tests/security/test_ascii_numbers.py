"""A number is a JSON number, or (where text is the only way to send one: query strings,
a rendered template) ASCII digits. Python's int() and float() also read Arabic-Indic
("٣") and fullwidth ("３") digits, underscores ("1_000") and "nan": each of those was
silently taken as another number. Now each is a 400 naming the field, on save a
validation error naming the node, and at run time a failed node run that says why."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from engine.models import Execution, NodeRun
from tests.engine.runs import START, definition, run

pytestmark = pytest.mark.django_db(transaction=True)

NOT_ASCII_NUMBERS = ["٣", "３", "1_000", "+5", " 5"]


@pytest.mark.parametrize("raw", NOT_ASCII_NUMBERS)
def test_a_page_size_or_id_in_a_query_string_is_ascii_digits_only(alice, alice_client, make_workflow, raw):
    wf = make_workflow()
    ex = alice_client.post(f"/api/workflows/{wf.id}/run", {}, format="json").json()
    for url, name in ((f"/api/executions/{ex['id']}/events", "limit"), (f"/api/executions/{ex['id']}/events", "afterSeq"),
                      (f"/api/executions/{ex['id']}/node-runs", "limit"), ("/api/executions", "workflow"),
                      ("/api/dead-letters", "execution")):
        response = alice_client.get(url, {name: raw})
        assert response.status_code == 400, (url, name, response.content)
        assert response.json()["detail"].startswith(f"{name} must be a whole number written with the digits 0-9"), \
            response.json()
    assert alice_client.get(f"/api/executions/{ex['id']}/events", {"limit": "3"}).status_code == 200


@pytest.mark.parametrize("raw", ["٣", "３", "1_000", "5"])
def test_a_run_priority_sent_as_text_is_a_400_naming_it_and_starts_nothing(alice_client, make_workflow, raw):
    wf = make_workflow()
    response = alice_client.post(f"/api/workflows/{wf.id}/run", {"priority": raw}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {
        "priority": [f"must be a JSON number without quotes (such as 5), not the text {raw!r}."]}
    assert not Execution.objects.exists()
    # A JSON number is fine, as before.
    assert alice_client.post(f"/api/workflows/{wf.id}/run", {"priority": 5}, format="json").status_code == 201


def test_retention_bulk_replay_and_redrive_numbers_must_be_json_numbers(alice_client, make_workflow):
    wf = make_workflow()
    retention = alice_client.put(f"/api/workflows/{wf.id}/retention", {"days": "٣٠", "keepLast": None}, format="json")
    assert retention.status_code == 400, retention.content
    assert list(retention.json()["errors"]) == ["days"]
    assert alice_client.put(f"/api/workflows/{wf.id}/retention", {"days": 30, "keepLast": None},
                            format="json").status_code == 200
    replay = alice_client.post("/api/dead-letters/replay", {"ids": ["١"]}, format="json")
    assert replay.status_code == 400, replay.content
    assert "ids" in replay.json()["errors"]
    ex = alice_client.post(f"/api/workflows/{wf.id}/run", {}, format="json").json()
    redrive = alice_client.post(f"/api/executions/{ex['id']}/redrive", {"items": {"loop": ["٠"]}}, format="json")
    assert redrive.status_code == 400, redrive.content
    assert "items" in redrive.json()["errors"]


@pytest.mark.parametrize("raw", ["٣", "３", "1_0", "nan", "inf"])
def test_a_webhook_wait_is_seconds_in_ascii_digits(alice_client, make_workflow, raw):
    wf = make_workflow()
    hook = alice_client.post(f"/api/workflows/{wf.id}/webhooks", {}, format="json").json()
    url = hook["url"].replace("http://testserver", "")
    response = APIClient().post(f"{url}?wait={raw}", {}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("wait must be a number of seconds")
    assert not Execution.objects.exists()


def with_delay(definition: dict[str, Any], duration: Any) -> dict[str, Any]:
    """`definition` with a delay node of `duration` after its `done` node."""
    d = dict(definition)
    d["nodes"] = [*d["nodes"], {"id": "wait", "type": "delay", "name": "Wait", "position": {"x": 0, "y": 100},
                                "config": {"duration": duration}}]
    d["edges"] = [*d["edges"], {"id": "e3", "source": "done", "target": "wait"}]
    return d


@pytest.mark.parametrize("raw", ["٣", "1_000", "１０"])
def test_a_delay_given_as_text_that_is_not_ascii_is_refused_on_save(alice_client, simple_definition, raw):
    d = with_delay(simple_definition, raw)
    response = alice_client.post("/api/workflows", {"name": "w", "definition": d}, format="json")
    assert response.status_code == 400, response.content
    assert {"nodeId": "wait", "message": f"config.duration: {raw!r} is not a number of milliseconds in the digits "
                                        "0-9, or a {{template}}"} in response.json()["errors"]
    d["nodes"][-1]["config"]["duration"] = "{{input.waitMs}}"
    assert alice_client.post("/api/workflows", {"name": "w", "definition": d}, format="json").status_code == 201


@pytest.mark.parametrize("raw", ["99999999999", "604800001", "1e400"])
def test_a_delay_given_as_text_past_a_week_is_refused_on_save(alice_client, simple_definition, raw):
    """The schema bounds a number, not a number written as text: such a duration was saved
    and then failed every run ("must be between 0 and 604800000 ms")."""
    d = with_delay(simple_definition, raw)
    response = alice_client.post("/api/workflows", {"name": "w", "definition": d}, format="json")
    assert response.status_code == 400, response.content
    assert {"nodeId": "wait", "message": f"config.duration: {raw!r} is more than 604800000 ms (a week)"} \
        in response.json()["errors"]
    d["nodes"][-1]["config"]["duration"] = "604800000"
    assert alice_client.post("/api/workflows", {"name": "w", "definition": d}, format="json").status_code == 201


def test_a_delay_template_that_renders_non_ascii_digits_fails_the_node_run(alice):
    d = definition([START, {"id": "wait", "type": "delay", "config": {"duration": "{{input.waitMs}}"}}],
                   [("start", "wait")])
    ex = run(alice, d, {"waitMs": "٣"})
    assert ex.status == "failed"
    error = NodeRun.objects.get(execution=ex, node_id="wait").error
    assert error["message"] == "`duration` must be a number of milliseconds, got '٣'"
    assert run(alice, d, {"waitMs": "3"}).status == "succeeded"


def test_a_template_index_in_non_ascii_digits_reads_nothing(alice):
    d = definition([START, {"id": "pick", "type": "set", "config": {"values": {
        "ascii": "{{input.letters[3]}}", "arabic": "{{input.letters[٣]}}", "dotted": "{{input.letters.٣}}"}}}],
        [("start", "pick")])
    ex = run(alice, d, {"letters": ["a", "b", "c", "d"]})
    assert ex.status == "succeeded", ex.error
    output = NodeRun.objects.get(execution=ex, node_id="pick").output
    assert output["ascii"] == "d"
    assert output["arabic"] in (None, "") and output["dotted"] in (None, ""), output


@pytest.mark.parametrize("raw", ["٣", "1_0", "nan"])
def test_the_demo_services_take_ascii_numbers_only(client, raw):
    response = client.get("/demo-api/slow", {"ms": raw})
    assert response.status_code == 400, response.content
    assert "ms must be a number written with the digits 0-9" in response.json()["detail"]
