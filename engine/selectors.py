"""Reads of executions, scoped to what a user may see (`flowmaestro.visibility`): their own,
or all of them for staff. Shared by the execution API, the timeline and the pages."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from engine.execution_values import VALUE_FIELDS, with_values
from engine.models import Execution
from flowmaestro.visibility import get_or_404, visible


def executions_visible(user: Any) -> QuerySet[Execution]:
    """The executions `user` may see, without their `input`, `output`, `error` and `state`
    (deferred: a big loop's input is megabytes, and most answers do not show it; reading
    one of them on an instance loads it then)."""
    return visible(Execution.objects.select_related("workflow", "version").defer(*VALUE_FIELDS), user)


def executions_with_values(user: Any) -> QuerySet[Execution]:
    """`executions_visible` for answers that show those values: each one's size from the
    database and the value itself only when small (`engine.execution_values`)."""
    return with_values(executions_visible(user))


def execution_get(user: Any, execution_id: Any, *, values: bool = False) -> Execution:
    """The execution, or Http404 (a stranger's looks exactly like a missing one); with
    `values`, read through `executions_with_values`."""
    qs = executions_with_values(user) if values else executions_visible(user)
    return get_or_404(qs, execution_id, "No such execution.")
