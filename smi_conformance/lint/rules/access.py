"""SMI4xx: TrafficTarget completeness, and the spec's "compatible with" table between API groups."""

from __future__ import annotations

from collections.abc import Iterator

from smi_conformance.lint.resources import LintContext, Resource, list_at, target_body
from smi_conformance.lint.rule import Hit, Rule, Severity
from smi_conformance.lint.rules.references import route_refs

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
    spec:
      destination: {kind: ServiceAccount, name: api, namespace: default}
      rules: [{kind: HTTPRouteGroup, name: api-routes}]
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
    ---
    apiVersion: access.smi-spec.io/v1alpha3
    kind: TrafficTarget
    spec:
      rules: [{kind: HTTPRouteGroup, name: api-routes}]
    ```
    """

    code = "SMI403"
    name = "incompatible-versions"
    severity = Severity.WARNING
    summary = "a route reference across API versions the spec does not pair"
    kinds = frozenset({"TrafficTarget", "TrafficSplit"})

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


RULES = (EmptySources, EmptyRules, IncompatibleVersions)
