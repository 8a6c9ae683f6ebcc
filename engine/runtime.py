"""The engine inside a Django process: one per process, started by daphne's ASGI module
(in-process mode), by `manage.py runengine`, or lazily by the services in tests."""

from __future__ import annotations

import atexit
import gc
import sys
import threading
import time

from django.conf import settings

from engine.core.engine import Engine
from engine.housekeeping import Housekeeper, start_housekeeping
from engine.nodes.base import EngineOptions
from engine.notifications import send_cancel_notice
from engine.store.persistence import DjangoPersistence
from flowmaestro import affinity

_engine: Engine | None = None
_housekeeper: Housekeeper | None = None
_lock = threading.Lock()


def tune_garbage_collector() -> None:
    """A running engine allocates a few small objects per node run and keeps them briefly;
    at the default gen-0 threshold (700) the collector then runs every few hundred node
    runs and its full passes, which walk all of Django as well, stall the coordinator for
    100 ms and more in a 10,000-item loop (measured). Raise the threshold and move what is
    loaded at start-up out of the collector's way. `FLOWMAESTRO_GC_THRESHOLD=0` leaves the
    collector as Python sets it."""
    threshold = int(getattr(settings, "FLOWMAESTRO_GC_THRESHOLD", 50_000))
    if threshold > 0:
        gc.set_threshold(threshold, 20, 50)
        gc.freeze()
        _start_garbage_watch()


_garbage_watch: threading.Thread | None = None


def _start_garbage_watch() -> None:
    """With the raised thresholds a full collection is rare (one per ~50 million objects
    made), and the collector counts objects, not bytes: a request's reference cycles (DRF
    serializers, the request and response) that lived through two collections while it
    ran — most of a big answer's half second next to a busy coordinator — wait for that
    full collection with everything they hold. For a big loop's detail that is its input
    and outputs decoded from the database, megabytes each time: daphne grew ~5 MB per
    request watched (measured). So a thread collects fully whenever the interpreter holds
    `FLOWMAESTRO_GC_COLLECT_GROWTH` more small objects than after the last collection (the
    count is cheap to read); growth that is real just moves the mark up."""
    global _garbage_watch
    growth = int(getattr(settings, "FLOWMAESTRO_GC_COLLECT_GROWTH", 1_000_000))
    if growth <= 0 or _garbage_watch is not None:
        return

    def watch() -> None:
        mark = sys.getallocatedblocks()
        while True:
            time.sleep(0.5)
            held = sys.getallocatedblocks()
            if held - mark > growth:
                gc.collect()
                mark = sys.getallocatedblocks()
            elif held < mark:
                mark = held

    _garbage_watch = threading.Thread(target=watch, name="fm-gc-watch", daemon=True)
    _garbage_watch.start()


def build_engine(**overrides: object) -> Engine:
    tune_garbage_collector()
    options = EngineOptions(
        http_allow_private=settings.FLOWMAESTRO_HTTP_ALLOW_PRIVATE,
        output_max_depth=int(getattr(settings, "FLOWMAESTRO_OUTPUT_MAX_DEPTH", 128)),
        output_max_bytes=int(getattr(settings, "FLOWMAESTRO_OUTPUT_MAX_BYTES", 64_000_000)),
        http_json_max_values=int(getattr(settings, "FLOWMAESTRO_HTTP_JSON_MAX_VALUES", 1_000_000)),
        loop_max_items=int(getattr(settings, "FLOWMAESTRO_LOOP_MAX_ITEMS", 1_000_000)),
        execution_max_node_runs=int(getattr(settings, "FLOWMAESTRO_EXECUTION_MAX_NODE_RUNS", 5_000_000)),
        expression_timeout_ms=int(getattr(settings, "FLOWMAESTRO_EXPRESSION_TIMEOUT_MS", 1000)),
        expression_memory_mb=int(getattr(settings, "FLOWMAESTRO_EXPRESSION_MEMORY_MB", 64)),
    )
    kwargs: dict[str, object] = {
        "max_workers": settings.FLOWMAESTRO_MAX_WORKERS,
        "max_workers_per_user": settings.FLOWMAESTRO_MAX_WORKERS_PER_USER or None,
        "options": options,
        "poll_interval": float(getattr(settings, "FLOWMAESTRO_POLL_INTERVAL", 0.5)),
        "stale_after": float(getattr(settings, "FLOWMAESTRO_STALE_AFTER", 15.0)),
    }
    # Several heartbeats per staleness window, or live engines would take each other's runs.
    kwargs["heartbeat_interval"] = min(2.0, float(kwargs["stale_after"]) / 3)  # type: ignore[arg-type]
    if affinity.pinned():
        kwargs["worker_initializer"] = affinity.release
    if settings.FLOWMAESTRO_EXECUTOR == "celery":
        from engine.executors.celery_executor import CeleryExecutor
        from flowmaestro.celery import app

        kwargs["executor"] = CeleryExecutor(app, settings.REDIS_URL,
                                            runners=settings.FLOWMAESTRO_NODE_BODIES == "runners")
    kwargs.update(overrides)
    engine = Engine(DjangoPersistence(), **kwargs)  # type: ignore[arg-type]
    engine.notifier = send_cancel_notice
    return engine


def start_engine() -> Engine:
    global _engine, _housekeeper
    with _lock:
        if _engine is None:
            _engine = build_engine().start()
            _housekeeper = start_housekeeping()
            atexit.register(stop_engine)
        return _engine


def get_engine() -> Engine | None:
    return _engine


def stop_engine(grace: float = 5.0) -> None:
    global _engine, _housekeeper
    with _lock:
        engine, _engine = _engine, None
        housekeeper, _housekeeper = _housekeeper, None
    if housekeeper is not None:
        housekeeper.stop()
    if engine is not None:
        engine.stop(grace)
