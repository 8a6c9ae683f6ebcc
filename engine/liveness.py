"""Why a queued run has not started, when nothing will start it: the timeline says so
instead of only "not started yet" (a run created while no Celery worker runs waits, with
no sign of why, until one starts)."""

from __future__ import annotations

import time

import redis
from django.conf import settings

from engine.executors.redis_lists import WORKERS_KEY, client

START_WORKER = "celery -A flowmaestro worker -Q executions,nodes"


def why_not_started() -> str | None:
    """None when some process should start a queued run, else one sentence saying what is
    missing. Only queue mode can tell: a worker renews its lease while it lives (every
    third of FLOWMAESTRO_WORKER_LOST_AFTER); the thread executor's engine is inside daphne
    or a `runengine` process, which keep no such record."""
    if settings.FLOWMAESTRO_EXECUTOR != "celery":
        return None
    lost_after = float(settings.FLOWMAESTRO_WORKER_LOST_AFTER)
    try:
        alive = client(settings.REDIS_URL).zcount(WORKERS_KEY, time.time() - lost_after, "+inf")
    except redis.RedisError as exc:
        return f"Redis cannot be reached ({exc}), so no worker can be told to start it."
    if alive:
        return None
    return (f"No Celery worker is running (none renewed its lease in the last {lost_after:g} s): "
            f"queued runs start as soon as one does ({START_WORKER}).")
