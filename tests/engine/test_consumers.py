"""The live execution stream (SPEC §8) through Channels' `WebsocketCommunicator`.

Events are written to the store the way the engine writes them (rows first, then an
announcement on the channel layer), so each test controls exactly what is stored and what
is announced: replay then live order, duplicates dropped, lost announcements repaired from
the store, reconnection with `afterSeq`, the store followed without any announcement (an
engine in another process with no Redis), owners only, foreign origins refused. The last
tests run real workflows through the real engine.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.utils import timezone

from editor.models import Workflow
from engine.live import consumers
from engine.live.routing import websocket_urlpatterns
from engine.models import Event, Execution
from tests.daphne import running_daphne
from tests.engine.definitions import fan_out

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = b"http://localhost:8000"
# The same composition as flowmaestro.asgi's "websocket" route (importing that module would
# start an engine in the test process).
APPLICATION = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))

FAN_OUT: dict[str, Any] = fan_out(150)


# --- helpers ------------------------------------------------------------------------------------


def session_cookie(user: AbstractUser) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


# How long a test waits for a handshake or a frame it expects, as a browser would: a bound
# for a stream that is stuck, not a speed requirement. Channels' default of 1 s is a
# deadline a loaded 2-core machine misses (the handshake reads the session from the
# database on a worker thread), which failed tests now and then under load.
WAIT_S = 30.0


class Communicator(WebsocketCommunicator):
    """`WebsocketCommunicator` that waits `WAIT_S` for what a test expects unless told
    otherwise; `receive_nothing`, which asserts an absence, keeps its own short wait."""

    async def connect(self, timeout: float = WAIT_S) -> Any:
        return await super().connect(timeout)

    async def receive_output(self, timeout: float = WAIT_S) -> Any:
        return await super().receive_output(timeout)

    async def receive_from(self, timeout: float = WAIT_S) -> Any:
        return await super().receive_from(timeout)

    async def receive_json_from(self, timeout: float = WAIT_S) -> Any:
        return await super().receive_json_from(timeout)


def communicator(path: str, cookie: bytes | None, origin: bytes = ORIGIN) -> Communicator:
    headers = [(b"origin", origin), (b"host", b"localhost:8000")]
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return Communicator(APPLICATION, path, headers=headers)


def running_execution(workflow: Workflow, owner: AbstractUser) -> Execution:
    """A running execution that no engine will take over: its heartbeat is in the future, so
    an engine started by another test in this process never sees it as orphaned."""
    version = workflow.current_version()
    assert version is not None
    return Execution.objects.create(
        workflow=workflow, version=version, owner=owner, status="running", trace_id="trace-a1b2c3",
        started_at=timezone.now(), engine_id="test-no-engine", heartbeat_at=timezone.now() + timedelta(days=1),
    )


def store_events(execution: Execution, count: int, *, type: str = "log", padding: int = 0) -> list[dict[str, Any]]:
    """Append `count` events after the execution's last seq, as the engine does; returns
    them in wire shape. `padding` makes each event's data that many bytes bigger."""
    last_seq = Execution.objects.values_list("last_seq", flat=True).get(pk=execution.pk)
    rows = [
        Event(
            execution=execution, seq=seq, type=type, ts=timezone.now(), node_id="work", node_run_id=f"run{seq}",
            branch_id="main", branch_name="main", trace_id=execution.trace_id, attempt=1, status="running",
            data={"message": f"line {seq}", **({"padding": "x" * padding} if padding else {})},
        )
        for seq in range(last_seq + 1, last_seq + 1 + count)
    ]
    Event.objects.bulk_create(rows)
    Execution.objects.filter(pk=execution.pk).update(last_seq=last_seq + count)
    return [row.as_message() for row in rows]


def finish(execution: Execution, status: str = "succeeded") -> dict[str, Any]:
    (event,) = store_events(execution, 1, type=f"execution.{status}")
    Execution.objects.filter(pk=execution.pk).update(status=status, finished_at=timezone.now())
    return event


astore_events = database_sync_to_async(store_events)
afinish = database_sync_to_async(finish)


async def announce(execution_id: int, events: list[dict[str, Any]]) -> None:
    """What `engine.live.announce` sends after a commit."""
    await get_channel_layer().group_send(f"execution.{execution_id}", {"type": "execution.events", "events": events})


async def receive_seqs(comm: WebsocketCommunicator, count: int, timeout: float = WAIT_S) -> list[int]:
    seqs = []
    for _ in range(count):
        message = await comm.receive_json_from(timeout=timeout)
        seqs.append(message["seq"])
    return seqs


async def close_code(comm: WebsocketCommunicator) -> tuple[dict[str, Any], int]:
    """The refusal message and close code of a stream that was refused after the handshake."""
    connected, _ = await comm.connect()
    assert connected
    message = await comm.receive_json_from()
    closing = await comm.receive_output()
    assert closing["type"] == "websocket.close"
    return message, closing["code"]


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> Iterator[None]:
    # The in-memory layer keeps asyncio queues; each test has its own event loop.
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def workflow(make_workflow: Any) -> Workflow:
    return make_workflow()


@pytest.fixture
def execution(workflow: Workflow, alice: AbstractUser) -> Execution:
    return running_execution(workflow, alice)


@pytest.fixture
def alice_cookie(alice: AbstractUser) -> bytes:
    return session_cookie(alice)


@pytest.fixture
def bob_cookie(bob: AbstractUser) -> bytes:
    return session_cookie(bob)


@pytest.fixture
def staff_cookie(staff: AbstractUser) -> bytes:
    return session_cookie(staff)


# --- one execution's stream ---------------------------------------------------------------------


async def test_replays_stored_events_then_streams_live_ones_in_order(execution: Execution, alice_cookie: bytes):
    await astore_events(execution, 3)
    comm = communicator(f"/ws/executions/{execution.pk}/?afterSeq=0", alice_cookie)
    connected, _ = await comm.connect()
    assert connected
    first = await comm.receive_json_from()
    assert first["executionId"] == execution.pk
    assert first["traceId"] == "trace-a1b2c3"
    assert set(first) >= {"seq", "type", "ts", "nodeId", "nodeRunId", "branchId", "branchName", "attempt",
                          "iteration", "status", "data"}
    assert [first["seq"], *await receive_seqs(comm, 2)] == [1, 2, 3]

    live = await astore_events(execution, 2)
    await announce(execution.pk, live)
    assert await receive_seqs(comm, 2) == [4, 5]

    # An announcement of events already sent (a replay overlapping a live batch) is dropped.
    await announce(execution.pk, live)
    assert await comm.receive_nothing(timeout=0.4)

    # Announcements lost to the channel layer's capacity: a batch that starts past the last
    # sent seq is preceded by the missing events, read from the store.
    lost_and_found = await astore_events(execution, 4)
    await announce(execution.pk, lost_and_found[-1:])
    assert await receive_seqs(comm, 4) == [6, 7, 8, 9]
    await comm.disconnect()


async def test_replay_starts_after_the_given_seq(execution: Execution, alice_cookie: bytes):
    await astore_events(execution, 5)
    comm = communicator(f"/ws/executions/{execution.pk}/?afterSeq=3", alice_cookie)
    await comm.connect()
    assert await receive_seqs(comm, 2) == [4, 5]
    assert await comm.receive_nothing(timeout=0.4)
    await comm.disconnect()


async def test_reconnecting_with_after_seq_leaves_no_gap_and_no_duplicate(execution: Execution, alice_cookie: bytes):
    received: list[int] = []
    await astore_events(execution, 3)
    comm = communicator(f"/ws/executions/{execution.pk}/", alice_cookie)
    await comm.connect()
    received += await receive_seqs(comm, 3)
    await comm.disconnect()

    # While the client is away the run goes on; some of it is announced to nobody.
    gone = await astore_events(execution, 3)
    await announce(execution.pk, gone)

    comm = communicator(f"/ws/executions/{execution.pk}/?afterSeq={received[-1]}", alice_cookie)
    await comm.connect()
    received += await receive_seqs(comm, 3)
    live = await astore_events(execution, 2)
    await announce(execution.pk, live[:1])
    await announce(execution.pk, live)  # overlapping announcements
    received += await receive_seqs(comm, 2)
    assert await comm.receive_nothing(timeout=0.4)
    assert received == list(range(1, 9))
    await comm.disconnect()


async def test_follows_the_store_when_nothing_is_announced(
    execution: Execution, alice_cookie: bytes, monkeypatch: pytest.MonkeyPatch
):
    """An engine in another process with the in-memory layer announces nothing we can hear:
    the stream reads the store at its next poll, not after waiting for an announcement. The
    grace it gives a sure announcer is made longer than the test waits, so that waiting it
    out fails here however loaded the machine (it was a wall-time bound of 1.5 s)."""
    monkeypatch.setattr(consumers, "ANNOUNCED_GRACE_S", 2 * WAIT_S)
    comm = communicator(f"/ws/executions/{execution.pk}/", alice_cookie)
    await comm.connect()
    assert await comm.receive_nothing(timeout=0.3)
    await astore_events(execution, 2)
    assert await receive_seqs(comm, 2) == [1, 2]
    done = await afinish(execution)
    assert (await comm.receive_json_from())["type"] == done["type"] == "execution.succeeded"
    await comm.disconnect()


async def test_a_finished_execution_is_replayed_in_full(execution: Execution, alice_cookie: bytes):
    await astore_events(execution, 1200)  # more than one replay chunk
    await afinish(execution)
    comm = communicator(f"/ws/executions/{execution.pk}/", alice_cookie)
    await comm.connect()
    seqs = await receive_seqs(comm, 1201)
    assert seqs == list(range(1, 1202))
    assert await comm.receive_nothing(timeout=0.4)
    await comm.disconnect()


async def test_another_users_execution_looks_exactly_like_a_missing_one(execution: Execution, bob_cookie: bytes):
    # A different code or message would let bob probe which ids exist (issue 12): both take
    # the same one-query path and answer the same bytes.
    foreign = await close_code(communicator(f"/ws/executions/{execution.pk}/", bob_cookie))
    missing = await close_code(communicator(f"/ws/executions/{execution.pk + 1000}/", bob_cookie))
    assert foreign == missing == ({"type": "error", "code": 4404, "detail": "No such execution."}, 4404)


async def test_staff_may_watch_any_execution(execution: Execution, staff_cookie: bytes):
    await astore_events(execution, 2)
    comm = communicator(f"/ws/executions/{execution.pk}/", staff_cookie)
    await comm.connect()
    assert await receive_seqs(comm, 2) == [1, 2]
    await comm.disconnect()


async def test_anonymous_is_refused(execution: Execution):
    _, code = await close_code(communicator(f"/ws/executions/{execution.pk}/", None))
    assert code == 4401


async def test_an_unknown_execution_and_a_bad_after_seq_are_refused(execution: Execution, alice_cookie: bytes):
    _, code = await close_code(communicator("/ws/executions/987654/", alice_cookie))
    assert code == 4404
    _, code = await close_code(communicator(f"/ws/executions/{execution.pk}/?afterSeq=-1", alice_cookie))
    assert code == 4400
    _, code = await close_code(communicator(f"/ws/executions/{execution.pk}/?afterSeq=abc", alice_cookie))
    assert code == 4400
    # Digits int() takes but a person does not mean: Arabic-Indic 3, an underscore.
    for raw in ("%D9%A3", "1_0"):
        _, code = await close_code(communicator(f"/ws/executions/{execution.pk}/?afterSeq={raw}", alice_cookie))
        assert code == 4400, raw


async def test_a_foreign_origin_is_refused(execution: Execution, alice_cookie: bytes):
    comm = communicator(f"/ws/executions/{execution.pk}/", alice_cookie, origin=b"http://evil.example")
    connected, _ = await comm.connect()
    assert not connected
    comm = communicator("/ws/executions/", alice_cookie, origin=b"http://evil.example")
    connected, _ = await comm.connect()
    assert not connected


async def test_a_stalled_client_never_slows_the_announcer(execution: Execution, alice_cookie: bytes, settings: Any):
    """A channel that nobody reads fills up; announcing goes on at full speed (messages to
    the full channel are dropped) and the client, once back, is caught up from the store."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 10}}}
    channel_layers.backends.clear()
    layer = get_channel_layer()
    stalled = await layer.new_channel()
    await layer.group_add(f"execution.{execution.pk}", stalled)
    events = await astore_events(execution, 500)

    async def announce_all() -> None:
        for event in events:
            await announce(execution.pk, [event])

    # 500 sends take milliseconds; one that waited for the stalled reader would never return.
    # A bound this far from both tells them apart on any machine.
    await asyncio.wait_for(announce_all(), timeout=5)
    # ...because what the full channel could not take was dropped, not queued or retried.
    held = 0
    while True:
        try:
            await asyncio.wait_for(layer.receive(stalled), timeout=0.1)
        except TimeoutError:
            break
        held += 1
    assert held == 10

    comm = communicator(f"/ws/executions/{execution.pk}/", alice_cookie)
    await comm.connect()
    assert await receive_seqs(comm, 500) == list(range(1, 501))
    await comm.disconnect()


# --- the list of the user's executions ----------------------------------------------------------


async def test_list_stream_sends_status_changes_of_my_executions_only(
    workflow: Workflow, alice: AbstractUser, bob: AbstractUser, alice_cookie: bytes, make_workflow: Any
):
    mine = await database_sync_to_async(running_execution)(workflow, alice)
    bobs_workflow = await database_sync_to_async(make_workflow)(owner=bob, name="Bob's")
    theirs = await database_sync_to_async(running_execution)(bobs_workflow, bob)
    comm = communicator("/ws/executions/", alice_cookie)
    connected, _ = await comm.connect()
    assert connected

    # Announced by the engine (engine.live.announce.announce_batch).
    summary = {"id": mine.pk, "status": "paused", "workflow": workflow.pk, "workflowName": "Greeting",
               "traceId": mine.trace_id, "createdAt": mine.created_at.isoformat(),
               "startedAt": mine.started_at.isoformat() if mine.started_at else None, "finishedAt": None,
               "owner": alice.pk}
    await get_channel_layer().group_send(f"executions.user.{alice.pk}",
                                         {"type": "execution.status", "execution": summary})
    message = await comm.receive_json_from()
    assert message["type"] == "execution.status"
    assert message["execution"]["id"] == mine.pk
    assert message["execution"]["status"] == "paused"
    assert "owner" not in message["execution"]

    # Changed in the store with no announcement (an engine in another process): seen anyway.
    await afinish(mine)
    await afinish(theirs, "failed")
    message = await comm.receive_json_from()
    assert message["execution"]["id"] == mine.pk
    assert message["execution"]["status"] == "succeeded"
    assert message["execution"]["finishedAt"]
    assert await comm.receive_nothing(timeout=1.5)  # bob's execution never shows up
    await comm.disconnect()


async def test_a_run_ending_while_the_list_stream_subscribes_is_still_sent(
    workflow: Workflow, alice: AbstractUser, alice_cookie: bytes, monkeypatch: Any
):
    """Under load the subscription (a Redis round trip) can take a while. The handshake used
    to complete before it and before the snapshot of what the page already knows: a run that
    ended in that gap was in the snapshot as ended, so it was never sent, and a page that had
    loaded its list meanwhile showed the row "running" until reloaded (a browser test timed
    out on it under the full suite). Now the socket opens only once subscribed, so a run
    ending after the page sees it open is always sent."""
    mine = await database_sync_to_async(running_execution)(workflow, alice)
    layer = get_channel_layer()
    subscribe = layer.group_add

    async def slow_group_add(group: str, channel: str) -> None:
        await asyncio.sleep(0.5)
        await subscribe(group, channel)

    monkeypatch.setattr(layer, "group_add", slow_group_add)
    comm = communicator("/ws/executions/", alice_cookie)
    connected, _ = await comm.connect()
    assert connected
    await afinish(mine, "failed")  # in the store, no announcement: the poll must see it
    message = await comm.receive_json_from()
    assert (message["execution"]["id"], message["execution"]["status"]) == (mine.pk, "failed")
    await comm.disconnect()


async def test_list_stream_refuses_anonymous():
    _, code = await close_code(communicator("/ws/executions/", None))
    assert code == 4401


# --- the real engine ----------------------------------------------------------------------------------


async def test_a_real_fan_out_streams_every_event_in_order(make_workflow: Any, alice: AbstractUser, alice_cookie: bytes):
    from engine import services

    workflow = await database_sync_to_async(make_workflow)(name="Fan-out", definition=FAN_OUT)
    execution = await database_sync_to_async(services.execution_start)(workflow=workflow, user=alice, input={})
    comm = communicator(f"/ws/executions/{execution.pk}/", alice_cookie)
    await comm.connect()
    events = []
    while True:
        event = await comm.receive_json_from()
        events.append(event)
        if event["type"] in {"execution.succeeded", "execution.failed"}:
            break
    assert events[-1]["type"] == "execution.succeeded"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    succeeded = {e["nodeId"]: e for e in events if e["type"] == "node.succeeded"}
    assert set(succeeded) == {"start", "work_a", "work_b", "work_c", "merge"}
    assert {succeeded[f"work_{c}"]["branchName"] for c in "abc"} == {"branch_a", "branch_b", "branch_c"}
    assert succeeded["work_b"]["traceId"] == f"{execution.trace_id}-002"
    assert succeeded["work_b"]["branchId"] == "2"
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()


# --- a real daphne: stalled clients (issue 4) ---------------------------------------------------

# A client that answers no ping for this long is dropped (`make run` passes 10 and 20;
# shorter here so that the test takes seconds). The stalled client below is held for ~7 s:
# long enough that a watcher made to wait for it would be seen waiting, whatever the load.
PING_INTERVAL_S, PING_TIMEOUT_S = 1, 6
HELD_S = PING_INTERVAL_S + PING_TIMEOUT_S


@pytest.fixture
def daphne_server() -> Iterator[str]:
    """daphne with short ping settings and no engine (the test writes the events; the
    server follows the store)."""
    with running_daphne("--ping-interval", str(PING_INTERVAL_S), "--ping-timeout", str(PING_TIMEOUT_S)) as host:
        yield host


def open_raw_stream(host: str, path: str, cookie: bytes) -> tuple[socket.socket, bytes]:
    """A websocket handshake by hand, so that the test decides when (and whether) the client
    reads; returns the socket and the bytes already read past the handshake."""
    sock = socket.create_connection(tuple(host.split(":")), timeout=5)  # type: ignore[arg-type]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window fills fast
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}\r\n"
        f"Cookie: {cookie.decode()}\r\n\r\n".encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, rest = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock, rest


def parse_text_frames(data: bytes) -> tuple[list[dict[str, Any]], bytes]:
    """Complete unmasked server text frames at the start of `data`, decoded as JSON events.
    Pings are skipped (not answered): on a slow machine the server's first ping (after
    PING_INTERVAL_S) can come before the replay does."""
    events = []
    while len(data) >= 2:
        first, second = data[0], data[1]
        assert first in (0x81, 0x89) and not second & 0x80, "one unmasked final text frame per event"
        size, offset = second & 0x7F, 2
        if size == 126:
            if len(data) < 4:
                break
            (size,), offset = struct.unpack("!H", data[2:4]), 4
        elif size == 127:
            if len(data) < 10:
                break
            (size,), offset = struct.unpack("!Q", data[2:10]), 10
        if len(data) < offset + size:
            break
        if first == 0x81:
            events.append(json.loads(data[offset:offset + size]))
        data = data[offset + size:]
    return events, data


def test_a_stalled_client_is_dropped_without_delaying_others_and_resumes_with_after_seq(
    daphne_server: str, execution: Execution, alice_cookie: bytes
):
    from websockets.sync.client import connect

    path = f"/ws/executions/{execution.pk}/"
    store_events(execution, 20)

    # The stalled client reads what is there now, then stops reading (and so never answers
    # a ping): a browser tab frozen by the debugger, a phone that lost its radio.
    stalled, pending = open_raw_stream(daphne_server, path + "?afterSeq=0", alice_cookie)
    seen: list[dict[str, Any]] = []
    while len(seen) < 20:
        events, pending = parse_text_frames(pending)
        seen += events
        if len(seen) < 20:
            pending += stalled.recv(65536)
    stalled_at = time.monotonic()
    last_seen = seen[-1]["seq"]
    assert [e["seq"] for e in seen] == list(range(1, 21))

    headers = {"Cookie": alice_cookie.decode()}
    with connect(f"ws://{daphne_server}{path}", additional_headers=headers, origin=f"http://{daphne_server}",
                 max_size=2**24) as watcher:
        received = [json.loads(watcher.recv(timeout=5))["seq"] for _ in range(20)]
        # The run goes on: 2,400 events of ~2 KB (5 MB), far more than the stalled
        # client's socket holds. The watching client gets every chunk as it is written.
        delays = []
        for _ in range(24):
            written = store_events(execution, 100, padding=2000)
            started = time.monotonic()
            while received[-1] < written[-1]["seq"]:
                received.append(json.loads(watcher.recv(timeout=HELD_S + 5))["seq"])
            delays.append(time.monotonic() - started)
            time.sleep(0.2)
        assert received == list(range(1, 2421))
        # The store is followed every 0.25 s here (no engine in the server), so a chunk
        # normally arrives within a fraction of a second. A watcher held up by the stalled
        # client would wait until that one is dropped (~HELD_S); half of that tells the two
        # apart on a loaded machine too.
        assert max(delays) < HELD_S / 2, delays

    # The server gave up on the stalled client: reading now finds the connection closed
    # (after whatever was already in flight), not an endless backlog of 5 MB.
    closed_after = None
    stalled.settimeout(1)
    while time.monotonic() - stalled_at < HELD_S + 20:
        try:
            chunk = stalled.recv(1 << 20)
        except ConnectionResetError:
            chunk = b""
        except TimeoutError:
            continue
        if not chunk:
            closed_after = time.monotonic() - stalled_at
            break
    stalled.close()
    assert closed_after is not None, "the stalled client was never disconnected"

    # It comes back where it stopped: no gap, no duplicate.
    with connect(f"ws://{daphne_server}{path}?afterSeq={last_seen}", additional_headers=headers,
                 origin=f"http://{daphne_server}", max_size=2**24) as resumed:
        seqs = [json.loads(resumed.recv(timeout=5))["seq"] for _ in range(2420 - last_seen)]
    assert seqs == list(range(last_seen + 1, 2421))


def test_prebuilt_frames_are_the_frames_a_client_expects_at_every_length_encoding():
    from engine.live.frames import text_frame

    for text in ['{"seq": 1}', json.dumps({"seq": 2, "data": "é" * 200}), json.dumps({"seq": 3, "data": "x" * 70_000})]:
        events, rest = parse_text_frames(text_frame(text) * 2)
        assert events == [json.loads(text)] * 2
        assert rest == b""


def test_the_daphne_frame_patch_is_installed_by_the_asgi_entry_point_not_by_importing_consumers(tmp_path):
    """Importing the consumers (a management command, a test) leaves daphne as it is; the
    ASGI entry point, where daphne is the server, teaches it the frames message."""
    script = (
        "import django; django.setup()\n"
        "from daphne.ws_protocol import WebSocketProtocol\n"
        "import engine.live.consumers, engine.live.routing\n"
        "print(WebSocketProtocol.handle_reply.__name__)\n"
        "import flowmaestro.asgi\n"
        "print(WebSocketProtocol.handle_reply.__name__)\n"
    )
    # A database the entry point can reach (it refuses to start otherwise): in the PostgreSQL
    # pass DATABASE_URL names a database pytest-django never creates (it makes test_…).
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "FLOWMAESTRO_ENGINE_IN_PROCESS": "false",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["handle_reply", "handle_reply_with_frames"]
