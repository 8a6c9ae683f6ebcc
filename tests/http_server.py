"""A real HTTP server on a thread, for tests whose nodes call out (HTTP node, trace export,
private-address checks, a slow call during a drain)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (test output stays readable) and answers in one call."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send(self, status: int, body: bytes, content_type: str = "application/json",
             extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `handler` on `host` at a free port; yields the base URL, shuts down after."""
    server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class CountingURL(str):
    """A counting server's base URL (a str: tests join paths to it) with `hits`, the paths
    of the GETs it answered, in order: "the node did not run" is what the server saw."""

    hits: list[str]


@contextmanager
def counting_server(answer: Callable[[str], Any], host: str = "127.0.0.1") -> Iterator[CountingURL]:
    """Serve GETs that answer `answer(path)` as JSON (200), counting them in `.hits`."""
    hits: list[str] = []
    lock = threading.Lock()  # the server answers on a thread per request

    class Counting(QuietHandler):
        def do_GET(self) -> None:
            with lock:
                hits.append(self.path)
            self.send(200, json.dumps(answer(self.path)).encode())

    with serving(Counting, host) as url:
        counted = CountingURL(url)
        counted.hits = hits
        yield counted
