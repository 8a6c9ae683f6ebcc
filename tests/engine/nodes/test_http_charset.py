"""A response whose charset names no text encoding reads as UTF-8.

Found by the attacker pass: `Content-Type: application/json; charset=hex` (or `rot13`,
`base64`, `idna`) failed the node run with Python's codec error ("'hex' is not a text
encoding; use codecs.decode()…"), marked retryable, so the node's retries asked the server
again for the same answer. httpx already reads a charset it does not know as UTF-8; a
codec that is not a text encoding is now read the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.nodes.base import EngineOptions
from tests.http_server import QuietHandler, serving

ALLOW = EngineOptions(http_allow_private=True)


class Charsets(QuietHandler):
    def do_GET(self) -> None:
        charset = self.path.strip("/")
        self.send(200, '{"name": "Zoë"}'.encode(), f"application/json; charset={charset}")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(Charsets) as url:
        yield url


@pytest.mark.parametrize("charset", ["hex", "rot13", "base64", "zlib", "idna"])
def test_a_charset_that_is_no_text_encoding_reads_as_utf8(run_node, server, charset):
    output, _ = run_node("http", {"url": f"{server}/{charset}"}, options=ALLOW)
    assert output["status"] == 200
    assert output["body"] == {"name": "Zoë"}


@pytest.mark.parametrize(("charset", "name"), [("utf-8", "Zoë"), ("latin-1", "ZoÃ«"), ("no-such-charset", "Zoë")])
def test_text_encodings_read_as_before(run_node, server, charset, name):
    output, _ = run_node("http", {"url": f"{server}/{charset}"}, options=ALLOW)
    assert output["body"] == {"name": name}
