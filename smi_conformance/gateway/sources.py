"""The input of a conversion as the converters read it: SMI objects, Services and workloads, by name.

Objects are the linter's :class:`~smi_conformance.lint.resources.Resource` s (raw documents with their
identity and location), indexed by a :class:`~smi_conformance.lint.resources.LintContext`. SMI objects are
validated with the models before anything reads them, so the readers here may trust their shape; every
view keeps the node path of what it read, so that a finding can point at it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from smi_conformance.lint.resources import (
    LintContext,
    Resource,
    dict_at,
    dicts,
    headers,
    list_at,
    route_matches,
    str_at,
    target_body,
)
from smi_conformance.manifests import Document, NodePath

__all__ = [
    "HttpMatchView",
    "Inputs",
    "ServicePort",
    "SplitView",
    "Subject",
    "TargetRule",
    "TargetView",
    "Workload",
]

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod"})


@dataclass(frozen=True)
class HttpMatchView:
    """One match of an HTTPRouteGroup, any version."""

    group: Resource
    path: NodePath  #: of the match inside the group
    name: str
    methods: tuple[str, ...]  #: () = any method ("*" is kept as written)
    path_regex: str | None
    headers: tuple[tuple[NodePath, str, str], ...]  #: (path, name, regex)


@dataclass(frozen=True)
class ServicePort:
    port: int
    name: str | None
    protocol: str  #: TCP, UDP or SCTP
    app_protocol: str | None


@dataclass(frozen=True)
class Workload:
    """Pods running as some ServiceAccount: what selects them and which ports their containers declare."""

    resource: Resource
    labels: Mapping[str, str]
    ports: tuple[tuple[int, str], ...]  #: (containerPort, protocol)


@dataclass(frozen=True)
class Subject:
    kind: str
    name: str
    namespace: str
    path: NodePath


@dataclass(frozen=True)
class TargetRule:
    kind: str  #: HTTPRouteGroup | TCPRoute | UDPRoute
    name: str
    matches: tuple[str, ...] | None
    path: NodePath


@dataclass(frozen=True)
class TargetView:
    resource: Resource
    destination: Subject
    port: int | None  #: v1alpha1/v1alpha2 destination.port
    sources: tuple[Subject, ...]
    rules: tuple[TargetRule, ...]


@dataclass(frozen=True)
class SplitView:
    resource: Resource
    root: str
    backends: tuple[tuple[str, Fraction, NodePath], ...]  #: (service, exact weight, path)
    groups: tuple[tuple[str, NodePath], ...] | None  #: HTTPRouteGroup names; None = every request


class Inputs:
    """Every Kubernetes object of the input and of ``--services``, indexed."""

    def __init__(self, documents: Iterable[Document]) -> None:
        from smi_conformance.models import lookup

        self.context = LintContext()
        for document in documents:
            data = document.data
            if not isinstance(data, dict):
                continue
            api_version, kind = data.get("apiVersion"), data.get("kind")
            if isinstance(api_version, str) and isinstance(kind, str):
                resource = Resource(document, api_version, kind, data)
                if resource.is_smi:
                    resource.info = lookup(api_version, kind)
                self.context.add(resource)

    @property
    def resources(self) -> list[Resource]:
        return self.context.resources

    def find(self, kind: str, namespace: str, name: str) -> Resource | None:
        """The first SMI object of ``kind`` (any version) named so, or None."""
        found = [r for r in self.context.find(kind, namespace, name) if r.is_smi]
        return found[0] if found else None

    def service(self, namespace: str, name: str) -> Resource | None:
        found = [r for r in self.context.find("Service", namespace, name) if r.api_version == "v1"]
        return found[0] if found else None

    def workloads(self, namespace: str, service_account: str) -> list[Workload]:
        """Workloads in ``namespace`` whose pods run as ``service_account`` (``default`` when unset)."""
        out = []
        for resource in self.resources:
            if resource.kind not in WORKLOAD_KINDS or resource.namespace != namespace:
                continue
            pod_meta, pod_spec = _pod_template(resource)
            account = (
                str_at(pod_spec, "serviceAccountName") or str_at(pod_spec, "serviceAccount") or "default"
            )
            if account != service_account:
                continue
            selector = dict_at(dict_at(resource.data, "spec"), "selector")
            labels = dict_at(selector, "matchLabels") if resource.kind != "Pod" else None
            if resource.kind == "Job" or labels is None:
                labels = dict_at(pod_meta, "labels")
            ports = tuple(
                (port["containerPort"], str(port.get("protocol") or "TCP"))
                for _, container in dicts(pod_spec, "containers")
                for _, port in dicts(container, "ports")
                if isinstance(port.get("containerPort"), int)
            )
            clean = {str(k): str(v) for k, v in (labels or {}).items()}
            out.append(Workload(resource, clean, tuple(dict.fromkeys(ports))))
        return out


def _pod_template(resource: Resource) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    if resource.kind == "Pod":
        return dict_at(resource.data, "metadata"), dict_at(resource.data, "spec")
    template = dict_at(dict_at(resource.data, "spec"), "template")
    return dict_at(template, "metadata"), dict_at(template, "spec")


def service_ports(service: Resource) -> list[ServicePort]:
    out = []
    for _, port in dicts(dict_at(service.data, "spec"), "ports"):
        number = port.get("port")
        if isinstance(number, int) and not isinstance(number, bool):
            out.append(
                ServicePort(
                    number,
                    str_at(port, "name"),
                    str_at(port, "protocol") or "TCP",
                    str_at(port, "appProtocol"),
                )
            )
    return out


def http_matches(group: Resource) -> list[HttpMatchView]:
    """The matches of an HTTPRouteGroup of any version (the draft's ``spec.routes`` too), in order."""
    if group.version.startswith("v1alpha5"):
        found: Iterable[tuple[NodePath, Mapping[str, Any]]] = dicts(
            dict_at(group.data, "spec"), "routes", ("spec",)
        )
    else:
        found = route_matches(group)
    out = []
    for path, match in found:
        methods = tuple(m for m in list_at(match, "methods") or () if isinstance(m, str))
        out.append(
            HttpMatchView(
                group,
                path,
                str_at(match, "name") or "",
                methods,
                str_at(match, "pathRegex"),
                tuple((p, name, str(regex)) for p, name, regex in headers(match, path)),
            )
        )
    return out


def l4_ports(route: Resource) -> tuple[int, ...]:
    """The ports a TCPRoute/UDPRoute (any version) covers; () = every port."""
    spec = dict_at(route.data, "spec")
    matches = dict_at(spec, "matches")
    ports = list_at(matches, "ports") if matches is not None else list_at(spec, "ports")
    return tuple(p for p in ports or () if isinstance(p, int))


def read_split(resource: Resource) -> SplitView:
    from smi_conformance.lint.rules.split import backends, weight_value

    spec = dict_at(resource.data, "spec")
    out = []
    for path, backend in backends(resource):
        weight = weight_value(resource, backend.get("weight"))
        out.append((str(backend.get("service")), weight if weight is not None else Fraction(0), path))
    raw = list_at(spec, "matches")
    groups = None
    if raw is not None:
        groups = tuple((str(m.get("name")), p) for p, m in dicts(spec, "matches", ("spec",)))
    return SplitView(resource, str_at(spec, "service") or "", tuple(out), groups)


def read_target(resource: Resource) -> TargetView:
    prefix, body, rules_key = target_body(resource)
    ns = resource.namespace

    def subject(path: NodePath, item: Mapping[str, Any]) -> Subject:
        return Subject(str(item.get("kind")), str(item.get("name")), str_at(item, "namespace") or ns, path)

    destination = dict_at(body, "destination") or {}
    port = destination.get("port")
    return TargetView(
        resource,
        subject((*prefix, "destination"), destination),
        port if isinstance(port, int) else None,
        tuple(subject(p, s) for p, s in dicts(body, "sources", prefix)),
        tuple(
            TargetRule(
                str(r.get("kind")),
                str(r.get("name")),
                tuple(str(m) for m in r["matches"]) if isinstance(r.get("matches"), list) else None,
                p,
            )
            for p, r in dicts(body, rules_key, prefix)
        ),
    )
