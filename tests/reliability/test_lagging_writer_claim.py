"""A batch holds the coordinator's live row dicts, so a writer that lags a tick behind can
store a node run's later state (running, claimed by this engine) in the batch before the
one that claims it. That claim is this engine's own, not lost; a claim by another engine
of the same row still is."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.utils import timezone

from engine.core.persistence import Batch
from engine.models import Execution, NodeRun
from engine.store.persistence import DjangoPersistence
from tests.reliability.conftest import definition

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_claim_already_written_by_a_lagging_writer_is_not_lost(run_workflow: Any) -> None:
    from tests.engine.definitions import START

    ex = run_workflow(definition([START], []))
    Execution.objects.filter(id=ex.id).update(status="running", engine_id="me", heartbeat_at=timezone.now())
    store = DjangoPersistence()
    run_id = uuid.uuid4().hex
    row = {"id": run_id, "execution_id": ex.id, "node_id": "h", "name": "h", "type": "http", "scope": "",
           "status": "queued", "attempt": 1, "iteration": None, "branch_id": "main", "branch_name": "main",
           "trace_id": ex.trace_id, "queued_at": timezone.now(), "started_at": None, "finished_at": None,
           "input": {}, "output": None, "error": None, "handle": "", "claimed_by": "", "pinned": False,
           "seq": 1}
    first = Batch()
    first.node_runs[run_id] = row
    first.new_ids.add(run_id)
    # The coordinator starts the node run before the writer got to the first batch: the
    # same dict is now running, claimed by this engine; its claim is in the next batch.
    row.update(status="running", started_at=timezone.now(), claimed_by="me")
    second = Batch()
    second.node_runs[run_id] = row
    second.claims.append(run_id)
    assert store.flush(first, "me") == set()
    assert store.flush(second, "me") == set(), "this engine's own claim was taken for a lost one"
    assert NodeRun.objects.get(id=run_id).status == "running"

    # Another engine's claim of the same node run (another start) is lost.
    intruder = Batch()
    intruder.node_runs[run_id] = {**row, "started_at": timezone.now(), "claimed_by": "other"}
    intruder.claims.append(run_id)
    Execution.objects.filter(id=ex.id).update(engine_id="other")
    assert store.flush(intruder, "other") == {run_id}
