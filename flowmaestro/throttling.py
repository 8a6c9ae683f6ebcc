"""DRF throttles whose rates come from `settings.FLOWMAESTRO_THROTTLE_RATES` on every
request, counted in a sliding window of ten buckets.

Why not DRF's own `SimpleRateThrottle`: it keeps each client's list of request times in
the cache and writes the whole list back on every request. At the default 6000/minute that
list grows to 6000 floats, pickled, sent and unpickled on every request; and two daphne
processes that read the same list at once each write back their own copy, so requests go
missing from the count and a client gets through at up to twice its rate. Here the rate's
duration is cut into `BUCKETS` buckets, each an integer counter in the cache raised
atomically (`INCR` on Redis; the cache's own lock in one process), and a request is let
through while the last `BUCKETS` buckets hold no more than the rate allows: O(1) per
request, one Redis round trip, exact across processes. The price of buckets over a log of
times: the counted span is between 9/10 of the duration and the whole of it, so a client
timing its bursts to bucket edges gets at most a ninth more than its rate.

DRF's classes also copy `DEFAULT_THROTTLE_RATES` once, at import, so a changed setting
(a test, a reloaded configuration) would be ignored. A rate of None: no limit.

Also the pruning of django-axes' login logs, which otherwise grow by a row per login."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.utils.connection import ConnectionProxy
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

BUCKETS = 10


def count_request(cache: BaseCache, keys: list[str], ttl: int) -> list[int]:
    """Adds one to the counter `keys[0]` (kept `ttl` seconds) and returns every key's count
    (0 for an absent key), in the order of `keys`."""
    if isinstance(cache, ConnectionProxy):
        # DRF's throttles hold `django.core.cache.cache`, a proxy whose class is not the
        # backend's: unwrapped, or the Redis case below is never taken (it was not, and each
        # request paid three round trips instead of one).
        cache = cache._connections[cache._alias]
    if isinstance(cache, RedisCache):
        # One round trip; INCR creates the key at 1 and is atomic across processes.
        names = [cache.make_and_validate_key(k) for k in keys]
        client = cache._cache.get_client(names[0], write=True)  # type: ignore[attr-defined]  # no public INCR
        pipe = client.pipeline(transaction=False)
        pipe.incr(names[0])
        pipe.expire(names[0], ttl)
        pipe.mget(names[1:])
        now, _, before = pipe.execute()
        return [int(now), *(int(v or 0) for v in before)]
    # Any other cache (LocMemCache: one process): add-then-incr under the cache's own lock.
    cache.add(keys[0], 0, ttl)
    try:
        now = cache.incr(keys[0])
    except ValueError:  # expired between the two calls
        cache.set(keys[0], 1, ttl)
        now = 1
    found = cache.get_many(keys[1:])
    return [int(now), *(int(found.get(k) or 0) for k in keys[1:])]


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
        keys = [f"{key}:b{self.bucket - i}" for i in range(BUCKETS)]
        self.counts = count_request(self.cache, keys, math.ceil(self.duration + self.width))
        if sum(self.counts) <= self.num_requests:
            return True
        # A refused request is taken back out: a client is slowed to its rate, not locked
        # out for as long as it keeps asking.
        try:
            self.cache.decr(keys[0])
        except ValueError:
            pass
        self.counts[0] -= 1
        return False

    def wait(self) -> float:
        """Seconds until one more request fits (DRF puts it in `Retry-After`): until enough
        of the oldest buckets have left the window. Never more than the rate's duration."""
        excess = sum(self.counts) + 1 - self.num_requests
        freed = 0
        for age in range(BUCKETS - 1, -1, -1):
            freed += self.counts[age]
            if freed >= excess:
                leaves = (self.bucket - age + BUCKETS) * self.width
                return float(max(1, math.ceil(leaves - self.now)))
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
