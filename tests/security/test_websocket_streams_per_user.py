"""One user cannot hold so many live streams that another user's stream cannot open.

Probed on a live daphne: every open stream reads the store on the one thread Channels gives
the ORM (the list stream every second), and every handshake needs that thread too (the
session's user). With 500 of bob's `ws/executions/` streams open, alice's new stream to her
own execution missed daphne's 5 s handshake timeout ("did not receive a valid HTTP
response"). Now a user holds at most FLOWMAESTRO_WS_STREAMS_PER_USER streams per process;
past it a stream is closed with 4429, and a closed stream gives its place back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.daphne import running_daphne
from tests.engine.test_consumers import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 3


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    with running_daphne(env={"FLOWMAESTRO_WS_STREAMS_PER_USER": str(LIMIT)}) as host, _streams:
        yield host


def _open(host: str, path: str, cookie: bytes) -> ClientConnection:
    ws = connect(f"ws://{host}{path}", additional_headers={"Cookie": cookie.decode()}, origin=f"http://{host}",
                 open_timeout=10)
    return _streams.enter_context(ws)


_streams = ExitStack()  # every connection a test opened, closed when it ends


def _refusal(ws: ClientConnection) -> tuple[Any, int | None]:
    try:
        message = json.loads(ws.recv(timeout=2))
    except TimeoutError:
        return None, None  # open and quiet: a stream that was let in
    try:
        ws.recv(timeout=5)
    except ConnectionClosed as closed:
        return message, closed.rcvd.code if closed.rcvd else None
    return message, None


def test_a_user_past_the_limit_is_told_4429_and_others_are_not_held_up(server: str, alice, bob) -> None:
    alice_cookie, bob_cookie = session_cookie(alice), session_cookie(bob)
    # Refused streams (another user's or a missing execution) give their place back.
    for _ in range(LIMIT + 2):
        assert _refusal(_open(server, "/ws/executions/987654/", bob_cookie))[1] == 4404
    held = [_open(server, "/ws/executions/", bob_cookie) for _ in range(LIMIT)]
    for ws in held:
        assert _refusal(ws) == (None, None)
    over = _open(server, "/ws/executions/", bob_cookie)
    message, code = _refusal(over)
    assert code == 4429
    assert message["code"] == 4429 and "Too many live streams" in message["detail"]
    over_events = _open(server, "/ws/executions/987654/", bob_cookie)  # counted the same way
    assert _refusal(over_events)[1] == 4429

    # Another user is not held up by bob's streams.
    alice_ws = _open(server, "/ws/executions/", alice_cookie)
    assert _refusal(alice_ws) == (None, None)
    alice_ws.close()

    # A closed stream gives its place back.
    held.pop().close()
    deadline = time.monotonic() + 10
    while True:
        again = _open(server, "/ws/executions/", bob_cookie)
        if _refusal(again) == (None, None):
            break
        assert time.monotonic() < deadline, "the closed stream's place was not given back"
        time.sleep(0.2)
    again.close()
    for ws in held:
        ws.close()
