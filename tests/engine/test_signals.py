"""Signals on the real engine and database (SPEC §6): pause with and without cleanup,
resume with data that later nodes see, cancel with rollback (reverse finish order) and
notify (Django's mail outbox), custom handlers, approvals with approvers and timeouts.

Signals go through `services.execution_signal`, the same path as the API and the admin."""

from __future__ import annotations

import time
from typing import Any
from unittest.mock import ANY

import pytest
from django.contrib.auth.models import User
from django.core import mail

from engine import services
from engine.models import Event, Execution, NodeRun
from engine.runtime import start_engine, stop_engine
from tests.engine.runs import START, definition, start_run, status_of, wait_for, wait_status

pytestmark = pytest.mark.django_db(transaction=True)

def wait_node(ex: Execution, node_id: str, status: str, timeout: float = 15.0) -> NodeRun:
    wait_for(lambda: NodeRun.objects.filter(execution=ex, node_id=node_id, status=status).exists(), timeout,
               f"node run {node_id} {status}")
    return NodeRun.objects.filter(execution=ex, node_id=node_id, status=status).latest("seq")


def signal(ex: Execution, user: User, type: str, **kwargs: Any) -> Execution:
    ex.refresh_from_db()
    return services.execution_signal(execution=ex, user=user, type=type, reason=kwargs.get("reason", ""),
                                     data=kwargs.get("data"))


def runs(ex: Execution, node_id: str) -> list[tuple[int, str]]:
    return list(NodeRun.objects.filter(execution=ex, node_id=node_id).order_by("seq").values_list("attempt", "status"))


# -- pause / resume -------------------------------------------------------------------------------
def test_pause_without_cleanup_lets_running_node_runs_finish_and_starts_nothing_new(alice: User) -> None:
    d = definition([START, {"id": "slow", "type": "delay", "config": {"duration": 500}},
                    {"id": "next", "type": "set", "config": {"values": {"seen": "{{signal.approved}}"}}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{variables.seen}}"}}],
                   [("start", "slow"), ("slow", "next"), ("next", "out")])
    ex = start_run(alice, d)
    wait_node(ex, "slow", "running")
    signal(ex, alice, "pause", reason="Awaiting approval")
    ex = wait_status(ex, {"paused"})
    assert ex.state["pauseReason"] == "Awaiting approval"
    # The running delay finishes and keeps its result; the next node does not start.
    wait_node(ex, "slow", "succeeded")
    time.sleep(0.4)
    assert status_of(ex) == "paused"
    assert runs(ex, "next") in ([], [(1, "queued")])  # ready, but not started while paused
    assert not NodeRun.objects.filter(execution=ex, node_id="next", started_at__isnull=False).exists()
    resumed_at = time.time()
    signal(ex, alice, "resume", data={"approved": True, "approver": "user@example.com"})
    ex = wait_status(ex, {"succeeded", "failed"})
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"out": True}  # resume data is `{{signal}}` for later nodes
    assert runs(ex, "slow") == [(1, "succeeded")]
    assert NodeRun.objects.get(execution=ex, node_id="next").started_at.timestamp() >= resumed_at - 0.05
    types = list(Event.objects.filter(execution=ex).order_by("seq").values_list("type", flat=True))
    assert types.count("signal") == 2
    assert "execution.paused" in types and "execution.resumed" in types


def test_pause_with_cleanup_interrupts_and_reruns_on_resume(alice: User) -> None:
    d = definition([START, {"id": "slow", "type": "delay", "config": {"duration": 5000}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{slow}}"}}],
                   [("start", "slow"), ("slow", "out")],
                   signalHandlers={"pause": {"action": "pause", "cleanup": True}})
    ex = start_run(alice, d, {"k": 7})
    wait_node(ex, "slow", "running")
    signal(ex, alice, "pause", reason="maintenance")
    ex = wait_status(ex, {"paused"})
    interrupted = wait_node(ex, "slow", "cancelled")
    assert "interrupted by pause" in interrupted.error["message"]
    assert runs(ex, "slow") == [(1, "cancelled"), (2, "queued")]  # re-queued, not started while paused
    time.sleep(0.3)
    assert runs(ex, "slow") == [(1, "cancelled"), (2, "queued")]
    signal(ex, alice, "resume")
    wait_node(ex, "slow", "running")
    assert status_of(ex) == "running"


# -- cancel, rollback, notify ----------------------------------------------------------------------
def booking_definition(**handlers: Any) -> dict[str, Any]:
    undo = {"type": "transform", "config": {"operation": "passthrough"}}
    return definition(
        [START,
         {"id": "hotel", "type": "set", "config": {"values": {"hotel": "H-1"}, "compensate": "undo_hotel"}},
         {"id": "flight", "type": "set", "config": {"values": {"flight": "F-2"}, "compensate": "undo_flight"}},
         {"id": "note", "type": "log", "config": {"message": "booked"}},
         {"id": "charge", "type": "delay", "config": {"duration": 10000, "compensate": "refund"}},
         {"id": "undo_hotel", "name": "Cancel hotel", **undo},
         {"id": "undo_flight", "name": "Cancel flight", **undo},
         {"id": "refund", **undo}],
        [("start", "hotel"), ("hotel", "flight"), ("flight", "note"), ("note", "charge")],
        signalHandlers=handlers or {"cancel": {"action": "cancel", "rollback": True, "notify": ["admin@company.com"]}},
    )


def test_cancel_with_rollback_compensates_in_reverse_finish_order_and_notifies(alice: User) -> None:
    ex = start_run(alice, booking_definition())
    charge = wait_node(ex, "charge", "running")
    signal(ex, alice, "cancel", reason="User requested cancellation")
    ex = wait_status(ex, {"cancelled", "failed", "succeeded"})
    assert ex.status == "cancelled"
    # The running node run was cancelled (and, not having succeeded, is not compensated).
    assert runs(ex, "charge") == [(1, "cancelled")]
    assert runs(ex, "refund") == []
    comp = list(NodeRun.objects.filter(execution=ex, node_id__in=["undo_hotel", "undo_flight"]).order_by("seq"))
    assert [(r.node_id, r.status) for r in comp] == [("undo_flight", "succeeded"), ("undo_hotel", "succeeded")]
    # Each compensation gets the compensated node's output as input, one after another.
    assert comp[0].input == {"flight": "F-2"} and comp[1].input == {"hotel": "H-1"}
    assert comp[0].finished_at <= comp[1].started_at
    assert comp[0].started_at >= charge.started_at
    assert ex.error["message"] == "User requested cancellation"
    assert [c["compensate"] for c in ex.error["rollback"]] == ["undo_flight", "undo_hotel"]
    assert ex.finished_at >= comp[1].finished_at
    events = list(Event.objects.filter(execution=ex).order_by("seq").values_list("type", flat=True))
    assert events.index("execution.rolling_back") < events.index("execution.cancelled")
    # notify: one e-mail through Django's mail backend (locmem under pytest).
    wait_for(lambda: len(mail.outbox) == 1, 5, "notify e-mail")
    assert mail.outbox[0].to == ["admin@company.com"]
    assert "cancelled" in mail.outbox[0].subject and "User requested cancellation" in mail.outbox[0].body
    # Sent after the rollback, so it reports how each compensation went.
    assert "Final status: cancelled" in mail.outbox[0].body
    assert "Compensation undo_flight for flight: succeeded" in mail.outbox[0].body
    assert "Compensation undo_hotel for hotel: succeeded" in mail.outbox[0].body


def test_a_failed_compensation_is_recorded_and_the_rollback_goes_on(alice: User) -> None:
    d = booking_definition(cancel={"action": "cancel", "rollback": True})
    for n in d["nodes"]:
        if n["id"] == "undo_flight":
            n.update(type="fail", config={"message": "airline API down"})
    ex = start_run(alice, d)
    wait_node(ex, "charge", "running")
    signal(ex, alice, "cancel")
    ex = wait_status(ex, {"cancelled", "failed", "succeeded"})
    assert ex.status == "cancelled"
    assert runs(ex, "undo_flight") == [(1, "failed")]
    assert runs(ex, "undo_hotel") == [(1, "succeeded")]
    assert [(c["compensate"], c["status"]) for c in ex.error["rollback"]] == [
        ("undo_flight", "failed"), ("undo_hotel", "succeeded")]
    assert len(mail.outbox) == 0  # no `notify` in this handler


def test_a_compensation_is_retried_by_its_own_retry_before_the_rollback_goes_on(alice: User) -> None:
    d = booking_definition(cancel={"action": "cancel", "rollback": True})
    for n in d["nodes"]:
        if n["id"] == "undo_flight":
            n.update(type="fail", config={"message": "airline API down",
                                          "retry": {"maxAttempts": 3, "initialDelay": 20}})
    ex = start_run(alice, d)
    wait_node(ex, "charge", "running")
    signal(ex, alice, "cancel")
    ex = wait_status(ex, {"cancelled", "failed", "succeeded"})
    assert ex.status == "cancelled"
    # Each try is a node run of its own; the rollback moves on only after the last one.
    assert runs(ex, "undo_flight") == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert runs(ex, "undo_hotel") == [(1, "succeeded")]
    last_try = NodeRun.objects.get(execution=ex, node_id="undo_flight", attempt=3)
    assert NodeRun.objects.get(execution=ex, node_id="undo_hotel").started_at >= last_try.finished_at
    assert [(c["compensate"], c["status"], c["nodeRunId"]) for c in ex.error["rollback"]] == [
        ("undo_flight", "failed", str(last_try.id)), ("undo_hotel", "succeeded", ANY)]


def test_cancel_without_rollback_cancels_running_node_runs_and_compensates_nothing(alice: User) -> None:
    d = booking_definition(cancel={"action": "cancel"})
    ex = start_run(alice, d)
    wait_node(ex, "charge", "running")
    signal(ex, alice, "cancel", reason="stop")
    ex = wait_status(ex, {"cancelled", "failed", "succeeded"})
    assert ex.status == "cancelled"
    assert runs(ex, "charge") == [(1, "cancelled")]
    assert not NodeRun.objects.filter(execution=ex, node_id__startswith="undo").exists()


def test_cancel_of_a_paused_execution_rolls_back_too(alice: User) -> None:
    ex = start_run(alice, booking_definition())
    wait_node(ex, "charge", "running")
    signal(ex, alice, "pause")
    wait_status(ex, {"paused"})
    signal(ex, alice, "cancel", reason="changed my mind")
    ex = wait_status(ex, {"cancelled", "failed", "succeeded"})
    assert ex.status == "cancelled"
    assert [c["compensate"] for c in ex.error["rollback"]] == ["undo_flight", "undo_hotel"]


# -- custom handlers --------------------------------------------------------------------------------
def test_custom_signal_runs_the_handler_node_while_the_execution_goes_on(alice: User) -> None:
    d = definition([START, {"id": "work", "type": "delay", "config": {"duration": 1200}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{work}}"}},
                    {"id": "update_priority_node", "type": "transform", "name": "Update priority",
                     "config": {"operation": "passthrough"}}],
                   [("start", "work"), ("work", "out")],
                   signalHandlers={"priority_change": {"action": "custom", "handler": "update_priority_node"}})
    ex = start_run(alice, d, {"job": 1})
    wait_node(ex, "work", "running")
    signal(ex, alice, "priority_change", data={"priority": "high"})
    handler = wait_node(ex, "update_priority_node", "succeeded", timeout=5)
    assert handler.input == {"priority": "high"} and handler.output == {"priority": "high"}
    assert NodeRun.objects.get(execution=ex, node_id="work").status == "running"  # the run went on meanwhile
    assert status_of(ex) == "running"
    ex = wait_status(ex, {"succeeded", "failed"})
    assert ex.status == "succeeded" and ex.output == {"out": {"job": 1}}
    assert runs(ex, "update_priority_node") == [(1, "succeeded")]
    sig = Event.objects.get(execution=ex, type="signal")
    assert sig.data["type"] == "priority_change" and sig.data["action"] == "custom"


def test_a_failing_custom_handler_is_retried_as_a_handler_and_the_flow_goes_on(alice: User) -> None:
    d = definition([START, {"id": "work", "type": "delay", "config": {"duration": 800}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{work}}"}},
                    {"id": "notify_crm", "type": "fail",
                     "config": {"message": "CRM down", "retry": {"maxAttempts": 2, "initialDelay": 20}}}],
                   [("start", "work"), ("work", "out")],
                   signalHandlers={"ping": {"action": "custom", "handler": "notify_crm"}})
    ex = start_run(alice, d, {"job": 2})
    wait_node(ex, "work", "running")
    signal(ex, alice, "ping", data={"n": 1})
    wait_for(lambda: runs(ex, "notify_crm") == [(1, "failed"), (2, "failed")], 10, "handler retried once")
    retry = NodeRun.objects.get(execution=ex, node_id="notify_crm", attempt=2)
    assert retry.input == {"n": 1}
    # The handler's failure is its own: the flow finishes as if nothing had happened.
    ex = wait_status(ex, {"succeeded", "failed"})
    assert ex.status == "succeeded" and ex.output == {"out": {"job": 2}}
    assert runs(ex, "notify_crm") == [(1, "failed"), (2, "failed")]


# -- custom signals while paused ------------------------------------------------------------------------
def paused_run_with_handlers(alice: User) -> Execution:
    """A run paused while its `work` runs; `prioritize` is a `set` handler (data only),
    `notify` a `delay` handler (node work)."""
    d = definition([START, {"id": "work", "type": "delay", "config": {"duration": 300}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{variables.priority}}"}},
                    {"id": "prioritize", "type": "set", "config": {"values": {"priority": "{{input.priority}}"}}},
                    {"id": "notify", "type": "delay", "config": {"duration": 20}}],
                   [("start", "work"), ("work", "out")],
                   variables={"priority": "normal"},
                   signalHandlers={"priority_change": {"action": "custom", "handler": "prioritize"},
                                   "ping": {"action": "custom", "handler": "notify"}})
    ex = start_run(alice, d)
    wait_node(ex, "work", "running")
    signal(ex, alice, "pause", reason="hold on")
    return wait_status(ex, {"paused"})


def test_a_custom_signal_while_paused_is_recorded_at_once_and_a_set_handler_takes_effect_before_the_resume(
        alice: User) -> None:
    ex = paused_run_with_handlers(alice)
    answer = signal(ex, alice, "priority_change", data={"priority": "high"})
    assert answer.status == "paused"
    # Delivered while paused: recorded in the event log, and the handler (data only) ran.
    wait_for(lambda: Event.objects.filter(execution=ex, type="signal", data__type="priority_change").exists(),
             5, "the signal's event")
    event = Event.objects.get(execution=ex, type="signal", data__type="priority_change")
    assert event.status == "paused" and event.data["action"] == "custom" and event.data["sentBy"] == "alice"
    handler = wait_node(ex, "prioritize", "succeeded", timeout=5)
    assert handler.input == {"priority": "high"} and handler.output == {"priority": "high"}
    assert status_of(ex) == "paused"
    ex.refresh_from_db()
    assert ex.state["variables"]["priority"] == "high"  # the run's variables, stored before the resume
    signal(ex, alice, "resume")
    ex = wait_status(ex, {"succeeded", "failed"})
    assert ex.status == "succeeded" and ex.output == {"out": "high"}


def test_a_custom_handler_that_does_node_work_is_queued_while_paused_and_starts_on_resume(alice: User) -> None:
    ex = paused_run_with_handlers(alice)
    signal(ex, alice, "ping", data={"n": 1})
    wait_for(lambda: Event.objects.filter(execution=ex, type="node.queued", node_id="notify").exists(), 5,
             "the handler queued")
    assert Event.objects.get(execution=ex, type="signal", data__type="ping").status == "paused"
    time.sleep(0.4)
    assert runs(ex, "notify") == [(1, "queued")]  # a paused run starts no node work
    resumed_at = time.time()
    signal(ex, alice, "resume")
    handler = wait_node(ex, "notify", "succeeded", timeout=5)
    assert handler.started_at.timestamp() >= resumed_at - 0.05 and handler.input == {"n": 1}
    ex = wait_status(ex, {"succeeded", "failed"})
    assert ex.status == "succeeded" and ex.output == {"out": "normal"}
    assert runs(ex, "notify") == [(1, "succeeded")]


def test_a_handler_queued_while_paused_survives_an_engine_restart(alice: User) -> None:
    ex = paused_run_with_handlers(alice)
    signal(ex, alice, "ping", data={"n": 2})
    wait_for(lambda: runs(ex, "notify") == [(1, "queued")], 5, "the handler queued")
    stop_engine(1)  # releases the paused run; the next engine takes it over
    start_engine()
    time.sleep(0.3)
    assert status_of(ex) == "paused" and runs(ex, "notify") == [(1, "queued")]
    signal(ex, alice, "resume")
    ex = wait_status(ex, {"succeeded", "failed"})
    assert ex.status == "succeeded"
    # The same queued row ran after the resume: the signal was not lost in the takeover.
    handler = wait_node(ex, "notify", "succeeded", timeout=5)
    assert runs(ex, "notify") == [(1, "succeeded")] and handler.input == {"n": 2}


def handler_run(**handler_config: Any) -> dict[str, Any]:
    """A run whose `work` takes a while; `ping` runs the `notify` handler: a `delay` by
    default, or the node given."""
    notify = {"id": "notify", "type": "delay", "config": {"duration": 1200}, **handler_config}
    return definition([START, {"id": "work", "type": "delay", "config": {"duration": 2500}},
                       {"id": "out", "type": "output", "name": "out", "config": {"value": "{{work}}"}}, notify],
                      [("start", "work"), ("work", "out")],
                      signalHandlers={"ping": {"action": "custom", "handler": "notify"}})


def test_a_handler_running_when_its_engine_stops_runs_again_on_the_next_engine_and_a_finished_one_does_not(
        alice: User) -> None:
    ex = start_run(alice, handler_run(config={"duration": 800}), {"job": 4})
    wait_node(ex, "work", "running")
    signal(ex, alice, "ping", data={"n": 1})
    wait_for(lambda: runs(ex, "notify") == [(1, "succeeded")], 5, "the first handler done")
    signal(ex, alice, "ping", data={"n": 2})
    wait_node(ex, "notify", "running")
    stop_engine(0.2)  # the handler is still running: the next engine takes the run over
    start_engine()
    ex = wait_status(ex, {"succeeded", "failed"})
    assert ex.status == "succeeded" and ex.output == {"out": {"job": 4}}
    # The interrupted handler ran again to its end, once; the one that had finished did not.
    wait_for(lambda: len(runs(ex, "notify")) == 3 and runs(ex, "notify")[-1][1] != "running", 5,
             "the handler run again")
    assert runs(ex, "notify") == [(1, "succeeded"), (2, "cancelled"), (3, "succeeded")]
    again = NodeRun.objects.get(execution=ex, node_id="notify", attempt=3)
    assert again.input == {"n": 2} and again.output == {"n": 2}
    interrupted = NodeRun.objects.get(execution=ex, node_id="notify", attempt=2)
    assert "interrupted" in interrupted.error["message"]
    assert "handlers" not in ex.state  # nothing is left for a later takeover to run


def test_a_handler_waiting_to_retry_when_its_engine_stops_keeps_its_retries_on_the_next_engine(
        alice: User) -> None:
    ex = start_run(alice, handler_run(type="fail", config={
        "message": "CRM down", "retry": {"maxAttempts": 3, "initialDelay": 1000}}), {"job": 5})
    wait_node(ex, "work", "running")
    signal(ex, alice, "ping", data={"n": 1})
    wait_for(lambda: runs(ex, "notify") == [(1, "failed"), (2, "retrying")], 5, "the handler waits to retry")
    stop_engine(0.2)
    start_engine()
    # Attempt 2 ran on the next engine, after the rest of its delay, and the third followed:
    # the same attempts as without the restart.
    wait_for(lambda: runs(ex, "notify") == [(1, "failed"), (2, "failed"), (3, "failed")], 10,
             "the handler's retries")
    first, second, _ = NodeRun.objects.filter(execution=ex, node_id="notify").order_by("seq")
    assert second.input == {"n": 1} and second.error["message"] == "CRM down"
    assert (second.started_at - first.finished_at).total_seconds() >= 0.95
    ex = wait_status(ex, {"succeeded", "failed"})
    assert ex.status == "succeeded" and ex.output == {"out": {"job": 5}}
    assert "handlers" not in ex.state


# -- approvals ----------------------------------------------------------------------------------------
def approval_definition(approval_config: dict[str, Any]) -> dict[str, Any]:
    return definition(
        [START, {"id": "approve", "type": "approval", "name": "Manager approval", "config": approval_config},
         {"id": "out", "type": "output", "name": "decision", "config": {"value": "{{approve}}"}}],
        [("start", "approve"), ("approve", "out")],
    )


def test_approval_waits_for_an_approver_and_outputs_the_resume_data(alice: User, bob: User) -> None:
    ex = start_run(alice, approval_definition({"approvers": ["alice@example.com"]}))
    ex = wait_status(ex, {"paused"})
    assert ex.state["pauseReason"] == "Awaiting approval"
    waiting = ex.state["awaiting"]
    assert waiting["nodeId"] == "approve" and waiting["approvers"] == ["alice@example.com"]
    assert NodeRun.objects.get(execution=ex, node_id="approve").status == "running"
    with pytest.raises(services.SignalForbidden, match="not an approver"):
        signal(ex, bob, "resume", data={"approved": True})
    signal(ex, alice, "resume", data={"approved": False, "comment": "too expensive"})
    ex = wait_status(ex, {"succeeded", "failed"})
    assert ex.output == {"decision": {"approved": False, "comment": "too expensive"}}
    assert "awaiting" not in ex.state
    paused = Event.objects.filter(execution=ex, type="execution.paused").first()
    assert paused is not None and paused.node_id == "approve" and paused.data["approval"] is True


@pytest.mark.parametrize(("on_timeout", "status", "output"), [
    ("reject", "succeeded", {"decision": {"approved": False, "timedOut": True}}),
    ("continue", "succeeded", {"decision": {"timedOut": True}}),
    ("error", "failed", None),
])
def test_approval_timeout(alice: User, on_timeout: str, status: str, output: Any) -> None:
    ex = start_run(alice, approval_definition({"timeout": 400, "onTimeout": on_timeout}))
    wait_status(ex, {"paused"})
    ex = wait_status(ex, {"succeeded", "failed", "cancelled", "timed_out"}, timeout=10)
    assert ex.status == status, ex.error
    if output is not None:
        assert ex.output == output
    else:
        assert runs(ex, "approve") == [(1, "timed_out")]
    assert "awaiting" not in ex.state
