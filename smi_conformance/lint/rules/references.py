"""SMI3xx: references between objects that do not resolve inside the linted set, and duplicate objects.

References to SMI objects (routes, IdentityBindings) are always checked: an SMI policy is normally kept
with its routes. References to Services and ServiceAccounts are checked only in namespaces where the linted
set holds at least one object of that kind, since those usually live with the workloads, elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from smi_conformance.lint.resources import (
    LintContext,
    Resource,
    dict_at,
    dicts,
    list_at,
    per_object,
    route_matches,
    str_at,
    target_body,
)
from smi_conformance.lint.rule import Hit, Rule, Severity
from smi_conformance.manifests import NodePath
from smi_conformance.service_names import split_root

ROUTE_KINDS = ("HTTPRouteGroup", "TCPRoute", "UDPRoute")


@per_object
def route_refs(obj: Resource) -> tuple[tuple[NodePath, str, str, Mapping[str, Any]], ...]:
    """(path of the reference, kind, name, the reference) for every route an object names."""
    return tuple(_route_refs(obj))


def _route_refs(obj: Resource) -> Iterator[tuple[NodePath, str, str, Mapping[str, Any]]]:
    if obj.kind == "TrafficSplit":
        for path, ref in dicts(dict_at(obj.data, "spec"), "matches", ("spec",)):
            kind, name = str_at(ref, "kind"), str_at(ref, "name")
            if kind and name:
                yield path, kind, name, ref
    elif obj.kind == "TrafficTarget":
        prefix, body, key = target_body(obj)
        for path, ref in dicts(body, key, prefix):
            kind, name = str_at(ref, "kind"), str_at(ref, "name")
            if kind in ROUTE_KINDS and name:
                yield path, kind, name, ref


@per_object
def subjects(obj: Resource) -> tuple[tuple[NodePath, str, str, str], ...]:
    """(path, kind, namespace, name) of a TrafficTarget's destination and sources."""
    prefix, body, _ = target_body(obj)
    destination = dict_at(body, "destination")
    entries = [((*prefix, "destination"), destination)] if destination is not None else []
    entries += list(dicts(body, "sources", prefix))
    found = []
    for path, subject in entries:
        kind, name = str_at(subject, "kind"), str_at(subject, "name")
        if kind and name:
            found.append((path, kind, str_at(subject, "namespace") or obj.namespace, name))
    return tuple(found)


class UnresolvedReference(Rule):
    """A TrafficSplit or TrafficTarget names a route group (or IdentityBinding) that is not in the linted set.

    Why: a TrafficSplit whose `matches` group does not exist splits nothing; a TrafficTarget rule naming a
    missing route allows nothing. If the object really lives elsewhere (another repository, created by
    another tool), lint it together with this one or suppress the finding with a reason.

    Bad:
    ```yaml
    kind: TrafficSplit
    spec:
      matches:
      - kind: HTTPRouteGroup
        name: firefox-users      # no such HTTPRouteGroup in this namespace
    ```

    Good:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: v2-api}
    spec:
      matches:
      - name: v2
        pathRegex: /api/v2/.*
    ---
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: website-v2-api}
    spec:
      service: website
      matches:
      - kind: HTTPRouteGroup
        name: v2-api
      backends: [{service: website-v2, weight: 100}]
    ```
    """

    code = "SMI301"
    name = "unresolved-reference"
    severity = Severity.WARNING
    summary = "a route group or IdentityBinding reference that is not in the linted set"
    kinds = frozenset({"TrafficSplit", "TrafficTarget"})
    deferred = True

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        for path, kind, name, _ in route_refs(obj):
            if not ctx.find(kind, obj.namespace, name):
                yield Hit(f"{kind} {obj.namespace}/{name} is not in {ctx.scope}", (*path, "name"))
        if obj.kind == "TrafficTarget":
            for path, kind, namespace, name in subjects(obj):
                if kind == "IdentityBinding" and not ctx.find(kind, namespace, name):
                    yield Hit(f"IdentityBinding {namespace}/{name} is not in {ctx.scope}", (*path, "name"))


class UnknownMatchName(Rule):
    """A TrafficTarget rule lists a match name that its HTTPRouteGroup does not define.

    Why: the rule then allows less than intended (nothing at all if no listed name exists): access is
    denied by default. Names are case-sensitive.

    Bad:
    ```yaml
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    spec:
      matches:
      - name: metrics
        pathRegex: /metrics
    ---
    kind: TrafficTarget
    spec:
      rules:
      - kind: HTTPRouteGroup
        name: api-routes
        matches: [prometheus]     # not a match of api-routes
    ```

    Good:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    spec:
      matches:
      - name: metrics
        pathRegex: /metrics
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    metadata: {name: prometheus-to-api}
    spec:
      destination: {kind: ServiceAccount, name: api}
      sources: [{kind: ServiceAccount, name: prometheus, namespace: default}]
      rules:
      - kind: HTTPRouteGroup
        name: api-routes
        matches: [metrics]
    ```
    """

    code = "SMI302"
    name = "unknown-match-name"
    severity = Severity.ERROR
    summary = "a rule names a match its HTTPRouteGroup does not define"
    kinds = frozenset({"TrafficTarget"})
    deferred = True
    evidence = frozenset({"HTTPRouteGroup"})

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        for path, kind, name, ref in route_refs(obj):
            groups = ctx.find(kind, obj.namespace, name) if kind == "HTTPRouteGroup" else []
            if not groups:
                continue
            defined = {str_at(m, "name") for group in groups for _, m in route_matches(group)}
            for i, wanted in enumerate(list_at(ref, "matches") or ()):
                if isinstance(wanted, str) and wanted not in defined:
                    known = ", ".join(sorted(n for n in defined if n)) or "none"
                    yield Hit(
                        f"HTTPRouteGroup {obj.namespace}/{name} has no match named {wanted!r} "
                        f"(it has: {known})",
                        (*path, "matches", i),
                    )


class UnresolvedService(Rule):
    """A TrafficSplit's root or backend Service is not in the linted set, although that namespace's Services
    are.

    Why: traffic for a missing backend Service fails; a missing root Service means clients have nothing to
    address. Checked only in namespaces where the linted set defines at least one Service; a Service the
    linted set defines in another namespace is service-in-other-namespace's (SMI209).

    Bad:
    ```yaml
    kind: Service
    metadata: {name: website}
    ---
    kind: TrafficSplit
    spec:
      service: website
      backends:
      - service: website-v2    # no such Service
        weight: 100
    ```

    Good:
    ```yaml
    apiVersion: v1
    kind: Service
    metadata: {name: website}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: website-v2}
    ---
    apiVersion: split.smi-spec.io/v1alpha4
    kind: TrafficSplit
    metadata: {name: website-canary}
    spec:
      service: website
      backends:
      - service: website-v2
        weight: 100
    ```
    """

    code = "SMI303"
    name = "unresolved-service"
    severity = Severity.WARNING
    summary = "a root or backend Service missing from a namespace whose Services are linted"
    kinds = frozenset({"TrafficSplit"})
    deferred = True
    evidence = frozenset({"Service"})

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        if not ctx.has_kind_in("Service", obj.namespace):
            return
        spec = dict_at(obj.data, "spec")
        refs: list[tuple[NodePath, Any]] = [(("spec", "service"), (spec or {}).get("service"))]
        refs += [
            ((*path, "service"), backend.get("service"))
            for path, backend in dicts(spec, "backends", ("spec",))
        ]
        for path, service in refs:
            if (
                isinstance(service, str)
                and not ctx.find("Service", obj.namespace, split_root(service, obj.namespace))
                and not ctx.namespaces_of("Service", service)  # in another namespace: SMI209 says so
            ):
                yield Hit(f"Service {obj.namespace}/{service} is not in {ctx.scope}", path)


class UnresolvedServiceAccount(Rule):
    """A TrafficTarget's destination or source ServiceAccount is not in the linted set, although that
    namespace's ServiceAccounts are.

    Why: access control is by ServiceAccount identity; a misspelt account allows nobody (as a source) or
    protects nothing (as the destination). Checked only in namespaces where the linted set defines at least
    one ServiceAccount.

    Bad:
    ```yaml
    kind: ServiceAccount
    metadata: {name: website}
    ---
    kind: TrafficTarget
    spec:
      destination: {kind: ServiceAccount, name: api}
      sources:
      - kind: ServiceAccount
        name: web-site          # the account is called "website"
    ```

    Good:
    ```yaml
    apiVersion: v1
    kind: ServiceAccount
    metadata: {name: website}
    ---
    apiVersion: v1
    kind: ServiceAccount
    metadata: {name: api}
    ---
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: TCPRoute
    metadata: {name: api-tcp}
    spec:
      matches: {ports: [9000]}
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    metadata: {name: website-to-api}
    spec:
      destination: {kind: ServiceAccount, name: api}
      rules: [{kind: TCPRoute, name: api-tcp}]
      sources:
      - kind: ServiceAccount
        name: website
        namespace: default
    ```
    """

    code = "SMI304"
    name = "unresolved-service-account"
    severity = Severity.WARNING
    summary = "a destination or source ServiceAccount missing from a namespace whose accounts are linted"
    kinds = frozenset({"TrafficTarget"})
    deferred = True
    evidence = frozenset({"ServiceAccount"})

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        for path, kind, namespace, name in subjects(obj):
            if kind != "ServiceAccount" or not ctx.has_kind_in("ServiceAccount", namespace):
                continue
            if not ctx.find("ServiceAccount", namespace, name):
                yield Hit(f"ServiceAccount {namespace}/{name} is not in {ctx.scope}", (*path, "name"))


class DuplicateObject(Rule):
    """Two documents define the same object (same kind, namespace and name, in any API version).

    Why: applying both, the later silently replaces the earlier; different API versions of one kind are
    the same object in the cluster. Rename one, or delete the stale copy.

    Bad:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha3
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    ---
    apiVersion: specs.smi-spec.io/v1alpha4     # meant to replace the one above, which is still here
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    ```

    Good (one object, in the version that replaced the other):
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    spec:
      matches:
      - name: all
        pathRegex: /.*
    ```
    """

    code = "SMI305"
    name = "duplicate-object"
    severity = Severity.ERROR
    summary = "two documents define the same object"
    kinds = frozenset(
        {"TrafficSplit", "TrafficTarget", "HTTPRouteGroup", "TCPRoute", "UDPRoute", "IdentityBinding"}
    )

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        first = ctx.first(obj)  # an index lookup: 8,000 copies of one object cost 8,000 lookups
        if first is not obj:
            where = ctx.at(first, ("metadata", "name"))
            yield Hit(
                f"{obj.kind} {obj.namespace}/{obj.name} is already defined {where}; applying both keeps "
                "only the last",
                ("metadata", "name"),
            )


RULES = (UnresolvedReference, UnknownMatchName, UnresolvedService, UnresolvedServiceAccount, DuplicateObject)
