"""The addresses a cancel handler e-mails (`signalHandlers.*.notify`) are bounded.

Before: the list had no bound, so anyone with an account could save a workflow whose
cancel handler named thousands of addresses (a 2.5 MB body holds ~200,000) and, by
running and cancelling it, have the server mail all of them a text of their choosing (the
cancel's reason), from the server's own address; and the 400 for a list or a name past a
bound echoed the whole value back."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from engine.core import rules
from tests.engine.runs import START, definition, wait_for, wait_status

pytestmark = pytest.mark.django_db(transaction=True)


def cancel_notifying(addresses: list[str]) -> dict[str, Any]:
    """start → a long delay; a cancel e-mails `addresses`."""
    return definition(
        [START, {"id": "wait", "type": "delay", "config": {"duration": 60_000}}], [("start", "wait")],
        signalHandlers={"cancel": {"action": "cancel", "notify": addresses}},
    )


def addresses(count: int) -> list[str]:
    return [f"person{i}@example.com" for i in range(count)]


def test_more_addresses_than_the_bound_is_a_400_that_says_how_many(alice_client):
    too_many = addresses(rules.MAX_NOTIFY_ADDRESSES + 1)
    response = alice_client.post("/api/workflows", {"name": "Spam", "definition": cancel_notifying(too_many)},
                                 format="json")
    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    assert error["message"] == (f"settings.signalHandlers.cancel.notify: has {rules.MAX_NOTIFY_ADDRESSES + 1} items; "
                                f"at most {rules.MAX_NOTIFY_ADDRESSES} are allowed")


def test_a_huge_list_is_refused_without_being_echoed(alice_client):
    response = alice_client.post("/api/workflows", {"name": "Spam", "definition": cancel_notifying(addresses(50_000))},
                                 format="json")
    assert response.status_code == 400
    assert len(response.content) < 2_000
    assert "has 50000 items" in response.content.decode()


def test_a_long_branch_name_is_refused_without_being_echoed(alice_client):
    d = definition([START, {"id": "x", "type": "log", "config": {"message": "x"}},
                    {"id": "y", "type": "log", "config": {"message": "y"}}], [("start", "x"), ("start", "y")])
    d["edges"][0]["branch"] = {"name": "b" * 100_000}
    response = alice_client.post("/api/workflows", {"name": "Long", "definition": d}, format="json")
    assert response.status_code == 400
    assert len(response.content) < 2_000
    [error] = response.json()["errors"]
    assert error["edgeId"] == d["edges"][0]["id"]
    assert error["message"] == "branch.name: is 100000 characters long; at most 200 are allowed"


def test_a_cancel_mails_the_addresses_at_the_bound(alice_client):
    allowed = addresses(rules.MAX_NOTIFY_ADDRESSES)
    created = alice_client.post("/api/workflows", {"name": "Notify", "definition": cancel_notifying(allowed)},
                                format="json")
    assert created.status_code == 201, created.content
    started = alice_client.post(f"/api/workflows/{created.json()['id']}/run", {"input": {}}, format="json")
    execution_id = started.json()["id"]
    wait_status(execution_id, {"running"})
    cancelled = alice_client.post(f"/api/executions/{execution_id}/signal", {"type": "cancel", "reason": "done"},
                                  format="json")
    assert cancelled.status_code == 202, cancelled.content
    wait_for(lambda: len(mail.outbox) == len(allowed), 10, "the cancel mails")
    # One message per address: no recipient sees the others' addresses.
    assert sorted(message.to[0] for message in mail.outbox) == sorted(allowed)
    assert all(len(message.to) == 1 and not message.cc and not message.bcc for message in mail.outbox)
