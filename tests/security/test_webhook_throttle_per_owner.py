"""One user's webhook traffic cannot use up another user's webhook calls.

Found by the attacker pass of 2026-11-30: every `POST /hooks/{token}` was counted in the
anonymous budget of the caller's address. Webhook senders share addresses (a SaaS's
delivery range, one proxy, one NAT), so bob calling his own webhook as fast as allowed, or
sending made-up tokens, left alice's webhook answering 429 to her sender, and her runs
were never started. Now a call with a webhook's token is counted for that webhook's
owner: bob's calls slow bob's webhooks only. A token that names no webhook is still
counted by address, so guessing tokens stays slow.

And within one owner: counted only per owner, whoever had one leaked token (a URL in a
log, a screenshot) could spend the owner's whole webhook budget with it, and the owner's
other webhooks answered 429. Each webhook now has a budget of its own (the anonymous
rate) inside the owner's overall cap (FLOWMAESTRO_THROTTLE_HOOK_OWNER); a call its
webhook's budget refuses costs the owner nothing, so a leaked token's damage stays on
that one webhook."""

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

RATE = 3  # per webhook (and per address for tokens that name none)
OWNER_RATE = 5  # all of one owner's webhooks together


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    with running_daphne(env={"FLOWMAESTRO_THROTTLE_ANON": f"{RATE}/minute", "FLOWMAESTRO_THROTTLE_USER": "off",
                             "FLOWMAESTRO_THROTTLE_HOOK_OWNER": f"{OWNER_RATE}/minute"}) as host:
        # daphne accepts connections before its first answer has loaded the views: that
        # first answer took ~2 s on a loaded 2-core machine (0.02 s after), and in a full
        # run the first counted webhook call could run out of the calls' 10 s timeout. One
        # page that no throttle counts (the login form) warms it first, given longer.
        assert httpx.get(f"http://{host}/accounts/login/", timeout=60).status_code == 200
        yield host


def test_bobs_webhook_calls_do_not_throttle_alices(server: str, alice, bob) -> None:
    hers = workflow_create(owner=alice, name="Hers", description="", definition=SIMPLE_DEFINITION)
    his = workflow_create(owner=bob, name="His", description="", definition=SIMPLE_DEFINITION)
    her_hook = triggers.webhook_create(workflow=hers)
    his_hooks = [triggers.webhook_create(workflow=his) for _ in range(2)]
    with httpx.Client(timeout=10, base_url=f"http://{server}") as client:
        # Bob, from the same address: his budget, across all his webhooks, runs out.
        statuses = [client.post(f"/hooks/{his_hooks[i % 2].token}", json={}).status_code
                    for i in range(OWNER_RATE + 1)]
        assert statuses == [202] * OWNER_RATE + [429]
        # Alice's sender at that address still starts her runs, up to her own budget.
        assert [client.post(f"/hooks/{her_hook.token}", json={}).status_code for _ in range(RATE)] == [202] * RATE
        assert client.post(f"/hooks/{her_hook.token}", json={}).status_code == 429
        # Made-up tokens are counted by address: guessing stays slow, and costs no one else.
        guesses = [client.post(f"/hooks/made-up-token-{i}", json={}).status_code for i in range(RATE + 1)]
        assert guesses == [404] * RATE + [429]
    assert Execution.objects.filter(workflow=hers).count() == RATE
    assert Execution.objects.filter(workflow=his).count() == OWNER_RATE


def test_a_leaked_token_spends_its_webhooks_budget_not_its_owners(server: str, alice) -> None:
    workflow = workflow_create(owner=alice, name="Orders", description="", definition=SIMPLE_DEFINITION)
    leaked, other = triggers.webhook_create(workflow=workflow), triggers.webhook_create(workflow=workflow)
    with httpx.Client(timeout=10, base_url=f"http://{server}") as client:
        # Whoever found the leaked token calls it far past its budget: its webhook's share
        # gets through, the rest is refused.
        flood = [client.post(f"/hooks/{leaked.token}", json={}).status_code for _ in range(OWNER_RATE * 3)]
        assert flood == [202] * RATE + [429] * (OWNER_RATE * 3 - RATE)
        # Alice's other webhook still starts her runs: what her cap leaves beside the leaked
        # webhook's share (the refused calls took none of it)...
        calls = [client.post(f"/hooks/{other.token}", json={}) for _ in range(OWNER_RATE - RATE + 1)]
        assert [c.status_code for c in calls] == [202] * (OWNER_RATE - RATE) + [429], [c.text for c in calls]
        # ...and her overall cap still holds, with Retry-After as for any 429.
        assert 1 <= int(calls[-1].headers["Retry-After"]) <= 60
    assert Execution.objects.filter(workflow=workflow).count() == OWNER_RATE
