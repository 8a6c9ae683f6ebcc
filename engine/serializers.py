"""Shapes of the execution API (SPEC §7): model fields mapped to camelCase."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from engine import wire
from engine.execution_values import bounded_value, value_cap
from engine.models import Execution
from engine.node_run_pages import NodeRunSerializer, execution_node_runs, status_counts
from flowmaestro.request_bodies import (
    JSONBooleanField,
    JSONIntegerField,
    JSONStringField,
    KnownKeysSerializer,
)
from flowmaestro.visibility import MAX_ID

TRUNCATED_HELP = (
    "The value, or when its JSON is over {cap} bytes (FLOWMAESTRO_PAGE_MAX_BYTES / 8) "
    '`{{"truncated": true, "size": <bytes>, "url": "/api/executions/<id>/<field>"}}`: '
    "that URL answers the whole value."
)


@extend_schema_field(OpenApiTypes.ANY)
class BoundedValueField(serializers.Field):  # type: ignore[type-arg]
    """An execution's `input`, `output`, `error` or `state`, cut beyond `value_cap()`
    bytes (engine.execution_values): read through `with_values`, a large one is never
    loaded at all."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", TRUNCATED_HELP.format(cap=value_cap()))
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, execution: Execution) -> Any:
        return bounded_value(execution, str(self.field_name))


class WaitingApprovalSerializer(serializers.Serializer[dict[str, Any]]):
    """(Schema only.) The approval a paused run waits at."""

    nodeId = serializers.CharField()
    name = serializers.CharField()


class ExecutionSummarySerializer(serializers.ModelSerializer[Execution]):
    """An execution without its node runs: the list endpoint's row (a loop over thousands
    of items would otherwise make every list page carry every item's node run)."""

    workflow = serializers.IntegerField(source="workflow_id")
    workflowName = serializers.CharField(source="workflow.name")
    version = serializers.IntegerField(source="version.number")
    traceId = serializers.CharField(source="trace_id")
    createdAt = serializers.DateTimeField(source="created_at")
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    input = BoundedValueField()
    output = BoundedValueField(allow_null=True)
    error = BoundedValueField(allow_null=True)
    # What "Redrive failed (…)" re-runs, counted by the engine when the run ended.
    failedNodes = serializers.IntegerField(
        source="failed_nodes", read_only=True,
        help_text="Top-level node runs (a failed, timed-out or cancelled branch) that did not succeed when the run "
                  "last ended and that a redrive without a selection re-runs; in a run that succeeded, one a race "
                  "or a join cut by design (cancelled) is not counted. 0 while it runs.")
    failedItems = serializers.IntegerField(
        source="failed_items", read_only=True,
        help_text="Loop items that did not succeed when the run last ended (a run that succeeded with "
                  "onPartialFailure \"continue\" can have some): a redrive without a selection re-runs them.")

    redrives = serializers.IntegerField(
        read_only=True, help_text="How many times the run was redriven (0: never).")
    redrivenAt = serializers.DateTimeField(
        source="redriven_at", read_only=True, allow_null=True, help_text="When the latest redrive was asked for.")
    idleMs = serializers.IntegerField(
        source="idle_ms", read_only=True,
        help_text="Milliseconds the run sat finished between an attempt's end and the redrive that began the next "
                  "one, summed: its active time is (finishedAt, or now) − startedAt − idleMs. 0 unless redriven.")

    waitingApproval = serializers.SerializerMethodField(
        help_text="The approval node a paused run waits at (`nodeId`, `name`), decided on its page or with "
                  "`POST /api/executions/{id}/signal` `resume`; null while running or when paused by a `pause` signal.")

    class Meta:
        model = Execution
        fields = [
            "id", "workflow", "workflowName", "version", "status", "priority", "input", "output", "error",
            "traceId", "createdAt", "startedAt", "finishedAt", "failedNodes", "failedItems", "redrives", "redrivenAt",
            "idleMs", "waitingApproval",
        ]
        read_only_fields = fields

    @extend_schema_field(WaitingApprovalSerializer(allow_null=True))
    def get_waitingApproval(self, execution: Execution) -> dict[str, Any] | None:
        if execution.status != "paused":
            return None
        # The list annotates its rows (wire.summary_expressions); the execution answer has
        # its state loaded already; anything else reads the two values.
        row: dict[str, Any] = vars(execution)
        state = row.get("state")
        if "awaiting_node" not in row and isinstance(state, dict):
            awaiting = state.get("awaiting")
            if not isinstance(awaiting, dict):
                return None
            return wire.waiting_approval(awaiting.get("nodeId"), awaiting.get("name"))
        if "awaiting_node" not in row:
            row = dict(Execution.objects.filter(pk=execution.pk).values(**wire.summary_expressions()).first() or {})
        return wire.waiting_approval(row.get("awaiting_node"), row.get("awaiting_name"))


class ExecutionSerializer(ExecutionSummarySerializer):
    """The full SPEC §7 execution: node runs in creation order, plus run-scoped state.

    `nodeRuns` is whole up to FLOWMAESTRO_NODE_RUNS_INLINE node runs and the first page
    beyond (engine.node_run_pages): `nodeRunsNext` is then the URL of the next page and
    `nodeRunCountsByNode` gives every node's counts per status (for badges)."""

    nodeRuns = serializers.SerializerMethodField()
    nodeRunCounts = serializers.SerializerMethodField()
    nodeRunsNext = serializers.SerializerMethodField()
    nodeRunCountsByNode = serializers.SerializerMethodField()
    testRun = serializers.SerializerMethodField()
    state = BoundedValueField()

    class Meta(ExecutionSummarySerializer.Meta):
        fields = [*ExecutionSummarySerializer.Meta.fields, "state", "nodeRuns", "nodeRunCounts", "nodeRunsNext",
                  "nodeRunCountsByNode", "testRun"]
        read_only_fields = fields

    def _node_run_part(self, execution: Execution) -> dict[str, Any]:
        # The four fields come from one page read and two counting queries, made once.
        cache: dict[Any, dict[str, Any]] = self.__dict__.setdefault("_node_run_parts", {})
        if execution.pk not in cache:
            cache[execution.pk] = execution_node_runs(execution)
        return cache[execution.pk]

    # drf-spectacular cannot see through a method field; name the element type for it.
    @extend_schema_field(NodeRunSerializer(many=True))
    def get_nodeRuns(self, execution: Execution) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._node_run_part(execution)["nodeRuns"]
        return rows

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_nodeRunCounts(self, execution: Execution) -> dict[str, int]:
        counts: dict[str, int] = self._node_run_part(execution)["nodeRunCounts"]
        return counts

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_nodeRunsNext(self, execution: Execution) -> str | None:
        url: str | None = self._node_run_part(execution)["nodeRunsNext"]
        return url

    # Whether it was started with `usePinnedData` (an editor test run): its "Re-run from
    # here" uses the pins as they are now (engine.services.execution_redrive).
    @extend_schema_field(JSONBooleanField())
    def get_testRun(self, execution: Execution) -> bool:
        from engine.services import execution_pinned

        return execution_pinned(execution, test_run=True) is not None

    @extend_schema_field(serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()),
                                               allow_null=True))
    def get_nodeRunCountsByNode(self, execution: Execution) -> dict[str, dict[str, int]] | None:
        by_node: dict[str, dict[str, int]] | None = self._node_run_part(execution).get("nodeRunCountsByNode")
        return by_node


class SignalAnswerSerializer(ExecutionSummarySerializer):
    """The 202 answer of a signal: the execution's new state in a few hundred bytes —
    without its input, output, error or node runs, which for a big loop are megabytes and
    which the caller reads from `GET /api/executions/{id}` when it wants them."""

    nodeRunCounts = serializers.SerializerMethodField()

    class Meta(ExecutionSummarySerializer.Meta):
        fields = [
            "id", "workflow", "workflowName", "version", "status", "priority", "traceId",
            "createdAt", "startedAt", "finishedAt", "nodeRunCounts",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_nodeRunCounts(self, execution: Execution) -> dict[str, int]:
        return status_counts(execution)


class SignalInputSerializer(KnownKeysSerializer):
    type = JSONStringField(max_length=60)
    reason = JSONStringField(required=False, allow_blank=True, default="", max_length=2000)
    # DRF moves declared fields off the class, so a field may be called `data`.
    data = serializers.JSONField(required=False, allow_null=True, default=None)  # type: ignore[assignment]


class EventSerializer(serializers.Serializer[Any]):
    """SPEC §8 event wire shape (documentation only: the view returns `Event.as_message()`)."""

    seq = serializers.IntegerField()
    type = serializers.CharField()
    ts = serializers.DateTimeField()
    executionId = serializers.IntegerField()
    nodeId = serializers.CharField(allow_null=True)
    nodeRunId = serializers.CharField(allow_null=True)
    branchId = serializers.CharField(allow_null=True)
    branchName = serializers.CharField(allow_null=True)
    traceId = serializers.CharField(allow_null=True)
    attempt = serializers.IntegerField(allow_null=True)
    iteration = serializers.IntegerField(allow_null=True)
    status = serializers.CharField(allow_null=True)
    data = serializers.JSONField(allow_null=True)  # type: ignore[assignment]


class RerunInputSerializer(KnownKeysSerializer):
    """Body of a retry or dead-letter replay: which version to run and, optionally, an
    edited input (absent: the original input)."""

    version = serializers.ChoiceField(choices=["original", "latest"], required=False, default="original")
    input = serializers.JSONField(required=False)


class BulkReplayInputSerializer(RerunInputSerializer):
    # Ids past the database's 64-bit key range were a 500 (SQLite: "Python int too large").
    ids = serializers.ListField(child=JSONIntegerField(min_value=1, max_value=MAX_ID), min_length=1,
                                max_length=500)
