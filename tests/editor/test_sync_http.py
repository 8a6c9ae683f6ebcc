"""HTTP under daphne (`flowmaestro.sync_http`): Django's synchronous handler on long-lived
threads that keep their database connection, the demo API's async views still on Django's
ASGI handler. Driven here through the ASGI interface with Django's real handlers, and once
through a real daphne."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings as django_settings
from django.core.handlers.asgi import ASGIHandler
from django.core.wsgi import get_wsgi_application
from django.db import connection
from rest_framework.authtoken.models import Token

from editor.models import Workflow
from engine.models import Execution
from flowmaestro.sync_http import ThreadedWsgi, environ_of
from tests.daphne import running_daphne

pytestmark = pytest.mark.django_db(transaction=True)



def call(app: Any, method: str, path: str, *, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None,
         query: bytes = b"", chunks: int = 1, disconnect: bool = False) -> list[dict[str, Any]]:
    """One request through the ASGI interface, as daphne makes it: the body in `chunks`
    messages (or a disconnect before it is complete); returns what the app sent."""
    scope = {"type": "http", "method": method, "path": path, "query_string": query, "headers": headers or [],
             "http_version": "1.1", "scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 5000)}
    size = max(1, -(-len(body) // chunks))
    parts = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1} for i, part in enumerate(parts)
    ]
    if disconnect:
        messages = messages[:-1] + [{"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


class Recorder:
    """Django's WSGI handler, noting which thread served each request and its connection."""

    def __init__(self) -> None:
        self.django = get_wsgi_application()
        self.seen: list[tuple[str, int]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        result = self.django(environ, start_response)
        if connection.vendor == "postgresql":
            # Pooled: the thread gives its connection back after each request and takes
            # an idle one for the next; what counts is how many the pool ever opened.
            opened = connection.pool.get_stats()["connections_num"]  # type: ignore[attr-defined]
            self.seen.append((threading.current_thread().name, opened))
        else:
            self.seen.append((threading.current_thread().name, id(connection.connection)))
        return result


def token_header(user: Any) -> tuple[bytes, bytes]:
    return b"authorization", f"Token {Token.objects.get_or_create(user=user)[0].key}".encode()


def test_an_api_call_is_answered_whole_by_django_on_a_pool_thread(alice: Any, make_workflow: Any) -> None:
    workflow = make_workflow(name="Tour")
    recorder = Recorder()
    app = ThreadedWsgi(recorder, ASGIHandler(), threads=1)
    body = json.dumps({"input": {"who": "ada"}, "priority": 2}).encode()
    sent = call(app, "POST", f"/api/workflows/{workflow.pk}/run", body=body, chunks=3,
                headers=[token_header(alice), (b"content-type", b"application/json")])
    start, content = sent
    assert start["type"] == "http.response.start" and start["status"] == 201
    assert (b"content-type", b"application/json") in start["headers"]
    answer = json.loads(content["body"])
    assert content.get("more_body", False) is False
    execution = Execution.objects.get(pk=answer["id"])
    assert (execution.input, execution.priority, execution.trace_id) == ({"who": "ada"}, 2, answer["traceId"])

    # The query string, and a second request on the same thread and database connection
    # (opening one per request was what this module is for); on PostgreSQL, on a
    # connection the pool already had.
    sent = call(app, "GET", "/api/executions", query=f"workflow={workflow.pk}".encode(),
                headers=[token_header(alice)])
    assert sent[0]["status"] == 200
    assert [e["id"] for e in json.loads(sent[1]["body"])] == [execution.pk]
    (first_thread, first_connection), (second_thread, second_connection) = recorder.seen
    assert first_thread == second_thread and first_thread.startswith("fm-http")
    if connection.vendor != "postgresql":
        assert first_connection == second_connection  # the thread's own connection, kept
        return
    # PostgreSQL: the thread takes a pooled connection per request and gives it back. The
    # engine's threads (coordinator, writer, announcer) hold theirs from the same pool and
    # may make it open one or two more at any time, so count over several requests: requests that
    # each opened a connection would grow the pool by one each.
    opened = connection.pool.get_stats()["connections_num"]  # type: ignore[attr-defined]
    for _ in range(5):
        assert call(app, "GET", "/api/workflows", headers=[token_header(alice)])[0]["status"] == 200
    assert connection.pool.get_stats()["connections_num"] - opened <= 2  # type: ignore[attr-defined]


def test_errors_cookies_and_odd_paths_behave_as_under_any_django_server(alice: Any, client: Any) -> None:
    app = ThreadedWsgi(get_wsgi_application(), ASGIHandler(), threads=2)
    missing = call(app, "GET", "/api/workflows/999999", headers=[token_header(alice)])
    assert missing[0]["status"] == 404 and json.loads(missing[1]["body"])["detail"]
    unicode_path = call(app, "GET", "/api/wörkflows", headers=[token_header(alice)])
    assert unicode_path[0]["status"] == 404
    assert (b"content-type", b"application/json") in unicode_path[0]["headers"]
    bad = call(app, "POST", "/api/workflows", body=b"{not json", headers=[token_header(alice),
                                                                        (b"content-type", b"application/json")])
    assert bad[0]["status"] == 400
    # A session cookie is a user, as in a browser: the page answers instead of redirecting.
    client.force_login(alice)
    cookie = f"{django_settings.SESSION_COOKIE_NAME}={client.cookies[django_settings.SESSION_COOKIE_NAME].value}"
    page = call(app, "GET", "/workflows/", headers=[(b"cookie", b"a=1"), (b"cookie", cookie.encode())])
    assert page[0]["status"] == 200
    anonymous = call(app, "GET", "/workflows/")
    assert anonymous[0]["status"] == 302


def test_a_client_gone_before_its_body_arrived_gets_nothing_and_changes_nothing(alice: Any, make_workflow: Any) -> None:
    workflow = make_workflow()
    app = ThreadedWsgi(get_wsgi_application(), ASGIHandler(), threads=1)
    sent = call(app, "POST", f"/api/workflows/{workflow.pk}/run", body=b'{"input": {}}', chunks=2, disconnect=True,
                headers=[token_header(alice), (b"content-type", b"application/json")])
    assert sent == []
    assert not Execution.objects.exists()


def test_a_static_file_streams_in_chunks_and_a_big_body_is_refused_cleanly(alice: Any) -> None:
    import django.contrib.admin

    app = ThreadedWsgi(get_wsgi_application(), ASGIHandler(), threads=1)
    sent = call(app, "GET", "/static/admin/css/base.css")
    assert sent[0]["status"] == 200
    assert len(sent) > 3  # streamed in blocks from the thread, not collected into one piece
    assert all(m["type"] == "http.response.body" for m in sent[1:])
    assert [m.get("more_body", False) for m in sent[1:]][-1] is False
    on_disk = (Path(django.contrib.admin.__file__).parent / "static/admin/css/base.css").read_bytes()
    assert b"".join(m["body"] for m in sent[1:]) == on_disk
    # Over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), spooled to disk on the way in: Django's 400.
    big = json.dumps({"name": "x" * (3 << 20), "definition": {}}).encode()
    refused = call(app, "POST", "/api/workflows", body=big, chunks=50,
                   headers=[token_header(alice), (b"content-type", b"application/json")])
    assert refused[0]["status"] == 400
    assert json.loads(refused[1]["body"])["detail"]
    assert not Workflow.objects.exists()  # nothing was created from the refused body


def test_the_environ_carries_what_django_reads() -> None:
    from io import BytesIO

    environ = environ_of({"type": "http", "method": "PUT", "path": "/api/ä b", "root_path": "",
                          "query_string": b"x=1&y=%C3%A4", "http_version": "1.1", "server": ("example.org", 8443),
                          "client": ("10.0.0.9", 4242), "scheme": "https",
                          "headers": [(b"content-type", b"application/json"), (b"content-length", b"999"),
                                      (b"x-forwarded-for", b"1.1.1.1"), (b"x-forwarded-for", b"2.2.2.2")]},
                         BytesIO(b"{}"), 2)
    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8") == "/api/ä b"
    assert (environ["REQUEST_METHOD"], environ["QUERY_STRING"]) == ("PUT", "x=1&y=%C3%A4")
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"], environ["wsgi.url_scheme"]) == ("example.org", "8443", "https")
    assert (environ["REMOTE_ADDR"], environ["CONTENT_TYPE"]) == ("10.0.0.9", "application/json")
    assert environ["CONTENT_LENGTH"] == "2"  # the body as read, not what the header claimed
    assert environ["HTTP_X_FORWARDED_FOR"] == "1.1.1.1,2.2.2.2"
    assert environ["wsgi.input"].read() == b"{}"


# --- through a real daphne --------------------------------------------------------------------


@pytest.fixture
def daphne_url() -> Iterator[str]:
    with running_daphne(env={"FLOWMAESTRO_HTTP_THREADS": "2"}) as host:
        yield f"http://{host}"


def test_under_daphne_api_calls_run_in_parallel_and_async_demo_views_do_not_hold_a_thread(
    alice: Any, make_workflow: Any, daphne_url: str
) -> None:
    workflow = make_workflow()
    headers = {"Authorization": f"Token {Token.objects.get_or_create(user=alice)[0].key}"}
    with httpx.Client(base_url=daphne_url, headers=headers, timeout=30) as http:
        posted = [http.post(f"/api/workflows/{workflow.pk}/run", json={"input": {"n": i}}) for i in range(5)]
        assert [r.status_code for r in posted] == [201] * 5
        listed = http.get("/api/executions", params={"workflow": workflow.pk}).json()
        assert sorted(e["id"] for e in listed) == sorted(r.json()["id"] for r in posted)
        assert http.get("/api/nothing-here").status_code == 404
        # Daphne's Twisted requests no longer parse form bodies (flowmaestro.sync_http):
        # a body sent as a form or as multipart still reaches the application byte for byte.
        for content_type in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz"):
            echoed = http.post("/demo-api/echo", content=b'{"a": "b=c&d", "e": "--xyz"}',
                               headers={"Content-Type": content_type})
            assert (echoed.status_code, echoed.json()) == (200, {"a": "b=c&d", "e": "--xyz"})

    # Ten 1 s async demo calls at once: they overlap (on the event loop) although only two
    # threads serve the synchronous views. In sequence they would take 10 s, two at a time
    # (on those threads) 5 s; 1 s each leaves room for a loaded machine's connection
    # overhead (with 300 ms calls and a 1.2 s bound it failed at load 7).
    def slow(i: int) -> int:
        return httpx.get(f"{daphne_url}/demo-api/slow", params={"ms": 1000, "source": str(i)}, timeout=30).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(slow, range(10)))
    assert codes == [200] * 10
    assert time.perf_counter() - started < 3.0  # all at once: ~1 s; two at a time: 5 s
