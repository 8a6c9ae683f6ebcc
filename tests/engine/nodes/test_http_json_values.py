"""What an `http` node's JSON answer may cost once parsed (FLOWMAESTRO_HTTP_JSON_MAX_VALUES).

Found by the attacker pass: the body bound is 20 MB of text, but 20 MB of `[{},{},…]` is
7 million empty objects, ~480 MB of Python objects, and one user holds many node threads
at once. Now the values and keys of a JSON answer are counted in its text before it is
parsed (one per `,` `:` `[` `{` outside strings), and past the bound the node run fails
naming it, without the objects ever being made. Ordinary large answers still parse.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from engine.core.json_bounds import DEFAULT_HTTP_JSON_MAX_VALUES
from engine.nodes.base import EngineOptions, NodeError
from engine.nodes.http import MAX_RESPONSE_BYTES
from tests.http_server import QuietHandler, serving
from tests.memory import peak_mb

ALLOW = EngineOptions(http_allow_private=True)
# Just under the 20 MB body bound: 6,990,506 empty objects.
EMPTY_OBJECTS = b"[" + b",".join([b"{}"] * ((MAX_RESPONSE_BYTES - 2) // 3)) + b"]"
# ~5 MB of ordinary records: ~600,000 values and keys, within the default.
RECORDS = json.dumps([{"id": i, "name": f"User number {i}", "email": f"user{i}@example.com", "active": i % 2 == 0,
                       "score": i / 7, "tags": ["a", "b"]} for i in range(40_000)]).encode()
# One 5 MB string full of commas and brackets: one value, however many marks it holds.
PUNCTUATION = json.dumps({"text": "a, [b], {c}: d\\\" " * 300_000}).encode()


class Answers(QuietHandler):
    def do_GET(self) -> None:
        body = {"/empty-objects": EMPTY_OBJECTS, "/records": RECORDS, "/punctuation": PUNCTUATION,
                "/small": b"[" + b",".join([b"{}"] * 2000) + b"]"}[self.path]
        self.send(200, body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(Answers) as url:
        yield url



def test_a_20_mb_answer_of_empty_objects_fails_the_node_run_before_it_is_parsed(run_node, server):
    assert len(EMPTY_OBJECTS) <= MAX_RESPONSE_BYTES
    with peak_mb() as peak, pytest.raises(NodeError) as info:
        run_node("http", {"url": f"{server}/empty-objects"}, options=ALLOW)
    message = info.value.message
    assert "FLOWMAESTRO_HTTP_JSON_MAX_VALUES" in message and str(DEFAULT_HTTP_JSON_MAX_VALUES) in message, message
    assert "13981012" in message, message  # the count: a comma and a brace per object, and the array's bracket
    assert info.value.retryable is False
    # The body's bytes and text (~20 MB each) and the count's copies, never the ~480 MB of objects.
    assert peak[0] < 100, f"the answer was parsed ({peak[0]:.0f} MB)"


def test_five_megabytes_of_ordinary_records_still_parse(run_node, server):
    assert len(RECORDS) > 4_500_000
    output, _ = run_node("http", {"url": f"{server}/records"}, options=ALLOW)
    assert output["status"] == 200
    assert len(output["body"]) == 40_000 and output["body"][39_999]["email"] == "user39999@example.com"


def test_commas_and_brackets_inside_strings_are_not_values(run_node, server):
    output, _ = run_node("http", {"url": f"{server}/punctuation"}, options=ALLOW)
    assert output["body"]["text"].startswith('a, [b], {c}: d\\" ')


def test_the_bound_is_the_engines_option(run_node, server):
    """FLOWMAESTRO_HTTP_JSON_MAX_VALUES reaches the node as `http_json_max_values`."""
    small = EngineOptions(http_allow_private=True, http_json_max_values=1000)
    with pytest.raises(NodeError) as info:
        run_node("http", {"url": f"{server}/small"}, options=small)
    assert "4000" in info.value.message and "more than 1000" in info.value.message
    output, _ = run_node("http", {"url": f"{server}/small"}, options=ALLOW)
    assert len(output["body"]) == 2000
