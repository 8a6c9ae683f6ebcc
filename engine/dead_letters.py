"""Dead letters (SPEC §4.5): services and selectors (the store writes them: `engine.store.dead_letters`).

A dead letter is a run or a loop item that failed after its retries, or waited in a queue
past its `timeout`, while its queue has `deadLetterQueue: true`:
- runs: `settings.queue.deadLetterQueue` — failed and timed-out executions, and runs that
  expired in the workflow's run queue ("queue timeout");
- items: `queue.deadLetterQueue` on a `loop` — items whose body failed, and items that
  expired in the loop's item queue.

They are written in the same transaction as the state change that made them (the engine's
flush, or the queue-expiry update), so nothing is silently dropped.

Replay:
- a run dead letter starts a new execution of the same workflow version with the original
  input and priority;
- an item dead letter starts a new execution of the same version with the original run's
  input, in which that loop runs only the dead item (with its original index, so
  `{{parallel.index}}` and its trace suffix are unchanged). Nodes before the loop run again
  (the body may read their outputs); every other item of the loop is left out. An item of
  a nested loop names its outer items (`scope`, "outer#2"; `itemPath` "outer#2/inner#0" in
  the API): only that outer item runs, and in it only the dead inner item (letters kept
  before the scope was recorded have none: their inner item runs in every outer item).
A replay runs the version the dead letter came from (`version="original"`, the default) or
the workflow's current one (`version="latest"`: after fixing the workflow in a new
version); `input` replaces the run input (run dead letters) or the dead item (item dead
letters). Either way the dead letter records when and as which execution it was replayed; a
replayed or discarded dead letter cannot be replayed again (the new execution, if it
fails, makes its own dead letter). A redrive of the execution a letter came from settles its
letters of what it re-runs ("redriven in #N"), and a redrive without a selection that would
re-run a letter that was replayed elsewhere is refused (`engine.services.execution_redrive`),
unless it asks to leave such items out (`leaveOutReplayed`: they are kept, ended as
replayed, engine.core.loop_results): either way one failure's work runs again once.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from engine.errors import Refusal
from engine.execution_values import VALUE_FIELDS
from engine.models import DeadLetter, Execution
from flowmaestro.visibility import visible


class DeadLetterClosed(Refusal):
    """Replay or discard of a dead letter that was already replayed or discarded."""

    status_code = 409


# -- selectors -------------------------------------------------------------------------------
def dead_letters_visible(user: Any) -> QuerySet[DeadLetter]:
    """Owners see the dead letters of their workflows; staff see all."""
    # The executions' own big columns are not read along (a failed big loop's input is
    # megabytes); the letter's own `input` and `error` are sized by the API's readers.
    related_values = [f"{rel}__{f}" for rel in ("execution", "replayed_execution") for f in VALUE_FIELDS]
    return visible(DeadLetter.objects.select_related("workflow", "execution__version", "replayed_execution")
                   .defer(*related_values), user, owner="workflow__owner_id")


# -- services ----------------------------------------------------------------------------------
_UNSET: Any = object()


def dead_letter_replay(
    *, dead_letter: DeadLetter, user: Any, version: str = "original", input: Any = _UNSET
) -> Execution:
    """Start the replay execution (see the module docstring) and record it."""
    from engine import services

    with transaction.atomic():
        # Lock the dead letter's row only: its execution is a nullable (outer) join, and
        # PostgreSQL cannot lock the nullable side of an outer join.
        letter = (DeadLetter.objects.select_for_update(of=("self",)).select_related("execution", "workflow")
                  .get(pk=dead_letter.pk))
        if letter.discarded_at is not None:
            raise DeadLetterClosed("this dead letter was discarded")
        if letter.replayed_at is not None:
            raise DeadLetterClosed(f"this dead letter was already replayed as execution {letter.replayed_execution_id}")
        source = letter.execution
        ran_on = letter_version(letter, source)
        chosen = services.version_for_rerun(workflow=letter.workflow, original=ran_on, choice=version)
        item = letter.input
        if letter.kind == "run":
            run_input = letter.input if input is _UNSET else input
            if not isinstance(run_input, dict):
                raise services.BadRerun("input must be a JSON object")
        else:
            run_input = source.input if source is not None else {}
            if input is not _UNSET:
                item = input
            nodes = (chosen.definition or {}).get("nodes") if chosen is not None else None
            if not any(isinstance(n, dict) and n.get("id") == letter.node_id for n in nodes or []):
                raise services.BadRerun(
                    f"version {chosen.number if chosen else '?'} has no node {letter.node_id!r}: "
                    "its loop item cannot be replayed there"
                )
            _check_item_place(letter, ran_on, chosen, nodes or [])
        # The engine is woken on commit, so the replay state below is in place before it looks.
        execution = services.execution_start(
            workflow=letter.workflow, user=user, input=run_input,
            priority=source.priority if source is not None else 0, version=chosen,
        )
        if letter.kind == "item":
            execution.state = {"deadLetterReplay": item_replay(letter, item)}
            execution.save(update_fields=["state"])
        letter.replayed_at = timezone.now()
        letter.replayed_execution = execution
        letter.save(update_fields=["replayed_at", "replayed_execution"])
    dead_letter.refresh_from_db()
    return execution


def letter_version(letter: DeadLetter, source: Execution | None) -> Any:
    """The version the letter's work ran on: its execution's, unless a redrive on "latest"
    moved that execution to another one after the letter was written — then the version
    the execution had before the first such redrive (its `history` names each attempt's
    `fromVersion`). The replay's "original" is that one, as documented, not what the run
    was moved to (it ran the fixed version, or was refused for a loop that version lacks)."""
    from django.utils.dateparse import parse_datetime

    from editor.models import WorkflowVersion

    if source is None or source.version is None:
        return None
    redrive = source.state.get("redrive") if isinstance(source.state, dict) else None
    history = redrive.get("history") if isinstance(redrive, dict) else None
    for attempt in history if isinstance(history, list) else []:
        at = parse_datetime(attempt.get("at") or "") if isinstance(attempt, dict) else None
        if at is not None and letter.created_at is not None and letter.created_at < at:
            number = attempt.get("fromVersion")
            if number == source.version.number:
                return source.version
            found = WorkflowVersion.objects.filter(workflow_id=source.workflow_id, number=number).first()
            return found if found is not None else source.version
    return source.version


def _enclosing(nodes: list[Any], node_id: str) -> tuple[str | None, list[str]] | None:
    """(type of `node_id`, the ids of the containers it sits in, outermost first), or None
    when `nodes` has no such node."""
    from engine.core.redrive import parent_chain

    by_id: dict[str, Any] = {n["id"]: n for n in nodes if isinstance(n, dict) and isinstance(n.get("id"), str)}
    node = by_id.get(node_id)
    if node is None:
        return None
    return node.get("type"), parent_chain({n: x.get("parentId") for n, x in by_id.items()}, node_id)


def _check_item_place(letter: DeadLetter, ran_on: Any, chosen: Any, nodes: list[Any]) -> None:
    """Refuse (400, naming the node) an item replay on a version where the dead item's loop
    is no longer a loop in the same loops: the replay names the item by its loop and its
    outer items (`scope`), and in another place the engine found no item to choose, so the
    loop ran every one of its items again (a letter of `outer#2/inner#2` replayed on a
    version whose `inner` is a top-level loop re-ran all of `inner`'s items, HTTP calls
    included, and marked the letter replayed)."""
    from engine import services
    from engine.core.redrive import loop_place

    number = chosen.number if chosen is not None else "?"
    found = _enclosing(nodes, letter.node_id)
    if found is None or found[0] != "loop":
        raise services.BadRerun(f"node {letter.node_id}: in version {number} it is not a loop, "
                                "so its dead item cannot be replayed there")
    if letter.scope:
        was = [part.rpartition("#")[0] for part in letter.scope.split("/") if part]
    else:
        original = ran_on.definition if ran_on is not None else None
        before = _enclosing((original or {}).get("nodes") or [], letter.node_id) if isinstance(original, dict) else None
        if before is None:
            return  # nothing to compare with: as before
        was = before[1]
    if found[1] != was:
        raise services.BadRerun(
            f"node {letter.node_id}: in version {number} this loop is not where its dead item ran "
            f"({loop_place(was)}), so that item cannot be named there; replay it on the original version")


def item_replay(letter: DeadLetter, item: Any) -> dict[str, list[dict[str, Any]]]:
    """The replay's `deadLetterReplay` (engine.core.replay_items): the dead item in its loop,
    and for an item of a nested loop (`outer#2/inner#0`) each enclosing loop's own item on
    the way to it, so that only outer item 2 runs, and in it only inner item 0."""
    replay: dict[str, list[dict[str, Any]]] = {}
    outer = ""
    for part in filter(None, letter.scope.split("/")):
        loop, _, index = part.rpartition("#")
        if loop and index.isdigit():
            replay[loop] = [{"index": int(index), "scope": outer}]
        outer = f"{outer}/{part}" if outer else part
    own: dict[str, Any] = {"index": letter.item_index or 0, "item": item}
    if letter.scope:
        own["scope"] = letter.scope
    replay[letter.node_id] = [own]
    return replay


def dead_letters_replay_many(
    *, dead_letters: list[DeadLetter], user: Any, version: str = "original"
) -> list[dict[str, Any]]:
    """Replay each (in the given order), each on its own: one that cannot be replayed
    (already replayed, its node gone from the latest version, the run queue full) is
    reported and the others still go. Each result is `{id, execution, traceId}` or
    `{id, error, status}`."""
    from editor.services import InvalidDefinition

    results: list[dict[str, Any]] = []
    for letter in dead_letters:
        try:
            execution = dead_letter_replay(dead_letter=letter, user=user, version=version)
        except InvalidDefinition as exc:
            message = "; ".join(str(e.get("message", e)) for e in exc.errors[:3])
            results.append({"id": letter.pk, "status": 400, "error": f"the version to run is invalid: {message}"})
        except Refusal as exc:
            results.append({"id": letter.pk, "status": exc.status_code, "error": exc.message})
        else:
            results.append({"id": letter.pk, "execution": execution.pk, "traceId": execution.trace_id})
    return results


def dead_letter_discard(*, dead_letter: DeadLetter, user: Any) -> DeadLetter:
    """Mark the dead letter as dealt with; it stays listed (filter `state=open` hides it).

    Only an open letter can be discarded: a replayed one's work has already run again (as
    another execution, or in a redrive of its own), and "discarded" would hide that."""
    with transaction.atomic():
        # One conditional update, so a replay and a discard racing cannot both win.
        updated = DeadLetter.objects.filter(
            pk=dead_letter.pk, discarded_at__isnull=True, replayed_at__isnull=True
        ).update(discarded_at=timezone.now())
    dead_letter.refresh_from_db()
    if not updated:
        if dead_letter.discarded_at is not None:
            raise DeadLetterClosed("this dead letter was already discarded")
        run = dead_letter.replayed_execution_id
        how = "redriven in" if run is not None and run == dead_letter.execution_id else "replayed as"
        raise DeadLetterClosed(f"this dead letter was already {how} run #{run}; it cannot be discarded")
    return dead_letter
