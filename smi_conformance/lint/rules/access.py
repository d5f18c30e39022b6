"""SMI4xx: TrafficTarget completeness, destinations in the target's own namespace, and the spec's "compatible
with" table between API groups."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from smi_conformance.lint.resources import LintContext, Resource, dict_at, list_at, str_at, target_body
from smi_conformance.lint.rule import Hit, Rule, Severity
from smi_conformance.lint.rules.references import route_refs
from smi_conformance.manifests import NodePath

_TARGET = frozenset({"TrafficTarget"})


class EmptySources(Rule):
    """A TrafficTarget has no sources.

    Why: access is denied by default and a TrafficTarget only allows; without sources it allows nobody.
    The schemas accept it, the v1alpha3 spec says a target has at least one source.

    Bad:
    ```yaml
    spec:
      destination: {kind: ServiceAccount, name: api, namespace: default}
      rules: [{kind: HTTPRouteGroup, name: api-routes}]
      sources: []
    ```

    Good:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: TCPRoute
    metadata: {name: api-tcp}
    spec:
      matches: {ports: [9000]}
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    metadata: {name: website-to-api, namespace: default}
    spec:
      destination: {kind: ServiceAccount, name: api, namespace: default}
      rules: [{kind: TCPRoute, name: api-tcp}]
      sources: [{kind: ServiceAccount, name: website, namespace: default}]
    ```
    """

    code = "SMI401"
    name = "empty-sources"
    severity = Severity.ERROR
    summary = "a TrafficTarget without sources allows nothing"
    kinds = _TARGET
    replaces_schema = True

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        prefix, body, _ = target_body(obj)
        if body is not None and not list_at(body, "sources") and not _other_type(body, "sources"):
            yield Hit("no sources: this TrafficTarget allows nobody", (*prefix, "sources"), key=True)


class EmptyRules(Rule):
    """A TrafficTarget has no rules (`specs` in v1alpha1).

    Why: a request is allowed only if it matches a rule; without rules the target allows nothing.

    Bad:
    ```yaml
    spec:
      destination: {kind: ServiceAccount, name: api, namespace: default}
      sources: [{kind: ServiceAccount, name: website, namespace: default}]
    ```

    Good:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: TCPRoute
    metadata: {name: api-tcp}
    spec:
      matches: {ports: [9000]}
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    metadata: {name: website-to-api, namespace: default}
    spec:
      destination: {kind: ServiceAccount, name: api, namespace: default}
      rules: [{kind: TCPRoute, name: api-tcp}]
      sources: [{kind: ServiceAccount, name: website, namespace: default}]
    ```
    """

    code = "SMI402"
    name = "empty-rules"
    severity = Severity.ERROR
    summary = "a TrafficTarget without rules allows nothing"
    kinds = _TARGET
    replaces_schema = True

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        prefix, body, key = target_body(obj)
        if body is not None and not list_at(body, key) and not _other_type(body, key):
            yield Hit(f"no {key}: this TrafficTarget allows nothing", (*prefix, key), key=True)


def _other_type(body: object, key: str) -> bool:
    """Present but not a list: a type error the schema reports; do not call it empty."""
    return isinstance(body, dict) and body.get(key) is not None and not isinstance(body.get(key), list)


#: A SPIFFE id as IdentityBindings write them (the scheme may be left out): its namespace.
_SPIFFE_NAMESPACE = re.compile(r"(?:spiffe://)?[^/]+/ns/([^/]+)/sa/[^/]+")


class CrossNamespaceDestination(Rule):
    """A TrafficTarget's destination is in another namespace than the TrafficTarget itself.

    Why: a TrafficTarget opens its destination to its sources, and the access spec says that allowing
    traffic to a destination "should only be possible with permission of the service owner". Permission to
    write TrafficTargets is granted per namespace, so a TrafficTarget must live with the workloads it opens:
    if one in namespace `other` could name a destination in `default`, whoever may write TrafficTargets in any
    namespace could grant themselves access to every workload. The reference mesh refuses such objects and
    ignores one that gets into its store; OSM's admission refuses them too. Sources may be in any namespace.
    A v1alpha4 destination IdentityBinding counts as well: it must not list SPIFFE ids of another namespace
    (reported on the TrafficTarget's destination and on the binding's identity, so that whichever of the two
    is linted or applied against the other is refused).
    Without `metadata.namespace` an object is taken to live in `default`, where `kubectl apply` puts it
    without `-n`: set the namespace explicitly.

    Bad:
    ```yaml
    kind: TrafficTarget
    metadata: {name: let-me-in, namespace: other}
    spec:
      destination: {kind: ServiceAccount, name: api, namespace: default}
      sources: [{kind: ServiceAccount, name: eve, namespace: other}]
    ```

    Good (written by the owner of `api`, in its namespace):
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: TCPRoute
    metadata: {name: api-tcp, namespace: default}
    spec:
      matches: {ports: [9000]}
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    metadata: {name: eve-to-api, namespace: default}
    spec:
      destination: {kind: ServiceAccount, name: api, namespace: default}
      sources: [{kind: ServiceAccount, name: eve, namespace: other}]
      rules: [{kind: TCPRoute, name: api-tcp}]
    ```
    """

    code = "SMI404"
    name = "cross-namespace-destination"
    severity = Severity.ERROR
    summary = "a TrafficTarget that opens workloads of another namespace"
    kinds = frozenset({"TrafficTarget", "IdentityBinding"})
    deferred = True

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        if obj.kind == "IdentityBinding":
            yield from self._binding(obj, ctx)
            return
        destination = _destination(obj)
        if destination is None:
            return
        path, subject = destination
        namespace = str_at(subject, "namespace")
        if namespace is not None and namespace != obj.namespace:
            yield Hit(
                f"destination is in namespace {namespace}, this TrafficTarget in {_namespace(obj)}: "
                "a TrafficTarget may only open workloads of its own namespace",
                (*path, "namespace"),
            )
            return
        name = str_at(subject, "name")
        if str_at(subject, "kind") != "IdentityBinding" or name is None:
            return
        for binding in ctx.find("IdentityBinding", obj.namespace, name):
            for _, written, other in _foreign_ids(binding):
                yield Hit(
                    f"destination IdentityBinding {obj.namespace}/{name} lists {written}, an identity of "
                    f"namespace {other}: a TrafficTarget in {_namespace(obj)} may only open workloads of its "
                    "own namespace",
                    (*path, "name"),
                )

    def _binding(self, binding: Resource, ctx: LintContext) -> Iterator[Hit]:
        """A binding whose TrafficTarget is elsewhere (say, already in a mesh's store)."""
        foreign = list(_foreign_ids(binding))
        if not foreign or binding.name is None:
            return
        users = [
            t.display
            for t in ctx.targets_of_binding(binding.namespace, binding.name)
            if t.namespace == binding.namespace
        ]
        if not users:
            return
        for path, written, other in foreign:
            yield Hit(
                f"{written} is an identity of namespace {other}, and this IdentityBinding is the destination "
                f"of {', '.join(users)}: a TrafficTarget may only open workloads of its own namespace",
                path,
            )


def _namespace(obj: Resource) -> str:
    unset = "" if str_at(obj.metadata, "namespace") else " (metadata.namespace is not set: default)"
    return obj.namespace + unset


def _destination(obj: Resource) -> tuple[NodePath, Mapping[str, Any]] | None:
    prefix, body, _ = target_body(obj)
    destination = dict_at(body, "destination")
    return None if destination is None else ((*prefix, "destination"), destination)


def _foreign_ids(binding: Resource) -> Iterator[tuple[NodePath, str, str]]:
    """(path, id as written, its namespace) of each SPIFFE id a binding lists from another namespace."""
    schemes = dict_at(dict_at(binding.data, "spec"), "schemes")
    for i, written in enumerate(list_at(schemes, "spiffeIdentities") or ()):
        found = _SPIFFE_NAMESPACE.fullmatch(written) if isinstance(written, str) else None
        if found is not None and found.group(1) != binding.namespace:
            yield ("spec", "schemes", "spiffeIdentities", i), written, found.group(1)


#: The spec's "compatible with" table: which specs.smi-spec.io versions each access/split version reads.
COMPATIBLE_SPECS: dict[str, frozenset[str]] = {
    "access.smi-spec.io/v1alpha1": frozenset({"v1alpha1", "v1alpha2"}),
    "access.smi-spec.io/v1alpha2": frozenset({"v1alpha3"}),
    "access.smi-spec.io/v1alpha3": frozenset({"v1alpha4"}),
    "access.smi-spec.io/v1alpha4": frozenset({"v1alpha4"}),  # unreleased; its docs use specs v1alpha4
    "split.smi-spec.io/v1alpha3": frozenset({"v1alpha3"}),
    "split.smi-spec.io/v1alpha4": frozenset({"v1alpha4"}),
}


class IncompatibleVersions(Rule):
    """A TrafficTarget or TrafficSplit refers to a route of a specs.smi-spec.io version it is not compatible
    with.

    Why: each SMI release pairs versions ("compatible with" in the spec): access v1alpha1 with specs
    v1alpha1/v1alpha2, access v1alpha2 with specs v1alpha3, access v1alpha3 with specs v1alpha4, split
    v1alpha3 with specs v1alpha3, split v1alpha4 with specs v1alpha4. A mesh supports one release and reads
    the routes at its version; a route written for another version may lack fields or put them elsewhere
    (HTTPRouteGroup moved `matches` under `spec` in v1alpha3; TCPRoute gained ports in v1alpha4). Upgrade
    both sides together (`smi convert`).

    Bad:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha1
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    spec:
      rules: [{kind: HTTPRouteGroup, name: api-routes}]
    ```

    Good:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    spec:
      matches:
      - name: all
        pathRegex: /.*
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    metadata: {name: website-to-api}
    spec:
      destination: {kind: ServiceAccount, name: api}
      sources: [{kind: ServiceAccount, name: website, namespace: default}]
      rules: [{kind: HTTPRouteGroup, name: api-routes}]
    ```
    """

    code = "SMI403"
    name = "incompatible-versions"
    severity = Severity.WARNING
    summary = "a route reference across API versions the spec does not pair"
    kinds = frozenset({"TrafficTarget", "TrafficSplit"})
    deferred = True

    def applies(self, obj: Resource) -> bool:
        return obj.api_version in COMPATIBLE_SPECS

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        allowed = COMPATIBLE_SPECS.get(obj.api_version)
        if allowed is None:
            return
        for path, kind, name, _ in route_refs(obj):
            routes = [r for r in ctx.find(kind, obj.namespace, name) if r.group == "specs.smi-spec.io"]
            if routes and not any(r.version in allowed for r in routes):
                want = " or ".join(f"specs.smi-spec.io/{v}" for v in sorted(allowed))
                yield Hit(
                    f"{obj.api_version} {obj.kind} works with {want} routes, but "
                    f"{kind} {obj.namespace}/{name} is {routes[0].api_version}",
                    (*path, "name"),
                )


class SourceWithoutNamespace(Rule):
    """A TrafficTarget source ServiceAccount has no namespace.

    Why: a ServiceAccount is only an identity together with its namespace
    (`spiffe://.../ns/<namespace>/sa/<name>`). The spec's examples always write it; meshes read a missing
    one differently: as the TrafficTarget's namespace, as any namespace, or as matching nobody. The same
    manifest then allows different callers in different meshes. Write the namespace.

    Bad:
    ```yaml
    sources:
    - kind: ServiceAccount
      name: website
    ```

    Good:
    ```yaml
    apiVersion: specs.smi-spec.io/v1alpha4
    kind: HTTPRouteGroup
    metadata: {name: api-routes}
    spec:
      matches: [{name: all, pathRegex: /.*}]
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    metadata: {name: website-to-api}
    spec:
      destination: {kind: ServiceAccount, name: api}
      rules: [{kind: HTTPRouteGroup, name: api-routes}]
      sources:
      - kind: ServiceAccount
        name: website
        namespace: default
    ```
    """

    code = "SMI405"
    name = "source-without-namespace"
    severity = Severity.WARNING
    summary = "a source ServiceAccount without a namespace, which meshes read differently"
    kinds = _TARGET

    def check(self, obj: Resource, ctx: LintContext) -> Iterator[Hit]:
        prefix, body, _ = target_body(obj)
        for i, source in enumerate(list_at(body, "sources") or ()):
            if not isinstance(source, Mapping) or source.get("kind") != "ServiceAccount":
                continue
            name = str_at(source, "name")
            if name is not None and "namespace" not in source:
                yield Hit(
                    f"source ServiceAccount {name!r} has no namespace: meshes read it as this TrafficTarget's"
                    " "
                    f"namespace ({_namespace(obj)}), as any namespace or as nobody; write it",
                    (*prefix, "sources", i, "name"),
                )


RULES = (EmptySources, EmptyRules, IncompatibleVersions, CrossNamespaceDestination, SourceWithoutNamespace)
