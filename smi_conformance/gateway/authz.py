"""TrafficTarget (every version) -> what it allows, mesh-independent; then the chosen mesh's resources.

A TrafficTarget allows its sources' identities to reach the pods running as its destination ServiceAccount
with the traffic its rules describe (SMI: deny by default, additive). :func:`read_allow` reduces one target
to an :class:`Allow`: the workloads (pods by label: both meshes select pods, not ServiceAccounts), the source
ServiceAccounts, the HTTP matches, and the TCP ports (``()`` = every port; ``None`` = no TCP rule). The
mesh modules (:mod:`.istio`, :mod:`.linkerd`) turn Allows into resources.
"""

from __future__ import annotations

from dataclasses import dataclass

from smi_conformance.gateway import findings as gw
from smi_conformance.gateway.context import Conversion
from smi_conformance.gateway.sources import HttpMatchView, Workload, http_matches, l4_ports, read_target
from smi_conformance.lint.resources import Resource

__all__ = ["Allow", "convert_targets", "read_allow"]


@dataclass(frozen=True)
class Allow:
    target: Resource
    namespace: str  #: the destination's
    workloads: tuple[Workload, ...]
    sources: tuple[tuple[str, str], ...]  #: (namespace, ServiceAccount)
    http: tuple[HttpMatchView, ...]
    tcp_ports: tuple[int, ...] | None  #: () every port, None no TCP rule
    #: v1alpha1/v1alpha2 ``destination.port``: everything above holds on that port only.
    port: int | None


def read_allow(conv: Conversion, target: Resource) -> Allow | None:
    """The Allow of a valid TrafficTarget; None (reported) when it cannot be converted."""
    view = read_target(target)
    dest = view.destination
    if dest.kind != "ServiceAccount":
        conv.report(
            gw.IdentityBindingSubject, target, dest.path,
            f"the destination is a {dest.kind}; only ServiceAccounts are converted, so this target is not",
        )  # fmt: skip
        return None
    sources = []
    for s in view.sources:
        if s.kind != "ServiceAccount":
            conv.report(
                gw.IdentityBindingSubject, target, s.path,
                f"source {s.kind} {s.namespace}/{s.name} is left out: the policy allows less",
            )  # fmt: skip
        elif (s.namespace, s.name) not in sources:
            sources.append((s.namespace, s.name))
    http: list[HttpMatchView] = []
    tcp: tuple[int, ...] | None = None
    for rule in view.rules:
        route = conv.inputs.find(rule.kind, target.namespace, rule.name)
        if route is None:
            conv.report(
                gw.RouteSpecNotFound, target, (*rule.path, "name"),
                f"{rule.kind} {target.namespace}/{rule.name} is not in the input: this rule allows nothing",
            )  # fmt: skip
            continue
        conv.use(route, target)
        if not conv.is_valid(route):
            return None
        if rule.kind == "UDPRoute":
            conv.report(
                gw.UdpNotMediated, target, rule.path,
                f"UDPRoute {rule.name}: {conv.options.authz} does not authorize UDP; nothing is generated",
            )  # fmt: skip
        elif rule.kind == "TCPRoute":
            ports = l4_ports(route)
            # () is every port: it absorbs any list; two lists join
            joined = tcp is None or (tcp and ports)
            tcp = tuple(sorted({*(tcp or ()), *ports})) if joined else ()
        else:
            matches = http_matches(route)
            if rule.matches is not None:
                names = {m.name for m in matches}
                for missing in [n for n in rule.matches if n not in names]:
                    conv.report(
                        gw.RouteSpecNotFound, target, (*rule.path, "matches"),
                        f"{route.display} has no match {missing!r}: it allows nothing here",
                    )  # fmt: skip
                matches = [m for m in matches if m.name in rule.matches]
            http.extend(m for m in matches if m not in http)
    workloads = conv.inputs.workloads(dest.namespace, dest.name)
    unlabelled = [w for w in workloads if not w.labels]
    if not workloads or unlabelled:
        why = (
            f"{unlabelled[0].resource.display} has no pod labels to select it by"
            if unlabelled
            else "no Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or Pod in the input runs as it"
        )
        conv.report(
            gw.WorkloadNotFound, target, (*dest.path, "name"),
            f"destination ServiceAccount {dest.namespace}/{dest.name}: {why}; the mesh selects pods by "
            "label (give the workload in the input or with --services FILE)",
        )  # fmt: skip
        return None
    return Allow(target, dest.namespace, tuple(workloads), tuple(sources), tuple(http), tcp, view.port)


def convert_targets(conv: Conversion, targets: list[Resource]) -> None:
    allows = []
    for target in targets:
        allow = read_allow(conv, target)
        if allow is not None:
            allows.append(allow)
    if conv.options.authz == "istio":
        from smi_conformance.gateway.istio import convert_allows
    else:
        from smi_conformance.gateway.linkerd import convert_allows
    convert_allows(conv, allows)
    if targets:
        mesh = "Istio" if conv.options.authz == "istio" else "Linkerd"
        conv.report(
            gw.DefaultAllow, targets[0], ("kind",),
            f"{mesh} allows all traffic to workloads that no converted policy selects; SMI denies it "
            f"(smi convert --explain GW305 shows how to close them)",
        )  # fmt: skip
