"""What the live streams (engine.live.consumers) read from the store, each run in a
thread (the ORM is synchronous): whether a user may watch an execution, a catch-up of its
stored events as frames, and the summaries of the user's recent executions."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from engine import wire
from engine.live import relay
from engine.live.relay import FrameBatch
from engine.models import Event, Execution
from flowmaestro.visibility import parse_id, visible

# The list stream compares (and sends on opening) at most this many of the newest executions.
LIST_WINDOW = 200


@database_sync_to_async
def may_watch(execution_id: int, user: Any) -> bool:
    """Whether the execution exists and the user may watch it, in one query: another user's
    execution and a missing one take the same path and get the same answer, so ids cannot
    be probed through the websocket (as over HTTP, where both are a 404)."""
    if parse_id(execution_id) is None:
        return False
    return visible(Execution.objects.filter(pk=execution_id), user).exists()


@database_sync_to_async
def stored_frames(execution_id: int, after_seq: int, limit: int, *, unless_announced: bool = False,
                   layer_crosses_processes: bool = False) -> tuple[FrameBatch, str | None, int]:
    """Up to `limit` events after `after_seq` as frames, plus the execution's status and last
    seq. With `unless_announced`, no events are read when announcements are sure to come:
    from this process's engine (to `engine.live.relay`, without loss) or over a layer that reaches
    other processes (Redis). A poll that finds the store ahead then has only beaten the
    announcement, and reading would repeat for every client what the announcer does once."""
    head = Execution.objects.filter(pk=execution_id).values_list("status", "last_seq", "engine_id").first()
    if head is None:
        return FrameBatch(()), None, 0
    status, last_seq, engine_id = head
    announced = layer_crosses_processes or (engine_id and engine_id == _local_engine_id())
    if last_seq <= after_seq or (unless_announced and announced):
        # The common idle case: one indexed row read, no event query.
        return FrameBatch(()), status, last_seq
    # Plain rows, not model instances: a catch-up can be thousands of events. The wire
    # shape is the announcer's (`engine.wire.event_message`), so both paths send the same text.
    rows = Event.objects.filter(execution_id=execution_id, seq__gt=after_seq).order_by("seq").values(
        *wire.EVENT_COLUMNS)[:limit]
    return relay.frames(wire.event_message(row) for row in rows), status, last_seq


def _local_engine_id() -> str | None:
    from engine.runtime import get_engine

    engine = get_engine()
    return engine.engine_id if engine is not None else None


@database_sync_to_async
def recent_executions(user: Any) -> dict[int, dict[str, Any]]:
    rows = visible(Execution.objects.all(), user).order_by("-created_at", "-id").values(
        *wire.SUMMARY_COLUMNS, **wire.summary_expressions())[:LIST_WINDOW]
    return {row["id"]: wire.execution_summary(row) for row in rows}
