"""One user's webhook traffic cannot use up another user's webhook calls.

Found by the attacker pass of 2026-11-30: every `POST /hooks/{token}` was counted in the
anonymous budget of the caller's address. Webhook senders share addresses (a SaaS's
delivery range, one proxy, one NAT), so bob calling his own webhook as fast as allowed, or
sending made-up tokens, left alice's webhook answering 429 to her sender, and her runs
were never started. Now a call with a webhook's token is counted for that webhook's
owner (at the anonymous rate): bob's calls slow bob's webhooks only. A token that names
no webhook is still counted by address, so guessing tokens stays slow."""

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


def test_bobs_webhook_calls_do_not_throttle_alices(server: str, alice, bob) -> None:
    hers = workflow_create(owner=alice, name="Hers", description="", definition=SIMPLE_DEFINITION)
    his = workflow_create(owner=bob, name="His", description="", definition=SIMPLE_DEFINITION)
    her_hook = triggers.webhook_create(workflow=hers)
    his_hooks = [triggers.webhook_create(workflow=his) for _ in range(2)]
    with httpx.Client(timeout=10, base_url=f"http://{server}") as client:
        # Bob, from the same address: his budget, across all his webhooks, runs out.
        statuses = [client.post(f"/hooks/{his_hooks[i % 2].token}", json={}).status_code for i in range(RATE + 1)]
        assert statuses == [202] * RATE + [429]
        # Alice's sender at that address still starts her runs, up to her own budget.
        assert [client.post(f"/hooks/{her_hook.token}", json={}).status_code for _ in range(RATE)] == [202] * RATE
        assert client.post(f"/hooks/{her_hook.token}", json={}).status_code == 429
        # Made-up tokens are counted by address: guessing stays slow, and costs no one else.
        guesses = [client.post(f"/hooks/made-up-token-{i}", json={}).status_code for i in range(RATE + 1)]
        assert guesses == [404] * RATE + [429]
    assert Execution.objects.filter(workflow=hers).count() == RATE
    assert Execution.objects.filter(workflow=his).count() == RATE
