"""A worker stopped the way `make cluster`'s honcho, systemd or `docker compose stop` stop it
(SIGTERM to its process group, SIGKILL a few seconds later: honcho waits 5 s) goes in
well under those seconds and loses nothing:

- the worker coordinating a run hands it back on SIGTERM: another worker's coordinator
  takes it over at once (not after FLOWMAESTRO_STALE_AFTER, set far higher here), and no
  finished node run is repeated;
- a worker running another coordinator's node bodies gives them back on SIGTERM instead of
  finishing them first: that coordinator publishes them again at once (not after
  FLOWMAESTRO_WORKER_LOST_AFTER, set far higher here).

Real processes (tests/scaleout/conftest.py): Redis, PostgreSQL, two Celery workers, two daphne.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.engine.definitions import loop_definition
from tests.scaleout.conftest import Cluster, Proc, running_cluster

pytestmark = [pytest.mark.timeout(240)]

# Far above what the tests allow for the handover: a run taken over only after staleness,
# or a body published again only after its worker's lease lapsed, fails them.
STALE_AFTER_S = 60.0
WORKER_LOST_AFTER_S = 60.0
# honcho's wait before SIGKILL is 5 s; a worker must be gone well before.
EXIT_BOUND_S = 3.0
# Node bodies that outlast that wait: a warm shutdown that let them finish is too slow.
LONG_MS = 6000


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster(FLOWMAESTRO_STALE_AFTER=str(STALE_AFTER_S),
                               FLOWMAESTRO_WORKER_LOST_AFTER=str(WORKER_LOST_AFTER_S))


def calls(api: str, name: str) -> dict[str, Any]:
    """A loop over durations in ms: each item is one `http` call to the demo API's /slow."""
    work = {"id": "work", "type": "http", "name": "work",
            "config": {"method": "GET", "url": f"{api}/slow", "query": {"ms": "{{item}}"}}}
    return loop_definition({"maxConcurrency": 8}, [work], name=name)


def work_runs(ex: dict[str, Any], status: str) -> list[dict[str, Any]]:
    return [r for r in ex["nodeRuns"] if r["nodeId"] == "work" and r["status"] == status]


def reached(cluster: Cluster, execution_id: int, *, succeeded: int, running: int) -> dict[str, Any] | None:
    """The execution once that many `work` node runs succeeded and that many run, else None."""
    ex = cluster.get(execution_id)
    done = len(work_runs(ex, "succeeded")) == succeeded and len(work_runs(ex, "running")) == running
    return ex if done else None


def wait_until(what: str, check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return value


def received_bodies(proc: Proc, run_ids: set[str]) -> set[str]:
    """The node bodies among `run_ids` a worker's runners took (engine.tasks logs each)."""
    return {run_id for run_id in run_ids if f"node body {run_id} received" in proc.log_text()}


def sigterm(cluster: Cluster, proc: Proc) -> float:
    """SIGTERM to the worker's process group, as honcho sends it; seconds until it exited."""
    sent = time.monotonic()
    cluster.local.kill(proc, signal.SIGTERM)
    return time.monotonic() - sent


def finished_once(ex: dict[str, Any]) -> None:
    succeeded = Counter(r["iteration"] for r in work_runs(ex, "succeeded"))
    assert succeeded and set(succeeded.values()) == {1}, succeeded


def test_sigterm_to_the_coordinating_worker_hands_its_run_over_at_once(cluster: Cluster) -> None:
    items = [200] * 8 + [LONG_MS] * 8
    execution_id = cluster.run(cluster.create(calls(cluster.api_base, "handover")), {"items": items})
    # The quick calls are done and the long ones run on every slot of both workers.
    ex = wait_until("the long calls did not start", lambda: reached(cluster, execution_id, succeeded=8, running=8))
    before = {r["iteration"]: r["id"] for r in work_runs(ex, "succeeded")}
    holder = cluster.holder(execution_id)
    coordinator = cluster.worker_of(holder)
    running = {r["id"] for r in work_runs(ex, "running")}
    wait_until("the coordinating worker runs none of the long calls", lambda: received_bodies(coordinator, running))

    sent = time.monotonic()
    took = sigterm(cluster, coordinator)
    stopped_at = time.monotonic()
    new_holder = wait_until("nobody took the run over",
                            lambda: (h := cluster.holder(execution_id)) not in ("", holder) and h, timeout=60)
    handed_over = time.monotonic() - sent
    print(f"coordinating worker: exited {took:.2f} s after SIGTERM, run taken over after {handed_over:.2f} s")
    assert took < EXIT_BOUND_S, f"the worker took {took:.1f} s to exit"
    assert handed_over < 3.0, handed_over  # the other's next poll, not FLOWMAESTRO_STALE_AFTER
    assert "handed back" in coordinator.log_text()
    assert cluster.worker_of(new_holder) is not coordinator

    ex = cluster.wait(execution_id, timeout=60)
    assert ex["status"] == "succeeded", ex["error"]
    assert [item["body"]["sleptMs"] for item in ex["output"]["o"]] == items
    finished_once(ex)
    # What had finished before the stop was not run again: the same node runs stand; the
    # long calls cut short were run again by the new owner.
    assert {r["iteration"]: r["id"] for r in work_runs(ex, "succeeded") if r["iteration"] in before} == before
    # Eight long calls again on the four slots left: two rounds, and far less than staleness.
    assert time.monotonic() - stopped_at < 2 * LONG_MS / 1000 + 12 < STALE_AFTER_S
    cluster.restart(coordinator.name)


def test_sigterm_to_a_worker_running_another_coordinators_bodies_gives_them_back(cluster: Cluster) -> None:
    for name in {"w1", "w2"} - {w.name for w in cluster.workers()}:
        cluster.restart(name)  # the test before stopped one
    items = [LONG_MS] * 8
    execution_id = cluster.run(cluster.create(calls(cluster.api_base, "give back")), {"items": items})
    ex = wait_until("the calls did not start", lambda: reached(cluster, execution_id, succeeded=0, running=8))
    coordinator = cluster.worker_of(cluster.holder(execution_id))
    other = next(w for w in cluster.workers() if w is not coordinator)
    running = {r["id"] for r in work_runs(ex, "running")}
    given = wait_until("the other worker runs none of the calls", lambda: received_bodies(other, running))

    took = sigterm(cluster, other)
    stopped_at = time.monotonic()
    ex = cluster.wait(execution_id, timeout=60)
    print(f"body worker: exited {took:.2f} s after SIGTERM; the run ended {time.monotonic() - stopped_at:.2f} s "
          "after that")
    assert took < EXIT_BOUND_S, f"the worker took {took:.1f} s to exit"
    assert ex["status"] == "succeeded", ex["error"]
    assert [item["body"]["sleptMs"] for item in ex["output"]["o"]] == items
    finished_once(ex)
    # The calls the stopped worker gave back ran again on the coordinator's worker at once.
    assert time.monotonic() - stopped_at < LONG_MS / 1000 + 10 < WORKER_LOST_AFTER_S
    assert "gave back" in coordinator.log_text()
    assert given <= received_bodies(coordinator, given)
    cluster.restart(other.name)


def test_sigterm_in_the_middle_of_javascript_bodies_fails_none(cluster: Cluster) -> None:
    """The SIGTERM reaches the worker's whole process group, its JavaScript sandbox
    processes too: a body whose sandbox died of it is given back, not reported as a
    crashed node run."""
    for name in {"w1", "w2"} - {w.name for w in cluster.workers()}:
        cluster.restart(name)
    spin = {"id": "work", "type": "transform", "name": "work",
            "config": {"operation": "custom",
                       "expression": "const t = Date.now(); while (Date.now() - t < 40) {} return input * 2"}}
    items = list(range(300))
    execution_id = cluster.run(cluster.create(loop_definition({"maxConcurrency": 8}, [spin], name="spin")),
                               {"items": items})
    coordinator = cluster.worker_of(wait_until("not claimed", lambda: cluster.holder(execution_id)))
    other = next(w for w in cluster.workers() if w is not coordinator)
    wait_until("no JavaScript body reached the other worker", lambda: other.log_text().count(" received") > 20)

    took = sigterm(cluster, other)
    ex = cluster.wait(execution_id, timeout=120)
    assert took < EXIT_BOUND_S, f"the worker took {took:.1f} s to exit"
    assert ex["status"] == "succeeded", ex["error"]
    assert ex["output"] == {"o": [i * 2 for i in items]}
    assert [r for r in ex["nodeRuns"] if r["status"] == "failed"] == []
    finished_once(ex)
    cluster.restart(other.name)
