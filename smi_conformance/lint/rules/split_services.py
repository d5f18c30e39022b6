"""SMI209-SMI211: a TrafficSplit against the Services it names, when the linted set holds them.

Each rule speaks only where the linted set holds the evidence (the Services themselves); a Service that is
not there is SMI303's, or nobody's when the namespace's Services are not linted.
"""

from __future__ import annotations

from collections.abc import Iterator

from smi_conformance.lint.resources import LintContext, Resource, dict_at, list_at, per_object, str_at
from smi_conformance.lint.rule import Hit, Rule, Severity
from smi_conformance.lint.rules.split import backends
from smi_conformance.lint.workloads import selector, selects, service_ports, show_labels
from smi_conformance.manifests import NodePath
from smi_conformance.service_names import split_root

_KINDS = frozenset({"TrafficSplit"})


def _namespace(obj: Resource) -> str:
    unset = "" if str_at(obj.metadata, "namespace") else " (metadata.namespace is not set: default)"
    return obj.namespace + unset


@per_object
def split_services(obj: Resource) -> tuple[tuple[NodePath, str], ...]:
    """(path, Service name) of a split's root and backends."""
    return tuple(_split_services(obj))


def _split_services(obj: Resource) -> Iterator[tuple[NodePath, str]]:
    root = str_at(dict_at(obj.data, "spec"), "service")
    if root is not None:
        yield ("spec", "service"), root
    for path, backend in backends(obj):
        service = str_at(backend, "service")
        if service is not None:
            yield (*path, "service"), service


def _service(ctx: LintContext, namespace: str, name: str) -> Resource | None:
    """The Service a split names (a root may be written as a DNS name of its namespace: ``web.shop``)."""
    found = ctx.find("Service", namespace, split_root(name, namespace))
    return found[0] if found else None


def _defines_ports(service: Resource) -> bool:
    """A Service written out in full (ports listed), not of type ExternalName (which has no pods)."""
    spec = dict_at(service.data, "spec")
    return bool(list_at(spec, "ports")) and str_at(spec, "type") != "ExternalName"


class ServiceInOtherNamespace(Rule):
    """A TrafficSplit names a Service that the linted files define only in another namespace.

    Why: a TrafficSplit splits the traffic of Services of its own namespace: the root and every backend are
    looked up where the split lives. Written in the wrong namespace (often: no `metadata.namespace`, so
    `default`), it splits nothing, and no error says so. Move the split to the Services' namespace. Only
    Services whose `metadata.namespace` is written count as evidence: one without it may be applied to
    any namespace (`kubectl apply -n`, Helm, Kustomize).

    Bad:
    ```yaml
    kind: Service
    metadata: {name: web, namespace: shop}
    ---
    kind: TrafficSplit
    metadata: {name: web-canary}          # in default
    spec:
      service: web
      backends: [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]
    ```

    Good:
    ```yaml
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: shop}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web-v1, namespace: shop}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web-v2, namespace: shop}
    ---
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: web-canary, namespace: shop}   # where its Services are
    spec:
      service: web
      backends: [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]
    ```
    """

    code = "SMI209"
    name = "service-in-other-namespace"
    severity = Severity.WARNING
    summary = "a root or backend Service that the linted files define only in another namespace"
    kinds = _KINDS
    deferred = True
    evidence = frozenset({"Service"})

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        for path, service in split_services(obj):
            if _service(ctx, obj.namespace, service) is not None:
                continue
            elsewhere = ctx.namespaces_of("Service", service)
            if elsewhere:
                yield Hit(
                    f"Service {service!r} is in namespace{'s' if len(elsewhere) > 1 else ''} "
                    f"{', '.join(elsewhere)}, not in "
                    f"{_namespace(obj)}: a TrafficSplit splits the Services of its own namespace",
                    path,
                )


class BackendPortMismatch(Rule):
    """A backend Service lacks a port of the root Service.

    Why: the spec sends a backend traffic only on ports whose number matches a port of the root Service.
    A backend listening on 8080 behind a root on 80 gets none of the root's traffic: its weight is
    silently spent on nothing (or, in some meshes, the split fails). Give the backend the root's port
    numbers (the target ports may differ).

    Bad:
    ```yaml
    kind: Service
    metadata: {name: web}
    spec: {ports: [{port: 80}]}
    ---
    kind: Service
    metadata: {name: web-v2}
    spec: {ports: [{port: 8080}]}
    ```

    Good:
    ```yaml
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec: {selector: {app: web}, ports: [{port: 80}]}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web-v1}
    spec: {selector: {app: web, version: v1}, ports: [{port: 80}]}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web-v2}
    spec: {selector: {app: web, version: v2}, ports: [{port: 80, targetPort: 8080}]}
    ---
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: web-canary}
    spec:
      service: web
      backends: [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]
    ```
    """

    code = "SMI210"
    name = "backend-port-mismatch"
    severity = Severity.WARNING
    summary = "a backend Service lacks a port number of the root Service, so it gets none of that traffic"
    kinds = _KINDS
    deferred = True
    evidence = frozenset({"Service"})

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        root_name = str_at(dict_at(obj.data, "spec"), "service")
        root = _service(ctx, obj.namespace, root_name) if root_name is not None else None
        if root is None:
            return
        root_ports = service_ports(root)[0]
        if not root_ports:
            return
        for path, backend in backends(obj):
            name = str_at(backend, "service")
            service = _service(ctx, obj.namespace, name) if name is not None else None
            if service is None or service is root:  # the root itself (web beside web.shop): SMI205's
                continue
            ports = service_ports(service)[0]
            missing = sorted(root_ports - ports)
            if ports and missing:
                which = "port" if len(missing) == 1 else "ports"
                yield Hit(
                    f"backend Service {name!r} has no {which} {', '.join(map(str, missing))} of the root "
                    f"Service {root_name!r} (it has {', '.join(map(str, sorted(ports)))}): it gets none of "
                    f"the traffic on {'that port' if len(missing) == 1 else 'those ports'}",
                    (*path, "service"),
                )


class BackendSelector(Rule):
    """A backend Service has no selector, or selects pods the root Service does not select.

    Why: a backend Service stands for one version of the root's pods: the root selects every version
    (`app: web`), each backend one of them (`app: web, version: v2`). A backend without a selector has
    no pods unless someone maintains its Endpoints by hand, so its share of the traffic fails (a Service
    written without ports, or of type ExternalName, is not judged). A backend
    whose selector does not include the root's picks pods outside the root Service: they answer only
    while the split is in place, and clients that reach the root without it (requests that match none of
    the split's `matches`, a mesh that falls back to the root) never see them.

    Bad:
    ```yaml
    kind: Service
    metadata: {name: web}
    spec: {selector: {app: web}}
    ---
    kind: Service
    metadata: {name: web-v2}
    spec: {selector: {app: web-next}}   # not among the root's pods
    ```

    Good:
    ```yaml
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec: {selector: {app: web}, ports: [{port: 80}]}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web-v1}
    spec: {selector: {app: web, version: v1}, ports: [{port: 80}]}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web-v2}
    spec: {selector: {app: web, version: v2}, ports: [{port: 80}]}   # some of the root's pods
    ---
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: web-canary}
    spec:
      service: web
      backends: [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]
    ```
    """

    code = "SMI211"
    name = "backend-selector"
    severity = Severity.WARNING
    summary = "a backend Service without a selector, or selecting pods the root Service does not"
    kinds = _KINDS
    deferred = True
    evidence = frozenset({"Service"})

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        root_name = str_at(dict_at(obj.data, "spec"), "service")
        root = _service(ctx, obj.namespace, root_name) if root_name is not None else None
        wanted = selector(root) if root is not None else None
        for path, backend in backends(obj):
            name = str_at(backend, "service")
            service = _service(ctx, obj.namespace, name) if name is not None else None
            if service is None or service is root:  # the root itself: SMI205's
                continue
            own = selector(service)
            if not own:
                if not _defines_ports(service):  # a stub without ports says nothing about pods
                    continue
                yield Hit(
                    f"backend Service {name!r} has no selector: it has no pods unless its Endpoints are "
                    "kept by hand, so its share of the traffic fails",
                    (*path, "service"),
                )
            elif wanted and not selects(wanted, own):
                yield Hit(
                    f"backend Service {name!r} selects {show_labels(own)}, pods the root Service "
                    f"{root_name!r} ({show_labels(wanted)}) does not select: they answer only through the "
                    "split",
                    (*path, "service"),
                )


RULES = (ServiceInOtherNamespace, BackendPortMismatch, BackendSelector)
