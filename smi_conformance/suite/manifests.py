"""Builders for the SMI objects conformance tests apply, in the newest released API versions.

Tests write their objects with these (short, readable, always valid); the runner converts them to the versions
the mesh serves (:mod:`.versions`). Every object carries the label :data:`TEST_LABEL` so a cluster can tell
the suite's objects apart, and lives in a namespace of the standard topology.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from smi_conformance.suite.topology import Topology

__all__ = [
    "ACCESS",
    "SPECS",
    "SPLIT",
    "TEST_LABEL",
    "allow",
    "http_match",
    "http_routes",
    "split",
    "tcp_route",
    "traffic_target",
    "udp_route",
]

SPLIT, ACCESS, SPECS = (
    "split.smi-spec.io/v1alpha4",
    "access.smi-spec.io/v1alpha3",
    "specs.smi-spec.io/v1alpha4",
)
TEST_LABEL = "conformance.smi-conformance.io/suite"


def _meta(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {TEST_LABEL: "true"}}


def http_match(
    name: str,
    *,
    path_regex: str | None = None,
    methods: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One HTTPRouteGroup match; no criteria matches every request."""
    match: dict[str, Any] = {"name": name}
    if path_regex is not None:
        match["pathRegex"] = path_regex
    if methods is not None:
        match["methods"] = list(methods)
    if headers is not None:
        match["headers"] = dict(headers)
    return match


def http_routes(
    t: Topology, name: str, matches: Sequence[Mapping[str, Any]], *, namespace: str | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": SPECS,
        "kind": "HTTPRouteGroup",
        "metadata": _meta(name, namespace or t.main),
        "spec": {"matches": [dict(m) for m in matches]},
    }


def tcp_route(
    t: Topology, name: str, ports: Iterable[int] | None = None, *, namespace: str | None = None
) -> dict[str, Any]:
    """A TCPRoute; no ``ports`` means every port (specs v1alpha4: an empty list)."""
    spec: dict[str, Any] = {"matches": {"ports": list(ports or ())}}
    return {
        "apiVersion": SPECS,
        "kind": "TCPRoute",
        "metadata": _meta(name, namespace or t.main),
        "spec": spec,
    }


def udp_route(
    t: Topology, name: str, ports: Iterable[int] | None = None, *, namespace: str | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"matches": {"ports": list(ports or ())}}
    return {
        "apiVersion": SPECS,
        "kind": "UDPRoute",
        "metadata": _meta(name, namespace or t.main),
        "spec": spec,
    }


def traffic_target(
    t: Topology,
    name: str,
    *,
    destination: str,
    sources: Sequence[str | tuple[str, str]],
    rules: Sequence[Mapping[str, Any]],
    namespace: str | None = None,
    destination_namespace: str | None = None,
) -> dict[str, Any]:
    """A TrafficTarget. ``sources`` are service account names in the target's namespace or ``(namespace,
    name)`` pairs; ``rules`` are ``{"kind": "HTTPRouteGroup", "name": ..., "matches": [...]}`` and the
    like."""
    ns = namespace or t.main
    subjects = []
    for s in sources:
        src_ns, src = (ns, s) if isinstance(s, str) else s
        subjects.append({"kind": "ServiceAccount", "name": src, "namespace": src_ns})
    return {
        "apiVersion": ACCESS,
        "kind": "TrafficTarget",
        "metadata": _meta(name, ns),
        "spec": {
            "destination": {
                "kind": "ServiceAccount",
                "name": destination,
                "namespace": destination_namespace or ns,
            },
            "sources": subjects,
            "rules": [dict(r) for r in rules],
        },
    }


def allow(
    t: Topology,
    name: str,
    *,
    sources: Sequence[str | tuple[str, str]],
    destination: str,
    namespace: str | None = None,
    tcp: bool = False,
    udp: bool = False,
) -> list[dict[str, Any]]:
    """Everything a test needs to let ``sources`` call ``destination`` (a service account) over HTTP (and TCP,
    UDP when asked): a route group matching every request, routes for every port, one TrafficTarget."""
    ns = namespace or t.main
    objs = [
        http_routes(
            t, f"{name}-all", [http_match("everything", path_regex="/.*", methods=["*"])], namespace=ns
        )
    ]
    rules: list[dict[str, Any]] = [
        {"kind": "HTTPRouteGroup", "name": f"{name}-all", "matches": ["everything"]}
    ]
    if tcp:
        objs.append(tcp_route(t, f"{name}-tcp", namespace=ns))
        rules.append({"kind": "TCPRoute", "name": f"{name}-tcp"})
    if udp:
        objs.append(udp_route(t, f"{name}-udp", namespace=ns))
        rules.append({"kind": "UDPRoute", "name": f"{name}-udp"})
    objs.append(traffic_target(t, name, destination=destination, sources=sources, rules=rules, namespace=ns))
    return objs


def split(
    t: Topology,
    name: str,
    root: str,
    backends: Mapping[str, int | Fraction],
    *,
    matches: Sequence[str] = (),
    namespace: str | None = None,
) -> dict[str, Any]:
    """A TrafficSplit of ``root`` over ``backends`` (Service name -> weight); ``matches`` names
    HTTPRouteGroups (v1alpha3+). Weights are relative, so fractions are scaled to the whole numbers v1alpha2+
    require with their ratio kept (2/3 and 1/3 become 2 and 1)."""
    scale = math.lcm(*(Fraction(w).denominator for w in backends.values()))
    spec: dict[str, Any] = {
        "service": root,
        "backends": [{"service": b, "weight": int(Fraction(w) * scale)} for b, w in backends.items()],
    }
    if matches:
        spec["matches"] = [{"kind": "HTTPRouteGroup", "name": m} for m in matches]
    return {
        "apiVersion": SPLIT,
        "kind": "TrafficSplit",
        "metadata": _meta(name, namespace or t.main),
        "spec": spec,
    }
