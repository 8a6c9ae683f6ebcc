"""Dead letters (SPEC §4.5) as the store writes them: in the same transaction as the state
change that made them (the engine's flush, a queue expiry, a failure the writer records), so
nothing is silently dropped. Replay and discard are services (`engine.dead_letters`).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from engine.models import DeadLetter, Execution, NodeRun
from engine.store.queue import queue_settings

DEAD_RUN_STATUSES = ("failed", "timed_out")


def keep_dead_letters(batch_dead_letters: list[dict[str, Any]], executions: dict[Any, dict[str, Any]]) -> None:
    """Store the loop items the batch dead-lettered, and the executions it finished as
    failed or timed out whose workflow queue keeps dead letters."""
    if batch_dead_letters:
        workflow_of = dict(
            Execution.objects.filter(id__in={d["execution_id"] for d in batch_dead_letters})
            .values_list("id", "workflow_id")
        )
        DeadLetter.objects.bulk_create([
            DeadLetter(
                execution_id=d["execution_id"], workflow_id=workflow_of[d["execution_id"]], kind="item",
                input=d.get("input"), error=d.get("error"), attempts=int(d.get("attempts") or 0),
                trace_id=d.get("trace_id") or "", node_id=d.get("node_id") or "", item_index=d.get("item_index"),
                scope=d.get("scope") or "",
            )
            for d in batch_dead_letters if d["execution_id"] in workflow_of
        ])
    ended = [ex_id for ex_id, fields in executions.items() if fields.get("status") in DEAD_RUN_STATUSES]
    if ended:
        keep_failed_runs(ended)


def keep_failed_runs(execution_ids: list[Any]) -> list[DeadLetter]:
    rows = (
        Execution.objects.filter(id__in=execution_ids, status__in=DEAD_RUN_STATUSES)
        # One open letter per run: a run whose letter a redrive settled (engine.dead_letters)
        # and that failed again gets a new one.
        .exclude(Exists(DeadLetter.objects.filter(execution_id=OuterRef("pk"), kind="run",
                                                  replayed_at__isnull=True, discarded_at__isnull=True)))
        .values_list("id", "workflow_id", "input", "error", "trace_id", "version__definition")
    )
    letters = []
    for ex_id, workflow_id, run_input, error, trace_id, definition in rows:
        if not queue_settings(definition).get("deadLetterQueue"):
            continue
        attempts = (
            NodeRun.objects.filter(execution_id=ex_id, status__in=DEAD_RUN_STATUSES)
            .aggregate(m=Max("attempt"))["m"]
        )
        letters.append(DeadLetter(
            execution_id=ex_id, workflow_id=workflow_id, kind="run", input=run_input, error=error,
            attempts=attempts or 1, trace_id=trace_id,
        ))
    return DeadLetter.objects.bulk_create(letters)


def settle_dead_letters_of_redrive(*, execution: Execution, rerun: set[tuple[str, str]]) -> int:
    """Mark the open dead letters that a redrive of `execution` is about to run again as
    replayed *in that same execution*: a loop item's letter when the redrive re-runs that
    item (`rerun`: the (scope, node id) pairs of engine.core.redrive), the run's letter
    always. Left open, the Dead letters page offered a replay of work the redrive had
    already done — the item would run twice. Whatever fails again makes a new letter.
    Called inside the redrive's transaction."""
    open_letters = DeadLetter.objects.filter(execution_id=execution.pk, replayed_at__isnull=True,
                                             discarded_at__isnull=True)
    items = _rerun_items(rerun)
    scopes = {scope for scope, _ in rerun if scope}
    # An item of a nested loop by its whole scope ("outer#2/inner#0"): inner item 0 of
    # another outer item is another item. Letters kept without a scope, by loop and index.
    settled = [letter.pk for letter in open_letters.only("pk", "kind", "node_id", "item_index", "scope")
               if letter.kind == "run" or (letter.item_path in scopes if letter.scope
                                           else (letter.node_id, letter.item_index) in items)]
    if not settled:
        return 0
    # Still open at the write, too: a letter replayed meanwhile keeps naming its replay.
    return DeadLetter.objects.filter(pk__in=settled, replayed_at__isnull=True).update(
        replayed_at=timezone.now(), replayed_execution=execution)


def _rerun_items(rerun: set[tuple[str, str]]) -> set[tuple[str, int]]:
    """(loop node id, item index) of the loop items among a redrive's re-run scopes."""
    return {(loop, int(index)) for scope, _ in rerun if scope
            for loop, _, index in [scope.rpartition("/")[2].partition("#")] if index.isdigit()}


def latest_replayed_elsewhere(execution: Execution) -> list[DeadLetter]:
    """The dead letters of `execution` whose work a replay already ran again *as another
    execution*: the run's letter (its replay ran the whole run again) and loop items'. Only
    the latest letter of the run and of each item counts: one that failed again here after
    its replay (the user re-ran it by name) has a newer letter, and that failure is this
    run's. Letters that a redrive of this execution settled (`settle_dead_letters_of_redrive`)
    are not replays elsewhere. One `exists()` query when there are none (most runs)."""
    letters = DeadLetter.objects.filter(execution_id=execution.pk)
    if not letters.filter(replayed_at__isnull=False).exclude(replayed_execution_id=execution.pk).exists():
        return []
    latest: dict[tuple[str, str, int | None], DeadLetter] = {}
    for letter in letters.order_by("id").only("pk", "kind", "node_id", "item_index", "replayed_at",
                                             "replayed_execution_id"):
        latest[(letter.kind, letter.node_id, letter.item_index)] = letter
    return [letter for letter in latest.values()
            if letter.replayed_at is not None and letter.replayed_execution_id != execution.pk]


def replayed_elsewhere(*, execution: Execution, rerun: set[tuple[str, str]],
                       letters: list[DeadLetter] | None = None) -> list[DeadLetter]:
    """Of `latest_replayed_elsewhere` (or `letters`, already read), those whose work a
    redrive re-running `rerun` would do a second time: the run's and those of the loop
    items among `rerun`."""
    if not rerun:
        return []
    items = _rerun_items(rerun)
    return [letter for letter in (latest_replayed_elsewhere(execution) if letters is None else letters)
            if letter.kind == "run" or (letter.node_id, letter.item_index) in items]


def replayed_items(letters: list[DeadLetter]) -> dict[str, dict[int, int | None]]:
    """{loop node id: {item index: the replay's execution id}} of item letters."""
    found: dict[str, dict[int, int | None]] = {}
    for letter in letters:
        if letter.kind == "item" and letter.item_index is not None:
            found.setdefault(letter.node_id, {})[int(letter.item_index)] = letter.replayed_execution_id
    return found
