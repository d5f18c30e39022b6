"""The topology file of ``reference-mesh up``: what runs in the embedded mesh. See
docs/reference-mesh/control-plane.md.

    trustDomain: cluster.local
    serviceAccounts:
      - {name: bookstore, namespace: bookstore}
    services:
      - name: bookstore
        namespace: bookstore
        selector: {app: bookstore}
        ports: [{port: 8080, protocol: http}, {port: 9000, protocol: tcp}]
    deployments:
      - name: bookstore-v1
        namespace: bookstore
        serviceAccount: bookstore
        labels: {app: bookstore, version: v1}
        replicas: 2
        ports: [{port: 8080, protocol: http}, {port: 9000, protocol: tcp}]
      - name: bookbuyer            # no ports: a client (traffic enters through its sidecar)
        serviceAccount: bookbuyer
        labels: {app: bookbuyer}
    manifests: [bookstore-smi.yaml]   # SMI manifests applied at start (paths relative to this file)

Errors name the field (``deployments[1].ports[0].protocol: ...``) and, for YAML syntax, line and column.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from reference_mesh.control.compiler import OUTBOUND_HTTP_PORT
from reference_mesh.faults import parse_faults
from reference_mesh.proxy.config import Resilience, SplitAlgorithm
from smi_conformance.manifests import Document, load_text

__all__ = [
    "ADMIN_PORT",
    "APP_PORT_OFFSET",
    "OUTBOUND_HTTP_PORT",
    "Deployment",
    "PortDecl",
    "ServiceDecl",
    "Topology",
    "TopologyError",
    "load_topology",
]

Name = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
Port = Annotated[int, Field(ge=1, le=65535)]
Protocol = Literal["http", "tcp", "udp"]
#: The sidecar admin endpoint's port on every pod address.
ADMIN_PORT = 15000
#: The application of a pod listens on its pod address at service port + APP_PORT_OFFSET.
APP_PORT_OFFSET = 10000
#: TCP/UDP service ports without localPort get one from here up, in file order.
FIRST_LOCAL_PORT = 20000
#: Ports the runtime reserves on every pod address (sidecar admin, outbound HTTP). The application of a pod
#: listens on its service port + APP_PORT_OFFSET (the sidecar takes the port itself).
RESERVED_PORTS = {ADMIN_PORT: "sidecar admin", OUTBOUND_HTTP_PORT: "sidecar outbound HTTP"}


class TopologyError(Exception):
    """The topology file is missing, not YAML, or not a valid topology; the message says where."""


class _At(ValueError):
    """A cross-field problem found by a model validator, with the path (from that model) it is about."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.path = path


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


class PortDecl(_M):
    port: Port
    protocol: Protocol = "http"
    name: str = ""
    #: Services only: the port a TCP/UDP client's sidecar listens on for this service port.
    local_port: Port | None = None
    #: Services only: the pod port traffic goes to (default: ``port``).
    target_port: Port | None = None


class ServiceAccountDecl(_M):
    name: Name
    namespace: Name = "default"


class ServiceDecl(_M):
    name: Name
    namespace: Name = "default"
    selector: dict[str, str]
    ports: Annotated[tuple[PortDecl, ...], Field(min_length=1)]
    #: Proxy settings for this service (timeouts, retries, balancing...); defaults in resilience.md.
    resilience: Resilience | None = None


class Deployment(_M):
    name: Name
    namespace: Name = "default"
    service_account: Name = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    replicas: Annotated[int, Field(ge=0, le=50)] = 1
    #: Ports the pods serve (their sidecar's inbound listeners). None: a client-only deployment (no app
    #: process).
    ports: tuple[PortDecl, ...] = ()
    #: The application: the bundled echo workload (HTTP, TCP, UDP; at most one port of each protocol).
    workload: Literal["echo"] = "echo"
    #: Or your own: argv of a program started in the topology file's folder, which must serve each declared
    #: port on ``$APP_ADDRESS`` at port + 10000 (``$APP_PORT_<port>``; ``$PORT`` is the first one) and reaches
    #: other services through its sidecar at ``$MESH_OUTBOUND_HTTP`` (see the docs for every variable).
    command: tuple[str, ...] = ()
    #: Extra environment variables for ``command``.
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("ports")
    @classmethod
    def _allowed_ports(cls, ports: tuple[PortDecl, ...]) -> tuple[PortDecl, ...]:
        for p in ports:
            if p.port in RESERVED_PORTS or p.port + APP_PORT_OFFSET > 65535:
                raise ValueError(
                    f"port {p.port} is reserved ({RESERVED_PORTS.get(p.port, 'app port overflows')})"
                )
        return ports

    @model_validator(mode="after")
    def _echo_ports(self) -> Deployment:
        if not self.command:
            for i, proto in enumerate(p.protocol for p in self.ports):
                if any(p.protocol == proto for p in self.ports[:i]):
                    raise _At(
                        ("ports", i, "protocol"),
                        f"the echo workload serves one {proto} port; declare at most one (or give a command)",
                    )
        elif not self.ports:
            raise _At(("command",), "a command needs ports to serve (a client-only deployment has no app)")
        return self

    def app_env(self, instance: str, address: str) -> dict[str, str]:
        """The variables a ``command`` app gets (besides ``env`` and the runtime's own environment)."""
        ports = {f"APP_PORT_{p.port}": str(p.port + APP_PORT_OFFSET) for p in self.ports}
        return {
            "POD_NAME": instance,
            "POD_NAMESPACE": self.namespace,
            "SERVICE_ACCOUNT": self.service_account,
            "APP_ADDRESS": address,
            "PORT": str(self.ports[0].port + APP_PORT_OFFSET),  # a command always has ports (validated)
            **ports,
            "MESH_OUTBOUND_HTTP": f"{address}:{OUTBOUND_HTTP_PORT}",
            **self.env,
        }

    def instance_names(self) -> list[str]:
        return [f"{self.name}-{i}" for i in range(self.replicas)]


class ControlPlaneDecl(_M):
    #: Snapshot stream (mTLS), admin API (apply/get/check), Traffic Metrics API + Prometheus.
    snapshot_port: Port = 15010
    admin_port: Port = 15080
    metrics_port: Port = 15090


class CertificatesDecl(_M):
    #: Workload certificate lifetime in seconds (Linkerd: 24 h; short here so rotation is exercised).
    ttl_s: Annotated[int, Field(ge=30)] = 3600
    renew_at: Annotated[float, Field(gt=0, lt=1)] = 0.7


class Topology(_M):
    name: str = "mesh"
    trust_domain: str = "cluster.local"
    #: A /24 of 127.0.0.0/8 for the mesh ("auto": a random free one). The control plane takes .1, pods .2 on.
    subnet: str = "auto"
    control_plane: ControlPlaneDecl = ControlPlaneDecl()
    certificates: CertificatesDecl = CertificatesDecl()
    split_algorithm: SplitAlgorithm = "weighted_random"
    permissive: bool = False
    #: Deliberate bugs (reference_mesh/faults.py), for testing the conformance suite; none by default.
    faults: tuple[str, ...] = ()
    service_accounts: tuple[ServiceAccountDecl, ...] = ()
    services: tuple[ServiceDecl, ...] = ()
    deployments: tuple[Deployment, ...] = ()
    #: SMI manifest files applied (all together, atomically) once the mesh is up; relative to the topology
    #: file.
    manifests: tuple[str, ...] = ()

    @field_validator("faults")
    @classmethod
    def _faults(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        parse_faults(",".join(v))
        return v

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, v: str) -> str:
        if v == "auto":
            return v
        net = ipaddress.ip_network(v, strict=True)
        if not net.subnet_of(ipaddress.ip_network("127.0.0.0/8")) or net.prefixlen != 24:  # type: ignore[arg-type]
            raise ValueError("subnet must be a /24 inside 127.0.0.0/8, e.g. 127.42.7.0/24, or 'auto'")
        return v

    @model_validator(mode="after")
    def _references(self) -> Topology:
        accounts = {(a.namespace, a.name) for a in self.service_accounts}
        for i, d in enumerate(self.deployments):
            if d.service_account != "default" and (d.namespace, d.service_account) not in accounts:
                raise _At(
                    ("deployments", i, "serviceAccount"),
                    f"service account {d.namespace}/{d.service_account} is not declared under "
                    "serviceAccounts",
                )
        for field, kind, keys in (
            ("services", "service", [(s.namespace, s.name) for s in self.services]),
            ("deployments", "deployment", [(d.namespace, d.name) for d in self.deployments]),
        ):
            for i, (namespace, name) in enumerate(keys):
                if (namespace, name) in keys[:i]:
                    raise _At((field, i, "name"), f"{kind} {namespace}/{name} is declared twice")
        pods = sum(d.replicas for d in self.deployments)
        if pods > 250:
            raise _At(("deployments",), f"{pods} pods do not fit in one /24 (at most 250)")
        taken: set[int] = set()
        for si, svc in enumerate(self.services):
            for pi, port in enumerate(svc.ports):
                if port.local_port is not None:
                    if port.local_port in taken:
                        raise _At(
                            ("services", si, "ports", pi, "localPort"),
                            f"localPort {port.local_port} is already used by another service port",
                        )
                    taken.add(port.local_port)
        return self

    def local_ports(self) -> dict[tuple[str, str, int], int]:
        """(namespace, service, port) -> the client-side local port, for every TCP/UDP service port."""
        taken = {p.local_port for s in self.services for p in s.ports if p.local_port is not None}
        out: dict[tuple[str, str, int], int] = {}
        nxt = FIRST_LOCAL_PORT
        for s in self.services:
            for p in s.ports:
                if p.protocol == "http":
                    continue
                if p.local_port is not None:
                    out[(s.namespace, s.name, p.port)] = p.local_port
                    continue
                while nxt in taken:
                    nxt += 1
                out[(s.namespace, s.name, p.port)] = nxt
                taken.add(nxt)
        return out


def _extra_path(err: Any) -> tuple[str | int, ...]:
    cause = err.get("ctx", {}).get("error")
    return cause.path if isinstance(cause, _At) else ()


def _format(exc: ValidationError, doc: Document) -> str:
    """One line per problem: ``file:line:column: path: message``. A problem inside a field that has a more
    specific problem of its own (``ports`` too short because its only item was refused) is left out."""
    errors = exc.errors(include_url=False)
    locs = [tuple(err["loc"]) + _extra_path(err) for err in errors]
    lines = []
    for err, loc in zip(errors, locs, strict=True):
        if any(len(other) > len(loc) and other[: len(loc)] == loc for other in locs):
            continue
        path = ""
        for seg in loc:
            path += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if path else str(seg))
        msg = err["msg"].removeprefix("Value error, ")
        where = doc.locate(loc, key=err["type"] == "extra_forbidden")
        lines.append(f"  {where}: {path or '<top level>'}: {msg}")
    return "\n".join(lines)


def parse_topology(text: str, name: str = "<topology>") -> Topology:
    """A topology from YAML text; :class:`TopologyError` with ``file:line:column`` for every problem."""
    loaded = load_text(text, name)
    if loaded.issues:
        raise TopologyError("\n".join(f"{i.location}: {i.message}" for i in loaded.issues))
    if len(loaded.documents) != 1 or not isinstance(loaded.documents[0].data, dict):
        raise TopologyError(
            f"{name}: a topology is one mapping (name, trustDomain, services, deployments, ...)"
        )
    doc = loaded.documents[0]
    try:
        return Topology.model_validate(doc.data)
    except ValidationError as exc:
        raise TopologyError(f"{name}: invalid topology:\n{_format(exc, doc)}") from None


def load_topology(path: Path) -> Topology:
    """A topology file, checked whole before anything starts: its ``manifests`` must exist too (they are
    relative to the file's folder)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise TopologyError(f"{path}: {exc.strerror}") from None
    topology = parse_topology(text, str(path))
    missing = [(i, m) for i, m in enumerate(topology.manifests) if not (path.parent / m).is_file()]
    if missing:
        doc = load_text(text, str(path)).documents[0]
        raise TopologyError(
            "\n".join(
                f"{doc.locate(('manifests', i))}: manifests[{i}]: no file {m!r} in {path.resolve().parent}"
                for i, m in missing
            )
        )
    return topology
