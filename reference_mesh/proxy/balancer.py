"""Load balancing across a service's endpoints (sans-IO).

* ``round_robin``: in turn.
* ``least_request``: power of two random choices, fewer in-flight requests wins (Envoy's LEAST_REQUEST).
* ``peak_ewma``: power of two random choices, lower peak-EWMA latency x (in-flight + 1) wins (Linkerd's
  default).

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
        n = len(candidates)
        i, j = self._rng.randrange(n), self._rng.randrange(n - 1)
        a, b = candidates[i], candidates[j + 1 if j >= i else j]  # two distinct endpoints, uniformly
        if self.lb.algorithm == "least_request":
            return a if a.active <= b.active else b
        return a if a.cost(self.lb) <= b.cost(self.lb) else b
