"""Writes on executions (HackSoft style): views and admin call these, never the models."""

from __future__ import annotations

import json
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from editor.models import Workflow, WorkflowVersion
from editor.services import InvalidDefinition
from engine.core.bounded import BoundedCache
from engine.core.branches import new_trace_id
from engine.core.graph import Graph, validate_definition
from engine.core.signals import handler_for, signal_refusal
from engine.core.tracecontext import new_trace_context
from engine.errors import Refusal
from engine.models import FINISHED_EXECUTION_STATUSES, Event, Execution, ExecutionPins, PendingSignal
from engine.redrive_replays import (
    NotRedrivable,
    redrive_offer,
    refuse_misplaced_items,
    refuse_what_a_replay_ran,
    replayed_text,
)
from engine.redrive_requests import BadRerun, node_run_rows, refuse_bad_selection
from engine.store.dead_letters import (
    latest_replayed_elsewhere,
    replayed_items,
    settle_dead_letters_of_redrive,
)
from engine.store.queue import queue_settings
from engine.store.sql import insert, insert_with_child


class QueueFull(Refusal):
    status_code = 429


class SignalNotApplicable(Refusal):
    status_code = 409


class SignalForbidden(SignalNotApplicable):
    """The signalling user may not send this signal (not an approver of the waiting approval)."""

    status_code = 403


class UnknownSignal(Refusal):
    status_code = 400


def _wake_engine(execution_id: Any, *, signal: bool = False) -> None:
    if settings.FLOWMAESTRO_EXECUTOR == "celery":
        _wake_celery(execution_id, signal=signal)
        return
    if not settings.FLOWMAESTRO_ENGINE_IN_PROCESS:
        return  # a separate `runengine` process polls the database
    from engine.runtime import start_engine

    engine = start_engine()
    if signal:
        engine.signal(execution_id)
    else:
        engine.submit(execution_id)  # coalesced: at most one claim waits in the engine


def _wake_celery(execution_id: Any, *, signal: bool) -> None:
    """Queue mode: a new run goes to the `executions` queue for a worker's coordinator to
    claim; a signal goes straight to the Redis list of the coordinator that owns the run
    (a run nobody owns yet gets its signals when it is claimed)."""
    from engine.executors import celery_executor, redis_lists
    from flowmaestro.celery import app

    if not signal:
        # The reprs given: Celery would otherwise build them with its `saferepr` (a tenth of
        # the publish's CPU) for what is always one id.
        app.send_task(celery_executor.EXECUTION_TASK, args=[execution_id], queue=celery_executor.EXECUTION_QUEUE,
                      argsrepr=f"[{execution_id!r}]", kwargsrepr="{}")
        return
    owner = Execution.objects.filter(id=execution_id).values_list("engine_id", flat=True).first()
    if owner:
        redis_lists.send(settings.REDIS_URL, owner, {"t": "signal", "e": execution_id})


# Validation results of versions already run. Versions are immutable, so (id, created_at)
# names one definition for good (created_at also tells apart a version id reused after a
# rolled-back transaction); re-validating a 200-node definition on every run cost ~8 ms.
_VALIDATED: BoundedCache[tuple[Any, Any], list[dict[str, Any]]] = BoundedCache(10_000)
# The same by content (a duplicated workflow, an unchanged re-save): fewer, as the keys are whole definitions.
_VALIDATED_CONTENT: BoundedCache[str, list[dict[str, Any]]] = BoundedCache(256)


def _version_errors(version: WorkflowVersion) -> list[dict[str, Any]]:
    """Validation depends only on the definition and the node types of this process: it is
    remembered per version and, for a version not seen yet, per content (encoding costs a
    fraction of validating a big graph, and a duplicated workflow or an unchanged re-save
    is then free)."""
    key = (version.pk, version.created_at)
    errors = _VALIDATED.get(key)
    if errors is None:
        try:
            content: str | None = json.dumps(version.definition, sort_keys=True)
        except (TypeError, ValueError):
            content = None
        errors = _VALIDATED_CONTENT.get(content) if content is not None else None
        if errors is None:
            errors = list(validate_definition(version.definition).errors)
        _VALIDATED.put(key, errors)
        if content is not None:
            _VALIDATED_CONTENT.put(content, errors)
    return errors


def run_until_errors(definition: Any, node_id: str) -> list[dict[str, Any]]:
    """Why a run cannot stop at `node_id` ("Run to here"): not a node of the definition, or
    a node no run reaches (a custom signal handler alone on the canvas)."""
    shown = node_id if len(node_id) <= 80 else node_id[:80] + "…"
    graph = Graph.from_definition(definition)  # a valid version: checked before
    if node_id not in graph.nodes:
        return [{"message": f"runUntil: {shown!r} is not a node of this version", "nodeId": node_id[:200]}]
    top, seen = node_id, {node_id}
    while (parent := graph.nodes[top].parent_id) is not None and parent not in seen:
        top = parent
        seen.add(top)
    if top not in graph.scopes[None].order:
        return [{"message": f"runUntil: no run reaches {shown!r} (nothing leads to it from Start)",
                 "nodeId": node_id}]
    return []


def execution_start(
    *, workflow: Workflow, user: Any, input: Any = None, priority: int = 0, version: WorkflowVersion | None = None,
    traceparent: str | None = None, pinned: dict[str, Any] | None = None, run_until: str | None = None,
    reused: dict[str, Any] | None = None,
) -> Execution:
    """Queue a run of the workflow's current version (or `version`), pinned to it.
    `traceparent` (W3C, e.g. from a webhook call) makes the caller's span its parent.
    `pinned`: {node id: output} of pinned test data (editor.pins) this run uses instead of
    running those nodes; stored with the execution (`ExecutionPins`), so that what the run
    uses is fixed when it is recorded (a later pin edit, a restart or a takeover changes
    nothing). `{}` (asked for pins, none pinned) still records the row: a test run.
    `run_until`: a node id — "Run to here" (engine.core.run_until): only that node and the
    nodes it needs run; kept in the state.
    `reused`: {"from": execution id, "nodes": [...]}: pins that are an earlier run's outputs (engine.reuse)."""
    version = version or workflow.current_version()
    if version is None:
        raise InvalidDefinition([{"message": "the workflow has no saved version"}])
    errors = _version_errors(version)
    if not errors and run_until is not None:
        errors = run_until_errors(version.definition, run_until)
    if errors:
        raise InvalidDefinition(errors)
    queue = queue_settings(version.definition)
    max_size = queue.get("maxSize")
    # Without a size limit the two inserts are one statement (engine.store.sql.insert_with_child),
    # atomic by itself: no transaction around it.
    # With pins, their row commits with the execution: an engine that claims the run at
    # once must find them.
    with transaction.atomic() if max_size or pinned is not None else nullcontext():
        if max_size:
            waiting = Execution.objects.filter(workflow=workflow, status="queued").count()
            if waiting >= int(max_size):
                raise QueueFull(
                    f"queue full: {waiting} runs of this workflow are already waiting (queue.maxSize={max_size})"
                )
        # Born with its first event's seq, so the write is two inserts. A run belongs to the
        # workflow's owner whoever starts it: one that staff started (run, retry, replay)
        # used to belong to staff, so the owner could not see a run of their own workflow,
        # nor open the execution of a dead letter they could see. Who started it is kept on
        # the first event when it was someone else.
        execution = Execution(
            workflow=workflow, version=version, owner_id=workflow.owner_id,
            status="queued", priority=int(priority or 0), input=input if input is not None else {},
            trace_id=new_trace_id(), last_seq=1,
            state={"otel": new_trace_context(traceparent),
                   **({"runUntil": run_until} if run_until is not None else {}),
                   **({"reused": reused} if reused and pinned else {})},
        )
        started_by = ({"startedBy": user.get_username()}
                      if user is not None and user.pk != workflow.owner_id else None)
        insert_with_child(execution, Event(seq=1, type="execution.queued", ts=timezone.now(),
                                           trace_id=execution.trace_id, status="queued", data=started_by),
                          "execution")
        if pinned is not None:
            ExecutionPins.objects.create(execution=execution, data=pinned)
    transaction.on_commit(lambda: _wake_engine(execution.id))
    return execution


VERSION_CHOICES = ("original", "latest")
_UNSET: Any = object()


def version_for_rerun(*, workflow: Workflow, original: WorkflowVersion | None, choice: str) -> WorkflowVersion | None:
    """The version a re-run (retry or replay) runs: the one the failed run was pinned to, or
    the workflow's current one (to re-run after fixing the workflow in a new version)."""
    if choice not in VERSION_CHOICES:
        raise BadRerun(f"version must be one of {', '.join(VERSION_CHOICES)}, not {choice!r}")
    if choice == "latest" or original is None:
        return workflow.current_version()
    return original


def execution_retry(
    *, execution: Execution, user: Any, version: str = "original", input: Any = _UNSET
) -> Execution:
    """A new run of the same workflow: its original version (or the latest) with the
    original input (or `input`, e.g. edited in the re-run dialog) and priority."""
    chosen = version_for_rerun(workflow=execution.workflow, original=execution.version, choice=version)
    # A test run that used pinned data is retried with the same pins (its snapshot); any
    # other run never gets pins, whatever is pinned now.
    state = execution.state if isinstance(execution.state, dict) else {}
    pinned = execution_pinned(execution, test_run=True)
    # A run to one node is re-run to the same node (refused, naming it, if the chosen
    # version no longer has it): a re-run of a test step must not become a whole run.
    run_until = state.get("runUntil")
    # Reused outputs (among its pins) go with it, less those another version made stale.
    reused = state.get("reused") if isinstance(pinned, dict) and isinstance(run_until, str) else None
    if (isinstance(reused, dict) and chosen is not None and chosen.pk != execution.version_id
            and not _version_errors(chosen) and not run_until_errors(chosen.definition, str(run_until))):
        from engine.reuse import still_reusable

        pinned, reused = still_reusable(execution, chosen, run_until, pinned, reused)
    if isinstance(reused, dict) and input is not _UNSET and input != execution.input:
        from engine.reuse import not_reused  # they were the old input's outputs: run again

        pinned, reused = not_reused(pinned, reused), None
    return execution_start(
        workflow=execution.workflow, user=user, input=execution.input if input is _UNSET else input,
        priority=execution.priority, version=chosen, pinned=pinned,
        run_until=run_until if isinstance(run_until, str) else None,
        reused=reused if isinstance(reused, dict) else None,
    )


def execution_pinned(execution: Execution, *, test_run: bool = False) -> dict[str, Any] | None:
    """The pinned test data `execution` was recorded with, or None (it used none; with
    `test_run`, `{}` for a test run that had none, None only for a run that never asked)."""
    found = ExecutionPins.objects.filter(execution=execution).values_list("data", flat=True).first()
    if found is None and isinstance(execution.state, dict):
        found = execution.state.get("pinned")  # recorded before the pins had a row of their own
    return found if isinstance(found, dict) and (found or test_run) else None


REDRIVABLE = ("failed", "cancelled", "timed_out")


def execution_redrive(
    *, execution: Execution, user: Any, version: str = "original", nodes: list[str] | None = None,
    items: dict[str, list[int]] | None = None, leave_out_replayed: bool = False, pins_now: bool = False,
) -> Execution:
    """A new attempt of the same execution that re-runs only what did not succeed (or the
    chosen `nodes` / loop `items`) and what depends on it, keeping every succeeded node run
    and loop item (engine.core.redrive). Same id and trace ids; `version="latest"` moves the
    execution to the workflow's current version first (to redrive after a fix).

    A succeeded execution can be redriven as a whole too when something in it did not
    succeed: loop items (or branches) left out by `onPartialFailure: "continue"`.

    `leave_out_replayed` (without a selection): the failed loop items whose dead letters were
    replayed as other executions are not run again but kept, as replayed (they do not fail
    their loop again: engine.core.loop_results); without it such a redrive is refused (409),
    as API clients expect since it would run them a second time. What the run page's
    "Redrive failed" sends (`redrive_offer`). `pins_now`: editor.pins.pins_for_rerun."""
    from editor.pins import pins_for_rerun
    from engine.core.redrive import in_version, rerun_keys
    from engine.models import DeadLetter, NodeRun

    selective = bool(nodes) or bool(items)
    if execution.status not in REDRIVABLE and execution.status != "succeeded":
        raise NotRedrivable(
            f"execution is {execution.status}: only a finished execution can be redriven"
            + ("" if execution.status not in ("queued", "running", "paused") else " (wait for it to finish)")
        )
    chosen = version_for_rerun(workflow=execution.workflow, original=execution.version, choice=version)
    if chosen is None:
        raise BadRerun("the workflow has no saved version")
    if chosen.pk != execution.version_id:
        errors = _version_errors(chosen)
        if errors:
            raise InvalidDefinition(errors)
    graph = Graph.from_definition(chosen.definition)
    refuse_bad_selection(execution, graph, number=chosen.number, nodes=nodes, items=items)
    new_pins = pins_for_rerun(execution=execution, definition=chosen.definition) if pins_now else None
    queue = queue_settings(chosen.definition)
    with transaction.atomic():
        row = (Execution.objects.select_for_update().filter(pk=execution.pk)
               .values("status", "state", "last_seq", "failed_nodes", "failed_items", "finished_at").first())
        if row is None or row["status"] != execution.status:
            raise NotRedrivable("the execution changed meanwhile; reload it and try again")
        state = dict(row["state"] or {})
        previous = state.get("redrive") or {}
        # The engine's count at the run's end is exactly what a redrive without a selection
        # re-runs (engine.core.redrive.redrives): none, and a succeeded run has nothing to redo.
        if execution.status == "succeeded" and not selective and not (row["failed_nodes"] or row["failed_items"]):
            raise NotRedrivable("execution is succeeded and nothing in it failed: "
                                "choose nodes or items to re-run parts of it")
        # The run's open dead letters locked before anything is judged: a replay of one of
        # them holds its row until it commits, and on PostgreSQL a redrive that looked
        # meanwhile saw no replay, then marked the letter its own once the replay committed,
        # and both ran the work (tests/security/test_redrive_replay_race.py). Waiting here,
        # the checks below see the replay, and a replay asked after this sees the settled
        # letter. (Replays lock only their letter, never the execution: no lock cycle.)
        list(DeadLetter.objects.select_for_update().filter(
            execution_id=execution.pk, replayed_at__isnull=True, discarded_at__isnull=True).values_list("pk", flat=True))
        # Dead letters replayed as other executions (none in most runs: one query).
        letters = latest_replayed_elsewhere(execution)
        rows = node_run_rows(execution.pk) if letters else []
        leave_out: dict[str, list[int]] | None = None
        if not selective:
            if leave_out_replayed and letters:
                offer = redrive_offer(execution, graph, rows, letters)
                if offer is not None and not (offer["failedNodes"] or offer["failedItems"]):
                    raise NotRedrivable(f"nothing left to redrive: {offer['reason']}",
                                        [{"message": replayed_text(x), **({"nodeId": x["nodeId"]} if x["nodeId"] else {})}
                                         for x in offer["replayed"][:5]])
                leave_out = {loop: sorted(indexes) for loop, indexes in
                             replayed_items([x for x in letters if x.kind == "item"]).items()} or None
            refuse_what_a_replay_ran(execution, graph, new_version=chosen.pk != execution.version_id,
                                      letters=letters, rows=rows, leave_out=leave_out)
        if chosen.pk != execution.version_id:
            rows = rows or node_run_rows(execution.pk)
            refuse_misplaced_items(graph, rows, number=chosen.number, nodes=nodes, items=items,
                                   after_success=execution.status == "succeeded", leave_out=leave_out)
        kept_replayed: dict[str, dict[str, int | None]] | None = None
        if letters:
            # Replayed items this redrive keeps (not chosen, or left out): they end as
            # replayed, not as this run's failures (engine.core.loops).
            rerun_now = rerun_keys(graph, rows, nodes=nodes, items=items, new_version=chosen.pk != execution.version_id,
                                   after_success=execution.status == "succeeded", leave_out=leave_out)
            running = {(loop, int(index)) for scope, _ in rerun_now if scope
                       for loop, _, index in [scope.rpartition("/")[2].partition("#")] if index.isdigit()}
            kept_replayed = {loop: {str(i): x for i, x in found.items() if (loop, i) not in running}
                             for loop, found in replayed_items(letters).items()}
            kept_replayed = {loop: found for loop, found in kept_replayed.items() if found} or None
        since = NodeRun.objects.filter(execution_id=execution.pk).order_by("-seq").values_list("seq", flat=True).first() or 0
        # Where runs before the `failed_items` column kept it (engine migration 0007).
        state.pop("failedItems", None)
        number = int(previous.get("number") or 0) + 1
        state["redrive"] = {
            "number": number, "sinceSeq": since, "pending": True, "nodes": list(nodes or []) or None,
            "items": {k: sorted({int(i) for i in v}) for k, v in (items or {}).items()} or None,
            "version": chosen.number, "newVersion": chosen.pk != execution.version_id,
            # Its cancelled top-level node runs were cut by design: kept (engine.core.redrive).
            "afterSuccess": execution.status == "succeeded",
            "leaveOut": leave_out, "replayed": kept_replayed,
            "by": getattr(user, "username", "") or "",
            # Which version each attempt ran on: the execution keeps only the latest, and a
            # redrive on "latest" moves it (the node runs before it ran on `fromVersion`).
            "history": [*previous.get("history", []), {
                "number": number, "sinceSeq": since, "at": timezone.now().isoformat(),
                "version": chosen.number, "fromVersion": execution.version.number,
                "by": getattr(user, "username", "") or ""}],
        }
        max_size = queue.get("maxSize")
        if max_size:
            waiting = Execution.objects.filter(workflow_id=execution.workflow_id, status="queued").count()
            if waiting >= int(max_size):
                raise QueueFull(f"queue full: {waiting} runs of this workflow are already waiting "
                                f"(queue.maxSize={max_size}); redrive it once the queue has room")
        if DeadLetter.objects.filter(execution_id=execution.pk, replayed_at__isnull=True,
                                     discarded_at__isnull=True).exists():
            # What the engine will re-run, decided as it will decide it (engine.core.history),
            # from the rows read above if any (the finished run's rows cannot change under
            # its lock).
            rows = rows or node_run_rows(execution.pk)
            rerun = rerun_keys(graph, rows, nodes=state["redrive"]["nodes"], items=state["redrive"]["items"],
                               new_version=state["redrive"]["newVersion"],
                               after_success=state["redrive"]["afterSuccess"], leave_out=leave_out)
            if state["redrive"]["newVersion"]:
                # An item of a loop this version lacks runs nowhere: its letter stays open
                # (it said "redriven in #N", and the failed work dropped out of sight).
                rerun = in_version(graph, rerun)
            settle_dead_letters_of_redrive(execution=execution, rerun=rerun)
        seq = row["last_seq"] + 1
        # The time the run sat finished until now is no part of how long it took (the
        # list's Duration and the run page's Elapsed leave it out).
        asked = timezone.now()
        idle = max(0, int((asked - row["finished_at"]).total_seconds() * 1000)) if row["finished_at"] else 0
        Execution.objects.filter(pk=execution.pk).update(
            status="queued", version=chosen, output=None, error=None, finished_at=None, engine_id="",
            heartbeat_at=None, state=state, last_seq=seq, traced_at=None,
            # The engine counts again when this attempt ends.
            failed_nodes=0, failed_items=0,
            redrives=number, redriven_at=asked, idle_ms=F("idle_ms") + idle,
        )
        insert(Event(execution_id=execution.pk, seq=seq, type="execution.queued", ts=timezone.now(),
                           trace_id=execution.trace_id, status="queued",
                           data={"reason": "redrive", "redrive": number}))
        if new_pins is not None:  # with the redrive: it, and any takeover of it, read these
            ExecutionPins.objects.update_or_create(execution_id=execution.pk, defaults={"data": new_pins})
    transaction.on_commit(lambda: _wake_engine(execution.pk))
    execution.refresh_from_db()
    return execution


APPLICABLE = {
    "pause": ("running",),
    "resume": ("paused",),
    "cancel": ("queued", "running", "paused"),
}


def execution_signal(
    *, execution: Execution, user: Any, type: str, reason: str = "", data: Any = None
) -> Execution:
    """Accept a signal for the engine that owns the run (it applies and records it)."""
    settings_ = (execution.version.definition or {}).get("settings") or {}
    handler = handler_for(settings_, type)
    if handler is None:
        raise UnknownSignal(f"unknown signal type {type!r}: no handler in settings.signalHandlers")
    action = handler.get("action", type)
    allowed = APPLICABLE.get(action)
    if execution.status in FINISHED_EXECUTION_STATUSES:
        raise SignalNotApplicable(f"execution is {execution.status}; signals no longer apply")
    if allowed is not None and execution.status not in allowed:
        raise SignalNotApplicable(f"cannot {action} an execution that is {execution.status}")
    refusal = signal_refusal(execution.state, action, username=getattr(user, "username", "") or "",
                             email=getattr(user, "email", "") or "")
    if refusal is not None:
        kind, message = refusal
        raise (SignalForbidden if kind == "forbidden" else SignalNotApplicable)(message)
    if action == "cancel" and execution.status == "queued":
        # Nothing runs yet: cancel right here.
        with transaction.atomic():
            updated = Execution.objects.filter(id=execution.id, status="queued").update(
                status="cancelled", finished_at=timezone.now(), error={"message": reason or "cancelled"}
            )
        if updated:
            execution.refresh_from_db()
            return execution
    PendingSignal.objects.create(
        execution=execution, type=type, reason=reason or "", data=data,
        sent_by=getattr(user, "username", "") or "",
    )
    transaction.on_commit(lambda: _wake_engine(execution.id, signal=True))
    execution.refresh_from_db()
    return execution
