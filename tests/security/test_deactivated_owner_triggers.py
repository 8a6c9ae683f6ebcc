"""A deactivated account starts nothing through its triggers.

Probed on a live daphne: after an admin deactivated a user (the login page and the API then
refuse them: 401 for their token), anyone holding the URL of one of their webhooks still
started runs of their workflows (202), and their schedules kept starting runs: the account
went on running its HTTP calls and JavaScript on the shared engine. Runs from triggers
belong to the workflow's owner, so an inactive owner's webhooks answer as disabled (403)
and their schedules record why they did not run; reactivated, both work again."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from editor.models import Schedule
from editor.triggers import schedules_run_due
from engine.models import Execution
from tests.conftest import create_webhook
from tests.daphne import running_daphne

pytestmark = pytest.mark.django_db(transaction=True)


def _deactivate(user, active: bool = False) -> None:
    user.is_active = active
    user.save(update_fields=["is_active"])


def test_a_deactivated_owners_webhook_starts_no_run_on_a_live_server(alice, alice_client, make_workflow):
    workflow = make_workflow()
    hook = create_webhook(alice_client, workflow.pk)
    path = hook["url"].replace("http://testserver", "")
    with running_daphne() as host:
        assert httpx.post(f"http://{host}{path}", json={"n": 1}, timeout=30).status_code == 202
        _deactivate(alice)
        refused = httpx.post(f"http://{host}{path}", json={"n": 2}, timeout=30)
        assert refused.status_code == 403, refused.text
        assert refused.json() == {"detail": "this webhook is disabled"}
        assert Execution.objects.filter(workflow=workflow).count() == 1
        _deactivate(alice, active=True)
        assert httpx.post(f"http://{host}{path}", json={"n": 3}, timeout=30).status_code == 202
    assert Execution.objects.filter(workflow=workflow).count() == 2


def test_a_deactivated_owners_schedule_starts_no_run_and_says_why(alice, alice_client, make_workflow):
    workflow = make_workflow()
    answer = alice_client.post(f"/api/workflows/{workflow.pk}/schedules", {"cron": "*/5 * * * *"}, format="json")
    assert answer.status_code == 201, answer.content
    schedule = Schedule.objects.get(pk=answer.json()["id"])
    due = schedule.next_run_at
    assert due is not None
    _deactivate(alice)
    assert schedules_run_due(due + timedelta(seconds=1)) == 0
    assert not Execution.objects.filter(workflow=workflow).exists()
    schedule.refresh_from_db()
    assert schedule.last_error == "not run: the workflow's owner is deactivated"
    assert schedule.next_run_at == due + timedelta(minutes=5)  # claimed: not looked at again every second

    _deactivate(alice, active=True)
    assert schedules_run_due(schedule.next_run_at + timedelta(seconds=1)) == 1
    assert Execution.objects.filter(workflow=workflow).count() == 1
    assert timezone.now() < Schedule.objects.get(pk=schedule.pk).next_run_at  # type: ignore[operator]
