"""The Celery executor (`FLOWMAESTRO_EXECUTOR=celery`): remote-capable node bodies (http,
JavaScript) run as Celery tasks on the `nodes` queue, on any worker process of any machine.

The coordinator stays the only writer of an execution's state: a task gets everything its
body needs (engine.executors.wire) and the name of the coordinator's Redis list; the worker
pushes log lines and the outcome there, and the executor's listener thread BLPOPs that list
and hands what it reads to the coordinator's inbox, so results arrive without the
coordinator polling the database. Each task carries its attempt id: a redelivered task (its
worker died, acks_late) may run a body twice, and the coordinator records the first result
of a still-open attempt only. Bodies that are not remote-capable run on a local thread pool.

The same list takes control messages from the web tier (`{"t": "signal", "e": id}`: a
signal for an execution this coordinator owns), so signals also arrive without polling.
"""

from __future__ import annotations

import json
import logging
import threading
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


def reply_key(engine_id: str) -> str:
    """The Redis list a coordinator reads its results and control messages from."""
    return f"flowmaestro:to:{engine_id}"


class CeleryExecutor:
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
        self._producer: Any = None
        self._publish_lock = threading.Lock()

    def start(self, reports: Reports) -> None:
        self._reports = reports
        self.local.start(reports)
        self.reply_to = reply_key(reports.engine_id)
        self._listener = threading.Thread(target=self._listen, name="fm-replies", daemon=True)
        self._listener.start()

    def submit(self, attempt: Attempt) -> None:
        assert attempt.impl is not None and attempt.ctx is not None
        if not type(attempt.impl).runs_remote(attempt.ctx.config):
            self.local.submit(attempt)
            return
        # The attempt id is the task id too: Flower, `celery inspect` and the node run's row
        # name the same thing. Published through this executor's own connection: inside a
        # worker, the app's shared producer pool belongs to the worker's event loop, and
        # messages published from another thread through it were sometimes never sent.
        with self._publish_lock:
            if self._producer is None:
                self._producer = self.app.amqp.Producer(self.app.connection_for_write(), auto_declare=True)
            self.app.send_task(NODE_TASK, args=[wire.call(attempt, self.reply_to)], queue=self.queue,
                               task_id=attempt.id, producer=self._producer, retry=True)
        attempt_id = attempt.id
        reports = self._reports
        assert reports is not None

        def cancelled() -> None:
            # Cancelled or timed out: a task still waiting in the queue is dropped by the
            # workers (revoked off the coordinator thread); a running one finishes and its
            # late result is ignored. The attempt's outcome is settled here and now, so the
            # coordinator forgets it even if no worker ever answers.
            self._revoke.append(attempt_id)
            reports.remote_done(attempt_id, None, NodeCancelled())

        attempt.ctx.on_cancel(cancelled)

    def _listen(self) -> None:
        reports = self._reports
        assert reports is not None
        while not self._stop.is_set():
            try:
                if self._revoke:
                    ids = [self._revoke.popleft() for _ in range(len(self._revoke))]
                    self.app.control.revoke(ids)
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
                    reports.remote_done(message["a"], *wire.settle(message))
                elif kind == "log":
                    reports.remote_log(message["a"], str(message.get("m", "")))
                else:
                    reports.control(message)
            except Exception:  # noqa: BLE001 - one bad message must not stop the others
                log.exception("engine: bad message on %s", self.reply_to)

    def shutdown(self) -> None:
        self._stop.set()
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


def send(redis_url: str, engine_id: str, message: dict[str, Any]) -> None:
    """Push a message to a coordinator's list (it expires with its coordinator)."""
    key = reply_key(engine_id)
    pipe = client(redis_url).pipeline(transaction=False)
    pipe.rpush(key, json.dumps(message))
    pipe.expire(key, REPLY_TTL_S)
    pipe.execute()
