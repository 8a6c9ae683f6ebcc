"""A branch-wide `retry` (`edges[].branch.retry`, SPEC §4.3) survives an engine that stops:
a real `runengine` is killed while its branch waits between attempts or runs its second
attempt, a new one takes the execution over and goes on at the attempt the branch had
reached, after the back-off that attempt calls for — never an extra attempt, never a
back-off cut short, never the failed attempt replayed as the branch's end."""

from __future__ import annotations

from typing import Any

import pytest

from engine.models import Event, Execution
from tests.engine.definitions import seconds
from tests.reliability.conftest import Engines, definition, finished, node_runs, rows, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
START = {"id": "start", "type": "start"}


def retried_branch(retry: dict[str, Any], prepare_ms: int) -> dict[str, Any]:
    """start → [prepare → charge (always fails)] in branch `work` with `retry`, and [quick]
    → merge `j` (a failed branch is left out) → output."""
    return definition(
        [START, {"id": "prepare", "type": "delay", "config": {"duration": prepare_ms}},
         {"id": "charge", "type": "fail", "config": {"message": "card declined"}},
         {"id": "quick", "type": "delay", "config": {"duration": 10}},
         {"id": "j", "type": "merge", "config": {"parallel": {"onPartialFailure": "continue"}}},
         {"id": "o", "type": "output", "name": "o", "config": {"value": "{{j}}"}}],
        [{"source": "start", "target": "prepare", "branch": {"name": "work", "retry": retry}},
         ("start", "quick"), ("prepare", "charge"), ("charge", "j"), ("quick", "j"), ("j", "o")])


def retry_notes(execution_id: Any) -> list[dict[str, Any]]:
    return [e for e in Event.objects.filter(execution_id=execution_id, type="log").order_by("seq")
            .values_list("data", flat=True) if "running it again" in (e or {}).get("message", "")]




def test_an_engine_stopped_between_branch_attempts_resumes_the_back_off_and_the_attempt(
    engines: Engines, run_workflow: Any
) -> None:
    # Two engines from the start, so that the takeover comes well inside the back-off even
    # on a loaded machine (no process start-up between the kill and the takeover).
    procs = [engines.start(), engines.start()]
    ex = run_workflow(retried_branch({"maxAttempts": 3, "initialDelay": 5000}, prepare_ms=20), {"v": 1})
    wait_for(lambda: len(retry_notes(ex.id)) == 1, what="the first branch retry announced")
    owner = Execution.objects.get(id=ex.id).engine_id
    engines.kill_9(next(p for p in procs if p.engine_id == owner))  # type: ignore[attr-defined]
    # The branch waits out its 5 s back-off.
    # Persisted with (not after) its announcement: what the next engine goes on from.
    saved = Execution.objects.get(id=ex.id).state["branchRetries"][""]
    assert [(s["attempt"], s["base"]) for s in saved.values()] == [(2, {"prepare": 1, "charge": 1})]
    ex = finished(ex.id)
    assert ex.engine_id != owner
    claimed = Event.objects.get(execution_id=ex.id, type="execution.resumed").ts

    assert ex.status == "succeeded", ex.error  # the join's `continue` leaves the failed branch out
    assert "work" not in ex.output["o"] and ex.output["o"]["branch_b"] == {"v": 1}
    # Exactly the configured three attempts of the branch, each from its first node.
    assert rows(ex.id, "prepare") == [(1, "succeeded"), (2, "succeeded"), (3, "succeeded")]
    assert rows(ex.id, "charge") == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert [n["attempt"] for n in retry_notes(ex.id)] == [2, 3]
    # The second attempt waited for the back-off the first engine began, although the new
    # engine took over well before it ended.
    failed_at = node_runs(ex.id, "charge")[0].finished_at
    assert seconds(failed_at, claimed) < 4.0, "the takeover came too late to tell"
    assert seconds(failed_at, node_runs(ex.id, "prepare")[1].started_at) >= 4.95
    assert "branchRetries" not in ex.state  # nothing retries any more


def test_an_engine_stopped_in_a_branchs_second_attempt_goes_on_at_that_attempt(
    engines: Engines, run_workflow: Any
) -> None:
    retry = {"maxAttempts": 3, "initialDelay": 300, "backoff": "exponential"}  # 300 ms, then 600 ms
    ex = run_workflow(retried_branch(retry, prepare_ms=1200), {"v": 1})
    first = engines.start()
    wait_for(lambda: rows(ex.id, "prepare")[-1:] == [(2, "running")], timeout=30,
             what="the branch's second attempt runs")
    engines.kill_9(first)
    engines.start()
    ex = finished(ex.id)

    assert ex.status == "succeeded", ex.error
    # The interrupted first node runs again; the branch has its three attempts, not four.
    assert rows(ex.id, "prepare") == [(1, "succeeded"), (2, "cancelled"), (3, "succeeded"), (4, "succeeded")]
    assert rows(ex.id, "charge") == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert [n["attempt"] for n in retry_notes(ex.id)] == [2, 3]
    # After the restart, the failure of the branch's second attempt backs off as a second
    # failure does (600 ms), not as a first (300 ms).
    charge, prepare = node_runs(ex.id, "charge"), node_runs(ex.id, "prepare")
    assert seconds(charge[1].finished_at, prepare[3].started_at) >= 0.58
    assert "in 600 ms (attempt 3 of 3)" in retry_notes(ex.id)[1]["message"]
