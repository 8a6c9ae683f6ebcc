"""Writes to workflows and their versions (HackSoft style: keyword-only, typed).

Every save that changes a workflow's definition appends an immutable `WorkflowVersion`
and moves `workflow.version` to it; a save with an identical definition appends nothing,
so the version history only records real edits. Executions point at a version, so none of
this ever changes a run that has already started (SPEC §3).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import Http404

from editor import pins
from editor.models import PinnedOutput, Workflow, WorkflowVersion
from engine.core.definition_checks import issue
from engine.core.graph import ValidationReport, validate_definition
from engine.errors import Refusal

FINISHED_STATUSES = ("succeeded", "failed", "cancelled", "timed_out")

UserLike = AbstractBaseUser | AnonymousUser


class InvalidDefinition(Exception):
    """The definition has validation errors; each names its node or edge (SPEC §3)."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__("Invalid workflow definition.")
        self.errors = errors


class WorkflowBusy(Exception):
    """The workflow cannot be deleted while its executions are still live."""


class VersionNotFound(Http404):
    """The workflow has no version with that number (a 404: the API's view looked the
    version up first, so only a workflow deleted meanwhile gets here)."""


class StorageLimit(Refusal):
    """A user's workflows, or a workflow's versions, are at their bound
    (FLOWMAESTRO_MAX_WORKFLOWS_PER_USER, FLOWMAESTRO_MAX_VERSIONS_PER_WORKFLOW): nothing was
    stored. A conflict with what is stored (409), not a rate (429): waiting does not help,
    deleting does."""

    status_code = 409


def workflow_validate(*, definition: Any, owner: Any = None) -> ValidationReport:
    """Errors and warnings of a definition, without saving anything. With the workflow's
    `owner`, also the warnings that need the database (`approver_warnings`)."""
    report = validate_definition(definition)
    if owner is not None:
        report.warnings.extend(approver_warnings(definition, owner))
    return report


# An approval node's approvers are checked against this many names at most: the list has
# no bound of its own, and each name is only a warning.
MAX_APPROVERS_CHECKED = 200


def approver_warnings(definition: Any, owner: Any) -> list[dict[str, Any]]:
    """A warning per `approval` approver who can never approve: only the run's owner and
    staff may signal it (everyone else gets a 404 on the run), so a name that is neither
    the workflow's owner nor an active staff user (by user name or e-mail, in any case, as
    `engine.core.signals.signal_refusal` matches them) leaves the approval to its timeout.
    A warning, not an error: the name may belong to someone made staff later, and a
    `{{template}}` is only known at run time."""
    named: list[tuple[str, str]] = []  # (node id, approver as written)
    nodes = definition.get("nodes") if isinstance(definition, dict) else None
    for node in nodes if isinstance(nodes, list) else []:
        if not isinstance(node, dict) or node.get("type") != "approval" or not isinstance(node.get("id"), str):
            continue
        config = node.get("config")
        approvers = config.get("approvers") if isinstance(config, dict) else None
        for name in approvers if isinstance(approvers, list) else []:
            if isinstance(name, str) and name.strip() and "{{" not in name and len(named) < MAX_APPROVERS_CHECKED:
                named.append((node["id"], name))
    if not named:
        return []
    may_approve = {str(owner.get_username()).strip().lower(), str(getattr(owner, "email", "") or "").strip().lower()}
    wanted = {name.strip().lower() for _, name in named} - may_approve
    if wanted:
        # Staff are few; matched in Python so that case and e-mail compare as the signal does.
        staff = get_user_model().objects.filter(is_active=True, is_staff=True).values_list("username", "email")
        for username, email in staff.iterator():
            may_approve |= {str(username).strip().lower(), str(email or "").strip().lower()}
    may_approve.discard("")
    return [issue(f"config.approvers: {name!r} cannot see this workflow's runs: only its owner and staff can "
                  "approve", node=node_id)
            for node_id, name in named if name.strip().lower() not in may_approve]


def structural_errors(definition: Any) -> list[dict[str, Any]]:
    """What even a draft must get right: a definition the editor can load (an object with
    lists of nodes and edges, every node an object with an id, every edge an object)."""
    if not isinstance(definition, dict):
        return [{"message": "definition must be a JSON object"}]
    nodes, edges = definition.get("nodes"), definition.get("edges", [])
    if not isinstance(nodes, list):
        return [{"message": "nodes must be a list"}]
    if not isinstance(edges, list):
        return [{"message": "edges must be a list"}]
    errors = [
        {"message": f"nodes[{i}] must be an object with a non-empty string id"}
        for i, node in enumerate(nodes)
        if not isinstance(node, dict) or not isinstance(node.get("id"), str) or not node.get("id")
    ]
    errors += [{"message": f"edges[{i}] must be an object"} for i, edge in enumerate(edges) if not isinstance(edge, dict)]
    return errors


def _ensure_valid(definition: Any, *, draft: bool = False) -> None:
    if draft:
        errors = structural_errors(definition)
        if errors:
            raise InvalidDefinition(errors)
        return
    report = workflow_validate(definition=definition)
    if report.errors:
        raise InvalidDefinition(report.errors)


def _make_room_for_a_version(workflow: Workflow) -> None:
    """Keep a workflow's history within FLOWMAESTRO_MAX_VERSIONS_PER_WORKFLOW: before a new
    version, remove the oldest ones that nothing needs — not the current one (schedules and
    webhooks run it), not one an execution ran on (its page, retry, redrive and dead-letter
    replay read it). Version numbers keep counting up, so a removed number never returns."""
    from engine.models import Execution

    bound = settings.FLOWMAESTRO_MAX_VERSIONS_PER_WORKFLOW
    excess = workflow.versions.count() + 1 - bound
    if excess <= 0:
        return
    removable = list(
        workflow.versions.exclude(number=workflow.version)
        .filter(~Exists(Execution.objects.filter(version=OuterRef("pk"))))
        .order_by("number").values_list("pk", flat=True)[:excess]
    )
    if len(removable) < excess:
        raise StorageLimit(
            f"This workflow keeps at most {bound} versions and every older one is still needed by an execution "
            "(FLOWMAESTRO_MAX_VERSIONS_PER_WORKFLOW); delete old executions of it first. Nothing was saved."
        )
    WorkflowVersion.objects.filter(pk__in=removable).delete()


def _append_version(*, workflow: Workflow, definition: dict[str, Any], user: UserLike | None) -> WorkflowVersion:
    _make_room_for_a_version(workflow)
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


def _named(definition: dict[str, Any], name: str) -> dict[str, Any]:
    """A copy of `definition` carrying the workflow's name. The workflow's `name` is the
    contract (SPEC §7: the list, the API, the editor's title); the definition's own `name`
    (§3) is overwritten with it on every save, so a workflow never shows two names. (The
    editor's title edits the definition's name and saves it as the workflow's.)"""
    named = copy.deepcopy(definition)
    named["name"] = name
    return named


@transaction.atomic
def workflow_create(
    *, owner: AbstractBaseUser, name: str, description: str = "", definition: dict[str, Any], draft: bool = False,
    pin_data: dict[str, Any] | None = None,
) -> Workflow:
    _ensure_valid(definition, draft=draft)
    # The owner's row is locked so that two creates at once cannot both pass the bound.
    list(get_user_model().objects.select_for_update().filter(pk=owner.pk).values_list("pk", flat=True))
    bound = settings.FLOWMAESTRO_MAX_WORKFLOWS_PER_USER
    if Workflow.objects.filter(owner_id=owner.pk).count() >= bound:
        raise StorageLimit(
            f"You already have {bound} workflows, the most one user can keep "
            "(FLOWMAESTRO_MAX_WORKFLOWS_PER_USER); delete one first. Nothing was created."
        )
    definition = _named(definition, name)
    workflow = Workflow.objects.create(
        owner_id=owner.pk, name=name, description=description, definition=definition, version=0
    )
    _append_version(workflow=workflow, definition=definition, user=owner)
    workflow.save(update_fields=["version", "updated_at"])
    if pin_data:
        # An imported workflow's pins: one refused undoes the whole import (this transaction).
        pins.pins_replace(workflow=workflow, user=owner, pin_data=pin_data)
    return workflow


@transaction.atomic
def workflow_update(
    *,
    workflow: Workflow,
    user: UserLike | None,
    name: str | None = None,
    description: str | None = None,
    definition: dict[str, Any] | None = None,
    draft: bool = False,
    pin_data: dict[str, Any] | None = None,
) -> Workflow:
    # Re-read the row inside the transaction so that two concurrent saves cannot both
    # append "version N + 1" (SQLite's IMMEDIATE transactions serialise the writers).
    locked = Workflow.objects.select_for_update().get(pk=workflow.pk)
    changed: list[str] = []
    if name is not None and name != locked.name:
        locked.name = name
        changed.append("name")
        if definition is None:  # the stored definition carries the new name too
            definition = locked.definition
            draft = True  # as stored: a rename does not judge the graph
    if description is not None and description != locked.description:
        locked.description = description
        changed.append("description")
    if definition is not None:
        _ensure_valid(definition, draft=draft)
        definition = _named(definition, locked.name)
        if definition != locked.definition:
            # A rename alone is no new version: versions record the graph.
            if _named(definition, "") != _named(locked.definition, ""):
                _append_version(workflow=locked, definition=definition, user=user)
                changed.append("version")
            locked.definition = definition
            changed.append("definition")
    if changed:
        locked.save(update_fields=[*changed, "updated_at"])
    if pin_data is not None:
        # A workflow imported over this one brings its pins: checked against the definition
        # just saved, and refused together with the save (this transaction).
        pins.pins_replace(workflow=locked, user=user, pin_data=pin_data)
    # Hand the caller's instance the fresh state as well.
    workflow.refresh_from_db()
    return workflow


@transaction.atomic
def workflow_duplicate(*, workflow: Workflow, user: AbstractBaseUser) -> Workflow:
    """A new workflow owned by `user` with the current definition and a fresh history, and
    the pinned test data of the nodes it has (a copy made to try a change keeps building on
    the same pinned answers, as n8n's duplicate keeps its pin data)."""
    duplicate = workflow_create(
        owner=user,
        name=f"{workflow.name} (copy)"[:200],
        description=workflow.description,
        definition=copy.deepcopy(workflow.definition),
        draft=True,
    )
    nodes = {n.get("id") for n in (duplicate.definition or {}).get("nodes") or () if isinstance(n, dict)}
    PinnedOutput.objects.bulk_create(
        PinnedOutput(workflow=duplicate, node_id=pin.node_id, data=pin.data, size=pin.size,
                     updated_by_id=getattr(user, "pk", None))
        for pin in PinnedOutput.objects.filter(workflow=workflow) if pin.node_id in nodes)
    return duplicate


@transaction.atomic
def workflow_restore_version(*, workflow: Workflow, user: UserLike | None, number: int) -> Workflow:
    """Make an old version current again. History stays append-only: restoring records a
    new version carrying the old definition (unless it already is the current one)."""
    version = workflow.versions.filter(number=number).first()
    if version is None:
        raise VersionNotFound(f"Workflow {workflow.pk} has no version {number}.")
    # The workflow keeps its present name: a restore brings back the graph, not an old name.
    return workflow_update(workflow=workflow, user=user, name=workflow.name,
                           definition=copy.deepcopy(version.definition), draft=True)


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


# "Test this expression" (editor): the V8 sandbox with limits tighter than a run's, since
# anyone editing may press the button over and over.
TEST_TIMEOUT_MS = 1000
TEST_MEMORY_MB = 32
TEST_MAX_OUTPUT_BYTES = 200_000

# Each test holds an HTTP thread while it waits for a sandbox worker and runs: without a
# bound, 16 concurrent tests of `while(true){}` from one user took every HTTP thread and
# everyone's requests waited seconds. So one user has at most
# FLOWMAESTRO_EXPRESSION_TESTS_PER_USER tests in flight, everyone together at most
# FLOWMAESTRO_EXPRESSION_TESTS_MAX, and one user never all of those (a place is left for
# someone else); past that the test is refused at once (the API answers 429).
_tests_lock = threading.Lock()
_tests_running: dict[Any, int] = {}


class ExpressionTestBusy(Exception):
    """Too many expression tests in flight (the caller's, or everyone's)."""


@contextmanager
def expression_test_slot(user_id: Any) -> Iterator[None]:
    from django.conf import settings

    total_cap = max(1, int(getattr(settings, "FLOWMAESTRO_EXPRESSION_TESTS_MAX", 4)))
    per_user = max(1, min(int(getattr(settings, "FLOWMAESTRO_EXPRESSION_TESTS_PER_USER", 2)), total_cap - 1))
    with _tests_lock:
        mine = _tests_running.get(user_id, 0)
        if mine >= per_user:
            raise ExpressionTestBusy(f"{mine} expression test(s) of yours are still running; try again in a moment")
        if sum(_tests_running.values()) >= total_cap:
            raise ExpressionTestBusy("the server is running as many expression tests as it takes at once; "
                                     "try again in a moment")
        _tests_running[user_id] = mine + 1
    try:
        yield
    finally:
        with _tests_lock:
            left = _tests_running.get(user_id, 1) - 1
            if left > 0:
                _tests_running[user_id] = left
            else:
                _tests_running.pop(user_id, None)


def expression_test_bindings(
    *, workflow: Workflow, user: Any, input: Any, execution_id: int | None, node_id: str | None,
    extra: dict[str, Any] | None,
) -> dict[str, Any]:
    """What the expression sees: like a node run (SPEC §5) — `input`, `variables`,
    `execution`, `branch`, and the outputs of the nodes of a past run by id — built from
    that run when one is named (its node run's input is the default `input`)."""
    from engine.models import Execution, NodeRun

    variables = dict(((workflow.definition or {}).get("settings") or {}).get("variables") or {})
    bindings: dict[str, Any] = {"parallel": {}, "branch": {"id": "main", "name": "main"}}
    if execution_id is not None:
        execution = Execution.objects.filter(pk=execution_id, workflow=workflow).first()
        if execution is None:
            raise ExpressionTestRefused("no such execution of this workflow")
        variables.update(((execution.state or {}).get("variables")) or {})
        bindings["execution"] = {"id": execution.pk, "traceId": execution.trace_id}
        # Only the rows the expression sees are read: a loop's items make a node run each
        # (a million-item run, a million rows), and reading them all took seconds and
        # hundreds of MB per click to keep a handful.
        runs = NodeRun.objects.filter(execution=execution)
        # Outside a loop body the last success of a node is its output; loop-body runs
        # (one per item) would otherwise overwrite it with one item's result.
        for node, output in (runs.filter(status="succeeded", iteration__isnull=True)
                             .order_by("seq", "queued_at").values_list("node_id", "output")):
            bindings[node] = output
        if node_id is not None:
            # Its first run's input; its branch as on its last run.
            mine = runs.filter(node_id=node_id)
            first = mine.order_by("seq", "queued_at").values_list("input", flat=True).first()
            last = mine.order_by("-seq", "-queued_at").values_list("branch_id", "branch_name").first()
            if last is not None:
                if input is None:
                    input = first
                bindings["branch"] = {"id": last[0], "name": last[1]}
    bindings["variables"] = variables
    bindings.update(extra or {})
    bindings["input"] = input if input is not None else {}
    return bindings


class ExpressionTestRefused(Exception):
    pass


def expression_test(*, code: str, bindings: dict[str, Any], owner: Any = None) -> dict[str, Any]:
    """Evaluate `code` as the sandbox would in a run; never raises for the code's own faults:
    `{ok, value, logs}` or `{ok: false, error, kind, logs}`."""
    from engine.expressions import ExpressionError, evaluate

    try:
        # As its owner's: the sandbox shares workers fairly between users.
        result = evaluate(code, bindings, timeout_ms=TEST_TIMEOUT_MS, memory_mb=TEST_MEMORY_MB,
                          max_output_bytes=TEST_MAX_OUTPUT_BYTES, owner=owner)
    except ExpressionError as exc:
        return {"ok": False, "error": str(exc), "kind": exc.kind, "logs": exc.logs}
    return {"ok": True, "value": result.value, "logs": result.logs}
