"""Websocket paths that no stream serves, on a real daphne, as anonymous and as a user.

Probed: a handshake for `ws://host/ws/nope/` (or `ws/executions/6/%00`, or any HTTP path)
was rejected with HTTP 500, and daphne logged the router's "No route found" traceback for
each; no login was needed, so anyone could fill the server's log. Now such a stream is
answered like a missing execution: accepted, one error message, close code 4404."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.daphne import running_daphne
from tests.engine.test_consumers import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

UNKNOWN = ["/ws/nope/", "/ws/executions/1/%00", "/ws/executions/abc/", "/ws/executions/1/events/", "/api/executions",
           "/", "/ws/executions/12345678901234567890/"]


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    with running_daphne() as host:
        yield host


def _answer(host: str, path: str, cookie: str | None) -> tuple[list[dict[str, object]], int | None]:
    headers = {"Cookie": cookie} if cookie else {}
    messages: list[dict[str, object]] = []
    with connect(f"ws://{host}{path}", additional_headers=headers, origin=f"http://{host}", open_timeout=10) as ws:
        try:
            while True:
                messages.append(json.loads(ws.recv(timeout=10)))
        except ConnectionClosed as closed:
            return messages, closed.rcvd.code if closed.rcvd else None


def test_a_path_no_stream_serves_is_closed_4404_for_anyone_and_the_streams_still_answer(server: str, alice) -> None:
    cookie = session_cookie(alice).decode()
    for path in UNKNOWN:
        for who in (None, cookie):
            messages, code = _answer(server, path, who)
            assert code == 4404, (path, who, code)
            assert messages == [{"type": "error", "code": 4404, "detail": "No such stream."}]
    assert _answer(server, "/ws/executions/987654/", cookie)[1] == 4404
    assert _answer(server, "/ws/executions/1/", None)[1] == 4401
    with connect(f"ws://{server}/ws/executions/", additional_headers={"Cookie": cookie},
                 origin=f"http://{server}", open_timeout=10) as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=1.5)  # open and quiet: the list stream, not the catch-all
