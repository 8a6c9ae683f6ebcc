"""Background jobs of an engine process that are not part of running executions: starting
the runs of due schedules, pruning old executions (retention), old login logs and HMAC
webhooks' expired replay-cache rows.

One daemon thread per engine process runs each job at its own interval. Every job is safe
to run in many processes at once (schedules are claimed with compare-and-set updates,
pruning deletes in small batches by primary key), so nothing needs a leader, and a job's
exception is logged and the job runs again at its next interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections, connection

log = logging.getLogger("engine.housekeeping")


@dataclass
class Job:
    name: str
    interval: float
    run: Callable[[], object]
    due: float = 0.0


class Housekeeper:
    def __init__(self, jobs: list[Job]):
        self.jobs = jobs
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="flowmaestro-housekeeping", daemon=True)

    def start(self) -> Housekeeper:
        now = time.monotonic()
        for job in self.jobs:
            job.due = now + min(job.interval, 1.0)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                for job in self.jobs:
                    if now >= job.due and not self._stop.is_set():
                        job.due = now + job.interval
                        self._run(job)
                wait = min(job.due for job in self.jobs) - time.monotonic() if self.jobs else 1.0
                self._stop.wait(max(0.05, wait))
        finally:
            connection.close()  # a stopped engine keeps no database connection open

    @staticmethod
    def _run(job: Job) -> None:
        close_old_connections()
        try:
            job.run()
        except Exception:
            log.exception("housekeeping job %s failed; it runs again in %.0f s", job.name, job.interval)


def default_jobs() -> list[Job]:
    from django.conf import settings

    from editor.triggers import schedules_run_due
    from editor.webhook_signing import prune_expired
    from engine.retention import prune
    from engine.tracing import export_finished
    from flowmaestro.throttling import prune_login_logs

    jobs = [Job("schedules", float(getattr(settings, "FLOWMAESTRO_SCHEDULE_INTERVAL", 1.0)), schedules_run_due)]
    # Spans of finished executions, when OTEL_EXPORTER_OTLP_ENDPOINT is set (else a no-op).
    jobs.append(Job("traces", float(getattr(settings, "FLOWMAESTRO_TRACE_EXPORT_INTERVAL", 1.0)), export_finished))
    jobs.append(Job("login-logs", 3600.0, prune_login_logs))
    # HMAC webhooks' remembered signatures whose timestamps left the window (replay cache).
    jobs.append(Job("webhook-signatures", 60.0, prune_expired))
    retention_interval = float(getattr(settings, "FLOWMAESTRO_RETENTION_INTERVAL", 60.0))
    if retention_interval > 0:
        jobs.append(Job("retention", retention_interval, prune))
    return jobs


def start_housekeeping() -> Housekeeper | None:
    """The housekeeping thread of this engine process (None when turned off by
    `FLOWMAESTRO_HOUSEKEEPING=false`, e.g. on engines that should only run executions)."""
    from django.conf import settings

    if not getattr(settings, "FLOWMAESTRO_HOUSEKEEPING", True):
        return None
    return Housekeeper(default_jobs()).start()
