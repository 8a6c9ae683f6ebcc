"""What a deployment must not get wrong: the server refuses to start on the public
development key, and a locked-out login gets a clear 429 that says when to try again."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks.security.base import SECRET_KEY_MIN_LENGTH, SECRET_KEY_MIN_UNIQUE_CHARACTERS
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

WEAK_KEY_MESSAGE = (
    "Refusing to start: DJANGO_DEBUG is off and DJANGO_SECRET_KEY is too weak to sign "
    f"sessions and CSRF tokens (it needs at least {SECRET_KEY_MIN_LENGTH} characters, "
    f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} of them different, and no 'django-insecure-' prefix: "
    "the rule of Django's `check --deploy`). Use a long random value, for example the output "
    "of `python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
)


def weak_secret_key(key: str) -> bool:
    """Django's own `check --deploy` rule (security.W009), enforced at start."""
    return (len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
            or key.startswith("django-insecure-"))


def refuse_insecure_start() -> None:
    """Called before the server serves anything (flowmaestro.asgi). A short key is refused
    too, not only warned about by `check --deploy`, which a deployment may never run."""
    if settings.DEBUG:
        return
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        raise ImproperlyConfigured(INSECURE_KEY_MESSAGE)
    if weak_secret_key(settings.SECRET_KEY):
        raise ImproperlyConfigured(WEAK_KEY_MESSAGE)


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
