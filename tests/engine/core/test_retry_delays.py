"""Retry delays as a node's `retry` words them (SPEC §3): `backoff` fixed or exponential from
`initialDelay` ms, capped by `maxDelay`, spread by `jitter` (true = ±50 %, a number = that
fraction). `jitter` had no test; a user who sets it expects the delays to differ, within bounds."""

from __future__ import annotations

import random

from engine.core.policies import retry_delay_ms


def test_exponential_backoff_doubles_from_initial_delay_and_stops_at_max_delay():
    retry = {"backoff": "exponential", "initialDelay": 200, "maxDelay": 1000}
    assert [retry_delay_ms(retry, n) for n in (1, 2, 3, 4, 5)] == [200, 400, 800, 1000, 1000]
    assert [retry_delay_ms({"initialDelay": 200}, n) for n in (1, 2, 3)] == [200, 200, 200]  # fixed


def test_jitter_true_spreads_up_to_half_either_way_and_a_number_by_that_fraction():
    rng = random.Random(7)
    spread = [retry_delay_ms({"initialDelay": 1000, "jitter": True}, 1, rng) for _ in range(200)]
    assert all(500 <= d <= 1500 for d in spread)
    assert min(spread) < 700 and max(spread) > 1300  # really spread, not a constant
    tight = [retry_delay_ms({"initialDelay": 1000, "jitter": 0.1}, 1, rng) for _ in range(200)]
    assert all(900 <= d <= 1100 for d in tight) and len(set(tight)) > 100
    assert retry_delay_ms({"initialDelay": 1000, "jitter": False}, 1, rng) == 1000
