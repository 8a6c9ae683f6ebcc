"""Reads of workflows, scoped to what a user may see (SPEC §7: own workflows; staff see all).

A workflow someone else owns is simply not found: the API answers 404, never 403, so ids
do not leak whether a workflow exists.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import QuerySet

from editor.models import Workflow, WorkflowVersion
from flowmaestro.visibility import get_or_404, is_staff, parse_id, visible


def workflow_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Workflow]:
    return visible(Workflow.objects.all(), user).select_related("owner").order_by("-updated_at", "-id")


def workflow_list_with_last_run(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Workflow]:
    """`workflow_list` with each workflow's latest execution (`last_run_id`, `last_run_status`,
    `last_run_at`; None when it never ran), for the list's "last run" column."""
    from django.db.models import OuterRef, Subquery

    from engine.models import Execution

    latest = Execution.objects.filter(workflow_id=OuterRef("pk")).order_by("-created_at", "-id")
    return workflow_list(user=user).annotate(
        last_run_id=Subquery(latest.values("id")[:1]),
        last_run_status=Subquery(latest.values("status")[:1]),
        last_run_at=Subquery(latest.values("created_at")[:1]),
    )


def workflow_get(*, user: AbstractBaseUser | AnonymousUser, workflow_id: int | str) -> Workflow:
    return get_or_404(workflow_list(user=user), workflow_id, "No such workflow.")


def workflow_version_list(*, workflow: Workflow) -> QuerySet[WorkflowVersion]:
    return workflow.versions.select_related("created_by").order_by("-number")


def workflow_version_get(*, workflow: Workflow, number: int | str) -> WorkflowVersion:
    return get_or_404(workflow_version_list(workflow=workflow), number, "No such version.", field="number")


def workflow_run_version_get(*, user: AbstractBaseUser | AnonymousUser, workflow_id: int | str) -> WorkflowVersion | None:
    """The current version of a workflow the user may run, with its workflow (the run
    endpoint's hot path). None when that does not resolve: the caller falls back to
    `workflow_get`, which tells a missing workflow (404) from one without a version.

    One raw query, turned into a model instance by the ORM: compiling the equivalent
    `select_related` queryset cost ~0.5 ms per run request, several times the query. The
    workflow comes with the fields a run needs (id, owner, version number); the others
    are deferred (Django loads them if something reads them)."""
    pk = parse_id(workflow_id)
    if pk is None or user.pk is None:
        return None
    # The visibility rule of `flowmaestro.visibility.visible`, as SQL (see `_run_sql`).
    staff = is_staff(user)
    version = next(iter(WorkflowVersion.objects.raw(_run_sql(staff), [pk] if staff else [pk, user.pk])), None)
    if version is None:
        return None
    owner_id = version._run_workflow_owner  # type: ignore[attr-defined]
    del version._run_workflow_owner  # type: ignore[attr-defined]
    version.workflow = Workflow.from_db(connection.alias, ["id", "owner_id", "version"],
                                        [version.workflow_id, owner_id, version.number])
    return version


@cache
def _run_sql(staff: bool) -> str:
    """SQL of `workflow_run_version_get`: the workflow's current version (by number), and
    the workflow's owner, of a workflow that is the user's own unless staff."""
    qn = connection.ops.quote_name
    workflows, versions = Workflow._meta, WorkflowVersion._meta
    owner_column = qn(workflows.get_field("owner").column)
    owner = "" if staff else f" AND w.{owner_column} = %s"
    # The columns by name, not `v.*`: a statement psycopg has prepared must keep its result
    # shape when a migration adds a column, or PostgreSQL refuses to run it again.
    columns = ", ".join(f"v.{qn(field.column)}" for field in versions.concrete_fields)
    return (
        f"SELECT {columns}, w.{owner_column} AS {qn('_run_workflow_owner')} FROM {qn(versions.db_table)} v "
        f"JOIN {qn(workflows.db_table)} w ON w.{qn(workflows.pk.column)} = v.{qn(versions.get_field('workflow').column)} "
        f"AND v.{qn(versions.get_field('number').column)} = w.{qn(workflows.get_field('version').column)} "
        f"WHERE w.{qn(workflows.pk.column)} = %s{owner}"
    )
