"""Server-rendered shells of the execution pages (SPEC §7 pages list): the live list
(`/executions/`), the live timeline (`/executions/<id>/`) and the dead letters
(`/dead-letters/`). Each loads one Vite entry; the React code reads the JSON API and the
websocket stream. A stranger's execution id is a 404 page, never an empty timeline.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.csrf import ensure_csrf_cookie

from engine.selectors import execution_get


@login_required
@ensure_csrf_cookie
def execution_list(request: HttpRequest) -> HttpResponse:
    return render(request, "engine/execution_list.html", {"nav": "executions"})


@login_required
@ensure_csrf_cookie
def execution_timeline(request: HttpRequest, execution_id: int) -> HttpResponse:
    execution = execution_get(request.user, execution_id)
    return render(request, "engine/execution_timeline.html", {"nav": "executions", "execution": execution})


@login_required
@ensure_csrf_cookie
def dead_letter_list(request: HttpRequest) -> HttpResponse:
    return render(request, "engine/dead_letters.html", {"nav": "dead-letters"})


urlpatterns: list[URLPattern | URLResolver] = [
    path("executions/", execution_list, name="execution-list"),
    path("executions/<int:execution_id>/", execution_timeline, name="execution-timeline"),
    path("dead-letters/", dead_letter_list, name="dead-letter-list"),
]
