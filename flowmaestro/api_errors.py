"""Every API error is JSON with a `detail` (SPEC §7): never a 500 or an HTML page for bad input."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

INVALID_DEFINITION = "Invalid workflow definition."
CONFLICT = ("Conflict: something this request uses was deleted or changed by another request at the same "
            "moment (a workflow deleted while it was run or saved, say). Reload and try again.")
REDIS_DOWN = ("Service unavailable: the server cannot reach Redis, which runs, live updates and request "
              "throttling need. Try again shortly.")
REDIS_DOWN_RETRY_AFTER_S = 5
REDIS_LOG_EVERY_S = 30.0
log = logging.getLogger("flowmaestro")
_redis_logged = [0.0]


def _redis_down(exc: BaseException) -> Response:
    """REDIS_URL's server is down (every API request meets it: the throttle counts live
    there): 503 with Retry-After instead of a 500 per request, and one log line naming the
    error every REDIS_LOG_EVERY_S instead of a traceback per request."""
    now = time.monotonic()
    if now - _redis_logged[0] >= REDIS_LOG_EVERY_S:
        _redis_logged[0] = now
        log.error("API answers 503: Redis (REDIS_URL) unreachable: %s", exc)
    return Response({"detail": REDIS_DOWN}, status=status.HTTP_503_SERVICE_UNAVAILABLE,
                    headers={"Retry-After": str(REDIS_DOWN_RETRY_AFTER_S)})


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Domain refusals that any view may meet (saving, running, retrying, replaying): one
    # answer each, the same wherever they come from.
    from editor.services import InvalidDefinition
    from engine.errors import Refusal

    if isinstance(exc, InvalidDefinition):
        return Response({"detail": INVALID_DEFINITION, "errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Refusal):  # a full queue (429), a signal that does not apply (409), …
        body: dict[str, Any] = {"detail": exc.message}
        if exc.errors:
            body["errors"] = exc.errors
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.messages)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        # ObjectDoesNotExist: a row the view had found was deleted before it was read again
        # (a workflow deleted in another tab while it is run, saved or replayed from).
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, IntegrityError):
        # A write that names a row deleted at the same moment (a run or a retry started while
        # its workflow is deleted: the foreign key refuses the execution) or that another
        # request wrote first. Not the client's mistake and not a server fault: a 409 that
        # says so, with the traceback logged in case it is a bug after all.
        log.warning("API answers 409 for a write that conflicted with another: %s", exc, exc_info=True)
        set_rollback()
        return Response({"detail": CONFLICT}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return _redis_down(exc)
    if isinstance(exc, RequestDataTooBig):
        # Answered here, not by handler400: under DEBUG Django renders its HTML debug page
        # for it instead (with the request's headers), and `make run` serves with DEBUG.
        return Response({"detail": too_big_detail()}, status=status.HTTP_400_BAD_REQUEST)
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError) and not (isinstance(data, dict) and "detail" in data):
        response.data = {"detail": "Invalid request.", "errors": data}
    elif not isinstance(data, dict):
        response.data = {"detail": data}
    return response


# Django-level fallbacks for /api/ paths that never reach a DRF view (an unknown path, a
# non-numeric id, an exception outside DRF): JSON there, Django's own pages elsewhere.
def _is_api(request: HttpRequest) -> bool:
    # Leading slashes stripped: a client joining "http://host/" and "/api/…" asks for
    # "//api/…" and should still be told in JSON that nothing is there.
    return request.path.lstrip("/").startswith(("api/", "hooks/", "demo-api/"))


@csrf_exempt  # a POST to an unknown /api/ path is a 404, not a CSRF page
def api_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def too_big_detail() -> str:
    return (f"Bad request: the request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes "
            "(DATA_UPLOAD_MAX_MEMORY_SIZE).")


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A request Django refuses before any view (e.g. a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE): JSON under /api/, Django's page elsewhere."""
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse({"detail": too_big_detail()}, status=status.HTTP_400_BAD_REQUEST)
        return JsonResponse({"detail": f"Bad request: {exception}" if str(exception) else "Bad request."},
                            status=status.HTTP_400_BAD_REQUEST)
    return defaults.bad_request(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: JSON under /api/ (a session-authenticated write without its
    CSRF token), Django's page elsewhere."""
    if _is_api(request):
        return JsonResponse({"detail": f"CSRF failed: {reason}"}, status=status.HTTP_403_FORBIDDEN)
    from django.views.csrf import csrf_failure as default_csrf_failure

    return default_csrf_failure(request, reason)


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Server error."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return defaults.server_error(request)
