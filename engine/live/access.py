"""Who may keep a live stream open (engine.live.consumers): how many streams a user has open
in this process, and the session's user read again while a stream is open (a logout, a
deactivation or a new password ends the stream; the consumers decide what it may still see).
"""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async

log = logging.getLogger("engine")


# --- streams per user ---------------------------------------------------------------------------

# Live streams each user has open in this process. Every open stream reads the store on the
# one thread Channels gives the ORM (the list stream every second, an idle event stream every
# 0.25 s), and so does every handshake (the session's user): probed, 500 list streams of one
# user made another user's new stream miss daphne's 5 s handshake timeout. Only the event
# loop touches this, so it needs no lock.
_open_streams: dict[int, int] = {}


def _streams_per_user() -> int:
    from django.conf import settings

    return int(getattr(settings, "FLOWMAESTRO_WS_STREAMS_PER_USER", 50))


def take_stream(user_id: int) -> bool:
    if _open_streams.get(user_id, 0) >= _streams_per_user():
        return False
    _open_streams[user_id] = _open_streams.get(user_id, 0) + 1
    return True


def give_stream_back(user_id: int) -> None:
    left = _open_streams.get(user_id, 0) - 1
    if left > 0:
        _open_streams[user_id] = left
    else:
        _open_streams.pop(user_id, None)


TOO_MANY_STREAMS = "Too many live streams open for this user; close some pages (reconnecting later)."


def user_of(scope: dict[str, Any]) -> Any:
    user = scope.get("user")
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _session_key(scope: dict[str, Any]) -> str | None:
    return getattr(scope.get("session"), "session_key", None)


@database_sync_to_async
def _user_now(session_key: str | None) -> Any:
    """The user the session `session_key` belongs to now, read afresh, or None: the checks
    of `django.contrib.auth.get_user` (the session exists and has not expired, its backend
    still loads an active user, its password hash still matches), without its side effects
    (flushing or re-keying the session, which belongs to the browser's HTTP requests)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
        load_backend,
    )
    from django.utils.crypto import constant_time_compare

    if not session_key:
        return None
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    backend_path = data.get(BACKEND_SESSION_KEY)
    if SESSION_KEY not in data or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = load_backend(backend_path).get_user(get_user_model()._meta.pk.to_python(data[SESSION_KEY]))
    if user is None:
        return None
    session_hash = data.get(HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return user if session_hash and any(constant_time_compare(session_hash, h) for h in hashes) else None


async def access_now(scope: dict[str, Any], user_id: int) -> Any:
    """The stream's user read again, None when its session no longer logs that user in,
    or `...` when the check itself failed (the database busy: keep the stream, try later)."""
    try:
        user = await _user_now(_session_key(scope))
    except Exception:  # noqa: BLE001 - a failed read is not a logout
        log.warning("websocket access recheck failed", exc_info=True)
        return ...
    return user if user is not None and int(user.pk) == user_id else None


LOGGED_OUT = "Your session has ended: log in again to watch executions."
