"""An escape corpus for the expression sandbox (issue 12): host discovery, constructor and
Function/eval tricks, global and prototype pollution that must not survive into the next
evaluation (another user's), and JSON poisoning of the result — each payload with the exact
answer a user gets. Then the same pollution through the real engine, with two users'
runs side by side."""

from __future__ import annotations

from typing import Any

import pytest

from engine.expressions import ExpressionError, evaluate
from engine.models import NodeRun
from engine.runtime import start_engine
from tests.engine.runs import START, definition, make_workflow, start, wait_finished

HOST_PATH_FRAGMENTS = ("/work", "/root", "site-packages", ".py", "/usr/", "/tmp")


class Value:
    def __init__(self, value: Any) -> None:
        self.value = value


class Fails:
    def __init__(self, kind: str, fragment: str) -> None:
        self.kind, self.fragment = kind, fragment


# (id, code, what the user gets). Every value that could carry something of the host is
# pinned exactly: "nothing" is undefined (None), a ReferenceError, or a clear failure.
CORPUS: list[tuple[str, str, Value | Fails]] = [
    # -- finding the host: nothing of Python, Node, a browser or the file system is there
    ("typeof-process", "typeof process", Value("undefined")),
    ("typeof-require", "typeof require", Value("undefined")),
    ("module-exports", "typeof module + typeof exports + typeof __dirname", Value("undefined" * 3)),
    ("network-apis", "[typeof fetch, typeof XMLHttpRequest, typeof WebSocket, typeof importScripts].join()",
     Value("undefined,undefined,undefined,undefined")),
    ("other-runtimes", "typeof Deno + typeof Bun + typeof __import__ + typeof os", Value("undefined" * 4)),
    ("process-by-name", "process.env", Fails("thrown", "ReferenceError: process is not defined")),
    ("require-fs", "require('fs').readFileSync('/etc/passwd', 'utf8')",
     Fails("thrown", "ReferenceError: require is not defined")),
    ("dynamic-import", "import('fs')", Fails("not_serialisable", "Promise")),
    ("import-meta", "import.meta.url", Fails("syntax", "import.meta")),
    # -- constructor escapes: every road to "the global object" ends at the sandbox's own
    ("constructor-chain", "this.constructor.constructor('return this')().process", Value(None)),
    ("array-constructor", "[].constructor.constructor('return typeof process')()", Value("undefined")),
    ("function-global", "Function('return this')().require", Value(None)),
    ("async-function-constructor",
     "Object.getPrototypeOf(async function(){}).constructor('return typeof process')().constructor.name",
     Value("Promise")),
    ("generator-constructor",
     "Object.getPrototypeOf(function*(){}).constructor('yield typeof require')().next().value", Value("undefined")),
    ("sloppy-this", "(function () { return this })() === globalThis", Value(True)),
    ("error-constructor-escape", "(() => { try { null.x } catch (e) { return e.constructor.constructor('return typeof process')() } })()",
     Value("undefined")),
    # -- eval and Function tricks
    ("direct-eval", "eval('typeof require + typeof process')", Value("undefinedundefined")),
    ("indirect-eval", "(0, eval)('this').process", Value(None)),
    ("new-function-body", "new Function('return Object.getOwnPropertyNames(globalThis).filter(n => /^(process|require|Buffer|fetch)$/.test(n))')()",
     Value([])),
    ("settimeout-string", "try { setTimeout('globalThis.x = 1', 0) } catch (e) {} return typeof x", Value("undefined")),
    # -- what the engine's own wrapper leaves reachable
    ("stack-paths", "new Error('where am I').stack", Value(None)),  # checked below: no host path
    ("prepare-stack-trace", "Error.prepareStackTrace = (e, s) => s.map(f => String(f.getFileName())); "
     "return new Error().stack", Value(None)),  # checked below
    ("global-symbols", "Reflect.ownKeys(globalThis).filter(k => typeof k === 'symbol').length", Value(0)),
    ("console-is-data-only", "Object.keys(console).join()", Value("log,info,debug,trace,warn,error")),
    ("console-frozen", "console.log = 1; return typeof console.log", Value("function")),  # frozen: ignored
    ("proxy-on-global-proto", "globalThis.__proto__ = new Proxy({}, {get: () => 'pwned'}); return typeof nothingHere",
     Value("undefined")),
    # -- JSON poisoning of the result (depends on engine/expressions: strict result parsing,
    #    and the reply head written with the JSON.stringify taken before user code runs)
    ("stringify-nan", "JSON.stringify = () => 'NaN'; return 1", Fails("not_serialisable", "NaN is not a JSON number")),
    ("stringify-infinity", "JSON.stringify = () => '1e999'; return 1", Fails("not_serialisable", "too large")),
    ("stringify-nested-nan", "JSON.stringify = () => '{\"a\": [1, -Infinity]}'; return {a: [1]}",
     Fails("not_serialisable", "finite")),
    ("stringify-forged-head", "JSON.stringify = () => '{\"ok\": true}\\n{\"admin\": true}'; return 1",
     Fails("not_serialisable", "not valid JSON")),
    ("stringify-not-json", "JSON.stringify = () => ({}); return 1", Fails("not_serialisable", "not valid JSON")),
    ("stringify-throws", "JSON.stringify = () => { throw new Error('no') }; return 1",
     Fails("not_serialisable", "Error: no")),
    ("stringify-huge", "JSON.stringify = () => '\"' + 'x'.repeat(3000000) + '\"'; return 1",
     Fails("output_too_large", "too large")),
    ("tojson-on-object-prototype", "Object.prototype.toJSON = function () { return 'x' }; return 1",
     Fails("not_serialisable", "changed how JSON is written")),
    ("reflect-apply-replaced", "Reflect.apply = () => 'x'; return {ok: 1}", Value({"ok": 1})),
    ("proto-key-in-result", "JSON.stringify = () => '{\"__proto__\": {\"polluted\": true}}'; return 1",
     Value({"__proto__": {"polluted": True}})),  # a plain key in Python; harmless downstream (below)
    ("getter-throws-on-serialise", "({ get a() { throw new Error('boom') } })", Fails("not_serialisable", "Error: boom")),
    ("proxy-trap-on-serialise", "new Proxy({}, { ownKeys() { throw new Error('trap') } })",
     Fails("not_serialisable", "Error: trap")),
]


def test_the_corpus_is_big_enough():
    assert len(CORPUS) >= 30
    assert len({name for name, _, _ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("code, expected", [(c, e) for _, c, e in CORPUS], ids=[n for n, _, _ in CORPUS])
def test_escape_payload(code: str, expected: Value | Fails):
    if isinstance(expected, Fails):
        with pytest.raises(ExpressionError) as info:
            evaluate(code, {"input": {"n": 7}})
        assert info.value.kind == expected.kind, info.value.message
        assert expected.fragment in info.value.message
        return
    value = evaluate(code, {"input": {"n": 7}}).value
    if code.endswith(".stack") or "prepareStackTrace" in code:
        # Whatever the stack says, it names no file of the host.
        text = str(value)
        assert not any(fragment in text for fragment in HOST_PATH_FRAGMENTS), text
        assert "<anonymous>" in text
        return
    assert value == expected.value


# -- pollution: the next evaluation (possibly another user's) sees pristine built-ins ---------

POLLUTION = [
    ("Object.prototype.polluted = 'yes'", "({}).polluted === undefined"),
    ("Object.prototype.toJSON = () => 'hijacked'", "JSON.stringify({a: 1}) === '{\"a\":1}'"),
    ("Array.prototype.map = () => 'hijacked'", "JSON.stringify([1, 2].map(x => x * 2)) === '[2,4]'"),
    ("JSON.parse = () => ({ hijacked: true })", "input.n === 7"),  # the runner parses bindings with it
    ("JSON.stringify = () => '\"hijacked\"'", "JSON.stringify({a: 1}) === '{\"a\":1}'"),
    ("Function.prototype.call = null; Function.prototype.apply = null", "typeof Function.prototype.call === 'function'"),
    ("globalThis.leak = 'alice-secret'", "typeof leak === 'undefined'"),
    ("Object.defineProperty(globalThis, 'input', { get() { return 'forged' }, configurable: false })",
     "input.n === 7"),
    ("Math.random = () => 4; Date.now = () => 0", "Math.random() < 1 && Date.now() > 0"),
    ("delete globalThis.JSON; delete globalThis.Array", "typeof JSON === 'object' && typeof Array === 'function'"),
    ("Object.freeze(Object.prototype)", "(() => { const o = {}; o.toString = 1; return o.toString === 1 })()"),
    ("String.prototype.replace = () => 'hijacked'", "'abc'.replace('b', 'x') === 'axc'"),
    ("Promise.prototype.then = () => 'hijacked'", "typeof Promise.prototype.then === 'function' && "
     "Promise.prototype.then.toString().includes('native code')"),
    ("Error.prepareStackTrace = () => 'hijacked'", "new Error('x').stack.startsWith('Error: x')"),
    ("Symbol.prototype.toString = () => 'hijacked'", "Symbol('s').toString() === 'Symbol(s)'"),
]


@pytest.mark.parametrize("pollute, check", POLLUTION, ids=[p.split(" ")[0] for p, _ in POLLUTION])
def test_pollution_never_reaches_the_next_evaluation(pollute: str, check: str):
    try:
        evaluate(pollute + "; return 1", {"input": {"n": 1}})
    except ExpressionError:
        pass  # some of these break their own evaluation; only the next one matters
    assert evaluate(check, {"input": {"n": 7}}).value is True


def test_a_proto_key_in_a_result_pollutes_nothing_downstream():
    poisoned = evaluate("JSON.stringify = () => '{\"__proto__\": {\"polluted\": true}}'; return 1", {}).value
    # The next node gets it as a binding: JSON.parse makes "__proto__" an own key, never the prototype.
    assert evaluate("[({}).polluted, Object.keys(prev).join(), prev.__proto__ === Object.prototype]",
                    {"prev": poisoned}).value == [None, "__proto__", False]


# -- through the real engine: one user's pollution next to another user's runs -------------------


def transform(node_id: str, code: str) -> dict[str, Any]:
    return {"id": node_id, "type": "transform", "config": {"operation": "custom", "expression": code}}


@pytest.mark.django_db(transaction=True)
def test_one_users_pollution_never_reaches_another_users_runs(alice, bob):
    attacker = definition(
        [START, *[transform(f"p{i}", p + "; return 1") for i, (p, _) in enumerate(POLLUTION)]],
        [("start", f"p{i}") for i in range(len(POLLUTION))], maxConcurrency=20,
    )
    checks = " && ".join(f"({c})" for _, c in POLLUTION)
    victim = definition([START, transform("check", f"return {checks}")], [("start", "check")])
    # Interleaved, so that the engine runs the attacker's transforms and the victim's checks
    # at the same time on the same sandbox workers.
    attacker_wf, victim_wf = make_workflow(alice, attacker), make_workflow(bob, victim)
    started = []
    for _ in range(4):
        started.append(start(alice, attacker_wf, {"n": 1}))
        started.append(start(bob, victim_wf, {"n": 7}))
    engine = start_engine()
    for execution in started:
        assert engine.wait(execution.id, 60), f"execution {execution.id} did not finish"
    finished = [wait_finished(execution.id, 5) for execution in started]
    bobs = [execution for execution in finished if execution.owner_id == bob.pk]
    assert len(bobs) == 4
    for execution in bobs:
        assert execution.status == "succeeded", execution.error
        assert NodeRun.objects.get(execution=execution, node_id="check").output is True
