"""Writes to workflows and their versions (HackSoft style: keyword-only, typed).

Every save that changes a workflow's definition appends an immutable `WorkflowVersion`
and moves `workflow.version` to it; a save with an identical definition appends nothing,
so the version history only records real edits. Executions point at a version, so none of
this ever changes a run that has already started (SPEC §3).
"""

from __future__ import annotations

import copy
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from editor.models import Workflow, WorkflowVersion
from engine.core.graph import ValidationReport, validate_definition

FINISHED_STATUSES = ("succeeded", "failed", "cancelled", "timed_out")

UserLike = AbstractBaseUser | AnonymousUser


class InvalidDefinition(Exception):
    """The definition has validation errors; each names its node or edge (SPEC §3)."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__("Invalid workflow definition.")
        self.errors = errors


class WorkflowBusy(Exception):
    """The workflow cannot be deleted while its executions are still live."""


class VersionNotFound(Exception):
    """The workflow has no version with that number."""


def workflow_validate(*, definition: Any) -> ValidationReport:
    """Errors and warnings of a definition, without saving anything."""
    return validate_definition(definition)


def _ensure_valid(definition: Any) -> None:
    report = workflow_validate(definition=definition)
    if report.errors:
        raise InvalidDefinition(report.errors)


def _append_version(*, workflow: Workflow, definition: dict[str, Any], user: UserLike | None) -> WorkflowVersion:
    latest = workflow.versions.order_by("-number").values_list("number", flat=True).first() or 0
    number = max(latest, workflow.version) + 1
    version = WorkflowVersion.objects.create(
        workflow=workflow,
        number=number,
        # A deep copy: the version must not share mutable JSON with the live workflow row.
        definition=copy.deepcopy(definition),
        created_by_id=user.pk if user is not None and user.is_authenticated else None,
    )
    workflow.version = number
    return version


@transaction.atomic
def workflow_create(
    *, owner: AbstractBaseUser, name: str, description: str = "", definition: dict[str, Any]
) -> Workflow:
    _ensure_valid(definition)
    workflow = Workflow.objects.create(
        owner_id=owner.pk, name=name, description=description, definition=copy.deepcopy(definition), version=0
    )
    _append_version(workflow=workflow, definition=definition, user=owner)
    workflow.save(update_fields=["version", "updated_at"])
    return workflow


@transaction.atomic
def workflow_update(
    *,
    workflow: Workflow,
    user: UserLike | None,
    name: str | None = None,
    description: str | None = None,
    definition: dict[str, Any] | None = None,
) -> Workflow:
    # Re-read the row inside the transaction so that two concurrent saves cannot both
    # append "version N + 1" (SQLite's IMMEDIATE transactions serialise the writers).
    locked = Workflow.objects.select_for_update().get(pk=workflow.pk)
    changed: list[str] = []
    if name is not None and name != locked.name:
        locked.name = name
        changed.append("name")
    if description is not None and description != locked.description:
        locked.description = description
        changed.append("description")
    if definition is not None:
        _ensure_valid(definition)
        if definition != locked.definition:
            locked.definition = copy.deepcopy(definition)
            _append_version(workflow=locked, definition=definition, user=user)
            changed += ["definition", "version"]
    if changed:
        locked.save(update_fields=[*changed, "updated_at"])
    # Hand the caller's instance the fresh state as well.
    workflow.refresh_from_db()
    return workflow


@transaction.atomic
def workflow_duplicate(*, workflow: Workflow, user: AbstractBaseUser) -> Workflow:
    """A new workflow owned by `user` with the current definition and a fresh history."""
    return workflow_create(
        owner=user,
        name=f"{workflow.name} (copy)"[:200],
        description=workflow.description,
        definition=copy.deepcopy(workflow.definition),
    )


@transaction.atomic
def workflow_restore_version(*, workflow: Workflow, user: UserLike | None, number: int) -> Workflow:
    """Make an old version current again. History stays append-only: restoring records a
    new version carrying the old definition (unless it already is the current one)."""
    version = workflow.versions.filter(number=number).first()
    if version is None:
        raise VersionNotFound(f"Workflow {workflow.pk} has no version {number}.")
    return workflow_update(workflow=workflow, user=user, definition=copy.deepcopy(version.definition))


@transaction.atomic
def workflow_delete(*, workflow: Workflow, user: UserLike | None) -> None:
    """Delete a workflow, its versions and its finished executions.

    Live executions (queued, running, paused) would lose their graph under the engine's
    feet, so they must be cancelled first.
    """
    from engine.models import Execution

    executions = Execution.objects.filter(workflow=workflow)
    if executions.exclude(status__in=FINISHED_STATUSES).exists():
        raise WorkflowBusy("This workflow has executions that are still queued, running or paused; cancel them first.")
    # Executions PROTECT their version, so they go before the workflow (and its versions).
    executions.delete()
    workflow.delete()
