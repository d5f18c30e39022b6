"""The standard topology every conformance test runs against, as plain data.

Every cluster backend deploys exactly this (namespaces, service accounts, Services, echo backends, traffic
drivers), so a test written against it runs unchanged on the embedded cluster and on Kubernetes. Names are
fixed; only the namespace prefix is an option (``--smi-namespace``), so two runs can share a cluster.

    main namespace <p>                               other namespace <p>-other
      web      -> web-v1, web-v2, web-v3  (sa web)     web    -> web-v1 (sa web: same names, other namespace)
      web-vN   (one version each)                      client (sa client)
      stats    -> stats-v1, stats-v2      (sa stats)   (only the metrics tests send to stats)
      client   (sa client)   the usual caller
      intruder (sa intruder) a caller no test allows unless it says so
      observer (sa observer) the metrics tests' only caller

Every backend serves HTTP on 8080, TCP on 9000 and UDP on 9001 (the echo workload); every client runs the
traffic driver. A Service's port equals its target port (SPEC-NOTES: port meaning for TCPRoute).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DRIVER_PORT",
    "HTTP_PORT",
    "TCP_PORT",
    "UDP_PORT",
    "PortSpec",
    "Protocol",
    "ServiceSpec",
    "Topology",
    "WorkloadSpec",
    "standard_topology",
]

Protocol = Literal["http", "tcp", "udp"]
HTTP_PORT, TCP_PORT, UDP_PORT = 8080, 9000, 9001
#: Where a client's traffic driver listens for the suite (never through the mesh: it is the control channel).
DRIVER_PORT = 8000


@dataclass(frozen=True)
class PortSpec:
    port: int
    protocol: Protocol
    name: str


BACKEND_PORTS = (
    PortSpec(HTTP_PORT, "http", "http"),
    PortSpec(TCP_PORT, "tcp", "tcp"),
    PortSpec(UDP_PORT, "udp", "udp"),
)


@dataclass(frozen=True)
class ServiceSpec:
    """A Kubernetes Service: selects pods by labels; each port's target port is the same number."""

    name: str
    namespace: str
    selector: Mapping[str, str]
    ports: tuple[PortSpec, ...] = BACKEND_PORTS

    def port(self, protocol: Protocol) -> PortSpec:
        return next(p for p in self.ports if p.protocol == protocol)


@dataclass(frozen=True)
class WorkloadSpec:
    """A Deployment. Backends run the echo workload (answering with service = ``labels['app']``, version =
    ``labels['version']``, instance = the pod name); clients run the traffic driver."""

    name: str
    namespace: str
    service_account: str
    labels: Mapping[str, str]
    role: Literal["backend", "client"]
    replicas: int = 1
    ports: tuple[PortSpec, ...] = ()

    @property
    def app(self) -> str:
        return self.labels["app"]

    @property
    def version(self) -> str:
        return self.labels.get("version", "v1")

    def pod_names(self) -> list[str]:
        """Pod names on backends that name pods after their Deployment (the embedded cluster); Kubernetes
        adds random suffixes, so never compare with these there."""
        return [f"{self.name}-{i}" for i in range(self.replicas)]


@dataclass(frozen=True)
class Topology:
    namespaces: tuple[str, ...]
    service_accounts: tuple[tuple[str, str], ...]  # (namespace, name)
    services: tuple[ServiceSpec, ...]
    workloads: tuple[WorkloadSpec, ...]
    #: The namespace most tests use (the first of ``namespaces``).
    main: str = field(init=False)
    other: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "main", self.namespaces[0])
        object.__setattr__(self, "other", self.namespaces[1])

    def service(self, name: str, namespace: str | None = None) -> ServiceSpec:
        ns = namespace or self.main
        for s in self.services:
            if (s.name, s.namespace) == (name, ns):
                return s
        raise KeyError(f"no service {ns}/{name} in the standard topology")

    def workload(self, name: str, namespace: str | None = None) -> WorkloadSpec:
        ns = namespace or self.main
        for w in self.workloads:
            if (w.name, w.namespace) == (name, ns):
                return w
        raise KeyError(f"no workload {ns}/{name} in the standard topology")

    def selected(self, service: ServiceSpec) -> list[WorkloadSpec]:
        """The workloads whose pods the Service selects."""
        return [
            w
            for w in self.workloads
            if w.namespace == service.namespace
            and all(w.labels.get(k) == v for k, v in service.selector.items())
        ]

    @property
    def clients(self) -> list[WorkloadSpec]:
        return [w for w in self.workloads if w.role == "client"]

    @property
    def backends(self) -> list[WorkloadSpec]:
        return [w for w in self.workloads if w.role == "backend"]


def _backend(name: str, ns: str, app: str, version: str, account: str) -> WorkloadSpec:
    return WorkloadSpec(name, ns, account, {"app": app, "version": version}, "backend", ports=BACKEND_PORTS)


def _client(name: str, ns: str) -> WorkloadSpec:
    return WorkloadSpec(name, ns, name, {"app": name}, "client")


def standard_topology(prefix: str = "smi-conformance") -> Topology:
    """The topology for namespace prefix ``prefix`` (main namespace ``prefix``, other ``prefix-other``)."""
    main, other = prefix, f"{prefix}-other"
    services = [ServiceSpec("web", main, {"app": "web"})]
    services += [ServiceSpec(f"web-{v}", main, {"app": "web", "version": v}) for v in ("v1", "v2", "v3")]
    services.append(ServiceSpec("stats", main, {"app": "stats"}))
    services += [ServiceSpec(f"stats-{v}", main, {"app": "stats", "version": v}) for v in ("v1", "v2")]
    services.append(ServiceSpec("web", other, {"app": "web"}))
    workloads = [_backend(f"web-{v}", main, "web", v, "web") for v in ("v1", "v2", "v3")]
    workloads += [_backend(f"stats-{v}", main, "stats", v, "stats") for v in ("v1", "v2")]
    workloads += [_client(n, main) for n in ("client", "intruder", "observer")]
    workloads += [_backend("web-v1", other, "web", "v1", "web"), _client("client", other)]
    accounts = sorted({(w.namespace, w.service_account) for w in workloads})
    return Topology((main, other), tuple(accounts), tuple(services), tuple(workloads))
