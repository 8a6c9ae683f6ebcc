"""DRF throttles whose rates come from `settings.FLOWMAESTRO_THROTTLE_RATES` on every
request, counted in a sliding window of ten buckets.

Why not DRF's own `SimpleRateThrottle`: it keeps each client's list of request times in
the cache and writes the whole list back on every request. At the default 6000/minute that
list grows to 6000 floats, pickled, sent and unpickled on every request; and two daphne
processes that read the same list at once each write back their own copy, so requests go
missing from the count and a client gets through at up to twice its rate. Here the rate's
duration is cut into `BUCKETS` buckets, each an integer counter in the cache, and a
request is let through, and counted, while the last `BUCKETS` buckets hold fewer than the
rate allows; the check and the count are one atomic step (a Lua script on Redis; a lock in
one process): O(1) per request, one Redis round trip, exact across processes. The price of buckets over a log of
times: the counted span is between 9/10 of the duration and the whole of it, so a client
timing its bursts to bucket edges gets at most a ninth more than its rate.

DRF's classes also copy `DEFAULT_THROTTLE_RATES` once, at import, so a changed setting
(a test, a reloaded configuration) would be ignored. A rate of None: no limit.

Also the pruning of django-axes' login logs, which otherwise grow by a row per login."""

from __future__ import annotations

import math
import threading
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.utils.connection import ConnectionProxy
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

BUCKETS = 10


# Checks a request against its window and counts it if it fits, in one step: KEYS are the
# request's bucket, then the window's older ones, then later ones (below); ARGV the limit
# and the current bucket's time to live. Returns whether it fitted, then each key's count.
_CHECK_AND_COUNT = """
local counts = redis.call('MGET', unpack(KEYS))
local total = 0
for i = 1, #KEYS do
  counts[i] = tonumber(counts[i]) or 0
  total = total + counts[i]
end
local fits = 0
if total < tonumber(ARGV[1]) then
  fits = 1
  counts[1] = redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
table.insert(counts, 1, fits)
return counts
"""
_script: Any = None  # redis-py's Script for _CHECK_AND_COUNT, usable with any client
# Counts outside Redis (one process's cache) are checked and raised under this lock.
_local_lock = threading.Lock()


def count_request(cache: BaseCache, keys: list[str], limit: int, ttl: int) -> tuple[bool, list[int]]:
    """Whether one more request fits under `limit` counted over all of `keys`; if so it is
    counted in `keys[0]` (kept `ttl` seconds). Returns that and every key's count (0 for an
    absent key), in the order of `keys`, the request included when it fitted.

    The check and the count are one atomic step, so that of two requests counted at once one
    sees the other: when they were two (raise the counter, then read the others), two
    requests either side of a bucket edge could each read the other's bucket before the
    other raised it, and a refused request had to be taken back out by a third call."""
    if isinstance(cache, ConnectionProxy):
        # DRF's throttles hold `django.core.cache.cache`, a proxy whose class is not the
        # backend's: unwrapped, or the Redis case below is never taken (it was not, and each
        # request paid three round trips instead of one).
        cache = cache._connections[cache._alias]
    if isinstance(cache, RedisCache):
        # One round trip; the script runs atomically with respect to every other client.
        names = [cache.make_and_validate_key(k) for k in keys]
        client = cache._cache.get_client(names[0], write=True)  # type: ignore[attr-defined]  # no public scripting
        global _script
        if _script is None:
            _script = client.register_script(_CHECK_AND_COUNT)  # EVALSHA, loading it when the server lacks it
        fits, *counts = _script(keys=names, args=[limit, ttl], client=client)
        return bool(fits), [int(c) for c in counts]
    # Any other cache (LocMemCache: one process): read, check and raise under one lock.
    with _local_lock:
        found = cache.get_many(keys)
        counts = [int(found.get(k) or 0) for k in keys]
        fits = sum(counts) < limit
        if fits:
            counts[0] += 1
            cache.set(keys[0], counts[0], ttl)
    return fits, counts


class WindowThrottle:
    """The bucketed count shared by both throttles: a mixin over DRF's classes, whose
    `get_cache_key`, `parse_rate` and constructor it keeps."""

    scope: str | None
    rate: str | None
    num_requests: int
    duration: int
    cache: BaseCache
    timer: Any

    def get_rate(self) -> str | None:
        return settings.FLOWMAESTRO_THROTTLE_RATES.get(str(self.scope))

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)  # type: ignore[attr-defined]
        if key is None:
            return True
        self.now = float(self.timer())
        self.width = self.duration / BUCKETS
        self.bucket = int(self.now // self.width)
        # The window's buckets, this one first, then the BUCKETS - 1 after it. Those are
        # empty unless another request was stamped later and counted first (another server's
        # clock a little ahead, or this thread held up between its stamp and its count).
        # Without them such a request, stamped before a bucket edge and counted after one
        # stamped past it, did not see it, and both got through: one over the rate per pair.
        self.ages = [*range(BUCKETS), *range(-1, -BUCKETS, -1)]
        keys = [f"{key}:b{self.bucket - age}" for age in self.ages]
        # Kept until the last window that reads it has passed (BUCKETS - 1 buckets later).
        ttl = math.ceil(self.duration + self.width)
        fits, self.counts = count_request(self.cache, keys, self.num_requests, ttl)
        # A refused request is not counted: a client is slowed to its rate, not locked out
        # for as long as it keeps asking.
        return fits

    def wait(self) -> float:
        """Seconds until one more request fits (DRF puts it in `Retry-After`): until enough
        of the oldest buckets have left the window. Never more than the rate's duration."""
        excess = sum(self.counts) + 1 - self.num_requests
        freed = 0
        # Oldest first: the window's oldest bucket, …, this one, then the later ones.
        for index in sorted(range(len(self.ages)), key=lambda i: -self.ages[i]):
            freed += self.counts[index]
            if freed >= excess:
                leaves = (self.bucket - self.ages[index] + BUCKETS) * self.width
                return float(max(1, min(math.ceil(self.duration), math.ceil(leaves - self.now))))
        return float(max(1, math.ceil(self.duration)))


class AnonThrottle(WindowThrottle, AnonRateThrottle):
    """Anonymous API requests, counted per client address."""


class UserThrottle(WindowThrottle, UserRateThrottle):
    """Logged-in API requests (session or token), counted per user."""


def prune_login_logs() -> int:
    """Delete axes' login and failed-login log entries older than
    `FLOWMAESTRO_LOGIN_LOG_DAYS` (a housekeeping job); the lockout counts are not logs and
    expire with `AXES_COOLOFF_TIME`. Returns how many entries went."""
    from axes.handlers.database import AxesDatabaseHandler

    handler = AxesDatabaseHandler()
    days = int(settings.FLOWMAESTRO_LOGIN_LOG_DAYS)
    return handler.reset_logs(age_days=days) + handler.reset_failure_logs(age_days=days)
