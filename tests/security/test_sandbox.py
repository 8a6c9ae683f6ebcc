"""The expression sandbox (SPEC §5): escape attempts find nothing of the host, runaway
code fails its own evaluation with a clear error and harms nothing else."""

from __future__ import annotations

import os
import threading
import time

import pytest

from engine.expressions import ExpressionError, evaluate
from tests.engine.definitions import SEED_CUSTOM_MERGE


def test_the_seed_custom_merge_runs_verbatim():
    result = evaluate(
        SEED_CUSTOM_MERGE,
        {"branch_a": {"count": 2, "emails": ["a@x.io"]}, "branch_b": {"count": 3, "emails": ["b@x.io"]}},
    )
    assert result.value["totalUsers"] == 5
    assert result.value["allEmails"] == ["a@x.io", "b@x.io"]
    assert abs(result.value["merged"] / 1000 - time.time()) < 60


def test_bindings_are_data_never_code():
    hostile = "'); throw new Error('injected'); ('"
    result = evaluate("input.name + '|' + input['x\"y']", {"input": {"name": hostile, 'x"y': "\u2028ok"}})
    assert result.value == hostile + "|\u2028ok"


def test_binding_names_that_are_not_identifiers_are_skipped():
    result = evaluate("typeof input", {"input": 1, "get-users": 2, "class": 3, "9lives": 4})
    assert result.value == "number"


def test_an_endless_loop_hits_the_time_limit_and_the_next_evaluation_works():
    started = time.monotonic()
    with pytest.raises(ExpressionError) as info:
        evaluate("while (true) {}", {}, timeout_ms=500)
    elapsed = time.monotonic() - started
    assert info.value.kind == "timeout"
    assert "time limit of 500 ms" in info.value.message
    assert elapsed < 1.0  # within ~2x the limit
    assert evaluate("1 + 1", {}).value == 2


@pytest.mark.parametrize(
    "bomb",
    [
        "const a = []; while (true) a.push(new Array(100000).fill(1.5));",
        "const a = []; let i = 0; while (true) a.push({ i: i++, s: 'x' + i });",
        "let s = 'abc'; const keep = []; while (true) { keep.push(s.repeat(1000) + keep.length); }",
    ],
)
def test_a_memory_bomb_hits_the_memory_limit_and_the_process_survives(bomb):
    with pytest.raises(ExpressionError) as info:
        evaluate(bomb, {}, timeout_ms=5000, memory_mb=32)
    assert info.value.kind == "memory"
    assert "memory limit of 32 MB" in info.value.message
    assert evaluate("[1, 2].length", {}).value == 2


def test_a_fatal_v8_allocation_kills_only_a_sandbox_worker():
    # V8 aborts the whole process on this one; it runs in a worker process, so the engine
    # reports an error and carries on.
    with pytest.raises(ExpressionError) as info:
        evaluate("new Array(2 ** 31).fill(0).length", {}, timeout_ms=500)
    assert info.value.kind in {"timeout", "memory"}
    assert evaluate("'still' + ' here'", {}).value == "still here"


@pytest.mark.parametrize(
    "attempt",
    [
        "this.constructor.constructor('return this')().process",
        "Function('return this')().require",
        "Function('return typeof process + typeof require + typeof module + typeof Deno + typeof fetch')()",
        "(() => { try { return require('fs') } catch (e) { return e.name } })()",
        "Object.getPrototypeOf(async function(){}).constructor('return 1').name",
        "globalThis.process || globalThis.require || globalThis.__import__ || globalThis.os || null",
        "[].constructor.constructor('return Object.getOwnPropertyNames(globalThis).filter(n => /^(process|require|module|exports|Buffer|fetch|XMLHttpRequest|importScripts|Deno|Bun|__import__|open|os|sys)$/.test(n))')()",
    ],
)
def test_escape_attempts_find_nothing_of_the_host(attempt):
    value = evaluate(attempt, {}).value
    assert value in (None, "ReferenceError", "undefinedundefinedundefinedundefinedundefined", "anonymous", [])


def test_the_global_object_holds_only_javascript_builtins():
    names = evaluate("Object.getOwnPropertyNames(globalThis)", {}).value
    assert not {"process", "require", "module", "Buffer", "fetch", "XMLHttpRequest"} & set(names)
    # No host function is exposed: every function on the global is a JavaScript builtin
    # or mini-racer's pure-JS setTimeout shim.
    host_like = evaluate(
        "Object.getOwnPropertyNames(globalThis).filter(n => typeof globalThis[n] === 'function' && "
        "/\\[native code\\]/.test(Function.prototype.toString.call(globalThis[n])) && "
        "!/^[A-Z]/.test(n) && !['parseFloat','parseInt','decodeURI','decodeURIComponent','encodeURI',"
        "'encodeURIComponent','escape','unescape','eval','isFinite','isNaN'].includes(n))",
        {},
    ).value
    assert host_like == []


def test_dynamic_import_reaches_nothing():
    with pytest.raises(ExpressionError) as info:
        evaluate("import('fs')", {})
    assert info.value.kind == "not_serialisable"  # a Promise that can never load anything
    result = evaluate(
        "let r = 'pending'; import('os').then(() => { r = 'loaded' }, () => { r = 'refused' }); return r", {}
    )
    assert result.value == "pending"


def test_nothing_survives_from_one_evaluation_to_the_next():
    evaluate("globalThis.leak = 'secret'; Object.prototype.polluted = true; return 1", {})
    assert evaluate("typeof leak + ' ' + ({}).polluted", {}).value == "undefined undefined"


def test_huge_output_is_refused():
    with pytest.raises(ExpressionError) as info:
        evaluate("'x'.repeat(2000000)", {}, max_output_bytes=1_000_000)
    assert info.value.kind == "output_too_large"
    # The cap counts UTF-8 bytes, not characters.
    with pytest.raises(ExpressionError, match="too large"):
        evaluate("'é'.repeat(600)", {}, max_output_bytes=1000)
    assert evaluate("'é'.repeat(400)", {}, max_output_bytes=1000).value == "é" * 400


@pytest.mark.parametrize(
    "code, fragment",
    [
        ("(() => 1)", "function"),
        ("({ big: 1n })", "BigInt"),
        ("const o = {}; o.self = o; return o", "circular"),
        ("Promise.resolve(1)", "Promise"),
    ],
)
def test_output_that_is_not_json_fails_clearly(code, fragment):
    with pytest.raises(ExpressionError) as info:
        evaluate(code, {})
    assert info.value.kind == "not_serialisable"
    assert fragment in info.value.message


def test_syntax_errors_name_the_line():
    with pytest.raises(ExpressionError) as info:
        evaluate("const a = 1;\nconst b = ;\nreturn a", {})
    assert info.value.kind == "syntax"
    assert "line 2" in info.value.message
    assert info.value.retryable is False


def test_thrown_errors_carry_message_line_and_earlier_logs():
    with pytest.raises(ExpressionError) as info:
        evaluate("console.log('checking', input.id);\nthrow new TypeError('bad input')", {"input": {"id": 3}})
    assert info.value.kind == "thrown"
    assert "TypeError: bad input (line 2)" in info.value.message
    assert info.value.logs == ["checking 3"]


def test_console_lines_are_captured():
    result = evaluate(
        "console.log('a', 1, {b: [2]}); console.info('i'); console.warn('w'); console.error('e'); return null", {}
    )
    assert result.value is None
    assert result.logs == ['a 1 {"b":[2]}', "i", "[warn] w", "[error] e"]


def test_expressions_and_function_bodies():
    assert evaluate("input.items.map(function (x) { return x * 2 })", {"input": {"items": [1, 2]}}).value == [2, 4]
    assert evaluate("input.n > 1;", {"input": {"n": 2}}).value is True
    assert evaluate("{ a: 1 }", {}).value == {"a": 1}
    assert evaluate("const x = input.n * 3;\nreturn { x };", {"input": {"n": 2}}).value == {"x": 6}


def test_a_code_read_once_as_a_function_body_reads_the_same_every_time():
    # A sandbox worker remembers which codes parsed only as a function body; each of
    # these, evaluated again and again (on whichever worker), keeps its own meaning, and
    # a failed evaluation still runs in a fresh isolate.
    cases = [
        ("input.items.map(function (x) { return x * 2 })", [2, 4]),
        ("const x = input.items.length; return x * 10;", 20),
        ("input.items.length", 2),
        ("globalThis.seen = (globalThis.seen || 0) + 1; return seen;", 1),
    ]
    for _ in range(4):
        for code, value in cases:
            assert evaluate(code, {"input": {"items": [1, 2]}}).value == value, code
        with pytest.raises(ExpressionError) as info:
            evaluate("const y = 1; throw new Error('boom ' + y);", {})
        assert info.value.kind == "thrown" and "boom 1" in str(info.value)


def test_concurrent_evaluations_give_independent_results():
    results: dict[int, object] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for round_ in range(5):
                code = "globalThis.mine = input.n; let s = 0; for (let i = 0; i < 20000; i++) s += i % 7; return [mine, input.round, s]"
                results[(n, round_)] = evaluate(code, {"input": {"n": n, "round": round_}}).value
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    expected_sum = sum(i % 7 for i in range(20000))
    assert results == {(n, r): [n, r, expected_sum] for n in range(8) for r in range(5)}


def test_an_endless_loop_does_not_block_other_evaluations():
    slow = threading.Thread(target=lambda: pytest.raises(ExpressionError, evaluate, "for(;;){}", {}, timeout_ms=1500))
    slow.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert evaluate("40 + 2", {}).value == 42
    assert time.monotonic() - started < 1.0
    slow.join(10)


def test_sandbox_workers_do_not_leak():
    import psutil

    for _ in range(3):
        with pytest.raises(ExpressionError):
            evaluate("while(true){}", {}, timeout_ms=100)
    from engine.expressions import sandbox

    workers = [p for p in psutil.Process(os.getpid()).children() if sandbox.WORKER_PATH in " ".join(p.cmdline())]
    assert 1 <= len(workers) <= sandbox.MAX_WORKERS
