"""Triggers in the editor (issue 17): a person creates a webhook and a schedule in the
workflow's settings, calls the webhook from outside with no login, and sees the runs arrive."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from editor.models import Schedule, Webhook
from engine.models import Execution
from tests.browser.helpers import api_post
from tests.conftest import SIMPLE_DEFINITION

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_a_webhook_and_a_schedule_in_the_editor_and_see_runs_arrive(logged_in_page: Any,
                                                                            live_server_url: str) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Triggered", "definition": SIMPLE_DEFINITION})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector("[data-testid=editor]")
    page.click("[data-testid=open-settings]")
    page.wait_for_selector("[data-testid=triggers-panel]")

    # A webhook: its URL is shown; a POST with no login starts a run with the body as input.
    page.click("[data-testid=add-webhook]")
    url = page.locator("[data-testid=webhook-url]").input_value()
    assert url.startswith(live_server_url + "/hooks/")
    answer = httpx.post(url + "?wait=20", content=json.dumps({"who": "outside"}),
                        headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["output"] == {"Done": "outside"}
    page.goto("/executions/")
    row = page.locator("[data-testid=executions-table] a", has_text=f"#{answer.json()['executionId']}")
    row.wait_for()

    # A schedule: a wrong cron is explained; a right one shows its next time.
    page.goto(f"/workflows/{workflow['id']}/")
    page.click("[data-testid=open-settings]")
    page.fill("[data-testid=schedule-cron]", "*/5 * * *")
    page.click("[data-testid=add-schedule]")
    assert "5 (minute hour" in page.locator("[data-testid=triggers-error]").inner_text()
    page.fill("[data-testid=schedule-cron]", "0 6 * * *")
    page.fill("[data-testid=schedule-zone]", "Asia/Tokyo")
    page.fill("[data-testid=schedule-input]", '{"who": "the clock"}')
    page.click("[data-testid=add-schedule]")
    page.wait_for_selector("[data-testid=schedule-item]")
    assert "Asia/Tokyo" in page.locator("[data-testid=schedule-item]").inner_text()
    schedule = Schedule.objects.get(workflow_id=workflow["id"])
    assert schedule.input == {"who": "the clock"}
    # Its time comes: the server's engine starts the run; the panel links to it.
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    deadline = timezone.now() + timedelta(seconds=20)
    while timezone.now() < deadline and not Execution.objects.filter(input={"who": "the clock"}).exists():
        page.wait_for_timeout(100)
    run = Execution.objects.get(input={"who": "the clock"})
    page.reload()
    page.click("[data-testid=open-settings]")
    link = page.locator("[data-testid=schedule-last-run]")
    link.wait_for()
    assert link.inner_text() == f"last run #{run.pk}"


def test_an_hmac_webhook_shows_how_to_sign_and_its_replay_protection_can_be_turned_off(
        logged_in_page: Any) -> None:
    """A person adds an hmac webhook, writes the sender from what the panel says (headers,
    what is signed, the secret), and sees a replayed call refused; unticking "Require a
    signed timestamp" lets a sender that signs the body alone in, as the panel warns."""
    from playwright.sync_api import expect

    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Signed", "definition": SIMPLE_DEFINITION})
    page.goto(f"/workflows/{workflow['id']}/")
    page.click("[data-testid=open-settings]")
    page.select_option("[data-testid=webhook-auth]", "hmac")
    page.click("[data-testid=add-webhook]")
    signing = page.locator("[data-testid=webhook-signing]")
    signing.wait_for()
    shown = signing.inner_text()
    assert "X-FlowMaestro-Timestamp: <Unix time in seconds>" in shown, shown
    assert "X-FlowMaestro-Signature: sha256=<hex HMAC-SHA256>" in shown, shown
    assert page.locator("[data-testid=webhook-signed-payload]").inner_text() == "<X-FlowMaestro-Timestamp>.<raw body>"
    expect(page.locator("[data-testid=webhook-require-timestamp]")).to_be_checked()
    assert "cannot start runs again" in shown

    url = page.locator("[data-testid=webhook-url]").input_value()
    secret = page.locator("[data-testid=webhook-secret]").inner_text().encode()
    body = json.dumps({"who": "signed sender"}).encode()
    stamp = str(int(time.time()))
    signature = "sha256=" + hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-FlowMaestro-Timestamp": stamp,
               "X-FlowMaestro-Signature": signature}
    assert httpx.post(url, content=body, headers=headers, timeout=30).status_code == 202
    replay = httpx.post(url, content=body, headers=headers, timeout=30)
    assert replay.status_code == 403 and "already accepted" in replay.json()["detail"]

    body_only = {"Content-Type": "application/json",
                 "X-FlowMaestro-Signature": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()}
    assert httpx.post(url, content=body, headers=body_only, timeout=30).status_code == 403
    # The box follows the stored setting: it clears once the server has it.
    page.click("[data-testid=webhook-require-timestamp]")
    expect(signing).to_contain_text("can replay it")
    expect(page.locator("[data-testid=webhook-require-timestamp]")).not_to_be_checked()
    expect(page.locator("[data-testid=webhook-signed-payload]")).to_contain_text("<raw body>, or")
    assert Webhook.objects.get(workflow_id=workflow["id"]).require_timestamp is False
    assert httpx.post(url, content=body, headers=body_only, timeout=30).status_code == 202
    assert Execution.objects.filter(workflow_id=workflow["id"]).count() == 2


def test_retention_is_set_in_the_editor(logged_in_page: Any) -> None:
    from editor.models import Workflow

    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Kept a week", "definition": SIMPLE_DEFINITION})
    from playwright.sync_api import expect

    # The stored values are held back: until they are in, nothing can be typed that their
    # late answer would overwrite (seen once in a full run: the field was emptied after
    # "7" was typed, and empty was saved).
    held: list[Any] = []
    page.route("**/retention", lambda route: held.append(route) if route.request.method == "GET" else route.continue_())
    page.goto(f"/workflows/{workflow['id']}/")
    page.click("[data-testid=open-settings]")
    for _ in range(750):  # up to 15 s for the panel's request
        if held:
            break
        page.wait_for_timeout(20)
    assert held, "the settings panel never asked for the stored retention"
    expect(page.locator("[data-testid=retention-days]")).to_be_disabled()
    expect(page.locator("[data-testid=retention-save]")).to_be_disabled()
    held[0].continue_()
    page.unroute("**/retention")
    page.fill("[data-testid=retention-days]", "7")
    page.fill("[data-testid=retention-keep-last]", "")
    page.click("[data-testid=retention-save]")
    page.wait_for_selector("[data-testid=retention-message]:has-text('saved')")
    stored = Workflow.objects.get(pk=workflow["id"])
    assert (stored.retention_days, stored.retention_keep_last) == (7, None)
    page.reload()
    page.click("[data-testid=open-settings]")
    expect(page.locator("[data-testid=retention-days]")).to_have_value("7")


def test_retention_typed_wrong_is_refused_not_saved_as_the_default(logged_in_page: Any) -> None:
    """A number field the browser cannot read ("1e") gives the page an empty value, which
    means "the server's default": it was saved like that, with "Retention saved."."""
    from editor.models import Workflow

    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Kept a while", "definition": SIMPLE_DEFINITION})
    Workflow.objects.filter(pk=workflow["id"]).update(retention_days=30)
    page.goto(f"/workflows/{workflow['id']}/")
    page.click("[data-testid=open-settings]")
    days = page.locator("[data-testid=retention-days]")
    days.wait_for()
    # A function, not a bare expression: Playwright polls a bare expression with `eval` in
    # the page, which the page's CSP (no 'unsafe-eval') refuses once the first check is false.
    page.wait_for_function("() => document.querySelector('[data-testid=retention-days]').value === '30'")
    days.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("1e")
    page.click("[data-testid=retention-save]")
    message = page.locator("[data-testid=retention-message]")
    message.wait_for()
    assert message.inner_text() == ("Keep for (days) is not a number: write a whole number, "
                                    "or leave it empty for the server's default.")
    assert Workflow.objects.get(pk=workflow["id"]).retention_days == 30
