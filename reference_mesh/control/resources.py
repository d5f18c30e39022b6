"""The non-SMI objects the control plane needs: ServiceAccounts, Services and Pods (workload instances).

They follow the Kubernetes shapes closely enough that an informer over the real API could fill them (``v1``
ServiceAccount / Service / Pod), but keep only what a mesh reads:

* ``ServiceAccount``: an identity (``spiffe://<trust-domain>/ns/<namespace>/sa/<name>``).
* ``Service``: ports (``port``, ``targetPort``, ``protocol`` http/tcp/udp) and a label ``selector``; plus two
  mesh settings that Kubernetes would carry in annotations: ``localPort`` on TCP/UDP ports (the port a
  client's sidecar listens on for that service port: apps address TCP/UDP services explicitly, there is no
  iptables) and ``resilience`` (the proxy's per-service settings, see docs/reference-mesh/resilience.md).
* ``Pod``: one workload instance: labels, service account, its loopback address, the ports its sidecar exposes
  (``containerPort``) and where the application really listens (``appPort``), and readiness.

SMI objects are kept as the typed models of :mod:`smi_conformance.models`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from reference_mesh.proxy.config import Resilience

__all__ = [
    "CORE_KINDS",
    "ContainerPort",
    "ObjectKey",
    "Pod",
    "PodSpec",
    "PodStatus",
    "Service",
    "ServiceAccount",
    "ServicePortSpec",
    "ServiceSpec",
    "SimpleMeta",
    "key_of",
]

Port = Annotated[int, Field(ge=1, le=65535)]
Protocol = Literal["http", "tcp", "udp"]


class _Core(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class SimpleMeta(_Core):
    name: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    namespace: Annotated[str, Field(max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    #: Filled in by the store; ignored on apply.
    resource_version: str | None = None


class ServiceAccount(_Core):
    api_version: Literal["v1"] = "v1"
    kind: Literal["ServiceAccount"] = "ServiceAccount"
    metadata: SimpleMeta


class ServicePortSpec(_Core):
    port: Port
    target_port: Port | None = None
    protocol: Protocol = "http"
    name: str = ""
    #: TCP/UDP only: the port clients' sidecars listen on (on the client's own address) for this service port.
    local_port: Port | None = None

    @property
    def pod_port(self) -> int:
        return self.target_port or self.port

    @model_validator(mode="after")
    def _local_port_only_l4(self) -> ServicePortSpec:
        if self.local_port is not None and self.protocol == "http":
            raise ValueError("localPort is for tcp/udp ports; HTTP goes through the sidecar's HTTP listener")
        return self


class ServiceSpec(_Core):
    selector: dict[str, str] = Field(default_factory=dict)
    ports: tuple[ServicePortSpec, ...] = ()
    resilience: Resilience | None = None
    #: The virtual IPs clients dial (Kubernetes: ``spec.clusterIPs``); empty in the embedded runtime, where
    #: clients name services in the Host header or dial a ``localPort``.
    cluster_ips: tuple[str, ...] = ()


class Service(_Core):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Service"] = "Service"
    metadata: SimpleMeta
    spec: ServiceSpec

    def selects(self, pod: Pod) -> bool:
        """Kubernetes semantics: a Service without a selector selects no pods (its endpoints are managed
        apart)."""
        sel = self.spec.selector
        return (
            bool(sel)
            and pod.metadata.namespace == self.metadata.namespace
            and all(pod.metadata.labels.get(k) == v for k, v in sel.items())
        )


class ContainerPort(_Core):
    container_port: Port
    protocol: Protocol = "http"
    name: str = ""
    #: Where the application listens (the sidecar forwards allowed inbound traffic there).
    app_port: Port


class PodSpec(_Core):
    service_account_name: str = "default"
    ports: tuple[ContainerPort, ...] = ()


class PodStatus(_Core):
    #: The loopback address of this instance (its "pod IP"); the application and the sidecar both bind it.
    pod_ip: str
    #: Ready instances are endpoints of the Services selecting them; the runtime clears it when the app dies.
    ready: bool = True
    #: Where the sidecar's admin endpoint listens (telemetry, tap, readiness), "host:port".
    admin: str = ""


class Pod(_Core):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Pod"] = "Pod"
    metadata: SimpleMeta
    spec: PodSpec
    status: PodStatus

    def app_port(self, port: int) -> int | None:
        return next((p.app_port for p in self.spec.ports if p.container_port == port), None)


CORE_KINDS: dict[str, type[_Core]] = {"ServiceAccount": ServiceAccount, "Service": Service, "Pod": Pod}


class ObjectKey(tuple[str, str, str]):
    """(kind, namespace, name): what identifies an object. The API version is not part of it: applying a
    TrafficSplit v1alpha4 named ``canary`` replaces a v1alpha2 one of that name, as with a multi-version
    CRD."""

    __slots__ = ()

    def __new__(cls, kind: str, namespace: str, name: str) -> ObjectKey:
        return super().__new__(cls, (kind, namespace, name))

    @property
    def kind(self) -> str:
        return self[0]

    @property
    def namespace(self) -> str:
        return self[1]

    @property
    def name(self) -> str:
        return self[2]

    def __str__(self) -> str:
        return f"{self[0]} {self[1]}/{self[2]}"

    def __repr__(self) -> str:
        return f"ObjectKey({self[0]!r}, {self[1]!r}, {self[2]!r})"


def key_of(obj: Any) -> ObjectKey:
    """The key of a stored object: a core model or an SMI model (namespace defaults to ``default``)."""
    meta = obj.metadata
    return ObjectKey(obj.kind, meta.namespace or "default", meta.name or "")
