"""The bench's harness: a throw-away SQLite database (WAL) with the real engine,
persistence and event announcing on, and daphne servers on free ports for the scenarios
that go through HTTP or websockets.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from engine.core.engine import Engine
from engine.runtime import start_engine, stop_engine
from flowmaestro.settings import DEVELOPMENT_SECRET_KEY


class Harness:
    """What every scenario needs: the scratch database, its user, the process's engine."""

    def __init__(self, *, scale: float, loop_items: int, web_workers: int, prune_events: int,
                 log: Callable[[str], Any], bigloop_items: int = 1_000_000, cancel_after: float = 60.0) -> None:
        self.scale = scale
        self.loop_items = loop_items
        self.bigloop_items = bigloop_items
        self.cancel_after = cancel_after
        self.web_workers = web_workers
        self.prune_events = prune_events
        self.log = log
        self.tmp = tempfile.mkdtemp(prefix="flowmaestro-bench-")
        # Its daphne servers refuse the development key (DEBUG off), and the session cookies
        # this process makes for the stream clients must be valid there: one key for both.
        if not os.environ.get("DJANGO_SECRET_KEY") and settings.SECRET_KEY == DEVELOPMENT_SECRET_KEY:
            settings.SECRET_KEY = self.server_key
        self._use_scratch_database()
        settings.FLOWMAESTRO_HOUSEKEEPING = False  # see server_env
        # The process-wide engine, at its default poll interval: `execution_start` wakes it,
        # and the bench waits on it (no polling in the measured path).
        self.engine: Engine = start_engine()

    def close(self) -> None:
        stop_engine(1)
        connections["default"].close()
        shutil.rmtree(self.tmp, ignore_errors=True)  # the scratch database (tens of MB)

    def _use_scratch_database(self) -> None:
        if connections["default"].vendor != "sqlite":
            # Only the file name of the database is swapped for the scratch one below.
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise CommandError("the bench runs on a scratch SQLite database: run it without a "
                               "PostgreSQL DATABASE_URL")
        self.db_path = os.path.join(self.tmp, "bench.sqlite3")
        connections["default"].close()
        connections["default"].settings_dict["NAME"] = self.db_path
        settings.DATABASES["default"]["NAME"] = self.db_path
        call_command("migrate", verbosity=0, interactive=False)
        from django.contrib.auth.models import User

        self.user, _ = User.objects.get_or_create(username="bench")


    def n(self, full: int) -> int:
        return max(1, int(full * self.scale))

    def run_definition(self, definition: dict[str, Any], input: Any = None, timeout: float = 600) -> tuple[float, Any]:
        from editor.models import Workflow, WorkflowVersion
        from engine import services
        from engine.models import Execution

        wf = Workflow.objects.create(owner=self.user, name=definition["name"], definition=definition, version=1)
        WorkflowVersion.objects.create(workflow=wf, number=1, definition=definition)
        t0 = time.perf_counter()
        ex = services.execution_start(workflow=wf, user=self.user, input=input or {})
        self.engine.submit(ex.id)
        if not self.engine.wait(ex.id, timeout):
            raise CommandError(f"{definition['name']}: execution {ex.id} did not finish in {timeout}s")
        wall = time.perf_counter() - t0
        ex = Execution.objects.get(id=ex.id)
        if ex.status != "succeeded":
            raise CommandError(f"{definition['name']}: execution {ex.id} {ex.status}: {ex.error}")
        return wall, ex

    @cached_property
    def server_key(self) -> str:
        return secrets.token_urlsafe(50)

    def server_env(self, *, engine_in_process: bool) -> dict[str, str]:
        return {**os.environ, "DATABASE_URL": f"sqlite:///{self.db_path}",
                "FLOWMAESTRO_ENGINE_IN_PROCESS": "true" if engine_in_process else "false",
                "FLOWMAESTRO_POLL_INTERVAL": "0.05", "DJANGO_SETTINGS_MODULE": "flowmaestro.settings",
                # A private server on a throw-away database: a key of its own (the server
                # refuses the development key without DEBUG, and DEBUG would slow it down),
                # and no API throttling, which the benchmark's hundreds of runs per second
                # are meant to measure past.
                "DJANGO_SECRET_KEY": settings.SECRET_KEY,
                "FLOWMAESTRO_THROTTLE_ANON": "off", "FLOWMAESTRO_THROTTLE_USER": "off",
                # No schedules or retention passes of their own in the measured servers
                # (the `prune` scenario runs retention itself, where it measures it).
                "FLOWMAESTRO_HOUSEKEEPING": "false"}

    def daphne(self, *, engine_in_process: bool = True) -> tuple[subprocess.Popen[bytes], str]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = self.server_env(engine_in_process=engine_in_process)
        root = Path(settings.BASE_DIR)
        daphne = str(Path(sys.executable).with_name("daphne"))
        proc = subprocess.Popen([daphne, "-b", "127.0.0.1", "-p", str(port), "flowmaestro.asgi:application"],
                                cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/accounts/login/", timeout=1)
                return proc, url
            except httpx.HTTPError:
                time.sleep(0.1)
        proc.kill()
        raise CommandError("daphne did not start")
