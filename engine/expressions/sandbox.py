"""The JavaScript sandbox for `transform` (custom) and `condition` expressions (SPEC §5).

Why V8 isolates and not a Python `eval` sandbox: Python cannot be sandboxed from inside
itself. Every "safe eval" (restricted builtins, AST filters, RestrictedPython-style
rewriting) has been escaped through the object graph (`().__class__.__mro__[1]
.__subclasses__()` …), and none of them can stop an endless loop or a memory bomb without
killing the thread that runs it. A V8 isolate is a separate heap with no host objects at
all: there is no `require`, `process`, file or network API to reach, `globalThis` is the
isolate's own global, and V8 itself can terminate a runaway script and cap its heap. Users
of n8n, Zapier and Step Functions also expect JavaScript for this kind of expression.

How an evaluation runs:
- in a pool of worker processes (`worker.py`), one evaluation at a time per worker, each
  in a *fresh* isolate and context, so nothing one expression does is seen by the next.
  A worker process rather than an isolate in this process, because a few V8 allocation
  failures are fatal to the process by design; they kill a worker, never the engine.
- binding values travel as one JSON string that the wrapper `JSON.parse`s; they are never
  spliced into source text. Binding names that are not plain JS identifiers are skipped.
- a body is tried as an expression first, then as a function body (`… return x;`).
- `console.log/info/warn/error` lines are captured and returned as `logs`.
- the time limit is enforced by V8 termination in the worker, and by this process killing
  the worker if termination does not land (some builtins are not interruptible).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from engine.core import json_bounds
from engine.expressions.worker import valid_binding_name
from engine.nodes.base import NodeError

WORKER_PATH = str(Path(__file__).with_name("worker.py"))
# Worker processes for evaluations running at the same time; callers beyond it wait.
MAX_WORKERS = int(os.environ.get("FLOWMAESTRO_EXPRESSION_WORKERS", "0")) or min(8, max(2, os.cpu_count() or 2))
_STARTUP_TIMEOUT_S = 30.0


class ExpressionError(NodeError):
    """An expression failed; never worth retrying (the same code fails the same way).

    `kind` is one of: syntax, thrown, timeout, memory, output_too_large, not_serialisable,
    internal. `logs` holds the console lines written before the failure."""

    def __init__(self, message: str, *, kind: str = "internal", logs: list[str] | None = None):
        super().__init__(message, details={"kind": kind}, retryable=False)
        self.kind = kind
        self.logs = list(logs or [])


@dataclass
class EvalResult:
    value: Any
    logs: list[str] = field(default_factory=list)


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness of a JSON value (`[]` and `{}` are true, unlike in Python)."""
    if value is None or value is False:
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return value != 0 and value == value  # NaN is falsy
    if isinstance(value, str):
        return value != ""
    return True


def evaluate(
    code: str,
    bindings: dict[str, Any],
    *,
    timeout_ms: int = 1000,
    memory_mb: int = 64,
    max_output_bytes: int = 1_000_000,
) -> EvalResult:
    """Run `code` with `bindings` as variables; return its JSON value and console lines."""
    if not isinstance(code, str) or not code.strip():
        raise ExpressionError("Expression is empty", kind="syntax")
    names = [name for name in bindings if isinstance(name, str) and valid_binding_name(name)]
    try:
        bindings_json = json.dumps({name: bindings[name] for name in names}, default=str, allow_nan=False)
    except (ValueError, TypeError) as exc:
        raise ExpressionError(f"Expression inputs are not JSON: {exc}", kind="internal") from exc
    request = {
        "code": code,
        "names": names,
        "bindings": bindings_json,
        "timeoutMs": int(timeout_ms),
        "memoryMb": int(memory_mb),
        "maxOutputBytes": int(max_output_bytes),
    }
    payload = json.dumps(request).encode("utf-8")
    # The worker stops the script at `timeout_ms`; this process waits a little longer (and
    # for the inputs to be parsed) before it gives up on the worker and kills it.
    allowance_s = timeout_ms / 1000 * 1.5 + 0.25 + len(payload) / 50_000_000

    worker = _pool.acquire()
    healthy = False
    try:
        reply = worker.request(payload, time.monotonic() + allowance_s)
        healthy = True
    except _WorkerTimeout:
        raise ExpressionError(f"Expression exceeded its time limit of {timeout_ms} ms", kind="timeout") from None
    except _WorkerCrashed as crash:
        if crash.out_of_memory:
            raise ExpressionError(
                f"Expression exceeded its memory limit of {memory_mb} MB", kind="memory"
            ) from None
        raise ExpressionError(f"Expression crashed the sandbox: {crash}", kind="internal") from None
    finally:
        _pool.release(worker, healthy=healthy)
    return _result(reply, timeout_ms=timeout_ms, memory_mb=memory_mb, max_output_bytes=max_output_bytes)


def _result(reply: dict[str, Any], *, timeout_ms: int, memory_mb: int, max_output_bytes: int) -> EvalResult:
    logs = [str(line) for line in reply.get("logs", [])]
    if reply.get("ok"):
        try:
            # Strict: a script that replaces JSON.stringify can hand back `NaN` or `1e999`,
            # which Python's json would accept and the database would not.
            value = json_bounds.loads(reply["value"], max_depth=None, what="the result")
        except json_bounds.JSONBoundsError as exc:
            raise ExpressionError(f"Expression output is not JSON-serialisable: {exc}", kind="not_serialisable",
                                  logs=logs) from None
        return EvalResult(value=value, logs=logs)
    kind = str(reply.get("kind") or "internal")
    detail = str(reply.get("message") or "")
    messages = {
        "syntax": f"Syntax error in expression: {detail}",
        "thrown": f"Expression threw {detail}",
        "timeout": f"Expression exceeded its time limit of {timeout_ms} ms",
        "memory": f"Expression exceeded its memory limit of {memory_mb} MB",
        "output_too_large": f"Expression output is too large ({detail}; the limit is {max_output_bytes} bytes)",
        "not_serialisable": f"Expression output is not JSON-serialisable: {detail}",
    }
    raise ExpressionError(messages.get(kind, f"Expression failed in the sandbox: {detail}"), kind=kind, logs=logs)


class _WorkerTimeout(Exception):
    pass


class _WorkerCrashed(Exception):
    def __init__(self, message: str, *, out_of_memory: bool):
        super().__init__(message)
        self.out_of_memory = out_of_memory


class _Worker:
    """One `worker.py` process; used by one evaluation at a time."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own script, no shell, no user text
            [sys.executable, WORKER_PATH],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        # V8 runs outside the GIL: not on the one core a pinned server keeps its threads on.
        from flowmaestro.affinity import release

        release(self.proc.pid)
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._stdin: IO[bytes] = self.proc.stdin
        self._stdout_fd = self.proc.stdout.fileno()
        # V8 prints why it aborted (e.g. "Fatal JavaScript out of memory") on stderr.
        self.stderr_tail: deque[str] = deque(maxlen=40)
        self._stderr_reader = threading.Thread(
            target=self._drain_stderr, args=(self.proc.stderr,), name="sandbox-stderr", daemon=True
        )
        self._stderr_reader.start()
        self._read_message(time.monotonic() + _STARTUP_TIMEOUT_S)  # the "ready" line

    def _drain_stderr(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self.stderr_tail.append(line.decode("utf-8", "replace").rstrip())

    def request(self, payload: bytes, deadline: float) -> dict[str, Any]:
        try:
            self._stdin.write(struct.pack(">I", len(payload)) + payload)
            self._stdin.flush()
        except OSError:
            raise self._crashed() from None
        return self._read_message(deadline)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        header = self._read_exact(4, deadline)
        message: dict[str, Any] = json.loads(self._read_exact(struct.unpack(">I", header)[0], deadline))
        return message

    def _read_exact(self, size: int, deadline: float) -> bytes:
        chunks: list[bytes] = []
        remaining = size
        while remaining:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise _WorkerTimeout()
            readable, _, _ = select.select([self._stdout_fd], [], [], wait)
            if not readable:
                raise _WorkerTimeout()
            chunk = os.read(self._stdout_fd, min(remaining, 1 << 20))
            if not chunk:
                raise self._crashed()
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _crashed(self) -> _WorkerCrashed:
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
        self._stderr_reader.join(timeout=2)
        tail = "\n".join(self.stderr_tail)
        lines = [line.strip("# ") for line in self.stderr_tail if line.strip("# ")]
        return _WorkerCrashed(
            lines[-1] if lines else f"exit code {self.proc.returncode}",
            out_of_memory="out of memory" in tail.lower() or "heap limit" in tail.lower(),
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        # Closing stdin makes the worker's read loop end; kill it if it does not.
        try:
            self._stdin.close()
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class _Pool:
    """Idle workers are reused; at most MAX_WORKERS exist; a failed worker is replaced."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._idle: list[_Worker] = []
        self._count = 0
        self._cond = threading.Condition()

    def acquire(self) -> _Worker:
        with self._cond:
            while not self._idle and self._count >= self.max_workers:
                self._cond.wait()
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return _Worker()
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def release(self, worker: _Worker, *, healthy: bool) -> None:
        if not healthy:
            worker.kill()
        with self._cond:
            if healthy:
                self._idle.append(worker)
            else:
                self._count -= 1
            self._cond.notify()

    def shutdown(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            worker.close()


_pool = _Pool(MAX_WORKERS)
atexit.register(_pool.shutdown)


def _forget_workers_after_fork() -> None:
    # A forked child (e.g. a Celery prefork worker) must not share the parent's pipes to
    # its sandbox workers; it starts its own on first use.
    global _pool
    _pool = _Pool(MAX_WORKERS)


os.register_at_fork(after_in_child=_forget_workers_after_fork)
