"""Per-endpoint state kept across snapshots (sans-IO): in-flight requests, peak-EWMA latency, outlier
ejection.

State is keyed by (address, port) in an :class:`EndpointRegistry`, so a config swap that keeps an endpoint
keeps its measurements and ejection status; endpoints that disappear are forgotten at the next swap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from reference_mesh.proxy.config import Endpoint, LoadBalancing, OutlierDetection

__all__ = ["EndpointRegistry", "EndpointState", "available"]


@dataclass(eq=False)
class EndpointState:
    endpoint: Endpoint
    active: int = 0
    #: Peak-EWMA of response latency in ms; None until measured.
    ewma_ms: float | None = None
    #: When ``ewma_ms`` was last set (or, unmeasured, when the endpoint was first considered).
    _ewma_at: float | None = None
    consecutive_failures: int = 0
    ejections: int = 0
    ejected_until: float = 0.0
    requests: int = field(default=0)

    @property
    def key(self) -> tuple[str, int]:
        return (self.endpoint.address, self.endpoint.port)

    # ------------------------------------------------------------------------------------------------ latency
    def observe_latency(self, rtt_ms: float, now: float, lb: LoadBalancing) -> None:
        """Peak-EWMA (Finagle/Linkerd): the estimate decays towards zero as time passes (:meth:`latency`); a
        sample slower than the decayed estimate replaces it at once, a faster one is blended in with the
        weight ``1 - exp(-elapsed / decay)`` (``elapsed`` since the estimate was last set)."""
        current = self.latency(now, lb)
        if self.ewma_ms is None or rtt_ms > current:
            self.ewma_ms = rtt_ms
        else:
            w = self._decay(now, lb)
            self.ewma_ms = current * w + rtt_ms * (1.0 - w)
        self._ewma_at = now

    def latency(self, now: float, lb: LoadBalancing) -> float:
        """The latency estimate at ``now``: the last one decayed by the time since it was made
        (``exp(-elapsed / decay)``, as Finagle's and Linkerd's peak-EWMA read it), so an endpoint that gets no
        requests looks ever cheaper and is tried again, however bad its last sample was. An endpoint not yet
        measured is taken at ``ewma_default_rtt_ms``, decaying from the moment it was first considered."""
        if self._ewma_at is None:
            self._ewma_at = now  # first considered now: the default decays from here
        estimate = lb.ewma_default_rtt_ms if self.ewma_ms is None else self.ewma_ms
        return estimate * self._decay(now, lb)

    def _decay(self, now: float, lb: LoadBalancing) -> float:
        elapsed_s = max(0.0, now - (now if self._ewma_at is None else self._ewma_at))
        return math.exp(-elapsed_s * 1000.0 / lb.ewma_decay_ms)

    def cost(self, now: float, lb: LoadBalancing) -> float:
        """Expected latency of one more request: the decayed estimate x (in-flight + 1)."""
        return self.latency(now, lb) * (self.active + 1)

    # -------------------------------------------------------------------------------------------- ejection
    def ejected(self, now: float) -> bool:
        return now < self.ejected_until

    def record_outcome(
        self, success: bool, now: float, policy: OutlierDetection, pool: Sequence[EndpointState]
    ) -> bool:
        """Count a result; return True if this result ejected the endpoint."""
        if success:
            self.consecutive_failures = 0
            if not self.ejected(now):
                self.ejections = 0
            return False
        if not policy.enabled:
            return False
        self.consecutive_failures += 1
        if self.consecutive_failures < policy.consecutive_failures or self.ejected(now):
            return False
        already = sum(1 for e in pool if e is not self and e.ejected(now))
        if pool and (already + 1) * 100 > policy.max_ejection_percent * len(pool):
            return False
        backoff = min(policy.max_ejection_ms, policy.base_ejection_ms * (2 ** min(self.ejections, 30)))
        self.ejections += 1
        self.ejected_until = now + backoff / 1000.0
        self.consecutive_failures = 0
        return True


def available(pool: Sequence[EndpointState], now: float) -> list[EndpointState]:
    """Endpoints not ejected; all of them if every one is ejected (panic mode: better a chance than a sure
    503)."""
    ok = [e for e in pool if not e.ejected(now)]
    return ok or list(pool)


class EndpointRegistry:
    """(address, port) -> state, shared by every service that routes to the endpoint."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, int], EndpointState] = {}

    def resolve(self, endpoints: Iterable[Endpoint]) -> list[EndpointState]:
        out = []
        for ep in endpoints:
            key = (ep.address, ep.port)
            state = self._states.get(key)
            if state is None:
                state = self._states[key] = EndpointState(ep)
            else:
                state.endpoint = ep  # labels/identity may change; measurements stay
            out.append(state)
        return out

    def retain(self, keep: set[tuple[str, int]]) -> None:
        for key in list(self._states):
            if key not in keep:
                del self._states[key]

    def get(self, key: tuple[str, int]) -> EndpointState | None:
        return self._states.get(key)
