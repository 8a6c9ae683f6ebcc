"""What a redrive may ask for, checked before anything is locked: the chosen `nodes` and
loop `items` must be in the version it runs on and in what the run ran (a 400 naming the
node, never a redrive that quietly re-runs all or nothing). engine.services.execution_redrive
calls `refuse_bad_selection`; `node_run_rows` is the one read of a run's node runs that the
redrive's decisions (engine.core.redrive.rerun_keys) take."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Q

from engine.core.graph import Graph
from engine.errors import Refusal
from engine.models import Execution, NodeRun
from engine.nodes import container_types


class BadRerun(Refusal):
    status_code = 400


def node_run_rows(execution_id: Any) -> list[Mapping[str, Any]]:
    """The run's node runs in the order they were recorded, as `rerun_keys` reads them."""
    return list(NodeRun.objects.filter(execution_id=execution_id).order_by("seq")
                .values("scope", "node_id", "status", "seq"))


def refuse_bad_selection(execution: Execution, graph: Graph, *, number: int, nodes: list[str] | None,
                         items: dict[str, list[int]] | None) -> None:
    """BadRerun for chosen nodes the version lacks, items of a node that is no loop there,
    an empty item list, or item indexes the run's loop never had."""
    unknown = [n for n in (nodes or []) if n not in graph.nodes]
    containers = container_types()
    unknown += [n for n in (items or {}) if n not in graph.nodes or graph.nodes[n].type not in containers]
    if unknown:
        # Named up to five, like the missing items below: the answer stays small whatever was sent.
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise BadRerun(f"no such node (or not a loop, for items) in version {number}: "
                       f"{', '.join(unknown[:5])}{more}",
                       [{"message": f"version {number} has no node {n!r}" if n not in graph.nodes
                         else f"{n!r} is not a loop: it has no items", "nodeId": n} for n in unknown[:5]])
    empty = [loop for loop, indexes in (items or {}).items() if not indexes]
    if empty:
        # An empty list chose nothing, yet re-ran the loop with every item kept: it ended
        # as it had, at once (with the failed items' old errors).
        raise BadRerun(f"items of loop {empty[0]} is an empty list: name the item indexes to re-run, "
                       "or leave the loop out", [{"message": "no item indexes", "nodeId": loop} for loop in empty[:5]])
    for loop, indexes in (items or {}).items():
        in_loop = Q(scope__startswith=f"{loop}#") | Q(scope__contains=f"/{loop}#")
        ran = NodeRun.objects.filter(in_loop, execution_id=execution.pk).values_list(
            "iteration", flat=True).order_by("-iteration").first()
        missing = sorted(i for i in indexes if ran is None or i > ran)[:5]
        if missing:
            raise BadRerun(f"loop {loop} has no item {missing[0]}"
                           + (f" (its items are 0–{ran})" if ran is not None else " (none of its items ran)"),
                           [{"message": f"no item {', '.join(map(str, missing))}", "nodeId": loop}])
