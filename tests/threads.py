"""Threads for tests that use the database from more than one thread at once.

Django gives each thread its own connection. The test client does not close it at the end
of a request (it unhooks `close_old_connections` from the request signals), and a thread
that ends without closing it never gives it back: on PostgreSQL that connection stays
checked out of the pool (psycopg_pool cannot see that its borrower died), and a few such
tests exhaust the pool for every test after them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def db_thread(target: Callable[..., Any], *args: Any) -> threading.Thread:
    """A (not yet started) thread running `target(*args)` that gives its database
    connections back when it ends, however it ends."""

    def run() -> None:
        try:
            target(*args)
        finally:
            connections.close_all()

    return threading.Thread(target=run, daemon=True)
