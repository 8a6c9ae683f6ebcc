"""`http`: a real HTTP request with httpx; output `{status, headers, body}`.

Every connection goes through the guarded network layer (engine.nodes.guarded_http): the
host is resolved once, refused when it is not public (unless
`ctx.options.http_allow_private`), and the connection is pinned to the address checked;
connections are kept open for the thread's next node runs. Cancelling the node run shuts
its sockets down, and it raises `NodeCancelled`.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpcore
import httpx

from engine.core import json_bounds
from engine.core.numerals import is_ascii_digits
from engine.core.tracecontext import fallback_trace_id, node_run_span_id, traceparent
from engine.nodes import register
from engine.nodes.base import MAX_DURATION_MS, NodeCancelled, NodeContext, NodeError, NodeType
from engine.nodes.guarded_http import (
    MAX_REDIRECTS,
    ConnectionCancelled,
    PrivateAddressRefused,
    drop_thread_client,
    thread_client,
)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
MAX_RESPONSE_BYTES = 20 * 1024 * 1024
_STATUS_PATTERN = re.compile(r"^(?:[1-5][0-9]{2}|[1-5]xx|[1-5][0-9]{2}-[1-5][0-9]{2})$")


def status_accepted(status: int, accept: Iterable[Any] | None) -> bool:
    """2xx always; plus every entry of `acceptStatus`: 404, "404", "4xx", "400-499"."""
    if 200 <= status < 300:
        return True
    for entry in accept or []:
        text = str(entry).strip().lower()
        # ASCII digits only (`"٤٠٤".isdigit()` is True); the schema's pattern says the same.
        if is_ascii_digits(text) and int(text) == status:
            return True
        if len(text) == 3 and text.endswith("xx") and is_ascii_digits(text[0]) and status // 100 == int(text[0]):
            return True
        if "-" in text:
            low, _, high = text.partition("-")
            if is_ascii_digits(low.strip()) and is_ascii_digits(high.strip()) and int(low) <= status <= int(high):
                return True
    return False


def _parse_body(response: httpx.Response, content: bytes, max_depth: int, max_values: int) -> Any:
    """A JSON body decoded (a body that is not JSON stays text, as it came); one that is
    JSON except for `NaN`/`Infinity` or nesting past the output bound fails the node run
    with that reason instead of reaching the database, and one that would parse into more
    than `max_values` values and keys fails it before it is parsed (see
    `json_bounds.DEFAULT_HTTP_JSON_MAX_VALUES`: 20 MB of `[{},…]` is ~480 MB of objects)."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = content.decode(response.encoding or "utf-8", errors="replace")
    except (LookupError, UnicodeError):
        # A charset that names a codec but no text encoding (`hex`, `rot13`, `base64`), or
        # one that cannot replace what it cannot read (`idna`): read as UTF-8, as httpx
        # already does for a charset it does not know (and browsers for any), instead of
        # failing the node run with Python's codec error, retried as if it were transient.
        text = content.decode("utf-8", errors="replace")
    if content_type == "application/json" or content_type.endswith("+json"):
        values = json_bounds.json_values_past(text, max_values)
        if values is not None:
            raise NodeError(
                f"The response body holds about {values} JSON values and keys, more than {max_values} "
                "(the bound FLOWMAESTRO_HTTP_JSON_MAX_VALUES): parsed, it would take too much of the memory "
                "every user's runs share. Ask the server for less (a page, fewer fields).",
                details={"status": response.status_code, "values": values, "bound": max_values},
                retryable=False,
            )
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
    pinnable = True  # its output is data: pinned test data may stand in for it

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
        pooled = thread_client(allow_private)
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
        except (ConnectionCancelled, httpx.HTTPError, httpcore.NetworkError, OSError) as exc:
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
                drop_thread_client(allow_private)
        if ctx.cancelled.is_set():
            raise NodeCancelled()

        output = {
            "status": response.status_code,
            "headers": {key.lower(): value for key, value in response.headers.items()},
            "body": _parse_body(response, content, ctx.options.output_max_depth, ctx.options.http_json_max_values),
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
        # The raw bytes, inflated here (`_Inflater`), never by httpx: it inflates a whole
        # network read at once and every layer a server names, so a 661-byte answer with
        # `Content-Encoding: gzip, gzip` became 300 MB before the bound below was checked.
        inflate = _Inflater.for_response(response)
        chunks: list[bytes] = []
        size = 0
        for raw in response.iter_raw():
            for chunk in inflate.pieces(raw) if inflate else (raw,):
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise NodeError(f"The response is larger than {MAX_RESPONSE_BYTES} bytes", retryable=False)
                chunks.append(chunk)
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("the response took longer than the timeout")
            if ctx.cancelled.is_set():
                raise ConnectionCancelled()
        if inflate:
            chunks.append(inflate.flush())
        return b"".join(chunks)


class _Inflater:
    """One layer of gzip or deflate, inflated a megabyte at a time, so the caller's bound
    stops it (a network read of 64 KB inflates to up to 64 MB).

    Only one layer: a body compressed twice is refused (no client asks for it, and each
    layer multiplies up to a thousand times). Codings httpx does not know either are passed
    through as they came, as httpx did."""

    STEP = 1024 * 1024

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS)
        self._started = False

    @classmethod
    def for_response(cls, response: httpx.Response) -> _Inflater | None:
        named = [v.strip().lower() for v in response.headers.get_list("content-encoding", split_commas=True)]
        codings = [v for v in named if v in ("gzip", "x-gzip", "deflate")]
        if len(codings) > 1:
            raise NodeError(f"The response is compressed more than once (Content-Encoding: {', '.join(named)}); "
                            "only one layer of gzip or deflate is read", retryable=False)
        if not codings:
            return None
        return cls("deflate" if codings[0] == "deflate" else "gzip")

    def pieces(self, data: bytes) -> Iterator[bytes]:
        """`data` inflated, at most STEP bytes a piece."""
        while data:
            try:
                out = self._decompressor.decompress(data, self.STEP)
            except zlib.error as exc:
                if self.coding == "deflate" and not self._started:
                    # "deflate" is zlib-wrapped by the standard, raw from some servers
                    # (httpx read both): the first piece tells which.
                    self._started = True
                    self._decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise self._invalid(exc) from None
            self._started = True
            data = self._decompressor.unconsumed_tail
            if out:
                yield out

    def flush(self) -> bytes:
        try:
            return self._decompressor.flush()
        except zlib.error as exc:
            raise self._invalid(exc) from None

    def _invalid(self, exc: zlib.error) -> NodeError:
        return NodeError(f"The response body is not valid {self.coding} data ({exc})", retryable=True)


def _truncate(body: Any, limit: int = 2000) -> Any:
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return body if len(text) <= limit else text[:limit] + "…"

