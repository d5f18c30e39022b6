"""TrafficSplit (every version) -> Gateway API HTTPRoute(s) with the root Service as parent (GAMMA).

=============================== ============================================================================
SMI                             HTTPRoute
=============================== ============================================================================
``spec.service``                ``parentRefs: [{group: "", kind: Service, name}]``, with ``port`` (a route per
                                root port) when the root Service has several ports
``spec.backends[]``             ``backendRefs[]``: the backend Service, the root port's number (SMI sends a
                                backend the traffic of the root port with the same number; a backend without
                                it is left out of that port's route), the weight
weights                         the smallest integers with the same ratios (v1alpha1 Quantities exactly);
                                rounded, with GW104, only when they would exceed 1,000,000
``spec.matches`` (v1alpha3+)    one rule per HTTPRouteGroup with its matches and the backends, plus a rule
                                without matches to the root Service: SMI sends unmatched requests to the root
=============================== ============================================================================
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from smi_conformance.gateway import findings as gw
from smi_conformance.gateway.context import Conversion
from smi_conformance.gateway.matches import gateway_matches
from smi_conformance.gateway.sources import ServicePort, http_matches, read_split, service_ports
from smi_conformance.lint.resources import Resource
from smi_conformance.manifests import NodePath
from smi_conformance.weights import whole_weights

__all__ = ["MAX_WEIGHT", "convert_split", "route_weights"]

MAX_WEIGHT = 1_000_000
MAX_RULES = 16
MAX_BACKENDS = 16
MAX_MATCHES_PER_RULE = 64
MAX_MATCHES = 128
_HTTP_APP_PROTOCOLS = frozenset({"http", "http2", "h2c", "grpc", "kubernetes.io/h2c", "kubernetes.io/ws"})
_NON_HTTP_NAME_PREFIXES = frozenset({"tcp", "tls", "https", "udp", "mongo", "mysql", "redis", "sctp"})
GROUP_ANNOTATION = "smi-conformance.io/converted-from"


def route_weights(weights: list[Fraction]) -> tuple[list[int], bool]:
    """(integer weights with the same ratios, exact?) within 0..MAX_WEIGHT.

    Whole weights in range are kept as written. Others (v1alpha1 fractions such as ``500m``, or weights
    above the range) become the smallest integers with exactly the same ratios
    (:func:`~smi_conformance.weights.whole_weights`); only when those still exceed the range is each weight
    scaled so the largest is MAX_WEIGHT and rounded (``exact`` False).
    """
    ints = whole_weights(weights, MAX_WEIGHT)
    top = max(ints, default=0)
    if top <= MAX_WEIGHT:
        return ints, True
    return [round(Fraction(i * MAX_WEIGHT, top)) for i in ints], False


def _shares(weights: list[int] | list[Fraction]) -> list[Fraction]:
    total = sum(Fraction(w) for w in weights)
    return [Fraction(w) / total if total else Fraction(0) for w in weights]


def _root_name(conv: Conversion, split: Resource, root: str) -> tuple[str, str] | None:
    """(Service name, namespace) of the root; None (reported) when it is not a cluster Service name."""
    parts = root.split(".")
    if len(parts) == 1:
        return root, split.namespace
    if len(parts) == 2 or parts[2] == "svc":
        return parts[0], parts[1]
    conv.report(
        gw.RootNotAService, split, ("spec", "service"),
        f"root {root!r} is not a Service name or <service>.<namespace>[.svc[.<cluster domain>]]",
    )  # fmt: skip
    return None


def _http_ports(conv: Conversion, split: Resource, ports: list[ServicePort], root: str) -> list[int]:
    out = []
    for p in ports:
        app = (p.app_protocol or "").lower()
        prefix = (p.name or "").split("-")[0].lower()
        why = None
        if p.protocol != "TCP":
            why = f"protocol {p.protocol}"
        elif app and app not in _HTTP_APP_PROTOCOLS:
            why = f"appProtocol {p.app_protocol!r}"
        elif not app and prefix in _NON_HTTP_NAME_PREFIXES:
            why = f"name {p.name!r}"
        if why:
            conv.report(
                gw.NonHttpPort, split, ("spec", "service"),
                f"port {p.port} of Service {root!r} is not HTTP ({why}); an HTTPRoute does not split its "
                "traffic, which keeps going to the root Service",
            )  # fmt: skip
        else:
            out.append(p.port)
    return out


def convert_split(conv: Conversion, split: Resource) -> None:
    """Add the HTTPRoute(s) of one (valid) TrafficSplit to ``conv``."""
    view = read_split(split)
    named = _root_name(conv, split, view.root)
    if named is None:
        return
    root_name, root_ns = named
    if root_ns != split.namespace:
        conv.report(
            gw.ConsumerRoute, split, ("spec", "service"),
            f"root Service {root_ns}/{root_name} is in another namespace: the HTTPRoute in {split.namespace} "
            "applies only to clients in that namespace (and its fallback to the root needs a ReferenceGrant)",
        )  # fmt: skip
    first = conv.roots.setdefault((root_ns, root_name), split)
    if first is not split:
        conv.report(
            gw.DuplicateRoot, split, ("spec", "service"),
            f"{first.display} splits the same root Service {root_ns}/{root_name}; Gateway API would merge "
            "both HTTPRoutes, SMI applies one split",
        )  # fmt: skip

    missing = False
    root_service = conv.inputs.service(root_ns, root_name)
    if root_service is None:
        conv.report(gw.ServiceNotFound, split, ("spec", "service"), _missing("root", root_ns, root_name))
        missing = True
    backend_ports: dict[str, set[int]] = {}
    for service, _, path in view.backends:
        found = conv.inputs.service(split.namespace, service)
        if found is None:
            if service not in backend_ports:
                conv.report(
                    gw.ServiceNotFound,
                    split,
                    (*path, "service"),
                    _missing("backend", split.namespace, service),
                )
            missing = True
            continue
        backend_ports[service] = {p.port for p in service_ports(found)}
    if missing or root_service is None:
        return

    rules_by_group = _group_rules(conv, split, view.groups)
    if rules_by_group is None:
        return
    all_ports = service_ports(root_service)
    ports = _http_ports(conv, split, all_ports, f"{root_ns}/{root_name}")
    sources = [split, *(group for group, _ in rules_by_group)]
    ok = True
    routes = []
    for port in ports:
        present = []
        for service, weight, path in view.backends:
            if port in backend_ports[service]:
                present.append((service, weight))
            else:
                conv.report(
                    gw.BackendLacksPort, split, (*path, "service"),
                    f"backend Service {service!r} has no port {port}: it gets none of port {port}'s traffic",
                )  # fmt: skip
        # weights are scaled per route: the shares SMI gives on this port are those of these backends
        weights, exact = route_weights([w for _, w in present])
        if not exact:
            before, after = _shares([w for _, w in present]), _shares(weights)
            moved = max(abs(a - b) for a, b in zip(before, after, strict=True)) * 100
            conv.report(
                gw.WeightsRounded, split, ("spec", "backends"),
                f"port {port}: weights cannot keep their exact ratios below {MAX_WEIGHT:,}; rounded to "
                f"{weights} "
                f"(a share moves by up to {float(moved):.2g} percentage points)", key=True,
            )  # fmt: skip
        refs = [
            {"name": service, "port": port, "weight": w}
            for (service, _), w in zip(present, weights, strict=True)
        ]
        if not refs:
            conv.report(
                gw.NoBackends, split, ("spec", "backends"),
                f"no backend has port {port}: requests to the root on it would fail (HTTP 500)", key=True,
            )  # fmt: skip
        if len(refs) > MAX_BACKENDS:
            conv.report(
                gw.LimitExceeded, split, ("spec", "backends"),
                f"{len(refs)} backends; Gateway API allows {MAX_BACKENDS} per rule", key=True,
            )  # fmt: skip
            ok = False
        rules = _rules(rules_by_group, view.groups is not None, refs, root_name, root_ns, split, port)
        ok = ok and _within_limits(conv, split, rules)
        parent: dict[str, Any] = {"group": "", "kind": "Service", "name": root_name}
        if root_ns != split.namespace:
            parent["namespace"] = root_ns
        if len(all_ports) > 1:
            parent["port"] = port
        base = split.name or "trafficsplit"
        name = base if len(all_ports) == 1 else f"{base}-{port}"
        routes.append(_route(split, name, parent, rules))
    if not ok:
        return
    for route in routes:
        conv.emit(route, *sources)
    conv.converted.add(id(split))


def _missing(role: str, namespace: str, name: str) -> str:
    return (
        f"{role} Service {namespace}/{name} is not in the input; its ports are needed (add its manifest, or "
        "give it with --services FILE)"
    )


def _group_rules(
    conv: Conversion, split: Resource, groups: tuple[tuple[str, NodePath], ...] | None
) -> list[tuple[Resource, list[dict[str, Any]]]] | None:
    """(HTTPRouteGroup, its HTTPRouteMatches) per group the split names; None if one cannot be converted."""
    if groups is None:
        return []
    out: list[tuple[Resource, list[dict[str, Any]]]] = []
    failed = False
    for name, path in dict.fromkeys(groups):
        group = conv.inputs.find("HTTPRouteGroup", split.namespace, name)
        if group is None:
            conv.report(
                gw.RouteSpecNotFound, split, (*path, "name"),
                f"HTTPRouteGroup {split.namespace}/{name} is not in the input: it selects no request here",
            )  # fmt: skip
            continue
        conv.use(group, split)
        if not conv.is_valid(group):
            failed = True
            continue
        views = http_matches(group)
        if not views:
            conv.report(
                gw.EmptyRouteGroup, group, (),
                f"{group.display} has no matches: it selects no request of {split.display}",
            )  # fmt: skip
            continue
        converted = []
        for view in views:
            found = gateway_matches(conv, view, beside_fallback=True)
            if found is None:
                failed = True
            else:
                converted.extend(found)
        out.append((group, converted))
    return None if failed else out


def _rules(
    by_group: list[tuple[Resource, list[dict[str, Any]]]],
    has_matches: bool,
    refs: list[dict[str, Any]],
    root_name: str,
    root_ns: str,
    split: Resource,
    port: int,
) -> list[dict[str, Any]]:
    if not has_matches:
        return [{"backendRefs": refs}]
    rules: list[dict[str, Any]] = [
        {"name": group.name, "matches": matches, "backendRefs": refs} for group, matches in by_group
    ]
    if any(m == {} for _, matches in by_group for m in matches):
        return rules  # a match without conditions selects every request: nothing is left for the root
    fallback: dict[str, Any] = {"name": root_name, "port": port}
    if root_ns != split.namespace:
        fallback["namespace"] = root_ns
    return [*rules, {"backendRefs": [fallback]}]


def _within_limits(conv: Conversion, split: Resource, rules: list[dict[str, Any]]) -> bool:
    counts = [len(rule.get("matches", [{}])) for rule in rules]
    problem = None
    if len(rules) > MAX_RULES:
        problem = f"{len(rules)} rules; Gateway API allows {MAX_RULES}"
    elif max(counts) > MAX_MATCHES_PER_RULE:
        problem = f"{max(counts)} matches in one rule; Gateway API allows {MAX_MATCHES_PER_RULE}"
    elif sum(counts) > MAX_MATCHES:
        problem = f"{sum(counts)} matches in all; Gateway API allows {MAX_MATCHES}"
    if problem:
        conv.report(
            gw.LimitExceeded, split, ("spec", "matches"), f"the HTTPRoute would have {problem}", key=True
        )
    return problem is None


def _route(split: Resource, name: str, parent: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if "namespace" in split.metadata:
        metadata["namespace"] = split.namespace
    labels = split.metadata.get("labels")
    if isinstance(labels, dict) and labels:
        metadata["labels"] = dict(labels)
    metadata["annotations"] = {GROUP_ANNOTATION: f"{split.api_version} {split.display}"}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": metadata,
        "spec": {"parentRefs": [parent], "rules": rules},
    }
