"""What a deployment must not get wrong: the server refuses to start on the public
development key, and a locked-out login gets a clear 429 that says when to try again."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

INSECURE_KEY_MESSAGE = (
    "Refusing to start: DJANGO_DEBUG is off and DJANGO_SECRET_KEY is not set, so sessions, "
    "CSRF tokens and password-reset links would be signed with FlowMaestro's public "
    "development key. Set DJANGO_SECRET_KEY to a long random value (for example the output "
    "of `python -c 'import secrets; print(secrets.token_urlsafe(50))'`), or DJANGO_DEBUG=1 "
    "for local development (`make run` does)."
)


def refuse_insecure_start() -> None:
    """Called before the server serves anything (flowmaestro.asgi)."""
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        raise ImproperlyConfigured(INSECURE_KEY_MESSAGE)


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict[str, Any] | None = None) -> HttpResponse:
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): 429 with
    Retry-After, JSON for API clients and the login page's own look for browsers."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    minutes = max(1, round(seconds / 60))
    detail = f"Too many failed logins. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse({"detail": detail}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(seconds)
    return response
