"""A branch-wide `timeout` (`edges[].branch.timeout`, SPEC §4.3) survives an engine that
stops: its clock runs from the branch's first node start to its last node's end whichever
engine runs it. A real `runengine` is killed with kill -9 in the middle of a timed branch;
the engine that takes the execution over times the branch out at its original deadline
(not a fresh timeout later, and not never), or at once when the deadline passed while no
engine ran it, and applies the branch's `onTimeout`."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from engine.models import Event, Execution
from tests.engine.definitions import seconds
from tests.reliability.conftest import Engines, definition, finished, node_runs, rows, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
START = {"id": "start", "type": "start"}


def timed_branch(first_ms: int, second_ms: int, branch: dict[str, Any], on_partial: str) -> dict[str, Any]:
    """start → [first → second] in branch `work` with `branch` settings, and [quick] →
    merge `j` → output `o`."""
    return definition(
        [START, {"id": "first", "type": "delay", "config": {"duration": first_ms}},
         {"id": "second", "type": "delay", "config": {"duration": second_ms}},
         {"id": "quick", "type": "delay", "config": {"duration": 10}},
         {"id": "j", "type": "merge", "config": {"parallel": {"onPartialFailure": on_partial}}},
         {"id": "o", "type": "output", "name": "o", "config": {"value": "{{j}}"}}],
        [{"source": "start", "target": "first", "branch": {"name": "work", **branch}},
         ("start", "quick"), ("first", "second"), ("second", "j"), ("quick", "j"), ("j", "o")])




def test_a_branch_stopped_mid_way_times_out_at_its_original_deadline(engines: Engines, run_workflow: Any) -> None:
    timeout_s = 4.0
    # Two engines from the start: the takeover comes well before the deadline, with no
    # process start-up between the kill and the takeover.
    procs = [engines.start(), engines.start()]
    ex = run_workflow(timed_branch(800, 6000, {"timeout": int(timeout_s * 1000), "onTimeout": "continue"},
                                   "fail"), {"v": 1})
    wait_for(lambda: rows(ex.id, "second") == [(1, "running")], timeout=30, what="the branch's second node runs")
    owner = Execution.objects.get(id=ex.id).engine_id
    engines.kill_9(next(p for p in procs if p.engine_id == owner))  # type: ignore[attr-defined]
    ex = finished(ex.id)
    assert ex.engine_id != owner
    claimed = Event.objects.get(execution_id=ex.id, type="execution.resumed").ts

    # onTimeout `continue`: the branch goes on to the join as {"timedOut": true}.
    assert ex.status == "succeeded", ex.error
    assert ex.output["o"]["work"] == {"timedOut": True}
    assert ex.output["o"]["branch_b"] == {"v": 1}
    # The first node's end is the earlier engine's (replayed, not run again); the second,
    # interrupted, runs again and is what the timeout stops.
    assert rows(ex.id, "first") == [(1, "succeeded")]
    assert rows(ex.id, "second") == [(1, "cancelled"), (2, "succeeded")]
    second = node_runs(ex.id, "second")[1]
    assert second.output == {"timedOut": True}
    # The clock ran from the branch's first node start, across the takeover: the branch
    # ended at its deadline — not at a fresh timeout after the takeover, and not when the
    # 6 s node would have ended.
    opened = node_runs(ex.id, "first")[0].queued_at
    assert seconds(opened, claimed) < 0.9 * timeout_s, "the takeover came too late to tell"
    ratio = seconds(opened, second.finished_at) / timeout_s
    assert 0.97 <= ratio <= 1.4, ratio


def test_a_branch_whose_deadline_passed_while_no_engine_ran_times_out_at_takeover(
    engines: Engines, run_workflow: Any
) -> None:
    timeout_s = 3.0
    ex = run_workflow(timed_branch(10000, 10, {"timeout": int(timeout_s * 1000), "onTimeout": "error"}, "fail"),
                      {"v": 1})
    first_engine = engines.start()
    wait_for(lambda: rows(ex.id, "first") == [(1, "running")], timeout=30, what="the branch's first node runs")
    engines.kill_9(first_engine)
    opened = node_runs(ex.id, "first")[0].queued_at
    # Down until past the branch's deadline.
    wait_for(lambda: seconds(opened, timezone.now()) > timeout_s + 0.3, timeout=10, what="the deadline passed")
    engines.start()
    ex = finished(ex.id)
    claimed = Event.objects.get(execution_id=ex.id, type="execution.resumed").ts

    # onTimeout `error`: the branch fails (no retry, onError `fail`), so the join fails.
    assert ex.status == "failed"
    first = node_runs(ex.id, "first")
    assert [(r.attempt, r.status) for r in first] == [(1, "cancelled"), (2, "timed_out")]
    assert first[1].error["message"] == "branch work timed out after 3000 ms"
    assert {r.status for r in node_runs(ex.id, "second")} <= {"skipped"}  # the branch never got there
    # At once: not after a fresh 3 s timeout, nor after the 10 s node.
    assert seconds(claimed, first[1].finished_at) < 0.5 * timeout_s


@pytest.mark.parametrize("policy", [{"onTimeout": "continue"}, {"onTimeout": "error", "onError": "continue"}])
def test_a_branch_that_timed_out_before_the_engine_stopped_still_reaches_the_join_as_timed_out(
    engines: Engines, run_workflow: Any, policy: dict[str, str]
) -> None:
    """The engine stops after the branch timed out but before the join ran (it waits for a
    slower branch): the join still sees what `onTimeout` (and `onError`) made of the
    branch, although its node runs alone do not say it (the node after the stopped one is
    skipped; a timeout error is a success for the join)."""
    d = definition(
        [START, {"id": "first", "type": "delay", "config": {"duration": 100}},
         {"id": "second", "type": "delay", "config": {"duration": 8000}},
         {"id": "third", "type": "delay", "config": {"duration": 10}},
         {"id": "slow", "type": "delay", "config": {"duration": 4000}},
         {"id": "j", "type": "merge", "config": {}},
         {"id": "o", "type": "output", "name": "o", "config": {"value": "{{j}}"}}],
        [{"source": "start", "target": "first", "branch": {"name": "work", "timeout": 800, **policy}},
         {"source": "start", "target": "slow", "branch": {"name": "slow"}},
         ("first", "second"), ("second", "third"), ("third", "j"), ("slow", "j"), ("j", "o")])
    ex = run_workflow(d, {"v": 1})
    first_engine = engines.start()
    stopped = "succeeded" if policy["onTimeout"] == "continue" else "timed_out"
    wait_for(lambda: rows(ex.id, "second") == [(1, stopped)], timeout=30, what="the branch timed out")
    engines.kill_9(first_engine)
    assert rows(ex.id, "slow") == [(1, "running")] and not rows(ex.id, "j")
    engines.start()
    ex = finished(ex.id)

    assert ex.status == "succeeded", ex.error
    if policy["onTimeout"] == "continue":
        assert ex.output["o"] == {"work": {"timedOut": True}, "slow": {"v": 1}}
    else:
        assert ex.output["o"]["slow"] == {"v": 1}
        assert ex.output["o"]["work"]["error"]["message"] == "branch work timed out after 800 ms"
    # Nothing of the ended branch ran again or was recorded twice.
    assert rows(ex.id, "first") == [(1, "succeeded")]
    assert rows(ex.id, "second") == [(1, stopped)]
    assert rows(ex.id, "third") == [(1, "skipped")]
