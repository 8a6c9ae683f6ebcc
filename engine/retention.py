"""Retention: remove finished executions past their workflow's retention, and compact the
event logs of older finished executions to what the timeline needs.

Runs as a housekeeping job in every engine process (`engine.housekeeping`). Everything is
deleted in small batches by primary key, each batch its own short transaction with a pause
after it, so the engine's writer (on SQLite, the only other writer) never waits long and
no statement ever locks a whole table; a pass stops at its time budget and the next pass
goes on where it stopped. Several processes pruning at once only share the work.

What is kept: unfinished executions; executions with an open dead letter (not yet
replayed or discarded), until it is handled; and for compacted executions the node runs
(the timeline's bars), execution-level status events, signals and log lines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from editor.models import Workflow
from engine.models import (
    FINISHED_EXECUTION_STATUSES,
    DeadLetter,
    Event,
    Execution,
    NodeRun,
    PendingSignal,
    RetentionRun,
)

# Event types the timeline needs from a finished execution: its status changes (paused
# time is shaded from them), signals, and node runs' log lines (the side panel). Node
# lifecycle events repeat what the node-run rows already hold.
KEPT_EVENT_PREFIXES = ("execution.",)
KEPT_EVENT_TYPES = ("signal", "log")


@dataclass
class RetentionReport:
    executions_deleted: int = 0
    node_runs_deleted: int = 0
    events_deleted: int = 0
    executions_compacted: int = 0
    finished: bool = True  # False when the pass stopped at its budget with work left
    batches: list[float] = field(default_factory=list)  # seconds per delete batch

    @property
    def anything(self) -> bool:
        return bool(self.executions_deleted or self.events_deleted or self.executions_compacted)


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def _finished() -> QuerySet[Execution]:
    """Finished executions retention may remove: none with an open dead letter."""
    open_letters = DeadLetter.objects.filter(
        execution__isnull=False, replayed_at__isnull=True, discarded_at__isnull=True
    ).values("execution_id")
    return Execution.objects.filter(status__in=FINISHED_EXECUTION_STATUSES).exclude(pk__in=open_letters)


def expired_ids(now: datetime, limit: int) -> list[int]:
    """Ids of up to `limit` finished executions that retention removes, oldest first."""
    days = int(_setting("FLOWMAESTRO_RETENTION_DAYS", 30))
    keep_last = int(_setting("FLOWMAESTRO_RETENTION_KEEP_LAST", 0))
    ids: list[int] = []

    def take(qs: QuerySet[Execution]) -> None:
        if len(ids) < limit:
            ids.extend(qs.exclude(pk__in=ids).order_by("finished_at", "id").values_list("pk", flat=True)[: limit - len(ids)])

    # By age: workflows that follow the global setting, then each that sets its own.
    if days > 0:
        take(_finished().filter(workflow__retention_days__isnull=True, finished_at__lt=now - timedelta(days=days)))
    for wf_id, wf_days in Workflow.objects.filter(retention_days__gt=0).values_list("pk", "retention_days"):
        take(_finished().filter(workflow_id=wf_id, finished_at__lt=now - timedelta(days=wf_days or 0)))
    # By count: the runs of a workflow beyond its newest N (finished or not, newest first,
    # so a burst of queued runs does not push out the one that is still being looked at).
    overrides = dict(Workflow.objects.filter(retention_keep_last__isnull=False).values_list("pk", "retention_keep_last"))
    limits = [v for v in (keep_last, *overrides.values()) if v]
    if not limits:
        return ids[:limit]
    busy = Execution.objects.values("workflow_id").annotate(n=Count("id")).filter(n__gt=min(limits))
    for row in busy:
        keep = overrides.get(row["workflow_id"], keep_last)
        if not keep or row["n"] <= keep:
            continue
        newest = Execution.objects.filter(workflow_id=row["workflow_id"]).order_by("-created_at", "-id")
        cutoff = newest.values_list("created_at", "id")[keep - 1]
        take(_finished().filter(workflow_id=row["workflow_id"]).filter(
            Q(created_at__lt=cutoff[0]) | Q(created_at=cutoff[0], id__lt=cutoff[1])
        ))
        if len(ids) >= limit:
            break
    return ids[:limit]


def _delete_in_batches(qs: QuerySet[Any], report: RetentionReport, deadline: float, batch: int, pause: float) -> int:
    """Delete the rows of `qs` `batch` at a time (by primary key); answer how many."""
    model = qs.model
    total = 0
    while time.monotonic() < deadline:
        pks = list(qs.values_list("pk", flat=True)[:batch])
        if not pks:
            return total
        started = time.monotonic()
        deleted, _ = model.objects.filter(pk__in=pks).delete()
        report.batches.append(time.monotonic() - started)
        total += deleted
        time.sleep(pause)  # let the engine's writer in between batches
    report.finished = False
    return total


def prune(*, now: datetime | None = None, budget_s: float | None = None, batch: int | None = None,
          pause: float | None = None, engine_id: str = "") -> RetentionReport:
    """One retention pass: delete expired executions, then compact old ones' events."""
    now = now or timezone.now()
    started_at = timezone.now()
    budget = budget_s if budget_s is not None else _setting("FLOWMAESTRO_RETENTION_BUDGET", 2.0)
    batch = batch or int(_setting("FLOWMAESTRO_RETENTION_BATCH", 500))
    pause = pause if pause is not None else _setting("FLOWMAESTRO_RETENTION_PAUSE", 0.005)
    deadline = time.monotonic() + budget
    report = RetentionReport()

    while time.monotonic() < deadline:
        chunk = expired_ids(now, 50)
        if not chunk:
            break
        report.events_deleted += _delete_in_batches(
            Event.objects.filter(execution_id__in=chunk), report, deadline, batch, pause)
        report.node_runs_deleted += _delete_in_batches(
            NodeRun.objects.filter(execution_id__in=chunk), report, deadline, batch, pause)
        if not report.finished:
            break
        PendingSignal.objects.filter(execution_id__in=chunk).delete()
        # Handled dead letters go with their execution; open ones kept it from expiring.
        DeadLetter.objects.filter(execution_id__in=chunk).delete()
        deleted, by_model = Execution.objects.filter(pk__in=chunk).delete()
        report.executions_deleted += by_model.get(Execution._meta.label, 0)

    compact_days = _setting("FLOWMAESTRO_RETENTION_COMPACT_DAYS", 7)
    if compact_days > 0 and time.monotonic() < deadline:
        compactable = Execution.objects.filter(
            status__in=FINISHED_EXECUTION_STATUSES, compacted_at__isnull=True,
            finished_at__lt=now - timedelta(days=compact_days),
        )
        while time.monotonic() < deadline:
            chunk = list(compactable.order_by("finished_at", "id").values_list("pk", flat=True)[:50])
            if not chunk:
                break
            droppable = Event.objects.filter(execution_id__in=chunk).exclude(type__in=KEPT_EVENT_TYPES)
            for prefix in KEPT_EVENT_PREFIXES:
                droppable = droppable.exclude(type__startswith=prefix)
            report.events_deleted += _delete_in_batches(droppable, report, deadline, batch, pause)
            if not report.finished:
                break
            report.executions_compacted += Execution.objects.filter(pk__in=chunk).update(compacted_at=timezone.now())

    if time.monotonic() >= deadline:
        report.finished = False
    if report.anything:
        RetentionRun.objects.create(
            started_at=started_at, finished_at=timezone.now(), executions_deleted=report.executions_deleted,
            node_runs_deleted=report.node_runs_deleted, events_deleted=report.events_deleted,
            executions_compacted=report.executions_compacted, engine_id=engine_id,
        )
    return report
