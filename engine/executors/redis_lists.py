"""The Redis lists between a coordinator and the worker processes (engine.executors.celery_executor):
their names, a worker's lease, the messages a worker or the web tier pushes to a
coordinator, and how a runner takes a body from a coordinator's list. Used by the web tier
and the workers; no Celery here."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from typing import Any

import redis

REPLY_TTL_S = 24 * 3600  # a dead coordinator's list goes away by itself


def bodies_key(engine_id: str) -> str:
    """The Redis list of a coordinator's bodies waiting for a runner (`runners` mode)."""
    return f"flowmaestro:bodies:{engine_id}"


def bell_key(engine_id: str) -> str:
    """One token per body pushed: what an idle runner blocks on."""
    return f"flowmaestro:bell:{engine_id}"


def reply_key(engine_id: str) -> str:
    """The Redis list a coordinator reads its results and control messages from."""
    return f"flowmaestro:to:{engine_id}"


def lease_key(lease: str) -> str:
    """The key a worker process keeps alive while it lives (see the module's docstring)."""
    return f"flowmaestro:lease:{lease}"


def this_lease() -> str:
    """This worker process's lease name: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


_client: redis.Redis | None = None
_client_lock = threading.Lock()


def client(redis_url: str) -> redis.Redis:
    """One Redis client (a thread-safe connection pool) per process."""
    global _client
    with _client_lock:
        if _client is None:
            _client = redis.Redis.from_url(redis_url)
        return _client


# Every worker process's last renewal, by lease: how the web tier tells a run queued behind
# busy workers from one queued with no worker at all (engine.liveness), in one ZCOUNT
# instead of a SCAN over the keyspace for lease keys.
WORKERS_KEY = "flowmaestro:workers"


def renew_lease(redis_url: str, lease: str, lost_after: float) -> None:
    """A worker process is alive for `lost_after` seconds more."""
    now = time.time()
    pipe = client(redis_url).pipeline(transaction=False)
    pipe.set(lease_key(lease), "1", px=int(lost_after * 1000))
    pipe.zadd(WORKERS_KEY, {lease: now})
    pipe.zremrangebyscore(WORKERS_KEY, "-inf", now - 3600)  # long-gone processes
    pipe.execute()


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


# The one step by which a runner takes a body: off the coordinator's list, and at once the
# coordinator told under which worker lease it runs (and the lease renewed), atomically, so
# that a worker dying at any moment leaves no body taken unseen. The list entry starts with
# the attempt id and a newline (CeleryExecutor._push_bodies).
_TAKE_BODY = """
local body = redis.call('LPOP', KEYS[1])
if not body then return false end
local attempt = string.sub(body, 1, string.find(body, '\\n', 1, true) - 1)
redis.call('RPUSH', KEYS[2], ARGV[1] .. attempt .. '"}')
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
redis.call('SET', KEYS[3], '1', 'PX', tonumber(ARGV[2]))
return body
"""
_take_script: Any = None


def take_body(redis_url: str, engine_id: str, lease: str, lost_after: float) -> tuple[str, dict[str, Any]] | None:
    """(A runner.) The next body of that coordinator's list, as (attempt id, task argument)."""
    global _take_script
    if _take_script is None:
        _take_script = client(redis_url).register_script(_TAKE_BODY)
    started = '{"t": "start", "k": ' + json.dumps(lease) + ', "a": "'
    raw = _take_script(keys=[bodies_key(engine_id), reply_key(engine_id), lease_key(lease)],
                       args=[started, int(lost_after * 1000), REPLY_TTL_S])
    if raw is None:
        return None
    attempt_id, _, payload = bytes(raw).decode().partition("\n")
    return attempt_id, json.loads(payload)


def wait_for_body(redis_url: str, engine_id: str, seconds: float) -> bool:
    """(An idle runner.) Whether a body was pushed within `seconds` (a bell token)."""
    return client(redis_url).blpop([bell_key(engine_id)], timeout=seconds) is not None
