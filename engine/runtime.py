"""The engine inside a Django process: one per process, started by daphne's ASGI module
(in-process mode), by `manage.py runengine`, or lazily by the services in tests."""

from __future__ import annotations

import atexit
import threading

from django.conf import settings
from django.core.mail import send_mail

from engine.core.engine import Engine
from engine.nodes.base import EngineOptions
from engine.store import DjangoPersistence

_engine: Engine | None = None
_lock = threading.Lock()


def build_engine(**overrides: object) -> Engine:
    options = EngineOptions(http_allow_private=settings.FLOWMAESTRO_HTTP_ALLOW_PRIVATE)
    kwargs: dict[str, object] = {
        "max_workers": settings.FLOWMAESTRO_MAX_WORKERS,
        "options": options,
        "poll_interval": float(getattr(settings, "FLOWMAESTRO_POLL_INTERVAL", 0.5)),
        "stale_after": float(getattr(settings, "FLOWMAESTRO_STALE_AFTER", 15.0)),
    }
    # Several heartbeats per staleness window, or live engines would take each other's runs.
    kwargs["heartbeat_interval"] = min(2.0, float(kwargs["stale_after"]) / 3)  # type: ignore[arg-type]
    kwargs.update(overrides)
    engine = Engine(DjangoPersistence(), **kwargs)  # type: ignore[arg-type]
    engine.notifier = _notify
    return engine


def _notify(addresses: list[str], subject: str, body: str) -> None:
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, addresses, fail_silently=False)


def start_engine() -> Engine:
    global _engine
    with _lock:
        if _engine is None:
            _engine = build_engine().start()
            atexit.register(stop_engine)
        return _engine


def get_engine() -> Engine | None:
    return _engine


def stop_engine(grace: float = 5.0) -> None:
    global _engine
    with _lock:
        engine, _engine = _engine, None
    if engine is not None:
        engine.stop(grace)
