"""Django-free helpers for engine tests, shared by the core tests (in-memory persistence)
and the database ones: building definitions and measuring concurrency from run times."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

START = {"id": "start", "type": "start", "config": {}}


def definition(nodes: list[dict[str, Any]], edges: list[Any], *, name: str = "t", **settings: Any) -> dict[str, Any]:
    """Nodes as dicts (config defaults to {}); edges as (source, target) or full dicts."""
    out_edges = []
    for i, e in enumerate(edges):
        if isinstance(e, tuple):
            out_edges.append({"id": f"e{i}", "source": e[0], "target": e[1]})
        else:
            out_edges.append({"id": e.get("id", f"e{i}"), **e})
    return {
        "schemaVersion": 1, "name": name, "settings": settings,
        "nodes": [{"config": {}, **n} for n in nodes], "edges": out_edges,
    }


def loop_definition(loop_config: dict[str, Any], body: list[dict[str, Any]], body_edges: list[Any] = (),  # type: ignore[assignment]
                    *, array: str = "{{input.items}}", **settings: Any) -> dict[str, Any]:
    """start → a loop (id `loop`) over `array` with `body` inside it → output `o` of the loop's result."""
    nodes = [START, {"id": "loop", "type": "loop", "name": "Loop", "config": {"arrayPath": array, **loop_config}},
             *[{**n, "parentId": "loop"} for n in body],
             {"id": "o", "type": "output", "name": "o", "config": {"value": "{{loop}}"}}]
    return definition(nodes, [("start", "loop"), ("loop", "o"), *body_edges], **settings)


def fan_out(duration_ms: int = 300) -> dict[str, Any]:
    """start → three delay branches → merge (the seed's fan-out / fan-in)."""
    return {
        "schemaVersion": 1,
        "name": "Fan-out",
        "settings": {"maxConcurrency": 10},
        "nodes": [
            {"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
            *[
                {"id": f"work_{c}", "type": "delay", "name": f"Work {c.upper()}",
                 "position": {"x": 250, "y": i * 100}, "config": {"duration": duration_ms}}
                for i, c in enumerate("abc")
            ],
            {"id": "merge", "type": "merge", "name": "Merge", "position": {"x": 500, "y": 0}, "config": {}},
        ],
        "edges": [
            *[{"id": f"s{c}", "source": "start", "target": f"work_{c}"} for c in "abc"],
            *[{"id": f"m{c}", "source": f"work_{c}", "target": "merge"} for c in "abc"],
        ],
    }


def delay(node_id: str, ms: int, **extra: object) -> dict[str, object]:
    """A delay node of `ms` milliseconds (extra keys go into its config)."""
    return {"id": node_id, "type": "delay", "config": {"duration": ms, **extra}}


def seconds(a: Any, b: Any) -> float:
    """Seconds from datetime `a` to `b`."""
    return float((b - a).total_seconds())


def peak_concurrency(spans: Iterable[tuple[Any, Any]]) -> int:
    """Most spans (start, finish) open at once; a finish at the same instant as a start
    counts first. Spans without both ends (never ran) are left out."""
    points = []
    for started, finished in spans:
        if started is not None and finished is not None:
            points += [(started, 1), (finished, -1)]
    live = peak = 0
    for _, step in sorted(points, key=lambda p: (p[0], p[1])):
        live += step
        peak = max(peak, live)
    return peak


# The seed's "Custom Merge Logic" expression (docs: parallel-execution.md), verbatim.
SEED_CUSTOM_MERGE = """
    const combined = {
      totalUsers: branch_a.count + branch_b.count,
      allEmails: [...branch_a.emails, ...branch_b.emails],
      merged: Date.now()
    };
    return combined;
  """


def custom_merge_definition(*, after_merge: bool, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Two teams (2 and 1 users) joined by a Transform `combine` running the seed's custom
    merge — as the join itself, or right after an automatic merge — with its result in output `o`.
    Expected: totalUsers 3, allEmails a@x, b@x, c@x."""
    combine = {"id": "combine", "type": "transform",
               "config": config or {"operation": "custom", "expression": SEED_CUSTOM_MERGE}}
    teams = [{"id": "a", "type": "transform", "config": {"expression": "return {count: 2, emails: ['a@x', 'b@x']};"}},
             {"id": "b", "type": "transform", "config": {"expression": "return {count: 1, emails: ['c@x']};"}}]
    output = {"id": "o", "type": "output", "name": "o", "config": {"value": "{{combine}}"}}
    if after_merge:
        return definition([START, *teams, {"id": "m", "type": "merge"}, combine, output],
                          [("start", "a"), ("start", "b"), ("a", "m"), ("b", "m"), ("m", "combine"), ("combine", "o")])
    return definition([START, *teams, combine, output],
                      [("start", "a"), ("start", "b"), ("a", "combine"), ("b", "combine"), ("combine", "o")])


# A node run the engine must not wait for (a branch a join cuts off, a delay past its
# timeout) lasts SLOW_MS, longer than the core runner waits for a run (10 s): waiting for it
# fails a test however loaded the machine. NOT_WAITED_S is then only a sanity bound on the
# run's time (tests asserted 0.5-1.0 s against 0.6-5 s node runs, which a loaded 2-core
# machine could miss).
SLOW_MS = 20_000
NOT_WAITED_S = 5.0
