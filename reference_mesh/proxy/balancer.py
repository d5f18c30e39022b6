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
from collections.abc import Sequence

from reference_mesh.proxy.config import LoadBalancing
from reference_mesh.proxy.endpoints import EndpointState, available

__all__ = ["Balancer"]


class Balancer:
    """Picks an endpoint of one service port. One instance per (service, port) per snapshot."""

    def __init__(self, pool: Sequence[EndpointState], lb: LoadBalancing, rng: random.Random | None = None):
        self.pool = list(pool)
        self.lb = lb
        self._rng = rng or random.Random()
        self._next = self._rng.randrange(len(self.pool)) if self.pool else 0

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
        if self.lb.algorithm == "round_robin":
            self._next += 1
            return candidates[self._next % len(candidates)]
        # two independent draws, with replacement (as the power-of-two-choices analysis and Envoy draw them):
        # both are one endpoint with probability 1/n^2, whatever the costs, so no endpoint can starve
        n = len(candidates)
        a, b = candidates[self._rng.randrange(n)], candidates[self._rng.randrange(n)]
        if self.lb.algorithm == "least_request":
            return a if a.active <= b.active else b
        return a if a.cost(now, self.lb) <= b.cost(now, self.lb) else b
