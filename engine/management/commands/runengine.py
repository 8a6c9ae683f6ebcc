"""`manage.py runengine`: a standalone engine process (coordinator + thread executor)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from engine.housekeeping import start_housekeeping
from engine.runtime import build_engine


class Command(BaseCommand):
    help = "Run the FlowMaestro engine in this process until SIGTERM/SIGINT (then drain)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--grace", type=float, default=10.0, help="seconds to let running node runs finish")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        engine = build_engine().start()
        housekeeper = start_housekeeping()
        self.stdout.write(f"engine {engine.engine_id} running (workers={engine.max_workers})", ending="\n")
        self.stdout.flush()
        stop.wait()
        self.stdout.write("draining…")
        if housekeeper is not None:
            housekeeper.stop()
        engine.stop(options["grace"])
        self.stdout.write("engine stopped")
