"""Server-rendered shells for the editor pages (SPEC §7 pages list).

Each page is a Django template that loads one Vite entry; the React code then talks to
the JSON API. Ownership is checked here too, so a stranger's workflow id is a 404 page
rather than an empty editor.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.csrf import ensure_csrf_cookie

from editor import selectors


def home(request: HttpRequest) -> HttpResponse:
    return redirect("workflow-list")


@login_required
@ensure_csrf_cookie
def workflow_list(request: HttpRequest) -> HttpResponse:
    return render(request, "editor/workflow_list.html", {"nav": "workflows"})


@login_required
@ensure_csrf_cookie
def workflow_editor(request: HttpRequest, workflow_id: int) -> HttpResponse:
    # The same scoping as the API: another user's workflow is a 404 page.
    workflow = selectors.workflow_get(user=request.user, workflow_id=workflow_id)
    return render(request, "editor/workflow_editor.html", {"nav": "workflows", "workflow": workflow})


@login_required
@ensure_csrf_cookie
def workflow_new(request: HttpRequest) -> HttpResponse:
    # The editor on a workflow that does not exist yet: nothing is stored until the first
    # save, so opening "New workflow" and leaving leaves no empty draft behind.
    name = (request.GET.get("name") or "").strip()[:200] or "Untitled workflow"
    return render(request, "editor/workflow_editor.html", {"nav": "workflows", "workflow": None, "new_name": name})


urlpatterns: list[URLPattern | URLResolver] = [
    path("", home, name="home"),
    path("workflows/", workflow_list, name="workflow-list"),
    path("workflows/new/", workflow_new, name="workflow-new"),
    path("workflows/<int:workflow_id>/", workflow_editor, name="workflow-editor"),
]
