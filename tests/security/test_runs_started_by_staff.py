"""A run belongs to its workflow's owner, whoever starts it.

Before: a run that staff started on alice's workflow (run, retry, dead-letter replay, the
admin's retry action) was owned by staff: alice could not see a run of her own workflow in
her list, open it (404), or follow it live, and the dead letter she could see linked to an
execution she got a 404 for. Now it is hers; the first event says who started it."""

from __future__ import annotations

from typing import Any

import pytest

from engine.models import DeadLetter, Event, Execution
from tests.engine.runs import START, definition, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)


def failing() -> dict[str, Any]:
    return definition([START, {"id": "boom", "type": "fail", "config": {"message": "down"}}], [("start", "boom")],
                      queue={"deadLetterQueue": True})


def test_runs_staff_starts_on_alices_workflow_are_alices(alice_client, bob_client, staff_client, staff):
    workflow = alice_client.post("/api/workflows", {"name": "Hers", "definition": failing()}, format="json").json()
    own = wait_finished(alice_client.post(f"/api/workflows/{workflow['id']}/run", {"input": {"n": 1}},
                                          format="json").json()["id"])
    letter = DeadLetter.objects.get(execution_id=own.pk)

    started = [
        staff_client.post(f"/api/workflows/{workflow['id']}/run", {"input": {"n": 2}}, format="json"),
        staff_client.post(f"/api/executions/{own.pk}/retry", {}, format="json"),
        staff_client.post(f"/api/dead-letters/{letter.pk}/replay", {}, format="json"),
    ]
    assert [r.status_code for r in started] == [201, 201, 201], [r.content for r in started]
    ids = [r.json()["id"] for r in started]
    for execution_id in ids:
        wait_finished(execution_id)

    listed = {e["id"] for e in alice_client.get(f"/api/executions?workflow={workflow['id']}").json()}
    assert listed == {own.pk, *ids}
    for execution_id in ids:
        assert alice_client.get(f"/api/executions/{execution_id}").status_code == 200
        assert bob_client.get(f"/api/executions/{execution_id}").status_code == 404
        first = Event.objects.get(execution_id=execution_id, seq=1)
        assert (first.type, first.data) == ("execution.queued", {"startedBy": staff.get_username()})
    assert set(Execution.objects.filter(pk__in=ids).values_list("owner_id", flat=True)) == {own.owner_id}
    # The owner's own runs carry no "startedBy".
    assert Event.objects.get(execution_id=own.pk, seq=1).data is None
