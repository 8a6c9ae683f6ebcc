"""Django's synchronous request handler behind daphne, on a pool of long-lived threads.

Every view of the API, the pages and the admin is synchronous (DRF has no async views).
Under Django's ASGI handler such a request hops between the event loop and a thread once
per middleware hook and once more for the view, on a thread created for that request, so
each request also opened (and closed) its own database connection. Profiling `bench runs`
put that plumbing, not the views, at more than half of the server's time per run.

Here a request is read on the event loop, then handled start to finish by Django's WSGI
handler (one middleware chain, no hops) on one of `FLOWMAESTRO_HTTP_THREADS` threads that
live as long as the process and keep their database connection (`CONN_MAX_AGE`; on
PostgreSQL they take one from the process's connection pool per request instead). Only
the demo API's `async def` views, which `await` in the middle of a request, stay on
Django's ASGI handler (`ASYNC_PREFIXES`).

The request body is spooled (to disk past `SPOOL_BYTES`) as Django's own handlers do. A
response goes back to the loop in one piece, except a streaming one (a static file, a
`StreamingHttpResponse`), which the thread sends chunk by chunk, each waiting until the
loop has taken it, so a slow client holds back its own thread and nothing else.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from tempfile import SpooledTemporaryFile
from typing import IO, Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]
AsgiApp = Callable[..., Awaitable[None]]  # (scope, receive, send), as Django's handler types them
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Paths served by async views (they would hold a pool thread while they `await`).
ASYNC_PREFIXES = ("/demo-api/",)
SPOOL_BYTES = 1 << 20  # request bodies beyond this wait in a temporary file, not in memory


def environ_of(scope: Scope, body: IO[bytes], size: int) -> dict[str, Any]:
    """The WSGI environ (PEP 3333) of an ASGI HTTP scope whose body (`size` bytes) is
    readable from `body`."""
    root = scope.get("root_path", "")
    path = scope["path"]
    if root and path.startswith(root):
        path = path[len(root):]
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        # PEP 3333: str holding the raw bytes as latin-1 (Django decodes them as UTF-8).
        "SCRIPT_NAME": root.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] if server[1] is not None else 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "CONTENT_LENGTH": str(size),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if scope.get("client"):
        environ["REMOTE_ADDR"] = scope["client"][0]
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_LENGTH":
            continue  # the body as read, whatever the header claimed
        key = name if name == "CONTENT_TYPE" else f"HTTP_{name}"
        # Repeated headers are joined as a proxy would (RFC 9110 §5.3); cookies with "; ".
        if key in environ:
            environ[key] += ("; " if key == "HTTP_COOKIE" else ",") + value
        else:
            environ[key] = value
    return environ


class ThreadedWsgi:
    """An ASGI application serving HTTP through `wsgi_app` on `threads` long-lived threads,
    except paths under `ASYNC_PREFIXES`, which go to `asgi_app`."""

    def __init__(self, wsgi_app: WsgiApp, asgi_app: AsgiApp, threads: int) -> None:
        self.wsgi_app = wsgi_app
        self.asgi_app = asgi_app
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fm-http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ASYNC_PREFIXES):
            await self.asgi_app(scope, receive, send)
            return
        with SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client left before it finished sending: nobody to answer
                chunk = message.get("body", b"")
                body.write(chunk)
                size += len(chunk)
                if not message.get("more_body"):
                    break
            body.seek(0)
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(self.pool, self._respond, scope, body, size, send, loop)
        if reply is not None:  # not streamed: the whole response, sent from here
            status, headers, content = reply
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": content})

    def _respond(self, scope: Scope, body: IO[bytes], size: int, send: Send,
                 loop: asyncio.AbstractEventLoop) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """Django's answer: (status, headers, body), or None when it was streamed (sent
        from this thread, chunk by chunk)."""
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            started[:] = [int(status.split(" ", 1)[0]),
                          [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]]
            return written.append

        def send_now(message: dict[str, Any]) -> None:
            asyncio.run_coroutine_threadsafe(send(message), loop).result()

        result = self.wsgi_app(environ_of(scope, body, size), start_response)
        try:
            if not getattr(result, "streaming", False):
                written.extend(result)
                return started[0], started[1], b"".join(written)
            send_now({"type": "http.response.start", "status": started[0], "headers": started[1]})
            for chunk in result:
                if chunk:
                    send_now({"type": "http.response.body", "body": chunk, "more_body": True})
            send_now({"type": "http.response.body", "body": b""})
            return None
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()  # Django's request_finished: connections past CONN_MAX_AGE close here


_form_parsing_off = False


def skip_twisted_form_parsing() -> None:
    """Tell daphne's Twisted requests not to parse POST bodies into `request.args`
    (Twisted's `parsePOSTFormSubmission`): daphne hands the raw body to the application and
    never reads `args`, yet Twisted parsed every POST's Content-Type through the `email`
    package first, ~0.9 ms of each run request (a fifth of the request's time in daphne),
    parsed urlencoded and multipart bodies a second time, and answered 400 itself to a body
    declared multipart that was not, before the application saw it. Idempotent."""
    global _form_parsing_off
    if _form_parsing_off:
        return
    _form_parsing_off = True
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # not served by daphne
        return
    init = WebRequest.__init__

    def init_without_form_parsing(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["parsePOSTFormSubmission"] = False
        init(self, *args, **kwargs)

    WebRequest.__init__ = init_without_form_parsing  # type: ignore[method-assign]


_twisted_log_off = False


def skip_discarded_twisted_access_log() -> None:
    """Twisted's HTTPFactory formats a combined-log line for every request and writes it to
    Twisted's log, which daphne discards at its default verbosity (≤ 1: "Redirect the
    Twisted log to nowhere"); daphne keeps its own access log (`--access-log`). Skip the
    line in that case (~4% of daphne's CPU per run request); at verbosity 2 and above it is
    written as before. Idempotent."""
    global _twisted_log_off
    if _twisted_log_off:
        return
    _twisted_log_off = True
    try:
        from daphne.http_protocol import HTTPFactory
    except ImportError:  # not served by daphne
        return
    log = HTTPFactory.log

    def log_unless_discarded(self: Any, request: Any) -> None:
        if getattr(getattr(self, "server", None), "verbosity", 2) > 1:
            log(self, request)

    HTTPFactory.log = log_unless_discarded  # type: ignore[method-assign]
