"""A script's console lines are bounded (1,000 lines, the output bound in characters) even
when the script writes the reply's head itself.

Found by the attacker pass: the bound was kept by the JavaScript wrapper, and the wrapper
writes its reply with `JSON.stringify`, which calls a `toJSON` the script can put on
`Object.prototype`. A script that did so handed back a head with 50,000 log lines of its
own, and its node run wrote 50,000 log events (a loop of such items: millions of rows in
the database every user's runs share). Now the worker's Python side, which the script
cannot reach, cuts the lines again.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from engine.expressions import evaluate
from engine.models import Event
from tests.engine.runs import START, definition, start_run, wait_finished

FORGE = """Object.prototype.toJSON = function () {
  if (this && this.ok !== undefined && Array.isArray(this.logs)) {
    const l = []; for (let i = 0; i < 20000; i++) l.push("forged line " + i);
    return {ok: true, logs: l, message: "m".repeat(100000)};
  }
  return this;
};
return 1;"""


def test_forged_log_lines_are_cut_to_the_bound():
    result = evaluate(FORGE, {})
    assert result.value == 1
    assert result.logs[:2] == ["forged line 0", "forged line 1"]
    assert len(result.logs) <= 1002, len(result.logs)
    assert result.logs[-1] == "... 19000 more log line(s) dropped"


def test_forged_log_lines_cannot_exceed_the_bound_in_characters():
    long_lines = FORGE.replace('"forged line " + i', '"x".repeat(2000)').replace("20000", "2000")
    result = evaluate(long_lines, {}, max_output_bytes=100_000)
    assert sum(len(line) for line in result.logs) <= 100_000 + 100
    assert result.logs[-1].endswith("more log line(s) dropped")


def test_the_wrappers_own_bound_is_unchanged():
    result = evaluate("for (let i = 0; i < 1500; i++) console.log('line ' + i); return 2;", {})
    assert result.value == 2
    assert len(result.logs) == 1001 and result.logs[-1] == "... 500 more log line(s) dropped"
    assert result.logs[0] == "line 0" and result.logs[999] == "line 999"


@pytest.mark.django_db(transaction=True)
def test_a_node_run_writes_at_most_the_bound_of_log_events(alice: User):
    d = definition([START, {"id": "t", "type": "transform", "config": {"operation": "custom", "expression": FORGE}}],
                   [("start", "t")])
    ex = wait_finished(start_run(alice, d).pk, timeout=60)
    assert ex.status == "succeeded", ex.error
    assert Event.objects.filter(execution=ex, type="log").count() <= 1002
