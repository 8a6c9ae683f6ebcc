"""A failing node's error is bounded: probed on a live server, `throw 'q'.repeat(4e6)` stored
a 4 MB message on the node run, the execution and its events, and every later answer that
shows errors carried it (the user's and the staff's executions list grew by 4 MB a run);
thrown at 30 MB, the sandbox took longer to hand the message over than the evaluation's
time limit and the run was reported as "exceeded its time limit"."""

from __future__ import annotations

import json

import pytest

from engine.core.json_bounds import MAX_ERROR_CHARS
from engine.models import Event, NodeRun
from tests.engine.runs import START, definition, run

pytestmark = pytest.mark.django_db(transaction=True)


def _script(code: str) -> dict:
    return definition([START, {"id": "t", "type": "transform", "config": {"operation": "custom", "expression": code}}],
                      [("start", "t")])


@pytest.mark.parametrize("code", ["throw 'q'.repeat(4e6)", "throw new Error('q'.repeat(4e6))",
                                  "throw {huge: 'q'.repeat(4e6)}"])
def test_a_huge_thrown_message_is_cut_and_says_so(alice, alice_client, code):
    ex = run(alice, _script(code))
    error = NodeRun.objects.get(execution=ex, node_id="t").error
    message = error["message"]
    assert len(message) <= MAX_ERROR_CHARS + 100, len(message)
    assert "characters cut" in message, message[-200:]
    assert message.startswith("Expression threw")
    assert len(json.dumps(ex.error)) < 2 * MAX_ERROR_CHARS
    assert sum(len(json.dumps(e.data)) for e in Event.objects.filter(execution=ex)) < 10 * MAX_ERROR_CHARS
    assert len(alice_client.get("/api/executions").content) < 10 * MAX_ERROR_CHARS


def test_a_message_thrown_at_30_mb_is_reported_as_thrown_not_as_a_timeout(alice):
    ex = run(alice, _script("throw 'q'.repeat(3e7)"))
    message = NodeRun.objects.get(execution=ex, node_id="t").error["message"]
    assert message.startswith("Expression threw"), message[:200]


def test_a_fail_node_with_a_huge_templated_message_and_details_is_cut(alice):
    d = definition([START,
                    {"id": "big", "type": "transform", "config": {"operation": "custom", "expression": "'m'.repeat(9e5)"}},
                    {"id": "f", "type": "fail", "config": {"message": "{{big}}", "details": {"copy": "{{big}}"}}}],
                   [("start", "big"), ("big", "f")])
    ex = run(alice, d)
    error = NodeRun.objects.get(execution=ex, node_id="f").error
    assert len(json.dumps(error)) < 3 * MAX_ERROR_CHARS, len(json.dumps(error))
    assert "characters cut" in error["message"]


def test_an_ordinary_error_is_untouched(alice):
    ex = run(alice, _script("throw new Error('no such user: 42')"))
    assert NodeRun.objects.get(execution=ex, node_id="t").error["message"] == \
        "Expression threw Error: no such user: 42 (line 1)"
