"""`http`: a real HTTP request with httpx; output `{status, headers, body}`.

Server-side request forgery is the risk here: a workflow author could point a request at
the machine's loopback services, the private network or a cloud metadata endpoint
(169.254.169.254). So every *connection* — the first request and each redirect hop — goes
through `_GuardedBackend.connect_tcp`, which resolves the host itself, refuses it if any
address is not public (unless `ctx.options.http_allow_private`), and connects to exactly
the address it checked (no second DNS lookup that a rebinding DNS server could answer
differently). Proxies from the environment are ignored for the same reason.

Connections are kept open (HTTP/1.1 keep-alive) for the thread's next node runs
(`_ThreadClient`): a fresh client and TCP connection per call cost as much as a short call
itself. A kept connection stays pinned to the address checked when it was opened.

Cancellation: the backend keeps the sockets it opened; the cancel callback shuts them down,
which wakes a blocked connect/read at once, and the node run raises `NodeCancelled` (the
thread's client is then dropped, and a cancel that comes after the run ended is ignored).
"""

from __future__ import annotations

import errno
import ipaddress
import json
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpcore
import httpx
from httpcore._backends.sync import SyncStream

from engine.core import json_bounds
from engine.core.tracecontext import fallback_trace_id, node_run_span_id, traceparent
from engine.nodes import register
from engine.nodes.base import MAX_DURATION_MS, NodeCancelled, NodeContext, NodeError, NodeType

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
MAX_RESPONSE_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 10
_STATUS_PATTERN = re.compile(r"^(?:[1-5][0-9]{2}|[1-5]xx|[1-5][0-9]{2}-[1-5][0-9]{2})$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SSL_CONTEXT = httpx.create_ssl_context()

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PrivateAddressRefused(Exception):
    def __init__(self, host: str, address: str):
        super().__init__(f"{host} resolves to {address}, a private, loopback or reserved address")
        self.host = host
        self.address = address


class _Cancelled(Exception):
    pass


def address_refused(ip: IPAddress) -> bool:
    """True for anything that is not a public unicast address, including IPv4 hidden in
    IPv6 (mapped, NAT64, 6to4, Teredo)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: list[IPAddress] = []
        if ip.ipv4_mapped is not None:
            embedded.append(ip.ipv4_mapped)
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        if any(address_refused(inner) for inner in embedded):
            return True
    return (not ip.is_global) or ip.is_multicast


def resolve(host: str, port: int) -> list[tuple[int, Any]]:
    """(family, sockaddr) for each address of `host` (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(family, sockaddr) for family, _type, _proto, _name, sockaddr in infos]


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, *, allow_private: bool):
        self.allow_private = allow_private
        self._sockets: list[socket.socket] = []
        self._aborted = False
        self._lock = threading.Lock()
        # One node run at a time uses a thread's backend; the cancel callback of an earlier
        # run (an execution cancelled after that run ended) must not touch a later one's.
        self._generation = 0

    def begin(self) -> int:
        """A node run starts on this backend: its cancel token."""
        with self._lock:
            self._generation += 1
            self._aborted = False
            self._sockets = [sock for sock in self._sockets if sock.fileno() != -1]
            return self._generation

    def end(self) -> None:
        with self._lock:
            self._generation += 1

    def aborter(self, generation: int) -> Callable[[], None]:
        def abort() -> None:
            self.abort(generation)

        return abort

    def abort(self, generation: int | None = None) -> None:
        """Called from another thread on cancel: wake every blocked socket operation (of the
        run holding `generation`, when given)."""
        with self._lock:
            if generation is not None and generation != self._generation:
                return
            self._aborted = True
            # Under the lock: the next run cannot start on a socket shut down after it began.
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        deadline = time.monotonic() + (timeout if timeout is not None else 3600)
        host = host.strip("[]")
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not self.allow_private:
            for _family, sockaddr in addresses:
                ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
                if address_refused(ip):
                    raise PrivateAddressRefused(host, str(ip))
        last_error: OSError | None = None
        for family, sockaddr in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            with self._lock:
                if self._aborted:
                    sock.close()
                    raise _Cancelled()
                self._sockets.append(sock)
            try:
                self._connect(sock, sockaddr, deadline)
            except OSError as exc:
                sock.close()
                last_error = exc
                continue
            sock.setblocking(True)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return SyncStream(sock)
        raise httpcore.ConnectError(f"cannot connect to {host}:{port}: {last_error}")

    def _connect(self, sock: socket.socket, sockaddr: Any, deadline: float) -> None:
        # A non-blocking connect polled in short slices, so that a cancel is noticed while
        # connecting to a host that never answers.
        sock.setblocking(False)
        code = sock.connect_ex(sockaddr)
        if code in (0, errno.EISCONN):
            return
        if code not in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            raise OSError(code, errno.errorcode.get(code, "connect failed"))
        while True:
            if self._aborted:
                raise _Cancelled()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise httpcore.ConnectTimeout("connect timed out")
            _, writable, failed = select.select([], [sock], [sock], min(0.05, remaining))
            if writable or failed:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, errno.errorcode.get(code, "connect failed"))
                return

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, backend: _GuardedBackend):
        # The shared SSL context: without it the base class loads the CA bundle again for
        # every node run (a few hundred ms of CPU on a busy machine), for a pool it then drops.
        super().__init__(verify=_SSL_CONTEXT, trust_env=False)
        # httpx has no public hook for the network backend; the pool is the one it builds.
        self._pool = httpcore.ConnectionPool(
            ssl_context=_SSL_CONTEXT, max_connections=4, keepalive_expiry=5.0, network_backend=backend
        )


class _ThreadClient:
    """A node thread's keep-alive client: its connections are reused by the thread's next
    node runs (a new TCP connection and client per call cost more than a short call itself).

    Every connection is still opened by `_GuardedBackend.connect_tcp`, to the address it
    checked; a kept connection stays pinned to that address. Separate clients for allowed
    and refused private addresses, so a loopback connection opened under one setting is
    never reused under the other. Cookies do not carry over from one node run to the next."""

    def __init__(self, allow_private: bool):
        self.backend = _GuardedBackend(allow_private=allow_private)
        self.client = httpx.Client(
            transport=_GuardedTransport(self.backend),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            trust_env=False,
            headers={"User-Agent": "FlowMaestro/0.1"},
        )


_threads = threading.local()


def _thread_client(allow_private: bool) -> _ThreadClient:
    clients: dict[bool, _ThreadClient] | None = getattr(_threads, "clients", None)
    if clients is None:
        clients = _threads.clients = {}
    if allow_private not in clients:
        clients[allow_private] = _ThreadClient(allow_private)
    return clients[allow_private]


def _drop_thread_client(allow_private: bool) -> None:
    """After a failed or cancelled run: its connections may be half-read or shut down."""
    clients: dict[bool, _ThreadClient] = getattr(_threads, "clients", {})
    dropped = clients.pop(allow_private, None)
    if dropped is not None:
        dropped.client.close()


def status_accepted(status: int, accept: Iterable[Any] | None) -> bool:
    """2xx always; plus every entry of `acceptStatus`: 404, "404", "4xx", "400-499"."""
    if 200 <= status < 300:
        return True
    for entry in accept or []:
        text = str(entry).strip().lower()
        if text.isdigit() and int(text) == status:
            return True
        if len(text) == 3 and text.endswith("xx") and text[0].isdigit() and status // 100 == int(text[0]):
            return True
        if "-" in text:
            low, _, high = text.partition("-")
            if low.strip().isdigit() and high.strip().isdigit() and int(low) <= status <= int(high):
                return True
    return False


def _parse_body(response: httpx.Response, content: bytes, max_depth: int) -> Any:
    """A JSON body decoded (a body that is not JSON stays text, as it came); one that is
    JSON except for `NaN`/`Infinity` or nesting past the output bound fails the node run
    with that reason instead of reaching the database."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    text = content.decode(response.encoding or "utf-8", errors="replace")
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return json_bounds.loads(text, max_depth=max_depth, what="the response body") if text.strip() else None
        except json_bounds.JSONBoundsError as exc:
            raise NodeError(f"{exc}", details={"status": response.status_code}, retryable=False) from None
        except ValueError:
            return text
    return text


def _text(value: Any) -> str:
    """A header or query value as text: JSON for objects, `true`/`false` for booleans."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


@register
class HttpNode(NodeType):
    type = "http"
    title = "HTTP Request"
    category = "Integrations"
    description = (
        "Sends a real HTTP request. Output: {status, headers, body}; a JSON response body is "
        "parsed. A non-2xx status is an error unless acceptStatus lists it. Private and "
        "loopback addresses are refused unless the server allows them."
    )
    config_schema = {
        "type": "object",
        "title": "HTTP Request",
        "properties": {
            "method": {"type": "string", "title": "Method", "enum": METHODS, "default": "GET"},
            "url": {
                "type": "string",
                "title": "URL",
                "description": "http:// or https:// URL; templates allowed, e.g. `{{variables.apiBase}}/users`.",
                "default": "",
            },
            "headers": {
                "type": "object",
                "title": "Headers",
                "description": "Header name → value.",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
                "default": {},
            },
            "query": {
                "type": "object",
                "title": "Query parameters",
                "description": "Name → value (a list repeats the parameter).",
                "additionalProperties": True,
                "default": {},
            },
            "body": {
                "x-show-when": {"method": ["POST", "PUT", "PATCH", "DELETE"]},
                "title": "Body",
                "description": "An object or list is sent as JSON; a string is sent as is.",
            },
            "timeout": {
                "type": "integer",
                "title": "Timeout (ms)",
                "minimum": 1,
                "maximum": MAX_DURATION_MS,
                "default": 30000,
                "description": "Limit for the whole request, redirects and download included.",
            },
            "acceptStatus": {
                "type": "array",
                "title": "Accepted statuses",
                "description": "Non-2xx statuses that are not errors: 404, \"4xx\" or \"400-499\".",
                "items": {
                    "anyOf": [
                        {"type": "integer", "minimum": 100, "maximum": 599},
                        {"type": "string", "pattern": _STATUS_PATTERN.pattern},
                    ]
                },
                "default": [],
            },
        },
        "required": ["url"],
    }
    defaults = {"method": "GET", "url": "", "timeout": 30000}
    remote = True  # blocking I/O: may run on a Celery worker

    def run(self, ctx: NodeContext) -> Any:
        config = ctx.config
        method = str(config.get("method") or "GET").upper()
        url = str(config.get("url") or "").strip()
        if method not in METHODS:
            raise NodeError(f"Unsupported HTTP method {method!r}", retryable=False)
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise NodeError(f"Invalid URL {url!r}: {exc}", retryable=False) from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise NodeError(f"The URL must be an absolute http(s) URL, got {url!r}", retryable=False)
        timeout_ms = config.get("timeout") or 30000
        try:
            timeout_s = float(timeout_ms) / 1000
        except (TypeError, ValueError):
            raise NodeError(f"`timeout` must be milliseconds, got {timeout_ms!r}", retryable=False) from None
        request_args = self._request_args(config)
        self._propagate_trace(request_args["headers"], ctx)

        ctx.raise_if_cancelled()
        allow_private = bool(ctx.options.http_allow_private)
        pooled = _thread_client(allow_private)
        client = pooled.client
        client.cookies = httpx.Cookies()
        generation = pooled.backend.begin()
        ctx.on_cancel(pooled.backend.aborter(generation))
        deadline = time.monotonic() + timeout_s
        label = f"{method} {url}"
        clean = False
        try:
            # httpx's `params=` would replace a query already in the URL; merge instead,
            # and leave the URL exactly as written when there is nothing to add.
            params = request_args.pop("params")
            target = parsed.copy_merge_params(params) if params else parsed
            request = client.build_request(method, target, timeout=httpx.Timeout(timeout_s), **request_args)
            response = client.send(request, stream=True)
            try:
                content = self._read(response, deadline, ctx)
            finally:
                response.close()
            clean = not ctx.cancelled.is_set()
        except PrivateAddressRefused as exc:
            raise NodeError(
                f"Refused {label}: {exc}. Set FLOWMAESTRO_HTTP_ALLOW_PRIVATE to allow it.",
                details={"host": exc.host, "address": exc.address},
                retryable=False,
            ) from None
        except (_Cancelled, httpx.HTTPError, httpcore.NetworkError, OSError) as exc:
            if ctx.cancelled.is_set():
                raise NodeCancelled() from None
            if isinstance(exc, httpx.TimeoutException | httpcore.TimeoutException):
                raise NodeError(f"{label} timed out after {timeout_ms} ms", retryable=True) from None
            if isinstance(exc, httpx.TooManyRedirects):
                raise NodeError(f"{label}: more than {MAX_REDIRECTS} redirects", retryable=False) from None
            raise NodeError(f"{label} failed: {exc or type(exc).__name__}", retryable=True) from None
        finally:
            pooled.backend.end()
            if not clean:
                _drop_thread_client(allow_private)
        if ctx.cancelled.is_set():
            raise NodeCancelled()

        output = {
            "status": response.status_code,
            "headers": {key.lower(): value for key, value in response.headers.items()},
            "body": _parse_body(response, content, ctx.options.output_max_depth),
        }
        if not status_accepted(response.status_code, config.get("acceptStatus")):
            reason = response.reason_phrase or ""
            raise NodeError(
                f"{label} returned HTTP {response.status_code} {reason}".rstrip(),
                details={"status": response.status_code, "body": _truncate(output["body"])},
                # Server trouble and rate limits may pass; other client errors will not.
                retryable=response.status_code >= 500 or response.status_code in (408, 425, 429),
            )
        return output

    @staticmethod
    def _propagate_trace(headers: dict[str, str], ctx: NodeContext) -> None:
        """W3C `traceparent` naming this node run's span, so the callee's spans join the
        execution's trace (unless the workflow sets the header itself)."""
        if any(k.lower() == "traceparent" for k in headers):
            return
        otel_trace = ctx.otel_trace_id or fallback_trace_id(ctx.execution_id, "-".join(ctx.trace_id.split("-")[:2]))
        span = node_run_span_id(otel_trace, ctx.trace_id, ctx.node_id, ctx.iteration, ctx.attempt)
        headers["traceparent"] = traceparent(otel_trace, span)

    @staticmethod
    def _request_args(config: Mapping[str, Any]) -> dict[str, Any]:
        raw_headers = config.get("headers") or {}
        query = config.get("query") or {}
        if not isinstance(raw_headers, Mapping) or not isinstance(query, Mapping):
            raise NodeError("`headers` and `query` must be objects", retryable=False)
        headers = {str(k): _text(v) for k, v in raw_headers.items() if v is not None}
        params = {
            str(k): [_text(item) for item in v] if isinstance(v, list) else _text(v)
            for k, v in query.items()
            if v is not None
        }
        args: dict[str, Any] = {"headers": headers, "params": params}
        body = config.get("body")
        if body is None or body == "":
            return args
        if isinstance(body, str):
            args["content"] = body.encode("utf-8")
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "text/plain; charset=utf-8"
        else:
            args["json"] = body
        return args

    @staticmethod
    def _read(response: httpx.Response, deadline: float, ctx: NodeContext) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise NodeError(f"The response is larger than {MAX_RESPONSE_BYTES} bytes", retryable=False)
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("the response took longer than the timeout")
            if ctx.cancelled.is_set():
                raise _Cancelled()
            chunks.append(chunk)
        return b"".join(chunks)


def _truncate(body: Any, limit: int = 2000) -> Any:
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return body if len(text) <= limit else text[:limit] + "…"

