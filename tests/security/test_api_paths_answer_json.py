"""Paths of the JSON APIs that match nothing answer a JSON 404, on a real daphne.

Before: `/demo-api/<anything unknown>` (the demo API the demo workflows call, whose answers
become node outputs) and an API path asked for with a slash too many (`//api/…`, what a
client joining "http://host/" and "/api/…" sends) answered Django's HTML "Not Found" page."""

from __future__ import annotations

import json
import socket

import pytest

from tests.daphne import running_daphne

pytestmark = pytest.mark.django_db(transaction=True)


def request(host: str, method: str, path: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of one HTTP/1.0 request sent as written (no client
    library normalises the path)."""
    name, port = host.split(":")
    with socket.create_connection((name, int(port)), timeout=10) as sock:
        sock.sendall(f"{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers.get("content-type", ""), body


@pytest.fixture(scope="module")
def host() -> object:
    with running_daphne() as address:
        yield address


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/demo-api/nope"),
    ("GET", "/demo-api/users/1234567890123/profile"),
    ("POST", "/demo-api/"),
    ("GET", "//api/workflows"),
    ("GET", "//api/workflows/1"),
    ("DELETE", "///api/executions/1"),
    ("POST", "//hooks/abc"),
])
def test_an_unknown_api_path_is_a_json_404(host, method, path):
    status, content_type, body = request(host, method, path)
    assert (status, content_type) == (404, "application/json"), body[:200]
    assert json.loads(body) == {"detail": "Not found."}


def test_an_unknown_page_is_still_the_html_page(host):
    status, content_type, body = request(host, "GET", "/no-such-page/")
    assert status == 404 and content_type.startswith("text/html")


def test_the_demo_api_still_answers(host):
    status, content_type, body = request(host, "GET", "/demo-api/users")
    assert (status, content_type) == (200, "application/json")
    assert len(json.loads(body)) == 10


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/workflows/%00"),
    ("POST", "/api/executions/1%00/redrive"),
    ("POST", "/api/dead-letters/%00/replay"),
    ("GET", "/api/work%00flows"),
    ("POST", "/hooks/%00"),
])
def test_a_nul_in_a_path_segment_is_a_json_400_with_the_default_settings(host, method, path):
    # With DJANGO_DEBUG unset (as deployed), not only under DJANGO_DEBUG=1.
    status, content_type, body = request(host, method, path)
    assert (status, content_type) == (400, "application/json"), body[:200]
    assert "NUL" in json.loads(body)["detail"]


@pytest.mark.parametrize("path", ["/api/workflows/%ff", "/api/workflows/%C3%28", "/api/workflows/%", "/api/%zz"])
def test_other_odd_bytes_in_a_path_segment_are_a_json_404(host, path):
    status, content_type, body = request(host, "GET", path)
    assert (status, content_type) == (404, "application/json"), body[:200]


def test_a_nul_in_a_path_segment_is_a_json_400_under_debug_too():
    # `make run` serves with DJANGO_DEBUG=1: the refusal went through handler400, and under
    # DEBUG Django answers its HTML debug page instead (with the request's headers in it).
    with running_daphne(env={"DJANGO_DEBUG": "1"}) as debug_host:
        for path in ("/api/workflows/%00", "/api/executions?status=%00", "/hooks/%00"):
            status, content_type, body = request(debug_host, "GET", path)
            assert (status, content_type) == (400, "application/json"), (path, body[:200])
        status, content_type, _ = request(debug_host, "GET", "/no-such-page/%00")
        assert status == 400  # a page elsewhere: Django's own
