"""A typo in a webhook, schedule or retention body is a 400 that names it, as in every
other body written by hand (tests/security/test_request_bodies_known_keys.py).

Found by the attacker pass of 2026-11-30: these three bodies still dropped keys they did
not know. `{"cron": "0 9 * * *", "timeZone": "Europe/Paris"}` made a schedule that runs at
09:00 UTC with a 201; `{"auth": "hmac", "enabld": false}` made an enabled webhook, and so
did `{"enabled": false}` itself (a new webhook ignored it); a retention's `keep_last`
went nowhere."""

from __future__ import annotations

import pytest

from editor.models import Schedule, Webhook, Workflow

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def workflow_id(make_workflow) -> int:
    return int(make_workflow().pk)


def test_a_misspelt_schedule_key_is_refused_naming_it(alice_client, workflow_id):
    base = f"/api/workflows/{workflow_id}/schedules"
    made = alice_client.post(base, {"cron": "0 9 * * *", "timeZone": "Europe/Paris"}, format="json")
    assert made.status_code == 400, made.content
    assert made.json()["errors"] == {"timeZone": ["unknown key — did you mean 'timezone'?"]}
    assert not Schedule.objects.exists()

    made = alice_client.post(base, {"cron": "0 9 * * *", "timezone": "Europe/Paris"}, format="json")
    assert made.status_code == 201, made.content
    changed = alice_client.patch(f"{base}/{made.json()['id']}", {"catch_up": "skip"}, format="json")
    assert changed.status_code == 400
    assert changed.json()["errors"] == {"catch_up": ["unknown key — did you mean 'catchUp'?"]}
    assert Schedule.objects.get().catch_up == "latest"


def test_a_misspelt_webhook_key_is_refused_and_enabled_false_is_kept(alice_client, workflow_id):
    base = f"/api/workflows/{workflow_id}/webhooks"
    made = alice_client.post(base, {"auth": "hmac", "enabld": False}, format="json")
    assert made.status_code == 400, made.content
    assert made.json()["errors"] == {"enabld": ["unknown key — did you mean 'enabled'?"]}
    assert not Webhook.objects.exists()

    # A webhook asked for disabled is created disabled: its URL starts nothing until enabled.
    made = alice_client.post(base, {"auth": "hmac", "enabled": False}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["enabled"] is False
    assert Webhook.objects.get().enabled is False
    hook = alice_client.post(f"/hooks/{Webhook.objects.get().token}", {}, format="json")
    assert hook.status_code != 202

    changed = alice_client.patch(f"{base}/{made.json()['id']}", {"rotat": True}, format="json")
    assert changed.status_code == 400
    assert changed.json()["errors"] == {"rotat": ["unknown key — did you mean 'rotate'?"]}


def test_a_misspelt_retention_key_is_refused_naming_it(alice_client, workflow_id):
    url = f"/api/workflows/{workflow_id}/retention"
    answer = alice_client.put(url, {"days": 3, "keepLast": None, "keep_last": 5}, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["errors"] == {"keep_last": ["unknown key — did you mean 'keepLast'?"]}
    assert Workflow.objects.get(pk=workflow_id).retention_days is None


def test_the_bodies_the_editor_sends_are_still_accepted(alice_client, workflow_id):
    base = f"/api/workflows/{workflow_id}"
    schedule = alice_client.post(f"{base}/schedules", {"cron": "*/5 * * * *", "timezone": "UTC", "catchUp": "skip",
                                                       "input": {"a": 1}}, format="json")
    assert schedule.status_code == 201, schedule.content
    assert alice_client.patch(f"{base}/schedules/{schedule.json()['id']}", {"enabled": False},
                              format="json").status_code == 200
    webhook = alice_client.post(f"{base}/webhooks", {"auth": "token"}, format="json")
    assert webhook.status_code == 201 and webhook.json()["enabled"] is True
    for body in ({"enabled": False}, {"rotate": True}):
        assert alice_client.patch(f"{base}/webhooks/{webhook.json()['id']}", body, format="json").status_code == 200
    assert alice_client.put(f"{base}/retention", {"days": 7, "keepLast": None}, format="json").status_code == 200
