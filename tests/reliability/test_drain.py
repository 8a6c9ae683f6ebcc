"""SIGTERM drains a `runengine` process (SPEC §4.6): it claims nothing new, a node run on a
worker thread (an HTTP call) finishes within the grace period and keeps its result, a
waiting `delay` is released at once, the process exits, and another engine completes the
run — nothing is lost and nothing that finished runs twice."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from engine.models import Execution, NodeRun
from tests.http_server import QuietHandler, serving
from tests.reliability.conftest import Engines, definition, rows, status_of, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
START = {"id": "start", "type": "start"}


class SlowHandler(QuietHandler):
    calls = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).calls += 1
        time.sleep(1.5)
        self.send(200, json.dumps({"slow": True}).encode())


@pytest.fixture
def slow_server() -> Iterator[str]:
    SlowHandler.calls = 0
    with serving(SlowHandler) as url:
        yield f"{url}/slow"


def test_sigterm_lets_the_http_call_finish_within_grace_then_another_engine_completes(
    engines: Engines, run_workflow: Any, slow_server: str
) -> None:
    d = definition([START, {"id": "call", "type": "http", "config": {"method": "GET", "url": slow_server}},
                    {"id": "after", "type": "delay", "config": {"duration": 200}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{call.body}}"}}],
                   [("start", "call"), ("call", "after"), ("after", "out")])
    ex = run_workflow(d)
    first = engines.start("--grace", "8", FLOWMAESTRO_HTTP_ALLOW_PRIVATE="true")
    wait_for(lambda: rows(ex.id, "call") == [(1, "running")], what="http call running")
    sent = time.monotonic()
    first.terminate()  # SIGTERM
    first.wait(20)
    took = time.monotonic() - sent
    assert took < 8 + 3, f"drain took {took:.1f} s"
    # The call finished inside the grace period and kept its result; the execution was
    # released (no owner), not left to go stale.
    assert rows(ex.id, "call") == [(1, "succeeded")]
    released = Execution.objects.get(id=ex.id)
    assert released.status == "running" and released.engine_id == ""
    # A second engine, started later, finishes the run (released runs need no staleness wait).
    second = engines.start("--grace", "8", FLOWMAESTRO_HTTP_ALLOW_PRIVATE="true", stale_after=3600)
    wait_for(lambda: status_of(ex.id) in ("succeeded", "failed", "cancelled"), what="finished")
    ex.refresh_from_db()
    assert ex.status == "succeeded", ex.error
    assert ex.output == {"out": {"slow": True}}
    assert SlowHandler.calls == 1  # the HTTP call was not repeated
    assert rows(ex.id, "call") == [(1, "succeeded")]
    assert rows(ex.id, "after")[-1][1] == "succeeded"
    assert NodeRun.objects.filter(execution_id=ex.id, node_id="out", claimed_by=second.engine_id).exists()  # type: ignore[attr-defined]
    assert "engine stopped" in engines.output(first)


def test_sigterm_releases_a_long_delay_at_once_and_another_engine_runs_it_again(
    engines: Engines, run_workflow: Any
) -> None:
    d = definition([START, {"id": "wait", "type": "delay", "config": {"duration": 30000}},
                    {"id": "out", "type": "output", "name": "out", "config": {"value": "{{wait}}"}}],
                   [("start", "wait"), ("wait", "out")])
    ex = run_workflow(d, {"k": 1})
    first = engines.start("--grace", "10")
    wait_for(lambda: rows(ex.id, "wait") == [(1, "running")], what="delay running")
    sent = time.monotonic()
    first.terminate()
    first.wait(20)
    # A delay is a timer, not a busy worker: nothing to wait for, so the drain is quick.
    assert time.monotonic() - sent < 5
    assert Execution.objects.get(id=ex.id).engine_id == ""
    engines.start(stale_after=3600)
    wait_for(lambda: rows(ex.id, "wait") == [(1, "cancelled"), (2, "running")], what="delay runs again")
    interrupted = NodeRun.objects.filter(execution_id=ex.id, node_id="wait", attempt=1).get()
    assert "interrupted" in interrupted.error["message"]
    assert status_of(ex.id) == "running"
