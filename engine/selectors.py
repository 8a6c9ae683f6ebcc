"""Reads of executions, scoped to what a user may see (`flowmaestro.visibility`): their own,
or all of them for staff. Shared by the execution API, the timeline and the pages."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from engine.models import Execution
from flowmaestro.visibility import get_or_404, visible


def executions_visible(user: Any) -> QuerySet[Execution]:
    return visible(Execution.objects.select_related("workflow", "version"), user)


def execution_get(user: Any, execution_id: Any) -> Execution:
    """The execution, or Http404 (a stranger's looks exactly like a missing one)."""
    return get_or_404(executions_visible(user), execution_id, "No such execution.")
