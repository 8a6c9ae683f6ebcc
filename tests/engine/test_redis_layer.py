"""The stream over the Redis channel layer (`REDIS_URL` set), against a real redis-server
started here on a free port and stopped afterwards.

With the consumer's store polling switched off, every event the client receives has
crossed Redis: first from an announcer thread in this process (the in-process engine's
path), then from a `manage.py runengine` process (the scale-out deployment).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
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
from tests.engine.test_consumers import (
    FAN_OUT,
    communicator,
    receive_seqs,
    running_execution,
    session_cookie,
    store_events,
)
from tests.pg import current_database_url
from tests.threads import db_thread

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    binary = REDIS_SERVER if Path(REDIS_SERVER).exists() else shutil.which("redis-server")
    if binary is None:
        # Never skip: a missing redis-server is a broken machine (README names the apt package).
        pytest.fail("redis-server not found: install the `redis-server` apt package", pytrace=False)
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {port}", pytrace=False)
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_layer(redis_url: str, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url], "capacity": 5000}}
    }
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
    assert await receive_seqs(comm, 3, timeout=5) == [1, 2, 3]
    await database_sync_to_async(thread.join)()
    await comm.disconnect()


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
        received = [await comm.receive_json_from(timeout=5)]  # execution.queued, replayed from the store
        engine = subprocess.Popen([sys.executable, "manage.py", "runengine", "--grace", "1"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            while received[-1]["type"] not in {"execution.succeeded", "execution.failed"}:
                received.append(await comm.receive_json_from(timeout=20))
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
