"""The dead-letter API (SPEC §4.5, §7): list, inspect, replay, discard.

Dead letters of someone else's workflow are not found (404, never 403); staff see all.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from engine.api import DETAIL_SERIALIZER, BadRequest, _int_param, rerun_options
from engine.dead_letters import (
    dead_letter_discard,
    dead_letter_replay,
    dead_letters_replay_many,
    dead_letters_visible,
)
from engine.execution_values import LIST_VALUE_CAP, value_cap
from engine.json_sizes import bounded, whole_json, with_json_sizes
from engine.models import DeadLetter, DeadLetterKind
from engine.serializers import TRUNCATED_HELP, BulkReplayInputSerializer, RerunInputSerializer
from flowmaestro.request_bodies import shown_values
from flowmaestro.visibility import MAX_ID, get_or_404

LIST_CAP = 500
STATES = ("open", "replayed", "discarded")
NOT_FOUND = OpenApiResponse(DETAIL_SERIALIZER, description="No such dead letter (or not yours)")


# A dead letter of a run keeps the run's input: a failed big loop's is megabytes.
VALUE_FIELDS = ("input", "error")


@extend_schema_field(OpenApiTypes.ANY)
class _BoundedLetterField(serializers.Field):  # type: ignore[type-arg]
    """A dead letter's `input` or `error`: whole up to `value_cap()` bytes (list rows:
    `LIST_VALUE_CAP`), else `{"truncated": true, "size", "url"}` with
    `/api/dead-letters/{id}/input` (engine.json_sizes)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", TRUNCATED_HELP.format(cap=value_cap()).replace("executions", "dead-letters"))
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, letter: DeadLetter) -> Any:
        field = str(self.field_name)
        return bounded(letter, field, cap=value_cap(), url=lambda: f"/api/dead-letters/{letter.pk}/{field}")


class DeadLetterSerializer(serializers.ModelSerializer[DeadLetter]):
    workflow = serializers.IntegerField(source="workflow_id")
    workflowName = serializers.CharField(source="workflow.name")
    execution = serializers.IntegerField(source="execution_id", allow_null=True)
    # The version the failed run was pinned to (what "replay on the original version" runs).
    version = serializers.IntegerField(source="execution.version.number", allow_null=True, read_only=True)
    traceId = serializers.CharField(source="trace_id")
    nodeId = serializers.CharField(source="node_id")
    itemIndex = serializers.IntegerField(source="item_index", allow_null=True)
    # An item's full name, its enclosing loops' items first: "loop#3", "outer#2/inner#0".
    itemPath = serializers.CharField(source="item_path", allow_null=True, read_only=True)
    input = _BoundedLetterField()
    error = _BoundedLetterField()
    state = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")
    replayedAt = serializers.DateTimeField(source="replayed_at", allow_null=True)
    replayedExecution = serializers.IntegerField(source="replayed_execution_id", allow_null=True)
    discardedAt = serializers.DateTimeField(source="discarded_at", allow_null=True)

    class Meta:
        model = DeadLetter
        fields = [
            "id", "kind", "state", "workflow", "workflowName", "execution", "version", "traceId", "nodeId", "itemIndex",
            "itemPath", "input", "error", "attempts", "createdAt", "replayedAt", "replayedExecution", "discardedAt",
        ]
        read_only_fields = fields


REPLAYED = inline_serializer(
    "DeadLetterReplayed",
    {"id": serializers.IntegerField(), "status": serializers.CharField(), "traceId": serializers.CharField(),
     "deadLetter": DeadLetterSerializer()},
)


def dead_letter_get(user: Any, dead_letter_id: str) -> DeadLetter:
    return get_or_404(dead_letters_visible(user), dead_letter_id, "No such dead letter.")


class DeadLetterListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("workflow", OpenApiTypes.INT, description="only this workflow's dead letters"),
            OpenApiParameter("execution", OpenApiTypes.INT, description="only those of this execution"),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=list(DeadLetterKind.values)),
            OpenApiParameter("state", OpenApiTypes.STR, enum=list(STATES), description="open, replayed or discarded"),
        ],
        responses={200: DeadLetterSerializer(many=True), 400: DETAIL_SERIALIZER},
    )
    def get(self, request: Request) -> Response:
        qs = dead_letters_visible(request.user)
        workflow_id = _int_param(request, "workflow", default=None, minimum=1, maximum=MAX_ID)
        if workflow_id is not None:
            qs = qs.filter(workflow_id=workflow_id)
        execution_id = _int_param(request, "execution", default=None, minimum=1, maximum=MAX_ID)
        if execution_id is not None:
            qs = qs.filter(execution_id=execution_id)
        kind = request.query_params.get("kind", "")
        if kind:
            if kind not in DeadLetterKind.values:
                raise BadRequest(f"unknown kind {shown_values([kind])}; one of {', '.join(DeadLetterKind.values)}")
            qs = qs.filter(kind=kind)
        state = request.query_params.get("state", "")
        if state:
            if state not in STATES:
                raise BadRequest(f"unknown state {shown_values([state])}; one of {', '.join(STATES)}")
            if state == "open":
                qs = qs.filter(replayed_at__isnull=True, discarded_at__isnull=True)
            elif state == "replayed":
                qs = qs.filter(replayed_at__isnull=False)
            else:
                qs = qs.filter(discarded_at__isnull=False)
        qs = with_json_sizes(qs, VALUE_FIELDS, cap=LIST_VALUE_CAP)
        return Response(DeadLetterSerializer(qs.order_by("-created_at", "-id")[:LIST_CAP], many=True).data)


class DeadLetterDetailApi(APIView):
    @extend_schema(responses={200: DeadLetterSerializer, 404: NOT_FOUND})
    def get(self, request: Request, dead_letter_id: str) -> Response:
        qs = with_json_sizes(dead_letters_visible(request.user), VALUE_FIELDS, cap=value_cap())
        return Response(DeadLetterSerializer(get_or_404(qs, dead_letter_id, "No such dead letter.")).data)


class DeadLetterValueApi(APIView):
    """`GET /api/dead-letters/{id}/input` (and `/error`): the whole value, which the other
    answers cut beyond `value_cap()` bytes; the stored JSON text, never decoded."""

    @extend_schema(
        operation_id="dead_letters_value_retrieve",
        parameters=[OpenApiParameter("field", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(VALUE_FIELDS),
                                     description="which value: input or error")],
        responses={200: OpenApiResponse(OpenApiTypes.ANY, description="The whole value (JSON; null when unset)"),
                   404: NOT_FOUND},
    )
    def get(self, request: Request, dead_letter_id: str, field: str) -> HttpResponse:
        letter = get_or_404(dead_letters_visible(request.user).defer(*VALUE_FIELDS), dead_letter_id,
                            "No such dead letter.")
        body = whole_json(DeadLetter.objects.all(), letter.pk, field)
        return HttpResponse(body if body is not None else b"null", content_type="application/json")


class DeadLetterReplayApi(APIView):
    @extend_schema(
        request=RerunInputSerializer,
        responses={
            201: REPLAYED,
            400: DETAIL_SERIALIZER,
            404: NOT_FOUND,
            409: OpenApiResponse(DETAIL_SERIALIZER, description="Already replayed or discarded"),
            429: OpenApiResponse(DETAIL_SERIALIZER, description="The workflow's run queue is full"),
        },
    )
    def post(self, request: Request, dead_letter_id: str) -> Response:

        letter = dead_letter_get(request.user, dead_letter_id)
        # An item's input may be any JSON (it replaces the dead item); a run's must be an object.
        options = rerun_options(request, input_must_be_object=False)
        execution = dead_letter_replay(dead_letter=letter, user=request.user, **options)
        return Response(
            {"id": execution.pk, "status": execution.status, "traceId": execution.trace_id,
             "deadLetter": DeadLetterSerializer(letter).data},
            status=status.HTTP_201_CREATED,
        )


BULK_REPLAYED = inline_serializer(
    "DeadLettersReplayed",
    {"results": serializers.ListField(child=serializers.DictField()),
     "replayed": serializers.IntegerField(), "failed": serializers.IntegerField()},
)


class DeadLetterBulkReplayApi(APIView):
    """`POST /api/dead-letters/replay` with `{"ids": [...], "version": "original"|"latest"}`:
    each dead letter is replayed on its own with its own input; the answer lists, per id,
    the new execution or why it was not replayed. Ids that are not yours are reported as
    not found, like any other refusal, without stopping the rest."""

    @extend_schema(request=BulkReplayInputSerializer, responses={200: BULK_REPLAYED, 400: DETAIL_SERIALIZER},
                   operation_id="dead_letters_bulk_replay")
    def post(self, request: Request) -> Response:
        options = rerun_options(request, serializer_class=BulkReplayInputSerializer)
        if "input" in options:
            raise BadRequest("a bulk replay uses each dead letter's own input; input is not accepted here.")
        ids: list[int] = list(dict.fromkeys(options["ids"]))
        found = {letter.pk: letter for letter in dead_letters_visible(request.user).filter(pk__in=ids)}
        results = dead_letters_replay_many(
            dead_letters=[found[i] for i in ids if i in found], user=request.user, version=options["version"]
        )
        by_id = {r["id"]: r for r in results}
        ordered = [by_id.get(i) or {"id": i, "status": 404, "error": "No such dead letter."} for i in ids]
        replayed = sum(1 for r in ordered if "execution" in r)
        return Response({"results": ordered, "replayed": replayed, "failed": len(ordered) - replayed})


class DeadLetterDiscardApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: DeadLetterSerializer,
            404: NOT_FOUND,
            409: OpenApiResponse(DETAIL_SERIALIZER, description="Already discarded, or replayed (naming the run)"),
        },
    )
    def post(self, request: Request, dead_letter_id: str) -> Response:
        letter = dead_letter_get(request.user, dead_letter_id)
        letter = dead_letter_discard(dead_letter=letter, user=request.user)
        return Response(DeadLetterSerializer(letter).data)
