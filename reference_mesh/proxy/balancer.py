"""Load balancing across a service's endpoints (sans-IO).

* ``round_robin``: in turn.
* ``least_request``: power of two random choices, fewer in-flight requests wins (Envoy's LEAST_REQUEST).
* ``peak_ewma``: power of two random choices, lower peak-EWMA latency x (in-flight + 1) wins (Linkerd's
  default); the latency estimate decays with time (``EndpointState.latency``), so an endpoint that gets no
  requests looks ever cheaper and is tried again.

The two choices are independent draws (with replacement), as in the algorithm's analysis and Envoy's
LEAST_REQUEST, not two distinct endpoints as in Finagle and Linkerd. With two endpoints that is what keeps
sequential traffic fair: one request at a time leaves no in-flight count to compare, and two distinct
choices are then always the same pair, so the lower latency estimate would win every time and a noisy sample
(a GC pause, a busy core) would starve the other endpoint until the decay caught up (10 s per factor e). With
independent draws both land on one endpoint with probability 1/n^2 whatever the estimates: with two
endpoints each gets at least a quarter of the picks in expectation, half the picks follow the costs.

Ejected endpoints are skipped (see :func:`~reference_mesh.proxy.endpoints.available`); ``exclude`` lets a
retry avoid the endpoint that just failed when another one exists.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from reference_mesh.proxy.config import LoadBalancing
from reference_mesh.proxy.endpoints import EndpointState, available

__all__ = ["PICKERS", "Balancer", "Picker"]


class Balancer:
    """Picks an endpoint of one service port. One instance per (service, port) per snapshot; how one endpoint
    is chosen among several is the algorithm's (:data:`PICKERS`), the rest (ejection, retries, a single
    endpoint) is the same for all."""

    def __init__(self, pool: Sequence[EndpointState], lb: LoadBalancing, rng: random.Random | None = None):
        self.pool = list(pool)
        self.lb = lb
        self._rng = rng or random.Random()
        self._next = self._rng.randrange(len(self.pool)) if self.pool else 0  # round robin's random phase
        self._pick = PICKERS[lb.algorithm]

    def pick(self, now: float, exclude: EndpointState | None = None) -> EndpointState | None:
        pool = self.pool
        if len(pool) == 1 and exclude is None:
            return pool[0]  # the only choice, ejected or not (panic mode)
        candidates = available(pool, now)
        if exclude is not None and len(candidates) > 1:
            candidates = [e for e in candidates if e is not exclude]
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        return self._pick(self, candidates, now)


#: How an algorithm chooses among two or more available endpoints (the balancer's state, them, the time).
Picker = Callable[[Balancer, Sequence[EndpointState], float], EndpointState]


def _round_robin(b: Balancer, candidates: Sequence[EndpointState], now: float) -> EndpointState:
    b._next += 1
    return candidates[b._next % len(candidates)]


def _two_draws(b: Balancer, candidates: Sequence[EndpointState]) -> tuple[EndpointState, EndpointState]:
    """Two independent draws, with replacement (as the power-of-two-choices analysis and Envoy draw them):
    both are one endpoint with probability 1/n^2, whatever the costs, so no endpoint can starve."""
    n = len(candidates)
    return candidates[b._rng.randrange(n)], candidates[b._rng.randrange(n)]


def _least_request(b: Balancer, candidates: Sequence[EndpointState], now: float) -> EndpointState:
    x, y = _two_draws(b, candidates)
    return x if x.active <= y.active else y


def _peak_ewma(b: Balancer, candidates: Sequence[EndpointState], now: float) -> EndpointState:
    x, y = _two_draws(b, candidates)
    return x if x.cost(now, b.lb) <= y.cost(now, b.lb) else y


#: ``LoadBalancing.algorithm`` -> its picker: the registry a new algorithm is added to (with its name in the
#: config's ``Literal``; a test keeps the two the same).
PICKERS: dict[str, Picker] = {
    "round_robin": _round_robin,
    "least_request": _least_request,
    "peak_ewma": _peak_ewma,
}
