"""Code that closes the sandbox wrapper's function runs at compile time, and is stopped there
at the evaluation's own time limit, by V8, like any endless loop.

Found by the attacker pass: `}; while (true) {}; function f() {` ran while the wrapper was
compiled, under a 5 s limit instead of the evaluation's, so the parent gave up on the
worker at its own limit and killed it: each such evaluation cost a new worker process
(about a second of CPU), where a plain `while (true) {}` keeps its worker.
"""

from __future__ import annotations

import pytest

from engine.expressions import ExpressionError, evaluate, sandbox

ESCAPES = ["}; while (true) {}; function __after() {", "}; for (;;) { Math.random(); } const __after = function () {"]


@pytest.mark.parametrize("code", ESCAPES)
def test_an_escape_from_the_wrapper_is_a_timeout_and_keeps_its_worker(code: str):
    assert evaluate("1 + 1", {}).value == 2
    before = {worker.proc.pid for worker in sandbox._pool._idle}
    with pytest.raises(ExpressionError) as info:
        evaluate(code, {}, timeout_ms=300)
    assert info.value.kind == "timeout"
    after = {worker.proc.pid for worker in sandbox._pool._idle}
    assert before <= after, "the worker was killed and replaced"
    assert evaluate("2 + 2", {}).value == 4
