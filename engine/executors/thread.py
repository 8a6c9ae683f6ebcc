"""The default executor: node bodies on a thread pool of the engine's own process."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from engine.executors.base import Reports

if TYPE_CHECKING:
    from engine.core.execution import Attempt


class ThreadExecutor:
    # In-process bodies start once their start is committed (engine.executors.base): the
    # writer thread hands them over, and the coordinator never pays for the pool's hand-off.
    submits_before_commit = False

    def __init__(self, max_workers: int = 32, *, initializer: Callable[[], None] | None = None):
        # `initializer` runs first on each worker thread (the runtime uses it to give node
        # bodies every core when the process pins its GIL-bound threads to one).
        self.pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fm-node",
                                       initializer=initializer)
        self._reports: Reports | None = None

    def start(self, reports: Reports) -> None:
        self._reports = reports

    def submit(self, attempt: Attempt) -> None:
        self.pool.submit(self._work, attempt)

    def _work(self, attempt: Attempt) -> None:
        # Node types never touch the database (results go back to the coordinator), so
        # pooled threads need no connection handling.
        reports = self._reports
        assert reports is not None
        try:
            assert attempt.impl is not None and attempt.ctx is not None
            value = attempt.impl.run(attempt.ctx)
        except BaseException as exc:  # noqa: BLE001
            reports.done(attempt, None, exc)
        else:
            reports.done(attempt, value, None)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
