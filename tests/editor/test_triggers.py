"""Triggers: webhooks (`POST /hooks/{token}`, no login) and cron schedules start runs of a
workflow owned by its owner, obey its queue settings, and are invisible to other users."""

from __future__ import annotations

import copy
import json
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from editor.models import Schedule, Webhook
from editor.triggers import schedules_run_due, webhook_signature
from engine.models import Execution
from tests.conftest import SIMPLE_DEFINITION, create_webhook
from tests.threads import db_thread

pytestmark = pytest.mark.django_db(transaction=True)


def _post(url: str, body: Any, **headers: str) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return APIClient().generic("POST", url.replace("http://testserver", ""), raw,
                               content_type="application/json", **headers)


def test_webhook_starts_a_run_of_the_owner_with_the_body_as_input(alice, alice_client, bob_client,
                                                                  make_workflow, wait_for_execution):
    workflow = make_workflow()
    hook = create_webhook(alice_client, workflow.pk, name="from CI")
    assert hook["url"].startswith("http://testserver/hooks/") and hook["auth"] == "token"

    response = _post(hook["url"], {"who": "the webhook"})
    assert response.status_code == 202, response.content
    body = response.json()
    execution = Execution.objects.get(pk=body["executionId"])
    assert execution.owner_id == alice.pk and execution.input == {"who": "the webhook"}
    finished = wait_for_execution(alice_client, execution.pk)
    assert finished["status"] == "succeeded" and finished["output"] == {"Done": "the webhook"}
    # Another user sees neither the webhooks nor can change them.
    assert bob_client.get(f"/api/workflows/{workflow.pk}/webhooks").status_code == 404
    assert bob_client.patch(f"/api/workflows/{workflow.pk}/webhooks/{hook['id']}", {"enabled": False},
                            format="json").status_code == 404
    listed = alice_client.get(f"/api/workflows/{workflow.pk}/webhooks").json()["results"]
    assert listed[0]["calls"] == 1 and listed[0]["lastCalledAt"]


def test_webhook_waits_for_the_result_when_asked(alice_client, make_workflow):
    hook = create_webhook(alice_client, make_workflow().pk)
    response = _post(hook["url"] + "?wait=20", {"who": "waiter"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "succeeded" and response.json()["output"] == {"Done": "waiter"}


def test_hmac_webhook_refuses_unsigned_and_wrongly_signed_bodies(alice_client, make_workflow):
    hook = create_webhook(alice_client, make_workflow().pk, auth="hmac")
    assert hook["hmacSecret"] and hook["signatureHeader"] == "X-FlowMaestro-Signature"
    raw = json.dumps({"who": "signed"}).encode()
    stamp = str(int(time.time()))
    assert _post(hook["url"], raw).status_code == 403
    assert _post(hook["url"], raw, HTTP_X_FLOWMAESTRO_TIMESTAMP=stamp,
                 HTTP_X_FLOWMAESTRO_SIGNATURE="sha256=" + "0" * 64).status_code == 403
    good = _post(hook["url"], raw, HTTP_X_FLOWMAESTRO_TIMESTAMP=stamp,
                 HTTP_X_FLOWMAESTRO_SIGNATURE=webhook_signature(hook["hmacSecret"], raw, stamp))
    assert good.status_code == 202, good.content
    assert Execution.objects.count() == 1


def test_webhook_refusals_are_json_and_lose_nothing(alice_client, make_workflow):
    workflow = make_workflow()
    hook = create_webhook(alice_client, workflow.pk)
    unknown = _post("/hooks/" + "x" * 43, {})
    assert unknown.status_code == 404 and unknown.json()["detail"]
    bad = _post(hook["url"], b"{not json")
    assert bad.status_code == 400 and "JSON" in bad.json()["detail"]
    nan = _post(hook["url"], b'{"a": NaN}')
    assert nan.status_code == 400
    alice_client.patch(f"/api/workflows/{workflow.pk}/webhooks/{hook['id']}", {"enabled": False}, format="json")
    assert _post(hook["url"], {}).status_code == 403
    rotated = alice_client.patch(f"/api/workflows/{workflow.pk}/webhooks/{hook['id']}",
                                 {"enabled": True, "rotate": True}, format="json").json()
    assert rotated["url"] != hook["url"]
    assert _post(hook["url"], {}).status_code == 404  # the old URL is retired
    assert _post(rotated["url"], {}).status_code == 202
    assert Execution.objects.count() == 1


def test_webhook_runs_obey_the_workflow_queue(alice_client, make_workflow):
    definition = copy.deepcopy(SIMPLE_DEFINITION)
    definition["settings"]["queue"] = {"maxSize": 2}
    workflow = make_workflow(definition=definition)
    from engine import runtime

    runtime.stop_engine(1)  # nothing claims the queued runs, so the queue fills
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("engine.services._wake_engine", lambda *a, **k: None)
        hook = create_webhook(alice_client, workflow.pk)
        assert [_post(hook["url"], {}).status_code for _ in range(3)] == [202, 202, 429]


def _schedule(client: APIClient, workflow_id: int, **body: Any) -> Any:
    return client.post(f"/api/workflows/{workflow_id}/schedules", body, format="json")


def test_schedule_validation_names_the_problem(alice_client, bob_client, make_workflow):
    workflow = make_workflow()
    four = _schedule(alice_client, workflow.pk, cron="*/5 * * *")
    assert four.status_code == 400 and "5" in four.json()["detail"]
    bad = _schedule(alice_client, workflow.pk, cron="61 * * * *")
    assert bad.status_code == 400 and "not valid" in bad.json()["detail"]
    zone = _schedule(alice_client, workflow.pk, cron="0 9 * * *", timezone="Mars/Olympus")
    assert zone.status_code == 400 and "time zone" in zone.json()["detail"]
    ok = _schedule(alice_client, workflow.pk, cron="0 9 * * 1-5", timezone="Europe/Paris", input={"who": "cron"})
    assert ok.status_code == 201, ok.content
    body = ok.json()
    assert len(body["upcoming"]) == 3
    # 09:00 in Paris is 07:00 or 08:00 UTC depending on daylight saving.
    assert all(moment[11:13] in ("07", "08") for moment in [str(m) for m in body["upcoming"]])
    assert bob_client.get(f"/api/workflows/{workflow.pk}/schedules").status_code == 404
    assert bob_client.delete(f"/api/workflows/{workflow.pk}/schedules/{body['id']}").status_code == 404


def test_a_due_occurrence_starts_exactly_one_run_however_many_processes_look(alice_client, make_workflow):
    workflow = make_workflow()
    created = _schedule(alice_client, workflow.pk, cron="*/5 * * * *", input={"who": "cron"}).json()
    schedule = Schedule.objects.get(pk=created["id"])
    due = schedule.next_run_at
    assert due is not None
    started: list[int] = []
    barrier = threading.Barrier(4)

    def look() -> None:
        barrier.wait()
        started.append(schedules_run_due(due + timedelta(seconds=1)))

    threads = [db_thread(look) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(started) == 1
    schedule.refresh_from_db()
    assert schedule.next_run_at == due + timedelta(minutes=5)
    assert Execution.objects.get(pk=schedule.last_execution_id).input == {"who": "cron"}


@pytest.mark.parametrize(("policy", "runs"), [("skip", 0), ("latest", 1), ("all", 10)])
def test_missed_occurrences_follow_the_catch_up_policy(alice_client, make_workflow, policy, runs):
    workflow = make_workflow()
    created = _schedule(alice_client, workflow.pk, cron="*/5 * * * *", catchUp=policy).json()
    now = timezone.now()
    # Down for two hours: 24 occurrences fell while nothing ran (FLOWMAESTRO_SCHEDULE_CATCH_UP_MAX=10).
    Schedule.objects.filter(pk=created["id"]).update(next_run_at=now - timedelta(hours=2))
    assert schedules_run_due(now) == runs
    assert Execution.objects.filter(workflow=workflow).count() == runs
    schedule = Schedule.objects.get(pk=created["id"])
    assert schedule.next_run_at is not None and schedule.next_run_at > now


def test_engine_process_starts_due_schedules_on_its_own(alice_client, make_workflow, wait_for_execution):
    """The housekeeping thread of a real engine process picks the occurrence up."""
    from engine.runtime import start_engine

    workflow = make_workflow()
    created = _schedule(alice_client, workflow.pk, cron="0 0 1 1 *", input={"who": "housekeeper"}).json()
    Schedule.objects.filter(pk=created["id"]).update(next_run_at=timezone.now() - timedelta(seconds=1))
    start_engine()
    deadline = timezone.now() + timedelta(seconds=15)
    while timezone.now() < deadline and not Execution.objects.filter(workflow=workflow).exists():
        threading.Event().wait(0.05)
    execution = Execution.objects.get(workflow=workflow)
    assert wait_for_execution(alice_client, execution.pk)["output"] == {"Done": "housekeeper"}
    assert Schedule.objects.get(pk=created["id"]).last_execution_id == execution.pk


def test_a_disabled_schedule_never_runs_and_admin_lists_triggers(alice_client, make_workflow, client):
    from django.contrib.auth import get_user_model

    workflow = make_workflow()
    created = _schedule(alice_client, workflow.pk, cron="* * * * *", enabled=False).json()
    assert created["nextRunAt"] is None
    assert schedules_run_due(timezone.now() + timedelta(days=1)) == 0
    create_webhook(alice_client, workflow.pk, name="deploy hook")
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    assert client.get("/admin/editor/schedule/").status_code == 200
    page = client.get("/admin/editor/webhook/")
    assert page.status_code == 200 and b"deploy hook" in page.content
    assert Webhook.objects.count() == 1


@pytest.mark.parametrize("kind", ["webhooks", "schedules"])
def test_a_workflow_at_its_20_triggers_answers_409_like_every_count_bound(alice_client, make_workflow, kind):
    """Past the bound the request is fine and what is stored is full: a 409, as for a user's
    workflows or a workflow's versions, not a 400 that says the request was wrong."""
    workflow = make_workflow()
    body = {"cron": "0 9 * * *"} if kind == "schedules" else {}
    url = f"/api/workflows/{workflow.pk}/{kind}"
    for _ in range(20):
        assert alice_client.post(url, body, format="json").status_code == 201
    response = alice_client.post(url, body, format="json")
    assert response.status_code == 409, response.content
    assert response.json() == {"detail": f"a workflow has at most 20 {kind}: delete one to add another"}
    assert len(alice_client.get(url).json()["results"]) == 20
    # Deleting one makes room again.
    first = alice_client.get(url).json()["results"][0]["id"]
    assert alice_client.delete(f"{url}/{first}").status_code == 204
    assert alice_client.post(url, body, format="json").status_code == 201


@pytest.mark.parametrize(("cron", "problem"), [
    ("1-0 * * * *", "minute range '1-0' starts after it ends (1 > 0)"),
    ("0 17-9 * * *", "hour range '17-9' starts after it ends (17 > 9)"),
    ("0 9 * mar-jan *", "month range 'mar-jan' starts after it ends (3 > 1)"),
    ("0 9 * * fri-mon", "day-of-week range 'fri-mon' starts after it ends (5 > 1)"),
    ("5-5 * * * *", "minute range '5-5' starts and ends at 5; write 5"),
    ("*/61 * * * *", "minute step '*/61' is longer than its range 0-59, so it only ever matches 0"),
    ("0 0-10/20 * * *", "hour step '0-10/20' is longer than its range 0-10"),
    ("0 9 */31 * *", "day-of-month step '*/31' is longer than its range 1-31"),
    ("0,70 * * * *", "minute 70 is out of range: allowed 0 to 59"),
])
def test_a_cron_range_or_step_croniter_would_misread_is_a_400_naming_it(alice_client, make_workflow, cron, problem):
    """croniter reads `1-0` as a range that wraps around, `5-5` as every minute and `*/61`
    as one value: each is refused with the field it is in, on create and on change, so
    a schedule never runs at times its author did not write."""
    workflow = make_workflow()
    response = _schedule(alice_client, workflow.pk, cron=cron)
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert detail.startswith(f"cron expression {cron!r} is not valid: ") and problem in detail, detail
    ok = _schedule(alice_client, workflow.pk, cron="0 9 * * 1-5").json()
    changed = alice_client.patch(f"/api/workflows/{workflow.pk}/schedules/{ok['id']}", {"cron": cron}, format="json")
    assert changed.status_code == 400 and problem in changed.json()["detail"], changed.content
    assert Schedule.objects.get().cron == "0 9 * * 1-5"


@pytest.mark.parametrize("cron", ["0 9 * * sat-sun", "0 9 * * 6-0", "0 9 * * 0-7", "5/15 * * * *", "*/59 * * * *",
                                  "0 9 1 jan-mar *", "0 9 L * *", "0 9 * * 5#3", "0-30/10 9-17 * * mon-fri"])
def test_cron_ranges_and_steps_that_mean_what_they_say_are_kept(alice_client, make_workflow, cron):
    response = _schedule(alice_client, make_workflow().pk, cron=cron)
    assert response.status_code == 201, response.content


def test_the_admin_schedule_form_refuses_a_backwards_cron_range(admin_client, make_workflow):
    workflow = make_workflow()
    page = admin_client.post("/admin/editor/schedule/add/", {
        "workflow": workflow.pk, "name": "", "cron": "1-0 * * * *", "timezone": "UTC", "input": "{}",
        "enabled": "on", "catch_up": "latest"})
    assert page.status_code == 200  # the form again, with the reason
    assert "minute range &#x27;1-0&#x27; starts after it ends" in page.content.decode()
    assert not Schedule.objects.exists()


def test_the_admin_cannot_turn_a_token_webhook_into_an_hmac_one_without_a_secret(
        alice_client, admin_client, make_workflow):
    """Before: switching `auth` to hmac in the admin kept the token webhook's empty secret,
    and an HMAC keyed with "" is one anybody can compute: the call below started a run."""
    hook = create_webhook(alice_client, make_workflow().pk)
    webhook = Webhook.objects.get(pk=hook["id"])
    page = admin_client.post(f"/admin/editor/webhook/{webhook.pk}/change/", {
        "workflow": webhook.workflow_id, "name": "", "auth": "hmac", "enabled": "on"})
    assert page.status_code == 302, page.content.decode()[-2000:]
    webhook.refresh_from_db()
    assert webhook.auth == "token"  # read-only once made
    # And a webhook that is hmac with no secret (one saved so before) signs nothing.
    Webhook.objects.filter(pk=webhook.pk).update(auth="hmac", require_timestamp=True)
    raw = json.dumps({"who": "anyone"}).encode()
    stamp = str(int(time.time()))
    forged = _post(hook["url"], raw, HTTP_X_FLOWMAESTRO_TIMESTAMP=stamp,
                   HTTP_X_FLOWMAESTRO_SIGNATURE=webhook_signature("", raw, stamp))
    assert forged.status_code == 403 and "no secret" in forged.json()["detail"]
    assert not Execution.objects.exists()


def test_the_admin_refuses_a_signed_timestamp_on_a_token_webhook(admin_client, make_workflow):
    workflow = make_workflow()
    page = admin_client.post("/admin/editor/webhook/add/", {
        "workflow": workflow.pk, "name": "", "auth": "token", "require_timestamp": "on", "enabled": "on"})
    assert page.status_code == 200  # the form again, with the reason
    assert "only an hmac webhook signs a timestamp" in page.content.decode()
    assert not Webhook.objects.exists()
