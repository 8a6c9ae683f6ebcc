"""The dead-letter API (SPEC §4.5, §7): list, inspect, replay, discard.

Dead letters of someone else's workflow are not found (404, never 403); staff see all.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
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
from engine.models import DeadLetter, DeadLetterKind
from engine.serializers import BulkReplayInputSerializer, RerunInputSerializer
from flowmaestro.visibility import MAX_ID, get_or_404

LIST_CAP = 500
STATES = ("open", "replayed", "discarded")
NOT_FOUND = OpenApiResponse(DETAIL_SERIALIZER, description="No such dead letter (or not yours)")


class DeadLetterSerializer(serializers.ModelSerializer[DeadLetter]):
    workflow = serializers.IntegerField(source="workflow_id")
    workflowName = serializers.CharField(source="workflow.name")
    execution = serializers.IntegerField(source="execution_id", allow_null=True)
    # The version the failed run was pinned to (what "replay on the original version" runs).
    version = serializers.IntegerField(source="execution.version.number", allow_null=True, read_only=True)
    traceId = serializers.CharField(source="trace_id")
    nodeId = serializers.CharField(source="node_id")
    itemIndex = serializers.IntegerField(source="item_index", allow_null=True)
    input = serializers.JSONField(allow_null=True)
    error = serializers.JSONField(allow_null=True)
    state = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")
    replayedAt = serializers.DateTimeField(source="replayed_at", allow_null=True)
    replayedExecution = serializers.IntegerField(source="replayed_execution_id", allow_null=True)
    discardedAt = serializers.DateTimeField(source="discarded_at", allow_null=True)

    class Meta:
        model = DeadLetter
        fields = [
            "id", "kind", "state", "workflow", "workflowName", "execution", "version", "traceId", "nodeId", "itemIndex",
            "input", "error", "attempts", "createdAt", "replayedAt", "replayedExecution", "discardedAt",
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
                raise BadRequest(f"unknown kind {kind!r}; one of {', '.join(DeadLetterKind.values)}")
            qs = qs.filter(kind=kind)
        state = request.query_params.get("state", "")
        if state:
            if state not in STATES:
                raise BadRequest(f"unknown state {state!r}; one of {', '.join(STATES)}")
            if state == "open":
                qs = qs.filter(replayed_at__isnull=True, discarded_at__isnull=True)
            elif state == "replayed":
                qs = qs.filter(replayed_at__isnull=False)
            else:
                qs = qs.filter(discarded_at__isnull=False)
        return Response(DeadLetterSerializer(qs.order_by("-created_at", "-id")[:LIST_CAP], many=True).data)


class DeadLetterDetailApi(APIView):
    @extend_schema(responses={200: DeadLetterSerializer, 404: NOT_FOUND})
    def get(self, request: Request, dead_letter_id: str) -> Response:
        return Response(DeadLetterSerializer(dead_letter_get(request.user, dead_letter_id)).data)


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
            409: OpenApiResponse(DETAIL_SERIALIZER, description="Already discarded"),
        },
    )
    def post(self, request: Request, dead_letter_id: str) -> Response:
        letter = dead_letter_get(request.user, dead_letter_id)
        letter = dead_letter_discard(dead_letter=letter, user=request.user)
        return Response(DeadLetterSerializer(letter).data)
