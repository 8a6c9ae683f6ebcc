"""The workflow API (SPEC §7). Views validate the request, call one service and render;
workflows are looked up through `editor.selectors`, so another user's workflow is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import F, Model, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from editor import pins, selectors, services
from editor.serializers import (
    ExpressionTestInputSerializer,
    ExpressionTestResultSerializer,
    InvalidDefinitionSerializer,
    PinInputSerializer,
    PinSerializer,
    ReusePreviewInputSerializer,
    ReusePreviewSerializer,
    RunInputSerializer,
    RunResultSerializer,
    ValidateInputSerializer,
    ValidationResultSerializer,
    WorkflowInputSerializer,
    WorkflowListItemSerializer,
    WorkflowSerializer,
    WorkflowVersionListItemSerializer,
    WorkflowVersionSerializer,
)
from engine.core import rules

M = TypeVar("M", bound=Model)

DETAIL_SERIALIZER = inline_serializer("Detail", {"detail": serializers.CharField()})


WORKFLOW_ERRORS: dict[int, Any] = {
    400: OpenApiResponse(InvalidDefinitionSerializer, description="Bad input or an invalid definition"),
    404: OpenApiResponse(DETAIL_SERIALIZER, description="No such workflow (or not yours)"),
}


def bounded_definitions(objs: list[M], qs: QuerySet[M], url: Callable[[M], str]) -> dict[Any, Any]:
    """{pk: definition} for `objs` (rows of `qs` in answer order): whole while the answer's
    definitions fit in `FLOWMAESTRO_PAGE_MAX_BYTES`, past that the `{"truncated": true,
    "size", "url"}` marker. The database measures them first and only those that fit are
    read. A list used to carry every definition whole: hundreds of 2.5 MB workflows or
    versions made one answer of gigabytes, built in the memory of the server process every
    user shares."""
    from engine.json_sizes import JSONTextBytes, marker
    from engine.node_run_pages import page_max_bytes

    sizes = dict(qs.annotate(definition_bytes=JSONTextBytes(F("definition"))).values_list("pk", "definition_bytes"))
    budget, whole = page_max_bytes(), []
    for obj in objs:
        size = sizes.get(obj.pk)
        if size is not None and size <= budget:
            whole.append(obj.pk)
            budget -= size
    definitions = dict(qs.filter(pk__in=whole).values_list("pk", "definition"))
    return {obj.pk: definitions[obj.pk] if obj.pk in definitions else marker(int(sizes.get(obj.pk) or 0), url(obj))
            for obj in objs}


class WorkflowListApi(APIView):
    @extend_schema(responses=WorkflowListItemSerializer(many=True), operation_id="workflows_list")
    def get(self, request: Request) -> Response:
        workflows = list(selectors.workflow_list_with_last_run(user=request.user).defer("definition"))
        definitions = bounded_definitions(workflows, selectors.workflow_list(user=request.user),
                                          url=lambda w: f"/api/workflows/{w.pk}")
        return Response(WorkflowListItemSerializer(workflows, many=True, context={"definitions": definitions}).data)

    @extend_schema(
        request=WorkflowInputSerializer,
        responses={201: WorkflowSerializer, 400: WORKFLOW_ERRORS[400]},
        operation_id="workflows_create",
    )
    def post(self, request: Request) -> Response:
        serializer = WorkflowInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        workflow = services.workflow_create(owner=request.user, **serializer.validated_data)  # type: ignore[arg-type]
        return Response(WorkflowSerializer(workflow).data, status=status.HTTP_201_CREATED)


class WorkflowDetailApi(APIView):
    @extend_schema(responses={200: WorkflowSerializer, 404: WORKFLOW_ERRORS[404]}, operation_id="workflows_retrieve")
    def get(self, request: Request, workflow_id: str) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        return Response(WorkflowSerializer(workflow).data)

    def _update(self, request: Request, workflow_id: str, *, partial: bool) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        serializer = WorkflowInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        workflow = services.workflow_update(workflow=workflow, user=request.user, **serializer.validated_data)
        return Response(WorkflowSerializer(workflow).data)

    @extend_schema(
        request=WorkflowInputSerializer,
        responses={200: WorkflowSerializer, **WORKFLOW_ERRORS},
        operation_id="workflows_update",
    )
    def put(self, request: Request, workflow_id: str) -> Response:
        return self._update(request, workflow_id, partial=False)

    @extend_schema(
        request=WorkflowInputSerializer(partial=True),
        responses={200: WorkflowSerializer, **WORKFLOW_ERRORS},
        operation_id="workflows_partial_update",
    )
    def patch(self, request: Request, workflow_id: str) -> Response:
        return self._update(request, workflow_id, partial=True)

    @extend_schema(
        responses={204: None, 404: WORKFLOW_ERRORS[404], 409: DETAIL_SERIALIZER}, operation_id="workflows_destroy"
    )
    def delete(self, request: Request, workflow_id: str) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        try:
            services.workflow_delete(workflow=workflow, user=request.user)
        except services.WorkflowBusy as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkflowVersionListApi(APIView):
    """Every version, newest first; definitions bounded as in `bounded_definitions` (the
    marker's URL is the version's own endpoint)."""

    @extend_schema(responses={200: WorkflowVersionSerializer(many=True), 404: WORKFLOW_ERRORS[404]})
    def get(self, request: Request, workflow_id: str) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        qs = selectors.workflow_version_list(workflow=workflow)
        versions = list(qs.defer("definition"))
        definitions = bounded_definitions(versions, qs,
                                          url=lambda v: f"/api/workflows/{workflow.pk}/versions/{v.number}")
        rows = []
        for version in versions:
            row = dict(WorkflowVersionListItemSerializer(version).data)
            row["definition"] = definitions[version.pk]
            rows.append(row)
        return Response(rows)


class WorkflowVersionDetailApi(APIView):
    @extend_schema(responses={200: WorkflowVersionSerializer, 404: WORKFLOW_ERRORS[404]})
    def get(self, request: Request, workflow_id: str, number: str) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        version = selectors.workflow_version_get(workflow=workflow, number=number)
        return Response(WorkflowVersionSerializer(version).data)


class WorkflowVersionRestoreApi(APIView):
    @extend_schema(request=None, responses={200: WorkflowSerializer, **WORKFLOW_ERRORS})
    def post(self, request: Request, workflow_id: str, number: str) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        version = selectors.workflow_version_get(workflow=workflow, number=number)
        # An old version may no longer validate (a node type changed its schema).
        workflow = services.workflow_restore_version(workflow=workflow, user=request.user, number=version.number)
        return Response(WorkflowSerializer(workflow).data)


class WorkflowDuplicateApi(APIView):
    @extend_schema(request=None, responses={201: WorkflowSerializer, **WORKFLOW_ERRORS})
    def post(self, request: Request, workflow_id: str) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        copy = services.workflow_duplicate(workflow=workflow, user=request.user)  # type: ignore[arg-type]
        return Response(WorkflowSerializer(copy).data, status=status.HTTP_201_CREATED)


class WorkflowValidateApi(APIView):
    @extend_schema(
        request=ValidateInputSerializer,
        responses={200: ValidationResultSerializer, 400: DETAIL_SERIALIZER, 404: WORKFLOW_ERRORS[404]},
    )
    def post(self, request: Request, workflow_id: str) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        # An empty body (no Content-Type at all) means "validate what is saved".
        serializer = ValidateInputSerializer(data=request.data if request.data is not None else {})
        serializer.is_valid(raise_exception=True)
        definition = serializer.validated_data.get("definition", workflow.definition)
        report = services.workflow_validate(definition=definition, owner=workflow.owner)
        return Response({"errors": report.errors, "warnings": report.warnings})


class WorkflowRunApi(APIView):
    @extend_schema(
        request=RunInputSerializer,
        responses={
            201: RunResultSerializer,
            **WORKFLOW_ERRORS,
            429: OpenApiResponse(DETAIL_SERIALIZER, description="The workflow's run queue is full"),
        },
    )
    def post(self, request: Request, workflow_id: str) -> Response:
        from engine import services as engine_services

        serializer = RunInputSerializer(data=request.data)
        # Hot path (issue 7): the workflow and its current version in one query. Anything
        # unusual (no such workflow, not yours, no version) takes the general path, which
        # answers 404 or 400 exactly as before.
        version = selectors.workflow_run_version_get(user=request.user, workflow_id=workflow_id)
        workflow = version.workflow if version is not None else selectors.workflow_get(
            user=request.user, workflow_id=workflow_id
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        pinned = None
        run_version = version or workflow.current_version()
        if data["usePinnedData"]:
            # The pins in force now, for the version this run will run: copied onto the
            # execution, so a pin edited while it runs (or a takeover) changes nothing.
            pinned = pins.pins_in_force(
                workflow=workflow, definition=run_version.definition if run_version else workflow.definition)
        reused: dict[str, Any] | None = None
        answer: dict[str, Any] = {}
        if data["reuseFrom"] is not None and run_version is not None:
            reused, answer = self._reuse(request, workflow, run_version, data, pinned)
            if reused:
                # Explicit pins win: `_reuse` left their nodes out.
                pinned = {**reused["outputs"], **(pinned or {})}
        execution = engine_services.execution_start(
            workflow=workflow,
            user=request.user,
            input=serializer.validated_data["input"],
            priority=serializer.validated_data["priority"],
            version=version,
            pinned=pinned,
            run_until=serializer.validated_data["runUntil"],
            reused={"from": reused["from"], "nodes": list(reused["outputs"])} if reused else None,
        )
        return Response(
            {"id": execution.pk, "status": execution.status, "traceId": execution.trace_id, **answer},
            status=status.HTTP_201_CREATED,
        )

    @staticmethod
    def _reuse(request: Request, workflow: Any, version: Any, data: dict[str, Any],
               pinned: dict[str, Any] | None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The outputs a run to `runUntil` reuses from the run `reuseFrom` (engine.reuse), and
        what the 201 says of them."""
        from engine import reuse
        from engine.services import _version_errors, run_until_errors

        if _version_errors(version) or run_until_errors(version.definition, data["runUntil"]):
            return None, {}  # refused by execution_start, naming the problem
        source = reuse.source_execution(workflow=workflow, user=request.user, execution_id=data["reuseFrom"])
        outputs, why = reuse.reused_outputs(source=source, version=version, run_until=data["runUntil"],
                                            input=data["input"], pinned=pinned)
        answer: dict[str, Any] = {"reused": list(outputs), "reusedFrom": source.pk}
        if why:
            answer["reuseNote"] = why
        return ({"from": source.pk, "outputs": outputs} if outputs else None), answer


class WorkflowReusePreviewApi(APIView):
    """Which nodes a "Run to here" reusing run `reuseFrom` would reuse, before it runs: the
    same rule as the run itself (engine.reuse), on the canvas's definition when given."""

    @extend_schema(
        request=ReusePreviewInputSerializer,
        responses={
            200: ReusePreviewSerializer,
            **WORKFLOW_ERRORS,
            409: OpenApiResponse(DETAIL_SERIALIZER, description="The run to reuse has not finished"),
        },
    )
    def post(self, request: Request, workflow_id: str) -> Response:
        from engine import reuse
        from engine.services import run_until_errors

        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        serializer = ReusePreviewInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        current = workflow.current_version()
        definition = data.get("definition", current.definition if current is not None else workflow.definition)
        # A run refuses a workflow with problems before it reuses anything: so does this.
        errors = services.workflow_validate(definition=definition).errors
        if not errors:
            errors = run_until_errors(definition, data["runUntil"])
        if errors:
            raise services.InvalidDefinition(errors)
        source = reuse.source_execution(workflow=workflow, user=request.user, execution_id=data["reuseFrom"])
        pinned = pins.pins_in_force(workflow=workflow, definition=definition) if data["usePinnedData"] else None
        nodes, why = reuse.reusable_from(source=source, definition=definition, run_until=data["runUntil"],
                                         input=data["input"], pinned=pinned)
        return Response({"reused": nodes, "reusedFrom": source.pk, "reuseNote": why})


PIN_ERRORS: dict[int, Any] = {
    400: OpenApiResponse(DETAIL_SERIALIZER, description="Not a node of the workflow, a node id over "
                                                        "MAX_NODE_ID_LENGTH characters, a node that cannot be pinned, "
                                                        "or data over FLOWMAESTRO_PINNED_DATA_MAX_BYTES; "
                                                        "`errors: [{message, nodeId}]`"),
    404: WORKFLOW_ERRORS[404],
    409: OpenApiResponse(DETAIL_SERIALIZER, description="FLOWMAESTRO_PINNED_DATA_PER_WORKFLOW nodes are pinned already"),
}


class WorkflowPinListApi(APIView):
    """The workflow's pinned test data, one entry per pinned node."""

    @extend_schema(responses={200: PinSerializer(many=True), 404: WORKFLOW_ERRORS[404]})
    def get(self, request: Request, workflow_id: str) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        return Response(PinSerializer(pins.pin_list(workflow=workflow), many=True).data)


def _pin_node_id(node_id: str) -> str:
    """The node id of a pin's URL, refused (400, naming the limit) when no node can have it."""
    if len(node_id) > rules.MAX_NODE_ID_LENGTH:
        message = f"a node id is at most {rules.MAX_NODE_ID_LENGTH} characters; this one has {len(node_id)}"
        raise pins.PinRefused(message, [{"message": message, "nodeId": node_id[:rules.MAX_NODE_ID_LENGTH] + "…"}])
    return node_id


class WorkflowPinDetailApi(APIView):
    @extend_schema(request=PinInputSerializer, responses={200: PinSerializer, **PIN_ERRORS})
    def put(self, request: Request, workflow_id: str, node_id: str) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        node_id = _pin_node_id(node_id)
        serializer = PinInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pin = pins.pin_put(workflow=workflow, user=request.user, node_id=node_id,
                           data=serializer.validated_data["data"])
        return Response(PinSerializer(pin).data)

    @extend_schema(responses={204: None, 400: PIN_ERRORS[400], 404: WORKFLOW_ERRORS[404]})
    def delete(self, request: Request, workflow_id: str, node_id: str) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        node_id = _pin_node_id(node_id)
        if not pins.pin_delete(workflow=workflow, node_id=node_id):
            return Response({"detail": f"node {node_id} has no pinned data."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkflowExpressionTestApi(APIView):
    """Evaluate an expression in the V8 sandbox (with tighter limits than a run) the way a
    node run would, for the editor's "Test" button. Only for the workflow's owner (another
    user's workflow is a 404), and nothing is stored."""

    @extend_schema(
        request=ExpressionTestInputSerializer,
        responses={200: ExpressionTestResultSerializer, 400: DETAIL_SERIALIZER, 404: WORKFLOW_ERRORS[404],
                   429: DETAIL_SERIALIZER},
    )
    def post(self, request: Request, workflow_id: str) -> Response:
        workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
        serializer = ExpressionTestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            # The past run's values are read inside the slot too: a big run's read is work
            # of its own, and a burst of clicks must not do it many times at once.
            with services.expression_test_slot(request.user.pk):
                try:
                    bindings = services.expression_test_bindings(
                        workflow=workflow, user=request.user, input=data["input"], execution_id=data["execution"],
                        node_id=data["nodeId"], extra=data["bindings"],
                    )
                except services.ExpressionTestRefused as exc:
                    return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
                result = services.expression_test(code=data["code"], bindings=bindings, owner=request.user.pk)
        except services.ExpressionTestBusy as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": "1"})
        return Response(result)


class DemoWorkflowsApi(APIView):
    """`POST /api/demo-workflows`: load (or bring up to date) the demo workflows for the
    caller. Their `apiBase` points at this server's demo API as the browser reached it
    (or FLOWMAESTRO_SITE_URL when set), so the demos work on any host and port."""

    @extend_schema(request=None, responses={200: WorkflowSerializer(many=True)})
    def post(self, request: Request) -> Response:
        from editor.demos import demo_api_base, load_demos

        workflows = load_demos(owner=request.user, api_base=demo_api_base(request))
        return Response(WorkflowSerializer(workflows, many=True).data)
