"""A query parameter that is not one of its values is named in the 400 cut short, however
long it was: the answer stays small whatever was asked.

Found by the attacker pass of 2026-11-30: `status=` on the executions list and on a run's
node runs, and `kind=` and `state=` on the dead letters, were echoed whole (a 15,000
character `status` came back in a 15 kB 400, and 200 made-up statuses were each listed),
while `type=` on the events and every number parameter already cut what they echo."""

from __future__ import annotations

import pytest

from engine.models import Execution

pytestmark = pytest.mark.django_db(transaction=True)

LONG = "x" * 15_000
MANY = ",".join(f"made-up-{i}" for i in range(200))


def test_unknown_values_are_echoed_cut_short(alice_client, make_workflow):
    workflow = make_workflow()
    execution = Execution.objects.create(workflow=workflow, version=workflow.current_version(), owner=workflow.owner,
                                         status="failed", input={}, trace_id="trace-ec40ec")
    asks = [("/api/executions", "status"), (f"/api/executions/{execution.pk}/node-runs", "status"),
            ("/api/dead-letters", "kind"), ("/api/dead-letters", "state")]
    for path, param in asks:
        for value in (LONG, MANY):
            answer = alice_client.get(path, {param: value})
            assert answer.status_code == 400, (path, param, answer.content[:200])
            detail = answer.json()["detail"]
            assert len(answer.content) < 600, (path, param, len(answer.content))
            assert detail.startswith(("unknown status", "unknown kind", "unknown state")), detail
            # Still says what was wrong, and what is allowed.
            assert ("xxxx" in detail or "made-up-0" in detail) and "one of" in detail, detail
