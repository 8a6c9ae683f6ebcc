"""The executor seam between the coordinator and node bodies.

The coordinator owns every state change of an execution; an executor only runs a node
run's body (`NodeType.run(ctx)`) somewhere and reports back, through the `Reports` it was
started with, exactly one outcome per submission:

- `done(attempt, value, exc)` from a thread of this process (the attempt object itself), or
- `remote_done(attempt_id, value, exc)` / `remote_log(attempt_id, line)` for a body that ran
  in another process and is known only by its attempt id. The coordinator ignores a result
  for an attempt that has already settled (timed out, cancelled, reported before: a
  redelivered task), so a body may run more than once but is recorded once.

Nothing here imports Django: the core builds a `ThreadExecutor` when it is given none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.core.execution import Attempt


class Reports(Protocol):
    """What an executor may call (any thread): the coordinator's inbox, by another name."""

    engine_id: str

    def done(self, attempt: Attempt, value: Any, exc: BaseException | None) -> None: ...

    def remote_done(self, attempt_id: str, value: Any, exc: BaseException | None) -> None: ...

    def remote_log(self, attempt_id: str, line: str) -> None: ...

    def control(self, message: dict[str, Any]) -> None:
        """A message for the coordinator from outside (e.g. `{"t": "signal", "e": id}`)."""
        ...


class Executor(Protocol):
    """Runs node bodies, in the order the coordinator started them. By default `submit`
    is called from the engine's writer thread once the node run's start is committed.

    An executor whose bodies run in other processes sets `submits_before_commit`: then
    `submit` is called on the coordinator thread as soon as the tick that started the
    node run is handed to the writer, so the body travels while its start is committed
    (the commit is the longest step of a slot's refill otherwise). Delivery is
    at-least-once anyway; the coordinator holds a result that arrives before the start is
    committed until it is, and drops it when the claim turns out lost, so nothing is
    recorded about a node run whose start is not. `submit` must then return at once
    (hand the body to a thread of its own): the coordinator waits for it."""

    submits_before_commit: bool

    def start(self, reports: Reports) -> None: ...

    def submit(self, attempt: Attempt) -> None: ...

    def shutdown(self) -> None: ...
