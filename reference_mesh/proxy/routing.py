"""Outbound routing (sans-IO): which service an authority names, and which backend a request or flow goes to.

An :class:`OutboundTable` is compiled from one snapshot and never changes; ``Proxy.apply`` swaps the whole
table, so a request routed with the old table finishes with it while the next request uses the new one. State
that must outlive a swap (endpoint measurements, retry budgets, in-flight counts) lives in registries passed
in.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from reference_mesh.proxy.authz import CompiledMatch, compile_matches
from reference_mesh.proxy.balancer import Balancer
from reference_mesh.proxy.config import OutboundService, ProxyConfig, Resilience, RoutePolicy, service_key
from reference_mesh.proxy.endpoints import EndpointRegistry
from reference_mesh.proxy.resilience import ConcurrencyLimit, RetryBudgetState
from reference_mesh.proxy.split import SplitChooser, make_chooser

__all__ = ["CompiledService", "OutboundTable", "RouteError", "ServiceRuntime", "Target"]


class RouteError(Exception):
    """No way to route: ``status`` (404 unknown service, 503 no backend/endpoint) and a reason for the
    client."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ServiceRuntime:
    """Per-service state that survives snapshots: the retry budget and the concurrency limit."""

    def __init__(self, resilience: Resilience):
        self.budget = RetryBudgetState(resilience.retries.budget)
        self.limit = ConcurrencyLimit(resilience.circuit_breaker.max_requests)

    def update(self, resilience: Resilience) -> None:
        if resilience.retries.budget != self.budget.budget:
            self.budget = RetryBudgetState(resilience.retries.budget)
        self.limit.limit = resilience.circuit_breaker.max_requests


class CompiledService:
    def __init__(
        self, svc: OutboundService, registry: EndpointRegistry, runtime: ServiceRuntime, rng: random.Random
    ):
        self.config = svc
        self.key = svc.key
        self.runtime = runtime
        self.balancers = {
            p.port: Balancer(registry.resolve(p.endpoints), svc.resilience.load_balancing, rng)
            for p in svc.ports
        }
        self.routes: tuple[tuple[CompiledMatch, RoutePolicy], ...] = tuple(
            (CompiledMatch(r.match), r) for r in svc.resilience.routes
        )
        self.split_name = svc.split.name if svc.split else ""
        self.split_matches = (
            compile_matches(svc.split.matches) if svc.split and svc.split.matches is not None else None
        )
        self.choosers: dict[int, SplitChooser] = {}
        #: port -> the target for requests that stay on this service (made once: most requests use one)
        self.own_targets = {port: Target(self, port, self, "") for port in self.balancers}

    def route_policy(self, method: str, path: str, headers: Sequence[tuple[str, str]]) -> RoutePolicy | None:
        for match, policy in self.routes:
            if match.matches(method, path, headers):
                return policy
        return None


@dataclass(frozen=True)
class Target:
    """Where one request or flow goes: the addressed ``root`` service and port, and the ``backend`` serving
    it."""

    root: CompiledService
    port: int
    backend: CompiledService
    split: str

    @property
    def balancer(self) -> Balancer:
        return self.backend.balancers[self.port]


class OutboundTable:
    def __init__(
        self,
        config: ProxyConfig,
        registry: EndpointRegistry,
        runtimes: dict[str, ServiceRuntime],
        rng: random.Random | None = None,
    ):
        self.rng = rng or random.Random()
        self._resolved: dict[str, tuple[CompiledService, int]] = {}
        self.namespace = config.workload.namespace
        self.cluster_domain = config.workload.cluster_domain
        self.services: dict[str, CompiledService] = {}
        for key, svc in config.outbound.services.items():
            runtime = runtimes.get(key)
            if runtime is None:
                runtime = runtimes[key] = ServiceRuntime(svc.resilience)
            else:
                runtime.update(svc.resilience)
            self.services[key] = CompiledService(svc, registry, runtime, self.rng)
        for compiled in self.services.values():
            split = compiled.config.split
            if split is None:
                continue
            for port in compiled.balancers:
                # a backend takes part on the root's port only if it has that port; a missing service stays in
                # (it is chosen with its weight and then fails with 503, the documented behaviour)
                backends = [
                    (b.service, b.weight)
                    for b in split.backends
                    if b.service not in self.services or port in self.services[b.service].balancers
                ]
                compiled.choosers[port] = make_chooser(split.algorithm, backends, self.rng)

    # ------------------------------------------------------------------------------------------ addressing
    def resolve_authority(self, authority: str) -> tuple[CompiledService, int]:
        """``name[.namespace[.svc[.cluster-domain]]][:port]`` -> (service, port). Raises
        :class:`RouteError`. Answers are remembered for this snapshot (a client uses a few names)."""
        resolved = self._resolved.get(authority)
        if resolved is None:
            resolved = self._resolve(authority)
            if len(self._resolved) >= 1024:  # names are client input: keep the memory bounded
                self._resolved.clear()
            self._resolved[authority] = resolved
        return resolved

    def _resolve(self, authority: str) -> tuple[CompiledService, int]:
        host, _, port_text = authority.strip().rpartition(":") if ":" in authority else (authority, "", "")
        host = host.lower().rstrip(".")
        parts = host.split(".")
        suffix = ["svc", *self.cluster_domain.split(".")]
        # name, name.ns, name.ns.svc or the whole name: a cut-off cluster domain is no name of this cluster
        if len(parts) > 2 and parts[2:] not in (suffix[:1], suffix):
            raise RouteError(404, f"unknown service {host!r}: not a name of this cluster")
        name, namespace = parts[0], parts[1] if len(parts) > 1 else self.namespace
        svc = self.services.get(service_key(name, namespace))
        if svc is None:
            raise RouteError(404, f"unknown service {host!r}")
        if port_text:
            if not port_text.isdigit() or int(port_text) not in svc.balancers:
                raise RouteError(404, f"service {svc.key} has no port {port_text}")
            return svc, int(port_text)
        http_ports = [p.port for p in svc.config.ports if p.protocol == "http"]
        if len(http_ports) == 1:
            return svc, http_ports[0]
        if 80 in svc.balancers:
            return svc, 80
        raise RouteError(404, f"service {svc.key}: name the port, it has several or no HTTP ports")

    def service(self, key: str) -> CompiledService:
        svc = self.services.get(key)
        if svc is None:
            raise RouteError(404, f"unknown service {key!r}")
        return svc

    # --------------------------------------------------------------------------------------------- routing
    def route(
        self,
        root: CompiledService,
        port: int,
        request: tuple[str, str, Sequence[tuple[str, str]]] | None = None,
    ) -> Target:
        """Pick the backend for one request (``request`` = (method, path, headers)) or one TCP/UDP flow
        (None)."""
        chooser = root.choosers.get(port)
        if chooser is None:
            own = root.own_targets.get(port)
            if own is None:  # e.g. a TCP/UDP binding to a port the service does not have
                raise RouteError(404, f"service {root.key} has no port {port}")
            return own
        if root.split_matches is not None and (
            request is None or not any(m.matches(*request) for m in root.split_matches)
        ):
            return root.own_targets[port]  # not matched: the root's own endpoints (it has every split port)
        backend_key = chooser.choose()
        if backend_key is None:
            split = root.config.split
            if split is not None and not any(
                port in self.services[b.service].balancers
                for b in split.backends
                if b.service in self.services
            ):
                raise RouteError(503, f"traffic split {root.split_name}: no backend service has port {port}")
            raise RouteError(503, f"traffic split {root.split_name}: every backend weight is zero")
        backend = self.services.get(backend_key)
        if backend is None:
            raise RouteError(503, f"traffic split {root.split_name}: backend service {backend_key} not found")
        return Target(root, port, backend, root.split_name)
