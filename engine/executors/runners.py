"""Body runners (FLOWMAESTRO_NODE_BODIES=runners, the default): the coordinator's side.

The coordinator pushes each node body onto a Redis list of its own and keeps as many
runner tasks (`flowmaestro.nodes.serve`, engine.tasks) as it has bodies in flight, at most
RUNNERS_MAX; each runner holds one worker slot and runs bodies from that list one after
another until the list stays empty for a moment or its time slice ends. Celery's
per-message cost is then paid per runner rather than per body.

This class keeps the runners' books for one CeleryExecutor (engine.executors.celery_executor),
whose table of bodies in flight it shares, under the executor's lock: which runner tasks
were published, under which worker lease each runs, which cancelled bodies must come off
the list, and the list itself.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

import redis

from engine.executors.redis_lists import REPLY_TTL_S, bell_key, bodies_key
from engine.nodes.base import NodeError

if TYPE_CHECKING:
    from engine.executors.celery_executor import CeleryExecutor

log = logging.getLogger("engine")

RUNNER_TASK = "flowmaestro.nodes.serve"
# At most this many runners per coordinator (more bodies in flight wait on its list); a
# runner that has served waits this long for the next body (a refill comes within
# milliseconds) before it gives its slot back.
RUNNERS_MAX = 64
RUNNER_LINGER_S = 0.2
BELL_MAX = RUNNERS_MAX  # the wake-up list is a hint: more tokens than runners would only be stale
PENDING_SPARE_S = 2.0  # a body pushed but not taken for this long gets one spare runner


class Runners:
    def __init__(self, executor: CeleryExecutor, engine_id: str) -> None:
        self.executor = executor
        self.engine_id = engine_id
        self.bodies = bodies_key(engine_id)
        self.bell = bell_key(engine_id)
        # runner task id → lease of the worker running it (None until it starts);
        # guarded by the executor's in-flight lock
        self._runners: dict[str, str | None] = {}
        self._unpush: deque[str] = deque()  # cancelled bodies to take off the list

    def push(self, bodies: list[tuple[str, dict[str, Any]]]) -> None:
        """(Publisher thread.) Bodies onto this coordinator's list, one bell token each, in
        one round trip; then enough runners. A Redis that stays down fails those node runs
        (retryable: the node's own retry policy applies)."""
        ex = self.executor
        now = time.monotonic()
        texts: list[str] = []
        with ex.in_flight_lock:
            for attempt_id, payload in bodies:
                entry = ex.in_flight.get(attempt_id)
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
                pipe = ex.redis.pipeline(transaction=False)
                pipe.rpush(self.bodies, *texts)
                pipe.expire(self.bodies, REPLY_TTL_S)
                pipe.rpush(self.bell, *["1"] * len(texts))
                pipe.ltrim(self.bell, -BELL_MAX, -1)
                pipe.expire(self.bell, REPLY_TTL_S)
                pipe.execute()
                break
            except Exception:  # noqa: BLE001 - Redis restarting: tried again
                log.warning("engine: pushing %d node bodies failed", len(texts), exc_info=True)
        else:
            for attempt_id, _ in bodies:
                ex.fail(attempt_id, NodeError("could not reach Redis to run this node"))
            return
        self.ensure()

    def ensure(self, spare: int = 0) -> None:
        """As many runners as bodies in flight (at most RUNNERS_MAX), plus `spare`."""
        ex = self.executor
        with ex.in_flight_lock:
            want = min(len(ex.in_flight), RUNNERS_MAX) - len(self._runners) + spare
            ids = [uuid.uuid4().hex for _ in range(max(0, want))]
            for runner in ids:
                self._runners[runner] = None
        if not ids:
            return
        try:
            ex.publish_tasks(RUNNER_TASK, [(runner, self.engine_id) for runner in ids])
        except Exception:  # noqa: BLE001 - the next push or lease check publishes them again
            log.warning("engine: publishing %d body runners failed", len(ids), exc_info=True)
            with ex.in_flight_lock:
                for runner in ids:
                    self._runners.pop(runner, None)

    def started(self, runner: str, lease: str) -> None:
        """(Listener thread.) A runner began, in the worker process holding `lease`."""
        with self.executor.in_flight_lock:
            if runner in self._runners:
                self._runners[runner] = lease

    def ended(self, runner: str) -> None:
        """(Listener thread.) A runner gave its slot back: another, if bodies still wait."""
        with self.executor.in_flight_lock:
            self._runners.pop(runner, None)
        self.ensure()

    def cancelled(self, text: str | None) -> None:
        """A cancelled body's list entry (None if it was never pushed) comes off the list."""
        if text is not None:
            self._unpush.append(text)

    def take_off_cancelled(self) -> None:
        """(Listener thread.) The cancelled bodies still waiting come off the list."""
        if self._unpush:
            pipe = self.executor.redis.pipeline(transaction=False)
            for _ in range(len(self._unpush)):
                pipe.lrem(self.bodies, 1, self._unpush.popleft())
            pipe.execute()

    def leases(self) -> set[str]:
        """The worker leases runners run under. (Under the executor's in-flight lock.)"""
        return {lease for lease in self._runners.values() if lease is not None}

    def some_body_waits(self, now: float) -> bool:
        """Whether a body was pushed more than PENDING_SPARE_S ago and no runner took it yet
        (a runner's end message lost, or every runner busy). (Under the in-flight lock.)"""
        return any(entry[1] is None and entry[2] is not None and now - entry[3] > PENDING_SPARE_S
                   for entry in self.executor.in_flight.values())

    def forget(self, lost: set[str]) -> None:
        """The runners of lost worker leases died with them. (Under the in-flight lock.)"""
        for runner, lease in list(self._runners.items()):
            if lease in lost:
                del self._runners[runner]

    def drop_list(self) -> None:
        """(Shutdown.) Bodies nobody will record: the executions go back to the queue with
        this coordinator, and their next owner starts their node runs afresh."""
        try:
            self.executor.redis.delete(self.bodies, self.bell)
        except redis.ConnectionError as exc:  # Redis stopping with us (make cluster): no traceback
            log.warning("engine: dropping %s failed: %s (its keys expire by themselves)", self.bodies, exc)
        except Exception:  # noqa: BLE001 - they expire by themselves (REPLY_TTL_S)
            log.warning("engine: dropping %s failed", self.bodies, exc_info=True)
