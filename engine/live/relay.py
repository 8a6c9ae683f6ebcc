"""In-process fan-out of committed events to this process's websocket consumers (SPEC §8).

When the engine runs inside the daphne process (the default), the announcer thread and
the consumers share memory, so a batch of events is encoded to JSON text once and the same
immutable frames are handed to every consumer watching that execution, with one
`call_soon_threadsafe` per event loop per batch. No channel-layer hop, no per-consumer
`deepcopy` (the in-memory layer copies each message for each channel) and no per-consumer
JSON encoding: profiling the `stream` benchmark showed those, plus the in-memory layer
being fed from a foreign thread (its asyncio queues only wake the server's loop when
something else does), as where the latency went.

Consumers in other processes are reached through the channel layer (Redis), where one
`LayerRelay` per receiving process subscribes for all of its consumers; a consumer that
hears a batch both ways drops the copy by `seq`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from engine.live.frames import text_frame
from engine.models import FINISHED_EXECUTION_STATUSES

log = logging.getLogger("engine")

FINAL_EVENT_TYPES = frozenset(f"execution.{status}" for status in FINISHED_EXECUTION_STATUSES)


def execution_group(execution_id: int | str) -> str:
    """The channel-layer group of one execution's events (SPEC §8)."""
    return f"execution.{execution_id}"


def user_group(user_id: int | str) -> str:
    """The channel-layer group of a user's execution status changes (`ws/executions/`)."""
    return f"executions.user.{user_id}"


class Frame(NamedTuple):
    """One event as it goes over the websocket: its `seq`, its JSON text (the SPEC §8 event
    object, encoded once for every client), the websocket frame carrying that text (the
    same bytes for every client) and whether it ends the execution's stream."""

    seq: int
    text: str
    wire: bytes
    final: bool


def frame(event: Mapping[str, Any]) -> Frame:
    """A SPEC §8 event object as a frame; `json.dumps` with the defaults, the same text
    `AsyncJsonWebsocketConsumer.send_json` would produce."""
    return text_frame_of(int(event["seq"]), json.dumps(event), event["type"] in FINAL_EVENT_TYPES)


def text_frame_of(seq: int, text: str, final: bool) -> Frame:
    return Frame(seq, text, text_frame(text), final)


class FrameBatch:
    """Frames of one execution in seq order, shared read-only by every consumer; the
    concatenated wire bytes of the whole batch are built once, by the first consumer that
    sends it whole (consumers of one loop run one at a time, so no lock)."""

    __slots__ = ("frames", "_wire")

    def __init__(self, frames: Sequence[Frame]) -> None:
        self.frames: tuple[Frame, ...] = tuple(frames)
        self._wire: bytes | None = None

    def __len__(self) -> int:
        return len(self.frames)

    def wire(self, start: int = 0, stop: int | None = None) -> bytes:
        stop = len(self.frames) if stop is None else stop
        if start == 0 and stop == len(self.frames):
            if self._wire is None:
                self._wire = b"".join(f.wire for f in self.frames)
            return self._wire
        return b"".join(f.wire for f in self.frames[start:stop])


def frames(events: Iterable[Mapping[str, Any]]) -> FrameBatch:
    return FrameBatch([frame(event) for event in events])


class Subscriber(Protocol):
    """A consumer watching one execution; `push` runs on `loop`, never blocks, never awaits."""

    loop: asyncio.AbstractEventLoop

    def push(self, batch: FrameBatch) -> None: ...


_lock = threading.Lock()
# Copy-on-write: publishers read a tuple without taking the lock.
_subscribers: dict[int, tuple[Subscriber, ...]] = {}
_server_loop: asyncio.AbstractEventLoop | None = None


def subscribe(execution_id: int, subscriber: Subscriber) -> None:
    global _server_loop
    with _lock:
        _subscribers[execution_id] = (*_subscribers.get(execution_id, ()), subscriber)
        _server_loop = subscriber.loop


def unsubscribe(execution_id: int, subscriber: Subscriber) -> None:
    with _lock:
        rest = tuple(s for s in _subscribers.get(execution_id, ()) if s is not subscriber)
        if rest:
            _subscribers[execution_id] = rest
        else:
            _subscribers.pop(execution_id, None)


def note_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the loop that serves websockets here (any consumer's), so that messages for
    the in-memory channel layer are sent on it: its queues are not thread-safe."""
    global _server_loop
    _server_loop = loop


def server_loop() -> asyncio.AbstractEventLoop | None:
    loop = _server_loop
    return loop if loop is not None and not loop.is_closed() else None


def watching(execution_id: int) -> int:
    return len(_subscribers.get(execution_id, ()))


def _push_all(subscribers: Sequence[Subscriber], batch: FrameBatch) -> None:
    for subscriber in subscribers:
        subscriber.push(batch)


def deliver_here(execution_id: int, batch: FrameBatch, loop: asyncio.AbstractEventLoop) -> None:
    """Hand `batch` to the consumers of `execution_id` that run on `loop`; called on `loop`
    (the channel-layer relay of `engine.live.consumers`)."""
    _push_all([s for s in _subscribers.get(execution_id, ()) if s.loop is loop], batch)


def publish(execution_id: int, batch: FrameBatch) -> int:
    """Hand `batch` (in seq order) to every consumer of `execution_id` in this process, from
    any thread, without waiting for them; returns how many consumers it reached."""
    subscribers = _subscribers.get(execution_id)
    if not subscribers or not batch:
        return 0
    by_loop: dict[asyncio.AbstractEventLoop, list[Subscriber]] = {}
    for subscriber in subscribers:
        by_loop.setdefault(subscriber.loop, []).append(subscriber)
    reached = 0
    for loop, targets in by_loop.items():
        try:
            loop.call_soon_threadsafe(_push_all, targets, batch)
            reached += len(targets)
        except RuntimeError:  # the loop is closed: those consumers are gone
            for target in targets:
                unsubscribe(execution_id, target)
    return reached


# --- the channel layer, one subscriber per process ----------------------------------------------


class LayerRelay:
    """This process's one subscriber on the channel layer for execution events.

    With Redis, every channel in a group gets its own copy of each message; one relay per
    process (per event loop) joins `execution.<id>` once, decodes each batch once and
    hands it to this process's consumers, as the in-process announcer does. Ten clients of one execution then cost one Redis message, not ten."""

    def __init__(self, layer: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.layer = layer
        self.loop = loop
        self.channel: str | None = None
        self.watched: dict[int, int] = {}  # execution id → consumers watching it here
        self.receiver: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()  # group_add/group_discard of one group never interleave

    async def watch(self, execution_id: int) -> None:
        async with self.lock:
            if self.channel is None:
                # The default prefix: channels-redis reads all of a process's channels from
                # one list per prefix, under one lock, and a second prefix starves.
                self.channel = await self.layer.new_channel()
            self.watched[execution_id] = self.watched.get(execution_id, 0) + 1
            if self.watched[execution_id] == 1:
                await self.layer.group_add(execution_group(execution_id), self.channel)
            if self.receiver is None:
                self.receiver = self.loop.create_task(self._receive())

    async def unwatch(self, execution_id: int) -> None:
        async with self.lock:
            left = self.watched.get(execution_id, 0) - 1
            if left > 0:
                self.watched[execution_id] = left
                return
            self.watched.pop(execution_id, None)
            if self.channel is not None:
                await self.layer.group_discard(execution_group(execution_id), self.channel)
            if not self.watched and self.receiver is not None:
                self.receiver.cancel()  # nothing to hear; the next watch starts it again
                self.receiver = None

    async def _receive(self) -> None:
        assert self.channel is not None
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - layer down: consumers follow the store meanwhile
                log.warning("execution relay receive failed", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if message.get("type") == "execution.events":
                try:
                    self._deliver(message)
                except Exception:  # a malformed message must not stop the relay
                    log.exception("execution relay: bad message %.200r", message)

    def _deliver(self, message: dict[str, Any]) -> None:
        """`frames` with `executionId` from `engine.live.announce` in another process, or
        `events` (SPEC §8 objects) from older announcers."""
        raw_frames = message.get("frames")
        if raw_frames is not None:
            execution_id = message.get("executionId")
            batch = FrameBatch([text_frame_of(int(seq), str(text), bool(final)) for seq, text, final in raw_frames])
        else:
            events = [e for e in message.get("events") or [] if isinstance(e.get("seq"), int)]
            execution_id = events[0].get("executionId") if events else None
            batch = frames(events)
        if isinstance(execution_id, int) and len(batch):
            deliver_here(execution_id, batch, self.loop)


_relays: dict[tuple[int, asyncio.AbstractEventLoop], LayerRelay] = {}


def relay_for(layer: Any) -> LayerRelay:
    loop = asyncio.get_running_loop()
    for key in [key for key in _relays if key[1].is_closed()]:
        del _relays[key]  # the loop of a finished test (or server) run
    key = (id(layer), loop)
    relay = _relays.get(key)
    if relay is None or relay.layer is not layer:
        relay = _relays[key] = LayerRelay(layer, loop)
    return relay
