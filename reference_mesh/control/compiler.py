"""SMI store state -> one :class:`ProxyConfig` per workload instance. Pure: no I/O, no clock, no randomness.

``compile_mesh(state, settings)`` is the whole control-plane logic; everything else moves its output around.
The semantics it implements are those of ``reference_mesh/proxy/config.py`` and ``shared/SPEC-NOTES.md``:

* **Outbound**: every instance may address every Service of the mesh (as Linkerd, there is no egress policy).
  A Service's endpoints are its *ready* Pods (label selector, same namespace) that expose the port's
  ``targetPort``; each endpoint must present its Pod's ServiceAccount identity.
* **TrafficSplit** (any version): compiled onto its root Service. Backends are Services in the split's
  namespace; v1alpha1 Quantity weights stay exact. ``matches`` (v1alpha3+) become the union of the referenced
  HTTPRouteGroups' matches; a reference to a group that does not exist contributes nothing (so a split whose
  groups are all missing splits nothing). If two splits share a root (admission refuses it; a store filled by
  other means might hold it), the one created first wins, deterministically (created in one batch: the
  first by name).
* **TrafficTarget** (any version): compiled into the inbound authorization of every Pod running as its
  destination (a ServiceAccount, or with v1alpha4 an IdentityBinding: its ServiceAccount, its pod label
  selector, or its SPIFFE ids). One :class:`AuthorizationRule` per TrafficTarget: sources become SPIFFE ids;
  HTTPRouteGroup rules give their matches (only the named ones when the rule lists ``matches``);
  TCPRoute/UDPRoute rules give the union of their ports (any rule covering every port makes it every port).
  ``destination.port`` (v1alpha1/2) restricts the whole rule to that port. A reference to a route that does
  not exist allows nothing. A TrafficTarget covers only pods in its own namespace (sources may be anywhere):
  admission refuses one whose destination is elsewhere (``SMI404``), and one that reaches the store by other
  means grants nothing outside its namespace, so writing TrafficTargets in one namespace never opens another.
* **Routes** (``routes.py``): the HTTPRouteGroup matches that TrafficTargets (destination covering a pod that
  serves the Service) and the Service's TrafficSplit ``matches`` reference become telemetry-only
  :class:`RoutePolicy` entries of the Service, after the routes its ``resilience`` configures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from reference_mesh import faults
from reference_mesh.control.resources import ObjectKey, Pod, Service
from reference_mesh.control.routes import GroupRef, route_names, smi_routes, with_routes
from reference_mesh.control.smi import (
    SplitView,
    SubjectRef,
    TargetView,
    http_matches,
    l4_ports,
    read_split,
    read_target,
)
from reference_mesh.control.state import StoreState
from reference_mesh.identity.errors import SpiffeIdError
from reference_mesh.identity.spiffe import SpiffeId
from reference_mesh.proxy.config import (
    AuthorizationPolicy,
    AuthorizationRule,
    Endpoint,
    HttpMatch,
    InboundConfig,
    InboundListener,
    Interception,
    OutboundConfig,
    OutboundPortBinding,
    OutboundService,
    PortSet,
    ProxyConfig,
    Resilience,
    ServicePort,
    SplitAlgorithm,
    SplitBackend,
    TrafficSplitConfig,
    WorkloadInfo,
    service_key,
)

__all__ = [
    "OUTBOUND_HTTP_PORT",
    "MeshSettings",
    "compile_instance",
    "compile_mesh",
    "route_table",
]

#: The version placeholder of compiled configs; the distributor stamps the real version.
UNVERSIONED = "0"
#: Where a sidecar takes its workload's outbound HTTP (on the pod's address), unless traffic is intercepted.
OUTBOUND_HTTP_PORT = 15001


@dataclass(frozen=True)
class MeshSettings:
    """Mesh-wide settings that are not SMI objects (the embedded runtime takes them from the topology
    file)."""

    trust_domain: str = "cluster.local"
    cluster_domain: str = "cluster.local"
    outbound_http_port: int = OUTBOUND_HTTP_PORT
    split_algorithm: SplitAlgorithm = "weighted_random"
    #: Do not enforce TrafficTargets (would-be denials are reported): a migration switch, off by default.
    permissive: bool = False
    #: Deliberate bugs (reference_mesh/faults.py); empty unless a test of the conformance suite asks.
    faults: frozenset[str] = frozenset()
    #: Services for which no Resilience is given get this one.
    default_resilience: Resilience = field(default_factory=Resilience)
    #: Transparent interception (Kubernetes): proxies take redirected connections instead of listening on
    #: the pod's ports and on ``outbound_http_port``.
    interception: Interception | None = None


def _spiffe(settings: MeshSettings, namespace: str, service_account: str) -> str:
    return SpiffeId(settings.trust_domain, namespace, service_account).uri


# ------------------------------------------------------------------------------------------------------ outbo
def _endpoints(
    service: Service, port: int, pods: Iterable[Pod], settings: MeshSettings
) -> tuple[Endpoint, ...]:
    out = []
    for pod in pods:
        if not pod.status.ready or not service.selects(pod):
            continue
        if not any(p.container_port == port for p in pod.spec.ports):
            continue
        out.append(
            Endpoint(
                address=pod.status.pod_ip,
                port=port,
                identity=_spiffe(settings, pod.metadata.namespace, pod.spec.service_account_name),
                instance=pod.metadata.name,
                labels=dict(pod.metadata.labels),
            )
        )
    return tuple(out)


def _split_config(split: SplitView, state: StoreState, settings: MeshSettings) -> TrafficSplitConfig:
    matches: tuple[HttpMatch, ...] | None = None
    if split.matches is not None:
        found: list[HttpMatch] = []
        for group_name in split.matches:
            group = state.get("HTTPRouteGroup", split.namespace, group_name)
            if group is not None:
                found.extend(http_matches(group.obj))
        matches = tuple(found)
    config = TrafficSplitConfig(
        name=f"{split.namespace}/{split.name}",
        backends=tuple(
            SplitBackend(service=service_key(svc, split.namespace), weight=w) for svc, w in split.backends
        ),
        matches=matches,
        algorithm=settings.split_algorithm,
    )
    return faults.split_config(config, settings.faults)


def _splits_by_root(state: StoreState) -> dict[str, SplitView]:
    """root service key -> the split that applies (first created wins a conflict, then the first by name)."""
    chosen: dict[str, tuple[int, SplitView]] = {}
    for stored in state.of_kind("TrafficSplit"):
        view = read_split(stored.obj)
        root = service_key(view.root, view.namespace)
        if root not in chosen or stored.created < chosen[root][0]:
            chosen[root] = (stored.created, view)
    return {root: view for root, (_, view) in chosen.items()}


def _outbound_services(
    state: StoreState, settings: MeshSettings, targets: list[TargetView]
) -> dict[str, OutboundService]:
    pods = list(state.models("Pod"))
    splits = _splits_by_root(state)
    resilience = _service_resilience(state, settings, targets, splits)
    services: dict[str, OutboundService] = {}
    for svc in state.models("Service"):
        key = service_key(svc.metadata.name, svc.metadata.namespace)
        ports = tuple(
            ServicePort(
                port=p.port,
                protocol=p.protocol,
                name=p.name,
                endpoints=_endpoints(svc, p.pod_port, pods, settings),
            )
            for p in svc.spec.ports
        )
        split = splits.get(key)
        services[key] = OutboundService(
            name=svc.metadata.name,
            namespace=svc.metadata.namespace,
            ports=ports,
            split=_split_config(split, state, settings) if split is not None else None,
            resilience=resilience[key],
            addresses=svc.spec.cluster_ips,
        )
    return services


def _service_resilience(
    state: StoreState, settings: MeshSettings, targets: list[TargetView], splits: dict[str, SplitView]
) -> dict[str, Resilience]:
    """Every Service's settings (service key -> :class:`Resilience`): its own or the mesh default, with its
    SMI routes (``routes.py``) after the configured ones."""
    pods = list(state.models("Pod"))
    services = {service_key(s.metadata.name, s.metadata.namespace): s for s in state.models("Service")}
    # which TrafficTargets name each pod (computed once: services x pods x targets would not scale)
    targets_of = {
        id(pod): [t for t in targets if _destination_covers(t, pod, state, settings)] for pod in pods
    }
    out: dict[str, Resilience] = {}
    for key, svc in services.items():
        base = svc.spec.resilience or settings.default_resilience
        if not _serves_http(svc):
            out[key] = base  # routes name HTTP requests only
            continue
        split = splits.get(key)
        # the pods serving requests addressed to it: its own, and its split backends'
        selectors = [svc]
        if split is not None:
            selectors += [
                b for name, _ in split.backends if (b := services.get(service_key(name, split.namespace)))
            ]
        naming: dict[int, TargetView] = {}  # the TrafficTargets naming a serving pod, each once, in order
        for pod in pods:
            if any(s.selects(pod) for s in selectors):
                naming.update((id(t), t) for t in targets_of[id(pod)])
        refs: list[GroupRef] = [
            (t.namespace, r.name, r.matches)
            for t in naming.values()
            for r in t.rules
            if r.kind == "HTTPRouteGroup"
        ]
        if split is not None and split.matches is not None:
            refs.extend((split.namespace, name, None) for name in split.matches)
        out[key] = with_routes(base, smi_routes(svc.metadata.namespace, refs, state))
    return out


def route_table(state: StoreState, settings: MeshSettings | None = None) -> dict[str, tuple[str, ...]]:
    """The route names of every Service with an HTTP port (service key -> names in first-match order), as its
    snapshots hold them: what ``reference-mesh routes`` lists."""
    settings = settings or MeshSettings()
    targets = [read_target(o) for o in state.models("TrafficTarget")]
    resilience = _service_resilience(state, settings, targets, _splits_by_root(state))
    table: dict[str, tuple[str, ...]] = {}
    for svc in state.models("Service"):
        if _serves_http(svc):
            key = service_key(svc.metadata.name, svc.metadata.namespace)
            table[key] = route_names(resilience[key])
    return table


def _serves_http(svc: Service) -> bool:
    return any(p.protocol == "http" for p in svc.spec.ports)


def _port_bindings(state: StoreState, protocol: str) -> tuple[OutboundPortBinding, ...]:
    out = []
    for svc in state.models("Service"):
        for p in svc.spec.ports:
            if p.protocol == protocol and p.local_port is not None:
                out.append(
                    OutboundPortBinding(
                        listen_port=p.local_port,
                        service=service_key(svc.metadata.name, svc.metadata.namespace),
                        port=p.port,
                    )
                )
    return tuple(sorted(out, key=lambda b: b.listen_port))


# ------------------------------------------------------------------------------------------------------- inbo
def _subject_covers(subject: SubjectRef, pod: Pod, state: StoreState, settings: MeshSettings) -> bool:
    """Does ``subject`` (a TrafficTarget destination) name this pod?"""
    if subject.kind == "ServiceAccount":
        return subject.namespace == pod.metadata.namespace and subject.name == pod.spec.service_account_name
    binding = state.get("IdentityBinding", subject.namespace, subject.name)
    if binding is None:
        return False
    schemes = binding.obj.spec.schemes
    pod_id = _spiffe(settings, pod.metadata.namespace, pod.spec.service_account_name)
    if (
        schemes.service_account is not None
        and subject.namespace == pod.metadata.namespace
        and (schemes.service_account == pod.spec.service_account_name)
    ):
        return True
    if (
        schemes.pod_label_selector is not None
        and subject.namespace == pod.metadata.namespace
        and all(pod.metadata.labels.get(k) == v for k, v in schemes.pod_label_selector.match_labels.items())
    ):
        return True
    return any(_same_id(s, pod_id) for s in schemes.spiffe_identities or ())


def _destination_covers(target: TargetView, pod: Pod, state: StoreState, settings: MeshSettings) -> bool:
    """Does ``target`` apply to this pod? Only within the target's own namespace: whoever may write
    TrafficTargets in one namespace must not open another's workloads (the access spec: allowing traffic
    to a destination needs its owner's permission), whether the destination names the other namespace or
    an IdentityBinding lists a SPIFFE id from it."""
    return target.namespace == pod.metadata.namespace and _subject_covers(
        target.destination, pod, state, settings
    )


def _same_id(written: str, uri: str) -> bool:
    """SPIFFE ids in an IdentityBinding may omit the scheme (the spec's example writes
    ``cluster.local/ns/...``)."""
    return written == uri or f"spiffe://{written}" == uri


def _source_ids(subject: SubjectRef, state: StoreState, settings: MeshSettings) -> list[str]:
    """The SPIFFE ids a TrafficTarget source stands for."""
    if subject.kind == "ServiceAccount":
        return [_spiffe(settings, subject.namespace, subject.name)]
    binding = state.get("IdentityBinding", subject.namespace, subject.name)
    if binding is None:
        return []
    schemes = binding.obj.spec.schemes
    ids: list[str] = []
    if schemes.service_account is not None:
        ids.append(_spiffe(settings, subject.namespace, schemes.service_account))
    if schemes.pod_label_selector is not None:
        for pod in state.models("Pod", subject.namespace):
            if all(
                pod.metadata.labels.get(k) == v for k, v in schemes.pod_label_selector.match_labels.items()
            ):
                ids.append(_spiffe(settings, subject.namespace, pod.spec.service_account_name))
    for written in schemes.spiffe_identities or ():
        uri = written if written.startswith("spiffe://") else f"spiffe://{written}"
        try:
            ids.append(SpiffeId.parse(uri).uri)
        except SpiffeIdError:
            continue  # not a mesh workload id: it can never be a verified caller here
    return ids


def _union_ports(current: PortSet | None, ports: tuple[int, ...]) -> PortSet:
    if current is not None and not current.ports:
        return current  # already every port
    if not ports:
        return PortSet()
    merged = set(current.ports if current is not None else ()) | set(ports)
    return PortSet(ports=tuple(sorted(merged)))


def _rule_for(target: TargetView, state: StoreState, settings: MeshSettings) -> AuthorizationRule:
    sources: list[str] = []
    for s in target.sources:
        sources.extend(i for i in _source_ids(s, state, settings) if i not in sources)
    http: list[HttpMatch] = []
    tcp: PortSet | None = None
    udp: PortSet | None = None
    for ref in target.rules:
        route = state.get(ref.kind, target.namespace, ref.name)
        if route is None:
            continue  # a missing route allows nothing
        if ref.kind == "HTTPRouteGroup":
            matches = http_matches(route.obj)
            if ref.matches is not None:
                wanted = set(ref.matches)
                matches = [m for m in matches if m.name in wanted]
            http.extend(m for m in matches if m not in http)
        elif ref.kind == "TCPRoute":
            tcp = _union_ports(tcp, l4_ports(route.obj))
        elif ref.kind == "UDPRoute":
            udp = _union_ports(udp, l4_ports(route.obj))
    rule = AuthorizationRule(
        name=f"{target.namespace}/{target.name}",
        sources=tuple(sources),
        http=tuple(http),
        tcp=tcp,
        udp=udp,
        ports=PortSet(ports=(target.port,)) if target.port is not None else PortSet(),
    )
    return faults.authorization_rule(
        rule, settings.faults, lambda i: _same_name_elsewhere(i, state, settings)
    )


def _same_name_elsewhere(spiffe_id: str, state: StoreState, settings: MeshSettings) -> list[str]:
    """The ids of every service account named like ``spiffe_id``'s, in any namespace (for a fault only)."""
    name = SpiffeId.parse(spiffe_id).service_account
    return [
        _spiffe(settings, a.metadata.namespace, name)
        for a in state.models("ServiceAccount")
        if a.metadata.name == name
    ]


def _authorization(
    pod: Pod, targets: list[TargetView], state: StoreState, settings: MeshSettings
) -> AuthorizationPolicy:
    rules = tuple(
        _rule_for(t, state, settings) for t in targets if _destination_covers(t, pod, state, settings)
    )
    return AuthorizationPolicy(
        rules=rules, permissive=settings.permissive or faults.allow_by_default(settings.faults)
    )


# -------------------------------------------------------------------------------------------------------- mes
def compile_instance(
    pod: Pod,
    state: StoreState,
    settings: MeshSettings,
    *,
    services: dict[str, OutboundService] | None = None,
    targets: list[TargetView] | None = None,
) -> ProxyConfig:
    """The snapshot of one Pod (version :data:`UNVERSIONED`). ``services``/``targets`` may be passed in when
    compiling many pods from one state (they do not depend on the pod)."""
    if targets is None:
        targets = [read_target(o) for o in state.models("TrafficTarget")]
    if services is None:
        services = _outbound_services(state, settings, targets)
    ns = pod.metadata.namespace
    # the Services of its namespace selecting it (selects() keeps to the pod's namespace)
    member_of = tuple(s.metadata.name for s in state.models("Service") if s.selects(pod))
    workload = WorkloadInfo(
        trust_domain=settings.trust_domain,
        namespace=ns,
        service_account=pod.spec.service_account_name,
        services=member_of,
        instance=pod.metadata.name,
        labels=dict(pod.metadata.labels),
        address=pod.status.pod_ip,
        cluster_domain=settings.cluster_domain,
    )
    inbound = InboundConfig(
        listeners=tuple(
            InboundListener(
                port=p.container_port,
                protocol=p.protocol,
                app_port=p.app_port,
                app_address=pod.status.pod_ip,
                name=p.name,
            )
            for p in pod.spec.ports
        ),
        authorization=_authorization(pod, targets, state, settings),
    )
    outbound = OutboundConfig(
        http_port=settings.outbound_http_port if settings.interception is None else None,
        tcp=_port_bindings(state, "tcp"),
        udp=_port_bindings(state, "udp"),
        services=services,
    )
    return ProxyConfig(
        version=UNVERSIONED,
        workload=workload,
        inbound=inbound,
        outbound=outbound,
        interception=settings.interception,
    )


def compile_mesh(state: StoreState, settings: MeshSettings | None = None) -> dict[ObjectKey, ProxyConfig]:
    """Every Pod's snapshot, keyed by the Pod's key."""
    settings = settings or MeshSettings()
    targets = [read_target(o) for o in state.models("TrafficTarget")]
    services = _outbound_services(state, settings, targets)
    return {
        stored.key: compile_instance(stored.obj, state, settings, services=services, targets=targets)
        for stored in state.of_kind("Pod")
    }
