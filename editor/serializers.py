"""Shapes of the workflow API (SPEC §7). Input serializers only check types; the graph
rules live in `engine.core.graph.validate_definition`, called by the services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from editor.models import Workflow, WorkflowVersion
from engine.core import rules
from flowmaestro.request_bodies import (
    JSONBooleanField,
    JSONIntegerField,
    JSONStringField,
    KnownKeysSerializer,
)


class DefinitionField(serializers.JSONField):
    """A SPEC §3 definition: any JSON object (the graph rules are checked by the service)."""

    default_error_messages = {"not_object": "The definition must be a JSON object."}

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_object")
        return value


class PinDataField(serializers.JSONField):
    """`pinData`: a JSON object of node id → any JSON (the node's pinned output)."""

    default_error_messages = {
        "not_object": "pinData must be a JSON object of node id → pinned output.",
        # A key is a node id: bounded as one, so a refusal never echoes a megabyte-long key
        # (it was named whole, four times over, in a 4 MB answer).
        "long_key": f"pinData: a node id is at most {rules.MAX_NODE_ID_LENGTH} characters "
                    "({count} longer, the first {length})",
    }

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_object")
        too_long = [len(key) for key in value if len(key) > rules.MAX_NODE_ID_LENGTH]
        if too_long:
            self.fail("long_key", count=len(too_long), length=too_long[0])
        return value


class WorkflowSerializer(serializers.ModelSerializer[Workflow]):
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)
    definition = serializers.JSONField(read_only=True)

    class Meta:
        model = Workflow
        fields = ["id", "name", "description", "definition", "version", "createdAt", "updatedAt"]
        read_only_fields = fields


class WorkflowListItemSerializer(WorkflowSerializer):
    """A row of `GET /api/workflows`: the workflow and its latest run (`lastRun`, null when it
    never ran), read from the `last_run_*` annotations of `selectors.workflow_list_with_last_run`."""

    lastRun = serializers.SerializerMethodField()
    # The definition or its size marker, as the list chose it (editor.api.bounded_definitions);
    # the row's own column stays deferred.
    definition = serializers.SerializerMethodField()  # type: ignore[assignment]  # a JSON value still

    class Meta(WorkflowSerializer.Meta):
        fields = [*WorkflowSerializer.Meta.fields, "lastRun"]
        read_only_fields = fields

    @extend_schema_field(serializers.JSONField())
    def get_definition(self, workflow: Workflow) -> Any:
        return self.context["definitions"][workflow.pk]

    @extend_schema_field(inline_serializer("LastRun", {
        "id": serializers.IntegerField(), "status": serializers.CharField(), "createdAt": serializers.DateTimeField(),
    }, allow_null=True))
    def get_lastRun(self, workflow: Workflow) -> dict[str, Any] | None:
        run_id = getattr(workflow, "last_run_id", None)
        if run_id is None:
            return None
        created = getattr(workflow, "last_run_at", None)
        return {"id": run_id, "status": getattr(workflow, "last_run_status", None),
                "createdAt": created.isoformat() if created is not None else None}


class WorkflowInputSerializer(KnownKeysSerializer):
    """`POST /api/workflows` and `PUT|PATCH /api/workflows/{id}` bodies."""

    name = JSONStringField(max_length=200, trim_whitespace=True)
    description = JSONStringField(required=False, allow_blank=True, default="", max_length=10_000)
    definition = DefinitionField()
    # A draft is saved even with validation errors (a cycle, a missing field): the editor
    # saves work in progress and shows the problems; running it is what is refused.
    draft = JSONBooleanField(required=False, default=False)
    # Pinned test data of an imported workflow (n8n's export key): {node id: output}. When
    # given, the workflow's pins become exactly these, checked as the pins API checks them,
    # in the same transaction as the save. Absent: the pins are left as they are.
    pinData = PinDataField(required=False, source="pin_data")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        if self.partial:
            # PATCH: nothing is filled in, so an absent description stays as it is.
            fields["description"].default = serializers.empty
            fields["draft"].default = False
        return fields


class WorkflowVersionSerializer(serializers.ModelSerializer[WorkflowVersion]):
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    createdBy = serializers.SerializerMethodField()
    definition = serializers.JSONField(read_only=True)

    class Meta:
        model = WorkflowVersion
        fields = ["id", "number", "createdAt", "createdBy", "definition"]
        read_only_fields = fields

    def get_createdBy(self, version: WorkflowVersion) -> str | None:
        return version.created_by.get_username() if version.created_by_id and version.created_by else None


class WorkflowVersionListItemSerializer(WorkflowVersionSerializer):
    """A version without its definition: the list adds it, bounded (editor.api)."""

    class Meta(WorkflowVersionSerializer.Meta):
        fields = ["id", "number", "createdAt", "createdBy"]
        read_only_fields = fields


class ValidateInputSerializer(KnownKeysSerializer):
    definition = DefinitionField(required=False)


class ValidationIssueSerializer(serializers.Serializer[Any]):
    message = serializers.CharField()
    nodeId = serializers.CharField(required=False)
    edgeId = serializers.CharField(required=False)


# DRF moves declared fields off the class, so a field may be called `errors` or `data`;
# the stubs do not know that.
class ValidationResultSerializer(serializers.Serializer[Any]):
    errors = ValidationIssueSerializer(many=True)  # type: ignore[assignment]
    warnings = ValidationIssueSerializer(many=True)


class InvalidDefinitionSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()
    errors = ValidationIssueSerializer(many=True)  # type: ignore[assignment]


class RunInputSerializer(KnownKeysSerializer):
    input = serializers.DictField(required=False, default=dict, child=serializers.JSONField())
    priority = JSONIntegerField(required=False, default=0, min_value=-1_000_000, max_value=1_000_000)
    # Pinned test data (editor.pins): pinned nodes output their pins instead of running.
    # Off unless asked: only the editor's Run button asks; webhooks and schedules never do.
    usePinnedData = JSONBooleanField(required=False, default=False)
    # "Run to here": run only this node and the nodes it needs (engine.core.run_until).
    # Text as JSON writes it: DRF's CharField read `"runUntil": 5` as the node "5".
    runUntil = JSONStringField(required=False, default=None, allow_null=True, max_length=rules.MAX_NODE_ID_LENGTH,
                               trim_whitespace=False)
    # With runUntil: the id of a finished run of this workflow whose outputs the nodes before
    # the stop reuse instead of running again (engine.reuse).
    reuseFrom = JSONIntegerField(required=False, default=None, allow_null=True, min_value=1,
                                 max_value=2**63 - 1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("reuseFrom") is not None and attrs.get("runUntil") is None:
            raise serializers.ValidationError(
                {"reuseFrom": ["only with runUntil: outputs are reused by a run to one node (Run to here)"]})
        return attrs


class ReusePreviewInputSerializer(RunInputSerializer):
    """What a run to `runUntil` with `reuseFrom` would reuse, asked before running it: the
    Run dialog shows it. `definition`: the canvas as it is (a run saves it first); absent,
    the saved version."""

    definition = DefinitionField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        missing = {name: ["required: the preview is of a run to one node reusing one run"]
                   for name in ("runUntil", "reuseFrom") if attrs.get(name) is None}
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class ReusePreviewSerializer(serializers.Serializer[Any]):
    reused = serializers.ListField(child=serializers.CharField())
    reusedFrom = serializers.IntegerField()
    reuseNote = serializers.CharField(allow_null=True)


class PinInputSerializer(KnownKeysSerializer):
    """`PUT /api/workflows/{id}/pins/{nodeId}`: the output to pin, any JSON (null too)."""

    data = serializers.JSONField(allow_null=True)  # type: ignore[assignment]


class PinSerializer(serializers.Serializer[Any]):
    nodeId = serializers.CharField(source="node_id")
    data = serializers.JSONField(allow_null=True)  # type: ignore[assignment]
    size = serializers.IntegerField(help_text="bytes of `data` as JSON")
    updatedAt = serializers.DateTimeField(source="updated_at")
    updatedBy = serializers.SerializerMethodField()

    def get_updatedBy(self, pin: Any) -> str | None:
        return pin.updated_by.get_username() if pin.updated_by is not None else None


class RunResultSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    status = serializers.CharField()
    traceId = serializers.CharField()
    reused = serializers.ListField(child=serializers.CharField(), required=False,
                                   help_text="with reuseFrom: the nodes whose outputs the run reuses")
    reusedFrom = serializers.IntegerField(required=False, help_text="with reuseFrom: the run reused")
    reuseNote = serializers.CharField(required=False, help_text="with reuseFrom: why nothing is reused")


class ExpressionTestInputSerializer(KnownKeysSerializer):
    """`POST /api/workflows/{id}/test-expression`: JavaScript as a `transform`/`condition`
    expression, run on `input` (or the input `nodeId` had in `execution`)."""

    code = JSONStringField(max_length=100_000, trim_whitespace=False)
    input = serializers.JSONField(required=False, allow_null=True, default=None)
    execution = JSONIntegerField(required=False, allow_null=True, default=None, min_value=1)
    nodeId = JSONStringField(required=False, allow_null=True, default=None, max_length=200)
    # Extra names (a loop item variable, `parallel`, a branch output) the person wants bound.
    bindings = serializers.DictField(required=False, default=dict, child=serializers.JSONField())


class ExpressionTestResultSerializer(serializers.Serializer[Any]):
    ok = JSONBooleanField()
    value = serializers.JSONField(required=False)
    error = serializers.CharField(required=False)
    kind = serializers.CharField(required=False)
    logs = serializers.ListField(child=serializers.CharField())
