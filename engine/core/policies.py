"""Declarative policies (SPEC §3, §4.3): retry backoff, timeouts, onError, and the join
policy of a parallel section. Pure functions over config dicts."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

POLICY_KEYS = ("timeout", "onTimeout", "retry", "onError")


@dataclass(frozen=True)
class NodePolicy:
    timeout_ms: int | None
    on_timeout: str  # cancel | continue | error
    retry: Mapping[str, Any]
    on_error: str  # fail | continue | route

    @property
    def max_attempts(self) -> int:
        return max(1, int(self.retry.get("maxAttempts", 1) or 1))


def node_policy(config: Mapping[str, Any], branch: Mapping[str, Any] | None = None) -> NodePolicy:
    """Node settings override the settings of the branch the node runs in."""
    merged: dict[str, Any] = {k: v for k, v in (branch or {}).items() if k in POLICY_KEYS}
    merged.update({k: v for k, v in config.items() if k in POLICY_KEYS and v is not None})
    timeout = merged.get("timeout")
    return NodePolicy(
        timeout_ms=int(timeout) if timeout else None,
        on_timeout=str(merged.get("onTimeout") or "error"),
        retry=merged.get("retry") or {},
        on_error=str(merged.get("onError") or "fail"),
    )


def retry_delay_ms(retry: Mapping[str, Any], failed_attempt: int, rng: random.Random | None = None) -> float:
    """Delay before attempt `failed_attempt + 1`: fixed or exponential from `initialDelay`,
    capped by `maxDelay`, spread by `jitter` (true = up to ±50 %, a number = that fraction)."""
    initial = float(retry.get("initialDelay", 1000) or 0)
    if retry.get("backoff", "fixed") == "exponential":
        delay = initial * (2 ** (failed_attempt - 1))
    else:
        delay = initial
    cap = retry.get("maxDelay")
    if cap is not None:
        delay = min(delay, float(cap))
    jitter = retry.get("jitter")
    if jitter:
        fraction = 0.5 if jitter is True else float(jitter)
        delay *= 1 + (rng or random).uniform(-fraction, fraction)
    return max(0.0, delay)


@dataclass(frozen=True)
class JoinPolicy:
    mode: str  # all | first_success | quorum
    quorum: int
    on_partial_failure: str  # fail | continue | collect
    min_success_rate: float | None
    collect_errors: bool
    fail_fast: bool
    cancel_on_failure: bool
    total_timeout_ms: int | None
    on_total_timeout: str  # fail | collect_partial


def join_policy(node_type: str, config: Mapping[str, Any], default: Any = None) -> JoinPolicy:
    """The policy of a join (SPEC §4.3): its own `parallel` object, else the workflow's
    `settings.parallel` (`default`). Any join may carry one — a merge, a loop, a Transform
    with several incoming branches; only a merge has a `mode` and a `quorum`."""
    parallel = config.get("parallel")
    if not isinstance(parallel, Mapping):
        parallel = default if isinstance(default, Mapping) else {}
    mode = str(config.get("mode") or "all") if node_type == "merge" else "all"
    total = parallel.get("totalTimeout")
    return JoinPolicy(
        mode=mode,
        quorum=int(config.get("quorum") or 1) if node_type == "merge" else 1,
        on_partial_failure=str(parallel.get("onPartialFailure") or "fail"),
        min_success_rate=float(parallel["minSuccessRate"]) if parallel.get("minSuccessRate") is not None else None,
        collect_errors=bool(parallel.get("collectErrors")),
        # Two settings, not one (SPEC §4.3): failFast decides when the section fails (at the
        # first failure, without waiting); cancelOnFailure whether the branches still running
        # are cancelled then (otherwise they finish and keep their results).
        fail_fast=bool(parallel.get("failFast")),
        cancel_on_failure=bool(parallel.get("cancelOnFailure")),
        total_timeout_ms=int(total) if total else None,
        on_total_timeout=str(parallel.get("onTimeout") or "fail"),
    )


def section_verdict(policy: JoinPolicy, succeeded: int, failed: int, total: int, cancelled: int = 0,
                    noun: str = "branches") -> str | None:
    """Once every branch has settled: None when the section may go on, else why it fails.
    `total` is what `minSuccessRate` divides by; `cancelled` counts the branches (or loop
    items) that `cancelOnFailure` cut. A cut one did not fail, so the message names it apart
    — "1 of 3 branches failed; 2 cancelled" — the same words for a merge and a loop."""
    if policy.mode == "first_success" and succeeded == 0:
        return f"no branch succeeded ({failed} failed)"
    if policy.mode == "quorum" and succeeded < policy.quorum:
        return f"quorum not reached: {succeeded} of {policy.quorum} required successes"
    if policy.mode == "all" and failed and policy.on_partial_failure == "fail":
        return failed_text(failed, succeeded + failed + cancelled, cancelled, noun)
    if policy.min_success_rate is not None and total:
        rate = succeeded / total
        if rate + 1e-9 < policy.min_success_rate:
            return f"success rate {rate:.2f} is below minSuccessRate {policy.min_success_rate:.2f}"
    return None


def failed_text(failed: int, of: int, cancelled: int, noun: str) -> str:
    """"2 of 5 items failed", with "; 3 cancelled" when some were cut rather than failed."""
    return f"{failed} of {of} {noun} failed" + (f"; {cancelled} cancelled" if cancelled else "")


def failure_entry(error: Any) -> dict[str, Any]:
    """How one failed (or cut) branch or loop item reads in its section's output — an
    `errors` entry (`collectErrors`) or a `collect` result — the same for both, so one
    reader serves a merge and a loop: `error` is always the message, a string (as the seed's
    collect shape writes it, `{success: false, error: "Timeout"}`); whatever else the
    failure said goes under `details` — the node's own `details` (`{"kind": "thrown"}`) and
    any other key (`timeout: true`, a nested loop's own `errors`) — left out when nothing.
    The caller adds the path key (`branch` or `index`)."""
    if not isinstance(error, Mapping):
        return {"error": error if isinstance(error, str) else "failed" if error is None else str(error)}
    message = error.get("message")
    entry: dict[str, Any] = {"error": message if isinstance(message, str)
                             else "failed" if message is None else str(message)}
    own = error.get("details")
    details = {k: v for k, v in error.items() if k not in ("message", "details")}
    if isinstance(own, Mapping):
        details.update(own)
    elif own is not None:
        details["details"] = own
    if details:
        entry["details"] = details
    return entry


class RateLimiter:
    """A smooth token bucket of capacity one: starts are spaced `1/rate` seconds apart,
    never bunched at a second boundary. `clock` is injectable for tests."""

    def __init__(self, rate_per_s: float, clock: Callable[[], float] = time.monotonic):
        self.interval = 1.0 / rate_per_s
        self.clock = clock
        self.next_at = 0.0

    def wait_time(self) -> float:
        """Seconds to wait before the next start may happen (0 = now)."""
        return max(0.0, self.next_at - self.clock())

    def take(self) -> None:
        """Record a start now."""
        self.next_at = max(self.next_at, self.clock()) + self.interval
