"""Which items a loop runs in a dead letter's replay (engine.dead_letters): the state's
`deadLetterReplay`, `{loop id: [{"index", "item"?, "scope"?}]}`.

An entry with `item` runs that value as the item at `index` (the dead item, or what the
user put in its place). An entry without it runs the loop's own item at `index`: what an
enclosing loop of a nested dead item runs, so that only the outer item the dead item came
from runs (not every outer item, each running the dead item again). An entry with `scope`
applies only in that item scope (the inner loop of `outer#2` is told nothing about the
inner loops of `outer#0`); letters kept before scopes were recorded have none."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def replay_selection(replay: Mapping[str, Any], loop_id: str, scope_key: str,
                     rendered: Any) -> tuple[Any, list[int] | None]:
    """(items, their indexes) the loop runs, or (`rendered`, None) when the replay does not
    choose its items here (not a replay, another loop, another item scope)."""
    entries = [e for e in replay.get(loop_id) or [] if isinstance(e, Mapping)
               and e.get("scope", scope_key) == scope_key]
    if not entries:
        return rendered, None
    items, indexes = [], []
    for entry in entries:
        index = int(entry.get("index") or 0)
        if "item" in entry:
            items.append(entry["item"])
        elif isinstance(rendered, list) and 0 <= index < len(rendered):
            items.append(rendered[index])
        else:
            continue  # the array no longer has that item: nothing of it to run
        indexes.append(index)
    return items, indexes
