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
  the worker if termination does not land (some builtins are not interruptible). The
  memory limit is enforced in the worker (see `worker.py`): for the JavaScript heap *and*
  for ArrayBuffers, which live outside it; a worker that V8 aborts is replaced.
- workers are shared fairly (`_Pool`): callers wait in one queue per user and execution,
  served round-robin, and one user may hold at most `WORKERS_PER_USER` workers (one fewer
  than the pool by default), so one user's loop of runaway expressions leaves a worker for
  everyone else and another user's expression waits at most about one evaluation.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from engine.core import json_bounds
from engine.expressions.process import WORKER_PATH as WORKER_PATH
from engine.expressions.process import WorkerCrashed, WorkerProcess, WorkerTimeout
from engine.expressions.worker import valid_binding_name
from engine.nodes.base import NodeError


def _env_count(name: str) -> int:
    """A non-negative whole number from the environment; 0 (or unset) means the default."""
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw or "0")
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be 0 (the default) or more, not {value}")
    return value


# Worker processes for evaluations running at the same time; callers beyond it wait. One
# more than the cores (at least 2) by default: that one is what a user who holds the rest
# cannot take (below), so a single user still gets a worker per core.
MAX_WORKERS = _env_count("FLOWMAESTRO_EXPRESSION_WORKERS") or min(8, max(2, os.cpu_count() or 2)) + 1
# Workers one user may hold at once (default: one fewer than MAX_WORKERS, at least 1).
WORKERS_PER_USER = min(MAX_WORKERS, _env_count("FLOWMAESTRO_EXPRESSION_WORKERS_PER_USER") or max(1, MAX_WORKERS - 1))


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
    owner: Hashable = None,
    execution: Hashable = None,
    cancelled: Callable[[], bool] | None = None,
) -> EvalResult:
    """Run `code` with `bindings` as variables; return its JSON value and console lines.

    `owner` and `execution` say whose evaluation this is, for the fair sharing of workers;
    `cancelled` is polled while waiting for a worker (a cancelled node run gives up its
    place in the queue)."""
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

    pool = _pool  # the same pool for the release, even if it is replaced meanwhile
    worker = pool.acquire(owner, execution, cancelled)
    healthy = False
    try:
        reply = worker.request(payload, time.monotonic() + allowance_s)
        healthy = True
    except WorkerTimeout:
        raise ExpressionError(f"Expression exceeded its time limit of {timeout_ms} ms", kind="timeout") from None
    except WorkerCrashed as crash:
        if crash.out_of_memory:
            raise ExpressionError(
                f"Expression exceeded its memory limit of {memory_mb} MB", kind="memory"
            ) from None
        raise ExpressionError(f"Expression crashed the sandbox: {crash}", kind="internal") from None
    finally:
        pool.release(worker, healthy=healthy, owner=owner)
    return _result(reply, timeout_ms=timeout_ms, memory_mb=memory_mb, max_output_bytes=max_output_bytes)


def _result(reply: dict[str, Any], *, timeout_ms: int, memory_mb: int, max_output_bytes: int) -> EvalResult:
    # A script can log or throw any string: NUL or a lone surrogate would make its node run's
    # write fail on PostgreSQL (and its answers unencodable), so they are shown as U+FFFD.
    logs = [json_bounds.readable_text(str(line)) for line in reply.get("logs", [])]
    if reply.get("ok"):
        try:
            # Strict: a script that replaces JSON.stringify can hand back `NaN` or `1e999`,
            # which Python's json would accept and the database would not.
            value = json_bounds.loads(reply["value"], max_depth=None, what="the result")
        except json_bounds.JSONBoundsError as exc:
            raise ExpressionError(f"Expression output is not JSON-serialisable: {exc}", kind="not_serialisable",
                                  logs=logs) from None
        except ValueError as exc:  # a replaced JSON.stringify wrote something that is not JSON at all
            raise ExpressionError(f"Expression output is not JSON-serialisable: the result is not valid JSON ({exc})",
                                  kind="not_serialisable", logs=logs) from None
        return EvalResult(value=value, logs=logs)
    kind = str(reply.get("kind") or "internal")
    detail = json_bounds.readable_text(str(reply.get("message") or ""))
    messages = {
        "syntax": f"Syntax error in expression: {detail}",
        "thrown": f"Expression threw {detail}",
        "timeout": f"Expression exceeded its time limit of {timeout_ms} ms",
        "memory": f"Expression exceeded its memory limit of {memory_mb} MB",
        "output_too_large": f"Expression output is too large ({detail}; the limit is {max_output_bytes} bytes)",
        "not_serialisable": f"Expression output is not JSON-serialisable: {detail}",
    }
    raise ExpressionError(messages.get(kind, f"Expression failed in the sandbox: {detail}"), kind=kind, logs=logs)


class EvaluationCancelled(ExpressionError):
    """The caller's node run was cancelled while it waited for a sandbox worker."""

    def __init__(self) -> None:
        super().__init__("Expression cancelled before it ran", kind="cancelled")


class _Ticket:
    """One caller waiting for a worker; `granted` once the pool picked it."""

    __slots__ = ("granted", "worker", "user")

    def __init__(self, user: Hashable) -> None:
        self.granted = False
        self.worker: WorkerProcess | None = None  # an idle worker, or None: start a new one
        self.user = user


class _Pool:
    """Idle workers are reused; at most `max_workers` exist; a failed worker is replaced.

    Fair sharing: waiting callers queue per user and, inside a user, per execution. A free
    worker goes to the next user in round-robin order that holds fewer than `per_user`
    workers, and inside that user to the next execution in round-robin order (first come,
    first served inside an execution). So a loop of a thousand slow expressions is one
    queue among others, not a thousand callers ahead of everyone, and with `per_user` below
    `max_workers` it can never hold every worker."""

    def __init__(self, max_workers: int, per_user: int | None = None) -> None:
        self.max_workers = max_workers
        self.per_user = max(1, min(max_workers, per_user if per_user is not None else max_workers))
        self._idle: list[WorkerProcess] = []
        self._count = 0  # workers alive or being started
        self._held: dict[Hashable, int] = {}  # workers held (or being started) per user
        # user -> execution -> tickets; both levels are kept in round-robin order.
        self._queues: OrderedDict[Hashable, OrderedDict[Hashable, deque[_Ticket]]] = OrderedDict()
        self._spare_starting = False
        self._closed = False
        self._cond = threading.Condition()

    def acquire(self, owner: Hashable = None, execution: Hashable = None,
                cancelled: Callable[[], bool] | None = None) -> WorkerProcess:
        ticket = _Ticket(owner)
        with self._cond:
            self._queues.setdefault(owner, OrderedDict()).setdefault(execution, deque()).append(ticket)
            self._dispatch()
            while not ticket.granted:
                self._cond.wait(0.2 if cancelled is not None else None)
                if not ticket.granted and cancelled is not None and cancelled():
                    self._withdraw(ticket, execution)
                    raise EvaluationCancelled()
            worker = ticket.worker
        if worker is not None:
            return worker
        try:
            return WorkerProcess()
        except BaseException:
            with self._cond:
                self._count -= 1
                self._drop_hold(owner)
                self._dispatch()
            raise

    def release(self, worker: WorkerProcess, *, healthy: bool, owner: Hashable = None) -> None:
        if not healthy:
            worker.kill()
        with self._cond:
            if healthy:
                self._idle.append(worker)
            else:
                self._count -= 1
            self._drop_hold(owner)
            self._dispatch()

    def _drop_hold(self, user: Hashable) -> None:
        held = self._held.get(user, 0) - 1
        if held > 0:
            self._held[user] = held
        else:
            self._held.pop(user, None)

    def _withdraw(self, ticket: _Ticket, execution: Hashable) -> None:
        executions = self._queues.get(ticket.user)
        if executions is None:
            return
        queue = executions.get(execution)
        if queue is not None and ticket in queue:
            queue.remove(ticket)
            if not queue:
                del executions[execution]
        if not executions:
            del self._queues[ticket.user]

    def _dispatch(self) -> None:
        """Hand free capacity to waiting tickets, fairly. Called with the lock held."""
        granted = False
        while self._idle or self._count < self.max_workers:
            user = next((u for u in self._queues if self._held.get(u, 0) < self.per_user), _NOBODY)
            if user is _NOBODY:
                break
            executions = self._queues[user]
            execution, queue = next(iter(executions.items()))
            ticket = queue.popleft()
            # Served: this user and this execution go to the back of their round-robin.
            if queue:
                executions.move_to_end(execution)
            else:
                del executions[execution]
            if executions:
                self._queues.move_to_end(user)
            else:
                del self._queues[user]
            if self._idle:
                ticket.worker = self._idle.pop()
            else:
                self._count += 1
            self._held[user] = self._held.get(user, 0) + 1
            ticket.granted = True
            granted = True
        if granted:
            self._cond.notify_all()
        self._start_spare()

    def _start_spare(self) -> None:
        """With every worker busy and room for one more, start it now, in the background:
        a worker takes about a second to start on a busy machine, and the next caller —
        often another user's, let through by the per-user cap — should not wait for that."""
        if self._idle or self._spare_starting or self._count >= self.max_workers or self._closed:
            return
        self._count += 1
        self._spare_starting = True
        threading.Thread(target=self._make_spare, name="sandbox-spare", daemon=True).start()

    def _make_spare(self) -> None:
        try:
            worker: WorkerProcess | None = WorkerProcess()
        except Exception:  # noqa: BLE001 - the next caller starts one itself and sees why
            worker = None
        with self._cond:
            self._spare_starting = False
            if worker is None or self._closed:
                self._count -= 1
            else:
                self._idle.append(worker)
            self._dispatch()
        if worker is not None and self._closed:
            worker.close()

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            worker.close()


_NOBODY = object()


_pool = _Pool(MAX_WORKERS, WORKERS_PER_USER)
atexit.register(_pool.shutdown)


def _forget_workers_after_fork() -> None:
    # A forked child (e.g. a Celery prefork worker) must not share the parent's pipes to
    # its sandbox workers; it starts its own on first use.
    global _pool
    _pool = _Pool(MAX_WORKERS, WORKERS_PER_USER)


os.register_at_fork(after_in_child=_forget_workers_after_fork)
