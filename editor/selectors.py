"""Reads of workflows, scoped to what a user may see (SPEC §7: own workflows; staff see all).

A workflow someone else owns is simply not found: the API answers 404, never 403, so ids
do not leak whether a workflow exists.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import F, QuerySet
from django.http import Http404

from editor.models import Workflow, WorkflowVersion

# Ids beyond a 64-bit integer would overflow the database driver; they cannot exist anyway.
MAX_ID = 2**63 - 1


def workflow_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Workflow]:
    qs = Workflow.objects.all()
    if not getattr(user, "is_staff", False):
        qs = qs.filter(owner_id=user.pk)
    return qs.select_related("owner").order_by("-updated_at", "-id")


def workflow_get(*, user: AbstractBaseUser | AnonymousUser, workflow_id: int | str) -> Workflow:
    try:
        pk = int(workflow_id)
    except (TypeError, ValueError):
        raise Http404("No such workflow.") from None
    if not 0 < pk <= MAX_ID:
        raise Http404("No such workflow.")
    workflow = workflow_list(user=user).filter(pk=pk).first()
    if workflow is None:
        raise Http404("No such workflow.")
    return workflow


def workflow_version_list(*, workflow: Workflow) -> QuerySet[WorkflowVersion]:
    return workflow.versions.select_related("created_by").order_by("-number")


def workflow_version_get(*, workflow: Workflow, number: int | str) -> WorkflowVersion:
    try:
        value = int(number)
    except (TypeError, ValueError):
        raise Http404("No such version.") from None
    if not 0 < value <= MAX_ID:
        raise Http404("No such version.")
    version = workflow_version_list(workflow=workflow).filter(number=value).first()
    if version is None:
        raise Http404("No such version.")
    return version


def workflow_run_version_get(*, user: AbstractBaseUser | AnonymousUser, workflow_id: int | str) -> WorkflowVersion | None:
    """The current version of a workflow the user may run, with its workflow, in one query
    (the run endpoint's hot path). None when that does not resolve: the caller falls back
    to `workflow_get`, which tells a missing workflow (404) from one without a version."""
    try:
        pk = int(workflow_id)
    except (TypeError, ValueError):
        return None
    if not 0 < pk <= MAX_ID:
        return None
    qs = WorkflowVersion.objects.filter(workflow_id=pk, number=F("workflow__version"))
    if not getattr(user, "is_staff", False):
        qs = qs.filter(workflow__owner_id=user.pk)
    # Unordered and sliced: `.first()` would add an ORDER BY that one row does not need.
    # (Deferring the workflow's copy of the definition was measured slower, not faster.)
    return next(iter(qs.select_related("workflow").order_by()[:1]), None)
