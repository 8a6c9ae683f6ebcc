"""Live execution streams over websockets (SPEC §8).

`ExecutionEventsConsumer` (`ws/executions/<id>/?afterSeq=N`) sends every stored event of
one execution after `N`, then each new event, one JSON event per frame, in `seq` order
with no gaps and no duplicates. The order of operations is what makes that hold:

1. subscribe first (to `engine.live.relay`, and through this process's relay to the channel
   layer's group `execution.<id>`), so nothing announced from now on is missed;
2. replay the event store (`Event` rows with `seq > afterSeq`);
3. forward live batches, dropping every `seq <= last sent` (already replayed, or heard both
   ways) and, when a batch starts past `last sent + 1` (messages lost to the channel
   layer's capacity, or announced before we subscribed), filling the gap from the store.

Live batches arrive already encoded (`engine.live.relay.Frame`: JSON text and websocket frame
built once for all clients), and under daphne a batch goes to a client as one write
(`engine.live.frames`). One writer task per client does all the sending, so nothing is
sent out of order and nothing needs a lock.

The engine never waits on a client: it commits events, then announces them without
blocking; a client that lags loses nothing because the store is the source of truth, and a
client that stops reading is disconnected by daphne's ping timeout (`make run` sets it)
and resumes with `afterSeq`. When the engine runs in another process and there is no
Redis (the in-memory layer carries nothing between processes), the consumer follows the
store by polling whenever nothing live arrived for `POLL_INTERVAL_S`; the poll costs one
indexed query, and reads events only when no announcement is on its way.

`ExecutionListConsumer` (`ws/executions/`) sends `{"type": "execution.status",
"execution": {...}}` whenever one of the user's executions changes status, from the
`executions.user.<id>` group and from a cheap periodic comparison (which also serves
staff, who see every execution, and out-of-process engines without Redis).

Access is checked at the handshake and again every `ACCESS_RECHECK_S` while the stream is
open: a session logged out (or expired, or its user deactivated or given a new password)
closes the stream with 4401, and an execution the user may no longer see (staff status
taken away, the run deleted) with 4404. Checked only at the handshake, a demoted staff
member went on receiving other users' events and status changes for as long as the page
stayed open.

Close codes (sent after accepting, so that browsers can read them): 4400 bad request,
4401 not logged in, 4404 no such execution — also another user's, which must look exactly
like a missing one; 4429 the user already has `FLOWMAESTRO_WS_STREAMS_PER_USER` streams open
in this process; 1011 if the stream fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer

from engine.core.numerals import ascii_int
from engine.live import frames, reads, relay
from engine.live.access import (
    LOGGED_OUT,
    TOO_MANY_STREAMS,
    access_now,
    give_stream_back,
    take_stream,
    user_of,
)
from engine.live.relay import FrameBatch, LayerRelay, user_group
from engine.models import FINISHED_EXECUTION_STATUSES

log = logging.getLogger("engine")

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 4429
CLOSE_SERVER_ERROR = 1011

# Follow the store when no live message came for this long (engine in another process,
# or messages lost to capacity); short enough that a timeline still looks live.
POLL_INTERVAL_S = 0.25
# When announcements are sure to come (this process's engine, or Redis), a poll reads events
# from the store only once nothing was delivered for this long (the announcer failed, the
# engine was taken over, Redis is down).
ANNOUNCED_GRACE_S = 2.0
# Events read from the store per query, so that a replay of a 100,000-item loop streams
# out in pieces instead of being loaded into memory at once.
REPLAY_CHUNK = 500
# How often the list stream compares the user's recent executions with what it last sent.
LIST_POLL_INTERVAL_S = 1.0
MAX_SEQ = 2**31 - 1
# How often an open stream checks its session and its user again (module docstring): a
# session read and a user read (and, for one execution, the one-row visibility check).
ACCESS_RECHECK_S = 5.0


# --- one execution's events -----------------------------------------------------------------


class ExecutionEventsConsumer(AsyncJsonWebsocketConsumer):
    """One writer task per client sends everything, in order: the replay, then live batches
    (from `engine.live.relay` in this process or from the channel layer), then store polls when
    nothing live came. Being the only sender, it needs no lock, and it writes a whole batch
    of pre-encoded frames without yielding to anything but the transport."""

    execution_id: int
    last_sent: int
    relay: LayerRelay

    async def connect(self) -> None:
        self.writer: asyncio.Task[None] | None = None
        self.stream_of: int | None = None  # the user whose stream count this one holds
        self.subscribed = False
        self.inbox: deque[FrameBatch] = deque()
        # Whole batches as one write of prebuilt frames, when the server (daphne) allows it.
        self.raw_frames = frames.supported(self.scope)
        self.last_delivery = time.monotonic()
        self.wake = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self.finished = False
        user = user_of(self.scope)
        await self.accept()
        if user is None:
            await self._refuse(CLOSE_UNAUTHENTICATED, "Log in to watch executions.")
            return
        if not take_stream(int(user.pk)):
            await self._refuse(CLOSE_TOO_MANY, TOO_MANY_STREAMS)
            return
        self.stream_of = int(user.pk)
        self.next_check = time.monotonic() + ACCESS_RECHECK_S
        try:
            await self._start(user)
        except BaseException:
            # Channels sends no disconnect to a consumer whose connect raised: give the slot back here.
            give_stream_back(self.stream_of)
            self.stream_of = None
            raise

    async def _start(self, user: Any) -> None:
        try:
            self.execution_id = int(self.scope["url_route"]["kwargs"]["execution_id"])
            after_seq = self._after_seq()
        except (KeyError, ValueError):
            await self._refuse(CLOSE_BAD_REQUEST, "afterSeq must be a non-negative integer.")
            return
        if not await reads.may_watch(self.execution_id, user):
            await self._refuse(CLOSE_NOT_FOUND, "No such execution.")
            return
        self.last_sent = after_seq
        # Subscribe before the writer reads the store: an event committed after that read
        # is then certainly delivered live (or found by the next gap fill).
        self.relay = relay.relay_for(self.channel_layer)
        relay.subscribe(self.execution_id, self)
        self.subscribed = True
        await self.relay.watch(self.execution_id)
        self.writer = asyncio.create_task(self._write_loop())

    def _after_seq(self) -> int:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        raw = (query.get("afterSeq") or ["0"])[0]
        value = ascii_int(raw or "0")  # not int(): it took "٣" and "1_000"
        if value is None or not 0 <= value <= MAX_SEQ:
            raise ValueError(raw)
        return value

    async def _refuse(self, code: int, detail: str) -> None:
        await self.send_json({"type": "error", "code": code, "detail": detail})
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if self.stream_of is not None:
            give_stream_back(self.stream_of)
            self.stream_of = None
        if self.writer is not None:
            self.writer.cancel()
        if self.subscribed:
            relay.unsubscribe(self.execution_id, self)
            self.subscribed = False
            await self.relay.unwatch(self.execution_id)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        # The stream is one-way; signals go through the HTTP API (SPEC §6). Nothing a client
        # sends is read, not even decoded: the JSON consumer's own receive answered a frame
        # that was not JSON (or was binary) with an internal error (close 1011) and a logged
        # traceback, and decoded megabytes of it first.
        return None

    # -- feeding the writer -------------------------------------------------------------------

    def push(self, batch: FrameBatch) -> None:
        """A live batch (in seq order), from `engine.live.relay` on this consumer's loop."""
        if not self.finished:
            self.inbox.append(batch)
            self.wake.set()

    # -- the writer ---------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        try:
            await self._catch_up()
            while not self.finished:
                if time.monotonic() >= self.next_check and not await self._access_holds():
                    return
                if not self.inbox:
                    try:
                        # Nothing live for a while: follow the store (see the module docstring).
                        await asyncio.wait_for(self.wake.wait(), POLL_INTERVAL_S)
                    except TimeoutError:
                        # Trust a sure announcer for a while; if nothing came by then (it
                        # failed, the engine was taken over, Redis is down), read the store.
                        patient = time.monotonic() - self.last_delivery < ANNOUNCED_GRACE_S
                        await self._catch_up_logged(unless_announced=patient)
                        continue
                self.wake.clear()
                while self.inbox and not self.finished:
                    await self._send_live(self.inbox.popleft())
        except asyncio.CancelledError:
            raise
        except Exception:  # a dead writer would leave the client waiting forever: close it
            log.exception("event stream of execution %s failed", self.execution_id)
            await self.close(code=CLOSE_SERVER_ERROR)

    async def _access_holds(self) -> bool:
        """Whether the session still lets its user see this execution; if not, the stream
        is closed as at a handshake that failed so (4401, or 4404 like a missing run)."""
        self.next_check = time.monotonic() + ACCESS_RECHECK_S
        assert self.stream_of is not None
        user = await access_now(self.scope, self.stream_of)
        if user is ...:
            return True
        if user is None:
            await self._refuse(CLOSE_UNAUTHENTICATED, LOGGED_OUT)
        elif not await reads.may_watch(self.execution_id, user):
            await self._refuse(CLOSE_NOT_FOUND, "No such execution.")
        else:
            return True
        self.finished = True
        return False

    async def _catch_up_logged(self, *, unless_announced: bool = False) -> None:
        try:
            await self._catch_up(unless_announced=unless_announced)
        except Exception:  # noqa: BLE001 - a failed read (database busy) is retried next round
            log.warning("store poll for execution %s failed", self.execution_id, exc_info=True)

    async def _send_live(self, batch: FrameBatch) -> None:
        items = batch.frames
        start = 0
        while start < len(items) and not self.finished:
            if items[start].seq <= self.last_sent:
                start += 1  # already sent by the replay, a gap fill or the other live path
                continue
            if items[start].seq > self.last_sent + 1:
                await self._catch_up_logged()  # messages were lost: the store has them
                if items[start].seq > self.last_sent + 1:
                    return  # still a hole (a writer mid-commit): the next poll fills it
                continue
            start = await self._send_run(batch, start)

    async def _send_run(self, batch: FrameBatch, start: int) -> int:
        """Send the consecutive frames of `batch` from `start` (which is `last_sent + 1`) up to
        a hole or the stream's final event, in one write when the server takes raw frames.
        Returns where it stopped."""
        items = batch.frames
        stop = start + 1
        while stop < len(items) and items[stop].seq == items[stop - 1].seq + 1 and not items[stop - 1].final:
            stop += 1
        if self.raw_frames:
            await self.base_send({"type": frames.MESSAGE_TYPE, "data": batch.wire(start, stop)})
        else:
            for item in items[start:stop]:
                await self.base_send({"type": "websocket.send", "text": item.text})
        self.last_sent = items[stop - 1].seq
        self.finished = items[stop - 1].final
        self.last_delivery = time.monotonic()
        return stop

    async def _catch_up(self, *, unless_announced: bool = False) -> None:
        """Send every stored event after `last_sent` (only the writer task calls this)."""
        while True:
            batch, status, last_seq = await reads.stored_frames(
                self.execution_id, self.last_sent, REPLAY_CHUNK, unless_announced=unless_announced,
                layer_crosses_processes=not isinstance(self.channel_layer, InMemoryChannelLayer))
            start = 0
            while start < len(batch) and not self.finished:
                if batch.frames[start].seq != self.last_sent + 1:
                    # The store is gap-free by construction; a hole means a writer is
                    # still committing below it. Stop here; the next pass finds it.
                    return
                start = await self._send_run(batch, start)
            if status is None or (status in FINISHED_EXECUTION_STATUSES and self.last_sent >= last_seq):
                self.finished = True  # deleted, or finished and fully sent: nothing more to follow
            if len(batch) < REPLAY_CHUNK:
                return


# --- any other websocket path ---------------------------------------------------------------------


class UnknownStreamConsumer(AsyncJsonWebsocketConsumer):
    """Every websocket path no stream serves (`ws/nope/`, an id with a NUL after it): answered
    like a missing execution, 4404 after accepting. Channels' router raised instead, so each
    such handshake was an HTTP 500 and a logged traceback, open to anyone without a login."""

    async def connect(self) -> None:
        await self.accept()
        await self.send_json({"type": "error", "code": CLOSE_NOT_FOUND, "detail": "No such stream."})
        await self.close(code=CLOSE_NOT_FOUND)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        return None  # nothing a client sends is read (ExecutionEventsConsumer.receive)


# --- status changes of all the user's executions ------------------------------------------------


class ExecutionListConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        self.group = None
        self.stream_of: int | None = None
        self.poller: asyncio.Task[None] | None = None
        self.sent: dict[int, dict[str, Any]] = {}
        self.lock = asyncio.Lock()
        relay.note_server_loop(asyncio.get_running_loop())  # status changes on the in-memory layer
        user = user_of(self.scope)
        if user is None:
            await self.accept()
            await self.send_json({"type": "error", "code": CLOSE_UNAUTHENTICATED, "detail": "Log in first."})
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not take_stream(int(user.pk)):
            await self.accept()
            await self.send_json({"type": "error", "code": CLOSE_TOO_MANY, "detail": TOO_MANY_STREAMS})
            await self.close(code=CLOSE_TOO_MANY)
            return
        self.stream_of = int(user.pk)
        try:
            self.user = user
            self.user_id = int(user.pk)
            self.group = user_group(self.user_id)
            await self.channel_layer.group_add(self.group, self.channel_name)
            # Only changes after this snapshot are sent. The handshake completes after it, so
            # what a page loads over HTTP once its socket is open is at least this new (the
            # page loads its list again then). Accepted before it, as this was, a run that
            # ended between the page's first list request and the snapshot was never sent:
            # its row said "running" until a reload.
            self.sent = await reads.recent_executions(self.user)
            self.poller = asyncio.create_task(self._compare_periodically())
            await self.accept()
        except BaseException:
            give_stream_back(self.stream_of)  # as in ExecutionEventsConsumer.connect
            self.stream_of = None
            raise

    async def disconnect(self, code: int) -> None:
        if self.stream_of is not None:
            give_stream_back(self.stream_of)
            self.stream_of = None
        if self.poller is not None:
            self.poller.cancel()
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        return None  # one-way, as ExecutionEventsConsumer.receive

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
        next_check = time.monotonic() + ACCESS_RECHECK_S
        while True:
            await asyncio.sleep(LIST_POLL_INTERVAL_S)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + ACCESS_RECHECK_S
                user = await access_now(self.scope, self.user_id)
                if user is None:
                    await self.send_json({"type": "error", "code": CLOSE_UNAUTHENTICATED, "detail": LOGGED_OUT})
                    await self.close(code=CLOSE_UNAUTHENTICATED)
                    return
                if user is not ...:
                    self.user = user  # staff status read afresh: what the comparison shows
            try:
                current = await reads.recent_executions(self.user)
                async with self.lock:
                    # Oldest first, so that a page inserting rows keeps creation order.
                    for key in sorted(current):
                        await self._send_if_changed(current[key])
            except Exception:  # noqa: BLE001 - a failed read (database busy) is retried next round
                log.warning("execution list poll failed for user %s", self.user_id, exc_info=True)
