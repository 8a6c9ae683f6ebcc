"""A redrive that keeps a failed loop item (not chosen, so not run again) wrote a second dead
letter for it: the loop re-ran for the chosen items, the kept item's old failure replayed
from history, and the loop's end took it for a new one. The Dead letters page then showed
two open letters for one failure, and replaying both ran its work twice (a charge made
twice). Real engine, through the API client, as tests/engine/test_nested_loop_dead_letters.py."""

from __future__ import annotations

import pytest

from engine.models import NodeRun
from tests.engine.runs import wait_finished
from tests.engine.test_nested_loop_dead_letters import failed_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("version", ["original", "latest"])
def test_a_failed_item_a_redrive_keeps_keeps_its_one_dead_letter(alice_client, version):
    workflow_id, execution_id = failed_run(alice_client)  # outer#2/inner#2 failed, with a letter
    # Inner item 0 of every outer item again: outer#2's inner loop re-runs, keeping its item 2.
    redriven = alice_client.post(f"/api/executions/{execution_id}/redrive",
                                 {"version": version, "items": {"inner": [0]}}, format="json")
    assert redriven.status_code == 202, redriven.content
    assert wait_finished(execution_id).status == "failed"  # item 2 is still failed (kept)
    assert not NodeRun.objects.filter(execution_id=execution_id, scope="outer#2/inner#2", attempt__gt=1).exists()

    letters = alice_client.get(f"/api/dead-letters?execution={execution_id}").json()
    assert [(d["itemPath"], d["state"]) for d in letters] == [("outer#2/inner#2", "open")]
