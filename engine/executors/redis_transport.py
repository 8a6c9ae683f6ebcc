"""Kombu's Redis transport, with one Redis client per channel for publishing.

Kombu's `Channel.conn_or_acquire()` builds a new `redis.Redis` object for every message it
publishes (on the channel's existing connection pool). Constructing one fills a response-
callback dictionary of ~170 entries: ~90 µs of CPU, against ~30 µs for the `LPUSH` itself,
on every run request's wake-up (`POST …/run` → `flowmaestro.executions.take`) and every
runner task. A channel belongs to one producer or consumer at a time and a `redis.Redis`
is safe to share, so the channel keeps the first one it makes. Everything else — the wire
format, routing, acknowledgements, visibility timeouts — is kombu's own.

Selected by `CELERY_BROKER_TRANSPORT` (flowmaestro/settings.py); the broker URL stays
`redis://…`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _publish_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        kept = self._publish_client
        # A new pool (kombu drops the old one when the channel's connection closes) gets a
        # new client.
        if kept is None or kept.connection_pool is not self.pool:
            kept = self._publish_client = self._create_client()
        yield kept


class Transport(kombu_redis.Transport):
    Channel = Channel
