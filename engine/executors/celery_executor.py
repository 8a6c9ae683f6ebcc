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
  which worker lease it runs under, so no body is ever taken unseen. The runners' books
  are kept by engine.executors.runners.
- `tasks`: each body is its own Celery task `flowmaestro.nodes.run` whose task id is the
  attempt id (Flower lists every body by its node run id), at Celery's per-task cost.

A worker in its warm shutdown does not finish the bodies it runs: it gives each back (a
`back` message with the lease it ran under), and the coordinator publishes it again at once
(`_given_back`), as it would after that lease lapsed.

The same list takes control messages from the web tier (`{"t": "signal", "e": id}`: a
signal for an execution this coordinator owns), so signals also arrive without polling.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import redis
from celery import Celery

from engine.executors import wire
from engine.executors.base import Reports
from engine.executors.redis_lists import lease_key, reply_key
from engine.executors.runners import Runners
from engine.executors.thread import ThreadExecutor
from engine.nodes.base import NodeCancelled

if TYPE_CHECKING:
    from engine.core.execution import Attempt

log = logging.getLogger("engine")

class RedisOutage:
    """How a loop that talks to Redis logs losing it: a traceback per retry (every second)
    buried the one fact an operator needs. A lost connection is one line naming the error,
    a reminder every REMINDER_S while it lasts and one line when Redis answers again; any
    other error keeps its traceback."""

    REMINDER_S = 30.0

    def __init__(self, what: str, client: redis.Redis) -> None:
        self.what = what
        kwargs = client.connection_pool.connection_kwargs  # host and port, never the password
        self.where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
        self.since: float | None = None
        self.told = 0.0

    def failed(self, exc: BaseException) -> None:
        if not isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
            log.error("%s failed; retrying", self.what, exc_info=exc)
            return
        now = time.monotonic()
        if self.since is None:
            self.since = self.told = now
            log.error("%s failed: Redis at %s unreachable (%s); node bodies and their results wait until "
                      "it answers; retrying every second", self.what, self.where, exc)
        elif now - self.told >= self.REMINDER_S:
            self.told = now
            log.error("%s: Redis at %s still unreachable after %.0f s (%s)", self.what, self.where,
                      now - self.since, exc)

    def ok(self) -> None:
        if self.since is not None:
            log.warning("%s: Redis answers again after %.0f s", self.what, time.monotonic() - self.since)
            self.since = None


NODE_TASK = "flowmaestro.nodes.run"
EXECUTION_TASK = "flowmaestro.executions.take"
NODE_QUEUE = "nodes"
EXECUTION_QUEUE = "executions"
LEASE_CHECK_S = 1.0  # how often a coordinator looks for lapsed worker leases
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
        self.runners: Runners | None = None  # once started, when bodies ride runners
        self._use_runners = runners
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
        # worker is lost. Only bodies not yet answered. Shared with the runners' books.
        self.in_flight: dict[str, list[Any]] = {}
        self.in_flight_lock = threading.Lock()
        self._leases_checked = 0.0

    def start(self, reports: Reports) -> None:
        self._reports = reports
        self.local.start(reports)
        self.reply_to = reply_key(reports.engine_id)
        if self._use_runners:
            self.runners = Runners(self, reports.engine_id)
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
        with self.in_flight_lock:
            self.in_flight[attempt_id] = [None, None, None, 0.0]  # its payload: once the publisher made it
        reports = self._reports
        assert reports is not None

        def cancelled() -> None:
            # Cancelled or timed out: a task still waiting in the queue is dropped by the
            # workers (revoked off the coordinator thread); a running one finishes and its
            # late result is ignored. The attempt's outcome is settled here and now, so the
            # coordinator forgets it even if no worker ever answers.
            with self.in_flight_lock:
                entry = self.in_flight.pop(attempt_id, None)
            if self.runners is None:
                self._revoke.append(attempt_id)
            elif entry is not None:
                self.runners.cancelled(entry[2])
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
                    self.fail(attempt.id, exc)
                    continue
                with self.in_flight_lock:
                    entry = self.in_flight.get(attempt.id)
                    if entry is None:
                        continue  # cancelled meanwhile
                    entry[0] = payload
                ready.append((attempt.id, payload))
            if ready:
                if self.runners is not None:
                    self.runners.push(ready)
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
                self.publish_tasks(NODE_TASK, bodies)
                return
            except Exception:  # noqa: BLE001 - tried again below, one by one
                log.warning("engine: publishing %d node bodies at once failed; one by one", len(bodies),
                            exc_info=True)
        for attempt_id, payload in bodies:
            try:
                self._publish(attempt_id, payload)
            except Exception as exc:  # noqa: BLE001 - that node run fails, not the engine
                log.exception("engine: publishing node run %s failed", attempt_id)
                self.fail(attempt_id, exc)

    def publish_tasks(self, name: str, tasks: list[tuple[str, Any]]) -> None:
        """Publish tasks `name` (task id, its one argument) in one pipeline."""
        with self._publish_lock:
            producer = self._producer_for_write()
            with producer.batch():
                for task_id, arg in tasks:
                    self.app.send_task(name, args=[arg], queue=self.queue, task_id=task_id, producer=producer)

    def fail(self, attempt_id: str, exc: BaseException) -> None:
        """That body will not run: its node run fails (retryable as the error says)."""
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
        with self.in_flight_lock:
            entry = self.in_flight.get(attempt_id)
            if entry is not None:
                entry[1] = lease

    def _given_back(self, attempt_id: str, lease: str) -> None:
        """(Listener thread.) A worker in its warm shutdown gave this body back unfinished
        (engine.tasks): publish it again now rather than when that worker's lease lapses.
        Only while it is still open under that lease: answered meanwhile, or published again
        already, it is left alone."""
        if self._stop.is_set():
            return
        with self.in_flight_lock:
            entry = self.in_flight.get(attempt_id)
            if entry is None or entry[0] is None or entry[1] != lease:
                return
            entry[1] = None  # until a worker starts it again
            payload = entry[0]
        log.warning("engine: worker %s is stopping and gave back node body %s; published again", lease, attempt_id)
        if self.runners is not None:
            self.runners.push([(attempt_id, payload)])
        else:
            self._publish(attempt_id, payload)

    def _answered(self, attempt_id: str) -> None:
        with self.in_flight_lock:
            self.in_flight.pop(attempt_id, None)

    def _check_leases(self) -> None:
        """Publish again the bodies whose worker's lease lapsed: the worker died under them."""
        self._leases_checked = now = time.monotonic()
        runners = self.runners
        with self.in_flight_lock:
            leases = {entry[1] for entry in self.in_flight.values() if entry[1] is not None}
            # A body waiting long with no runner free for it: one spare runner a check; a
            # spare that finds nothing ends.
            waiting = runners is not None and runners.some_body_waits(now)
            if runners is not None:
                leases |= runners.leases()
        if waiting:
            assert runners is not None
            runners.ensure(spare=1)
        if not leases:
            return
        ordered = sorted(leases)
        pipe = self.redis.pipeline(transaction=False)
        for lease in ordered:
            pipe.exists(lease_key(lease))
        lost = {lease for lease, alive in zip(ordered, pipe.execute(), strict=True) if not alive}
        if not lost:
            return
        with self.in_flight_lock:
            again = [(attempt_id, entry[0]) for attempt_id, entry in self.in_flight.items()
                     if entry[1] in lost and entry[0] is not None]
            for attempt_id, _ in again:
                self.in_flight[attempt_id][1] = None  # until a worker starts it again
            if runners is not None:
                runners.forget(lost)
        log.warning("engine: worker %s lost; %d node bodies published again", ", ".join(sorted(lost)), len(again))
        if runners is not None:
            if again:
                runners.push(again)
            else:
                runners.ensure()
            return
        for attempt_id, payload in again:
            self._publish(attempt_id, payload)

    def _listen(self) -> None:
        outage = RedisOutage(f"engine: reading {self.reply_to}", self.redis)
        while not self._stop.is_set():
            try:
                if self._revoke:
                    ids = [self._revoke.popleft() for _ in range(len(self._revoke))]
                    self.app.control.revoke(ids)
                if self.runners is not None:
                    self.runners.take_off_cancelled()
                if time.monotonic() - self._leases_checked >= LEASE_CHECK_S:
                    self._check_leases()
                # Everything waiting, in one round trip (a transaction of LRANGE and LTRIM:
                # LPOP with a count would need Redis 6.2); the blocking read only when
                # nothing was: under a fan-out, results and starts arrive faster than one
                # round trip (and one wake of this thread) each.
                pipe = self.redis.pipeline(transaction=True)
                pipe.lrange(self.reply_to, 0, LISTEN_BATCH - 1)
                pipe.ltrim(self.reply_to, LISTEN_BATCH, -1)
                items: list[Any] = list(pipe.execute()[0] or [])
                if not items:
                    item: Any = self.redis.blpop([self.reply_to], timeout=0.5)
                    items = [item[1]] if item is not None else []
            except Exception as exc:  # noqa: BLE001 - Redis restarting: try again, never die
                if self._stop.is_set():
                    break  # stopping: Redis may be stopping too (make cluster stops all at once)
                outage.failed(exc)
                self._stop.wait(1.0)
                continue
            outage.ok()
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
            elif kind == "back":
                self._given_back(str(message["a"]), str(message.get("k", "")))
            elif kind == "log":
                reports.remote_log(message["a"], str(message.get("m", "")))
            elif kind in ("runner", "runner-end"):
                # A runner of a coordinator started in `runners` mode (none otherwise).
                if self.runners is not None and kind == "runner":
                    self.runners.started(str(message["r"]), str(message.get("k", "")))
                elif self.runners is not None:
                    self.runners.ended(str(message["r"]))
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
        if self.runners is not None:
            self.runners.drop_list()
        self.local.shutdown()
