"""Balancing, outlier ejection, retry budget, fault decisions (sans-IO, time passed in)."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import get_args

import pytest

from reference_mesh.proxy.balancer import PICKERS, Balancer
from reference_mesh.proxy.config import (
    BalancerAlgorithm,
    Endpoint,
    FaultInjection,
    LoadBalancing,
    OutlierDetection,
    RetryBudget,
    RetryPolicy,
)
from reference_mesh.proxy.endpoints import EndpointRegistry, available
from reference_mesh.proxy.resilience import ConcurrencyLimit, RetryBudgetState, decide_fault, may_retry

ID = "spiffe://cluster.local/ns/default/sa/api"


def pool(n: int) -> list:  # type: ignore[type-arg]
    return EndpointRegistry().resolve(
        Endpoint(address=f"127.0.0.{i}", port=80, identity=ID) for i in range(1, n + 1)
    )


def test_every_configurable_balancer_is_in_the_registry() -> None:
    assert set(PICKERS) == set(get_args(BalancerAlgorithm))
    for algorithm in PICKERS:
        eps = pool(3)
        b = Balancer(eps, LoadBalancing(algorithm=algorithm), random.Random(1))
        assert {id(b.pick(0.0)) for _ in range(200)} == {id(e) for e in eps}  # each tried, none left out


def test_round_robin_visits_each_endpoint_in_turn() -> None:
    eps = pool(3)
    b = Balancer(eps, LoadBalancing(algorithm="round_robin"))
    picks = [b.pick(0.0) for _ in range(9)]
    assert Counter(id(p) for p in picks) == {id(e): 3 for e in eps}


def test_round_robin_goes_to_the_next_endpoint_from_a_random_start() -> None:
    eps = pool(4)
    b = Balancer(eps, LoadBalancing(algorithm="round_robin"), random.Random(7))
    order = [eps.index(b.pick(0.0)) for _ in range(8)]
    assert all(order[i + 1] == (order[i] + 1) % 4 for i in range(7)), order
    # the start is random per balancer, so proxies that start together do not all hit the first endpoint
    firsts = {
        eps.index(Balancer(eps, LoadBalancing(algorithm="round_robin"), random.Random(s)).pick(0.0))
        for s in range(40)
    }
    assert firsts == {0, 1, 2, 3}


def test_a_retry_avoids_the_endpoint_that_failed_unless_it_is_the_only_one() -> None:
    for algorithm in PICKERS:
        for n in (2, 3):
            eps = pool(n)
            b = Balancer(eps, LoadBalancing(algorithm=algorithm), random.Random(3))
            others = {id(e) for e in eps[1:]}
            assert all(id(b.pick(0.0, exclude=eps[0])) in others for _ in range(100)), (algorithm, n)
        one = pool(1)
        single = Balancer(one, LoadBalancing(algorithm=algorithm), random.Random(3))
        assert single.pick(0.0) is one[0] and single.pick(0.0, exclude=one[0]) is one[0]
        assert Balancer([], LoadBalancing(algorithm=algorithm), random.Random(3)).pick(0.0) is None


def within_binomial(count: int, n: int, p: float) -> bool:
    """Two-sided, normal approximation: 5 standard deviations make a false failure about 6 in 10 million."""
    return abs(count - n * p) <= 5 * math.sqrt(n * p * (1 - p))


def test_least_request_prefers_idle_endpoints() -> None:
    """The busy endpoint is chosen only when both independent draws land on it: 1/4 of the picks."""
    eps = pool(2)
    eps[0].active = 5
    b = Balancer(eps, LoadBalancing(algorithm="least_request"), random.Random())
    busy = sum(b.pick(0.0) is eps[0] for _ in range(4000))
    assert within_binomial(busy, 4000, 0.25), busy


def test_peak_ewma_prefers_the_faster_endpoint_and_reacts_to_peaks() -> None:
    lb = LoadBalancing()
    eps = pool(2)
    fast, slow = eps
    for t in range(10):
        fast.observe_latency(2.0, t, lb)
        slow.observe_latency(50.0, t, lb)
    b = Balancer(eps, lb, random.Random())
    slow_picks = sum(b.pick(10.0) is slow for _ in range(4000))
    assert within_binomial(slow_picks, 4000, 0.25), slow_picks  # only when both draws are the slow one
    fast.observe_latency(500.0, 11.0, lb)  # one slow response: the peak is taken at once
    assert fast.ewma_ms == 500.0
    fast.observe_latency(2.0, 41.0, lb)  # then decays back (30 s later, decay 10 s)
    assert fast.ewma_ms is not None and fast.ewma_ms < 30
    # while slow, unmeasured for 32 s, has decayed from 50 ms to 50 x e^-3.2: the cheaper one, tried again
    assert slow.cost(41.0, lb) == pytest.approx(50.0 * math.exp(-3.2)) and slow.cost(41.0, lb) < fast.cost(
        41.0, lb
    )


def test_an_idle_endpoint_gets_cheaper_with_time_until_it_is_tried_again() -> None:
    """The starvation of issue 11: a peak sample on an endpoint that then gets no requests used to price it
    out for good. Its cost now decays by exp(-idle / decay): with decay 10 s, a 100 ms peak against a 1 ms
    endpoint measured all along is the cheaper one after 10 s x ln(100) = 46 s."""
    lb = LoadBalancing()
    busy, idle = pool(2)
    idle.observe_latency(100.0, 0.0, lb)
    crossing = lb.ewma_decay_ms / 1000.0 * math.log(100.0)
    for t in [0.1 * k for k in range(1, 500)]:
        busy.observe_latency(1.0, t, lb)  # 1 ms, every 100 ms
        assert (idle.cost(t, lb) < busy.cost(t, lb)) == (t > crossing), t
    assert idle.cost(crossing, lb) == pytest.approx(1.0)


def test_unmeasured_endpoints_cost_the_default_rtt_decaying_from_first_sight() -> None:
    lb = LoadBalancing(ewma_default_rtt_ms=30)
    (ep,) = pool(1)
    ep.active = 2
    assert ep.cost(100.0, lb) == 90  # first considered at 100 s
    assert ep.cost(110.0, lb) == pytest.approx(90 / math.e)  # one decay time later


def test_consecutive_failures_eject_with_doubling_backoff() -> None:
    policy = OutlierDetection(
        consecutive_failures=3, base_ejection_ms=1000, max_ejection_ms=3000, max_ejection_percent=50
    )
    eps = pool(2)
    bad = eps[0]
    assert not bad.record_outcome(False, 0.0, policy, eps)
    assert not bad.record_outcome(False, 0.0, policy, eps)
    assert bad.record_outcome(False, 0.0, policy, eps)
    assert bad.ejected(0.5) and not bad.ejected(1.0)
    b = Balancer(eps, LoadBalancing(algorithm="round_robin"))
    assert all(b.pick(0.5) is eps[1] for _ in range(5))
    for _ in range(3):
        bad.record_outcome(False, 2.0, policy, eps)
    assert bad.ejected(3.9) and not bad.ejected(4.0)  # 2 s the second time
    for _ in range(3):
        bad.record_outcome(False, 5.0, policy, eps)
    assert bad.ejected(7.9) and not bad.ejected(8.0)  # capped at 3 s
    bad.record_outcome(True, 9.0, policy, eps)
    assert bad.ejections == 0 and bad.consecutive_failures == 0


def test_ejection_is_capped_and_panics_to_all() -> None:
    policy = OutlierDetection(consecutive_failures=1, max_ejection_percent=50)
    eps = pool(2)
    assert eps[0].record_outcome(False, 0.0, policy, eps)
    assert not eps[1].record_outcome(False, 0.0, policy, eps)  # would eject 100% > 50%
    eps[1].ejected_until = 10.0
    assert available(eps, 0.5) == eps  # everything ejected: use everything
    assert not OutlierDetection(enabled=False).enabled


def test_registry_keeps_state_across_snapshots() -> None:
    reg = EndpointRegistry()
    (a,) = reg.resolve([Endpoint(address="127.0.0.1", port=80, identity=ID)])
    a.ewma_ms = 12.0
    (again,) = reg.resolve([Endpoint(address="127.0.0.1", port=80, identity=ID, labels={"v": "2"})])
    assert again is a and again.ewma_ms == 12.0 and again.endpoint.labels == {"v": "2"}
    reg.retain(set())
    assert reg.get(("127.0.0.1", 80)) is None


def test_retry_budget_has_a_floor_and_a_ratio() -> None:
    budget = RetryBudgetState(RetryBudget(ratio=0.2, min_per_second=1, ttl_ms=10_000))
    now = 100.0
    allowed = sum(budget.try_withdraw(now) for _ in range(50))
    assert allowed == 10  # min 1/s over a 10 s window
    for _ in range(100):
        budget.record_request(now)
    assert sum(budget.try_withdraw(now) for _ in range(50)) == 20  # 20% of 100 requests
    assert budget.try_withdraw(now + 10.5) is True  # the window moved on: old retries expired


def test_only_idempotent_replayable_requests_are_retried() -> None:
    policy = RetryPolicy()
    assert may_retry(policy, "GET", None, True)
    assert may_retry(policy, "PUT", None, True)
    assert not may_retry(policy, "POST", None, True)
    assert may_retry(RetryPolicy(retry_non_idempotent=True), "POST", None, True)
    assert may_retry(policy, "POST", True, True)  # route says it is safe
    assert not may_retry(policy, "GET", False, True)
    assert not may_retry(policy, "GET", None, False)  # streamed body cannot be replayed


def test_fault_percentages() -> None:
    rng = random.Random(5)
    fault = FaultInjection(delay_percent=25, delay_ms=100, abort_percent=50, abort_status=418)
    decisions = [decide_fault(fault, rng) for _ in range(4000)]
    aborts = sum(d.abort_status == 418 for d in decisions)
    delays = sum(d.delay_s == 0.1 for d in decisions)
    # binomial sd: sqrt(4000*.5*.5)=31.6 and sqrt(4000*.25*.75)=27.4; 5 sd bounds, seeded
    assert abs(aborts - 2000) < 160 and abs(delays - 1000) < 137
    assert decide_fault(FaultInjection(), rng).abort_status is None


def test_concurrency_limit() -> None:
    limit = ConcurrencyLimit(2)
    assert limit.try_acquire() and limit.try_acquire() and not limit.try_acquire()
    limit.release()
    assert limit.try_acquire()
