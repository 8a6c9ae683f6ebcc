"""`manage.py bench SCENARIO [--json] [--quick]` — the benchmarks of SPEC §9 (engine.bench).

Runs on a throw-away SQLite database (WAL) with the real engine, persistence and event
announcing on; `runs` and `stream` also start daphne on a free port.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from functools import partial
from typing import Any

from django.core.management.base import BaseCommand

from engine.bench import scenarios, servers
from engine.bench.bigloop import bigloop
from engine.bench.harness import Harness

Scenario = Callable[[Harness], list[dict[str, Any]]]
SCENARIOS: dict[str, Scenario] = {
    "chain": scenarios.chain, "fanout": scenarios.fanout, "loop": scenarios.loop, "lattice": scenarios.lattice,
    "runs": servers.runs, "stream": servers.stream, "baseline": scenarios.baseline, "redrive": scenarios.redrive,
}
# Run only when named: `scaleout` (a local cluster), `prune` (a million events written first)
# and `bigloop` (a 1,000,000-item loop on daphne, watched and cancelled; run once, no median).
ON_REQUEST: dict[str, Scenario] = {"prune": servers.prune, "bigloop": bigloop}


class Command(BaseCommand):
    help = "Run the FlowMaestro benchmarks (SPEC §9): " + ", ".join(SCENARIOS) + ", or all."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("scenario", nargs="?", default="all", choices=[*SCENARIOS, "all", "scaleout", *ON_REQUEST],
                            help="`all` is every scenario but `scaleout` (a local cluster: Redis, Celery "
                                 "workers, two daphne, PostgreSQL), `prune` (a million events written "
                                 "first) and `bigloop` (a 1,000,000-item loop on daphne, watched and "
                                 "cancelled), which run only when named")
        parser.add_argument("--database-url", default="",
                            help="`scaleout` only: an empty PostgreSQL database to use (default: a throw-away "
                                 "cluster started from the PostgreSQL binaries, as the tests do)")
        parser.add_argument("--json", action="store_true", help="one JSON object per metric per line")
        parser.add_argument("--quick", action="store_true", help="each scenario at a tenth of its size")
        parser.add_argument("--repeat", type=int, default=None,
                            help="measured runs per scenario, after one warm-up run (none with --quick); "
                                 "the median is reported, with every run's value (default 3, as the goals "
                                 "are medians; 1 with --quick)")
        parser.add_argument("--peers", action="store_true",
                            help="also run fanout and loop on Dask and Prefect when installed (extra `bench`)")
        parser.add_argument("--web-workers", type=int, default=0,
                            help="`runs` only, a scale-out variant: N daphne processes without an engine, "
                                 "one `manage.py runengine`, clients spread over the N (default 0: SPEC §9's "
                                 "single daphne with the engine in-process)")
        parser.add_argument("--events", type=int, default=1_000_000,
                            help="events of the old execution the `prune` scenario removes")
        parser.add_argument("--items", type=int, default=None,
                            help="items of the `loop` scenario (default 10000; e.g. 100000 for the scale "
                                 "check) or of `bigloop` (default 1000000)")
        parser.add_argument("--cancel-after", type=float, default=60.0,
                            help="`bigloop` only: seconds after which the loop is cancelled (0: it runs to "
                                 "its end)")

    def handle(self, *args: Any, **options: Any) -> None:
        self.as_json = options["json"]
        repeat = max(1, options["repeat"] if options["repeat"] is not None else (1 if options["quick"] else 3))
        name = options["scenario"]
        h = Harness(scale=0.1 if options["quick"] else 1.0, loop_items=options["items"] or 10_000,
                    web_workers=max(0, options["web_workers"]), prune_events=options["events"],
                    log=self.stderr.write, bigloop_items=options["items"] or 1_000_000,
                    cancel_after=options["cancel_after"])
        try:
            if name == "scaleout":
                for m in servers.scaleout(h, options["database_url"], repeat, options["quick"]):
                    self.emit(m)
                return
            if name == "bigloop":  # minutes long: one run
                for m in bigloop(h):
                    self.emit(m)
                return
            chosen = SCENARIOS if name == "all" else {name: {**SCENARIOS, **ON_REQUEST}[name]}
            for run in chosen.values():
                self.emit_medians(partial(run, h), repeat, warm_up=not options["quick"])
            if options["peers"]:
                for m in scenarios.peers(h):
                    self.emit(m)
        finally:
            h.close()

    def emit_medians(self, run: Callable[[], list[dict[str, Any]]], repeat: int, *, warm_up: bool) -> None:
        # One warm-up run first (not with --quick): the first run of a new workflow also
        # validates and plans it (10–20 ms for the 220-node lattice) and warms the process.
        # It is reported as `warmUp`, not hidden, and not in the median.
        warm = run() if warm_up else None
        runs = [run() for _ in range(repeat)]
        for i in range(len(runs[0])):
            values = [r[i]["value"] for r in runs]
            median = statistics.median(values)
            # Its other figures (wall time, …) from the run nearest the median.
            nearest = min(runs, key=lambda r: abs(r[i]["value"] - median))[i]
            self.emit({**nearest, "value": round(median, 4),
                       **({"runs": values} if repeat > 1 else {}),
                       **({"warmUp": warm[i]["value"]} if warm else {})})

    def emit(self, m: dict[str, Any]) -> None:
        if self.as_json:
            self.stdout.write(json.dumps(m))
        else:
            extra = {k: v for k, v in m.items() if k not in ("scenario", "metric", "value", "unit")}
            self.stdout.write(f"{m['scenario']:>16}  {m['metric']:<18} {m['value']:>10} {m['unit']:<6} {extra or ''}")
        self.stdout.flush()
