"""Redrive beside dead-letter replays: a redrive must never repeat work that a replay of
one of the run's dead letters already ran as another execution (a payment, a mail).
`refuse_what_a_replay_ran` turns such a redrive away, naming what was replayed;
`redrive_offer` is what the run page's "Redrive failed" may offer instead (the failed work
left once the replayed items are left out). engine.services.execution_redrive calls both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.core.graph import Graph
from engine.errors import Refusal
from engine.models import Execution
from engine.store.dead_letters import replayed_elsewhere


class NotRedrivable(Refusal):
    status_code = 409


class MisplacedItems(Refusal):
    """A redrive on another version that would run again, by name, loop items whose loop
    is not there in the same place (400, naming the loop)."""

    status_code = 400


def refuse_misplaced_items(graph: Graph, rows: Sequence[Mapping[str, Any]], *, number: int,
                           nodes: list[str] | None, items: dict[str, list[int]] | None, after_success: bool,
                           leave_out: dict[str, list[int]] | None) -> None:
    """Refuse (400, naming the loop) a redrive on version `number` (`graph`) that would
    re-run a failed or chosen loop item whose loop is there, but moved into or out of a
    loop (or its enclosing loop renamed or gone) or no longer a loop: the item names nothing
    in that version, so the loops that remain ran every item again and the item's dead
    letter was settled as redriven though its work never ran
    (engine.core.redrive.misplaced_items)."""
    from engine.core.redrive import enclosing_loops, loop_place, misplaced_items

    found = misplaced_items(graph, rows, nodes=nodes, items=items, after_success=after_success, leave_out=leave_out)
    if not found:
        return

    def why(loop: str, scopes: list[str]) -> str:
        node = graph.nodes[loop]
        more = f" and {len(scopes) - 1} more" if len(scopes) > 1 else ""
        ran_in = [segment.partition("#")[0] for segment in scopes[0].split("/")][:-1]
        if loop not in graph.scopes:
            return f"in version {number} it is a {node.type}, not a loop; item {scopes[0]}{more} ran in it"
        now = enclosing_loops(graph, loop)
        return (f"in version {number} this loop is {loop_place(now)}, not {loop_place(ran_in)} "
                f"where item {scopes[0]}{more} ran")

    (loop, scopes), *_ = found.items()
    raise MisplacedItems(
        f"node {loop}: {why(loop, scopes)}, so a redrive on version {number} cannot re-run "
        f"{'that item' if len(scopes) == 1 else 'those items'} there; redrive on the original version, "
        "or start a new run", [{"message": why(x, s), "nodeId": x} for x, s in list(found.items())[:5]])


def refuse_what_a_replay_ran(execution: Execution, graph: Graph, *, new_version: bool, letters: list[Any],
                              rows: Sequence[Mapping[str, Any]], leave_out: dict[str, list[int]] | None) -> None:
    """A redrive without a selection re-runs what failed; a loop item (or the run) whose dead
    letter was replayed meanwhile already ran again in the replay's execution, and running it
    here too repeats its side effects (a charge made twice). Refused, naming the items, as
    Step Functions and Temporal users expect a re-run never to repeat work that succeeded:
    choosing nodes or items redrives what the user names (that item too, if named), and
    `leave_out` (the page's "Redrive failed") keeps the replayed items as they are.
    `letters`: `latest_replayed_elsewhere`; `rows`: the node runs, read when there are any."""
    from engine.core.redrive import rerun_keys
    from engine.models import DeadLetter

    if not letters:
        return
    # What the engine will re-run, decided as it will decide it (engine.core.history).
    rerun = rerun_keys(graph, rows, new_version=new_version, after_success=execution.status == "succeeded",
                       leave_out=leave_out)
    letters = replayed_elsewhere(execution=execution, rerun=rerun, letters=letters)
    if not letters:
        return

    def as_execution(letter: DeadLetter) -> str:
        return f"execution #{letter.replayed_execution_id}" if letter.replayed_execution_id else "an execution since deleted"

    def what(letter: DeadLetter) -> str:
        if letter.kind == "run":
            return "the run"
        node = graph.nodes.get(letter.node_id)
        return f"item {letter.item_index} of loop {node.name if node is not None else letter.node_id}"

    named = [f"{what(letter)} (as {as_execution(letter)})" for letter in letters[:5]]
    more = f" and {len(letters) - 5} more" if len(letters) > 5 else ""
    one = len(letters) == 1
    raise NotRedrivable(
        f"already replayed from {'its dead letter' if one else 'their dead letters'}: {', '.join(named)}{more}; "
        f"a redrive would run {'it' if one else 'them'} a second time. Choose the nodes or items to redrive "
        f"to leave {'it' if one else 'them'} out, or name {'it' if one else 'them'} to run again anyway",
        [{"message": f"{'the run' if letter.kind == 'run' else f'item {letter.item_index}'} was replayed as "
                     f"{as_execution(letter)}", **({"nodeId": letter.node_id} if letter.kind == "item" else {})}
         for letter in letters[:5]])


def replayed_text(entry: dict[str, Any]) -> str:
    what = "the run" if entry["kind"] == "run" else f"item {entry['itemIndex']}"
    return f"{what} was replayed as " + (f"execution #{entry['execution']}" if entry["execution"] else "an execution since deleted")


def redrive_offer(execution: Execution, graph: Graph, rows: Sequence[Mapping[str, Any]],
                  letters: list[Any]) -> dict[str, Any] | None:
    """What "Redrive failed" may offer for a finished run some of whose failed work was
    replayed from its dead letters as other executions (`letters`: latest_replayed_elsewhere;
    `rows`: its node runs in seq order) — None when a redrive without a selection would run
    none of that again (the execution's own counts are then the offer). Else:
    `replayed` (each `{kind, nodeId, itemIndex, execution}`), `failedNodes` and `failedItems`
    (the execution's counts without the replayed items: what a redrive with
    `leaveOutReplayed` re-runs; both 0 when nothing else is left, or the run itself was
    replayed) and `reason`, said on the page beside the button."""
    from engine.core.redrive import redrives, rerun_keys

    after_success = execution.status == "succeeded"
    rerun = rerun_keys(graph, rows, after_success=after_success)
    hit = replayed_elsewhere(execution=execution, rerun=rerun, letters=letters)
    if not hit:
        return None
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in rows:
        latest[(row["scope"], row["node_id"])] = row
    # The failed item scopes, as the engine counted them into `failed_items`.
    failed_scopes = {scope for (scope, _), row in latest.items()
                     if scope and redrives(str(row["status"]), top_level=False, after_success=after_success)}
    replayed = {(x.node_id, x.item_index) for x in hit if x.kind == "item"}
    left_out = sum(1 for scope in failed_scopes
                   for loop, _, index in [scope.rpartition("/")[2].partition("#")]
                   if index.isdigit() and (loop, int(index)) in replayed)
    whole = any(x.kind == "run" for x in hit)
    entries = [{"kind": x.kind, "nodeId": x.node_id if x.kind == "item" else None,
                "itemIndex": x.item_index if x.kind == "item" else None, "execution": x.replayed_execution_id}
               for x in sorted(hit, key=lambda x: (x.kind != "run", x.node_id, x.item_index or 0))]
    numbers = [f"#{x['execution']}" for x in entries if x["execution"]]
    as_ = f" as {_and(numbers)}" if numbers else ""
    if whole:
        reason = f"the run was replayed{as_}"
    else:
        n = len(entries)
        reason = f"{n} item{'s' if n != 1 else ''} {'were' if n != 1 else 'was'} replayed{as_}"
    return {"replayed": entries, "reason": reason,
            "failedNodes": 0 if whole else execution.failed_nodes,
            "failedItems": 0 if whole else max(0, execution.failed_items - left_out)}


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
