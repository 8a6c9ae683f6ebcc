"""The Celery app for scale-out (`FLOWMAESTRO_EXECUTOR=celery`): workers run node runs
claimed through the same compare-and-set protocol as the thread executor."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowmaestro.settings")

app = Celery("flowmaestro")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
