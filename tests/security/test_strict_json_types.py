"""A yes/no is JSON `true` or `false` in a request body, and `true`/`1` or `false`/`0` in a
query string, nothing else. DRF's BooleanField read "yes", "on", "t", "1" (any case) as
true and "no", "off", "f", "0", the numbers 0 and 0.0 as false: `{"enabled": "off"}`
disabled a schedule with a 200, and `?download=yes` quietly showed the value instead of
saving it. Likewise text is a JSON string: DRF's CharField stored a number's Python
spelling (`{"name": 1.50}` named the workflow "1.5"). Each is now a 400 naming the field,
with nothing changed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import get_resolver
from rest_framework import serializers
from rest_framework.test import APIClient

from editor.models import Schedule, Webhook, Workflow
from engine.models import Execution
from flowmaestro.request_bodies import (
    JSONBooleanField,
    JSONIntegerField,
    JSONStringField,
    KnownKeysSerializer,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]

# Every value DRF's BooleanField takes that is not a JSON boolean (rest_framework.fields),
# and null where the field does not allow it.
NOT_JSON_BOOLEANS: list[Any] = ["true", "false", "yes", "no", "on", "off", "t", "f", "y", "n", "1", "0", "TRUE",
                                "Off", 1, 0, 1.0, 0.0]


def _kind(value: Any) -> str:
    return f"the text {value!r}" if isinstance(value, str) else f"the number {value!r}"


def _refused(response: Any, field: str, value: Any) -> None:
    assert response.status_code == 400, (value, response.content)
    assert response.json()["errors"] == {
        field: [f"must be true or false (a JSON boolean, without quotes), not {_kind(value)}."]}, response.json()


@pytest.mark.parametrize("value", NOT_JSON_BOOLEANS)
def test_a_workflow_draft_flag_that_is_not_a_json_boolean_is_a_400_and_saves_nothing(
        alice_client, make_workflow, simple_definition, value):
    created = alice_client.post("/api/workflows", {"name": "w", "definition": simple_definition, "draft": value},
                                format="json")
    _refused(created, "draft", value)
    assert not Workflow.objects.exists()

    wf = make_workflow()
    changed = {**simple_definition, "settings": {**simple_definition.get("settings", {}), "maxConcurrency": 2}}
    patched = alice_client.patch(f"/api/workflows/{wf.id}", {"definition": changed, "draft": value}, format="json")
    _refused(patched, "draft", value)
    wf.refresh_from_db()
    assert wf.version == 1 and wf.definition == simple_definition
    # A JSON boolean is taken, as before.
    assert alice_client.patch(f"/api/workflows/{wf.id}", {"definition": changed, "draft": False},
                              format="json").status_code == 200


@pytest.mark.parametrize("value", NOT_JSON_BOOLEANS)
def test_a_schedule_enabled_that_is_not_a_json_boolean_is_a_400_and_changes_nothing(alice_client, make_workflow,
                                                                                      value):
    wf = make_workflow()
    base = f"/api/workflows/{wf.id}/schedules"
    _refused(alice_client.post(base, {"cron": "0 9 * * *", "enabled": value}, format="json"), "enabled", value)
    assert not Schedule.objects.exists()

    schedule = alice_client.post(base, {"cron": "0 9 * * *"}, format="json").json()
    _refused(alice_client.patch(f"{base}/{schedule['id']}", {"enabled": value}, format="json"), "enabled", value)
    assert Schedule.objects.get().enabled is True
    off = alice_client.patch(f"{base}/{schedule['id']}", {"enabled": False}, format="json")
    assert off.status_code == 200 and off.json()["enabled"] is False


@pytest.mark.parametrize("value", NOT_JSON_BOOLEANS)
def test_a_webhook_enabled_or_rotate_that_is_not_a_json_boolean_is_a_400_and_changes_nothing(
        alice_client, make_workflow, value):
    wf = make_workflow()
    base = f"/api/workflows/{wf.id}/webhooks"
    _refused(alice_client.post(base, {"enabled": value}, format="json"), "enabled", value)
    assert not Webhook.objects.exists()

    hook = alice_client.post(base, {}, format="json").json()
    _refused(alice_client.patch(f"{base}/{hook['id']}", {"enabled": value}, format="json"), "enabled", value)
    _refused(alice_client.patch(f"{base}/{hook['id']}", {"rotate": value}, format="json"), "rotate", value)
    webhook = Webhook.objects.get()
    assert webhook.enabled is True and hook["url"].endswith(webhook.token)


@pytest.mark.parametrize("value", NOT_JSON_BOOLEANS)
def test_a_webhook_require_timestamp_that_is_not_a_json_boolean_is_a_400_and_changes_nothing(
        alice_client, make_workflow, value):
    wf = make_workflow()
    base = f"/api/workflows/{wf.id}/webhooks"
    _refused(alice_client.post(base, {"auth": "hmac", "requireTimestamp": value}, format="json"),
             "requireTimestamp", value)
    assert not Webhook.objects.exists()

    hook = alice_client.post(base, {"auth": "hmac"}, format="json").json()
    _refused(alice_client.patch(f"{base}/{hook['id']}", {"requireTimestamp": value}, format="json"),
             "requireTimestamp", value)
    assert Webhook.objects.get().require_timestamp is True
    off = alice_client.patch(f"{base}/{hook['id']}", {"requireTimestamp": False}, format="json")
    assert off.status_code == 200 and off.json()["requireTimestamp"] is False


@pytest.mark.parametrize("raw", ["yes", "no", "True", "on", "2", " 1", "y"])
def test_a_download_flag_is_true_1_false_or_0_exactly(alice_client, make_workflow, raw):
    wf = make_workflow()
    ex = alice_client.post(f"/api/workflows/{wf.id}/run", {"input": {"who": "x"}}, format="json").json()
    url = f"/api/executions/{ex['id']}/input"
    response = alice_client.get(url, {"download": raw})
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == f"download must be true or false (or 1 or 0), not {raw!r}."
    for spelling, saved in (("true", True), ("1", True), ("false", False), ("0", False), ("", False)):
        answer = alice_client.get(url, {"download": spelling})
        assert answer.status_code == 200, (spelling, answer.content)
        assert ("attachment" in answer.get("Content-Disposition", "")) is saved, spelling


@pytest.mark.parametrize("raw", ["yes", "no", "True", "FALSE", "on", "off"])
def test_a_webhook_wait_is_seconds_true_or_false_exactly(alice_client, make_workflow, raw):
    wf = make_workflow()
    hook = alice_client.post(f"/api/workflows/{wf.id}/webhooks", {}, format="json").json()
    response = APIClient().post(f"{hook['url'].replace('http://testserver', '')}?wait={raw}", {}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == f"wait must be a number of seconds (at most 30), true or false, not {raw!r}"
    assert not Execution.objects.exists()
    # `false` is no wait: the run is started and answered at once.
    answer = APIClient().post(f"{hook['url'].replace('http://testserver', '')}?wait=false", {}, format="json")
    assert answer.status_code == 202, answer.content


def _fields(field: Any, path: str) -> list[tuple[str, Any]]:
    """`field` and every field inside it (a nested serializer's, a list's or dict's child)."""
    found = [(path, field)]
    if isinstance(field, serializers.BaseSerializer) and hasattr(field, "fields"):
        for name, sub in field.fields.items():
            found += _fields(sub, f"{path}.{name}")
    for attr in ("child", "child_relation"):
        sub = getattr(field, attr, None)
        if sub is not None:
            found += _fields(sub, f"{path}.{attr}")
    return found


def _project_serializers() -> list[type[serializers.Serializer[Any]]]:
    get_resolver().url_patterns  # noqa: B018 (imports every view module, and so every serializer)
    seen: list[type[serializers.Serializer[Any]]] = []
    stack = list(serializers.Serializer.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in ("editor", "engine", "flowmaestro") and cls not in seen:
            seen.append(cls)
    return seen


def test_no_serializer_takes_drf_s_lenient_boolean_and_no_request_body_its_lenient_text_or_numbers():
    """The guard that keeps it so: a field declared, or generated from a model's
    BooleanField, as DRF's own BooleanField would take "off" again; a request body's
    CharField would take 1.50 as "1.5", its IntegerField "5" as 5."""
    classes = _project_serializers()
    assert len(classes) > 20, classes  # the walk found the API's serializers
    lenient = [f"{cls.__module__}.{cls.__name__}{path}" for cls in classes
               for path, field in _fields(cls(), "")
               if isinstance(field, serializers.BooleanField) and not isinstance(field, JSONBooleanField)]
    bodies = [cls for cls in classes if issubclass(cls, KnownKeysSerializer)]
    assert len(bodies) >= 10, bodies
    lenient += [f"{cls.__module__}.{cls.__name__}{path}" for cls in bodies
                for path, field in _fields(cls(), "") if not field.read_only and (
                    (isinstance(field, serializers.CharField) and not isinstance(field, JSONStringField))
                    or (isinstance(field, serializers.IntegerField) and not isinstance(field, JSONIntegerField)))]
    assert lenient == []
    # Fields built in place (inline_serializer for the schema) are seen in the source.
    written = [f"{path.relative_to(ROOT)}:{n}" for package in ("editor", "engine", "flowmaestro")
               for path in (ROOT / package).rglob("*.py")
               for n, line in enumerate(path.read_text().splitlines(), 1)
               if re.search(r"serializers\.BooleanField\(|fields import .*\bBooleanField\b", line)]
    assert written == []


def _start(client: APIClient, workflow: Workflow) -> dict[str, Any]:
    started: dict[str, Any] = client.post(f"/api/workflows/{workflow.pk}/run", {}, format="json").json()
    return started


@pytest.mark.parametrize(("what", "value"), [
    ("workflow name", 1.50), ("workflow description", 7), ("schedule cron", 5), ("schedule timezone", 0),
    ("webhook name", 12), ("signal type", 1), ("signal reason", 2.0), ("redrive node", 1e2),
    ("expression code", 1), ("expression node", 3), ("run until", 5),
])
def test_text_sent_as_a_json_number_is_a_400_naming_the_field(alice_client, make_workflow, simple_definition,
                                                              what, value):
    wf = make_workflow()
    base = f"/api/workflows/{wf.pk}"
    post = {
        "workflow name": lambda: ("name", alice_client.post("/api/workflows", {
            "name": value, "definition": simple_definition}, format="json")),
        "workflow description": lambda: ("description", alice_client.patch(base, {"description": value},
                                                                           format="json")),
        "schedule cron": lambda: ("cron", alice_client.post(f"{base}/schedules", {"cron": value}, format="json")),
        "schedule timezone": lambda: ("timezone", alice_client.post(f"{base}/schedules", {
            "cron": "0 9 * * *", "timezone": value}, format="json")),
        "webhook name": lambda: ("name", alice_client.post(f"{base}/webhooks", {"name": value}, format="json")),
        "signal type": lambda: ("type", alice_client.post(f"/api/executions/{_start(alice_client, wf)['id']}/signal",
                                                          {"type": value}, format="json")),
        "signal reason": lambda: ("reason", alice_client.post(
            f"/api/executions/{_start(alice_client, wf)['id']}/signal", {"type": "cancel", "reason": value},
            format="json")),
        "redrive node": lambda: ("nodes", alice_client.post(
            f"/api/executions/{_start(alice_client, wf)['id']}/redrive", {"nodes": [value]}, format="json")),
        "expression code": lambda: ("code", alice_client.post(f"{base}/test-expression", {"code": value},
                                                              format="json")),
        "expression node": lambda: ("nodeId", alice_client.post(f"{base}/test-expression", {
            "code": "1", "nodeId": value}, format="json")),
        # A node whose id is "5" must not be what a number names.
        "run until": lambda: ("runUntil", alice_client.post(f"{base}/run", {"runUntil": value}, format="json")),
    }
    field, response = post[what]()
    assert response.status_code == 400, (what, response.content)
    errors = response.json()["errors"][field]
    message = f"must be text (a JSON string, in quotes), not the number {value!r}."
    assert errors == ([message] if field != "nodes" else {"0": [message]}), errors
    wf.refresh_from_db()
    assert (Workflow.objects.count(), wf.description, wf.version) == (1, "", 1)
    assert not Schedule.objects.exists() and not Webhook.objects.exists()
    assert all(e.status != "cancelled" for e in Execution.objects.all())
