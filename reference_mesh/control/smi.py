"""Version-independent readings of SMI objects: every API version of a kind reduced to what the mesh enforces.

The store keeps objects in the version they were applied in, and several versions of one kind may coexist (a
v1alpha1 TrafficSplit next to a v1alpha4 one). The compiler reads them only through these functions, so each
version difference is handled in exactly one place:

=================== ========================================================================================
TrafficSplit         v1alpha1 weights are Quantities (exact: ``"500m"`` -> ``1/2``); v1alpha3+ ``matches``
TrafficTarget        v1alpha1: no ``spec``, ``specs`` instead of ``rules``; v1alpha1/2 ``destination.port``;
                     v1alpha3 UDPRoute rules; v1alpha4 (experimental) IdentityBinding subjects
HTTPRouteGroup       v1alpha1/2 top-level ``matches``; v1alpha3/4 ``spec.matches``; draft ``spec.routes``
TCPRoute/UDPRoute    before v1alpha4: every port; v1alpha4 ``spec.matches.ports``; draft ``spec.ports``;
                     an empty list or no spec means every port
=================== ========================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from reference_mesh.proxy.config import HttpMatch
from smi_conformance.service_names import split_root

__all__ = [
    "RouteRef",
    "SplitView",
    "SubjectRef",
    "TargetView",
    "http_matches",
    "l4_ports",
    "read_split",
    "read_target",
]


@dataclass(frozen=True)
class SubjectRef:
    kind: str  # "ServiceAccount" | "IdentityBinding"
    name: str
    namespace: str


@dataclass(frozen=True)
class RouteRef:
    kind: str  # "HTTPRouteGroup" | "TCPRoute" | "UDPRoute"
    name: str
    #: Names of matches of an HTTPRouteGroup; None = all of them.
    matches: tuple[str, ...] | None


@dataclass(frozen=True)
class TargetView:
    namespace: str
    name: str
    destination: SubjectRef
    #: v1alpha1/v1alpha2 ``destination.port``: the rule holds only on that destination port.
    port: int | None
    sources: tuple[SubjectRef, ...]
    rules: tuple[RouteRef, ...]


@dataclass(frozen=True)
class SplitView:
    namespace: str
    name: str
    root: str
    backends: tuple[tuple[str, Fraction], ...]
    #: Names of HTTPRouteGroups (in the split's namespace) selecting the requests to split; None = all
    #: requests.
    matches: tuple[str, ...] | None


def _ns(obj: Any) -> str:
    return obj.metadata.namespace or "default"


def read_split(obj: Any) -> SplitView:
    spec = obj.spec
    backends = []
    for b in spec.backends:
        weight = (
            b.weight.value if hasattr(b.weight, "value") else Fraction(b.weight)
        )  # Quantity (v1alpha1) or int
        backends.append((b.service, Fraction(weight)))
    matches = getattr(spec, "matches", None)
    names = None if matches is None else tuple(m.name for m in matches)
    return SplitView(_ns(obj), obj.metadata.name, split_root(spec.service, _ns(obj)), tuple(backends), names)


def _subject(s: Any, default_ns: str) -> SubjectRef:
    return SubjectRef(s.kind, s.name, s.namespace or default_ns)


def read_target(obj: Any) -> TargetView:
    ns = _ns(obj)
    holder = obj if obj.api_version.endswith("/v1alpha1") else obj.spec
    rules = holder.specs if obj.api_version.endswith("/v1alpha1") else holder.rules
    return TargetView(
        namespace=ns,
        name=obj.metadata.name,
        destination=_subject(holder.destination, ns),
        port=getattr(holder.destination, "port", None),
        sources=tuple(_subject(s, ns) for s in holder.sources or ()),
        rules=tuple(
            RouteRef(r.kind, r.name, None if r.matches is None else tuple(r.matches)) for r in rules or ()
        ),
    )


def http_matches(group: Any) -> list[HttpMatch]:
    """An HTTPRouteGroup's matches (any version) as proxy :class:`HttpMatch` es, in document order.

    Raises ``ValueError`` for a regex RE2 rejects (admission refuses such objects before they reach the
    store).
    """
    if hasattr(group, "matches"):  # v1alpha1 / v1alpha2
        raw = group.matches
    elif hasattr(group.spec, "routes"):  # v1alpha5 draft
        raw = group.spec.routes
    else:
        raw = group.spec.matches
    out = []
    for m in raw:
        headers = getattr(m, "headers", None)
        out.append(
            HttpMatch(
                name=m.name,
                methods=tuple(m.methods or ()),
                path_regex=m.path_regex,
                headers=dict(headers or {}),
            )
        )
    return out


def l4_ports(route: Any) -> tuple[int, ...]:
    """The ports a TCPRoute/UDPRoute (any version) covers; () means every port."""
    spec = getattr(route, "spec", None)
    if spec is None:
        return ()
    if hasattr(spec, "matches"):  # v1alpha4: spec.matches is required
        return tuple(spec.matches.ports)
    return tuple(getattr(spec, "ports", ()))  # draft: spec.ports (required); v1alpha3: an empty spec
