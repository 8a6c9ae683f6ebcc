"""Node types are tested with a hand-made NodeContext: no engine, no database."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from engine.nodes import get_node_type
from engine.nodes.base import EngineOptions, NodeContext, NodeType
from tests.http_server import QuietHandler, serving


def make_context(node_type: str, config: dict[str, Any] | None = None, **fields: Any) -> NodeContext:
    logs: list[str] = fields.pop("logs", [])
    options = fields.pop("options", EngineOptions())
    return NodeContext(
        node_id=fields.pop("node_id", node_type),
        name=fields.pop("name", node_type.title()),
        type=node_type,
        config=config or {},
        input=fields.pop("input", None),
        execution_id=fields.pop("execution_id", 1),
        trace_id=fields.pop("trace_id", "trace-abc123"),
        branch_id=fields.pop("branch_id", "main"),
        branch_name=fields.pop("branch_name", "main"),
        options=options,
        log_sink=logs.append,
        **fields,
    )


def node(node_type: str) -> NodeType:
    cls = get_node_type(node_type)
    assert cls is not None, f"node type {node_type} is not registered"
    return cls()


@pytest.fixture
def run_node() -> Callable[..., tuple[Any, list[str]]]:
    """run_node(type, config, input=..., ...) -> (result, log lines)."""

    def run(node_type: str, config: dict[str, Any] | None = None, **fields: Any) -> tuple[Any, list[str]]:
        logs: list[str] = []
        ctx = make_context(node_type, config, logs=logs, **fields)
        return node(node_type).run(ctx), logs

    return run


@pytest.fixture
def node_context() -> Callable[..., NodeContext]:
    """node_context(type, config, **fields) -> NodeContext, for tests that need the context."""
    return make_context


class _Handler(QuietHandler):
    """Routes: /json, /text, /status/NNN, /slow?seconds=S, /drip, /redirect?to=PATH, /echo,
    /raw?body=TEXT."""

    def _route(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path == "/json":
            self.send(200, json.dumps({"users": [{"id": 1}, {"id": 2}]}).encode(), "application/json; charset=utf-8")
        elif url.path == "/problem":
            self.send(422, json.dumps({"error": "invalid"}).encode(), "application/problem+json")
        elif url.path == "/text":
            self.send(200, "héllo".encode(), "text/plain; charset=utf-8")
        elif url.path.startswith("/status/"):
            status = int(url.path.rsplit("/", 1)[1])
            self.send(status, f"status {status}".encode(), "text/plain")
        elif url.path == "/slow":
            time.sleep(float(query.get("seconds", ["5"])[0]))
            self.send(200, b"late", "text/plain")
        elif url.path == "/redirect":
            self.send(302, b"", "text/plain", {"Location": query["to"][0]})
        elif url.path == "/raw":  # the body exactly as given, as JSON (e.g. `NaN`, not JSON at all)
            self.send(200, query["body"][0].encode(), "application/json")
        elif url.path == "/echo":
            payload = {
                "method": self.command,
                "query": {k: v if len(v) > 1 else v[0] for k, v in query.items()},
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode(),
            }
            self.send(200, json.dumps(payload).encode(), "application/json")
        else:
            self.send(404, b"not found", "text/plain")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _route


@pytest.fixture
def local_http_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 in a thread; yields its base URL."""
    with serving(_Handler) as url:
        yield url
