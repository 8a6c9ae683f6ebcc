"""What an attacker or a careless user did to webhooks, schedules and redrive (probed on a
live server) — each answer is now a clear 4xx, never a 500, and nothing else is held up."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from editor.models import Webhook, WorkflowVersion
from editor.triggers import webhook_signature
from engine import services
from engine.models import Execution, NodeRun
from tests.conftest import SIMPLE_DEFINITION, create_webhook
from tests.engine.runs import START, definition, run, wait_finished
from tests.threads import db_thread

pytestmark = pytest.mark.django_db(transaction=True)

SURROGATE = b'{"who": "\\ud800"}'


def _post(url: str, raw: bytes, **headers: str) -> Any:
    return APIClient().generic("POST", url.replace("http://testserver", ""), raw,
                               content_type="application/json", **headers)


def _slow(ms: int) -> dict[str, Any]:
    d = copy.deepcopy(SIMPLE_DEFINITION)
    d["nodes"].insert(1, {"id": "wait", "type": "delay", "name": "Wait", "position": {"x": 0, "y": 0},
                          "config": {"duration": ms}})
    d["edges"] = [{"id": "e0", "source": "start", "target": "wait"}, {"id": "e1", "source": "wait", "target": "greet"},
                  {"id": "e2", "source": "greet", "target": "done"}]
    return d


def test_lone_surrogates_are_refused_at_every_door(alice_client, make_workflow):
    workflow = make_workflow()
    hook = create_webhook(alice_client, workflow.pk)
    answer = _post(hook["url"], SURROGATE)
    assert answer.status_code == 400 and "surrogate" in answer.json()["detail"]
    run_answer = alice_client.generic("POST", f"/api/workflows/{workflow.pk}/run", b'{"input": {"a": "\\udc00"}}',
                                      content_type="application/json")
    assert run_answer.status_code == 400
    schedule = alice_client.generic("POST", f"/api/workflows/{workflow.pk}/schedules",
                                    b'{"cron": "0 9 * * *", "enabled": false, "input": "\\ud800"}',
                                    content_type="application/json")
    assert schedule.status_code == 400
    assert alice_client.get(f"/api/workflows/{workflow.pk}/schedules").status_code == 200
    assert Execution.objects.count() == 0


def test_a_node_output_with_a_lone_surrogate_fails_that_node_run_and_lists_keep_working(alice, alice_client):
    d = definition([START, {"id": "t", "type": "transform",
                            "config": {"operation": "custom", "expression": "return '\\ud800'"}}], [("start", "t")])
    ex = run(alice, d)
    assert ex.status == "failed"
    assert "surrogate" in str(NodeRun.objects.get(execution=ex, node_id="t").error)
    assert alice_client.get("/api/executions").status_code == 200
    assert alice_client.get(f"/api/executions/{ex.pk}").status_code == 200


def test_hmac_signature_with_non_ascii_is_a_wrong_signature(alice_client, make_workflow):
    hook = create_webhook(alice_client, make_workflow().pk, auth="hmac", requireTimestamp=False)
    raw = b'{"x": 1}'
    assert _post(hook["url"], raw, HTTP_X_FLOWMAESTRO_SIGNATURE="\u00e9").status_code == 403
    assert _post(hook["url"], raw, HTTP_X_FLOWMAESTRO_SIGNATURE=webhook_signature(hook["hmacSecret"], raw)).status_code == 202


def test_hmac_signature_hex_in_capitals_is_accepted_and_any_other_form_is_not(alice_client, make_workflow):
    # Probed: a signature in upper-case hex (what .NET's Convert.ToHexString writes) was a 403,
    # although it is the same signature. Hex is read either way; everything else still fails.
    # A body-only (legacy) webhook, which may take the same signature twice; the timestamped
    # scheme reads hex the same way (tests/security/test_webhook_replay.py).
    hook = create_webhook(alice_client, make_workflow().pk, auth="hmac", requireTimestamp=False)
    raw = b'{"x": 1}'
    good = webhook_signature(hook["hmacSecret"], raw)
    assert _post(hook["url"], raw, HTTP_X_FLOWMAESTRO_SIGNATURE=good.upper()).status_code == 202
    assert _post(hook["url"], raw, HTTP_X_FLOWMAESTRO_SIGNATURE="sha256=" + good[7:].upper()).status_code == 202
    for wrong in (good[7:], "sha1=" + good[7:], good[:-1], good + good[-1], f"{good},{good}", "sha256=" + "0" * 64):
        assert _post(hook["url"], raw, HTTP_X_FLOWMAESTRO_SIGNATURE=wrong).status_code == 403, wrong


def test_auth_of_a_webhook_cannot_be_switched_silently(alice_client, make_workflow):
    workflow = make_workflow()
    hook = create_webhook(alice_client, workflow.pk)
    answer = alice_client.patch(f"/api/workflows/{workflow.pk}/webhooks/{hook['id']}", {"auth": "hmac"}, format="json")
    assert answer.status_code == 400 and "new webhook" in answer.json()["detail"]
    assert Webhook.objects.get(pk=hook["id"]).auth == "token"


def test_wait_is_seconds_and_nonsense_is_refused(alice_client, make_workflow):
    hook = create_webhook(alice_client, make_workflow(definition=_slow(3000)).pk)
    assert _post(hook["url"] + "?wait=abc", b"{}").status_code == 400
    assert Execution.objects.count() == 0
    t0 = time.monotonic()
    answer = _post(hook["url"] + "?wait=1", b"{}")
    took = time.monotonic() - t0
    assert answer.status_code == 202 and answer.json()["status"] in ("queued", "running")
    assert 0.8 < took < 2.9  # one second, not the 30 s cap and not the run's 3 s


def test_waiting_callers_are_capped_so_they_cannot_take_every_thread(alice_client, make_workflow, settings):
    hook = create_webhook(alice_client, make_workflow(definition=_slow(1500)).pk)
    answers: list[Any] = []

    def call() -> None:
        answers.append(_post(hook["url"] + "?wait=10", b"{}"))

    threads = [db_thread(call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    codes = sorted(a.status_code for a in answers)
    # Two (FLOWMAESTRO_WEBHOOK_MAX_WAITERS) waited for the result; the others were answered at once.
    assert codes == [200, 200, 202, 202], [a.content for a in answers]
    assert all(a.json().get("waited") is False for a in answers if a.status_code == 202)


def test_concurrent_calls_are_all_counted(alice_client, make_workflow):
    hook = create_webhook(alice_client, make_workflow().pk)
    codes: list[int] = []
    threads = [db_thread(lambda: codes.append(_post(hook["url"], b"{}").status_code)) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert codes.count(202) == Webhook.objects.get(pk=hook["id"]).calls, codes
    assert codes.count(202) >= 1 and set(codes) <= {202, 429, 503}, codes


def _loop_then_out() -> dict[str, Any]:
    return definition([START, {"id": "loop", "type": "loop", "config": {"arrayPath": "{{input.items}}"}},
                       {"id": "body", "type": "fail", "parentId": "loop", "config": {"message": "no"}},
                       {"id": "out", "type": "output", "config": {"value": "{{input}}"}}],
                      [("start", "loop"), ("loop", "out")])


def test_redrive_on_a_version_without_the_failed_node_runs_what_never_ran(alice):
    ex = run(alice, _loop_then_out(), {"items": [1]})
    assert ex.status == "failed"
    v2 = definition([START, {"id": "out", "type": "output", "config": {"value": "{{input}}"}}], [("start", "out")])
    wf = ex.workflow
    wf.version, wf.definition = 2, v2
    wf.save()
    WorkflowVersion.objects.create(workflow=wf, number=2, definition=v2)
    services.execution_redrive(execution=ex, user=alice, version="latest")
    from engine.runtime import start_engine

    start_engine().submit(ex.pk)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and Execution.objects.get(pk=ex.pk).status in ("queued", "running"):
        time.sleep(0.05)
    done = wait_finished(ex.pk)
    assert done.status == "succeeded" and done.output == {"out": {"items": [1]}}
    assert NodeRun.objects.filter(execution=ex, node_id="out").order_by("-seq").first().status == "succeeded"


def test_redrive_obeys_the_queue_and_refuses_items_that_do_not_exist(alice, alice_client):
    d = _loop_then_out()
    d["settings"]["queue"] = {"maxSize": 1}
    ex = run(alice, d, {"items": [1, 2]})
    assert ex.status == "failed"
    url = f"/api/executions/{ex.pk}/redrive"
    missing = alice_client.post(url, {"items": {"loop": [5]}}, format="json")
    assert missing.status_code == 400 and "no item 5" in missing.json()["detail"]
    huge = alice_client.post(url, {"items": {"loop": [10**30]}}, format="json")
    assert huge.status_code == 400
    from engine import runtime

    runtime.stop_engine(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("engine.services._wake_engine", lambda *a, **k: None)
        services.execution_start(workflow=ex.workflow, user=alice, input={"items": []})  # fills the queue
        full = alice_client.post(url, {}, format="json")
    assert full.status_code == 429 and "queue full" in full.json()["detail"]


@pytest.mark.parametrize("value", ["just a string", [1, 2], 7, True])
def test_a_schedules_input_is_an_object_like_a_runs(alice_client, make_workflow, value):
    # Probed: a schedule took any JSON as its input ("just a string", a list), stored it and
    # started every occurrence with an input that `POST …/run` itself refuses.
    workflow = make_workflow()
    url = f"/api/workflows/{workflow.pk}/schedules"
    created = alice_client.post(url, {"cron": "0 9 * * *", "input": value}, format="json")
    assert created.status_code == 400, created.content
    assert "input" in created.json()["errors"]
    ok = alice_client.post(url, {"cron": "0 9 * * *", "input": {"who": "cron"}}, format="json")
    assert ok.status_code == 201
    patched = alice_client.patch(f"{url}/{ok.json()['id']}", {"input": value}, format="json")
    assert patched.status_code == 400
    assert alice_client.get(url).json()["results"][0]["input"] == {"who": "cron"}
