"""The engine's pacing rules and their constants, in one place.

The engine is fast because it batches: a tick's writes are committed together, timers that
come due together are fired together, claims that arrive together are read together. Each
rule below trades a little latency for that, within a bound; the figures that chose the
bounds are in docs/performance.md ("Why the pacing constants are what they are"), not
here, because they go stale with the machine.
"""

from __future__ import annotations

# -- ticks (engine.core.coordinator) -----------------------------------------------------
# A tick runs at most this many inline node runs, and for at most this long, before its
# batch is flushed: a long chain of inline nodes would otherwise run in one tick, and its
# first event would reach the timeline only after its last node.
TICK_BUDGET = 2000
TICK_TIME_S = 0.002
# Node runs started within this long of the tick's start share its start time (and their
# delays end together, finished in one wake-up instead of one each).
TICK_STAMP_FRESH_S = 0.002
# Messages handled per wake-up before the coordinator goes on to timers and dispatch, so
# a flood of results cannot starve them.
INBOX_BATCH = 5000

# -- burst hold-back (engine.core.execution) ---------------------------------------------
# When one step makes more than HOLD_BURST_OVER nodes ready beyond the free slots, the rest
# are held and queued HOLD_CHUNK per coordinator pass, so that the first of the burst starts
# (and is seen) before the queueing of the last is written. Their `node.queued` events do
# not count toward the write-behind bound (`Batch.unpaced_events`).
HOLD_BURST_OVER = 32
HOLD_CHUNK = 50

# -- write-behind (engine.core.writer) ---------------------------------------------------
# Ticks waiting for the writer are merged into one transaction (group commit) up to this
# many events: nothing is announced before its commit, so one huge merge would hold back
# the first of its events for the whole commit.
WRITE_MERGE_EVENTS = 100
# The coordinator starts no new work while more than this many events wait for the
# writer's commit (the engine pacing itself by its own durable log; live clients are fed
# after the commit and never waited for). Timer-bound work never reaches the bound.
WRITE_BEHIND_EVENTS = 100
# While behind, the coordinator looks again at least this often (a commit also wakes it).
WRITE_BEHIND_RECHECK_S = 0.01
# A write that fails for a transient reason (a locked database) is tried this many times,
# this far apart; a write the database refuses (e.g. a value that is not JSON) is not.
WRITE_RETRIES = 20
WRITE_RETRY_S = 0.2

# -- timer spinning (engine.core.timers) -------------------------------------------------
# Waking from a kernel wait ends late by a fraction of a millisecond, which every short
# delay would pay. So when a timer is the reason to wake, the coordinator wakes this much
# earlier and yields the rest of the way (other threads keep the GIL meanwhile)…
TIMER_SPIN_S = 0.0003
# …but only for timers due at least this long after the last spin ended, so that
# thousands of scattered timers cannot turn the coordinator into a busy loop.
TIMER_SPIN_EVERY_S = 0.005

# -- claim spacing (engine.core.claims) --------------------------------------------------
# Claims on a run request's wake-up happen at most this often: a claim costs the same
# whatever it finds, so under a burst of requests several runs share one claim. A lone
# run is claimed at once.
CLAIM_SPACING_S = 0.012

# -- housekeeping deferral (engine.core.coordinator) -------------------------------------
# Housekeeping (the poll for new runs and signals, the heartbeat) is a few queries: it waits
# while a timer is due within HOUSEKEEPING_ROOM_S (the timer would end that late), by at most
# HOUSEKEEPING_DEFER_S: never long enough for the engine to look dead.
HOUSEKEEPING_ROOM_S = 0.004
HOUSEKEEPING_DEFER_S = 0.05


def timer_wait(timeout: float, mono: float, due: float | None, spun_at: float) -> tuple[float, float]:
    """How long the coordinator blocks (at most `timeout`) given the next timer's `due`
    time, and until when it then spins (0.0: no spin)."""
    if due is None or due - mono >= timeout:
        return timeout, 0.0
    timeout = max(0.0, due - mono)
    if timeout > TIMER_SPIN_S and due - spun_at >= TIMER_SPIN_EVERY_S:
        return timeout - TIMER_SPIN_S, due
    return timeout, 0.0


def housekeeping_now(mono: float, scheduled: float, next_timer: float | None) -> bool:
    """Is housekeeping scheduled at `scheduled` to run now? Not right before a timer comes
    due, unless it is already overdue by HOUSEKEEPING_DEFER_S."""
    if mono < scheduled:
        return False
    timer_close = next_timer is not None and next_timer - mono < HOUSEKEEPING_ROOM_S
    return not timer_close or mono >= scheduled + HOUSEKEEPING_DEFER_S


def claim_wait(last_claim: float, mono: float) -> float:
    """How long a claim asked for at `mono` waits (≤ 0: claim now)."""
    return last_claim + CLAIM_SPACING_S - mono


def behind(events_handed: int, events_committed: int) -> bool:
    """Is the writer so far behind that the coordinator starts no new work?"""
    return events_handed - events_committed > WRITE_BEHIND_EVENTS
