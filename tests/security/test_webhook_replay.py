"""A captured call of an HMAC webhook cannot start runs again.

Before, an `hmac` webhook's signature covered the raw body only: anyone who saw one signed
request (a proxy's log, a leaked request dump) could send it again, any number of times,
forever, and each copy started a run. Now the sender signs `<X-FlowMaestro-Timestamp>.<raw
body>`: a timestamp more than FLOWMAESTRO_WEBHOOK_TOLERANCE seconds from the server's clock
is refused, and each signed call is accepted once, across server processes. Webhooks made
before keep accepting their senders' body-only signatures (the migration turns
`requireTimestamp` off for them)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from editor import triggers
from editor.models import Webhook
from editor.services import workflow_create
from engine.housekeeping import default_jobs
from engine.models import Execution
from tests.conftest import SIMPLE_DEFINITION, create_webhook
from tests.daphne import running_daphne

pytestmark = pytest.mark.django_db(transaction=True)

RAW = json.dumps({"who": "signed"}).encode()


def webhook_signature(secret: str, raw: bytes, timestamp: str | int | None = None) -> str:
    """What a sender computes, written here from the README rather than taken from the server."""
    signed = raw if timestamp is None else f"{timestamp}.".encode() + raw
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _post(url: str, raw: bytes, timestamp: str | int | None = None, signature: str | None = None) -> Any:
    headers: dict[str, str] = {}
    if timestamp is not None:
        headers["HTTP_X_FLOWMAESTRO_TIMESTAMP"] = str(timestamp)
    if signature is not None:
        headers["HTTP_X_FLOWMAESTRO_SIGNATURE"] = signature
    return APIClient().generic("POST", url.replace("http://testserver", ""), raw,
                               content_type="application/json", **headers)


def _signed(hook: dict[str, Any], raw: bytes, timestamp: int) -> Any:
    return _post(hook["url"], raw, timestamp, webhook_signature(hook["hmacSecret"], raw, timestamp))


def _refused(response: Any, *says: str) -> None:
    assert response.status_code == 403, response.content
    detail = response.json()["detail"]
    for text in says:
        assert text in detail, detail


def test_a_new_hmac_webhook_says_how_to_sign(alice_client, make_workflow):
    hook = create_webhook(alice_client, make_workflow().pk, auth="hmac")
    assert hook["requireTimestamp"] is True
    assert hook["signatureHeader"] == "X-FlowMaestro-Signature"
    assert hook["timestampHeader"] == "X-FlowMaestro-Timestamp"
    assert hook["signedPayload"] == "<X-FlowMaestro-Timestamp>.<raw body>"
    assert hook["toleranceSeconds"] == 300
    token_hook = create_webhook(alice_client, make_workflow(name="other").pk)
    assert token_hook["requireTimestamp"] is False and token_hook["signedPayload"] is None


def test_a_timestamped_call_starts_one_run_and_its_replay_is_refused(alice_client, make_workflow):
    hook = create_webhook(alice_client, make_workflow().pk, auth="hmac")
    now = int(time.time())
    first = _signed(hook, RAW, now)
    assert first.status_code == 202, first.content
    # The same request again (a replay), with the signature in capitals too: refused.
    _refused(_signed(hook, RAW, now), "already accepted")
    upper = webhook_signature(hook["hmacSecret"], RAW, now).upper()
    _refused(_post(hook["url"], RAW, now, upper), "already accepted")
    # The sender's next call, signed when it is sent, goes through.
    assert _signed(hook, RAW, now + 1).status_code == 202
    assert Execution.objects.count() == 2
    assert Execution.objects.order_by("pk").first().input == {"who": "signed"}  # type: ignore[union-attr]


def test_a_timestamp_outside_the_tolerance_is_refused(alice_client, make_workflow):
    hook = create_webhook(alice_client, make_workflow().pk, auth="hmac")
    now = int(time.time())
    _refused(_signed(hook, RAW, now - 400), "X-FlowMaestro-Timestamp is ", " s old by the server's clock", "at most 300 s")
    _refused(_signed(hook, RAW, now + 400), "X-FlowMaestro-Timestamp is ", " s in the future")
    assert Execution.objects.count() == 0
    # Inside the window either way: a sender's clock a little off is fine.
    assert _signed(hook, RAW, now - 250).status_code == 202
    assert _signed(hook, RAW, now + 250).status_code == 202


def test_a_timestamp_that_is_not_whole_seconds_or_is_missing_is_refused(alice_client, make_workflow):
    hook = create_webhook(alice_client, make_workflow().pk, auth="hmac")
    now = int(time.time())
    for text in (f"{now}.5", f"+{now}", "1.7e9", "yesterday", "\u0661\u0667", f"{now}000000"):
        signature = webhook_signature(hook["hmacSecret"], RAW, text) if text.isascii() else "sha256=" + "0" * 64
        _refused(_post(hook["url"], RAW, text, signature), "X-FlowMaestro-Timestamp must be the Unix time")
    # A body-only signature (the old scheme) without the timestamp: the header is named.
    _refused(_post(hook["url"], RAW, None, webhook_signature(hook["hmacSecret"], RAW)),
             "missing X-FlowMaestro-Timestamp header")
    # A fresh timestamp, but the signature of the body alone or of another timestamp.
    for wrong in (webhook_signature(hook["hmacSecret"], RAW), webhook_signature(hook["hmacSecret"], RAW, now - 1)):
        _refused(_post(hook["url"], RAW, now, wrong), "wrong X-FlowMaestro-Signature",
                 "<X-FlowMaestro-Timestamp>.<raw body>")
    assert Execution.objects.count() == 0


def test_existing_hmac_webhooks_keep_body_signatures_after_the_migration(alice, transactional_db):
    executor = MigrationExecutor(connection)
    before, after = [("editor", "0004_definition_carries_workflow_name")], [("editor", "0005_webhook_replay_protection")]
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    old_workflow = old_apps.get_model("editor", "Workflow").objects.create(owner_id=alice.pk, name="old",
                                                                           definition=SIMPLE_DEFINITION, version=0)
    old_apps.get_model("editor", "Webhook").objects.create(workflow=old_workflow, token="t" * 43, auth="hmac",
                                                           hmac_secret="s" * 64)
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    legacy = Webhook.objects.get(token="t" * 43)
    assert legacy.require_timestamp is False
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    # Its sender goes on signing the body alone, and is accepted (such a signature has no
    # time in it, so a replay of it cannot be told apart: the README says so).
    workflow = workflow_create(owner=alice, name="Signed", description="", definition=SIMPLE_DEFINITION)
    Webhook.objects.filter(pk=legacy.pk).update(workflow=workflow)
    url = f"/hooks/{legacy.token}"
    hook = {"url": url, "hmacSecret": legacy.hmac_secret}
    assert _post(url, RAW, None, webhook_signature(legacy.hmac_secret, RAW)).status_code == 202
    _refused(_post(url, RAW, None, "sha256=" + "0" * 64), "wrong X-FlowMaestro-Signature")
    # A sender moving over sends the timestamp: then it is checked, and replays are refused.
    now = int(time.time())
    assert _signed(hook, RAW, now).status_code == 202
    _refused(_signed(hook, RAW, now), "already accepted")
    _refused(_signed(hook, RAW, now - 400), "s old")
    assert Execution.objects.count() == 2


def test_require_timestamp_can_be_turned_off_and_on_and_only_for_hmac(alice_client, make_workflow):
    workflow = make_workflow()
    base = f"/api/workflows/{workflow.pk}/webhooks"
    hook = create_webhook(alice_client, workflow.pk, auth="hmac", requireTimestamp=False)
    assert hook["requireTimestamp"] is False
    assert hook["signedPayload"] == ("<raw body>, or <X-FlowMaestro-Timestamp>.<raw body> when "
                                     "X-FlowMaestro-Timestamp is sent")
    assert _post(hook["url"], RAW, None, webhook_signature(hook["hmacSecret"], RAW)).status_code == 202
    on = alice_client.patch(f"{base}/{hook['id']}", {"requireTimestamp": True}, format="json")
    assert on.status_code == 200 and on.json()["requireTimestamp"] is True
    _refused(_post(hook["url"], RAW, None, webhook_signature(hook["hmacSecret"], RAW)), "X-FlowMaestro-Timestamp")
    listed = alice_client.get(base).json()["results"]
    assert listed[0]["requireTimestamp"] is True
    # A token webhook signs nothing: asking it to require a timestamp is a 400.
    made = alice_client.post(base, {"requireTimestamp": True}, format="json")
    assert made.status_code == 400 and "hmac webhooks only" in made.json()["detail"]
    token_hook = create_webhook(alice_client, workflow.pk, requireTimestamp=False)
    patched = alice_client.patch(f"{base}/{token_hook['id']}", {"requireTimestamp": True}, format="json")
    assert patched.status_code == 400 and "hmac webhooks only" in patched.json()["detail"]
    assert Webhook.objects.get(pk=token_hook["id"]).require_timestamp is False


def test_remembered_signatures_expire_with_the_window(alice_client, make_workflow):
    from editor.models import WebhookSignatureSeen
    from editor.webhook_signing import prune_expired

    hook = create_webhook(alice_client, make_workflow().pk, auth="hmac")
    now = int(time.time())
    assert _signed(hook, RAW, now).status_code == 202
    assert WebhookSignatureSeen.objects.count() == 1
    assert prune_expired() == 0  # still inside the window: kept, the replay is refused
    _refused(_signed(hook, RAW, now), "already accepted")
    # Past the window (and a minute's margin) it goes; its timestamp alone is refused then.
    assert prune_expired(timezone.now() + timedelta(seconds=300 + 61)) == 1
    assert not WebhookSignatureSeen.objects.exists()
    assert "webhook-signatures" in {job.name for job in default_jobs()}


@pytest.fixture
def two_servers(transactional_db: None) -> Iterator[tuple[str, str]]:
    env = {"FLOWMAESTRO_THROTTLE_ANON": "off", "FLOWMAESTRO_THROTTLE_USER": "off"}
    with running_daphne(env=env) as first, running_daphne(env=env) as second:
        yield first, second


def _send_at_once(hosts: tuple[str, str], path: str, raw: bytes, headers: dict[str, str]) -> list[int]:
    """The same request to each host, released together; the statuses in answer order."""
    statuses: list[int] = []
    start = threading.Barrier(len(hosts))

    def send(host: str) -> None:
        with httpx.Client(timeout=30) as client:
            start.wait()
            statuses.append(client.post(f"http://{host}{path}", content=raw, headers=headers).status_code)

    threads = [threading.Thread(target=send, args=(host,)) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_the_same_call_sent_to_two_server_processes_at_once_starts_one_run(two_servers, alice):
    workflow = workflow_create(owner=alice, name="Signed", description="", definition=SIMPLE_DEFINITION)
    hook = triggers.webhook_create(workflow=workflow, auth="hmac")
    rounds = 5
    for n in range(rounds):
        raw = json.dumps({"round": n}).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-FlowMaestro-Timestamp": timestamp,
                   "X-FlowMaestro-Signature": webhook_signature(hook.hmac_secret, raw, timestamp)}
        statuses = _send_at_once(two_servers, f"/hooks/{hook.token}", raw, headers)
        assert sorted(statuses) == [202, 403], (n, statuses)
    assert Execution.objects.filter(workflow=workflow).count() == rounds
    assert sorted(e.input["round"] for e in Execution.objects.filter(workflow=workflow)) == list(range(rounds))
