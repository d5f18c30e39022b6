"""Retry budget, retry eligibility, fault decisions and concurrency limits (sans-IO).

Time is passed in (seconds, monotonic) so tests drive it without sleeping.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from reference_mesh.proxy.config import FaultInjection, RetryBudget, RetryPolicy

__all__ = [
    "IDEMPOTENT_METHODS",
    "ConcurrencyLimit",
    "FaultDecision",
    "RetryBudgetState",
    "decide_fault",
    "may_retry",
]

#: RFC 9110 section 9.2.2.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


class RetryBudgetState:
    """Finagle's retry budget over a sliding window of one-second buckets.

    Every request deposits ``ratio`` of a retry; each retry withdraws one. A retry is allowed while
    ``min_per_second * ttl + ratio * requests - retries > 0`` over the last ``ttl``. The budget bounds the
    extra load retries add to a struggling service to ``ratio`` (20%) plus a small floor, unlike a fixed retry
    count.
    """

    def __init__(self, budget: RetryBudget):
        self.budget = budget
        self._seconds = max(1, budget.ttl_ms // 1000)
        self._requests: dict[int, int] = {}
        self._retries: dict[int, int] = {}
        self._pruned_at = -1

    def _prune(self, now: float) -> int:
        second = int(now)
        if second == self._pruned_at:
            return second
        self._pruned_at = second
        oldest = second - self._seconds + 1
        for buckets in (self._requests, self._retries):
            for s in [s for s in buckets if s < oldest]:
                del buckets[s]
        return second

    def record_request(self, now: float) -> None:
        s = self._prune(now)
        self._requests[s] = self._requests.get(s, 0) + 1

    def balance(self, now: float) -> float:
        self._prune(now)
        return (
            self.budget.min_per_second * self._seconds
            + self.budget.ratio * sum(self._requests.values())
            - sum(self._retries.values())
        )

    def try_withdraw(self, now: float) -> bool:
        """Take one retry from the budget if it has one."""
        if self.balance(now) < 1:
            return False
        s = int(now)
        self._retries[s] = self._retries.get(s, 0) + 1
        return True


def may_retry(policy: RetryPolicy, method: str, route_retryable: bool | None, body_replayable: bool) -> bool:
    """Whether a request may be sent again at all (the budget is checked separately).

    A request whose body was streamed (not buffered) cannot be replayed; per-route ``retryable`` overrides the
    method rule; otherwise only idempotent methods, unless the policy allows every method.
    """
    if not body_replayable:
        return False
    if route_retryable is not None:
        return route_retryable
    return policy.retry_non_idempotent or method in IDEMPOTENT_METHODS


@dataclass(frozen=True)
class FaultDecision:
    delay_s: float = 0.0
    abort_status: int | None = None


NO_FAULT = FaultDecision()


def decide_fault(fault: FaultInjection, rng: random.Random) -> FaultDecision:
    """Independent draws for delay and abort, each with its percentage (Envoy's fault filter)."""
    if not fault.delay_percent and not fault.abort_percent:
        return NO_FAULT
    delay = fault.delay_ms / 1000.0 if rng.random() * 100 < fault.delay_percent else 0.0
    abort = fault.abort_status if rng.random() * 100 < fault.abort_percent else None
    return FaultDecision(delay, abort)


class ConcurrencyLimit:
    """Envoy-style circuit breaker on concurrent requests to one service."""

    def __init__(self, limit: int):
        self.limit = limit
        self.active = 0

    def try_acquire(self) -> bool:
        if self.active >= self.limit:
            return False
        self.active += 1
        return True

    def release(self) -> None:
        self.active -= 1
