"""Who hears a committed batch (`engine.live.announce.has_listeners`): the engine's writer skips
waking the announcer when, with the in-memory layer, nobody in this process listens."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.layers import get_channel_layer

from engine.core.persistence import Batch
from engine.live import relay
from engine.live.announce import has_listeners


def batch(execution_id: int, *, status: str | None = None, owner: int | None = 7) -> Batch:
    b = Batch()
    b.events.append({"execution_id": execution_id, "seq": 1, "type": "node.started"})
    if status is not None:
        b.executions[execution_id] = {"status": status}
        if owner is not None:
            b.owners[execution_id] = owner
    return b


class Watcher:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def push(self, batch: Any) -> None:
        pass


def test_nobody_listening_means_no_announcement_and_any_listener_means_one() -> None:
    layer = get_channel_layer()
    assert not has_listeners(batch(90001))  # unwatched, no status change
    assert not has_listeners(batch(90001, status="running"))  # nobody lists user 7's executions

    loop = asyncio.new_event_loop()
    watcher = Watcher(loop)
    relay.subscribe(90001, watcher)
    try:
        assert has_listeners(batch(90001))  # a websocket watches this execution
        assert not has_listeners(batch(90002))
    finally:
        relay.unsubscribe(90001, watcher)
        loop.close()

    async def list_user_7() -> str:
        channel = await layer.new_channel()
        await layer.group_add(relay.user_group(7), channel)
        return channel

    channel = asyncio.run(list_user_7())
    try:
        assert has_listeners(batch(90003, status="succeeded"))  # the executions list of user 7
        b = batch(90003, status="succeeded")
        b.owners[90003] = 8
        assert not has_listeners(b)  # user 8's list is not open here
    finally:
        asyncio.run(layer.group_discard(relay.user_group(7), channel))
    assert has_listeners(batch(90004, status="running", owner=None))  # owner unknown: announce
