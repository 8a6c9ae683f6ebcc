"""Crash-proof runs with real engine processes (SPEC §4.6): a paused execution (or one that
waits for an approval) stays paused across engine restarts and resumes later; a kill -9
mid-run is continued by the next engine with the interrupted attempt on the timeline; the
takeover reaps node runs left `running` or `queued` by an engine that is gone, even one
that never sent a heartbeat."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from engine import services
from engine.models import Execution, NodeRun
from tests.reliability.conftest import Engines, definition, rows, status_of, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
START = {"id": "start", "type": "start"}


def signal(execution_id: Any, user: User, type: str, data: Any = None, reason: str = "") -> None:
    services.execution_signal(execution=Execution.objects.get(id=execution_id), user=user, type=type,
                              reason=reason, data=data)


def owned_by(execution_id: Any) -> str:
    return str(Execution.objects.values_list("engine_id", flat=True).get(id=execution_id))


def test_a_paused_execution_stays_paused_across_restarts_and_resumes_later(
    engines: Engines, run_workflow: Any, owner: User
) -> None:
    d = definition([START, {"id": "a", "type": "delay", "config": {"duration": 400}},
                    {"id": "b", "type": "set", "config": {"values": {"ok": "{{signal.approved}}"}}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{signal}}"}}],
                   [("start", "a"), ("a", "b"), ("b", "out")])
    ex = run_workflow(d, {"n": 1})
    first = engines.start()
    wait_for(lambda: rows(ex.id, "a") == [(1, "running")], what="a running")
    signal(ex.id, owner, "pause", reason="Awaiting approval")
    wait_for(lambda: status_of(ex.id) == "paused", what="paused")
    wait_for(lambda: rows(ex.id, "a") == [(1, "succeeded")], what="a finishes while paused")
    engines.kill_9(first)

    second = engines.start()
    wait_for(lambda: owned_by(ex.id) == second.engine_id, what="the second engine takes the execution over")  # type: ignore[attr-defined]
    time.sleep(1.0)
    assert status_of(ex.id) == "paused"
    assert Execution.objects.get(id=ex.id).state["pauseReason"] == "Awaiting approval"
    assert not NodeRun.objects.filter(execution_id=ex.id, node_id="b", started_at__isnull=False).exists()
    # And once more: a clean stop (SIGTERM) of an engine that holds a paused run.
    second.terminate()
    second.wait(15)
    third = engines.start()
    wait_for(lambda: owned_by(ex.id) == third.engine_id, what="the third engine takes over")  # type: ignore[attr-defined]
    assert status_of(ex.id) == "paused"

    signal(ex.id, owner, "resume", data={"approved": True, "approver": "user@example.com"})
    wait_for(lambda: status_of(ex.id) in ("succeeded", "failed", "cancelled"), what="finished")
    ex.refresh_from_db()
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"out": {"approved": True, "approver": "user@example.com"}}
    assert rows(ex.id, "a") == [(1, "succeeded")]  # not repeated by either restart
    # `b` was only queued when the engines stopped: each takeover took the same row up
    # again, so two restarts spent none of its attempts; it ran once, after the resume.
    assert rows(ex.id, "b") == [(1, "succeeded")]


def test_an_approval_keeps_waiting_across_a_kill_9_and_checks_its_approvers(
    engines: Engines, run_workflow: Any, owner: User
) -> None:
    bob = User.objects.create_user("bob-reliability", password="pw")
    d = definition([START, {"id": "approve", "type": "approval",
                            "config": {"approvers": ["alice@example.com"], "timeout": 60000, "onTimeout": "reject"}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{approve}}"}}],
                   [("start", "approve"), ("approve", "out")])
    ex = run_workflow(d)
    first = engines.start()
    wait_for(lambda: status_of(ex.id) == "paused", what="awaiting approval")
    waiting = Execution.objects.get(id=ex.id).state["awaiting"]
    engines.kill_9(first)

    second = engines.start()
    wait_for(lambda: owned_by(ex.id) == second.engine_id, what="takeover")  # type: ignore[attr-defined]
    wait_for(lambda: rows(ex.id, "approve") == [(1, "cancelled"), (2, "running")], what="the approval waits again")
    state = Execution.objects.get(id=ex.id).state
    assert status_of(ex.id) == "paused"
    assert state["awaiting"]["approvers"] == ["alice@example.com"]
    assert state["awaiting"]["deadline"] == waiting["deadline"]  # the original deadline, not a new one
    with pytest.raises(services.SignalForbidden):
        signal(ex.id, bob, "resume", data={"approved": True})
    signal(ex.id, owner, "resume", data={"approved": True})
    wait_for(lambda: status_of(ex.id) in ("succeeded", "failed", "cancelled"), what="finished")
    ex.refresh_from_db()
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"out": {"approved": True}}


def test_kill_9_mid_loop_continues_without_repeating_finished_items(
    engines: Engines, run_workflow: Any, owner: User
) -> None:
    d = definition([START,
                    {"id": "loop", "type": "loop", "config": {"loopType": "forEach", "arrayPath": "{{input.items}}",
                                                               "parallel": True, "maxConcurrency": 3,
                                                               "itemVariable": "item", "outputVariable": "results"}},
                    {"id": "work", "type": "delay", "parentId": "loop", "config": {"duration": 300}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{results}}"}}],
                   [("start", "loop"), ("loop", "out")])
    items = list(range(12))
    ex = run_workflow(d, {"items": items})
    first = engines.start()
    wait_for(lambda: NodeRun.objects.filter(execution_id=ex.id, node_id="work", status="succeeded").count() >= 4,
             what="some items done")
    engines.kill_9(first)
    done_before = set(NodeRun.objects.filter(execution_id=ex.id, node_id="work", status="succeeded")
                      .values_list("scope", flat=True))
    engines.start()
    wait_for(lambda: status_of(ex.id) in ("succeeded", "failed", "cancelled"), timeout=40, what="finished")
    ex.refresh_from_db()
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"out": items}
    work = list(NodeRun.objects.filter(execution_id=ex.id, node_id="work").values_list("scope", "attempt", "status"))
    for scope in done_before:
        assert [(a, s) for sc, a, s in work if sc == scope] == [(1, "succeeded")], scope
    succeeded = [sc for sc, _, s in work if s == "succeeded"]
    assert sorted(succeeded) == sorted(set(succeeded)) and len(succeeded) == len(items)
    keys = list(NodeRun.objects.filter(execution_id=ex.id).values_list("scope", "node_id", "attempt"))
    assert len(keys) == len(set(keys))


def test_the_timeline_shows_the_interrupted_attempt(
    engines: Engines, run_workflow: Any, owner: User
) -> None:
    d = definition([START, {"id": "slow", "type": "delay", "config": {"duration": 1500}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{slow}}"}}],
                   [("start", "slow"), ("slow", "out")])
    ex = run_workflow(d, {"v": 1})
    first = engines.start()
    wait_for(lambda: rows(ex.id, "slow") == [(1, "running")], what="slow running")
    engines.kill_9(first)
    engines.start()
    wait_for(lambda: status_of(ex.id) == "succeeded", what="finished")
    client = APIClient()
    client.force_authenticate(owner)
    bars = [b for b in client.get(f"/api/executions/{ex.id}/timeline").json()["bars"] if b["nodeId"] == "slow"]
    assert [(b["attempt"], b["status"]) for b in bars] == [(1, "cancelled"), (2, "succeeded")]


@pytest.mark.parametrize("heartbeat", ["never", "stale"])
def test_takeover_reaps_node_runs_of_a_dead_engine(
    engines: Engines, run_workflow: Any, owner: User, heartbeat: str
) -> None:
    """An execution left `running` by an engine that is gone (heartbeat stale, or never
    sent): its `running` and `queued` node runs are orphans. The next engine marks a
    running one interrupted and runs it again as attempt 2, takes a queued one (never
    started, so no attempt was spent) up again as the same attempt, and does not repeat
    finished ones."""
    d = definition([START, {"id": "a", "type": "set", "config": {"values": {"a": 1}}},
                    {"id": "b", "type": "delay", "config": {"duration": 100}},
                    {"id": "c", "type": "delay", "config": {"duration": 100}},
                    {"id": "m", "type": "merge"},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{m}}"}}],
                   [("start", "a"), ("a", "b"), ("a", "c"), ("b", "m"), ("c", "m"), ("m", "out")])
    ex = run_workflow(d, {"x": 1})
    long_ago = timezone.now() - timedelta(hours=1)
    Execution.objects.filter(id=ex.id).update(
        status="running", engine_id="ghost-host:4242:dead00", started_at=long_ago,
        heartbeat_at=None if heartbeat == "never" else long_ago,
    )

    def row(node_id: str, seq: int, status: str, output: Any = None, **extra: Any) -> NodeRun:
        return NodeRun(id=f"ghost{seq:027d}", execution_id=ex.id, node_id=node_id, type="x", status=status,
                       attempt=1, trace_id=ex.trace_id, seq=seq, queued_at=long_ago, output=output,
                       claimed_by="ghost-host:4242:dead00", **extra)

    NodeRun.objects.bulk_create([
        row("start", 1, "succeeded", {"x": 1}, started_at=long_ago, finished_at=long_ago),
        row("a", 2, "succeeded", {"a": 1}, started_at=long_ago, finished_at=long_ago),
        row("b", 3, "running", branch_id="1", branch_name="branch_a", started_at=long_ago),
        row("c", 4, "queued", branch_id="2", branch_name="branch_b"),
    ])
    engines.start()
    wait_for(lambda: status_of(ex.id) in ("succeeded", "failed", "cancelled"), what="finished")
    ex.refresh_from_db()
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"out": {"branch_a": {"a": 1}, "branch_b": {"a": 1}}}
    assert rows(ex.id, "start") == [(1, "succeeded")]
    assert rows(ex.id, "a") == [(1, "succeeded")]
    assert rows(ex.id, "b") == [(1, "cancelled"), (2, "succeeded")]
    assert rows(ex.id, "c") == [(1, "succeeded")]
    reaped = NodeRun.objects.get(id=f"ghost{3:027d}")
    assert "interrupted" in reaped.error["message"] and reaped.finished_at is not None
    assert not NodeRun.objects.filter(execution_id=ex.id, status__in=["running", "queued", "retrying"]).exists()


def test_a_custom_signal_handler_running_at_a_kill_9_runs_again_on_the_next_engine(
    engines: Engines, run_workflow: Any, owner: User
) -> None:
    """A handler is part of the run like its nodes: one that was running when its engine
    died is run again by the engine that takes the run over (after the heartbeat went
    stale), and its output is recorded once."""
    d = definition([START, {"id": "work", "type": "delay", "config": {"duration": 3000}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{work}}"}},
                    {"id": "notify", "type": "delay", "config": {"duration": 1500}}],
                   [("start", "work"), ("work", "out")],
                   signalHandlers={"ping": {"action": "custom", "handler": "notify"}})
    ex = run_workflow(d, {"job": 6})
    first = engines.start()
    wait_for(lambda: rows(ex.id, "work") == [(1, "running")], what="work running")
    signal(ex.id, owner, "ping", data={"n": 1})
    wait_for(lambda: rows(ex.id, "notify") == [(1, "running")], what="the handler running")
    engines.kill_9(first)
    second = engines.start()
    wait_for(lambda: owned_by(ex.id) == second.engine_id, what="takeover")  # type: ignore[attr-defined]
    wait_for(lambda: status_of(ex.id) in ("succeeded", "failed", "cancelled"), what="finished")
    ex.refresh_from_db()
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"out": {"job": 6}}
    wait_for(lambda: rows(ex.id, "notify")[-1][1] not in ("queued", "running"), what="the handler's end")
    assert rows(ex.id, "notify") == [(1, "cancelled"), (2, "succeeded")]
    again = NodeRun.objects.get(execution_id=ex.id, node_id="notify", attempt=2)
    assert again.input == {"n": 1} and again.output == {"n": 1}


def test_pause_a_30_item_parallel_loop_restart_and_resume_with_data(
    engines: Engines, run_workflow: Any, owner: User
) -> None:
    """The issue's acceptance story: pause a 30-item parallel loop, no new bars start,
    restart the engine, resume with {"approved": true}, and it finishes."""
    d = definition([START,
                    {"id": "loop", "type": "loop", "config": {"loopType": "forEach", "arrayPath": "{{input.items}}",
                                                               "parallel": True, "maxConcurrency": 5,
                                                               "itemVariable": "item", "outputVariable": "results"}},
                    {"id": "work", "type": "delay", "parentId": "loop", "config": {"duration": 250}},
                    {"id": "after", "type": "set", "config": {"values": {"approved": "{{signal.approved}}"}}},
                    {"id": "out", "type": "output", "name": "out",
                     "config": {"value": {"results": "{{results}}", "approved": "{{variables.approved}}"}}}],
                   [("start", "loop"), ("loop", "after"), ("after", "out")])
    ex = run_workflow(d, {"items": list(range(30))})
    first = engines.start()
    wait_for(lambda: NodeRun.objects.filter(execution_id=ex.id, node_id="work", status="succeeded").count() >= 5,
             what="items running")
    signal(ex.id, owner, "pause", reason="checking")
    wait_for(lambda: status_of(ex.id) == "paused", what="paused")
    # Bars stop starting: what was running finishes, nothing new starts.
    time.sleep(0.6)
    started = NodeRun.objects.filter(execution_id=ex.id, node_id="work", started_at__isnull=False).count()
    time.sleep(0.8)
    assert NodeRun.objects.filter(execution_id=ex.id, node_id="work", started_at__isnull=False).count() == started
    assert started < 30
    engines.kill_9(first)
    second = engines.start()
    wait_for(lambda: owned_by(ex.id) == second.engine_id, what="takeover")  # type: ignore[attr-defined]
    time.sleep(0.5)
    assert status_of(ex.id) == "paused"
    assert NodeRun.objects.filter(execution_id=ex.id, node_id="work", started_at__isnull=False).count() == started
    signal(ex.id, owner, "resume", data={"approved": True})
    wait_for(lambda: status_of(ex.id) in ("succeeded", "failed", "cancelled"), timeout=40, what="finished")
    ex.refresh_from_db()
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"out": {"results": list(range(30)), "approved": True}}
    done = list(NodeRun.objects.filter(execution_id=ex.id, node_id="work", status="succeeded")
                .values_list("scope", flat=True))
    assert len(done) == len(set(done)) == 30  # every item once, none repeated


def test_a_rollback_interrupted_by_kill_9_is_finished_by_the_next_engine(
    engines: Engines, run_workflow: Any, owner: User
) -> None:
    undo = {"type": "delay", "config": {"duration": 1500}}
    d = definition([START,
                    {"id": "hotel", "type": "set", "config": {"values": {"hotel": 1}, "compensate": "undo_hotel"}},
                    {"id": "flight", "type": "set", "config": {"values": {"flight": 2}, "compensate": "undo_flight"}},
                    {"id": "charge", "type": "delay", "config": {"duration": 30000}},
                    {"id": "undo_hotel", **undo}, {"id": "undo_flight", **undo}],
                   [("start", "hotel"), ("hotel", "flight"), ("flight", "charge")],
                   signalHandlers={"cancel": {"action": "cancel", "rollback": True}})
    ex = run_workflow(d)
    first = engines.start()
    wait_for(lambda: rows(ex.id, "charge") == [(1, "running")], what="charge running")
    signal(ex.id, owner, "cancel", reason="undo it all")
    wait_for(lambda: rows(ex.id, "undo_flight") == [(1, "running")], what="first compensation running")
    engines.kill_9(first)
    assert status_of(ex.id) == "running"
    engines.start()
    wait_for(lambda: status_of(ex.id) in ("succeeded", "failed", "cancelled"), timeout=30, what="finished")
    ex.refresh_from_db()
    assert ex.status == "cancelled"
    assert rows(ex.id, "undo_flight") == [(1, "cancelled"), (2, "succeeded")]
    assert rows(ex.id, "undo_hotel") == [(1, "succeeded")]
    assert rows(ex.id, "charge") == [(1, "cancelled")]
    assert [c["compensate"] for c in ex.error["rollback"]] == ["undo_flight", "undo_hotel"]
    assert "rollback" not in ex.state
    flight, hotel = (NodeRun.objects.get(execution_id=ex.id, node_id=n, status="succeeded")
                     for n in ("undo_flight", "undo_hotel"))
    assert flight.input == {"flight": 2} and hotel.input == {"hotel": 1}
    assert flight.finished_at <= hotel.started_at
