"""The execution's own `settings.timeout` and a section's `parallel.totalTimeout` survive an
engine that stops, as a branch's timeout does (test_branch_timeout_restart): a real
`runengine` is killed with kill -9, and the engine that takes the execution over counts
from when the clock really started — the execution times out at its original deadline, not
a fresh timeout after the takeover; a section whose deadline passed while no engine ran it
times out at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from engine.models import Event, Execution
from tests.engine.definitions import seconds
from tests.reliability.conftest import Engines, definition, finished, node_runs, rows, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
START = {"id": "start", "type": "start"}


def delay(node_id: str, ms: int) -> dict[str, Any]:
    return {"id": node_id, "type": "delay", "config": {"duration": ms}}




def test_an_execution_stopped_mid_way_times_out_at_its_original_deadline(engines: Engines, run_workflow: Any) -> None:
    timeout_s = 5.0
    d = definition([START, delay("first", 1500), delay("second", 8000),
                    {"id": "o", "type": "output", "name": "o", "config": {"value": "{{second}}"}}],
                   [("start", "first"), ("first", "second"), ("second", "o")])
    d["settings"] = {"timeout": int(timeout_s * 1000)}
    procs = [engines.start(), engines.start()]  # the takeover comes without a process start-up
    ex = run_workflow(d, {"v": 1})
    wait_for(lambda: rows(ex.id, "second") == [(1, "running")], timeout=30, what="the second node runs")
    owner = Execution.objects.get(id=ex.id).engine_id
    engines.kill_9(next(p for p in procs if p.engine_id == owner))  # type: ignore[attr-defined]
    ex = finished(ex.id)
    assert ex.engine_id != owner
    claimed = Event.objects.get(execution_id=ex.id, type="execution.resumed").ts

    assert ex.status == "timed_out"
    assert ex.error["message"] == "execution timeout of 5000 ms reached"
    assert rows(ex.id, "first") == [(1, "succeeded")]
    assert rows(ex.id, "second") == [(1, "cancelled"), (2, "cancelled")]
    # From the execution's start, across the takeover: not a fresh 5 s after it.
    began = node_runs(ex.id, "start")[0].queued_at
    assert seconds(began, claimed) < 0.9 * timeout_s, "the takeover came too late to tell"
    ratio = seconds(began, ex.finished_at) / timeout_s
    assert 0.97 <= ratio <= 1.3, ratio


def test_a_section_whose_total_timeout_passed_while_no_engine_ran_times_out_at_takeover(
    engines: Engines, run_workflow: Any
) -> None:
    timeout_s = 3.0
    d = definition([START, delay("slow", 10000), delay("quick", 10),
                    {"id": "j", "type": "merge", "config": {"parallel": {"totalTimeout": int(timeout_s * 1000)}}},
                    {"id": "o", "type": "output", "name": "o", "config": {"value": "{{j}}"}}],
                   [("start", "slow"), ("start", "quick"), ("slow", "j"), ("quick", "j"), ("j", "o")])
    ex = run_workflow(d, {"v": 1})
    first_engine = engines.start()
    wait_for(lambda: rows(ex.id, "slow") == [(1, "running")] and rows(ex.id, "quick") == [(1, "succeeded")],
             timeout=30, what="the slow branch runs, the quick one has ended")
    engines.kill_9(first_engine)
    began = min(r.queued_at for r in node_runs(ex.id, "slow") + node_runs(ex.id, "quick"))
    wait_for(lambda: seconds(began, timezone.now()) > timeout_s + 0.3, timeout=10, what="the deadline passed")
    engines.start()
    ex = finished(ex.id)
    claimed = Event.objects.get(execution_id=ex.id, type="execution.resumed").ts

    # onTimeout `fail` (the default): the join fails, what ran in the section is cancelled.
    assert ex.status == "failed"
    join = node_runs(ex.id, "j")
    assert [r.status for r in join] == ["failed"]
    assert "totalTimeout reached" in join[0].error["message"]
    assert rows(ex.id, "slow") == [(1, "cancelled"), (2, "cancelled")]
    # At once: not after a fresh 3 s, nor after the 10 s node.
    assert seconds(claimed, join[0].finished_at) < 0.5 * timeout_s
