"""SMI documents of every released and superseded version, as one plain policy the oracle reasons about.

Each version's layout (access v1alpha1's top-level ``specs``, specs v1alpha1/v1alpha2's top-level
``matches``, TCPRoute ports only from v1alpha4, v1alpha1 Quantity weights...) is read through the typed
models (:func:`smi_conformance.models.load`) and flattened into the records below, so the oracle's
decisions never look at a version again. Experimental versions (access v1alpha4, the v1alpha5 draft) are
refused: their semantics are not settled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, cast

from smi_conformance import models
from smi_conformance.models import access, specs, split
from smi_conformance.models.meta import SMIResource
from smi_conformance.regex import RegexError, compile_re2

__all__ = [
    "Account",
    "Backend",
    "HTTPMatch",
    "OracleError",
    "PortRoute",
    "RouteGroup",
    "Rule",
    "SMIPolicy",
    "Split",
    "Target",
    "load_policy",
]

#: A ServiceAccount: (namespace, name).
Account = tuple[str, str]


class OracleError(ValueError):
    """Input the oracle cannot judge: an invalid or unsupported document, or a malformed request. The message
    says which document (or which part of the request) and why."""


@dataclass(frozen=True)
class HTTPMatch:
    """One named match of an HTTPRouteGroup. ``None`` fields were absent (match anything)."""

    name: str
    methods: tuple[str, ...] | None
    path_regex: str | None
    headers: tuple[tuple[str, str], ...] | None
    """(header name in lower case, regex), in document order."""


@dataclass(frozen=True)
class RouteGroup:
    namespace: str
    name: str
    matches: tuple[HTTPMatch, ...]


@dataclass(frozen=True)
class PortRoute:
    """A TCPRoute or UDPRoute."""

    kind: Literal["TCPRoute", "UDPRoute"]
    namespace: str
    name: str
    ports: frozenset[int] | None
    """The ports it matches; ``None``: every port (no spec, ``ports: []``, or a version without ports)."""
    match_name: str | None


@dataclass(frozen=True)
class Rule:
    kind: Literal["HTTPRouteGroup", "TCPRoute", "UDPRoute"]
    name: str
    matches: tuple[str, ...] | None
    """Names of the route's matches this rule covers; ``None``: all of them."""


@dataclass(frozen=True)
class Target:
    """A TrafficTarget, whatever its version."""

    namespace: str
    name: str
    destination: Account
    port: int | None
    """access v1alpha1/v1alpha2 ``destination.port``: the only port this target allows."""
    sources: tuple[Account, ...]
    rules: tuple[Rule, ...]

    @property
    def ref(self) -> str:
        return f"TrafficTarget {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Backend:
    service: str
    weight: Fraction


@dataclass(frozen=True)
class Split:
    """A TrafficSplit, whatever its version (v1alpha1 Quantities are exact Fractions)."""

    namespace: str
    name: str
    root: str
    backends: tuple[Backend, ...]
    matches: tuple[str, ...] | None
    """HTTPRouteGroups (in the split's namespace) selecting the requests to split; ``None``: absent (every
    request is split); ``()``: ``matches: []``, which the oracle leaves open (SPLIT_EMPTY_MATCHES)."""

    @property
    def ref(self) -> str:
        return f"TrafficSplit {self.namespace}/{self.name}"


@dataclass(frozen=True)
class SMIPolicy:
    """Every SMI object of a policy, by kind; routes keyed by (namespace, name)."""

    groups: Mapping[tuple[str, str], RouteGroup]
    tcp_routes: Mapping[tuple[str, str], PortRoute]
    udp_routes: Mapping[tuple[str, str], PortRoute]
    targets: tuple[Target, ...]
    splits: tuple[Split, ...]

    def port_route(self, kind: str, namespace: str, name: str) -> PortRoute | None:
        routes = self.tcp_routes if kind == "TCPRoute" else self.udp_routes
        return routes.get((namespace, name))


def load_policy(documents: Iterable[Mapping[str, Any]], default_namespace: str) -> SMIPolicy:
    """The policy the documents define; objects without ``metadata.namespace`` are in ``default_namespace``.

    Raises OracleError naming the document (its index and ``Kind namespace/name``) for a document that is
    not a valid SMI object of a released or superseded version, a regex RE2 rejects, or two documents that
    define the same object.
    """
    groups: dict[tuple[str, str], RouteGroup] = {}
    tcp: dict[tuple[str, str], PortRoute] = {}
    udp: dict[tuple[str, str], PortRoute] = {}
    targets: list[Target] = []
    splits: list[Split] = []
    seen: dict[tuple[str, str, str], int] = {}
    for index, doc in enumerate(documents):
        model = _load(index, doc)
        namespace = model.metadata.namespace or default_namespace
        name = model.metadata.name
        kind = model.KIND
        if name is None:
            raise OracleError(
                f"document {index} ({kind}): metadata.name is required (a generateName only becomes a name "
                "when the object is created)"
            )
        where = f"document {index} ({kind} {namespace}/{name})"
        first = seen.setdefault((kind, namespace, name), index)
        if first != index:
            raise OracleError(f"{where}: defines the same object as document {first}")
        if isinstance(model, _GROUP_MODELS):
            groups[(namespace, name)] = _group(where, model, namespace, name)
        elif isinstance(model, _TCP_MODELS):
            tcp[(namespace, name)] = _port_route("TCPRoute", model, namespace, name)
        elif isinstance(model, specs.UDPRouteV1alpha4):
            udp[(namespace, name)] = _port_route("UDPRoute", model, namespace, name)
        elif isinstance(model, _TARGET_MODELS):
            targets.append(_target(model, namespace, name))
        elif isinstance(model, _SPLIT_MODELS):
            splits.append(_split(model, namespace, name))
        else:
            raise OracleError(
                f"{where}: not a policy object the oracle judges (TrafficSplit, TrafficTarget, "
                "HTTPRouteGroup, TCPRoute, UDPRoute)"
            )
    return SMIPolicy(groups, tcp, udp, tuple(targets), tuple(splits))


_GROUP_MODELS = (
    specs.HTTPRouteGroupV1alpha1,
    specs.HTTPRouteGroupV1alpha2,
    specs.HTTPRouteGroupV1alpha3,
    specs.HTTPRouteGroupV1alpha4,
)
_TCP_MODELS = (specs.TCPRouteV1alpha1, specs.TCPRouteV1alpha2, specs.TCPRouteV1alpha3, specs.TCPRouteV1alpha4)
_TARGET_MODELS = (access.TrafficTargetV1alpha1, access.TrafficTargetV1alpha2, access.TrafficTargetV1alpha3)
_SPLIT_MODELS = (
    split.TrafficSplitV1alpha1,
    split.TrafficSplitV1alpha2,
    split.TrafficSplitV1alpha3,
    split.TrafficSplitV1alpha4,
)


def _load(index: int, doc: Mapping[str, Any]) -> SMIResource:
    if not isinstance(doc, Mapping):
        raise OracleError(f"document {index}: expected a mapping (an SMI object), got {type(doc).__name__}")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    label = f"document {index} ({kind!s} {api_version!s})"
    known = isinstance(api_version, str) and isinstance(kind, str)
    info = models.lookup(cast(str, api_version), cast(str, kind)) if known else None
    if info is None:
        raise OracleError(f"{label}: not a known SMI kind and version")
    if info.status == "experimental":
        raise OracleError(
            f"{label}: {info.api_version} is an unreleased, experimental version; the oracle judges released "
            f"and superseded versions only (convert it with `smi convert --to {info.latest}`)"
        )
    try:
        model = models.load(doc)
    except models.SMIValidationError as exc:
        raise OracleError(f"{label}: {exc}") from None
    if not isinstance(model, SMIResource):  # TrafficMetrics: an API response, not a stored object
        raise OracleError(f"{label}: not a policy object the oracle judges")
    return model


def _group(where: str, model: Any, namespace: str, name: str) -> RouteGroup:
    matches = model.matches if hasattr(model, "matches") else model.spec.matches
    prefix = "matches" if hasattr(model, "matches") else "spec.matches"
    out = []
    for i, match in enumerate(matches):
        if match.path_regex is not None:
            _check_regex(f"{where}: {prefix}[{i}].pathRegex", match.path_regex)
        headers = getattr(match, "headers", None)
        if headers is not None:
            for header, regex in headers.items():
                _check_regex(f"{where}: {prefix}[{i}].headers.{header}", regex)
        out.append(
            HTTPMatch(
                match.name,
                tuple(match.methods) if match.methods is not None else None,
                match.path_regex,
                tuple((h.lower(), r) for h, r in headers.items()) if headers is not None else None,
            )
        )
    return RouteGroup(namespace, name, tuple(out))


def _check_regex(where: str, pattern: str) -> None:
    try:
        compile_re2(pattern)
    except RegexError as exc:
        raise OracleError(f"{where}: {exc}") from None


def _port_route(kind: Literal["TCPRoute", "UDPRoute"], model: Any, namespace: str, name: str) -> PortRoute:
    spec = getattr(model, "spec", None)
    match = getattr(spec, "matches", None) if spec is not None else None
    if match is None:  # v1alpha1-v1alpha3 (no ports), or v1alpha4 without spec: every port
        return PortRoute(kind, namespace, name, None, None)
    return PortRoute(kind, namespace, name, frozenset(match.ports) or None, match.name)


def _target(model: Any, namespace: str, name: str) -> Target:
    v1alpha1 = isinstance(model, access.TrafficTargetV1alpha1)
    body = model if v1alpha1 else model.spec
    rules = body.specs if v1alpha1 else body.rules
    destination = body.destination
    return Target(
        namespace,
        name,
        (destination.namespace or namespace, destination.name),
        getattr(destination, "port", None),
        tuple((s.namespace or namespace, s.name) for s in body.sources or ()),
        tuple(Rule(r.kind, r.name, tuple(r.matches) if r.matches is not None else None) for r in rules or ()),
    )


def _split(model: Any, namespace: str, name: str) -> Split:
    spec = model.spec
    backends = tuple(
        Backend(b.service, b.weight.value if isinstance(b.weight, models.Quantity) else Fraction(b.weight))
        for b in spec.backends
    )
    matches = getattr(spec, "matches", None)
    return Split(
        namespace,
        name,
        spec.service,
        backends,
        tuple(m.name for m in matches) if matches is not None else None,
    )
