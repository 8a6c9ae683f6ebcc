"""Redrive: which node runs of a finished execution run again, and which are kept.

A redrive is a new attempt of the same execution that keeps every succeeded node run and
loop item and re-runs only what failed, timed out or was cancelled (a loop item
that failed runs again whole) — plus what depends on those, since their inputs change: the nodes downstream in the same scope and,
for a loop item, the loop node that collects it (and, in turn, what follows the loop).
A user may also pick node runs to re-run whatever their status: nodes by id (in a loop
body: that node in every item; a loop node: all its items) and items by loop node id and
index. A loop downstream of a node that re-runs runs all its items again too: its array is
that node's new output.

In a run that *succeeded*, a cancelled top-level node run was cut by design — the loser of a
`first_success` race or a quorum, a branch `cancelOnFailure` or a `totalTimeout` with
`collect_partial` cut while the run went on without it — so a redrive of it without a
selection keeps it (`after_success`). So does a redrive of a run that failed later, when
something after the cancelled node run succeeded (`cut_by_design`): the race was won. `redrives` is that one rule: the engine counts what it
re-runs when a run ends (the execution's `failed_nodes` and `failed_items`), and the API
allows a redrive of a succeeded run only when that count is not 0.

Pure: the engine calls `rerun_keys` when it loads a redriven execution (and again after a
restart in the middle of one, from the rows as they were when the redrive began).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.core.graph import Graph

Key = tuple[str, str]  # (scope key, node id): "" for the top level, "loop#3" for item 3


def _parent(scope: str) -> tuple[str, str] | None:
    """(enclosing scope, container node id) of an item scope; None for the top level."""
    if not scope:
        return None
    head, _, last = scope.rpartition("/")
    return head, last.partition("#")[0]


def _item_matches(scope: str, loop: str, indexes: set[int]) -> bool:
    for segment in scope.split("/"):
        node, _, index = segment.partition("#")
        if node == loop and index.isdigit() and int(index) in indexes:
            return True
    return False


def redrives(status: str, *, top_level: bool, after_success: bool) -> bool:
    """Does a node run whose latest attempt ended `status` run again on a redrive without a
    selection? What did not succeed does — skipped is not a failure (the branch a condition
    did not take; one skipped because what it waited for failed runs again as a dependent),
    nor is a top-level cancelled one in a run that succeeded (see the module's doc)."""
    if status in ("succeeded", "skipped"):
        return False
    return not (after_success and top_level and status == "cancelled")


def rerun_keys(graph: Graph, rows: Iterable[Mapping[str, Any]], *, nodes: Iterable[str] | None = None,
               items: Mapping[str, Iterable[int]] | None = None, new_version: bool = False,
               after_success: bool = False, leave_out: Mapping[str, Iterable[int]] | None = None) -> set[Key]:
    """The (scope, node) pairs whose recorded runs are history, not results to replay.
    `new_version`: the redrive runs another version than the rows were recorded with, whose
    edges may differ — a top-level node skipped then may have nothing to wait for now.
    `after_success`: the rows are of a run that succeeded (`redrives`).
    `leave_out` (loop node id → item indexes), without a selection: failed items that are
    not re-run but kept as they are — their dead letters were replayed as other executions,
    which already ran them again (the loop, re-run for its other items, keeps them)."""
    latest: dict[Key, Mapping[str, Any]] = {}
    for row in rows:  # in seq order: the last attempt of a node decides
        latest[(row["scope"], row["node_id"])] = row
    chosen_nodes = set(nodes or ())
    chosen_items = {loop: {int(i) for i in idx} for loop, idx in (items or {}).items()}
    if chosen_nodes or chosen_items:
        seeds = {key for key in latest if key[1] in chosen_nodes
                 or any(_item_matches(key[0], loop, idx) for loop, idx in chosen_items.items())}
        # A chosen item that has no row yet (it never started) still makes its loop re-run.
        for loop in chosen_items:
            seeds |= {key for key in latest if key[1] == loop}
    else:
        left_out = {loop: {int(i) for i in idx} for loop, idx in (leave_out or {}).items()}
        cut = cut_by_design(graph, {key[1]: row for key, row in latest.items() if not key[0]})
        seeds = {key for key, row in latest.items()
                 if (redrives(str(row.get("status")), top_level=not key[0], after_success=after_success)
                     and not (not key[0] and key[1] in cut)
                     or (new_version and not key[0] and row.get("status") == "skipped"))
                 and not any(_item_matches(key[0], loop, idx) for loop, idx in left_out.items())}
        # A loop item that failed runs again whole, from its first node: the fix may well be
        # upstream of the node that failed (a condition that routed it to a `fail` node).
        # Whole means its own nodes: a loop nested in it keeps the inner items that succeeded
        # (their input, the outer item, is the same), unless a node before it in the item
        # re-runs (it is then downstream: whole, below); its failed inner items are seeds of their own.
        failed_items = {scope for scope, _ in seeds if scope}
        seeds |= {key for key in latest if key[0] in failed_items}

    # A container re-runs either for some of its items (a failed or chosen item: the others
    # are kept, their input is the same) or *whole*: chosen by id, or downstream of a node
    # that re-runs, whose output — the container's array — may now be another one. Kept
    # items would then be results of the old array's items under the new array's indexes.
    whole: set[Key] = {key for key in seeds if key[1] in chosen_nodes}
    rerun: set[Key] = set()
    pending = list(seeds)
    while pending:
        key = pending.pop()
        if key in rerun:
            continue
        rerun.add(key)
        scope, node_id = key
        node = graph.nodes.get(node_id)
        if node is not None:
            for target in _downstream(graph, node_id):
                whole.add((scope, target))
                pending.append((scope, target))
        parent = _parent(scope)
        if parent is not None:
            pending.append(parent)
    if whole:
        # Every row inside a whole container (nested items too) is history.
        inside = tuple(f"{scope}/{node_id}#" if scope else f"{node_id}#" for scope, node_id in whole)
        rerun |= {key for key in latest if key[0].startswith(inside)}
    return rerun


def misplaced_items(graph: Graph, rows: Iterable[Mapping[str, Any]], *, nodes: Iterable[str] | None = None,
                    items: Mapping[str, Iterable[int]] | None = None, after_success: bool = False,
                    leave_out: Mapping[str, Iterable[int]] | None = None) -> dict[str, list[str]]:
    """{loop node id: item scopes} of the loop items that a redrive on another version
    (`graph`) would run again by name — one that did not succeed, or one chosen in `items`
    — whose loop that version has, but not as a loop inside the same loops as when the item
    ran (moved into or out of a loop, its enclosing loop renamed or gone, another type now).
    The item's scope ("outer#2/inner#2") names nothing there, so the loops that remain ran
    every one of their items again and the item's dead letter was settled as redriven
    though its work never ran. A loop the version no longer has at all is left behind, as
    any node it lacks (its items have nothing to run in)."""
    rows = list(rows)
    latest: dict[Key, Mapping[str, Any]] = {}
    for row in rows:
        latest[(row["scope"], row["node_id"])] = row
    chosen = {loop: {int(i) for i in idx} for loop, idx in (items or {}).items()}
    found: dict[str, list[str]] = {}
    checked: set[str] = set()
    for scope, node_id in sorted(rerun_keys(graph, rows, nodes=nodes, items=items, new_version=True,
                                            after_success=after_success, leave_out=leave_out)):
        if not scope or scope in checked:
            continue
        last = latest.get((scope, node_id))
        failed = last is not None and str(last.get("status")) not in ("succeeded", "skipped")
        if not failed and not any(_item_matches(scope, loop, idx) for loop, idx in chosen.items()):
            continue
        checked.add(scope)
        ran_in = [segment.partition("#")[0] for segment in scope.split("/")]
        loop = ran_in[-1]
        if loop in graph.nodes and (loop not in graph.scopes or enclosing_loops(graph, loop) != ran_in[:-1]):
            found.setdefault(loop, []).append(scope)
    return found


def enclosing_loops(graph: Graph, node_id: str) -> list[str]:
    """The containers `node_id` sits in, outermost first."""
    return parent_chain({n: node.parent_id for n, node in graph.nodes.items()}, node_id)


def parent_chain(parent_of: Mapping[str, Any], node_id: str) -> list[str]:
    """The containers `node_id` sits in, outermost first, from each node's parent id (a
    Graph's, or a stored definition's `parentId`); a cycle or a missing parent ends it."""
    chain: list[str] = []
    parent = parent_of.get(node_id)
    while isinstance(parent, str) and parent in parent_of and parent not in chain:
        chain.insert(0, parent)
        parent = parent_of[parent]
    return chain


def loop_place(loops: list[str]) -> str:
    """Where a node sits, in words: "inside inner inside outer", or "at the top level"."""
    return "inside " + " inside ".join(reversed(loops)) if loops else "at the top level"


def cut_by_design(graph: Graph, top_rows: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Top-level nodes whose latest run was cancelled while the flow went on past them: a
    node downstream of them succeeded — the loser of a `first_success` race or a quorum
    whose join fired, a branch a `collect_partial` deadline cut. A redrive keeps them even
    when the run failed later (a loop after the race): running a won race's losers again
    would run the race again. Cancelled by a failure, a cancel signal or `cancelOnFailure`,
    nothing after them succeeded, and they run again."""
    cut: set[str] = set()
    for node_id, row in top_rows.items():
        if row.get("status") != "cancelled" or node_id not in graph.nodes:
            continue
        if any((top_rows.get(target) or {}).get("status") == "succeeded" for target in _downstream(graph, node_id)):
            cut.add(node_id)
    return cut


def _downstream(graph: Graph, node_id: str) -> set[str]:
    node = graph.nodes[node_id]
    scope = graph.scopes.get(node.parent_id)
    if scope is None:
        return set()
    seen: set[str] = set()
    stack = [e.target for e in scope.out_edges.get(node_id, [])]
    while stack:
        target = stack.pop()
        if target not in seen:
            seen.add(target)
            stack.extend(e.target for e in scope.out_edges.get(target, []))
    return seen


def in_version(graph: Graph, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (scope, node) keys whose every loop is in `graph`: on a version without the
    loop, an item of it runs nowhere (its dead letter stays open, not "redriven")."""
    return {(scope, node) for scope, node in keys
            if not scope or all(part.partition("#")[0] in graph.scopes for part in scope.split("/"))}
