"""Every API route that names an object, with every verb, as another user: the same 404 (or
405) as for an id that does not exist, and nothing of the owner's changes.

The routes are read from the URL configuration, so a route added later is covered without
editing this file: the guard is that no route answers another user's id differently from a
missing one (which would tell that it exists) or acts on it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLResolver, get_resolver

from editor.models import Schedule, Webhook, Workflow
from engine.models import DeadLetter, Execution, PendingSignal
from tests.conftest import create_webhook
from tests.engine.runs import START, definition, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)

VERBS = ("get", "post", "put", "patch", "delete")
MISSING = 987654321
# A body that would be valid for most writes, so a refusal is not just a 400 for its shape.
BODY: dict[str, Any] = {"type": "cancel", "input": {}, "name": "x", "enabled": False, "cron": "0 * * * *",
                        "code": "1", "days": 1, "keepLast": 1, "ids": [1], "version": "latest"}


def api_routes(resolver: Any = None, prefix: str = "") -> Iterator[str]:
    for pattern in (resolver or get_resolver()).url_patterns:
        regex = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            yield from api_routes(pattern, regex)
        elif regex.startswith("api/") and "(?P<" in regex:
            yield regex


def fill(route: str, ids: dict[str, int]) -> str:
    path = re.sub(r"\(\?P<field>([a-z]+)[^)]*\)", r"\1", route)  # a value route: its first field
    for name, value in ids.items():
        path = re.sub(rf"\(\?P<{name}>[^)]*\)", str(value), path)
    assert "(?P<" not in path, f"a route with an id this test does not know: {route}"
    return "/" + path.replace("/?", "")


def snapshot() -> list[Any]:
    return [
        list(Workflow.objects.values_list("id", "name", "version", "definition")),
        list(Execution.objects.values_list("id", "status", "owner_id")),
        list(DeadLetter.objects.values_list("id", "replayed_at", "discarded_at")),
        list(Webhook.objects.values_list("id", "token", "enabled")),
        list(Schedule.objects.values_list("id", "cron", "enabled")),
        PendingSignal.objects.count(),
    ]


def test_every_object_route_answers_another_users_id_like_a_missing_one(alice_client, bob_client):
    failing = definition([START, {"id": "boom", "type": "fail", "config": {"message": "down"}}], [("start", "boom")],
                         queue={"deadLetterQueue": True})
    workflow = alice_client.post("/api/workflows", {"name": "Hers", "definition": failing}, format="json").json()
    execution = wait_finished(alice_client.post(f"/api/workflows/{workflow['id']}/run", {"input": {}},
                                                format="json").json()["id"])
    hook = create_webhook(alice_client, workflow["id"])
    schedule = alice_client.post(f"/api/workflows/{workflow['id']}/schedules", {"cron": "0 * * * *"}, format="json")
    assert schedule.status_code == 201, schedule.content
    ids = {"workflow_id": workflow["id"], "execution_id": execution.pk, "webhook_id": hook["id"],
           "schedule_id": schedule.json()["id"], "number": 1, "node_id": "boom",
           "dead_letter_id": DeadLetter.objects.get(execution_id=execution.pk).pk}
    routes = list(api_routes())
    assert len(routes) >= 20, routes  # the URL configuration was read

    before = snapshot()
    differences = []
    for route in routes:
        theirs, missing = fill(route, ids), fill(route, dict.fromkeys(ids, MISSING))
        for verb in VERBS:
            as_bob = getattr(bob_client, verb)(theirs, BODY, format="json")
            as_missing = getattr(bob_client, verb)(missing, BODY, format="json")
            if (as_bob.status_code, as_bob.content) != (as_missing.status_code, as_missing.content) \
                    or as_bob.status_code not in (404, 405) or as_bob["Content-Type"] != "application/json":
                differences.append(f"{verb.upper()} {theirs}: {as_bob.status_code} {as_bob.content[:100]!r}, "
                                   f"missing id: {as_missing.status_code}")
    assert differences == []
    assert snapshot() == before
