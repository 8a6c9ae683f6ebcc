"""The http node against a real local server (allowed with http_allow_private)."""

from __future__ import annotations

import threading
import time
from urllib.parse import quote

import pytest

from engine.nodes.base import EngineOptions, NodeCancelled, NodeError
from engine.nodes.http import HttpNode, status_accepted

ALLOW = EngineOptions(http_allow_private=True)


def test_a_json_response_is_parsed(run_node, local_http_server):
    output, _ = run_node("http", {"method": "GET", "url": f"{local_http_server}/json"}, options=ALLOW)
    assert output["status"] == 200
    assert output["headers"]["content-type"].startswith("application/json")
    assert output["body"] == {"users": [{"id": 1}, {"id": 2}]}


def test_a_text_response_stays_text(run_node, local_http_server):
    output, _ = run_node("http", {"url": f"{local_http_server}/text"}, options=ALLOW)
    assert output["body"] == "héllo"


def test_method_headers_query_and_json_body_are_sent(run_node, local_http_server):
    config = {
        "method": "POST",
        "url": f"{local_http_server}/echo",
        "headers": {"X-Trace": "trace-abc123", "X-Count": 3},
        "query": {"page": 2, "tag": ["a", "b"], "flag": True},
        "body": {"name": "Ann"},
    }
    output, _ = run_node("http", config, options=ALLOW)
    echo = output["body"]
    assert echo["method"] == "POST"
    assert echo["headers"]["x-trace"] == "trace-abc123"
    assert echo["headers"]["x-count"] == "3"
    assert echo["headers"]["content-type"] == "application/json"
    assert echo["query"] == {"page": "2", "tag": ["a", "b"], "flag": "true"}
    assert echo["body"] == '{"name":"Ann"}'


def test_a_string_body_is_sent_as_text(run_node, local_http_server):
    output, _ = run_node("http", {"method": "PUT", "url": f"{local_http_server}/echo", "body": "plain words"}, options=ALLOW)
    assert output["body"]["body"] == "plain words"
    assert output["body"]["headers"]["content-type"].startswith("text/plain")


def test_non_2xx_is_an_error_with_status_and_body(run_node, local_http_server):
    with pytest.raises(NodeError) as info:
        run_node("http", {"url": f"{local_http_server}/status/404"}, options=ALLOW)
    assert "HTTP 404" in info.value.message
    assert info.value.details["status"] == 404
    assert info.value.details["body"] == "status 404"
    assert info.value.retryable is False
    with pytest.raises(NodeError) as server_error:
        run_node("http", {"url": f"{local_http_server}/status/503"}, options=ALLOW)
    assert server_error.value.retryable is True  # worth a retry policy


@pytest.mark.parametrize("accept", [[404], ["404"], ["4xx"], ["400-499"], [500, "4xx"]])
def test_accept_status_turns_a_status_into_a_success(run_node, local_http_server, accept):
    output, _ = run_node("http", {"url": f"{local_http_server}/status/404", "acceptStatus": accept}, options=ALLOW)
    assert output["status"] == 404
    assert output["body"] == "status 404"


def test_a_problem_json_body_is_parsed_when_accepted(run_node, local_http_server):
    output, _ = run_node("http", {"url": f"{local_http_server}/problem", "acceptStatus": ["4xx"]}, options=ALLOW)
    assert output == {"status": 422, "headers": output["headers"], "body": {"error": "invalid"}}


def test_status_accepted_rules():
    assert status_accepted(204, None)
    assert not status_accepted(301, [])
    assert status_accepted(503, ["5xx"])
    assert not status_accepted(404, ["5xx", 403, "405-410"])


def test_redirects_are_followed_with_allowed_private(run_node, local_http_server):
    output, _ = run_node("http", {"url": f"{local_http_server}/redirect?to=/json"}, options=ALLOW)
    assert output["body"] == {"users": [{"id": 1}, {"id": 2}]}


def test_timeout_is_an_error(run_node, local_http_server):
    started = time.monotonic()
    with pytest.raises(NodeError) as info:
        run_node("http", {"url": f"{local_http_server}/slow?seconds=3", "timeout": 300}, options=ALLOW)
    assert "timed out after 300 ms" in info.value.message
    assert info.value.retryable is True
    assert time.monotonic() - started < 2.5  # ended by the 300 ms timeout, not the server's 3 s


def test_a_refused_connection_is_a_retryable_error(run_node):
    with pytest.raises(NodeError) as info:
        run_node("http", {"url": "http://127.0.0.1:9/"}, options=ALLOW)
    assert info.value.retryable is True
    assert "failed" in info.value.message


def test_cancel_aborts_a_slow_request_promptly(node_context, local_http_server):
    ctx = node_context("http", {"url": f"{local_http_server}/slow?seconds=5"}, options=ALLOW)
    threading.Timer(0.3, ctx.cancel).start()
    started = time.monotonic()
    with pytest.raises(NodeCancelled):
        HttpNode().run(ctx)
    assert time.monotonic() - started < 4.0  # cancelled at 0.3 s, before the 5 s the server takes


def test_cancel_while_connecting_is_prompt(node_context, monkeypatch):
    # 10.255.255.1 is unroutable here: connect() would hang until the timeout.
    ctx = node_context("http", {"url": "http://10.255.255.1/", "timeout": 10000}, options=ALLOW)
    threading.Timer(0.2, ctx.cancel).start()
    started = time.monotonic()
    with pytest.raises((NodeCancelled, NodeError)) as info:
        HttpNode().run(ctx)
    # Either way well before the 10 s timeout (bounds with room for a loaded machine).
    if isinstance(info.value, NodeError):  # no route at all: connect failed at once
        assert time.monotonic() - started < 5.0
    else:
        assert time.monotonic() - started < 5.0


def test_an_already_cancelled_run_sends_nothing(node_context, local_http_server):
    ctx = node_context("http", {"url": f"{local_http_server}/json"}, options=ALLOW)
    ctx.cancel()
    with pytest.raises(NodeCancelled):
        HttpNode().run(ctx)


@pytest.mark.parametrize("url", ["", "ftp://example.com/file", "/relative/path", "http://"])
def test_urls_that_are_not_absolute_http_fail_clearly(run_node, url):
    with pytest.raises(NodeError) as info:
        run_node("http", {"url": url}, options=ALLOW)
    assert info.value.retryable is False


def test_schema_names_the_seed_options():
    props = HttpNode.full_schema()["properties"]
    assert props["method"]["enum"][:2] == ["GET", "POST"]
    assert props["timeout"]["default"] == 30000
    assert {"url", "headers", "query", "body", "acceptStatus"} <= set(props)
    assert HttpNode.inline is False


def test_query_adds_to_a_query_already_in_the_url(run_node, local_http_server):
    output, _ = run_node("http", {"url": f"{local_http_server}/echo?a=1", "query": {"b": 2}}, options=ALLOW)
    assert output["body"]["query"] == {"a": "1", "b": "2"}


@pytest.mark.parametrize("body", ['{"price": NaN}', '[Infinity]', '{"n": -Infinity}', '{"big": 1e999}'])
def test_a_json_body_with_a_number_json_cannot_hold_fails_the_node_run(run_node, local_http_server, body):
    # Python's json would read these (and the database would then refuse the output).
    with pytest.raises(NodeError) as info:
        run_node("http", {"url": f"{local_http_server}/raw?body={quote(body)}"}, options=ALLOW)
    assert "the response body is not valid JSON" in info.value.message
    assert "finite" in info.value.message
    assert info.value.retryable is False


def test_a_json_body_nested_past_the_output_bound_fails_the_node_run(run_node, local_http_server):
    options = EngineOptions(http_allow_private=True, output_max_depth=10)
    with pytest.raises(NodeError) as info:
        run_node("http", {"url": f"{local_http_server}/raw?body={quote('[' * 11 + ']' * 11)}"}, options=options)
    assert "the response body is nested deeper than 10 levels" in info.value.message
    output, _ = run_node("http", {"url": f"{local_http_server}/raw?body={quote('[' * 10 + ']' * 10)}"},
                         options=options)
    assert output["body"] == [[[[[[[[[[]]]]]]]]]]


def test_a_body_that_is_not_json_at_all_stays_text(run_node, local_http_server):
    output, _ = run_node("http", {"url": f"{local_http_server}/raw?body={quote('{oops')}"}, options=ALLOW)
    assert output["body"] == "{oops"
