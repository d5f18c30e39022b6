"""A small mesh on loopback, built in-process: for the proxy's own tests, the benchmark, and as a worked
example of what the control plane must produce (one :class:`ProxyConfig` per workload instance).

Each instance gets its own 127.x.y.z address (Linux routes all of 127/8 to lo), so every instance can use the
same well-known ports: the application on ``APP_PORT`` (HTTP), the sidecar's inbound listeners on the service
ports, the outbound HTTP listener on ``OUTBOUND_HTTP_PORT``.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from reference_mesh.identity import CertificateAuthority, SpiffeId, WorkloadCredentials
from reference_mesh.proxy.config import (
    AuthorizationPolicy,
    Endpoint,
    InboundConfig,
    InboundListener,
    OutboundConfig,
    OutboundPortBinding,
    OutboundService,
    ProtocolName,
    ProxyConfig,
    Resilience,
    ServicePort,
    TrafficSplitConfig,
    WorkloadInfo,
    service_key,
)

__all__ = ["OUTBOUND_HTTP_PORT", "Instance", "LoopbackMesh", "random_subnet"]

OUTBOUND_HTTP_PORT = 15001
#: The application listens on the instance address at service port + APP_PORT_OFFSET.
APP_PORT_OFFSET = 10000


def random_subnet(rng: random.Random | None = None) -> Iterator[str]:
    """Distinct 127.x.y.z addresses in a random /24 (parallel test runs rarely collide)."""
    r = rng or random.Random()
    prefix = f"127.{r.randrange(20, 250)}.{r.randrange(1, 250)}"
    return (f"{prefix}.{i}" for i in itertools.count(1))


@dataclass
class Instance:
    """One workload instance: identity, address, the services it serves and its credentials."""

    name: str
    namespace: str
    service_account: str
    address: str
    services: tuple[str, ...]
    labels: dict[str, str]
    credentials: WorkloadCredentials
    #: service port -> protocol served by this instance
    ports: dict[int, ProtocolName] = field(default_factory=dict)

    @property
    def identity(self) -> SpiffeId:
        return self.credentials.spiffe_id

    def app_port(self, port: int) -> int:
        return port + APP_PORT_OFFSET


class LoopbackMesh:
    """Declares instances and services, then compiles each instance's snapshot (a tiny control plane)."""

    def __init__(self, trust_domain: str = "cluster.local", namespace: str = "default"):
        self.ca = CertificateAuthority.create(trust_domain)
        self.trust_domain = trust_domain
        self.namespace = namespace
        self.addresses = random_subnet()
        self.instances: list[Instance] = []
        self.resilience: dict[str, Resilience] = {}
        self.splits: dict[str, TrafficSplitConfig] = {}
        self.version = 0

    def add(
        self,
        name: str,
        service_account: str,
        services: Sequence[str] = (),
        *,
        version: str = "v1",
        ports: dict[int, ProtocolName] | None = None,
    ) -> Instance:
        sid = SpiffeId(self.trust_domain, self.namespace, service_account)
        inst = Instance(
            name,
            self.namespace,
            service_account,
            next(self.addresses),
            tuple(services),
            {"app": service_account, "version": version},
            self.ca.issue(sid),
            dict(ports or ({8080: "http"} if services else {})),
        )
        self.instances.append(inst)
        return inst

    def endpoints(self, service: str, port: int) -> tuple[Endpoint, ...]:
        return tuple(
            Endpoint(address=i.address, port=port, identity=i.identity.uri, instance=i.name, labels=i.labels)
            for i in self.instances
            if service in i.services and port in i.ports
        )

    def service_ports(self, service: str) -> dict[int, ProtocolName]:
        out: dict[int, ProtocolName] = {}
        for i in self.instances:
            if service in i.services:
                out.update(i.ports)
        return out

    def outbound_service(self, service: str) -> OutboundService:
        ports = tuple(
            ServicePort(port=p, protocol=proto, endpoints=self.endpoints(service, p))
            for p, proto in sorted(self.service_ports(service).items())
        )
        return OutboundService(
            name=service,
            namespace=self.namespace,
            ports=ports,
            split=self.splits.get(service),
            resilience=self.resilience.get(service, Resilience()),
        )

    def config(
        self,
        inst: Instance,
        *,
        authorization: AuthorizationPolicy | None = None,
        tcp: dict[int, tuple[str, int]] | None = None,
        udp: dict[int, tuple[str, int]] | None = None,
        settings: dict[str, int] | None = None,
    ) -> ProxyConfig:
        """The snapshot for ``inst``: outbound to every service, inbound on its ports, the given policy."""
        self.version += 1
        services = {s for i in self.instances for s in i.services}
        outbound = OutboundConfig(
            http_port=OUTBOUND_HTTP_PORT,
            tcp=tuple(
                OutboundPortBinding(listen_port=lp, service=service_key(s, self.namespace), port=p)
                for lp, (s, p) in (tcp or {}).items()
            ),
            udp=tuple(
                OutboundPortBinding(listen_port=lp, service=service_key(s, self.namespace), port=p)
                for lp, (s, p) in (udp or {}).items()
            ),
            services={service_key(s, self.namespace): self.outbound_service(s) for s in sorted(services)},
        )
        inbound = InboundConfig(
            listeners=tuple(
                InboundListener(
                    port=p,
                    protocol=proto,
                    app_port=inst.app_port(p),
                    app_address=inst.address,
                )
                for p, proto in sorted(inst.ports.items())
            ),
            authorization=authorization or AuthorizationPolicy(),
        )
        data: dict[str, object] = {
            "version": str(self.version),
            "workload": WorkloadInfo(
                trust_domain=self.trust_domain,
                namespace=self.namespace,
                service_account=inst.service_account,
                services=inst.services,
                instance=inst.name,
                labels=inst.labels,
                address=inst.address,
            ),
            "inbound": inbound,
            "outbound": outbound,
        }
        if settings:
            data["settings"] = settings
        return ProxyConfig.model_validate(data)
