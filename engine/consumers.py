"""Live execution streams over websockets (SPEC §8).

`ExecutionEventsConsumer` (`ws/executions/<id>/?afterSeq=N`) sends every stored event of
one execution after `N`, then each new event, one JSON event per frame, in `seq` order
with no gaps and no duplicates. The order of operations is what makes that hold:

1. subscribe to the group `execution.<id>` first, so nothing announced from now on is missed;
2. replay the event store (`Event` rows with `seq > afterSeq`);
3. forward live batches, dropping every `seq <= last sent` (already replayed) and, when a
   batch starts past `last sent + 1` (messages lost to the channel layer's capacity, or
   announced before we subscribed), filling the gap from the store first.

The engine never waits on a client: it commits events, then announces them without
blocking; a client that lags loses nothing because the store is the source of truth.
When the engine runs in another process and there is no Redis (the in-memory layer
carries nothing between processes), the consumer follows the store by polling whenever
no live message arrived for `POLL_INTERVAL_S`; the poll costs one indexed query.

`ExecutionListConsumer` (`ws/executions/`) sends `{"type": "execution.status",
"execution": {...}}` whenever one of the user's executions changes status, from the
`executions.user.<id>` group and from a cheap periodic comparison (which also serves
staff, who see every execution, and out-of-process engines without Redis).

Close codes (sent after accepting, so that browsers can read them): 4400 bad request,
4401 not logged in, 4403 not the owner, 4404 no such execution.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from engine.models import FINISHED_EXECUTION_STATUSES, Event, Execution

log = logging.getLogger("engine")

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404

# Follow the store when no live message came for this long (engine in another process,
# or messages lost to capacity); short enough that a timeline still looks live.
POLL_INTERVAL_S = 0.25
# Events read from the store per query, so that a replay of a 100,000-item loop streams
# out in pieces instead of being loaded into memory at once.
REPLAY_CHUNK = 500
# How often the list stream compares the user's recent executions with what it last sent.
LIST_POLL_INTERVAL_S = 1.0
LIST_WINDOW = 200
MAX_SEQ = 2**31 - 1


def execution_group(execution_id: int | str) -> str:
    return f"execution.{execution_id}"


def user_group(user_id: int | str) -> str:
    return f"executions.user.{user_id}"


# --- store reads (run in a thread: the ORM is synchronous) -------------------------------


@database_sync_to_async
def _execution_owner(execution_id: int) -> int | None:
    return Execution.objects.filter(pk=execution_id).values_list("owner_id", flat=True).first()


@database_sync_to_async
def _stored_events(execution_id: int, after_seq: int, limit: int) -> tuple[list[dict[str, Any]], str | None, int]:
    """Up to `limit` events after `after_seq`, plus the execution's status and last seq."""
    head = Execution.objects.filter(pk=execution_id).values_list("status", "last_seq").first()
    if head is None:
        return [], None, 0
    status, last_seq = head
    if last_seq <= after_seq:
        # The common idle case: one indexed row read, no event query.
        return [], status, last_seq
    events = Event.objects.filter(execution_id=execution_id, seq__gt=after_seq).order_by("seq")[:limit]
    return [event.as_message() for event in events], status, last_seq


def _summary(row: Mapping[str, Any]) -> dict[str, Any]:
    """The `execution.status` shape (the same as `engine.announce.execution_summary`)."""

    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": row["id"], "status": row["status"], "workflow": row["workflow_id"],
        "workflowName": row["workflow__name"], "traceId": row["trace_id"], "createdAt": iso(row["created_at"]),
        "startedAt": iso(row["started_at"]), "finishedAt": iso(row["finished_at"]),
    }


@database_sync_to_async
def _recent_executions(user_id: int, is_staff: bool) -> dict[int, dict[str, Any]]:
    qs = Execution.objects.all() if is_staff else Execution.objects.filter(owner_id=user_id)
    rows = qs.order_by("-created_at", "-id").values(
        "id", "status", "workflow_id", "workflow__name", "trace_id", "created_at", "started_at", "finished_at"
    )[:LIST_WINDOW]
    return {row["id"]: _summary(row) for row in rows}


def _user_of(scope: dict[str, Any]) -> Any:
    user = scope.get("user")
    return user if user is not None and getattr(user, "is_authenticated", False) else None


# --- one execution's events -----------------------------------------------------------------


class ExecutionEventsConsumer(AsyncJsonWebsocketConsumer):
    execution_id: int
    last_sent: int
    group: str | None = None

    async def connect(self) -> None:
        self.group = None
        self.poller: asyncio.Task[None] | None = None
        # Serialises the replay, the poller and live batches: each of them reads
        # `last_sent` and sends in order, and they run as separate tasks.
        self.lock = asyncio.Lock()
        self.last_live = time.monotonic()
        self.finished = False
        user = _user_of(self.scope)
        await self.accept()
        if user is None:
            await self._refuse(CLOSE_UNAUTHENTICATED, "Log in to watch executions.")
            return
        try:
            self.execution_id = int(self.scope["url_route"]["kwargs"]["execution_id"])
            after_seq = self._after_seq()
        except (KeyError, ValueError):
            await self._refuse(CLOSE_BAD_REQUEST, "afterSeq must be a non-negative integer.")
            return
        owner_id = await _execution_owner(self.execution_id)
        if owner_id is None:
            await self._refuse(CLOSE_NOT_FOUND, "No such execution.")
            return
        if owner_id != user.pk and not user.is_staff:
            await self._refuse(CLOSE_FORBIDDEN, "This execution is not yours.")
            return
        self.last_sent = after_seq
        # Subscribe before reading the store: an event committed after our read is then
        # certainly delivered live (or found by the next gap fill).
        self.group = execution_group(self.execution_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        async with self.lock:
            await self._catch_up()
        self.poller = asyncio.create_task(self._follow_store())

    def _after_seq(self) -> int:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        raw = (query.get("afterSeq") or ["0"])[0]
        value = int(raw or "0")
        if not 0 <= value <= MAX_SEQ:
            raise ValueError(raw)
        return value

    async def _refuse(self, code: int, detail: str) -> None:
        await self.send_json({"type": "error", "code": code, "detail": detail})
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if self.poller is not None:
            self.poller.cancel()
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The stream is one-way; signals go through the HTTP API (SPEC §6).
        return None

    async def _send_event(self, event: dict[str, Any]) -> None:
        await self.send_json(event)
        self.last_sent = event["seq"]
        if event["type"] in TERMINAL_EVENT_TYPES:
            self.finished = True

    async def _catch_up(self) -> None:
        """Send every stored event after `last_sent` (caller holds the lock)."""
        while True:
            events, status, last_seq = await _stored_events(self.execution_id, self.last_sent, REPLAY_CHUNK)
            for event in events:
                if event["seq"] == self.last_sent + 1:
                    await self._send_event(event)
                elif event["seq"] > self.last_sent + 1:
                    # The store is gap-free by construction; a hole means a writer is
                    # still committing below it. Stop here; the next pass finds it.
                    return
            if status is None or (status in FINISHED_EXECUTION_STATUSES and self.last_sent >= last_seq):
                self.finished = True  # deleted, or finished and fully sent: nothing more to follow
            if len(events) < REPLAY_CHUNK:
                return

    async def execution_events(self, message: dict[str, Any]) -> None:
        """A live batch from `engine.announce` (events in seq order)."""
        self.last_live = time.monotonic()
        async with self.lock:
            for event in message.get("events") or []:
                seq = event.get("seq")
                if not isinstance(seq, int) or seq <= self.last_sent:
                    continue  # already sent by the replay or an earlier gap fill
                if seq > self.last_sent + 1:
                    await self._catch_up()  # messages were lost: the store has them
                if seq == self.last_sent + 1:
                    await self._send_event(event)

    async def _follow_store(self) -> None:
        """Poll the store while no live message arrives (see the module docstring)."""
        while not self.finished:
            await asyncio.sleep(POLL_INTERVAL_S)
            if time.monotonic() - self.last_live < POLL_INTERVAL_S:
                continue
            try:
                async with self.lock:
                    await self._catch_up()
            except Exception:  # noqa: BLE001 - a failed read (database busy) is retried next round
                log.warning("store poll for execution %s failed", self.execution_id, exc_info=True)


TERMINAL_EVENT_TYPES = frozenset(f"execution.{status}" for status in FINISHED_EXECUTION_STATUSES)


# --- status changes of all the user's executions ------------------------------------------------


class ExecutionListConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        self.group = None
        self.poller: asyncio.Task[None] | None = None
        self.sent: dict[int, dict[str, Any]] = {}
        self.lock = asyncio.Lock()
        user = _user_of(self.scope)
        await self.accept()
        if user is None:
            await self.send_json({"type": "error", "code": CLOSE_UNAUTHENTICATED, "detail": "Log in first."})
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = int(user.pk)
        self.is_staff = bool(user.is_staff)
        self.group = user_group(self.user_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        # What the page loads next over HTTP is at least this new; only changes after it are sent.
        self.sent = await _recent_executions(self.user_id, self.is_staff)
        self.poller = asyncio.create_task(self._compare_periodically())

    async def disconnect(self, code: int) -> None:
        if self.poller is not None:
            self.poller.cancel()
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        return None

    async def _send_if_changed(self, summary: dict[str, Any]) -> None:
        key = int(summary["id"])
        if self.sent.get(key) == summary:
            return
        self.sent[key] = summary
        await self.send_json({"type": "execution.status", "execution": summary})

    async def execution_status(self, message: dict[str, Any]) -> None:
        execution = dict(message.get("execution") or {})
        execution.pop("owner", None)  # routing detail of the announcer, not for the page
        if "id" not in execution:
            return
        async with self.lock:
            await self._send_if_changed(execution)

    async def _compare_periodically(self) -> None:
        while True:
            await asyncio.sleep(LIST_POLL_INTERVAL_S)
            try:
                current = await _recent_executions(self.user_id, self.is_staff)
                async with self.lock:
                    # Oldest first, so that a page inserting rows keeps creation order.
                    for key in sorted(current):
                        await self._send_if_changed(current[key])
            except Exception:  # noqa: BLE001 - a failed read (database busy) is retried next round
                log.warning("execution list poll failed for user %s", self.user_id, exc_info=True)
