"""The sandbox worker process: evaluates one expression at a time in a fresh V8 isolate.

Run by `sandbox.py` as `python worker.py` (by path, so it imports nothing of the project
or Django: only the standard library and `py_mini_racer`). It reads requests from stdin and
writes replies to stdout, each a 4-byte big-endian length plus UTF-8 JSON.

Why a separate process at all: a few V8 allocations are *fatal* by design ("Fatal
JavaScript out of memory: invalid table size", e.g. `new Array(2**31).fill(0)`), run inside
builtins that neither the hard memory limit nor termination interrupt, and abort the whole
process. In a worker that kills only the worker; the parent reports a memory error and
starts a new one.

How the memory limit (`memoryMb`) is enforced: twice, because V8 keeps two kinds of memory.
The JavaScript heap is capped by mini-racer's hard memory limit (checked by the garbage
collector, which then terminates the script). ArrayBuffers and typed arrays live *outside*
that heap (V8 asks the embedder's allocator for them), as do a few large internal buffers,
so the heap limit alone let `new Float64Array(1e8)` take 800 MB. For those, the worker
lowers its own RLIMIT_DATA (all private writable memory of the process) to what it uses
now plus the limit and a margin while the script runs: an allocation beyond it fails at
once — an ArrayBuffer with a RangeError (reported as a memory error), a V8 heap page by
aborting the worker (the parent reports a memory error and starts a new worker). The
kernel enforces it, so no polling can be outrun by a fast `fill`.

Request:  {"code", "names": [binding names], "bindings": "<JSON text>", "timeoutMs",
           "memoryMb", "maxOutputBytes"}
Reply:    {"ok": true, "value": "<JSON text>", "logs": [...]}
       or {"ok": false, "kind": "syntax"|"thrown"|"timeout"|"memory"|"output_too_large"|
           "not_serialisable"|"internal", "message": "...", "logs": [...]}
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import resource
import struct
import sys
import threading
from typing import Any

from py_mini_racer import (
    JSEvalException,
    JSOOMException,
    JSParseException,
    JSTimeoutException,
    MiniRacer,
    init_mini_racer,
    mini_racer,
)

# The V8 heap ceiling of a worker. The per-evaluation limit (`memoryMb`, a mini-racer hard
# limit checked by the garbage collector) normally stops a bomb far below this; the ceiling
# only bounds the allocations that slip past it, which then crash this worker instead of
# eating the machine's memory.
HEAP_CEILING_MB = int(os.environ.get("FLOWMAESTRO_SANDBOX_HEAP_CEILING_MB", "512"))

# Room above `memoryMb` for what is not the script's data: the fresh context's own pages,
# the heap's spare capacity between collections, the reply's copies.
DATA_MARGIN_BYTES = 64 * 1024 * 1024
# How V8 reports an ArrayBuffer the allocator refused; the script sees it as a RangeError.
_ARRAY_BUFFER_FAILED = "Array buffer allocation failed"

IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
# Names that cannot be (or must not be shadowed as) parameters of the user's function.
RESERVED = frozenset(
    "break case catch class const continue debugger default delete do else enum export extends "
    "false finally for function if import in instanceof new null return super switch this throw "
    "true try typeof var void while with yield let static implements interface package private "
    "protected public await async arguments eval undefined NaN Infinity console".split()
)
# Code that reads like statements: its syntax error is reported as a function body's.
_STATEMENT_HINT = re.compile(
    r"\breturn\b|;\s*\S|^\s*(?:var|let|const|if|for|while|do|function|class|try|switch|throw)\b", re.M
)
_LOCATION = re.compile(r"<anonymous>:(\d+)(?::(\d+))?")

# The wrapper around user code, in a JavaScript file of its own (its header says what is
# replaced); the user's code goes between its two parts. Its header (before the first
# line of code) is dropped, so that USER_LINE counts only the lines V8 sees.
_WRAPPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrapper.js")
with open(_WRAPPER, encoding="utf-8") as _file:
    _PRELUDE, _, _RUNNER = _file.read().partition("// ---- the user's code goes here (worker.py: build_source) ----\n")
_PRELUDE = _PRELUDE[_PRELUDE.index("(function () {"):]
_BODY_OPEN = ""
_EXPRESSION_OPEN = "return (\n"
_BODY_CLOSE = "\n};\n"
_EXPRESSION_CLOSE = "\n);\n};\n"

USER_LINE_BODY = _PRELUDE.count("\n") + _BODY_OPEN.count("\n") + 1
USER_LINE_EXPRESSION = _PRELUDE.count("\n") + _EXPRESSION_OPEN.count("\n") + 1


# The wrapper's bounds (`__fm_write`, `__fm_cut`), kept again by `_reply`.
MAX_LOG_LINES = 1000
MAX_MESSAGE_CHARS = 10_100
_DROPPED_NOTE = re.compile(r"\.\.\. [0-9]+ more log line\(s\) dropped")


def bounded_logs(lines: list[Any], max_chars: int) -> list[str]:
    """At most MAX_LOG_LINES lines of at most `max_chars` characters in all, then a note of
    how many were dropped (the wrapper's own note, when it is the one line past the bound)."""
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        text = str(line)
        if len(kept) >= MAX_LOG_LINES or used + len(text) > max_chars:
            rest = len(lines) - index
            kept.append(text if rest == 1 and _DROPPED_NOTE.fullmatch(text) else f"... {rest} more log line(s) dropped")
            break
        kept.append(text)
        used += len(text)
    return kept


def valid_binding_name(name: str) -> bool:
    """A binding becomes a parameter of the user's function only if its name is a plain JS
    identifier; other names (a node id like `get-users`) are simply not bound."""
    return bool(IDENTIFIER.match(name)) and name not in RESERVED and not name.startswith("__fm_")


def build_source(code: str, names: list[str], max_log_bytes: int, *, expression: bool) -> str:
    params = ", ".join(names)
    prelude = _PRELUDE.replace("__FM_PARAMS__", params).replace("__FM_MAX__", str(int(max_log_bytes)))
    if expression:
        # A trailing `;` is fine in an expression typed by a person; not inside `return (…)`.
        body = code.strip().rstrip(";").rstrip()
        return prelude + _EXPRESSION_OPEN + body + _EXPRESSION_CLOSE + _RUNNER
    return prelude + _BODY_OPEN + code + _BODY_CLOSE + _RUNNER


def _user_line(message: str, first_user_line: int, code: str) -> str:
    """Turn `<anonymous>:N: SyntaxError: …` into `SyntaxError: … (line n)` of the user's code."""
    first = message.strip().splitlines()[0] if message.strip() else "SyntaxError"
    match = _LOCATION.match(first)
    text = first[match.end():].lstrip(": ").strip() if match else first
    if match:
        line = int(match.group(1)) - first_user_line + 1
        line = max(1, min(line, code.count("\n") + 1))
        return f"{text} (line {line})"
    return text


def data_size() -> int | None:
    """This process's private writable memory (VmData: what RLIMIT_DATA counts), in bytes;
    None where /proc is not there (the heap limit alone applies then)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class _DataLimit:
    """RLIMIT_DATA at the current size plus `extra` bytes for the duration of a `with`."""

    def __init__(self, extra: int) -> None:
        self.extra = extra
        self.saved: tuple[int, int] | None = None

    def __enter__(self) -> None:
        current = data_size()
        if current is None:
            return
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        wanted = current + self.extra
        if hard != resource.RLIM_INFINITY:
            wanted = min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_DATA, (wanted, hard))
        except (ValueError, OSError):
            return
        self.saved = (soft, hard)

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            resource.setrlimit(resource.RLIMIT_DATA, self.saved)
            self.saved = None


# Codes remembered as a function body (not an expression), so that their next evaluations
# compile once instead of failing as an expression first (~0.5 ms of the ~6 ms an
# evaluation costs). Whether a text parses as an expression depends on the text alone.
BODY_FORMS_MAX = 512


class Evaluator:
    """Evaluates requests, each in a fresh isolate; the next isolate is made ahead of time,
    and a used one is disposed of after the reply is sent (`release`)."""

    def __init__(self) -> None:
        init_mini_racer(flags=("--single-threaded", f"--max-old-space-size={HEAP_CEILING_MB}"))
        # One event loop thread for all contexts: mini-racer otherwise starts one per context.
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="mini-racer-loop", daemon=True).start()
        self._spare: tuple[Any, MiniRacer] | None = None
        self._used: list[Any] = []
        self._bodies: dict[bytes, None] = {}  # insertion-ordered: the oldest is forgotten first

    def release(self) -> None:
        """Dispose of the isolates used since the last call (~0.7 ms each): between replies,
        not before one."""
        used, self._used = self._used, []
        for manager in used:
            manager.__exit__(None, None, None)

    def _fresh(self) -> tuple[Any, MiniRacer]:
        spare, self._spare = self._spare, None
        if spare is not None:
            return spare
        manager = mini_racer(self.loop)
        return manager, manager.__enter__()

    def prepare_spare(self) -> None:
        if self._spare is None:
            manager = mini_racer(self.loop)
            self._spare = (manager, manager.__enter__())

    def evaluate(self, request: dict[str, Any]) -> dict[str, Any]:
        code = str(request["code"])
        names = [n for n in request["names"] if valid_binding_name(n)]
        timeout_s = max(1, int(request["timeoutMs"])) / 1000
        max_out = int(request["maxOutputBytes"])
        limit = max(1, int(request["memoryMb"])) * 1024 * 1024
        # The reply's text is copied a few times (JS string, UTF-8, Python str) under the limit.
        margin = DATA_MARGIN_BYTES + 4 * max_out
        manager, racer = self._fresh()
        # Only an isolate whose script ended by itself is disposed of after the reply: one
        # stopped at the time or memory limit may still be inside an uninterruptible
        # builtin, and disposing of it blocks until that ends; then this worker must not
        # say it is free (the parent kills a worker that does not answer in time).
        settled = False
        try:
            racer.set_hard_memory_limit(limit)
            with _DataLimit(limit + margin):
                runner = self._compile(racer, code, names, max_out, timeout_s)
                if isinstance(runner, dict):
                    return runner
                try:
                    raw = runner(request["bindings"], json.dumps(names), max_out, timeout_sec=timeout_s)
                except JSTimeoutException:
                    return {"ok": False, "kind": "timeout", "message": "", "logs": []}
                except JSOOMException:
                    return {"ok": False, "kind": "memory", "message": "", "logs": []}
                except JSEvalException as exc:
                    if racer.was_hard_memory_limit_reached():
                        return {"ok": False, "kind": "memory", "message": "", "logs": []}
                    return {"ok": False, "kind": "internal", "message": str(exc).strip(), "logs": []}
            if racer.was_hard_memory_limit_reached():
                # A script that caught the termination's error and returned is still over.
                return {"ok": False, "kind": "memory", "message": "", "logs": []}
            reply = self._reply(raw, code, names, max_out)
            if reply["kind"] == "thrown" and _ARRAY_BUFFER_FAILED in reply["message"]:
                # The allocator refused an ArrayBuffer because of the limit above.
                return {**reply, "kind": "memory"}
            settled = True
            return reply
        finally:
            if settled:
                self._used.append(manager)
            else:
                manager.__exit__(None, None, None)

    def _compile(self, racer: MiniRacer, code: str, names: list[str], max_out: int, timeout_s: float) -> Any:
        """The runner function, or an error reply. Tries `code` as an expression first,
        then as a function body: `a.map(function (x) { return x })` stays an expression,
        `const c = …; return c;` is a body."""
        errors = []
        # A digest, not the text: 512 codes of up to the expression bound would be megabytes.
        key = hashlib.sha256(code.encode("utf-8", "surrogatepass")).digest()
        for expression in ((False,) if key in self._bodies else (True, False)):
            first_line = USER_LINE_EXPRESSION if expression else USER_LINE_BODY
            source = build_source(code, names, max_out, expression=expression)
            try:
                # The evaluation's own time limit, not a longer one: code that closes the
                # wrapper's function (`}; while (true) {} …`) runs here, at compile time, and
                # under 5 s the parent killed the worker at its limit (a new worker per call).
                runner = racer.eval(source, timeout_sec=timeout_s)
                self.first_line = first_line
                if not expression and key not in self._bodies:
                    self._bodies[key] = None
                    if len(self._bodies) > BODY_FORMS_MAX:
                        del self._bodies[next(iter(self._bodies))]
                return runner
            except JSParseException as exc:
                errors.append(_user_line(str(exc), first_line, code))
            except JSTimeoutException:
                return {"ok": False, "kind": "timeout", "message": "", "logs": []}
            except JSOOMException:
                return {"ok": False, "kind": "memory", "message": "", "logs": []}
        # Report the reading the user most likely meant.
        meant_body = _STATEMENT_HINT.search(code) is not None
        return {"ok": False, "kind": "syntax", "message": errors[1] if meant_body else errors[0], "logs": []}

    def _reply(self, raw: Any, code: str, names: list[str], max_out: int) -> dict[str, Any]:
        if not isinstance(raw, str) or "\n" not in raw:
            return {"ok": False, "kind": "internal", "message": "the sandbox returned no result", "logs": []}
        head_text, value = raw.split("\n", 1)
        try:
            head = json.loads(head_text)
        except ValueError:
            head = None
        if not isinstance(head, dict) or not isinstance(head.get("logs", []), list):
            # A script can still reach the head through a toJSON it put on Object.prototype.
            return {"ok": False, "kind": "not_serialisable", "logs": [],
                    "message": "the expression changed how JSON is written (toJSON on a built-in prototype), "
                               "so its result cannot be read"}
        message = str(head.get("message", ""))
        reply: dict[str, Any] = {
            "ok": bool(head.get("ok")),
            "kind": head.get("kind", ""),
            # The wrapper's bounds again, here where the script cannot reach: it can write
            # the head itself (a `toJSON` on Object.prototype), 50,000 log lines and all.
            "message": message if len(message) <= MAX_MESSAGE_CHARS else message[:MAX_MESSAGE_CHARS] + "\u2026",
            "logs": bounded_logs(head.get("logs", []), max_out),
        }
        where = head.get("where")
        if reply["kind"] == "thrown" and where:
            line = int(where[0]) - self.first_line + 1
            if 1 <= line <= code.count("\n") + 1:
                reply["message"] += f" (line {line})"
        if reply["ok"]:
            # The JS check counts UTF-16 units; the limit is on UTF-8 bytes.
            if len(value.encode("utf-8")) > max_out:
                return {**reply, "ok": False, "kind": "output_too_large",
                        "message": f"the result is {len(value.encode('utf-8'))} bytes of JSON"}
            reply["value"] = value
        return reply


def _read_exact(stream: Any, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _send(stdout: Any, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode("utf-8")
    stdout.write(struct.pack(">I", len(data)) + data)
    stdout.flush()


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Nothing but replies may reach stdout.
    sys.stdout = sys.stderr
    # A worker that V8 aborts (e.g. at the memory limit) leaves no core file behind.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    evaluator = Evaluator()
    evaluator.prepare_spare()
    _send(stdout, {"ready": True, "pid": os.getpid()})
    while True:
        header = _read_exact(stdin, 4)
        if header is None:
            return  # the parent went away
        body = _read_exact(stdin, struct.unpack(">I", header)[0])
        if body is None:
            return
        try:
            reply = evaluator.evaluate(json.loads(body))
        except Exception as exc:  # noqa: BLE001 - the reply is the only channel back
            reply = {"ok": False, "kind": "internal", "message": f"{type(exc).__name__}: {exc}", "logs": []}
        _send(stdout, reply)
        # Dispose of the used isolate and make the next one while the parent works on this reply.
        evaluator.release()
        evaluator.prepare_spare()


if __name__ == "__main__":
    main()
