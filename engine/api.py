"""The execution API (SPEC §7): list and inspect executions, read their event log, send
signals, retry, and describe the node types. Views validate, call one service, render.

Executions someone else owns are not found (404, never 403); staff see everything.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from engine import execution_values, node_run_pages, wire
from engine.core.numerals import ascii_int
from engine.core.rules import MAX_NODE_ID_LENGTH
from engine.models import STATUS_EVENT_TYPES, Event, Execution, ExecutionStatus
from engine.selectors import execution_get, executions_visible
from engine.serializers import (
    EventSerializer,
    ExecutionSerializer,
    ExecutionSummarySerializer,
    RerunInputSerializer,
    SignalAnswerSerializer,
    SignalInputSerializer,
)
from engine.timeline import of_types
from flowmaestro.request_bodies import (
    JSONBooleanField,
    JSONIntegerField,
    JSONStringField,
    KnownKeysSerializer,
    query_bool,
    shown_values,
)
from flowmaestro.visibility import MAX_ID

DETAIL_SERIALIZER = inline_serializer("EngineDetail", {"detail": serializers.CharField()})
NOT_FOUND = OpenApiResponse(DETAIL_SERIALIZER, description="No such execution (or not yours)")
LIST_CAP = 200
EVENTS_DEFAULT_LIMIT = 1000
EVENTS_MAX_LIMIT = 10_000
# What `type` may ask for: the kinds an index holds (engine.models), read without a scan.
FILTERABLE_EVENT_TYPES = STATUS_EVENT_TYPES
# SPEC §3 table order: the palette reads like the table (entry, work, flow control, exits).
NODE_TYPE_ORDER = [
    "start", "http", "transform", "merge", "condition", "loop", "delay", "approval", "log", "set", "output", "fail",
]


class BadRequest(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Bad request."
    default_code = "bad_request"


def _int_param(request: Request, name: str, *, default: int | None, minimum: int, maximum: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    # ASCII digits only: int() also took "٣", "３", "1_000" and " 5 " as numbers.
    value = ascii_int(raw)
    if value is None:
        raise BadRequest(f"{name} must be a whole number written with the digits 0-9, not {raw[:40]!r}.")
    if not minimum <= value <= maximum:
        raise BadRequest(f"{name} must be between {minimum} and {maximum}.")
    return value


_TRACE_SUFFIX = re.compile(r"-\d{3,}$")


def _trace_filter(trace: str) -> Q:
    """Executions whose trace id is `trace`, starts with it, or is the root of it: a branch's
    or loop item's trace id is its execution's plus `-003` parts (SPEC §8), so stripping
    those finds the execution without reading its node runs."""
    roots = {trace}
    root = trace
    while _TRACE_SUFFIX.search(root):
        root = _TRACE_SUFFIX.sub("", root)
        roots.add(root)
    return Q(trace_id__in=roots) | Q(trace_id__startswith=trace)


def _with_values(execution: Execution) -> Execution:
    """The execution read again with its values bounded (engine.execution_values): a
    service hands back an instance whose input may be megabytes, loaded or not."""
    return execution_values.with_values(
        Execution.objects.select_related("workflow", "version").defer(*execution_values.VALUE_FIELDS)
    ).get(pk=execution.pk)


def _execution_response(execution: Execution, code: int = status.HTTP_200_OK) -> Response:
    return Response(ExecutionSerializer(_with_values(execution)).data, status=code)


class ExecutionListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("workflow", OpenApiTypes.INT, description="only this workflow's executions"),
            OpenApiParameter("status", OpenApiTypes.STR, description="a status, or several joined by commas"),
            OpenApiParameter("trace", OpenApiTypes.STR, description=(
                "a trace id: the execution's own, or any of its branches' or loop items' "
                "(`trace-ab12cd34-003`, `trace-ab12cd34-002-001`), or the start of one")),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"at most this many (default and most {LIST_CAP})"),
            OpenApiParameter("before", OpenApiTypes.INT, description=(
                "an execution id: only executions older than it (the next page is `before` = "
                "the id of the last row; a page shorter than `limit` is the last)")),
        ],
        responses={200: ExecutionSummarySerializer(many=True), 400: DETAIL_SERIALIZER, 404: DETAIL_SERIALIZER},
    )
    def get(self, request: Request) -> Response:
        qs = executions_visible(request.user)
        limit = _int_param(request, "limit", default=LIST_CAP, minimum=1, maximum=LIST_CAP) or LIST_CAP
        before_id = _int_param(request, "before", default=None, minimum=1, maximum=MAX_ID)
        if before_id is not None:
            # Keyset paging in the list's own order (newest first by creation, then id): a
            # page never repeats or skips a row when runs are added meanwhile. The row named
            # must be one the user may see, like any other id of the API.
            mark = qs.filter(pk=before_id).values_list("created_at", flat=True).first()
            if mark is None:
                raise Http404(f"execution {before_id} not found")  # a stranger's id looks like a missing one
            qs = qs.filter(Q(created_at__lt=mark) | Q(created_at=mark, pk__lt=before_id))
        workflow_id = _int_param(request, "workflow", default=None, minimum=1, maximum=MAX_ID)
        if workflow_id is not None:
            qs = qs.filter(workflow_id=workflow_id)
        raw_status = request.query_params.get("status", "")
        if raw_status:
            wanted = [s.strip() for s in raw_status.split(",") if s.strip()]
            unknown = sorted(set(wanted) - set(ExecutionStatus.values))
            if unknown:
                raise BadRequest(f"unknown status {shown_values(unknown)}; one of {', '.join(ExecutionStatus.values)}")
            qs = qs.filter(status__in=wanted)
        trace = request.query_params.get("trace", "").strip()[:200]
        if trace:
            qs = qs.filter(_trace_filter(trace))
        # Sizes from the database, values only when small: a list of big runs reads none
        # of their inputs (engine.execution_values).
        qs = execution_values.with_values(qs, ("input", "output", "error"), cap=execution_values.LIST_VALUE_CAP)
        executions = qs.annotate(**wire.summary_expressions()).order_by("-created_at", "-id")[:limit]
        return Response(ExecutionSummarySerializer(executions, many=True).data)


class ExecutionDetailApi(APIView):
    @extend_schema(responses={200: ExecutionSerializer, 404: NOT_FOUND})
    def get(self, request: Request, execution_id: str) -> Response:
        execution = execution_get(request.user, execution_id, values=True)
        return Response(ExecutionSerializer(execution).data)


class ExecutionValueApi(APIView):
    """`GET /api/executions/{id}/input` (and `/output`, `/error`, `/state`): the whole
    value, which the other answers cut to `{"truncated": true, "size", "url"}` beyond
    `value_cap()` bytes. The JSON text goes out as the database holds it, never decoded."""

    @extend_schema(
        operation_id="executions_value_retrieve",
        parameters=[
            OpenApiParameter("field", OpenApiTypes.STR, OpenApiParameter.PATH,
                             enum=list(execution_values.VALUE_FIELDS),
                             description="which value: input, output, error or state"),
            OpenApiParameter("download", OpenApiTypes.BOOL,
                             description="true (or 1): answer it as a file to save (`execution-<id>-<field>.json`); "
                                         "false (or 0, or absent): as JSON. Any other spelling is a 400."),
        ],
        responses={200: OpenApiResponse(OpenApiTypes.ANY, description="The whole value (JSON; null when unset)"),
                   404: NOT_FOUND},
    )
    def get(self, request: Request, execution_id: str, field: str) -> HttpResponse:
        execution = execution_get(request.user, execution_id)
        body = execution_values.whole_value(execution, field)
        response = HttpResponse(body if body is not None else b"null", content_type="application/json")
        if query_bool(request, "download"):
            response["Content-Disposition"] = f'attachment; filename="execution-{execution.pk}-{field}.json"'
        return response


NODE_RUN_PAGE_SERIALIZER = inline_serializer(
    "NodeRunPage",
    {
        "results": node_run_pages.NodeRunSerializer(many=True),
        "next": serializers.CharField(allow_null=True, help_text="URL of the next page; null on the last"),
    },
)


class ExecutionNodeRunsApi(APIView):
    """`GET /api/executions/{id}/node-runs`: the execution's node runs in creation order,
    a page at a time (engine.node_run_pages)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("nodeId", OpenApiTypes.STR, description="only this node's runs"),
            OpenApiParameter("status", OpenApiTypes.STR, description="a status, or several joined by commas"),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="from the `next` of the previous page"),
            OpenApiParameter("limit", OpenApiTypes.INT,
                             description=f"at most this many (default {node_run_pages.page_size()}, "
                                         f"at most {node_run_pages.MAX_PAGE_SIZE})"),
        ],
        responses={200: NODE_RUN_PAGE_SERIALIZER, 400: DETAIL_SERIALIZER, 404: NOT_FOUND},
    )
    def get(self, request: Request, execution_id: str) -> Response:
        execution = execution_get(request.user, execution_id)
        limit = _int_param(request, "limit", default=node_run_pages.page_size(), minimum=1,
                           maximum=node_run_pages.MAX_PAGE_SIZE)
        node_id = request.query_params.get("nodeId", "")
        if len(node_id) > MAX_NODE_ID_LENGTH:
            raise BadRequest(f"nodeId is at most {MAX_NODE_ID_LENGTH} characters.")
        raw_status = request.query_params.get("status", "")
        try:
            statuses = node_run_pages.valid_statuses(raw_status) if raw_status else None
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        raw_cursor = request.query_params.get("cursor", "")
        try:
            after = node_run_pages.decode_cursor(raw_cursor) if raw_cursor else None
        except node_run_pages.BadCursor as exc:
            raise BadRequest(str(exc)) from None
        page = node_run_pages.node_run_page(execution, limit=limit or 1, after=after, node_id=node_id or None,
                                            statuses=statuses)
        next_url = None
        if page.next_cursor:
            next_url = node_run_pages.node_runs_url(
                execution.pk, page.next_cursor, nodeId=node_id, status=raw_status,
                limit=request.query_params.get("limit"))
        return Response({"results": page.rows, "next": next_url})


class ExecutionEventsApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("afterSeq", OpenApiTypes.INT, description="only events with a larger seq (default 0)"),
            OpenApiParameter("beforeSeq", OpenApiTypes.INT, description=(
                "only events with a smaller seq, and then the last `limit` of them (still in seq order): "
                "the page before `beforeSeq`")),
            OpenApiParameter("type", OpenApiTypes.STR, description=(
                f"only these types, joined by commas; one or more of {', '.join(FILTERABLE_EVENT_TYPES)}")),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"at most this many (default {EVENTS_DEFAULT_LIMIT})"),
        ],
        responses={200: EventSerializer(many=True), 400: DETAIL_SERIALIZER, 404: NOT_FOUND},
    )
    def get(self, request: Request, execution_id: str) -> Response:
        execution = execution_get(request.user, execution_id)
        after_seq = _int_param(request, "afterSeq", default=0, minimum=0, maximum=MAX_ID)
        before_seq = _int_param(request, "beforeSeq", default=None, minimum=1, maximum=MAX_ID)
        limit = _int_param(request, "limit", default=EVENTS_DEFAULT_LIMIT, minimum=1, maximum=EVENTS_MAX_LIMIT)
        raw_types = request.query_params.get("type", "")
        events = Event.objects.filter(execution=execution, seq__gt=after_seq)
        if raw_types:
            wanted = sorted({t.strip() for t in raw_types[:1000].split(",") if t.strip()})
            unknown = [t for t in wanted if t not in FILTERABLE_EVENT_TYPES]
            if unknown or not wanted:
                raise BadRequest(f"type: unknown event type {', '.join(repr(t[:40]) for t in unknown[:5])}; "
                                 f"one or more of {', '.join(FILTERABLE_EVENT_TYPES)}")
            # The partial index's own condition, written out (engine.timeline.of_types), so that
            # SQLite uses it too: the rows read are the matching ones, not the whole log.
            events = events.extra(where=[of_types(STATUS_EVENT_TYPES)]).filter(type__in=wanted)
        if before_seq is not None:
            last = list(events.filter(seq__lt=before_seq).order_by("-seq")[:limit])
            return Response([event.as_message() for event in reversed(last)])
        return Response([event.as_message() for event in events.order_by("seq")[:limit]])


class ExecutionSignalApi(APIView):
    @extend_schema(
        request=SignalInputSerializer,
        responses={
            202: SignalAnswerSerializer,
            400: DETAIL_SERIALIZER,
            403: OpenApiResponse(DETAIL_SERIALIZER, description="Not an approver of the waiting approval"),
            404: NOT_FOUND,
            409: OpenApiResponse(DETAIL_SERIALIZER, description="The signal does not apply to the execution's state"),
        },
    )
    def post(self, request: Request, execution_id: str) -> Response:
        from engine import services

        execution = execution_get(request.user, execution_id)
        serializer = SignalInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        execution = services.execution_signal(
            execution=execution, user=request.user, type=data["type"], reason=data["reason"], data=data["data"]
        )
        # A summary, never the whole execution: the 202 of a cancel was 340 MB for a
        # 1,000,000-item loop.
        return Response(SignalAnswerSerializer(execution).data, status=status.HTTP_202_ACCEPTED)


def rerun_options(request: Request, *, input_must_be_object: bool = True,
                  serializer_class: type[serializers.Serializer[Any]] = RerunInputSerializer) -> dict[str, Any]:
    """`{"version": "original"|"latest", "input": …}` of a retry or replay body, as keyword
    arguments (`input` only when given: absent means the original input). An empty body
    means the original version and input."""
    if not isinstance(request.data, dict):
        raise BadRequest("The body must be a JSON object.")
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    options: dict[str, Any] = dict(serializer.validated_data)
    if input_must_be_object and "input" in options and not isinstance(options["input"], dict):
        raise BadRequest("input must be a JSON object.")
    return options


class ExecutionRetryApi(APIView):
    """Re-run: a new execution with this one's input (or `input`) on its own version
    (`"version": "original"`, the default) or on the workflow's latest (`"latest"`)."""

    @extend_schema(
        request=RerunInputSerializer,
        responses={
            201: ExecutionSerializer,
            400: DETAIL_SERIALIZER,
            404: NOT_FOUND,
            429: OpenApiResponse(DETAIL_SERIALIZER, description="The workflow's run queue is full"),
        },
    )
    def post(self, request: Request, execution_id: str) -> Response:
        from engine import services

        execution = execution_get(request.user, execution_id)
        retried = services.execution_retry(execution=execution, user=request.user, **rerun_options(request))
        return _execution_response(retried, status.HTTP_201_CREATED)


# A redrive names at most this many nodes or loops; an id is at most MAX_NODE_ID_LENGTH
# characters, as in a definition (README, "Redrive").
REDRIVE_MAX_NODES = 1000
REDRIVE_MAX_ITEMS_PER_LOOP = 100_000


class RedriveInputSerializer(KnownKeysSerializer):
    version = serializers.ChoiceField(choices=["original", "latest"], required=False, default="original")
    nodes = serializers.ListField(child=JSONStringField(max_length=MAX_NODE_ID_LENGTH), required=False,
                                  max_length=REDRIVE_MAX_NODES)
    items = serializers.DictField(
        child=serializers.ListField(child=JSONIntegerField(min_value=0),
                                    max_length=REDRIVE_MAX_ITEMS_PER_LOOP),
        required=False,
    )
    # Without nodes/items: keep, instead of refusing with a 409, the failed loop items whose
    # dead letters were replayed as other executions (what the run page's button sends).
    leaveOutReplayed = JSONBooleanField(required=False, default=False)  # noqa: N815 - the API's name
    # A test run's "Re-run from here": the pins as they are now replace the run's copy.
    usePinnedData = JSONBooleanField(required=False, default=False)  # noqa: N815 - the API's name

    def validate_items(self, items: dict[str, list[int]]) -> dict[str, list[int]]:
        # DictField bounds neither its keys nor how many: probed, a 10,000-character key or
        # 100,000 made-up loop ids were read, looked up and echoed whole in the 400.
        if len(items) > REDRIVE_MAX_NODES:
            raise serializers.ValidationError(f"at most {REDRIVE_MAX_NODES} loops")
        too_long = [key for key in items if len(key) > MAX_NODE_ID_LENGTH]
        if too_long:
            raise serializers.ValidationError(
                f"a loop id is at most {MAX_NODE_ID_LENGTH} characters ({len(too_long)} longer)")
        return items


class ExecutionRedriveApi(APIView):
    """`POST /api/executions/{id}/redrive`: re-run only what failed (or the chosen nodes and
    loop items) in a new attempt of the same execution."""

    @extend_schema(
        request=RedriveInputSerializer,
        responses={
            202: ExecutionSummarySerializer,
            400: DETAIL_SERIALIZER,
            404: NOT_FOUND,
            409: OpenApiResponse(DETAIL_SERIALIZER, description="The execution cannot be redriven in its state"),
        },
    )
    def post(self, request: Request, execution_id: str) -> Response:
        from engine import services

        execution = execution_get(request.user, execution_id)
        if not isinstance(request.data, dict):
            raise BadRequest("The body must be a JSON object.")
        serializer = RedriveInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        redriven = services.execution_redrive(
            execution=execution, user=request.user, version=data["version"], nodes=data.get("nodes"),
            items=data.get("items"), leave_out_replayed=data["leaveOutReplayed"], pins_now=data["usePinnedData"],
        )
        return Response(ExecutionSummarySerializer(_with_values(redriven)).data, status=status.HTTP_202_ACCEPTED)


NODE_TYPE_SERIALIZER = inline_serializer(
    "NodeType",
    {
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "category": serializers.CharField(),
        "description": serializers.CharField(),
        "schema": serializers.JSONField(),
        "defaults": serializers.JSONField(),
        "ports": serializers.JSONField(),
        "container": JSONBooleanField(),
        "pinnable": JSONBooleanField(help_text="its output may be pinned as test data"),
    },
    many=True,
)


def node_type_descriptions() -> list[dict[str, Any]]:
    """Every registered node type, grouped by category, each group in SPEC table order."""
    from engine.nodes import REGISTRY

    described = [cls.describe() for cls in REGISTRY.values()]

    def type_rank(item: dict[str, Any]) -> tuple[int, str]:
        name = item["type"]
        return (NODE_TYPE_ORDER.index(name) if name in NODE_TYPE_ORDER else len(NODE_TYPE_ORDER), name)

    # A category sits where its first member would in the table order.
    category_rank: dict[str, tuple[int, str]] = {}
    for item in sorted(described, key=type_rank):
        category_rank.setdefault(item["category"], type_rank(item))
    return sorted(described, key=lambda item: (category_rank[item["category"]], type_rank(item)))


class NodeTypeListApi(APIView):
    @extend_schema(responses={200: NODE_TYPE_SERIALIZER})
    def get(self, request: Request) -> Response:
        return Response(node_type_descriptions())
