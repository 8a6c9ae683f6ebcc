"""Celery tasks and worker hooks (`FLOWMAESTRO_EXECUTOR=celery`, README "Scaling out").

A worker process (`celery -A flowmaestro worker -Q executions,nodes`) hosts one engine
coordinator, started when the worker is ready and drained when it shuts down:
- `flowmaestro.executions.take` (queue `executions`): a run the web tier recorded; this
  worker's coordinator claims it with the usual compare-and-set (another may win: fine);
- `flowmaestro.nodes.serve` (queue `nodes`): a runner, serving one coordinator's node bodies
  from its Redis list (FLOWMAESTRO_NODE_BODIES=runners, the default), or
  `flowmaestro.nodes.run`: one node body as its own task (=tasks); either way the outcome
  goes back to that coordinator's Redis list, never to the database.

A warm shutdown (SIGTERM) takes a second or two, well inside the 5 s honcho gives (README
"Stopping a worker"): the bodies this worker runs go back to their coordinators at once
(LocalBodies), and its coordinator hands its executions back after
FLOWMAESTRO_WORKER_STOP_GRACE, so no slot keeps Celery's shutdown waiting.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import redis
from celery import Task, shared_task
from celery.signals import worker_process_init, worker_ready, worker_shutting_down
from django.conf import settings

from engine.executors import wire
from engine.executors.celery_executor import EXECUTION_QUEUE, EXECUTION_TASK, NODE_TASK
from engine.executors.redis_lists import renew_lease, send, take_body, this_lease, wait_for_body
from engine.executors.runners import RUNNER_LINGER_S, RUNNER_TASK
from engine.nodes import get_node_type
from engine.nodes.base import NodeError

log = logging.getLogger("engine")


class LocalBodies:
    """The node bodies this worker process runs right now, so that its warm shutdown gives
    them back to their coordinators instead of waiting for them (a body may be a minute-long
    HTTP call; honcho, systemd and Compose kill a worker that takes seconds to stop).

    Each body runs on a daemon thread (its slot's, kept from body to body) while its Celery
    task (a runner, or a body's task) waits for it: on a shutdown, the task stops waiting,
    tells the body's coordinator "given back" and returns, so Celery's warm shutdown waits
    for no body. The
    coordinator publishes the body again at once (CeleryExecutor._given_back); the thread
    left behind ends with the process, or, done first, its outcome counts like any first
    outcome of an open attempt (recorded once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # attempt id → (its coordinator's engine id, the lease it was taken under, the
        # event its task waits on)
        self._running: dict[str, tuple[str, str, threading.Event]] = {}
        self.stopped = threading.Event()
        # Each task thread (a Celery slot) hands its bodies to one body thread of its own,
        # kept from body to body: what a node keeps per thread (the http node's open
        # connections, engine.nodes.guarded_http) then lasts, as it did when the slot ran
        # its bodies itself. A thread per body opened a new connection for every call.
        self._slots = threading.local()

    @property
    def stopping(self) -> bool:
        return self.stopped.is_set()

    def run(self, attempt_id: str, engine_id: str, lease: str, body: Callable[[], bool]) -> bool | None:
        """`body()`'s result, or None when the worker began stopping first (the body given back)."""
        wake = threading.Event()
        with self._lock:
            stopping = self.stopping
            if not stopping:
                self._running[attempt_id] = (engine_id, lease, wake)
        if stopping:
            _give_back([(attempt_id, engine_id, lease)])
            return None
        outcome: list[bool] = []
        failure: list[BaseException] = []

        def main() -> None:
            try:
                outcome.append(body())
            except BaseException as exc:  # noqa: BLE001 - raised again in the task, as before
                failure.append(exc)
            finally:
                wake.set()

        self._body_thread().put(main)
        wake.wait()
        with self._lock:
            self._running.pop(attempt_id, None)
        if failure:
            raise failure[0]
        return outcome[0] if outcome else None

    def _body_thread(self) -> queue.SimpleQueue[Callable[[], None]]:
        """The calling slot's body thread (started on its first body), by its inbox."""
        inbox: queue.SimpleQueue[Callable[[], None]] | None = getattr(self._slots, "inbox", None)
        if inbox is None:
            inbox = self._slots.inbox = queue.SimpleQueue()
            threading.Thread(target=_serve_slot, args=(inbox,), name="fm-body", daemon=True).start()
        return inbox

    def stop(self, own_engine: str | None) -> int:
        """(Warm shutdown.) Take no more bodies; give those running back to their
        coordinators, except this process's own coordinator's (it is handing its runs back,
        and their next owner starts those node runs again); how many were given back."""
        with self._lock:
            self.stopped.set()
            running, self._running = self._running, {}
        back = [(attempt_id, engine_id, lease) for attempt_id, (engine_id, lease, _) in running.items()
                if engine_id != own_engine]
        _give_back(back)
        for _, _, wake in running.values():
            wake.set()
        return len(back)


def _serve_slot(inbox: queue.SimpleQueue[Callable[[], None]]) -> None:
    # A body given back at a warm shutdown keeps this thread until it ends; its slot takes
    # no other body by then (LocalBodies.run gives those back at once).
    while True:
        inbox.get()()


def _give_back(bodies: list[tuple[str, str, str]]) -> None:
    for attempt_id, engine_id, lease in bodies:
        try:
            send(settings.REDIS_URL, engine_id, {"a": attempt_id, "t": "back", "k": lease})
        except Exception as exc:  # noqa: BLE001 - then it runs again when this worker's lease lapses
            log.warning("giving node body %s back failed: %s", attempt_id, exc)


local_bodies = LocalBodies()


@shared_task(name=EXECUTION_TASK, ignore_result=True, Strategy="engine.tasks:take_strategy")
def take_execution(execution_id: Any) -> None:
    from engine.runtime import start_engine

    if local_bodies.stopping:
        return  # a worker shutting down claims nothing (its coordinator is gone: no new one)
    start_engine().submit(execution_id)


def take_strategy(task: Task, app: Any, consumer: Any, **_: Any) -> Callable[..., None]:
    """How a worker handles an `executions` message (Celery's `Task.Strategy`): the message
    is a wake-up (the run is recorded; a claim reads the queue), so it is handled right
    where it arrives: the coordinator is asked to claim, which only posts to its inbox.
    Celery's general path (a request object, a pool slot, two log lines, the
    acknowledgement's Redis transaction) cost more CPU per run than the coordination
    itself. The queue is consumed without acknowledgements (settings.CELERY_TASK_QUEUES);
    were it consumed with them, each message is acknowledged here."""
    queue = app.amqp.queues.get(EXECUTION_QUEUE)
    acknowledged = queue is not None and bool(queue.no_ack)

    def on_message(message: Any, payload: Any, ack: Any, reject: Any, callbacks: Any, **__: Any) -> None:
        try:
            args = (payload if payload is not None else message.decode())[0]  # protocol 2: (args, kwargs, embed)
            execution_id = args[0] if args else None
        except Exception:  # noqa: BLE001 - a malformed wake-up still wakes: the claim reads the queue
            execution_id = None
        try:
            take_execution.run(execution_id)
        finally:
            if not acknowledged:
                ack()

    return on_message


@shared_task(name=NODE_TASK, bind=True, ignore_result=True)
def run_node(self: Task, payload: dict[str, Any]) -> None:
    """One node body as its own task (FLOWMAESTRO_NODE_BODIES=tasks)."""
    attempt_id, reply_to = payload["attempt"], payload["replyTo"]
    engine_id = reply_to.removeprefix("flowmaestro:to:")
    # Started, under this process's lease: if the lease lapses before the answer, the
    # coordinator publishes the body again (engine.executors.celery_executor).
    lease, where = this_lease(), _where(self)
    send(settings.REDIS_URL, engine_id, {"a": attempt_id, "t": "start", "k": lease},
         lease=(lease, settings.FLOWMAESTRO_WORKER_LOST_AFTER))
    local_bodies.run(attempt_id, engine_id, lease, partial(_run_body, payload, engine_id, where))


@shared_task(name=RUNNER_TASK, bind=True, ignore_result=True)
def serve_bodies(self: Task, engine_id: str) -> None:
    """One worker slot running a coordinator's bodies one after another
    (FLOWMAESTRO_NODE_BODIES=runners, engine.executors.celery_executor): until its list stays
    empty for a moment, or its time slice ends (then the coordinator publishes a new runner,
    behind whatever else waits in the queue: other coordinators get slots too)."""
    redis_url = settings.REDIS_URL
    lost_after = settings.FLOWMAESTRO_WORKER_LOST_AFTER
    lease, where = this_lease(), _where(self)
    runner = str(self.request.id)
    send(redis_url, engine_id, {"t": "runner", "r": runner, "k": lease}, lease=(lease, lost_after))
    ends = time.monotonic() + settings.FLOWMAESTRO_RUNNER_SLICE
    served = 0
    try:
        while not local_bodies.stopping:
            taken = take_body(redis_url, engine_id, lease, lost_after)
            if taken is None:
                # A runner that found nothing at all came late (others took the bodies): it
                # ends at once; one that served waits briefly for the coordinator's refill.
                if served and wait_for_body(redis_url, engine_id, RUNNER_LINGER_S):
                    continue
                break
            attempt_id, payload = taken
            log.info("node body %s received", attempt_id)
            ok = local_bodies.run(attempt_id, engine_id, lease, partial(_run_body, payload, engine_id, where))
            if ok is None:
                log.info("node body %s given back (this worker is stopping)", attempt_id)
                break
            log.info("node body %s %s", attempt_id, "succeeded" if ok else "failed")
            served += 1
            if time.monotonic() >= ends:
                break
    finally:
        send(redis_url, engine_id, {"t": "runner-end", "r": runner})


def _killed_by_the_stop(exc: BaseException) -> bool:
    """Whether a body failed because its sandbox process got the SIGTERM that stops this
    worker (honcho, systemd and Compose signal the whole process group): that failure is
    the stop's, not the node's, so it is not reported; the body is given back (the signal
    handler may run a moment after the sandbox died, hence the wait)."""
    return "exit code -15" in str(exc) and local_bodies.stopped.wait(1.0)


def _where(task: Task) -> str:
    return f"{task.request.hostname or socket.gethostname()}:{os.getpid()}"


def _run_body(payload: dict[str, Any], engine_id: str, where: str) -> bool:
    """Run one body and push its outcome (and log lines) to its coordinator's list; whether
    it succeeded."""
    attempt_id = payload["attempt"]

    def reply(message: dict[str, Any]) -> None:
        send(settings.REDIS_URL, engine_id, {"a": attempt_id, **message})

    ctx = wire.context(payload)
    ctx.log_sink = lambda line: reply({"t": "log", "m": line})
    cls = get_node_type(payload["type"])
    value: Any = None
    exc: BaseException | None = None
    if cls is None or not cls.remote:
        exc = NodeError(f"node type {payload['type']!r} does not run on workers", retryable=False)
    else:
        try:
            value = cls().run(ctx)
        except Exception as error:  # noqa: BLE001 - the node's failure is its outcome
            exc = error
    if exc is not None and _killed_by_the_stop(exc):
        return False  # given back: it runs again elsewhere
    # With the lease renewed in the same round trip: a worker busy with long bodies stays alive.
    send(settings.REDIS_URL, engine_id, {"a": attempt_id, "t": "done", "w": where, **wire.outcome(value, exc)},
         lease=(this_lease(), settings.FLOWMAESTRO_WORKER_LOST_AFTER))
    return exc is None


@worker_ready.connect
def _start_coordinator(sender: Any = None, **_: Any) -> None:
    if settings.FLOWMAESTRO_EXECUTOR != "celery":
        return
    # A worker that does not consume `executions` (`-Q nodes`: a machine for node bodies
    # only) hosts no coordinator: its poll would claim runs all the same.
    queues = getattr(getattr(getattr(sender, "app", None), "amqp", None), "queues", None)
    consumed = set(queues.consume_from or {}) if queues is not None else {EXECUTION_QUEUE}
    if EXECUTION_QUEUE in consumed:
        from engine.runtime import start_engine

        engine = start_engine()
        log.info("engine %s coordinates executions in this worker", engine.engine_id)
    else:
        log.info("this worker runs node bodies only (queues: %s); it coordinates no execution",
                 ", ".join(sorted(consumed)))
    threading.Thread(target=_warm_sandbox, name="fm-warm", daemon=True).start()
    threading.Thread(target=_keep_lease, name="fm-lease", daemon=True).start()


@worker_process_init.connect
def _lease_of_pool_child(**_: Any) -> None:
    # With the prefork pool, bodies run in pool children, each under a lease named by its
    # own pid (this_lease): renew it in the child too, or a body longer than
    # FLOWMAESTRO_WORKER_LOST_AFTER would be published again while it still runs.
    if settings.FLOWMAESTRO_EXECUTOR == "celery":
        threading.Thread(target=_keep_lease, name="fm-lease", daemon=True).start()


def _keep_lease() -> None:
    """Renew this process's lease three times per FLOWMAESTRO_WORKER_LOST_AFTER while the
    process lives; a Redis hiccup only skips a renewal."""
    lost_after = settings.FLOWMAESTRO_WORKER_LOST_AFTER
    lease = this_lease()
    while True:
        try:
            renew_lease(settings.REDIS_URL, lease, lost_after)
        except (redis.ConnectionError, redis.TimeoutError) as exc:  # Redis down: one line, not a traceback
            log.warning("engine: renewing worker lease %s failed: %s", lease, exc)
        except Exception:  # noqa: BLE001 - Redis restarting: the next renewal may succeed
            log.warning("engine: renewing worker lease %s failed", lease, exc_info=True)
        time.sleep(lost_after / 3)


def _warm_sandbox() -> None:
    """Start the V8 sandbox's processes now rather than under the first JavaScript nodes
    (each takes a moment to start)."""
    from concurrent.futures import ThreadPoolExecutor

    from engine.expressions import evaluate
    from engine.expressions.sandbox import MAX_WORKERS

    with ThreadPoolExecutor(MAX_WORKERS) as pool:
        list(pool.map(lambda _: evaluate("1", {}), range(MAX_WORKERS)))


@worker_shutting_down.connect
def _drain_coordinator(**_: Any) -> None:
    """A warm shutdown (SIGTERM; Celery calls this first, in the main process): the bodies
    this worker runs go back to their coordinators, and its own coordinator starts nothing
    more, waits FLOWMAESTRO_WORKER_STOP_GRACE for results, and hands its executions back
    (released, not left to go stale): others take everything over at once, and Celery's
    shutdown that follows finds no slot busy."""
    from engine.runtime import get_engine, stop_engine

    started = time.monotonic()
    engine = get_engine()
    given = local_bodies.stop(engine.engine_id if engine is not None else None)
    if given:
        log.info("warm shutdown: %d node bodies given back to their coordinators", given)
    stop_engine(settings.FLOWMAESTRO_WORKER_STOP_GRACE)
    log.info("warm shutdown: coordinator stopped in %.2f s", time.monotonic() - started)



@shared_task(name="flowmaestro.bench.get", ignore_result=True)
def bench_get(url: str, reply_key: str) -> None:
    """`manage.py bench scaleout`'s raw-Celery floor: the same `http` node run a fan-out's
    node body makes (same client, same kept connections, same address check), with no
    engine around it; tells the bench through a Redis list."""
    from engine.executors.redis_lists import client
    from engine.nodes.base import EngineOptions, NodeContext
    from engine.nodes.http import HttpNode

    ctx = NodeContext(node_id="get", name="get", type="http", config={"method": "GET", "url": url},
                      input=None, execution_id=0, trace_id="bench-0-get", branch_id="main", branch_name="main",
                      options=EngineOptions(http_allow_private=settings.FLOWMAESTRO_HTTP_ALLOW_PRIVATE))
    HttpNode().run(ctx)
    client(settings.REDIS_URL).rpush(reply_key, "1")
