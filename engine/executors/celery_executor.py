"""The Celery executor (`FLOWMAESTRO_EXECUTOR=celery`): remote-capable node bodies (http,
JavaScript) run as Celery tasks on the `nodes` queue, on any worker process of any machine.

The coordinator stays the only writer of an execution's state: a task gets everything its
body needs (engine.executors.wire) and the name of the coordinator's Redis list; the worker
pushes log lines and the outcome there, and the executor's listener thread BLPOPs that list
and hands what it reads to the coordinator's inbox, so results arrive without the
coordinator polling the database. Each task carries its attempt id: a redelivered task (its
worker died, acks_late) may run a body twice, and the coordinator records the first result
of a still-open attempt only. Bodies that are not remote-capable run on a local thread pool.

A worker that dies (kill -9, a lost machine) leaves its bodies unacknowledged, and Redis
gives them back only after the broker's visibility timeout (an hour by default, since it
must exceed the longest body). So each worker process renews a lease key while it lives and
tells the coordinator which lease a body started under; when a lease lapses
(FLOWMAESTRO_WORKER_LOST_AFTER), the coordinator publishes that body again itself.

The same list takes control messages from the web tier (`{"t": "signal", "e": id}`: a
signal for an execution this coordinator owns), so signals also arrive without polling.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import redis
from celery import Celery

from engine.executors import wire
from engine.executors.base import Reports
from engine.executors.thread import ThreadExecutor
from engine.nodes.base import NodeCancelled

if TYPE_CHECKING:
    from engine.core.execution import Attempt

log = logging.getLogger("engine")

NODE_TASK = "flowmaestro.nodes.run"
EXECUTION_TASK = "flowmaestro.executions.take"
NODE_QUEUE = "nodes"
EXECUTION_QUEUE = "executions"
REPLY_TTL_S = 24 * 3600  # a dead coordinator's list goes away by itself
LEASE_CHECK_S = 1.0  # how often a coordinator looks for lapsed worker leases


def reply_key(engine_id: str) -> str:
    """The Redis list a coordinator reads its results and control messages from."""
    return f"flowmaestro:to:{engine_id}"


def lease_key(lease: str) -> str:
    """The key a worker process keeps alive while it lives (see the module's docstring)."""
    return f"flowmaestro:lease:{lease}"


def this_lease() -> str:
    """This worker process's lease name: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class CeleryExecutor:
    # Bodies are published as soon as the coordinator starts them, while the writer
    # commits their start (engine.executors.base): a slot's refill no longer waits for a
    # database commit. `submit` only queues them for the publisher thread.
    submits_before_commit = True

    def __init__(self, app: Celery, redis_url: str, *, local: ThreadExecutor | None = None,
                 queue: str = NODE_QUEUE):
        self.app = app
        self.redis = redis.Redis.from_url(redis_url)
        self.local = local or ThreadExecutor(8)
        self.queue = queue
        self.reply_to = ""
        self._reports: Reports | None = None
        self._stop = threading.Event()
        self._revoke: deque[str] = deque()
        self._listener: threading.Thread | None = None
        self._publisher: threading.Thread | None = None
        self._outbox: deque[Attempt] = deque()
        self._outbox_ready = threading.Event()
        self._producer: Any = None
        self._publish_lock = threading.Lock()
        # attempt id → [task argument, lease of the worker running it (None until it starts)]:
        # what to publish again if that worker is lost. Only bodies not yet answered.
        self._in_flight: dict[str, list[Any]] = {}
        self._in_flight_lock = threading.Lock()
        self._leases_checked = 0.0

    def start(self, reports: Reports) -> None:
        self._reports = reports
        self.local.start(reports)
        self.reply_to = reply_key(reports.engine_id)
        self._listener = threading.Thread(target=self._listen, name="fm-replies", daemon=True)
        self._listener.start()
        self._publisher = threading.Thread(target=self._publish_outbox, name="fm-publish", daemon=True)
        self._publisher.start()

    def submit(self, attempt: Attempt) -> None:
        """(Coordinator thread.) Local bodies go to the pool; remote ones to the publisher."""
        assert attempt.impl is not None and attempt.ctx is not None
        if not type(attempt.impl).runs_remote(attempt.ctx.config):
            self.local.submit(attempt)
            return
        attempt_id = attempt.id
        with self._in_flight_lock:
            self._in_flight[attempt_id] = [None, None]  # its payload: once the publisher made it
        reports = self._reports
        assert reports is not None

        def cancelled() -> None:
            # Cancelled or timed out: a task still waiting in the queue is dropped by the
            # workers (revoked off the coordinator thread); a running one finishes and its
            # late result is ignored. The attempt's outcome is settled here and now, so the
            # coordinator forgets it even if no worker ever answers.
            self._revoke.append(attempt_id)
            with self._in_flight_lock:
                self._in_flight.pop(attempt_id, None)
            reports.remote_done(attempt_id, None, NodeCancelled())

        attempt.ctx.on_cancel(cancelled)
        self._outbox.append(attempt)
        self._outbox_ready.set()

    def _publish_outbox(self) -> None:
        """The publisher thread: every body queued since it last looked, serialised (off
        the coordinator thread too) and published in one Redis round trip."""
        reports = self._reports
        assert reports is not None
        while True:
            self._outbox_ready.wait()
            self._outbox_ready.clear()
            if self._stop.is_set():
                return
            ready: list[tuple[str, dict[str, Any]]] = []
            while self._outbox:
                attempt = self._outbox.popleft()
                assert attempt.ctx is not None
                if attempt.ctx.cancelled.is_set():
                    continue  # settled by `cancelled` already: nothing to run
                try:
                    payload = wire.call(attempt, self.reply_to)
                except Exception as exc:  # noqa: BLE001 - that node run fails, not the engine
                    self._answered(attempt.id)
                    reports.remote_done(attempt.id, None, exc)
                    continue
                with self._in_flight_lock:
                    entry = self._in_flight.get(attempt.id)
                    if entry is None:
                        continue  # cancelled meanwhile
                    entry[0] = payload
                ready.append((attempt.id, payload))
            if ready:
                self._publish_many(ready)

    def _producer_for_write(self) -> Any:
        # Published through this executor's own connection: inside a worker, the app's
        # shared producer pool belongs to the worker's event loop, and messages published
        # from another thread through it were sometimes never sent. (Under _publish_lock.)
        if self._producer is None:
            self._producer = self.app.amqp.Producer(self.app.connection_for_write(), auto_declare=True)
        return self._producer

    def _publish_many(self, bodies: list[tuple[str, dict[str, Any]]]) -> None:
        """Publish bodies in one pipeline (kombu's `Producer.batch`); if that fails (Redis
        restarting), one by one with Celery's publish retries. Some may then go out twice:
        at-least-once delivery, recorded once."""
        if len(bodies) > 1:
            try:
                with self._publish_lock:
                    producer = self._producer_for_write()
                    with producer.batch():
                        for attempt_id, payload in bodies:
                            self.app.send_task(NODE_TASK, args=[payload], queue=self.queue,
                                               task_id=attempt_id, producer=producer)
                return
            except Exception:  # noqa: BLE001 - tried again below, one by one
                log.warning("engine: publishing %d node bodies at once failed; one by one", len(bodies),
                            exc_info=True)
        for attempt_id, payload in bodies:
            try:
                self._publish(attempt_id, payload)
            except Exception as exc:  # noqa: BLE001 - that node run fails, not the engine
                log.exception("engine: publishing node run %s failed", attempt_id)
                self._answered(attempt_id)
                reports = self._reports
                assert reports is not None
                reports.remote_done(attempt_id, None, exc)

    def _publish(self, attempt_id: str, payload: dict[str, Any]) -> None:
        # The attempt id is the task id too: Flower, `celery inspect` and the node run's row
        # name the same thing.
        with self._publish_lock:
            self.app.send_task(NODE_TASK, args=[payload], queue=self.queue,
                               task_id=attempt_id, producer=self._producer_for_write(), retry=True)

    def _started(self, attempt_id: str, lease: str) -> None:
        with self._in_flight_lock:
            entry = self._in_flight.get(attempt_id)
            if entry is not None:
                entry[1] = lease

    def _answered(self, attempt_id: str) -> None:
        with self._in_flight_lock:
            self._in_flight.pop(attempt_id, None)

    def _check_leases(self) -> None:
        """Publish again the bodies whose worker's lease lapsed: the worker died under them."""
        self._leases_checked = time.monotonic()
        with self._in_flight_lock:
            leases = sorted({entry[1] for entry in self._in_flight.values() if entry[1] is not None})
        if not leases:
            return
        pipe = self.redis.pipeline(transaction=False)
        for lease in leases:
            pipe.exists(lease_key(lease))
        lost = {lease for lease, alive in zip(leases, pipe.execute(), strict=True) if not alive}
        if not lost:
            return
        with self._in_flight_lock:
            again = [(attempt_id, entry[0]) for attempt_id, entry in self._in_flight.items()
                     if entry[1] in lost and entry[0] is not None]
            for attempt_id, _ in again:
                self._in_flight[attempt_id][1] = None  # until a worker starts it again
        log.warning("engine: worker %s lost; %d node bodies published again", ", ".join(sorted(lost)), len(again))
        for attempt_id, payload in again:
            self._publish(attempt_id, payload)

    def _listen(self) -> None:
        reports = self._reports
        assert reports is not None
        while not self._stop.is_set():
            try:
                if self._revoke:
                    ids = [self._revoke.popleft() for _ in range(len(self._revoke))]
                    self.app.control.revoke(ids)
                if time.monotonic() - self._leases_checked >= LEASE_CHECK_S:
                    self._check_leases()
                item = self.redis.blpop([self.reply_to], timeout=0.5)
            except Exception:  # noqa: BLE001 - Redis restarting: try again, never die
                log.exception("engine: reading %s failed; retrying", self.reply_to)
                self._stop.wait(1.0)
                continue
            if item is None:
                continue
            try:
                message = json.loads(item[1])
                kind = message.get("t")
                if kind == "done":
                    self._answered(message["a"])
                    reports.remote_done(message["a"], *wire.settle(message))
                elif kind == "start":
                    self._started(message["a"], str(message.get("k", "")))
                elif kind == "log":
                    reports.remote_log(message["a"], str(message.get("m", "")))
                else:
                    reports.control(message)
            except Exception:  # noqa: BLE001 - one bad message must not stop the others
                log.exception("engine: bad message on %s", self.reply_to)

    def shutdown(self) -> None:
        self._stop.set()
        self._outbox_ready.set()
        if self._publisher is not None:
            self._publisher.join(5)
        if self._listener is not None:
            self._listener.join(5)
        if self._producer is not None:
            self._producer.connection.release()
        self.local.shutdown()


# -- used by the web tier and the workers ------------------------------------------------------
_client: redis.Redis | None = None
_client_lock = threading.Lock()


def client(redis_url: str) -> redis.Redis:
    """One Redis client (a thread-safe connection pool) per process."""
    global _client
    with _client_lock:
        if _client is None:
            _client = redis.Redis.from_url(redis_url)
        return _client


def renew_lease(redis_url: str, lease: str, lost_after: float) -> None:
    """A worker process is alive for `lost_after` seconds more."""
    client(redis_url).set(lease_key(lease), "1", px=int(lost_after * 1000))


def send(redis_url: str, engine_id: str, message: dict[str, Any], *,
         lease: tuple[str, float] | None = None) -> None:
    """Push a message to a coordinator's list (it expires with its coordinator); with
    `lease` (name, seconds), renew that worker lease in the same round trip."""
    key = reply_key(engine_id)
    pipe = client(redis_url).pipeline(transaction=False)
    if lease is not None:
        pipe.set(lease_key(lease[0]), "1", px=int(lease[1] * 1000))
    pipe.rpush(key, json.dumps(message))
    pipe.expire(key, REPLY_TTL_S)
    pipe.execute()
