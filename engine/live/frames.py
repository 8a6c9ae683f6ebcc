"""Prebuilt websocket frames: send one execution's events to many clients without framing
each event once per client (SPEC §8, the `stream` benchmark).

A server-to-client websocket frame is not masked (RFC 6455 §5.1), so the bytes of an
event's frame are the same for every client. `text_frame` builds them once, and a batch of
events goes to a client as one write of the concatenated frames: the client still sees one
text frame per event, exactly the frames `websocket.send` would have produced.

ASGI has no message for "write these bytes", so this module teaches daphne one, as an ASGI
extension: `install()` adds `flowmaestro.websocket.frames` to every websocket scope's
`extensions`, and daphne's websocket protocol then accepts
`{"type": "flowmaestro.websocket.frames", "data": <frames>}` and hands the bytes to
autobahn's `sendData` (what autobahn's own `sendPreparedMessage` does with a message framed
in advance). A consumer uses the message only when its scope advertises the extension, so
under another server (or Channels' test communicator) it sends plain `websocket.send`.
Profiled before this: per-client framing in autobahn plus the ASGI send chain was most of
the server's event-loop time while streaming.
"""

from __future__ import annotations

import logging
import struct
from typing import Any

log = logging.getLogger("engine")

EXTENSION = "flowmaestro.websocket.frames"
MESSAGE_TYPE = EXTENSION

_FIN_TEXT = 0x81  # FIN bit + opcode 1 (text)


def text_frame(text: str) -> bytes:
    """One unfragmented, unmasked text frame carrying `text` (RFC 6455 §5.2)."""
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", _FIN_TEXT, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", _FIN_TEXT, 126, size)
    else:
        header = struct.pack("!BBQ", _FIN_TEXT, 127, size)
    return header + payload


def supported(scope: dict[str, Any]) -> bool:
    return EXTENSION in (scope.get("extensions") or {})


_installed = False


def install() -> None:
    """Teach daphne (when it is the server in this process) the frames message. Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True
    try:
        from daphne.server import Server
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # not served by daphne: consumers fall back to `websocket.send`
        return

    create_application = Server.create_application
    handle_reply = WebSocketProtocol.handle_reply

    def create_application_with_frames(self: Any, protocol: Any, scope: dict[str, Any]) -> Any:
        if scope.get("type") == "websocket":
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}), EXTENSION: {}}}
        return create_application(self, protocol, scope)

    def handle_reply_with_frames(self: Any, message: dict[str, Any]) -> None:
        if message.get("type") != MESSAGE_TYPE:
            handle_reply(self, message)
        elif self.state == self.STATE_OPEN:
            # After a close has begun, nothing more goes out: what `websocket.send` does too.
            self.sendData(message["data"])

    Server.create_application = create_application_with_frames  # type: ignore[method-assign]
    WebSocketProtocol.handle_reply = handle_reply_with_frames  # type: ignore[method-assign]
