"""The http node's 20 MB response bound holds for compressed bodies too.

Found by the attacker pass: httpx inflates a compressed body before the node counts it, a
whole network read at a time, and applies every layer a server names. A 661-byte answer
with `Content-Encoding: gzip, gzip` became 300 MB in one piece before the bound was
checked (three layers of it: terabytes), in the process every user's runs share. Now the
node inflates the body itself, at most up to the bound, and refuses a body compressed
more than once; one layer of gzip or deflate reads as before.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import pytest

from engine.nodes.base import EngineOptions, NodeError
from engine.nodes.http import MAX_RESPONSE_BYTES
from tests.http_server import QuietHandler, serving
from tests.memory import peak_mb

ALLOW = EngineOptions(http_allow_private=True)
ZEROS = 300 * 1024 * 1024
INNER = gzip.compress(b"\0" * ZEROS, compresslevel=9)  # ~300 KB
TWICE = gzip.compress(INNER, compresslevel=9)  # under 1 KB
HELLO = b'{"hello": "world"}'


class Compressed(QuietHandler):
    def do_GET(self) -> None:
        bodies = {
            "/twice": (TWICE, "gzip, gzip", "text/plain"),
            "/bomb": (INNER, "gzip", "text/plain"),
            "/gzip": (gzip.compress(HELLO), "gzip", "application/json"),
            "/deflate": (zlib.compress(HELLO), "deflate", "application/json"),
            "/raw-deflate": (_raw_deflate(HELLO), "deflate", "application/json"),
            "/broken": (b"not gzip at all", "gzip", "application/json"),
            "/unknown": (HELLO, "x-custom", "application/json"),
        }
        body, encoding, content_type = bodies[self.path]
        self.send(200, body, content_type, extra={"Content-Encoding": encoding})


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(Compressed) as url:
        yield url



def test_a_body_compressed_twice_is_refused_without_inflating_it(run_node, server):
    with peak_mb() as peak, pytest.raises(NodeError) as info:
        run_node("http", {"url": f"{server}/twice"}, options=ALLOW)
    assert "compressed more than once" in info.value.message and "gzip, gzip" in info.value.message
    assert info.value.retryable is False
    assert peak[0] < 10, f"the body was inflated ({peak[0]:.0f} MB)"


def test_a_compressed_body_past_the_bound_stops_at_the_bound(run_node, server):
    with peak_mb() as peak, pytest.raises(NodeError) as info:
        run_node("http", {"url": f"{server}/bomb"}, options=ALLOW)
    assert f"larger than {MAX_RESPONSE_BYTES} bytes" in info.value.message
    # What is kept up to the bound, and not a network read's whole inflation (64 MB) on top.
    assert peak[0] < MAX_RESPONSE_BYTES / 1e6 + 10, f"the body was inflated past the bound ({peak[0]:.0f} MB)"


@pytest.mark.parametrize("path", ["/gzip", "/deflate", "/raw-deflate", "/unknown"])
def test_one_layer_of_compression_reads_as_before(run_node, server, path):
    output, _ = run_node("http", {"url": f"{server}{path}"}, options=ALLOW)
    assert output["body"] == {"hello": "world"}


def test_a_body_that_is_not_what_its_encoding_says_fails_the_node_run(run_node, server):
    with pytest.raises(NodeError) as info:
        run_node("http", {"url": f"{server}/broken"}, options=ALLOW)
    assert "gzip" in info.value.message
