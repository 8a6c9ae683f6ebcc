"""The live streams are one-way: whatever a client sends is ignored, on a real daphne.

Before: a text frame that was not JSON, JSON nested deep enough to overflow the decoder, or
a binary frame made the consumer raise; the server closed the stream with 1011 (internal
error) and logged a traceback for each, after decoding however many bytes were sent."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

import pytest

from engine.models import Execution
from tests.conftest import SIMPLE_DEFINITION
from tests.daphne import running_daphne
from tests.engine.runs import start_run, wait_finished
from tests.engine.test_consumers import open_raw_stream, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def client_frame(payload: bytes, opcode: int) -> bytes:
    """One final, masked client frame (a zero mask: the payload goes as written)."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    return head + b"\0\0\0\0" + payload


def server_opcodes(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(opcode, payload) of each complete server frame at the start of `data`."""
    while len(data) >= 2:
        size, offset = data[1] & 0x7F, 2
        if size == 126:
            (size,), offset = struct.unpack("!H", data[2:4]), 4
        elif size == 127:
            (size,), offset = struct.unpack("!Q", data[2:10]), 10
        if len(data) < offset + size:
            return
        yield data[0] & 0x0F, data[offset:offset + size]
        data = data[offset + size:]


def frames_for(sock: socket.socket, already: bytes, seconds: float) -> list[tuple[int, bytes]]:
    """Every server frame that arrives within `seconds` (a closed connection ends it early,
    shown as a close frame)."""
    data, deadline = already, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return [*server_opcodes(data), (CLOSE, b"(connection closed)")]
        data += chunk
    return list(server_opcodes(data))


@pytest.fixture(scope="module")
def host() -> Iterator[str]:
    with running_daphne() as address:
        yield address


@pytest.fixture
def execution(alice) -> Execution:
    return wait_finished(start_run(alice, SIMPLE_DEFINITION, {"who": "x"}).id)


@pytest.mark.parametrize(("payload", "opcode"), [
    (b"{not json", TEXT),
    (b"[" * 100_000 + b"]" * 100_000, TEXT),
    (b'{"type": "signal", "signal": "cancel"}', TEXT),
    (b"\x00\x01\x02", BINARY),
], ids=["not-json", "nested-100000-deep", "json", "binary"])
@pytest.mark.parametrize("stream", ["execution", "list"])
def test_a_client_frame_is_ignored_and_the_stream_stays_open(host, alice, execution, stream, payload, opcode):
    path = f"/ws/executions/{execution.pk}/" if stream == "execution" else "/ws/executions/"
    sock, rest = open_raw_stream(host, path, session_cookie(alice))
    sock.settimeout(0.5)
    with sock:
        sock.sendall(client_frame(payload, opcode))
        sock.sendall(client_frame(b"still there?", PING))
        # Long enough for the consumer to have met the frame: it used to close within ~0.1 s.
        frames = frames_for(sock, rest, 2.0)
    assert (PONG, b"still there?") in frames
    assert [body for kind, body in frames if kind == CLOSE] == []
