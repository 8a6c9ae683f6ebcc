"""Django's Redis cache, keeping its Redis clients.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` on every cache call. The
connection comes from a pool, but the client's constructor fills a dictionary of ~170
response callbacks each time: in a profile of `POST …/run` with the API throttles on Redis,
building those clients was a tenth of the request's CPU. A `redis.Redis` is safe to share
between threads (each command takes a connection from the pool), so one per pool is kept.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        base: Any = self  # Django's private helpers, which its type stubs leave out
        index = base._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            # Two threads may both build one; the second `setdefault` keeps the first.
            client = self._clients.setdefault(index, base._client(connection_pool=base._get_connection_pool(write)))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
