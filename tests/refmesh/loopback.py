"""A small mesh on loopback for the proxy's own tests and the proxy benchmark: instances and services declared
in Python, each instance's snapshot made by the control plane's compiler (the one producer of
:class:`ProxyConfig`), with what a data-plane test sets directly on top: the inbound policy, the split,
TCP/UDP bindings and proxy settings.

Each instance gets its own 127.x.y.z address (Linux routes all of 127/8 to lo), so every instance can use the
same well-known ports: the application on service port + ``APP_PORT_OFFSET`` (HTTP), the sidecar's inbound
listeners on the service ports, the outbound HTTP listener on ``OUTBOUND_HTTP_PORT``.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from reference_mesh.control.compiler import OUTBOUND_HTTP_PORT, MeshSettings, compile_instance
from reference_mesh.control.resources import (
    ContainerPort,
    Pod,
    PodSpec,
    PodStatus,
    Service,
    ServicePortSpec,
    ServiceSpec,
    SimpleMeta,
    key_of,
)
from reference_mesh.control.state import StoredObject, StoreState
from reference_mesh.identity import CertificateAuthority, SpiffeId, WorkloadCredentials
from reference_mesh.proxy.config import (
    AuthorizationPolicy,
    OutboundPortBinding,
    ProtocolName,
    ProxyConfig,
    Resilience,
    TrafficSplitConfig,
    service_key,
)
from reference_mesh.runtime.topology import APP_PORT_OFFSET

__all__ = ["APP_PORT_OFFSET", "OUTBOUND_HTTP_PORT", "Instance", "LoopbackMesh", "random_subnet"]

#: The label that makes an instance an endpoint of a service (one per service it serves).
SERVES = "loopback.smi-conformance.io/"


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

    def pod(self) -> Pod:
        """The Pod the control plane sees: labelled with every service it serves, ports sorted."""
        return Pod(
            metadata=SimpleMeta(
                name=self.name,
                namespace=self.namespace,
                labels={**self.labels, **{SERVES + s: "true" for s in self.services}},
            ),
            spec=PodSpec(
                service_account_name=self.service_account,
                ports=tuple(
                    ContainerPort(container_port=p, protocol=proto, app_port=self.app_port(p))
                    for p, proto in sorted(self.ports.items())
                ),
            ),
            status=PodStatus(pod_ip=self.address),
        )


class LoopbackMesh:
    """Declares instances and services, then has the compiler make each instance's snapshot."""

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

    def service(self, name: str) -> Service:
        """A Service selecting the instances that serve ``name``, with every port one of them serves."""
        ports: dict[int, ProtocolName] = {}
        for i in self.instances:
            if name in i.services:
                ports.update(i.ports)
        return Service(
            metadata=SimpleMeta(name=name, namespace=self.namespace),
            spec=ServiceSpec(
                selector={SERVES + name: "true"},
                ports=tuple(ServicePortSpec(port=p, protocol=proto) for p, proto in sorted(ports.items())),
                resilience=self.resilience.get(name),
            ),
        )

    def state(self) -> StoreState:
        """What a control plane's store would hold for this mesh: its Pods and Services."""
        names = sorted({s for i in self.instances for s in i.services})
        objects = [*(i.pod() for i in self.instances), *(self.service(n) for n in names)]
        stored = {key_of(o): StoredObject(key_of(o), o, n, n) for n, o in enumerate(objects, 1)}
        return StoreState(stored, len(objects))

    def config(
        self,
        inst: Instance,
        *,
        authorization: AuthorizationPolicy | None = None,
        tcp: dict[int, tuple[str, int]] | None = None,
        udp: dict[int, tuple[str, int]] | None = None,
        settings: dict[str, int] | None = None,
    ) -> ProxyConfig:
        """The snapshot for ``inst`` as the compiler makes it (outbound to every service, inbound on its
        ports), with the given policy, splits, TCP/UDP bindings and settings."""
        self.version += 1
        compiled = compile_instance(inst.pod(), self.state(), MeshSettings(trust_domain=self.trust_domain))

        def bindings(given: dict[int, tuple[str, int]] | None) -> tuple[OutboundPortBinding, ...]:
            return tuple(
                OutboundPortBinding(listen_port=lp, service=service_key(s, self.namespace), port=p)
                for lp, (s, p) in (given or {}).items()
            )

        services = {
            key: svc.model_copy(update={"split": self.splits.get(svc.name)})
            for key, svc in compiled.outbound.services.items()
        }
        data: dict[str, Any] = {
            **dict(compiled),
            "version": str(self.version),
            "inbound": compiled.inbound.model_copy(
                update={"authorization": authorization or AuthorizationPolicy()}
            ),
            "outbound": compiled.outbound.model_copy(
                update={"tcp": bindings(tcp), "udp": bindings(udp), "services": services}
            ),
        }
        if settings:
            data["settings"] = settings
        return ProxyConfig.model_validate(data)
