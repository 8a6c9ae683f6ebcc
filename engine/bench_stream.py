"""The `stream` benchmark (SPEC §9): events per second delivered to 10 websocket clients
while a `chain` runs on a daphne server, and the p99 latency from an event's creation in
the engine (its `ts`) to its arrival at a client.

The workflow opens with a 1 s `delay` so that every client is connected and subscribed
before the chain starts: only live events are timed (a replayed event's latency would
measure how late the client came, not the stream). Clients are real websocket clients
(the `websockets` library) with a logged-in session cookie and the server's origin, so the
path is the one browsers take: daphne, the auth middleware, the consumer, the channel layer.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser

from engine.bench import chain_definition, metric

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


async def _client(url: str, cookie: str, origin: str, connected: asyncio.Event, arrivals: list[tuple[float, str, int]],
                  ready: list[float]) -> None:
    import websockets

    async with websockets.connect(url, additional_headers={"Cookie": cookie}, origin=origin,  # type: ignore[arg-type]
                                  max_size=2**24) as ws:
        ready.append(time.time())
        connected.set()
        last_seq = 0
        async for raw in ws:
            now = time.time()
            event = json.loads(raw)
            if event.get("type") == "error":
                raise RuntimeError(f"stream refused: {event}")
            if event["seq"] != last_seq + 1:
                raise RuntimeError(f"stream gap or duplicate: {last_seq} then {event['seq']}")
            last_seq = event["seq"]
            arrivals.append((now, event["ts"], event["seq"]))
            if event["type"].startswith("execution.") and event["type"] in {
                    "execution.succeeded", "execution.failed", "execution.cancelled", "execution.timed_out"}:
                return


async def _watch(base_url: str, execution_id: int, cookie: str) -> tuple[list[list[tuple[float, str, int]]], float]:
    ws_url = base_url.replace("http://", "ws://") + f"/ws/executions/{execution_id}/?afterSeq=0"
    arrivals: list[list[tuple[float, str, int]]] = [[] for _ in range(CLIENTS)]
    ready: list[float] = []
    connected = asyncio.Event()
    tasks = [asyncio.create_task(_client(ws_url, cookie, base_url, connected, arrivals[i], ready))
             for i in range(CLIENTS)]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
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
    # time to connect before the chain starts.
    execution = services.execution_start(workflow=workflow, user=user, input={})
    arrivals, all_connected = asyncio.run(_watch(base_url, execution.pk, cookie))
    execution = Execution.objects.get(pk=execution.pk)
    if execution.status != "succeeded":
        raise RuntimeError(f"stream: execution {execution.pk} {execution.status}")

    latencies: list[float] = []
    delivered = 0
    first = last = 0.0
    for per_client in arrivals:
        for received, ts, _seq in per_client:
            created = datetime.fromisoformat(ts).timestamp()
            if created < all_connected:
                continue  # replayed to a client that connected after it happened
            latencies.append((received - created) * 1000)
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
