"""Trigger API: a workflow's webhooks and schedules (owner only; another user's are 404),
and the public webhook endpoint `POST /hooks/{token}` that needs no login."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from editor import selectors, triggers, webhook_signing
from editor.models import Schedule, Webhook, WebhookAuth, Workflow
from editor.services import StorageLimit
from engine import execution_values
from engine.core import json_bounds
from engine.core.numerals import ascii_number
from engine.models import FINISHED_EXECUTION_STATUSES, Execution
from flowmaestro import json_parser
from flowmaestro.request_bodies import (
    JSONBooleanField,
    JSONIntegerField,
    JSONStringField,
    KnownKeysSerializer,
)
from flowmaestro.throttling import AnonThrottle, WindowThrottle
from flowmaestro.visibility import get_or_404

MAX_PER_WORKFLOW = 20  # webhooks and schedules each: a bound, not a product limit anyone meets


def webhook_url(request: Request, webhook: Webhook) -> str:
    return request.build_absolute_uri(f"/hooks/{webhook.token}")


def webhook_json(request: Request, webhook: Webhook) -> dict[str, Any]:
    return {
        "id": webhook.pk, "name": webhook.name, "url": webhook_url(request, webhook), "auth": webhook.auth,
        # Shown to the workflow's owner (and staff) only: the sender needs it to sign.
        "hmacSecret": webhook.hmac_secret or None, **_signing_json(webhook),
        "enabled": webhook.enabled, "createdAt": webhook.created_at, "lastCalledAt": webhook.last_called_at,
        "calls": webhook.calls,
    }


def _signing_json(webhook: Webhook) -> dict[str, Any]:
    """How the sender of an HMAC webhook signs (editor.webhook_signing), enough to write it."""
    hmac_auth = webhook.auth == WebhookAuth.HMAC
    return {
        "signatureHeader": triggers.SIGNATURE_HEADER, "timestampHeader": triggers.TIMESTAMP_HEADER,
        "requireTimestamp": hmac_auth and webhook.require_timestamp,
        # What the HMAC-SHA256 (hex, sent as `sha256=<hex>`) is computed over.
        "signedPayload": webhook_signing.how_to_sign(webhook) if hmac_auth else None,
        "toleranceSeconds": webhook_signing.tolerance(),
    }


def schedule_json(schedule: Schedule) -> dict[str, Any]:
    try:
        upcoming = triggers.upcoming(schedule) if schedule.enabled else []
    except triggers.InvalidTrigger:
        upcoming = []
    return {
        "id": schedule.pk, "name": schedule.name, "cron": schedule.cron, "timezone": schedule.timezone,
        "input": schedule.input, "enabled": schedule.enabled, "catchUp": schedule.catch_up,
        "nextRunAt": schedule.next_run_at, "upcoming": upcoming, "lastRunAt": schedule.last_run_at,
        "lastExecutionId": schedule.last_execution_id, "lastError": schedule.last_error or None,
    }


# Known keys only (flowmaestro.request_bodies): a misspelt `timeZone` made a UTC schedule
# and `enabld` an enabled webhook, each with a 201.
class WebhookInput(KnownKeysSerializer):
    name = JSONStringField(required=False, allow_blank=True, max_length=200)
    auth = serializers.ChoiceField(choices=["token", "hmac"], required=False, default="token")
    enabled = JSONBooleanField(required=False)
    rotate = JSONBooleanField(required=False, default=False)
    # HMAC webhooks: sign a fresh X-FlowMaestro-Timestamp and refuse replays (default for new ones).
    requireTimestamp = JSONBooleanField(required=False)


class ScheduleInput(KnownKeysSerializer):
    name = JSONStringField(required=False, allow_blank=True, max_length=200)
    cron = JSONStringField(max_length=120)
    timezone = JSONStringField(required=False, max_length=64, default="UTC")
    # A JSON object, as `POST …/run` takes: a string or list was stored and started every
    # occurrence with an input the run API itself refuses.
    input = serializers.DictField(required=False, default=dict, child=serializers.JSONField())
    enabled = JSONBooleanField(required=False, default=True)
    catchUp = serializers.ChoiceField(choices=["skip", "latest", "all"], required=False, default="latest")


def _check_room(qs: Any, what: str) -> None:
    """One more webhook or schedule fits on the workflow (MAX_PER_WORKFLOW each). Past it,
    a 409 like every other count bound of the API (workflows per user, versions per
    workflow): the request is fine, what is stored is full; deleting one makes room."""
    if qs.count() >= MAX_PER_WORKFLOW:
        raise StorageLimit(f"a workflow has at most {MAX_PER_WORKFLOW} {what}: delete one to add another")


def _workflow(request: Request, workflow_id: str) -> Workflow:
    return selectors.workflow_get(user=request.user, workflow_id=workflow_id)


class WebhookListApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, workflow_id: str) -> Response:
        workflow = _workflow(request, workflow_id)
        return Response({"results": [webhook_json(request, w) for w in workflow.webhooks.all()]})

    @extend_schema(request=WebhookInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, workflow_id: str) -> Response:
        workflow = _workflow(request, workflow_id)
        data = WebhookInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v.get("requireTimestamp") and v["auth"] != WebhookAuth.HMAC:
            return Response({"detail": "requireTimestamp applies to hmac webhooks only (a token webhook signs "
                                       "nothing)"}, status=status.HTTP_400_BAD_REQUEST)
        _check_room(workflow.webhooks.all(), "webhooks")
        webhook = triggers.webhook_create(
            workflow=workflow, name=v.get("name", ""), auth=v["auth"],
            enabled=v.get("enabled", True),  # it was ignored: asked disabled, made live
            require_timestamp=v.get("requireTimestamp", True),
        )
        return Response(webhook_json(request, webhook), status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    @extend_schema(request=WebhookInput, responses={200: OpenApiTypes.OBJECT})
    def patch(self, request: Request, workflow_id: str, webhook_id: str) -> Response:
        webhook = get_or_404(_workflow(request, workflow_id).webhooks.all(), webhook_id)
        data = WebhookInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if "auth" in request.data and v.get("auth") != webhook.auth:
            return Response({"detail": "a webhook's auth cannot change: add a new webhook with the auth you want "
                                       "(its URL and secret are new too) and delete this one"}, status=400)
        webhook = triggers.webhook_update(
            webhook=webhook, name=v.get("name"), enabled=v.get("enabled"), rotate=bool(v.get("rotate")),
            require_timestamp=v.get("requireTimestamp"),
        )
        return Response(webhook_json(request, webhook))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, workflow_id: str, webhook_id: str) -> Response:
        get_or_404(_workflow(request, workflow_id).webhooks.all(), webhook_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScheduleListApi(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, workflow_id: str) -> Response:
        workflow = _workflow(request, workflow_id)
        return Response({"results": [schedule_json(s) for s in workflow.schedules.all()]})

    @extend_schema(request=ScheduleInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, workflow_id: str) -> Response:
        workflow = _workflow(request, workflow_id)
        data = ScheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        _check_room(workflow.schedules.all(), "schedules")
        v = data.validated_data
        schedule = Schedule(
            workflow=workflow, name=v.get("name", ""), cron=v["cron"], timezone=v["timezone"], input=v["input"],
            enabled=v["enabled"], catch_up=v["catchUp"],
        )
        return Response(schedule_json(triggers.schedule_save(schedule=schedule)), status=status.HTTP_201_CREATED)


class ScheduleDetailApi(APIView):
    @extend_schema(request=ScheduleInput, responses={200: OpenApiTypes.OBJECT})
    def patch(self, request: Request, workflow_id: str, schedule_id: str) -> Response:
        schedule = get_or_404(_workflow(request, workflow_id).schedules.all(), schedule_id)
        data = ScheduleInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        for key, attr in (("name", "name"), ("cron", "cron"), ("timezone", "timezone"), ("input", "input"),
                          ("enabled", "enabled"), ("catchUp", "catch_up")):
            if key in v:
                setattr(schedule, attr, v[key])
        return Response(schedule_json(triggers.schedule_save(schedule=schedule)))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, workflow_id: str, schedule_id: str) -> Response:
        get_or_404(_workflow(request, workflow_id).schedules.all(), schedule_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class BadWait(Exception):
    pass


def _wait_seconds(request: Request) -> float:
    """`?wait=`: seconds (capped at FLOWMAESTRO_WEBHOOK_WAIT_MAX), `true` for the cap or
    `false` (as absent) for none. Spelled so exactly: "yes", "no", "TRUE" or " true" were
    read as true or false, while any other word was a 400."""
    raw = request.query_params.get("wait")
    limit = float(getattr(settings, "FLOWMAESTRO_WEBHOOK_WAIT_MAX", 30))
    if raw is None or raw in ("", "false"):
        return 0.0
    if raw == "true":
        return limit
    # ASCII only: float() also took "٣", "1_0", "inf" and "nan".
    value = ascii_number(raw.strip())
    if value is None:
        raise BadWait(f"wait must be a number of seconds (at most {limit:g}), true or false, not {raw[:40]!r}")
    return max(0.0, min(value, limit))


# Callers waiting for their run's result hold an HTTP thread each; past this many at once
# (FLOWMAESTRO_WEBHOOK_MAX_WAITERS), a call is answered at once with 202 and the execution
# id, so one webhook's callers can never take every thread of the server.
_waiters = threading.BoundedSemaphore(int(getattr(settings, "FLOWMAESTRO_WEBHOOK_MAX_WAITERS", 2)))


class _Budget(WindowThrottle, SimpleRateThrottle):
    """One counter of `HookThrottle`: the rate of `scope` (FLOWMAESTRO_THROTTLE_RATES),
    counted under `ident`."""

    def __init__(self, scope: str, ident: str):
        self.scope = scope
        self.ident = ident
        super().__init__()

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": "hook", "ident": self.ident}


class HookThrottle(AnonThrottle):
    """Webhook calls, counted per webhook inside a cap per owner.

    By address, one user's calls (or anyone's made-up tokens) used up the budget of every
    webhook sender at that address (a SaaS's delivery range, a proxy, a NAT), and another
    user's runs were refused with 429. Counted only per owner, one leaked token (a URL in a
    log or a screenshot) spent the owner's whole budget, and the owner's other webhooks
    answered 429. So each webhook has the anonymous rate to itself, and all of an owner's
    webhooks together `FLOWMAESTRO_THROTTLE_HOOK_OWNER`. The webhook's count is asked first:
    a call it refuses is not counted for the owner, so a leaked token's flood takes at most
    its webhook's share of the owner's cap. A token that names no webhook is counted by
    address (`AnonThrottle`), so guessing tokens stays slow and costs no owner anything."""

    def allow_request(self, request: Any, view: Any) -> bool:
        webhook = view.webhook(view.kwargs.get("token", ""))
        if webhook is None:
            self.refused_by: WindowThrottle = self
            return super().allow_request(request, view)
        for budget in (_Budget("anon", f"webhook{webhook.pk}"),
                       _Budget("hook_owner", f"owner{webhook.workflow.owner_id}")):
            if not budget.allow_request(request, view):
                self.refused_by = budget
                return False
        return True

    def wait(self) -> float:
        return self.refused_by.wait() if self.refused_by is not self else super().wait()


class HookApi(APIView):
    """`POST /hooks/{token}`: start a run with the request body (JSON) as its input."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [HookThrottle]

    def webhook(self, token: str) -> Webhook | None:
        """The webhook of `token`, read once per request (the throttle asks first)."""
        if not hasattr(self, "_webhook"):
            self._webhook = (Webhook.objects.select_related("workflow__owner").filter(token=token).first()
                             if 0 < len(token) <= 64 else None)
        return self._webhook

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        parameters=[OpenApiParameter("wait", OpenApiTypes.STR,
                                     description="wait for the result: seconds, `true` (the most) or `false`"),
                    OpenApiParameter(triggers.TIMESTAMP_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER,
                                     description="hmac webhooks: the Unix time in seconds when the call is sent"),
                    OpenApiParameter(triggers.SIGNATURE_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER,
                                     description="hmac webhooks: `sha256=<hex HMAC-SHA256>` of "
                                                 "`<timestamp>.<raw body>` with the webhook's secret")],
        responses={
            202: inline_serializer("HookAccepted", {"executionId": serializers.IntegerField(),
                                                    "status": serializers.CharField(),
                                                    "traceId": serializers.CharField()}),
            200: OpenApiTypes.OBJECT,
        },
    )
    def post(self, request: Request, token: str) -> Response:
        webhook = self.webhook(token)
        if webhook is None:
            raise Http404
        body: bytes = request.body
        try:
            wait = _wait_seconds(request)
        except BadWait as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        try:
            text = body.decode("utf-8")
            # Bounded like every API body (flowmaestro.json_parser): finite numbers only
            # (`1e999` too), nested at most FLOWMAESTRO_JSON_MAX_DEPTH deep, no key twice.
            payload: Any = json_bounds.loads(text, max_depth=json_parser.max_depth(), what="the request body",
                                             unique_keys=True) if text.strip() else {}
        except (UnicodeDecodeError, ValueError) as exc:
            return Response({"detail": f"the request body must be JSON: {exc}"}, status=status.HTTP_400_BAD_REQUEST)
        with transaction.atomic():
            execution = triggers.webhook_call(
                webhook=webhook, input=payload, body=body, signature=request.headers.get(triggers.SIGNATURE_HEADER),
                timestamp=request.headers.get(triggers.TIMESTAMP_HEADER), traceparent=request.headers.get("traceparent"),
            )
        answer: dict[str, Any] = {
            "executionId": execution.pk, "status": execution.status, "traceId": execution.trace_id,
        }
        if wait <= 0:
            return Response(answer, status=status.HTTP_202_ACCEPTED)
        if not _waiters.acquire(blocking=False):
            answer["waited"] = False  # too many callers already wait: poll the execution instead
            return Response(answer, status=status.HTTP_202_ACCEPTED)
        try:
            return self._wait_for(execution.pk, answer, wait)
        finally:
            _waiters.release()

    @staticmethod
    def _wait_for(execution_id: int, answer: dict[str, Any], wait: float) -> Response:
        # Waiting for the result (n8n's "respond when last node finishes"): bounded, and
        # a run that is still going answers 202 with its id so the caller can poll.
        deadline = time.monotonic() + wait
        pause = 0.01
        while True:
            current = Execution.objects.filter(pk=execution_id).values_list("status", flat=True).first()
            if current in FINISHED_EXECUTION_STATUSES:
                # Output and error bounded as the execution API answers them (whole up to the
                # cap, else the truncated marker): read whole, a run echoing its 2 MB input
                # from ten output nodes answered 20 MB to a caller without a login.
                done = execution_values.with_values(Execution.objects.filter(pk=execution_id).only("pk"),
                                                    ("output", "error")).first()
                answer["status"] = current
                if done is not None:
                    answer["output"] = execution_values.bounded_value(done, "output")
                    answer["error"] = execution_values.bounded_value(done, "error")
                return Response(answer, status=status.HTTP_200_OK)
            if time.monotonic() >= deadline:
                answer["status"] = current or answer["status"]
                return Response(answer, status=status.HTTP_202_ACCEPTED)
            time.sleep(pause)
            pause = min(pause * 1.5, 0.2)


class RetentionInput(KnownKeysSerializer):
    # None: follow the server's defaults; 0: keep for good.
    days = JSONIntegerField(allow_null=True, min_value=0, max_value=36_500)
    keepLast = JSONIntegerField(allow_null=True, min_value=0, max_value=10_000_000)


def retention_json(workflow: Workflow) -> dict[str, Any]:
    return {
        "days": workflow.retention_days, "keepLast": workflow.retention_keep_last,
        "defaultDays": int(getattr(settings, "FLOWMAESTRO_RETENTION_DAYS", 30)),
        "defaultKeepLast": int(getattr(settings, "FLOWMAESTRO_RETENTION_KEEP_LAST", 0)),
    }


class RetentionApi(APIView):
    """`GET/PUT /api/workflows/{id}/retention`: how long this workflow's finished runs are kept."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, workflow_id: str) -> Response:
        return Response(retention_json(_workflow(request, workflow_id)))

    @extend_schema(request=RetentionInput, responses={200: OpenApiTypes.OBJECT})
    def put(self, request: Request, workflow_id: str) -> Response:
        workflow = _workflow(request, workflow_id)
        data = RetentionInput(data=request.data)
        data.is_valid(raise_exception=True)
        Workflow.objects.filter(pk=workflow.pk).update(
            retention_days=data.validated_data["days"], retention_keep_last=data.validated_data["keepLast"]
        )
        workflow.refresh_from_db()
        return Response(retention_json(workflow))
