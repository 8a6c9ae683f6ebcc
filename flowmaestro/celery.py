"""The Celery app for scale-out (`FLOWMAESTRO_EXECUTOR=celery`): workers run node runs
claimed through the same compare-and-set protocol as the thread executor."""

from __future__ import annotations

import os
import sys
from typing import Any

from celery import Celery
from celery.signals import celeryd_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowmaestro.settings")

app = Celery("flowmaestro")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_init.connect
def refuse_misconfigured_worker(**_: Any) -> None:
    """A worker is only useful with the web tier's broker and queue mode. Without REDIS_URL,
    Celery quietly falls back to redis://localhost:6379 (retrying a hundred times, or joining
    whatever Redis listens there); without FLOWMAESTRO_EXECUTOR=celery it hosts no
    coordinator, so the runs it is woken for stay queued. Either way: one line and exit 1."""
    from django.conf import settings

    missing = [name for name, ok in (("REDIS_URL", bool(settings.REDIS_URL)),
                                     ("FLOWMAESTRO_EXECUTOR=celery", settings.FLOWMAESTRO_EXECUTOR == "celery"))
               if not ok]
    if missing:
        print(f"Refusing to start the worker: {' and '.join(missing)} not set. A FlowMaestro worker needs "
              "the same REDIS_URL, DATABASE_URL and DJANGO_SECRET_KEY as the web processes, and "
              "FLOWMAESTRO_EXECUTOR=celery (README, \"Scaling out\").", file=sys.stderr, flush=True)
        raise SystemExit(1)
    from flowmaestro.database_check import refuse_unreachable_database

    refuse_unreachable_database("the worker")
