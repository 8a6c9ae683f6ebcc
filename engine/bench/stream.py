"""The `stream` benchmark (SPEC §9): events per second delivered to 10 websocket clients
while a `chain` runs on a daphne server, and the p99 latency from an event's creation in
the engine (its `ts`) to its arrival at a client (when its bytes come off the client's socket).

The workflow opens with a 1 s `delay` so that every client is connected and subscribed
before the chain starts: only live events are timed (a replayed event's latency would
measure how late the client came, not the stream). Clients are websocket clients (a lean
RFC 6455 reader, see `_client`) with a logged-in session cookie and the server's origin, so
the path is the one browsers take: daphne, the auth middleware, the consumer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.base_user import AbstractBaseUser
from django.test import override_settings

from engine.bench.workloads import chain_definition, metric

CLIENTS = 10
WARM_UP_MS = 1000


def stream_definition(nodes: int) -> dict[str, Any]:
    definition = chain_definition(nodes)
    definition["name"] = f"bench stream {nodes}"
    # start → warm-up delay → n0 … : re-point the first chain edge at the delay.
    definition["nodes"].insert(1, {"id": "warmup", "type": "delay", "config": {"duration": WARM_UP_MS}})
    definition["edges"][0] = {"id": "e0", "source": "warmup", "target": "n0"}
    definition["edges"].insert(0, {"id": "w", "source": "start", "target": "warmup"})
    return definition


def _session_cookie(user: AbstractBaseUser) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
FINAL_TYPES = {"execution.succeeded", "execution.failed", "execution.cancelled", "execution.timed_out"}


async def _open(url: str, cookie: str, origin: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The websocket opening handshake (RFC 6455 §4), checked like any client checks it."""
    parsed = urlsplit(url)
    reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port)
    key = base64.b64encode(os.urandom(16))
    target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: {parsed.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n"
        f"Cookie: {cookie}\r\n\r\n".encode()
    )
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
    headers = {name.strip().lower(): value.strip() for name, _, value in
               (line.partition(":") for line in head.split("\r\n")[1:] if line)}
    if not head.startswith("HTTP/1.1 101") or headers.get("sec-websocket-accept") != accept:
        raise RuntimeError(f"stream: handshake refused: {head.splitlines()[0]}")
    return reader, writer


async def _client(url: str, cookie: str, origin: str, connected: asyncio.Event, received: list[tuple[float, bytes]],
                  ready: list[float]) -> None:
    """One watching client. It timestamps bytes when they come off the socket, so the figure
    is the stream's latency rather than the backlog of a Python client decoding 30,000
    frames on the same 2 cores as the server (a general websocket library spent ~40 µs a
    frame here, 1.2 s of client CPU; decoding each JSON event as it came, ~8 µs a frame,
    still delayed the other nine clients' reads by ~0.2 s). So while the stream runs it
    only splits frames and decodes the few that may end it; every frame is checked
    (`_check`) once all clients are done: checking 3,000 frames takes ~12 ms, and done here
    it held back the reads of the clients still waiting for the last batch (they were
    timed 12, 24, … 108 ms late, the p99 of the whole run)."""
    reader, writer = await _open(url, cookie, origin)
    ready.append(time.time())
    connected.set()
    data = b""
    done = False
    try:
        while not done:
            chunk = await reader.read(1 << 20)
            now = time.time()
            if not chunk:
                raise RuntimeError(f"stream: closed by the server after {len(received)} frames")
            data += chunk
            offset = 0
            while len(data) - offset >= 2:
                first, second = data[offset], data[offset + 1]
                size, start = second & 0x7F, offset + 2
                if size == 126:
                    size, start = int.from_bytes(data[start:start + 2], "big"), start + 2
                elif size == 127:
                    size, start = int.from_bytes(data[start:start + 8], "big"), start + 8
                if start > len(data) or len(data) < start + size:
                    break  # the rest of this frame is still on its way
                payload, offset = data[start:start + size], start + size
                if second & 0x80 or first & 0x70:
                    raise RuntimeError("stream: a server frame was masked or had reserved bits set")
                if first == 0x89:  # ping: answer (masked, as a client must), like any client
                    mask = os.urandom(4)
                    writer.write(bytes([0x8A, 0x80 | size]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
                    continue
                if first != 0x81:
                    raise RuntimeError(f"stream: expected one final text frame per event, got opcode {first:#x}")
                received.append((now, payload))
                # Only an `execution.*` event can end the stream; any other text is decoded later.
                if b'"execution.' in payload and json.loads(payload).get("type") in FINAL_TYPES:
                    done = True
            data = data[offset:]
    finally:
        writer.close()


Arrival = tuple[float, str, int, bool]  # received at, the event's ts, its seq, whether it is the chain's


def _check(received: list[tuple[float, bytes]], arrivals: list[Arrival]) -> None:
    """One unmasked, unfragmented text frame per event (checked while reading), each a JSON
    event, in seq order with no gap."""
    last_seq = 0
    for now, payload in received:
        event = json.loads(payload)
        if event.get("type") == "error":
            raise RuntimeError(f"stream refused: {event}")
        if event["seq"] != last_seq + 1:
            raise RuntimeError(f"stream gap or duplicate: {last_seq} then {event['seq']}")
        last_seq = event["seq"]
        chain = str(event.get("nodeId") or "").startswith("n") or event["type"] in FINAL_TYPES
        arrivals.append((now, event["ts"], event["seq"], chain))


async def _watch(base_url: str, execution_id: int, cookie: str) -> tuple[list[list[Arrival]], float]:
    ws_url = base_url.replace("http://", "ws://") + f"/ws/executions/{execution_id}/?afterSeq=0"
    received: list[list[tuple[float, bytes]]] = [[] for _ in range(CLIENTS)]
    ready: list[float] = []
    connected = asyncio.Event()
    tasks = [asyncio.create_task(_client(ws_url, cookie, base_url, connected, received[i], ready))
             for i in range(CLIENTS)]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
    arrivals: list[list[Arrival]] = [[] for _ in range(CLIENTS)]
    for frames, per_client in zip(received, arrivals, strict=True):
        _check(frames, per_client)
    return arrivals, max(ready)


def stream_scenario(base_url: str, user: Any, nodes: int) -> list[dict[str, Any]]:
    from editor.models import Workflow, WorkflowVersion
    from engine import services
    from engine.models import Execution

    definition = stream_definition(nodes)
    workflow = Workflow.objects.create(owner=user, name=definition["name"], definition=definition, version=1)
    WorkflowVersion.objects.create(workflow=workflow, number=1, definition=definition)
    cookie = _session_cookie(user)
    # The server's engine claims the queued execution; the warm-up delay gives the clients
    # time to connect before the chain starts. Queued with the in-process engine switched
    # off here: `execution_start` would otherwise wake (start) an engine in this process,
    # which would run the chain itself and leave daphne only following the store, which
    # is the out-of-process case and not the one this scenario measures.
    with override_settings(FLOWMAESTRO_ENGINE_IN_PROCESS=False):
        execution = services.execution_start(workflow=workflow, user=user, input={})
    arrivals, all_connected = asyncio.run(_watch(base_url, execution.pk, cookie))
    execution = Execution.objects.get(pk=execution.pk)
    if execution.status != "succeeded":
        raise RuntimeError(f"stream: execution {execution.pk} {execution.status}")
    if f":{os.getpid()}:" in execution.engine_id:
        raise RuntimeError(f"stream: execution {execution.pk} ran in the bench process, not in daphne")

    latencies: list[float] = []
    delivered = 0
    first = last = 0.0
    for per_client in arrivals:
        for received, ts, _seq, chain in per_client:
            created = datetime.fromisoformat(ts).timestamp()
            if created < all_connected:
                continue  # replayed to a client that connected after it happened
            latencies.append((received - created) * 1000)
            if chain:
                # The rate is the chain's: counting the warm-up's own events (when the
                # clients connected before it began) stretched the window by its 1 s.
                delivered += 1
                first = created if not first else min(first, created)
                last = max(last, received)
    if not latencies:
        raise RuntimeError("stream: no live events arrived")
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    window = max(last - first, 1e-6)
    return [
        metric("stream", "events_per_s", delivered / window, "1/s", clients=CLIENTS, events=delivered,
               window_s=round(window, 3)),
        metric("stream", "p99_latency", p99, "ms", median_ms=round(latencies[len(latencies) // 2], 2)),
    ]
