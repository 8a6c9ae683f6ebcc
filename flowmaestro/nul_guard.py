"""Refuse a request whose path, query string or a header holds the NUL character (`%00`).

PostgreSQL's text cannot hold NUL ("PostgreSQL text fields cannot contain NUL (0x00)
bytes"), SQLite's can: a filter such as `…/node-runs?nodeId=a%00b` answered 500 on
PostgreSQL only. No name, id or filter value of FlowMaestro has a use for NUL, so such a
request is a 400 (JSON under /api/, from `handler400`, whatever DEBUG says) before any view reads it. Headers
too: django-axes stores a failed login's User-Agent, and one with NUL made the login page
answer 500 on PostgreSQL.
Request bodies are checked by the JSON parser (engine.core.json_bounds) and form fields
by Django's own validators.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware


def _check(request: HttpRequest) -> None:
    meta = request.META
    if "\x00" in request.path or "%00" in meta.get("QUERY_STRING", ""):
        raise BadRequest("a NUL character (%00) is not allowed in the address")
    if any(key.startswith("HTTP_") and isinstance(value, str) and "\x00" in value for key, value in meta.items()):
        raise BadRequest("a NUL character is not allowed in a header")


def _refused(request: HttpRequest) -> HttpResponse | None:
    """The 400 for a request with NUL, answered here rather than raised: a raised
    BadRequest reaches `handler400` only with DEBUG off — under DEBUG (`make run`) Django
    answers its HTML debug page instead, for API paths too."""
    from flowmaestro.api_errors import handler400

    try:
        _check(request)
    except BadRequest as exc:
        return handler400(request, exc)
    return None


@sync_and_async_middleware
def nul_guard(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    if asyncio.iscoroutinefunction(get_response):
        async def async_middleware(request: HttpRequest) -> HttpResponse:
            refused = _refused(request)
            if refused is not None:
                return refused
            response: Awaitable[HttpResponse] = get_response(request)
            return await response

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        refused = _refused(request)
        if refused is not None:
            return refused
        response: HttpResponse = get_response(request)
        return response

    return middleware
