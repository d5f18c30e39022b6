"""The suite's oracle: from SMI objects alone, where a correct mesh sends a request and whether it lets it in.

Generated conformance cases compare a mesh with this module. It is written from the spec and SPEC-NOTES,
independently of the reference mesh, and it is pure: a topology and documents in, answers out.

>>> from smi_conformance.suite.topology import standard_topology
>>> topology = standard_topology("shop")
>>> oracle = Oracle(topology, [
...     {"apiVersion": "split.smi-spec.io/v1alpha4", "kind": "TrafficSplit",
...      "metadata": {"name": "canary", "namespace": "shop"},
...      "spec": {"service": "web", "backends": [{"service": "web-v1", "weight": 3},
...                                              {"service": "web-v2", "weight": 1}]}},
... ])
>>> answer = oracle.answer(Request.http(("shop", "client"), ("shop", "web"), path="/"))
>>> [(d.service, str(d.share), d.allowed) for d in answer.destinations]
[('web-v1', '3/4', False), ('web-v2', '1/4', False)]

What it holds a mesh to (SPEC-NOTES is authoritative; every point where the spec can be read more than one
way is a :mod:`~smi_conformance.suite.readings` question, and the oracle answers ``None`` wherever the
readings disagree for the request at hand):

* Access is denied by default; TrafficTargets only allow, and are enforced at the destination. A
  TrafficTarget governs only a destination ServiceAccount in its own namespace (issue 11: one whose
  destination is elsewhere grants nothing); its sources may be in any namespace. A source or destination
  without ``namespace`` means the TrafficTarget's own namespace: the spec never says, the models document
  it so, and it is the only reading that keeps a TrafficTarget's meaning independent of who applies it.
* A request is allowed when some TrafficTarget for the destination's ServiceAccount lists the source's
  ServiceAccount, allows the port (access v1alpha1/v1alpha2 ``destination.port``) and has a rule that
  matches: empty sources or rules allow nothing; a missing route or match name allows nothing.
* A rule speaks only for its own protocol (the specs doc: each route kind "is meant to match 1:1 with a
  specific protocol"): an HTTPRouteGroup allows no TCP or UDP flow and a TCPRoute on its own allows no HTTP
  request. The access v1alpha3 example lists exactly the HTTP traffic its targets allow although they also
  carry a TCPRoute for the port, so a TCPRoute is no blanket allow for HTTP; whether it *restricts* the
  target's HTTP rules to its ports is left open (``tcp-rules-for-http``).
* HTTP matches: ``pathRegex`` against the path without its query; methods (``*`` any); headers by name,
  case-insensitively, all of a match's filters (AND), any of the matches (OR); a match without
  pathRegex, methods and headers matches everything. Regexes are RE2. Start-anchored versus full-match
  paths and full-match versus search header regexes are open questions.
* A TrafficSplit applies (client side) to requests addressed to its root Service: ``spec.service`` as a
  name, ``name.namespace``, ``name.namespace.svc`` or the FQDN, in the TrafficSplit's namespace. With HTTP
  ``matches`` only the requests some match of the named HTTPRouteGroups selects are split; the others go
  to the root Service as plain Kubernetes sends them (to the workloads it selects). Weights are relative
  and exact (v1alpha1 Quantities as Fractions); zero-weight backends get nothing; a backend without a port
  numbered like the request's root Service port is left out (the spec's Ports section). A backend equal to
  the root is the root Service as plain Kubernetes (the spec: splits are not hierarchical, nor is a backend
  that is itself a root split again). Two TrafficSplits for one root, a backend Service that does not exist,
  no weight left to split by, or HTTP matches met by TCP/UDP traffic leave the routing open.
* Access is judged at whichever destination the routing chose, for that destination's ServiceAccount.

Requests must be in the normal form a hardened proxy checks (no dot segments, no percent-encoded
unreserved characters or slashes: issue 11); the oracle refuses others rather than guess a normalisation.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, cast

from smi_conformance.regex import compile_re2
from smi_conformance.suite.policy import (
    Account,
    HTTPMatch,
    OracleError,
    Rule,
    SMIPolicy,
    Split,
    Target,
    load_policy,
)
from smi_conformance.suite.readings import (
    ABSENT_HEADER,
    CROSS_NAMESPACE_ROOT,
    DUPLICATE_BACKEND,
    EMPTY_METHODS,
    EMPTY_RULE_MATCHES,
    HEADER_REGEX,
    L4_MATCH_NAMES,
    PATH_ANCHORING,
    SPLIT_EMPTY_MATCHES,
    SPLIT_MATCHES_FOR_L4,
    SPLIT_MISSING_BACKEND,
    SPLIT_NO_WEIGHT,
    SPLIT_UNRESOLVED_GROUP,
    TCP_RULES_FOR_HTTP,
    Chooser,
    Leaf,
    describe,
    duplicate_root,
    explore,
)
from smi_conformance.suite.topology import HTTP_PORT, TCP_PORT, UDP_PORT, Protocol, ServiceSpec, Topology

__all__ = ["Answer", "Destination", "Oracle", "OracleError", "Request"]

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token: methods and header names
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PROTOCOLS = ("http", "tcp", "udp")

#: Where requests go under one reading: ((Service namespace, name), share) in order.
Routing = tuple[tuple[tuple[str, str], Fraction], ...]


@dataclass(frozen=True)
class Request:
    """What a client workload sends: to a Service (by namespace and name) on one of its ports; for HTTP also
    the method, the path (with any query) and the headers (each name once)."""

    source: tuple[str, str]
    """(namespace, name) of the client workload; its ServiceAccount comes from the topology."""
    service: tuple[str, str]
    """(namespace, name) of the Service it addresses."""
    protocol: Protocol
    port: int
    method: str | None = None
    path: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", tuple(self.source))
        object.__setattr__(self, "service", tuple(self.service))
        object.__setattr__(self, "headers", tuple(tuple(h) for h in self.headers))
        for label, pair in (("source", self.source), ("service", self.service)):
            if len(pair) != 2 or not all(isinstance(p, str) and p for p in pair):
                raise OracleError(f"request {label}: must be (namespace, name), got {pair!r}")
        if self.protocol not in _PROTOCOLS:
            raise OracleError(f"request protocol: must be one of http, tcp, udp, got {self.protocol!r}")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise OracleError(f"request port: must be a port number from 1 to 65535, got {self.port!r}")
        if self.protocol != "http":
            if self.method is not None or self.path is not None or self.headers:
                raise OracleError(f"request: a {self.protocol} flow has no method, path or headers")
            return
        if self.method is None or not _TOKEN.match(self.method):
            raise OracleError(f"request method: must be an HTTP method token, got {self.method!r}")
        if self.path is None:
            raise OracleError("request path: an HTTP request needs a path")
        _check_path(self.path)
        seen: set[str] = set()
        for name, value in self.headers:
            if not isinstance(name, str) or not _TOKEN.match(name):
                raise OracleError(f"request header name: must be an HTTP token, got {name!r}")
            if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
                raise OracleError(f"request header {name}: the value must be a string without CR, LF or NUL")
            if name.lower() in seen:
                raise OracleError(
                    f"request header {name}: given twice; the oracle takes each header once (how meshes "
                    "combine repeated headers for a filter differs)"
                )
            seen.add(name.lower())

    @classmethod
    def http(
        cls,
        source: tuple[str, str],
        service: tuple[str, str],
        *,
        method: str = "GET",
        path: str = "/",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        port: int = HTTP_PORT,
    ) -> Request:
        pairs = tuple(headers.items()) if isinstance(headers, Mapping) else tuple(headers)
        return cls(source, service, "http", port, method, path, pairs)

    @classmethod
    def tcp(cls, source: tuple[str, str], service: tuple[str, str], *, port: int = TCP_PORT) -> Request:
        return cls(source, service, "tcp", port)

    @classmethod
    def udp(cls, source: tuple[str, str], service: tuple[str, str], *, port: int = UDP_PORT) -> Request:
        return cls(source, service, "udp", port)

    @property
    def path_only(self) -> str:
        """The path without its query: what pathRegex is matched against."""
        return (self.path or "").partition("?")[0]

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), None when the request does not carry it."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": list(self.source),
            "service": list(self.service),
            "protocol": self.protocol,
            "port": self.port,
        }
        if self.protocol == "http":
            out.update(method=self.method, path=self.path, headers=[list(h) for h in self.headers])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Request:
        try:
            return cls(
                tuple(data["source"]),
                tuple(data["service"]),
                data["protocol"],
                data["port"],
                data.get("method"),
                data.get("path"),
                tuple(tuple(h) for h in data.get("headers", ())),
            )
        except (KeyError, TypeError) as exc:
            raise OracleError(f"request: not a request dict ({exc!r})") from None


def _check_path(path: str) -> None:
    if not isinstance(path, str) or not path.startswith("/"):
        raise OracleError(f"request path: must start with '/', got {path!r}")
    if any(not 0x21 <= ord(c) <= 0x7E for c in path) or "#" in path:
        raise OracleError(
            f"request path {path!r}: printable ASCII without spaces or '#' only (percent-encode the rest)"
        )
    only = path.partition("?")[0]
    if "\\" in only:
        raise OracleError(f"request path {path!r}: a backslash is normalised differently by each proxy")
    if any(segment in (".", "..") for segment in only.split("/")):
        raise OracleError(f"request path {path!r}: has dot segments; give the normalised path")
    for at in (i for i, c in enumerate(only) if c == "%"):
        digits = only[at + 1 : at + 3]
        if len(digits) != 2 or any(d not in "0123456789ABCDEF" for d in digits):
            raise OracleError(
                f"request path {path!r}: '%' must start an upper-case percent-encoding such as %2A"
            )
        char = chr(int(digits, 16))
        if char in _UNRESERVED or char in "/\\":
            raise OracleError(
                f"request path {path!r}: %{digits} encodes {char!r}, which a hardened proxy decodes or "
                "refuses before matching; give the path decoded"
            )


@dataclass(frozen=True)
class Destination:
    """A Service the request may reach, its share, who answers there and whether access is allowed."""

    service: str
    namespace: str
    share: Fraction | None
    """Its share of the requests (weights over their sum); None when the spec leaves the routing open."""
    workloads: tuple[str, ...]
    """The workloads (Deployments) the Service selects: who answers."""
    service_account: str | None
    """Their ServiceAccount, in ``namespace``; None if there is none or several."""
    allowed: bool | None
    """True: a correct mesh lets the request through to a workload; False: it must not (or nothing can
    answer); None: the spec leaves it open (the comparison skips it)."""
    why: str


@dataclass(frozen=True)
class Answer:
    """Where a request may go, with what share, and whether each destination lets it in, explained."""

    request: Request
    destinations: tuple[Destination, ...]
    routing: str
    """Which TrafficSplit and match applied, or why none did."""

    @property
    def shares_known(self) -> bool:
        """False when the spec leaves open where the request goes (every share is then None)."""
        return all(d.share is not None for d in self.destinations)

    @property
    def explanation(self) -> str:
        lines = [f"routing: {self.routing}"]
        lines += [f"{d.namespace}/{d.service}: {d.why}" for d in self.destinations]
        return "\n".join(lines)

    def destination(self, service: str, namespace: str | None = None) -> Destination:
        """The destination for Service ``service`` (in ``namespace``, when given); KeyError if absent."""
        for d in self.destinations:
            if d.service == service and namespace in (None, d.namespace):
                return d
        raise KeyError(f"{service} is not a destination of this request")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: shares as "numerator/denominator" strings (exact), None as null."""
        return {
            "request": self.request.to_dict(),
            "routing": self.routing,
            "destinations": [
                {
                    "service": d.service,
                    "namespace": d.namespace,
                    "share": None if d.share is None else f"{d.share.numerator}/{d.share.denominator}",
                    "workloads": list(d.workloads),
                    "serviceAccount": d.service_account,
                    "allowed": d.allowed,
                    "why": d.why,
                }
                for d in self.destinations
            ],
            "explanation": self.explanation,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        return cls(
            Request.from_dict(data["request"]),
            tuple(
                Destination(
                    d["service"],
                    d["namespace"],
                    None if d["share"] is None else Fraction(d["share"]),
                    tuple(d["workloads"]),
                    d["serviceAccount"],
                    d["allowed"],
                    d["why"],
                )
                for d in data["destinations"]
            ),
            data["routing"],
        )


class Oracle:
    """What a correct mesh does with requests under one policy. Build it once per policy (it loads and
    checks the documents), then ask :meth:`answer` for any number of requests."""

    def __init__(
        self,
        topology: Topology,
        documents: Iterable[Mapping[str, Any]],
        *,
        default_namespace: str | None = None,
        cluster_domain: str = "cluster.local",
    ) -> None:
        """``documents``: SMI objects (dicts) of any released or superseded version; those without
        ``metadata.namespace`` belong to ``default_namespace`` (the topology's main namespace). Raises
        OracleError naming the document for anything it cannot judge."""
        self.topology = topology
        self.policy: SMIPolicy = load_policy(documents, default_namespace or topology.main)
        self._cluster_domain = cluster_domain
        self._services = {(s.namespace, s.name): s for s in topology.services}
        self._workloads = {(w.namespace, w.name): w for w in topology.workloads}
        self._roots = {s: self._root(s) for s in self.policy.splits}

    def answer(self, request: Request) -> Answer:
        """Where ``request`` goes and whether each destination must let it in. OracleError for a request the
        topology cannot carry (unknown workload or Service, a port the Service lacks or serves with another
        protocol)."""
        source = self._workloads.get(request.source)
        if source is None:
            raise OracleError(f"request source: no workload {'/'.join(request.source)} in the topology")
        service = self._services.get(request.service)
        if service is None:
            raise OracleError(f"request service: no Service {'/'.join(request.service)} in the topology")
        numbered = [p for p in service.ports if p.port == request.port]
        if not numbered:
            raise OracleError(f"request port: Service {'/'.join(request.service)} has no port {request.port}")
        if all(p.protocol != request.protocol for p in numbered):
            raise OracleError(
                f"request protocol: port {request.port} of {'/'.join(request.service)} serves "
                f"{' and '.join(p.protocol for p in numbered)}, not {request.protocol}"
            )
        routings, routing_why = self._routing(request, service)
        account = (source.namespace, source.service_account)
        verdicts: dict[Account, tuple[bool | None, str]] = {}
        destinations = []
        for key in routings:
            workloads, service_account, allowed, why = self._access(account, key, request, verdicts)
            share = routings[key]
            destinations.append(Destination(key[1], key[0], share, workloads, service_account, allowed, why))
        return Answer(request, tuple(destinations), routing_why)

    # -- routing -------------------------------------------------------------------------------------

    def _routing(
        self, request: Request, service: ServiceSpec
    ) -> tuple[dict[tuple[str, str], Fraction | None], str]:
        leaves = explore(lambda choose: self._route(request, service, choose))
        outcomes: list[Leaf[tuple[Routing, str]]] = []
        for leaf in leaves:
            if all(_traffic(leaf.value[0]) != _traffic(o.value[0]) for o in outcomes):
                outcomes.append(leaf)
        if len(outcomes) == 1:
            routing, why = outcomes[0].value
            return {key: share for key, share in routing}, why
        shares: dict[tuple[str, str], Fraction | None] = {}
        lines = []
        for outcome in outcomes:
            for key, _ in outcome.value[0]:
                shares[key] = None
            others = [o for o in outcomes if o is not outcome]
            lines.append(f"[{describe(outcome, against=others)}] {outcome.value[1]}")
        return shares, "the spec leaves open where this request goes: " + " | ".join(lines)

    def _route(self, request: Request, service: ServiceSpec, choose: Chooser) -> tuple[Routing, str]:
        key = (service.namespace, service.name)
        plain: Routing = ((key, Fraction(1)),)
        own = [s for s in self.policy.splits if self._roots[s] == key and s.namespace == key[0]]
        cross = [s for s in self.policy.splits if self._roots[s] == key and s.namespace != key[0]]
        candidates = list(own)
        if cross and choose(CROSS_NAMESPACE_ROOT) == "applies":
            candidates += cross
        if not candidates:
            why = f"no TrafficSplit has root Service {key[0]}/{key[1]}: the workloads it selects receive it"
            if cross:
                why += f" ({_refs(cross)} name it from another namespace and do not apply)"
            return plain, why
        if len(candidates) > 1:
            pick = choose(duplicate_root([f"{s.namespace}/{s.name}" for s in candidates]))
            if pick == "none":
                return plain, f"{_refs(candidates)} share one root and none applies: the root Service gets it"
            candidates = [s for s in candidates if f"{s.namespace}/{s.name}" == pick]
        return self._apply(candidates[0], request, plain, choose)

    def _apply(self, split: Split, request: Request, plain: Routing, choose: Chooser) -> tuple[Routing, str]:
        to_root = "so the root Service's own workloads receive it (plain Kubernetes)"
        selected = "it splits every request"
        if split.matches is not None and request.protocol != "http":
            if choose(SPLIT_MATCHES_FOR_L4) == "root":
                return plain, f"{split.ref} selects HTTP requests only, this is {request.protocol}, {to_root}"
            selected = f"its HTTP matches do not apply to {request.protocol}"
        elif split.matches is not None and not split.matches:
            if choose(SPLIT_EMPTY_MATCHES) == "none":
                return plain, f"{split.ref} has `matches: []`, which selects nothing, {to_root}"
        elif split.matches is not None:
            selection = self._selects(split, request, choose)
            if selection is None:
                return plain, f"{split.ref} names a missing HTTPRouteGroup and is not applied, {to_root}"
            matched, detail = selection
            if not matched:
                return (
                    plain,
                    f"{split.ref} splits only requests its HTTPRouteGroups select; {detail}, {to_root}",
                )
            selected = detail
        weights = self._weights(split, choose)
        entries: list[tuple[tuple[str, str], Fraction]] = []
        notes = []
        for name, weight in weights.items():
            backend = self._services.get((split.namespace, name))
            if backend is None:
                if choose(SPLIT_MISSING_BACKEND) == "excluded":
                    notes.append(f"backend {name} does not exist and is left out")
                    continue
                notes.append(f"backend {name} does not exist, so its share fails")
            elif all(p.port != request.port for p in backend.ports):
                notes.append(f"backend {name} has no port {request.port} and is left out (spec: Ports)")
                continue
            entries.append(((split.namespace, name), weight))
        total = sum((w for _, w in entries), Fraction(0))
        extra = f" ({'; '.join(notes)})" if notes else ""
        if total == 0:
            if choose(SPLIT_NO_WEIGHT) == "root":
                return plain, f"{split.ref} has no weighted backend for port {request.port}{extra}, {to_root}"
            return (
                tuple((key, Fraction(0)) for key, _ in entries),
                f"{split.ref} has no weighted backend for port {request.port}{extra}: the requests fail",
            )
        shares = tuple((key, weight / total) for key, weight in entries)
        parts = ", ".join(f"{key[1]} {share}" for key, share in shares)
        return shares, f"{split.ref} applies ({selected}): {parts}{extra}"

    def _selects(self, split: Split, request: Request, choose: Chooser) -> tuple[bool, str] | None:
        """Whether the split's HTTP matches select the request, and which match did or why none did; None
        when a missing group makes the split not apply at all."""
        groups = [self.policy.groups.get((split.namespace, name)) for name in split.matches or ()]
        missing = [name for name, group in zip(split.matches or (), groups, strict=True) if group is None]
        if missing:
            mode = choose(SPLIT_UNRESOLVED_GROUP)
            if mode == "split-ignored":
                return None
            if mode == "matches-ignored":
                return True, f"its `matches` name missing HTTPRouteGroups ({', '.join(missing)}), ignored"
        misses = []
        for group in groups:
            if group is None:
                continue
            for match in group.matches:
                ok, why = self._http_match(match, request, choose)
                if ok:
                    return True, f"HTTPRouteGroup {group.namespace}/{group.name} match {match.name!r} fits"
                misses.append(f"{group.name}/{match.name}: {why}")
        return False, "it matches none of them (" + ("; ".join(misses) or "they have no matches") + ")"

    def _weights(self, split: Split, choose: Chooser) -> dict[str, Fraction]:
        listed: dict[str, list[Fraction]] = {}
        for backend in split.backends:
            listed.setdefault(backend.service, []).append(backend.weight)
        if all(len(ws) == 1 for ws in listed.values()):
            return {name: ws[0] for name, ws in listed.items()}
        mode = choose(DUPLICATE_BACKEND)
        if mode == "summed":
            return {name: sum(ws, Fraction(0)) for name, ws in listed.items()}
        return {name: ws[0] if mode == "first" else ws[-1] for name, ws in listed.items()}

    def _root(self, split: Split) -> tuple[str, str] | None:
        """The Service ``spec.service`` names: ``name``, ``name.ns``, ``name.ns.svc`` or the FQDN."""
        name, *rest = split.root.split(".")
        if not rest:
            return (split.namespace, name)
        namespace, *suffix = rest
        if not suffix or (suffix[0] == "svc" and ".".join(suffix[1:]) in ("", self._cluster_domain)):
            return (namespace, name)
        return None

    # -- access --------------------------------------------------------------------------------------

    def _access(
        self,
        source: Account,
        key: tuple[str, str],
        request: Request,
        verdicts: dict[Account, tuple[bool | None, str]],
    ) -> tuple[tuple[str, ...], str | None, bool | None, str]:
        """Who answers at Service ``key`` and whether they must let the request in (``verdicts`` caches the
        decision per destination ServiceAccount for this request)."""
        service = self._services.get(key)
        if service is None:
            return (), None, False, f"Service {key[0]}/{key[1]} does not exist: nothing can answer"
        workloads = self.topology.selected(service)
        if not workloads:
            return (), None, False, f"Service {key[0]}/{key[1]} selects no workload: nothing can answer"
        names = tuple(w.name for w in workloads)
        accounts = sorted({(w.namespace, w.service_account) for w in workloads})
        for account in accounts:
            if account not in verdicts:
                verdicts[account] = self._verdict(source, account, request)
        if len(accounts) == 1:
            return (names, accounts[0][1], *verdicts[accounts[0]])
        values = {verdicts[a][0] for a in accounts}
        allowed = values.pop() if len(values) == 1 else None
        why = "; ".join(f"as ServiceAccount {a[1]}: {verdicts[a][1]}" for a in accounts)
        return names, None, allowed, why

    def _verdict(self, source: Account, destination: Account, request: Request) -> tuple[bool | None, str]:
        leaves = explore(lambda choose: self._authorise(source, destination, request, choose))
        values = {leaf.value[0] for leaf in leaves}
        if len(values) == 1:
            return leaves[0].value
        parts = []
        for value in (True, False):
            mine = [leaf for leaf in leaves if leaf.value[0] is value]
            others = [leaf for leaf in leaves if leaf.value[0] is not value]
            readings = " or ".join(dict.fromkeys(f"[{describe(leaf, against=others)}]" for leaf in mine))
            parts.append(f"{'allowed' if value else 'denied'} {readings}: {mine[0].value[1]}")
        return None, "the spec leaves this open: " + " | ".join(parts)

    def _authorise(
        self, source: Account, destination: Account, request: Request, choose: Chooser
    ) -> tuple[bool, str]:
        """One reading's decision: does some TrafficTarget let ``source`` reach ``destination`` so?"""
        named = [t for t in self.policy.targets if t.destination == destination]
        honoured = [t for t in named if t.namespace == destination[0]]
        who = f"ServiceAccount {source[0]}/{source[1]}"
        if not honoured:
            why = f"denied: no TrafficTarget has destination ServiceAccount {destination[0]}/{destination[1]}"
            if named:
                why += (
                    f" ({_refs(named)} name it from another namespace, and a TrafficTarget only governs "
                    "destinations in its own namespace)"
                )
            return False, why
        reasons = []
        for target in honoured:
            if source not in target.sources:
                reasons.append(
                    f"{target.ref} " + (f"does not list {who}" if target.sources else "has no sources")
                )
                continue
            if target.port is not None and target.port != request.port:
                reasons.append(f"{target.ref} allows port {target.port} only")
                continue
            ok, why = self._rules(target, request, choose)
            if ok:
                return True, f"allowed by {target.ref} for {who}: {why}"
            reasons.append(f"{target.ref}: {why}")
        return False, "denied: " + "; ".join(reasons)

    def _rules(self, target: Target, request: Request, choose: Chooser) -> tuple[bool, str]:
        if not target.rules:
            return False, "it has no rules"
        if request.protocol != "http":
            kind = "TCPRoute" if request.protocol == "tcp" else "UDPRoute"
            misses = []
            for rule in (r for r in target.rules if r.kind == kind):
                ok, why = self._port_rule(target, rule, request.port, choose)
                if ok:
                    return True, why
                misses.append(why)
            if not misses:
                return (
                    False,
                    f"it has no {kind} rule; its other rules do not allow {request.protocol} traffic",
                )
            return False, "; ".join(misses)
        misses = []
        allowed_by = None
        for rule in (r for r in target.rules if r.kind == "HTTPRouteGroup"):
            ok, why = self._http_rule(target, rule, request, choose)
            if ok:
                allowed_by = why
                break
            misses.append(why)
        if allowed_by is None:
            if not misses:
                return (
                    False,
                    "it has no HTTPRouteGroup rule; TCPRoute and UDPRoute rules allow no HTTP request",
                )
            return False, "; ".join(misses)
        tcp_rules = [r for r in target.rules if r.kind == "TCPRoute"]
        if (
            tcp_rules
            and not any(self._port_rule(target, r, request.port, choose)[0] for r in tcp_rules)
            and choose(TCP_RULES_FOR_HTTP) == "restrict"
        ):
            return False, f"{allowed_by}, but its TCPRoute rules do not cover port {request.port}"
        return True, allowed_by

    def _http_rule(self, target: Target, rule: Rule, request: Request, choose: Chooser) -> tuple[bool, str]:
        label = f"rule HTTPRouteGroup {target.namespace}/{rule.name}"
        group = self.policy.groups.get((target.namespace, rule.name))
        if group is None:
            return False, f"{label}: no such HTTPRouteGroup"
        matches: Sequence[HTTPMatch] = group.matches
        if rule.matches is not None and not rule.matches:
            if choose(EMPTY_RULE_MATCHES) == "none":
                return False, f"{label}: `matches: []` names no match"
        elif rule.matches is not None:
            matches = [m for m in group.matches if m.name in rule.matches]
            if not matches:
                return False, f"{label}: names matches ({', '.join(rule.matches)}) the group does not define"
        misses = []
        for match in matches:
            ok, why = self._http_match(match, request, choose)
            if ok:
                return True, f"{label} match {match.name!r}"
            misses.append(f"{match.name!r}: {why}")
        return False, f"{label}: no match fits (" + ("; ".join(misses) or "the group has no matches") + ")"

    def _port_rule(self, target: Target, rule: Rule, port: int, choose: Chooser) -> tuple[bool, str]:
        label = f"rule {rule.kind} {target.namespace}/{rule.name}"
        route = self.policy.port_route(rule.kind, target.namespace, rule.name)
        if route is None:
            return False, f"{label}: no such {rule.kind}"
        if rule.matches is not None and not rule.matches:
            if choose(EMPTY_RULE_MATCHES) == "none":
                return False, f"{label}: `matches: []` names no match"
        elif (
            rule.matches is not None
            and route.match_name not in rule.matches
            and choose(L4_MATCH_NAMES) == "honoured"
        ):
            return False, f"{label}: names matches ({', '.join(rule.matches)}) the route does not define"
        if route.ports is not None and port not in route.ports:
            return False, f"{label}: port {port} is not among {', '.join(map(str, sorted(route.ports)))}"
        return True, f"{label} (port {port})"

    def _http_match(self, match: HTTPMatch, request: Request, choose: Chooser) -> tuple[bool, str]:
        """One reading's verdict on one HTTPRouteGroup match; asks only where the readings differ here."""
        method = cast(str, request.method)
        if match.methods is not None and not match.methods:
            if choose(EMPTY_METHODS) == "none":
                return False, "`methods: []` lists no method"
        elif match.methods is not None and "*" not in match.methods and method not in match.methods:
            return False, f"method {method} is not among {', '.join(match.methods)}"
        if match.path_regex is not None:
            regex, path = compile_re2(match.path_regex), request.path_only
            start, full = regex.match(path) is not None, regex.fullmatch(path) is not None
            if not (full if start != full and choose(PATH_ANCHORING) == "full" else start):
                how = "as a whole" if start else "from its start"
                return False, f"path {path} does not match pathRegex {match.path_regex!r} {how}"
        for name, pattern in match.headers or ():
            value = request.header(name)
            if value is None:
                if choose(ABSENT_HEADER) == "no-match":
                    return False, f"the request has no {name} header"
                value = ""
            regex = compile_re2(pattern)
            full, search = regex.fullmatch(value) is not None, regex.search(value) is not None
            if not (search if full != search and choose(HEADER_REGEX) == "search" else full):
                return False, f"header {name}: {value!r} does not match {pattern!r}"
        return True, "it matches"


def _traffic(routing: Routing) -> dict[tuple[str, str], Fraction]:
    """What a routing sends where, ignoring zero shares (listing a backend with 0 sends it nothing)."""
    return {key: share for key, share in routing if share}


def _refs(objects: Sequence[Split | Target]) -> str:
    return ", ".join(o.ref for o in objects)
