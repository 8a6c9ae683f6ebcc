"""Announce committed events on the channel layer (SPEC §8), off the engine's hot path.

Runs on the engine's announcer thread after each flush. This process's consumers get
each execution's events through `engine.live.relay` (encoded once, shared by all). Groups on a
layer that crosses processes (Redis): `execution.<id>` gets
`{"type": "execution.events", "executionId": id, "frames": [[seq, json_text, final], ...]}`
in seq order (one relay per receiving process hands them to its consumers);
`executions.user.<owner_id>` gets `{"type": "execution.status", "execution": {...}}` when
an execution's status changes. A lost message is harmless: consumers fill gaps from the
event store.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer

from engine import wire
from engine.core.persistence import Batch
from engine.live import relay

log = logging.getLogger("engine")

PUBLISH_SLICE = 250  # events per live batch


def execution_summary(execution_id: Any) -> dict[str, Any] | None:
    """The execution's status summary (`engine.wire`), plus its owner for routing."""
    return execution_summaries([execution_id]).get(execution_id)


def execution_summaries(execution_ids: list[Any]) -> dict[Any, dict[str, Any]]:
    """`execution_summary` of several executions in one query (a batch often finishes many)."""
    from engine.models import Execution

    rows = Execution.objects.filter(id__in=execution_ids).values(*wire.SUMMARY_COLUMNS, "owner_id", **wire.summary_expressions())
    return {row["id"]: {**wire.execution_summary(row), "owner": row["owner_id"]} for row in rows}


def has_listeners(batch: Batch) -> bool:
    """Would `announce_batch` reach anyone? Asked by the engine's writer after each commit:
    most batches of an unwatched run have no audience in this process, and handing them to
    the announcer thread anyway cost a thread wake-up (a GIL hand-off) per batch."""
    layer = get_channel_layer()
    if layer is not None and not isinstance(layer, InMemoryChannelLayer):
        return True  # other processes may listen: the layer decides
    if any(relay.watching(int(event["execution_id"])) for event in batch.events):
        return True
    return layer is not None and any(
        "status" in fields and not _nobody_lists(layer, batch.owners.get(execution_id))
        for execution_id, fields in batch.executions.items()
    )


def _nobody_lists(layer: BaseChannelLayer, owner: Any) -> bool:
    """Is it known that nobody in this process lists `owner`'s executions? Only the
    in-memory layer (this process's consumers, all of them) can tell; an unknown owner
    might be listened to."""
    return isinstance(layer, InMemoryChannelLayer) and owner is not None and not layer.groups.get(relay.user_group(owner))


def announce_batch(batch: Batch) -> None:
    """Fan the batch's events out (each encoded to JSON once): straight to this process's
    consumers through `engine.live.relay`, and through the channel layer to other processes' when
    it reaches them (Redis). The in-memory layer reaches no other process and its consumers
    are all in `engine.live.relay` already, so events skip it; status changes still go through it."""
    layer = get_channel_layer()
    by_execution: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for event in batch.events:
        by_execution[event["execution_id"]].append(event)
    status_changed = [execution_id for execution_id, fields in batch.executions.items() if "status" in fields]
    cross_process = layer is not None and not isinstance(layer, InMemoryChannelLayer)
    heard: set[str] | None = None  # the groups another process listens to (None: unknown, all)
    if cross_process:
        assert layer is not None
        groups = [relay.execution_group(execution_id) for execution_id in by_execution]
        groups += [relay.user_group(batch.owners[execution_id]) for execution_id in status_changed
                   if batch.owners.get(execution_id) is not None]
        heard = _groups_with_members(layer, groups)
    messages: list[tuple[str, dict[str, Any]]] = []
    for execution_id, events in by_execution.items():
        layer_hears = cross_process and (heard is None or relay.execution_group(execution_id) in heard)
        if not layer_hears and not relay.watching(int(execution_id)):
            continue  # nobody to tell: encoding would be wasted engine time
        # In slices, so that clients get the start of a large batch (a 1,000-node chain
        # commits ~3,000 events at once) while the rest is still being encoded.
        for start in range(0, len(events), PUBLISH_SLICE):
            encoded = relay.frames(wire.event_message(e) for e in events[start:start + PUBLISH_SLICE])
            relay.publish(int(execution_id), encoded)
            if layer_hears:
                messages.append((relay.execution_group(execution_id),
                                 {"type": "execution.events", "executionId": int(execution_id),
                                  "frames": [[f.seq, f.text, f.final] for f in encoded.frames]}))
    if layer is None:
        return
    wanted = []
    for execution_id in status_changed:
        owner = batch.owners.get(execution_id)
        if _nobody_lists(layer, owner) or (heard is not None and owner is not None
                                           and relay.user_group(owner) not in heard):
            continue  # no summary query for nobody
        wanted.append(execution_id)
    if wanted:
        summaries = execution_summaries(wanted)
        for execution_id in wanted:
            summary = summaries.get(execution_id)
            if summary is not None:
                messages.append((relay.user_group(summary["owner"]),
                                 {"type": "execution.status", "execution": summary}))
    if messages:
        _send_on_layer(layer, messages)


def _groups_with_members(layer: BaseChannelLayer, groups: list[str]) -> set[str] | None:
    """Which of `groups` have members on a Redis layer, asked in one round trip per shard;
    None when the layer cannot tell (then every group is sent to, as before).

    A worker's engine commits a few batches per run and nobody watches most runs: a
    `group_send` to an empty group still costs two Redis round trips, and a status change
    an execution-summary query, ~3 ms of a worker's CPU per three-node run in all
    (docs/performance.md). Asking at send time is what `group_send` itself does (it reads
    the group's members then): a websocket that joins a group after this look reads the
    store after joining, so it misses nothing."""
    group_key = getattr(layer, "_group_key", None)
    connection = getattr(layer, "connection", None)
    shard = getattr(layer, "consistent_hash", None)
    if not groups or group_key is None or connection is None or shard is None:
        return None if groups else set()

    async def ask() -> set[str]:
        by_shard: dict[int, list[str]] = defaultdict(list)
        for group in dict.fromkeys(groups):
            by_shard[shard(group)].append(group)
        found: set[str] = set()
        for index, names in by_shard.items():
            pipe = connection(index).pipeline(transaction=False)
            for group in names:
                pipe.exists(group_key(group))
            found.update(group for group, exists in zip(names, await pipe.execute(), strict=True) if exists)
        return found

    try:
        return asyncio.run_coroutine_threadsafe(ask(), _layer_loop()).result(timeout=10)
    except Exception:  # noqa: BLE001 - unknown: send as before (group_send reports a broken layer)
        log.warning("channel layer: looking up group members failed", exc_info=True)
        return None


def _send_on_layer(layer: BaseChannelLayer, messages: list[tuple[str, dict[str, Any]]]) -> None:
    """`group_send` each message in order, on a loop that suits the layer.

    `async_to_sync` from the announcer thread would start a new event loop (and, for Redis, a
    new connection) per batch. The in-memory layer's queues belong to the server's loop and
    are not thread-safe, so its sends run there (without waiting: nothing here depends on
    them); other layers get one long-lived loop of their own, and the announcer waits so
    that batches leave in seq order."""

    async def send() -> None:
        for group, message in messages:
            try:
                await layer.group_send(group, message)
            except Exception:  # noqa: BLE001 - consumers catch up from the store
                log.warning("announce to %s failed", group, exc_info=True)

    if isinstance(layer, InMemoryChannelLayer):
        loop = relay.server_loop()
        if loop is not None:  # else no consumer ever ran here: nobody to hear it
            try:
                asyncio.run_coroutine_threadsafe(send(), loop)
            except RuntimeError:  # the loop closed meanwhile
                pass
        return
    try:
        asyncio.run_coroutine_threadsafe(send(), _layer_loop()).result(timeout=10)
    except Exception:  # noqa: BLE001 - a slow or broken layer must not stop the announcer
        log.warning("channel layer announce failed", exc_info=True)


_layer_loop_lock = threading.Lock()
_layer_loop_instance: asyncio.AbstractEventLoop | None = None


def _layer_loop() -> asyncio.AbstractEventLoop:
    """The announcer's own event loop, on a daemon thread, kept for the process's life (the
    Redis layer keeps one connection pool per loop)."""
    global _layer_loop_instance
    with _layer_loop_lock:
        if _layer_loop_instance is None or _layer_loop_instance.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="fm-announce-layer", daemon=True).start()
            _layer_loop_instance = loop
        return _layer_loop_instance


def announce_status(execution_id: Any) -> None:
    """For status changes made outside the engine (a run queued by the API)."""
    summary = execution_summary(execution_id)
    layer = get_channel_layer()
    if summary is None or layer is None:
        return
    async_to_sync(layer.group_send)(
        relay.user_group(summary["owner"]), {"type": "execution.status", "execution": summary}
    )
