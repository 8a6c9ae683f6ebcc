"""The http node keeps its connections open between node runs on a thread (HTTP/1.1
keep-alive), without carrying anything else from one run to the next."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from engine.nodes.base import EngineOptions, NodeCancelled
from engine.nodes.http import HttpNode
from tests.http_server import QuietHandler, serving

ALLOW = EngineOptions(http_allow_private=True)


class _KeepAliveHandler(QuietHandler):
    protocol_version = "HTTP/1.1"  # keeps the connection open between requests
    connections: list[tuple[str, int]] = []

    def setup(self) -> None:
        super().setup()
        type(self).connections.append(self.client_address)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/slow":
            time.sleep(float(parse_qs(url.query)["seconds"][0]))
        extra = {"Set-Cookie": "session=run-one; Path=/"} if url.path == "/login" else None
        self.send(200, f'{{"cookie": "{self.headers.get("Cookie") or ""}"}}'.encode(), extra=extra)


@pytest.fixture
def keepalive_server() -> Iterator[tuple[str, list[tuple[str, int]]]]:
    _KeepAliveHandler.connections = []
    with serving(_KeepAliveHandler) as url:
        yield url, _KeepAliveHandler.connections


def _run(node_context: Any, url: str) -> Any:
    return HttpNode().run(node_context("http", {"url": url}, options=ALLOW))


def test_node_runs_on_one_thread_reuse_one_connection(node_context, keepalive_server):
    url, connections = keepalive_server
    for _ in range(5):
        assert _run(node_context, f"{url}/json")["status"] == 200
    assert len(connections) == 1


def test_cookies_do_not_carry_over_to_the_next_node_run(node_context, keepalive_server):
    url, _ = keepalive_server
    assert _run(node_context, f"{url}/login")["headers"]["set-cookie"].startswith("session=")
    assert _run(node_context, f"{url}/json")["body"] == {"cookie": ""}


def test_a_late_cancel_of_an_ended_run_does_not_touch_the_next_one(node_context, keepalive_server):
    url, _ = keepalive_server
    first = node_context("http", {"url": f"{url}/json"}, options=ALLOW)
    HttpNode().run(first)
    # The execution of the first run is cancelled while the thread runs another node.
    threading.Timer(0.1, first.cancel).start()
    assert _run(node_context, f"{url}/slow?seconds=0.4")["status"] == 200


def test_after_a_cancelled_run_the_next_one_gets_a_fresh_connection(node_context, keepalive_server):
    url, connections = keepalive_server
    assert _run(node_context, f"{url}/json")["status"] == 200
    ctx = node_context("http", {"url": f"{url}/slow?seconds=5"}, options=ALLOW)
    threading.Timer(0.2, ctx.cancel).start()
    with pytest.raises(NodeCancelled):
        HttpNode().run(ctx)
    assert _run(node_context, f"{url}/json")["status"] == 200
    assert len(connections) == 2


def test_bodies_one_worker_slot_runs_one_after_another_reuse_one_connection(node_context, keepalive_server):
    # A Celery worker runs each body on a thread of LocalBodies (so that its warm shutdown
    # can give bodies back): one slot's bodies must share that thread, or each body opens a
    # new connection (and a fan-out of 10 ms calls pays a TCP handshake per call).
    from engine.tasks import LocalBodies

    url, connections = keepalive_server
    bodies = LocalBodies()

    def one_slot(slot: int) -> None:
        for i in range(5):
            assert bodies.run(f"{slot}-{i}", "engine-a", "lease-a",
                              lambda: _run(node_context, f"{url}/json")["status"] == 200) is True

    slots = [threading.Thread(target=one_slot, args=(slot,)) for slot in range(2)]
    for slot in slots:
        slot.start()
    for slot in slots:
        slot.join(30)
    assert len(connections) == 2  # one per slot, kept from each body to the next
