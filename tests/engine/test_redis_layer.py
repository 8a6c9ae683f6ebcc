"""The stream over the Redis channel layer (`REDIS_URL` set), against a real redis-server
started here on a free port and stopped afterwards.

With the consumer's store polling switched off, every event the client receives has
crossed Redis: first from an announcer thread in this process (the in-process engine's
path), then from a `manage.py runengine` process (the scale-out deployment).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from django.contrib.auth.models import AbstractUser

from engine.live import consumers
from engine.models import Execution
from engine.runtime import stop_engine
from flowmaestro.settings import redis_channel_layers
from tests.engine.test_consumers import (
    FAN_OUT,
    communicator,
    receive_seqs,
    running_execution,
    session_cookie,
    store_events,
)
from tests.pg import current_database_url
from tests.redis import running_redis
from tests.threads import db_thread

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with running_redis() as url:
        yield url


@pytest.fixture
def redis_layer(redis_url: str, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    settings.CHANNEL_LAYERS = redis_channel_layers(redis_url)  # the deployment's own configuration
    channel_layers.backends.clear()
    # Only live messages count here: the store is not followed.
    monkeypatch.setattr(consumers, "POLL_INTERVAL_S", 60.0)
    yield redis_url
    channel_layers.backends.clear()


async def test_events_announced_from_another_thread_arrive_through_redis(
    redis_layer: str, make_workflow: Any, alice: AbstractUser
):
    assert type(get_channel_layer()).__name__ == "RedisChannelLayer"
    workflow = await database_sync_to_async(make_workflow)()
    execution = await database_sync_to_async(running_execution)(workflow, alice)
    cookie = await database_sync_to_async(session_cookie)(alice)
    comm = communicator(f"/ws/executions/{execution.pk}/", cookie)
    connected, _ = await comm.connect()
    assert connected

    def engine_announcer() -> None:
        # The engine's announcer thread: its own event loop, its own Redis connection.
        events = store_events(execution, 3)
        async_to_sync(get_channel_layer().group_send)(
            f"execution.{execution.pk}", {"type": "execution.events", "events": events}
        )

    thread = db_thread(engine_announcer)
    await database_sync_to_async(thread.start)()
    assert await receive_seqs(comm, 3) == [1, 2, 3]
    await database_sync_to_async(thread.join)()
    await comm.disconnect()


async def test_a_stream_with_nothing_to_receive_outlasts_the_layers_blocking_read(redis_layer: str):
    """channels-redis waits for a message with a blocking read of `brpop_timeout` seconds;
    the connection must wait longer than that for Redis' empty answer. At redis-py 8's
    default socket timeout (5 s, the same as the blocking read) a loaded machine gave up on
    its own read of an idle stream: the consumer got redis' TimeoutError and closed the
    stream (test_a_separate_engine_process_streams_through_redis, waiting for the engine
    process to start, did so now and then). Here the blocking read is made longer than
    that default, so the old configuration fails every time."""
    import asyncio

    layer = get_channel_layer()
    layer.brpop_timeout = 6  # past redis-py's default socket timeout of 5 s
    channel = await layer.new_channel()
    with pytest.raises(TimeoutError) as waited:  # asyncio's, from wait_for: no message came
        await asyncio.wait_for(layer.receive(channel), timeout=8)
    assert type(waited.value) is TimeoutError
    await layer.flush()


def test_a_separate_engine_process_streams_through_redis(
    redis_layer: str, make_workflow: Any, alice: AbstractUser, settings: Any
):
    from engine import services

    settings.FLOWMAESTRO_ENGINE_IN_PROCESS = False
    stop_engine(1)  # no engine in this process: the runengine process below does the work
    workflow = make_workflow(name="Fan-out", definition=FAN_OUT)
    cookie = session_cookie(alice)
    execution = services.execution_start(workflow=workflow, user=alice, input={})
    env = {**os.environ, "DATABASE_URL": current_database_url(), "REDIS_URL": redis_layer,
           "FLOWMAESTRO_POLL_INTERVAL": "0.1", "DJANGO_SETTINGS_MODULE": "flowmaestro.settings"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    async def watch() -> list[dict[str, Any]]:
        comm = communicator(f"/ws/executions/{execution.pk}/", cookie)
        connected, _ = await comm.connect()
        assert connected
        received = [await comm.receive_json_from()]  # execution.queued, replayed from the store
        engine = subprocess.Popen([sys.executable, "manage.py", "runengine", "--grace", "1"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            while received[-1]["type"] not in {"execution.succeeded", "execution.failed"}:
                received.append(await comm.receive_json_from())
        finally:
            engine.terminate()
            engine.wait(timeout=15)
        await comm.disconnect()
        return received

    received = async_to_sync(watch)()
    assert received[-1]["type"] == "execution.succeeded"
    assert [e["seq"] for e in received] == list(range(1, len(received) + 1))
    assert {e["nodeId"] for e in received if e["type"] == "node.succeeded"} == {
        "start", "work_a", "work_b", "work_c", "merge"
    }
    assert Execution.objects.get(pk=execution.pk).status == "succeeded"


def test_a_batch_nobody_listens_to_costs_no_query_and_no_send_and_listeners_still_hear_it(
    redis_layer: str, make_workflow: Any, alice: AbstractUser, monkeypatch: pytest.MonkeyPatch
):
    """A worker's engine announces on Redis; most runs have nobody watching. Such a batch
    costs one look at the groups' members: no summary query, no group_send. Whoever joins
    the execution's group or the owner's list hears the next batch."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from engine.core.persistence import Batch
    from engine.live import announce, relay

    execution = running_execution(make_workflow(), alice)

    def batch() -> Batch:
        event = {"execution_id": execution.pk, "seq": 2, "type": "node.started", "ts": timezone.now(),
                 "node_id": "a", "node_run_id": "r1", "branch_id": "", "branch_name": "", "trace_id": "t",
                 "attempt": 1, "iteration": None, "status": "running", "data": None}
        return Batch(events=[event], executions={execution.pk: {"status": "running"}}, owners={execution.pk: alice.pk})

    sent: list[list[tuple[str, dict[str, Any]]]] = []
    monkeypatch.setattr(announce, "_send_on_layer", lambda layer, messages: sent.append(messages))

    def announced() -> tuple[list[str], int]:
        sent.clear()
        with CaptureQueriesContext(connection) as queries:
            announce.announce_batch(batch())
        return [group for messages in sent for group, _ in messages], len(queries.captured_queries)

    assert announced() == ([], 0)

    layer = get_channel_layer()

    async def join(group: str) -> str:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        return channel

    async def leave(group: str, channel: str) -> None:
        await layer.group_discard(group, channel)

    listing = async_to_sync(join)(relay.user_group(alice.pk))  # alice's executions list is open somewhere
    assert announced() == ([relay.user_group(alice.pk)], 1)  # the status change, its summary read once
    watching = async_to_sync(join)(relay.execution_group(execution.pk))  # …and this execution's timeline
    assert announced() == ([relay.execution_group(execution.pk), relay.user_group(alice.pk)], 1)
    async_to_sync(leave)(relay.user_group(alice.pk), listing)
    async_to_sync(leave)(relay.execution_group(execution.pk), watching)
    assert announced() == ([], 0)
