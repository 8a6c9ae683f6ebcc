"""Persistent state of runs: executions, node runs (one row per attempt), the append-only
event log (gap-free `seq` per execution), pending signals and dead letters.

The engine core (`engine.core`) never imports this module; `engine.store` maps core state
onto these rows, writing first and announcing after the commit.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from engine import wire
from engine.fields import ReadableJSONField


class ExecutionStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


FINISHED_EXECUTION_STATUSES = ("succeeded", "failed", "cancelled", "timed_out")


class NodeRunStatus(models.TextChoices):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class Execution(models.Model):
    workflow = models.ForeignKey("editor.Workflow", on_delete=models.CASCADE, related_name="executions")
    version = models.ForeignKey("editor.WorkflowVersion", on_delete=models.PROTECT, related_name="executions")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="executions")
    status = models.CharField(max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.QUEUED)
    priority = models.IntegerField(default=0)
    input = ReadableJSONField(default=dict, blank=True)
    output = ReadableJSONField(null=True, blank=True)
    error = ReadableJSONField(null=True, blank=True)
    trace_id = models.CharField(max_length=32, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Which engine process drives this execution and when it last said so: a stale
    # heartbeat lets another engine take over (compare-and-set on these two columns).
    engine_id = models.CharField(max_length=100, blank=True, default="", db_index=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Run-scoped state that is not a node run: variables set by `set` nodes, the data of
    # the last resume signal, the pause reason.
    state = ReadableJSONField(default=dict, blank=True)
    last_seq = models.PositiveIntegerField(default=0)
    # Set when retention compacted the event log of this finished execution to what the
    # timeline needs (execution-level, signal and log events; node runs keep the bars).
    compacted_at = models.DateTimeField(null=True, blank=True)
    # Set when its spans were handed to the OpenTelemetry exporter (engine.tracing).
    traced_at = models.DateTimeField(null=True, blank=True)
    # What a redrive without a selection would re-run, counted by the engine when the run
    # ends (engine.core.execution `redrivable`), in the same UPDATE as its end: top-level
    # node runs and loop items that did not succeed. Columns of their own, so that a list
    # of runs never reads (on PostgreSQL: detoasts) each run's `state` for them.
    failed_nodes = models.PositiveIntegerField(default=0)
    failed_items = models.PositiveIntegerField(default=0)
    # Redrives (engine.services.execution_redrive): how many, when the latest was asked for,
    # and the time the run sat finished between an attempt's end and the redrive that began
    # the next one, summed (ms). That idle time is no part of how long the run took: a run
    # that failed on Monday and was redriven on Tuesday is not a day long. Columns, like the
    # counts above, so that the Executions list and its stream need not read `state`.
    redrives = models.PositiveIntegerField(default=0)
    redriven_at = models.DateTimeField(null=True, blank=True)
    idle_ms = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "workflow"]),
            models.Index(fields=["owner", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"Execution {self.pk} {self.trace_id} ({self.status})"


class ExecutionPins(models.Model):
    """The pinned test data (editor.pins) one execution runs with, {node id: output}, fixed
    when the execution is recorded (engine.services.execution_start). A row of its own, not
    a key of `Execution.state`: the engine rewrites the whole state at every save, and the
    pins (up to FLOWMAESTRO_PINNED_DATA_PER_WORKFLOW × FLOWMAESTRO_PINNED_DATA_MAX_BYTES)
    would be rewritten with it every time. Only test runs that use pins have a row; the
    engine reads it with the execution when it claims or takes the run over."""

    execution = models.OneToOneField(Execution, primary_key=True, on_delete=models.CASCADE, related_name="pins")
    data = ReadableJSONField(default=dict)

    def __str__(self) -> str:
        return f"pinned data of execution {self.execution_id}"


class NodeRun(models.Model):
    # Ids are made by the engine (uuid hex) so that a node run and the events that name it
    # can be written in the same batch without a round trip.
    id = models.CharField(primary_key=True, max_length=32)
    # No index of its own: the (execution, seq) and (execution, status) indexes serve every
    # look-up by execution, and each index is one more B-tree write per node run.
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="node_runs", db_index=False)
    node_id = models.CharField(max_length=100)
    name = models.CharField(max_length=200, blank=True, default="")
    type = models.CharField(max_length=40)
    # Where in the run this node run lives: "" for the top-level graph, "loop#3" for item 3
    # of the loop node `loop`, "outer#1/inner#0" when loops nest.
    # Scope, branch id and trace id are text without a width: they grow with how deep loops
    # and fan-outs nest, which nothing but the size of a definition bounds, and a width here
    # failed every run of a deep workflow on PostgreSQL ("value too long").
    scope = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=NodeRunStatus.choices, default=NodeRunStatus.QUEUED)
    attempt = models.PositiveIntegerField(default=1)
    iteration = models.IntegerField(null=True, blank=True)
    branch_id = models.TextField(default="main")
    branch_name = models.CharField(max_length=200, default="main")
    trace_id = models.TextField()
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    input = ReadableJSONField(null=True, blank=True)
    output = ReadableJSONField(null=True, blank=True)
    error = ReadableJSONField(null=True, blank=True)
    # The output handle a condition chose (or "error" for a routed failure), kept so that a
    # restarted engine replays the same path.
    handle = models.CharField(max_length=20, blank=True, default="")
    claimed_by = models.CharField(max_length=100, blank=True, default="")
    # Its output is pinned test data (editor.pins): no body ran, the node run succeeded at
    # once with the pin. A column of its own: `claimed_by` says which engine holds the run.
    pinned = models.BooleanField(default=False)
    seq = models.PositiveIntegerField(default=0, help_text="order of creation within the execution")

    class Meta:
        ordering = ["execution", "seq"]
        indexes = [models.Index(fields=["execution", "seq"]), models.Index(fields=["execution", "status"])]

    def __str__(self) -> str:
        return f"{self.node_id} #{self.attempt} ({self.status})"


# Event types that the timeline reads by kind (engine.timeline): the run's status changes,
# for its paused intervals, and the signals as sent, for its signal log (the events API's
# `type` filter). A partial index holds them, so that reading them touches these few rows
# and not every event of a run with thousands of node runs.
STATUS_EVENT_TYPES = ("execution.paused", "execution.resumed",
                      *(f"execution.{status}" for status in sorted(FINISHED_EXECUTION_STATUSES)), "signal")


class Event(models.Model):
    # Indexed by the unique (execution, seq) constraint, which starts with it.
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="events", db_index=False)
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=40)
    ts = models.DateTimeField()
    node_id = models.CharField(max_length=100, blank=True, default="")
    node_run_id = models.CharField(max_length=32, blank=True, default="")
    branch_id = models.TextField(blank=True, default="")  # as wide as NodeRun's: see there
    branch_name = models.CharField(max_length=200, blank=True, default="")
    trace_id = models.TextField(blank=True, default="")
    attempt = models.PositiveIntegerField(null=True, blank=True)
    iteration = models.IntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, blank=True, default="")
    data = ReadableJSONField(null=True, blank=True)

    class Meta:
        ordering = ["execution", "seq"]
        constraints = [models.UniqueConstraint(fields=["execution", "seq"], name="unique_event_seq")]
        # Partial: only the rows read by kind or by node run (engine.timeline), not the
        # node.queued / node.started / node.succeeded bulk that every node run writes (an
        # index costs each insert it holds a row of). A loop node run's `node.started` is the
        # only one with data (its `itemCount`).
        indexes = [
            models.Index(fields=["execution", "seq"], name="event_status_seq",
                         condition=models.Q(type__in=STATUS_EVENT_TYPES)),
            models.Index(fields=["execution", "node_run_id", "seq"], name="event_log_seq",
                         condition=models.Q(type="log")),
            models.Index(fields=["execution", "node_run_id"], name="event_loop_started",
                         condition=models.Q(type="node.started", data__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.type}"

    def as_message(self) -> dict[str, object]:
        """The SPEC §8 wire shape of this event."""
        return wire.event_message({column: getattr(self, column) for column in wire.EVENT_COLUMNS})


class PendingSignal(models.Model):
    """A signal accepted by the API and not yet applied by the engine that owns the run.

    The API writes here and wakes the engine; the engine applies signals in id order and
    records each as a `signal` event, so the event log stays gap-free and single-writer.
    """

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="pending_signals")
    type = models.CharField(max_length=60)
    reason = models.TextField(blank=True, default="")
    data = ReadableJSONField(null=True, blank=True)
    sent_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]


class DeadLetterKind(models.TextChoices):
    RUN = "run"
    ITEM = "item"


class DeadLetter(models.Model):
    """A run or a loop item that failed after its retries, or waited in a queue past its
    `timeout`, kept because its queue has `deadLetterQueue: true` (SPEC §4.5).

    Nothing here is ever deleted by the engine: replay starts a new execution and records
    it, discard only marks the entry as dealt with.
    """

    # Null only when the run never existed as an execution the user could open (kept for
    # symmetry; runs expired from the workflow queue do have their execution row).
    execution = models.ForeignKey(
        Execution, null=True, blank=True, on_delete=models.SET_NULL, related_name="dead_letters"
    )
    workflow = models.ForeignKey("editor.Workflow", on_delete=models.CASCADE, related_name="dead_letters")
    kind = models.CharField(max_length=8, choices=DeadLetterKind.choices)
    # For a run: the run's input. For an item: the item itself.
    input = ReadableJSONField(null=True, blank=True)
    error = ReadableJSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    trace_id = models.TextField(blank=True, default="")  # as wide as NodeRun's: see there
    # Items only: the loop node and the item's position in the loop's array.
    node_id = models.CharField(max_length=100, blank=True, default="")
    item_index = models.IntegerField(null=True, blank=True)
    # Items of a loop inside a loop's body: the enclosing loops' items, e.g. "outer#2" for
    # inner item `outer#2/inner#0` ("" for a top-level loop, and letters kept before it).
    scope = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    replayed_at = models.DateTimeField(null=True, blank=True)
    replayed_execution = models.ForeignKey(
        Execution, null=True, blank=True, on_delete=models.SET_NULL, related_name="replay_of"
    )
    discarded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workflow", "-created_at"])]

    def __str__(self) -> str:
        return f"Dead letter {self.pk} ({self.kind}, {self.trace_id})"

    @property
    def item_path(self) -> str | None:
        """An item's full name, as its node runs' scopes have it: `loop#3`, `outer#2/inner#0`."""
        if self.kind != DeadLetterKind.ITEM:
            return None
        own = f"{self.node_id}#{self.item_index or 0}"
        return f"{self.scope}/{own}" if self.scope else own

    @property
    def state(self) -> str:
        if self.discarded_at is not None:
            return "discarded"
        if self.replayed_at is not None:
            return "replayed"
        return "open"


class RetentionRun(models.Model):
    """One pass of the retention job that removed or compacted something (admin: what was
    pruned, when, and how long it took)."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    executions_deleted = models.PositiveIntegerField(default=0)
    node_runs_deleted = models.PositiveIntegerField(default=0)
    events_deleted = models.PositiveIntegerField(default=0)
    executions_compacted = models.PositiveIntegerField(default=0)
    engine_id = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"retention {self.started_at:%Y-%m-%d %H:%M}: {self.executions_deleted} executions"
