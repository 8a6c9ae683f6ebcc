"""FLOWMAESTRO_HTTP_JSON_MAX_VALUES on the real engine: an `http` node whose JSON answer
would parse into more values and keys than the bound fails its execution with a message
naming the bound; another user's run against the same server goes on and succeeds.
(tests/engine/nodes/test_http_json_values.py holds the 20 MB case and its memory.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User

from engine.models import NodeRun
from tests.engine.runs import START, definition, start_run, wait_finished
from tests.http_server import QuietHandler, serving

pytestmark = pytest.mark.django_db(transaction=True)


class Answers(QuietHandler):
    def do_GET(self) -> None:
        count = {"/many": 2000, "/few": 100}[self.path]
        self.send(200, b"[" + b",".join([b"{}"] * count) + b"]")


@pytest.fixture
def server(settings: Any) -> Iterator[str]:
    settings.FLOWMAESTRO_HTTP_ALLOW_PRIVATE = True
    settings.FLOWMAESTRO_HTTP_JSON_MAX_VALUES = 1000
    with serving(Answers) as url:
        yield url


def fetch(url: str) -> dict[str, Any]:
    return definition([START, {"id": "get", "type": "http", "config": {"url": url}}], [("start", "get")])


def test_an_answer_past_the_bound_fails_that_execution_only(server: str, alice: User, bob: User):
    hostile = start_run(alice, fetch(f"{server}/many"))
    other = start_run(bob, fetch(f"{server}/few"))
    failed, fine = wait_finished(hostile.pk), wait_finished(other.pk)
    assert failed.status == "failed"
    run = NodeRun.objects.get(execution_id=failed.pk, node_id="get")
    assert run.status == "failed" and run.attempt == 1  # not retried: the same answer would come back
    message = run.error["message"]
    assert "about 4000 JSON values" in message and "more than 1000" in message, message
    assert "FLOWMAESTRO_HTTP_JSON_MAX_VALUES" in message, message
    assert fine.status == "succeeded", fine.error
    assert len(NodeRun.objects.get(execution_id=fine.pk, node_id="get").output["body"]) == 100
