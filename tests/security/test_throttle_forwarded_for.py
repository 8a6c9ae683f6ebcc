"""The anonymous throttle counts the address the connection came from, not one the client
writes in a header.

Found by the attacker pass of 2026-11-30: DRF keys its anonymous throttle on the whole
`X-Forwarded-For` header whenever `NUM_PROXIES` is unset, so a caller of a webhook (the
one API view open without a login) sent a new made-up `X-Forwarded-For` with each request
and was never slowed down: 6 calls at an anonymous rate of 3/minute all started runs, and
token guesses went as fast as the server answered. Behind a reverse proxy, daphne's
`--proxy-headers` puts the client's address in REMOTE_ADDR, which is the one thing counted
now. (Calls with a real token are counted per webhook owner since:
test_webhook_throttle_per_owner.py; a token that names no webhook is counted by address.)"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from editor import triggers
from editor.services import workflow_create
from engine.models import Execution
from tests.conftest import SIMPLE_DEFINITION
from tests.daphne import running_daphne

pytestmark = pytest.mark.django_db(transaction=True)

RATE = 3


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    with running_daphne(env={"FLOWMAESTRO_THROTTLE_ANON": f"{RATE}/minute", "FLOWMAESTRO_THROTTLE_USER": "off"}) as host:
        yield host


def test_a_made_up_forwarded_for_does_not_reset_the_anonymous_count(server: str, alice) -> None:
    workflow = workflow_create(owner=alice, name="Hooked", description="", definition=SIMPLE_DEFINITION)
    hook = triggers.webhook_create(workflow=workflow)
    with httpx.Client(timeout=10, base_url=f"http://{server}") as client:
        guesses = [client.post(f"/hooks/guess-{i}", json={}, headers={"X-Forwarded-For": f"198.51.100.{i + 1}"})
                   .status_code for i in range(RATE + 3)]
        assert guesses == [404] * RATE + [429] * 3
        refused = client.post("/hooks/guess-x", json={}, headers={"X-Forwarded-For": "203.0.113.250, 10.0.0.1"})
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/json"
        assert int(refused.headers["retry-after"]) >= 1
        # A real webhook's calls are counted for its owner: a new header each time escapes nothing.
        calls = [client.post(f"/hooks/{hook.token}", json={"n": i}, headers={"X-Forwarded-For": f"192.0.2.{i + 1}"})
                 .status_code for i in range(RATE + 1)]
        assert calls == [202] * RATE + [429]
    # Only the calls let through started runs.
    assert Execution.objects.filter(workflow=workflow).count() == RATE


def test_behind_a_proxy_the_address_daphne_reads_from_the_header_is_counted(transactional_db: None) -> None:
    """`daphne --proxy-headers` (README, "Behind a reverse proxy") makes the proxy's
    X-Forwarded-For the client address: clients behind it are told apart by that."""
    with running_daphne("--proxy-headers", env={"FLOWMAESTRO_THROTTLE_ANON": f"{RATE}/minute",
                                                "FLOWMAESTRO_THROTTLE_USER": "off"}) as host, \
            httpx.Client(timeout=10, base_url=f"http://{host}") as client:
        first = [client.post("/hooks/guess", json={}, headers={"X-Forwarded-For": "198.51.100.7"}).status_code
                 for _ in range(RATE + 1)]
        assert first == [404] * RATE + [429]
        # Another client behind the same proxy has a count of its own.
        assert client.post("/hooks/guess", json={}, headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 404
