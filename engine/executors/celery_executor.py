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

Two ways to carry bodies (FLOWMAESTRO_NODE_BODIES):
- `runners` (default): the coordinator pushes bodies onto a Redis list of its own and
  publishes Celery tasks `flowmaestro.nodes.serve`, each of which takes one worker slot and
  runs that list's bodies one after another until the list stays empty for a moment or its
  time slice (FLOWMAESTRO_RUNNER_SLICE) ends; the coordinator keeps as many runners as it has
  bodies in flight. Celery's per-message protocol (publish, reserve, dispatch, ack: several
  milliseconds of CPU) is paid per runner instead of per body, so a fan-out of 10 ms calls
  is not bound by it; taking a body is one Redis script that also tells the coordinator
  which worker lease it runs under, so no body is ever taken unseen.
- `tasks`: each body is its own Celery task `flowmaestro.nodes.run` whose task id is the
  attempt id (Flower lists every body by its node run id), at Celery's per-task cost.

The same list takes control messages from the web tier (`{"t": "signal", "e": id}`: a
signal for an execution this coordinator owns), so signals also arrive without polling.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

import redis
from celery import Celery

from engine.executors import wire
from engine.executors.base import Reports
from engine.executors.redis_lists import REPLY_TTL_S, bell_key, bodies_key, lease_key, reply_key
from engine.executors.thread import ThreadExecutor
from engine.nodes.base import NodeCancelled, NodeError

if TYPE_CHECKING:
    from engine.core.execution import Attempt

log = logging.getLogger("engine")

NODE_TASK = "flowmaestro.nodes.run"
RUNNER_TASK = "flowmaestro.nodes.serve"
EXECUTION_TASK = "flowmaestro.executions.take"
NODE_QUEUE = "nodes"
EXECUTION_QUEUE = "executions"
LEASE_CHECK_S = 1.0  # how often a coordinator looks for lapsed worker leases
# Runners (FLOWMAESTRO_NODE_BODIES=runners): at most this many per coordinator (more bodies
# in flight wait on its list); a runner that has served waits this long for the next body
# (a refill comes within milliseconds) before it gives its slot back.
RUNNERS_MAX = 64
RUNNER_LINGER_S = 0.2
BELL_MAX = RUNNERS_MAX  # the wake-up list is a hint: more tokens than runners would only be stale
PENDING_SPARE_S = 2.0  # a body pushed but not taken for this long gets one spare runner
LISTEN_BATCH = 512  # messages the listener takes off its list per round trip, at most


class CeleryExecutor:
    # Bodies are published as soon as the coordinator starts them, while the writer
    # commits their start (engine.executors.base): a slot's refill no longer waits for a
    # database commit. `submit` only queues them for the publisher thread.
    submits_before_commit = True

    def __init__(self, app: Celery, redis_url: str, *, local: ThreadExecutor | None = None,
                 queue: str = NODE_QUEUE, runners: bool = True):
        self.app = app
        self.redis = redis.Redis.from_url(redis_url)
        self.local = local or ThreadExecutor(8)
        self.queue = queue
        self.reply_to = ""
        self.runners = runners
        self._bodies = ""
        self._bell = ""
        # runner task id → lease of the worker running it (None until it starts)
        self._runners: dict[str, str | None] = {}
        self._unpush: deque[str] = deque()  # cancelled bodies to take off the list
        self._reports: Reports | None = None
        self._stop = threading.Event()
        self._revoke: deque[str] = deque()
        self._listener: threading.Thread | None = None
        self._publisher: threading.Thread | None = None
        self._outbox: deque[Attempt] = deque()
        self._outbox_ready = threading.Event()
        self._producer: Any = None
        self._publish_lock = threading.Lock()
        # attempt id → [task argument, lease of the worker running it (None until it starts),
        # the list entry (runners), when it was pushed]: what to publish again if that
        # worker is lost. Only bodies not yet answered.
        self._in_flight: dict[str, list[Any]] = {}
        self._in_flight_lock = threading.Lock()
        self._leases_checked = 0.0

    def start(self, reports: Reports) -> None:
        self._reports = reports
        self.local.start(reports)
        self.reply_to = reply_key(reports.engine_id)
        self._bodies = bodies_key(reports.engine_id)
        self._bell = bell_key(reports.engine_id)
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
            self._in_flight[attempt_id] = [None, None, None, 0.0]  # its payload: once the publisher made it
        reports = self._reports
        assert reports is not None

        def cancelled() -> None:
            # Cancelled or timed out: a task still waiting in the queue is dropped by the
            # workers (revoked off the coordinator thread); a running one finishes and its
            # late result is ignored. The attempt's outcome is settled here and now, so the
            # coordinator forgets it even if no worker ever answers.
            with self._in_flight_lock:
                entry = self._in_flight.pop(attempt_id, None)
            if not self.runners:
                self._revoke.append(attempt_id)
            elif entry is not None and entry[2] is not None:
                self._unpush.append(entry[2])
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
                if self.runners:
                    self._push_bodies(ready)
                else:
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

    # -- runners ------------------------------------------------------------------------------
    def _push_bodies(self, bodies: list[tuple[str, dict[str, Any]]]) -> None:
        """(Publisher thread.) Bodies onto this coordinator's list, one bell token each, in
        one round trip; then enough runners. A Redis that stays down fails those node runs
        (retryable: the node's own retry policy applies)."""
        now = time.monotonic()
        texts: list[str] = []
        with self._in_flight_lock:
            for attempt_id, payload in bodies:
                entry = self._in_flight.get(attempt_id)
                if entry is None:
                    continue  # cancelled meanwhile
                # The attempt id first, so that the taking script reads it without decoding.
                entry[2] = f"{attempt_id}\n{json.dumps(payload)}"
                entry[3] = now
                texts.append(entry[2])
        if not texts:
            return
        for delay in (0.0, 0.2, 0.5, 1.0):
            time.sleep(delay)
            try:
                pipe = self.redis.pipeline(transaction=False)
                pipe.rpush(self._bodies, *texts)
                pipe.expire(self._bodies, REPLY_TTL_S)
                pipe.rpush(self._bell, *["1"] * len(texts))
                pipe.ltrim(self._bell, -BELL_MAX, -1)
                pipe.expire(self._bell, REPLY_TTL_S)
                pipe.execute()
                break
            except Exception:  # noqa: BLE001 - Redis restarting: tried again
                log.warning("engine: pushing %d node bodies failed", len(texts), exc_info=True)
        else:
            reports = self._reports
            assert reports is not None
            for attempt_id, _ in bodies:
                self._answered(attempt_id)
                reports.remote_done(attempt_id, None, NodeError("could not reach Redis to run this node"))
            return
        self._ensure_runners()

    def _ensure_runners(self, spare: int = 0) -> None:
        """As many runners as bodies in flight (at most RUNNERS_MAX), plus `spare`."""
        with self._in_flight_lock:
            want = min(len(self._in_flight), RUNNERS_MAX) - len(self._runners) + spare
            ids = [uuid.uuid4().hex for _ in range(max(0, want))]
            for runner in ids:
                self._runners[runner] = None
        if not ids:
            return
        engine_id = self.reply_to.removeprefix("flowmaestro:to:")
        try:
            with self._publish_lock:
                producer = self._producer_for_write()
                with producer.batch():
                    for runner in ids:
                        self.app.send_task(RUNNER_TASK, args=[engine_id], queue=self.queue, task_id=runner,
                                           producer=producer)
        except Exception:  # noqa: BLE001 - the next push or lease check publishes them again
            log.warning("engine: publishing %d body runners failed", len(ids), exc_info=True)
            with self._in_flight_lock:
                for runner in ids:
                    self._runners.pop(runner, None)

    def _runner_started(self, runner: str, lease: str) -> None:
        with self._in_flight_lock:
            if runner in self._runners:
                self._runners[runner] = lease

    def _runner_ended(self, runner: str) -> None:
        with self._in_flight_lock:
            self._runners.pop(runner, None)
        self._ensure_runners()

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
        self._leases_checked = now = time.monotonic()
        with self._in_flight_lock:
            leases = sorted({entry[1] for entry in self._in_flight.values() if entry[1] is not None}
                            | {lease for lease in self._runners.values() if lease is not None})
            # A body waiting long with no runner free for it (a runner's end message lost,
            # or every runner busy): one spare runner a check; a spare that finds nothing ends.
            waiting = self.runners and any(entry[1] is None and entry[2] is not None
                                           and now - entry[3] > PENDING_SPARE_S for entry in self._in_flight.values())
        if waiting:
            self._ensure_runners(spare=1)
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
            for runner, lease in list(self._runners.items()):
                if lease in lost:
                    del self._runners[runner]  # died with its worker
        log.warning("engine: worker %s lost; %d node bodies published again", ", ".join(sorted(lost)), len(again))
        if self.runners:
            if again:
                self._push_bodies(again)
            else:
                self._ensure_runners()
            return
        for attempt_id, payload in again:
            self._publish(attempt_id, payload)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                if self._revoke:
                    ids = [self._revoke.popleft() for _ in range(len(self._revoke))]
                    self.app.control.revoke(ids)
                if self._unpush:
                    pipe = self.redis.pipeline(transaction=False)
                    for _ in range(len(self._unpush)):
                        pipe.lrem(self._bodies, 1, self._unpush.popleft())
                    pipe.execute()
                if time.monotonic() - self._leases_checked >= LEASE_CHECK_S:
                    self._check_leases()
                # Everything waiting, in one round trip (LPOP with a count: Redis 6.2); the
                # blocking read only when nothing was: under a fan-out, results and starts
                # arrive faster than one round trip (and one wake of this thread) each.
                items: list[Any] = list(self.redis.lpop(self.reply_to, LISTEN_BATCH) or [])  # type: ignore[arg-type]
                if not items:
                    item: Any = self.redis.blpop([self.reply_to], timeout=0.5)
                    items = [item[1]] if item is not None else []
            except Exception:  # noqa: BLE001 - Redis restarting: try again, never die
                log.exception("engine: reading %s failed; retrying", self.reply_to)
                self._stop.wait(1.0)
                continue
            for raw in items:
                self._handle(raw)

    def _handle(self, raw: bytes | str) -> None:
        """(Listener thread.) One message of this coordinator's list."""
        reports = self._reports
        assert reports is not None
        try:
            message = json.loads(raw)
            kind = message.get("t")
            if kind == "done":
                self._answered(message["a"])
                reports.remote_done(message["a"], *wire.settle(message))
            elif kind == "start":
                self._started(message["a"], str(message.get("k", "")))
            elif kind == "log":
                reports.remote_log(message["a"], str(message.get("m", "")))
            elif kind == "runner":
                self._runner_started(str(message["r"]), str(message.get("k", "")))
            elif kind == "runner-end":
                self._runner_ended(str(message["r"]))
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
        if self.runners and self._bodies:
            # Bodies nobody will record: the executions go back to the queue with this
            # coordinator, and their next owner starts their node runs afresh.
            try:
                self.redis.delete(self._bodies, self._bell)
            except Exception:  # noqa: BLE001 - they expire by themselves (REPLY_TTL_S)
                log.warning("engine: dropping %s failed", self._bodies, exc_info=True)
        self.local.shutdown()
