"""The pacing rules (engine.core.pacing) on their own, without a coordinator or a clock."""

from __future__ import annotations

import pytest

from engine.core import pacing


def test_no_timer_or_a_far_one_leaves_the_poll_wait_and_does_not_spin() -> None:
    assert pacing.timer_wait(0.5, 100.0, None, 0.0) == (0.5, 0.0)
    assert pacing.timer_wait(0.5, 100.0, 100.7, 0.0) == (0.5, 0.0)


def test_a_near_timer_is_waited_for_and_its_last_stretch_spun() -> None:
    timeout, spin_until = pacing.timer_wait(0.5, 100.0, 100.01, spun_at=0.0)
    assert timeout == pytest.approx(0.01 - pacing.TIMER_SPIN_S)
    assert spin_until == 100.01


def test_timers_close_after_a_spin_are_waited_for_without_spinning() -> None:
    """Thousands of scattered timers must not turn the coordinator into a busy loop."""
    timeout, spin_until = pacing.timer_wait(0.5, 100.0, 100.002, spun_at=99.999)
    assert (timeout, spin_until) == (pytest.approx(0.002), 0.0)


def test_an_overdue_timer_means_no_wait() -> None:
    assert pacing.timer_wait(0.5, 100.0, 99.0, 0.0) == (0.0, 0.0)


def test_housekeeping_waits_for_a_close_timer_but_not_for_long() -> None:
    assert not pacing.housekeeping_now(10.0, scheduled=10.5, next_timer=None)  # not yet due
    assert pacing.housekeeping_now(10.0, scheduled=9.99, next_timer=None)
    assert pacing.housekeeping_now(10.0, scheduled=9.99, next_timer=10.5)  # the timer is far
    assert not pacing.housekeeping_now(10.0, scheduled=9.99, next_timer=10.001)  # deferred…
    overdue = 10.0 - pacing.HOUSEKEEPING_DEFER_S
    assert pacing.housekeeping_now(10.0, scheduled=overdue, next_timer=10.001)  # …but not past the bound


def test_claims_are_spaced_and_a_lone_one_goes_at_once() -> None:
    assert pacing.claim_wait(last_claim=0.0, mono=100.0) <= 0
    assert pacing.claim_wait(last_claim=100.0, mono=100.002) == pytest.approx(pacing.CLAIM_SPACING_S - 0.002)


def test_the_writer_is_behind_past_the_bound_only() -> None:
    assert not pacing.behind(pacing.WRITE_BEHIND_EVENTS, 0)
    assert pacing.behind(pacing.WRITE_BEHIND_EVENTS + 1, 0)
    assert not pacing.behind(5000, 5000 - pacing.WRITE_BEHIND_EVENTS)
