"""Hypothesis strategies for generated conformance cases: random SMI policies for the standard topology, and
requests that hit and narrowly miss their rules.

Policies are built from small vocabularies, so that references resolve, names collide on purpose (several
TrafficTargets for one destination, several rules over one route) and requests can be aimed at the rules:

* path regexes (:data:`PATH_PATTERNS`) whose start-anchored and full-match readings agree on every path,
  unless ``anchoring=True`` adds some that differ (the oracle answers ``None`` for those paths);
* header filters (:data:`HEADER_PATTERNS`) whose full-match and search readings agree, unless
  ``header_search=True``; none matches an empty value, so a missing header is decided as well;
* TrafficTargets whose rules are all HTTP or all L4 unless ``mixed_rules=True`` (TCPRoute and
  HTTPRouteGroup rules in one target leave HTTP access open where the TCPRoute does not cover the port).

Every document is of the newest released version (access v1alpha3, specs v1alpha4, split v1alpha4), or with
``older=True`` converted (:func:`smi_conformance.models.convert`) to an older version wherever that version
can express it, and passes ``smi lint`` without errors. A generated test judges a mesh's answers by the
oracle's:

>>> from hypothesis import given, settings
>>> from smi_conformance.suite.oracle import Oracle
>>> @settings(max_examples=5, database=None)
... @given(cases())
... def check(case):
...     documents, sent = case
...     oracle = Oracle(standard_topology(), documents)
...     for request in sent:
...         assert oracle.answer(request).destinations  # compare with what the mesh did
>>> check()
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from smi_conformance import models
from smi_conformance.regex import compile_re2
from smi_conformance.suite.oracle import Request
from smi_conformance.suite.topology import ServiceSpec, Topology, standard_topology

__all__ = [
    "HEADER_PATTERNS",
    "METHODS",
    "PATH_PATTERNS",
    "HeaderPattern",
    "PathPattern",
    "cases",
    "http_route_groups",
    "older_versions",
    "policies",
    "port_routes",
    "requests",
    "traffic_splits",
    "traffic_targets",
]

ACCESS = "access.smi-spec.io/v1alpha3"
SPECS = "specs.smi-spec.io/v1alpha4"
SPLIT = "split.smi-spec.io/v1alpha4"
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")


@dataclass(frozen=True)
class PathPattern:
    """A pathRegex and the request paths worth sending against it (hits and near misses)."""

    regex: str
    paths: tuple[str, ...]
    anchoring: bool = False
    """True: the start-anchored and full-match readings differ for some of ``paths`` (on purpose)."""


@dataclass(frozen=True)
class HeaderPattern:
    """A header filter and the values worth sending against it (hits and near misses)."""

    name: str
    regex: str
    values: tuple[str, ...]
    search: bool = False
    """True: the full-match and search readings differ for some of ``values`` (on purpose)."""


PATH_PATTERNS: tuple[PathPattern, ...] = (
    # A trailing ".*" or "$" makes "matches from the start" and "matches the whole path" the same thing.
    PathPattern(
        "/api/.*", ("/api/", "/api/books", "/api/books/7?page=2", "/api", "/apix/books", "/v1/api/x")
    ),
    PathPattern("/books(/[0-9]+)?$", ("/books", "/books/42", "/books?sort=asc", "/books/abc", "/book")),
    PathPattern("/metrics$", ("/metrics", "/metrics?format=text", "/metrics/x", "/metricsz")),
    PathPattern("/v[12]/.*", ("/v1/orders", "/v2/", "/v3/orders", "/v1")),
    PathPattern("/orders/[0-9]+(/.*)?$", ("/orders/7", "/orders/7/items", "/orders/x", "/orders")),
    PathPattern(".*", ("/", "/anything/at/all")),
    # On purpose: a literal prefix, where the readings part for longer paths.
    PathPattern("/books", ("/books", "/books/42", "/bookstore", "/book"), anchoring=True),
    PathPattern("/health", ("/health", "/health/live", "/healthz", "/status"), anchoring=True),
)

HEADER_PATTERNS: tuple[HeaderPattern, ...] = (
    HeaderPattern("user-agent", ".*Firefox.*", ("Mozilla/5.0 Firefox/126.0", "Firefox", "curl/8.5.0")),
    HeaderPattern("x-beta", "^(1|true)$", ("1", "true", "0", "10", "TRUE")),
    HeaderPattern(
        "cookie", r"^(.*;\s*)?beta=1(;.*)?$", ("beta=1", "session=a; beta=1", "beta=10", "session=a")
    ),
    # On purpose: unanchored, so "found in the value" and "is the value" part.
    HeaderPattern("x-tenant", "acme-[a-z]+", ("acme-shop", "old-acme-shop", "acme-", "other"), search=True),
    HeaderPattern(
        "user-agent", "Firefox", ("Firefox", "Mozilla/5.0 Firefox/126.0", "curl/8.5.0"), search=True
    ),
)

_GROUP_NAMES = ("api-routes", "web-routes", "admin-routes")
_MATCH_NAMES = ("read", "write", "admin", "metrics")
_TCP_NAMES = ("tcp-any", "tcp-ports")
_UDP_NAMES = ("udp-any", "udp-ports")
_TCP_PORTS = (9000, 8080, 9001, 9100)
_UDP_PORTS = (9001, 9000, 9101)
_ROOTS = ("web", "stats")


def _meta(name: str, namespace: str) -> dict[str, str]:
    return {"name": name, "namespace": namespace}


def _parts_path(regex: Any, path: str) -> bool:
    only = path.partition("?")[0]
    return (regex.match(only) is None) != (regex.fullmatch(only) is None)


def _parts_value(regex: Any, value: str) -> bool:
    return (regex.fullmatch(value) is None) != (regex.search(value) is None)


#: The paths (values) of each on-purpose pattern that its readings part on; () for the others.
_PARTING_PATHS = {
    p: tuple(x for x in p.paths if p.anchoring and _parts_path(compile_re2(p.regex), x))
    for p in PATH_PATTERNS
}
_PARTING_VALUES = {
    h: tuple(v for v in h.values if h.search and _parts_value(compile_re2(h.regex), v))
    for h in HEADER_PATTERNS
}

# Strategies built once (building them per draw costs more than drawing from them).
_BOOLEANS = st.booleans()
_PATHS = st.sampled_from([p for p in PATH_PATTERNS if not p.anchoring])
_PATHS_ANCHORING = (
    st.sampled_from([p for p in PATH_PATTERNS if p.anchoring]) | _PATHS
)  # half part the readings
_METHOD_LISTS = st.one_of(
    st.none(), st.just(["*"]), st.lists(st.sampled_from(METHODS), min_size=1, max_size=3, unique=True)
)
_FILTERS = st.sampled_from([h for h in HEADER_PATTERNS if not h.search])
_FILTERS_SEARCH = st.sampled_from([h for h in HEADER_PATTERNS if h.search]) | _FILTERS
_FILTER_LISTS = st.lists(_FILTERS, max_size=2, unique_by=lambda h: h.name)
_FILTER_LISTS_SEARCH = st.lists(_FILTERS_SEARCH, max_size=2, unique_by=lambda h: h.name)


@st.composite
def _http_match(draw: st.DrawFn, name: str, *, anchoring: bool, header_search: bool) -> dict[str, Any]:
    match: dict[str, Any] = {"name": name}
    if draw(_BOOLEANS):
        match["pathRegex"] = draw(_PATHS_ANCHORING if anchoring else _PATHS).regex
    methods = draw(_METHOD_LISTS)
    if methods is not None:
        match["methods"] = methods
    headers = draw(_FILTER_LISTS_SEARCH if header_search else _FILTER_LISTS)
    if headers:
        match["headers"] = {h.name: h.regex for h in headers}
    return match


@st.composite
def http_route_groups(
    draw: st.DrawFn, namespace: str, name: str, *, anchoring: bool = False, header_search: bool = False
) -> dict[str, Any]:
    """An HTTPRouteGroup (specs v1alpha4) of 1-3 named matches over the vocabularies."""
    names = draw(st.lists(st.sampled_from(_MATCH_NAMES), min_size=1, max_size=3, unique=True))
    matches = [draw(_http_match(n, anchoring=anchoring, header_search=header_search)) for n in names]
    return {
        "apiVersion": SPECS,
        "kind": "HTTPRouteGroup",
        "metadata": _meta(name, namespace),
        "spec": {"matches": matches},
    }


@st.composite
def port_routes(draw: st.DrawFn, kind: str, namespace: str, name: str) -> dict[str, Any]:
    """A TCPRoute or UDPRoute (specs v1alpha4): every port (no spec, or ``ports: []``) or some ports."""
    doc: dict[str, Any] = {"apiVersion": SPECS, "kind": kind, "metadata": _meta(name, namespace)}
    vocabulary = _TCP_PORTS if kind == "TCPRoute" else _UDP_PORTS
    some = st.lists(st.sampled_from(vocabulary), min_size=1, max_size=3, unique=True)
    ports = draw(
        st.one_of(st.none(), st.just([]), some, some)
    )  # every port (half the time: two ways) or some
    if ports is not None:
        match: dict[str, Any] = {"ports": ports}
        if draw(st.booleans()):
            match["name"] = f"{name}-match"
        doc["spec"] = {"matches": match}
    return doc


def _route_names(routes: Sequence[Mapping[str, Any]], namespace: str) -> list[tuple[str, str, list[str]]]:
    """(kind, name, match names) of the routes in ``namespace`` (any version's layout)."""
    out = []
    for route in routes:
        if route["metadata"].get("namespace") != namespace:
            continue
        matches = route.get("matches") or route.get("spec", {}).get("matches")
        names = [m["name"] for m in matches] if isinstance(matches, list) else []
        out.append((route["kind"], route["metadata"]["name"], names))
    return out


def _protocol_of(kind: str) -> str:
    return "http" if kind == "HTTPRouteGroup" else "l4"


@st.composite
def traffic_targets(
    draw: st.DrawFn,
    topology: Topology,
    routes: Sequence[Mapping[str, Any]],
    *,
    name: str,
    namespace: str | None = None,
    mixed_rules: bool = False,
) -> dict[str, Any]:
    """A TrafficTarget (access v1alpha3) in ``namespace`` (the main one): destination web or stats of its own
    namespace, 1-3 sources among every ServiceAccount of the topology, 1-3 rules over ``routes`` of its
    namespace (HTTPRouteGroup rules optionally naming some matches)."""
    namespace = namespace or topology.main
    accounts = {a for ns, a in topology.service_accounts if ns == namespace}
    destination: dict[str, Any] = {
        "kind": "ServiceAccount",
        "name": draw(st.sampled_from(sorted(accounts & {"web", "stats"}))),
    }
    if draw(st.booleans()):
        destination["namespace"] = namespace
    sources = []
    for ns, account in draw(
        st.lists(st.sampled_from(topology.service_accounts), min_size=1, max_size=3, unique=True)
    ):
        source = {"kind": "ServiceAccount", "name": account}
        if ns != namespace or draw(st.booleans()):
            source["namespace"] = ns
        sources.append(source)
    available = _route_names(routes, namespace)
    if not available:
        raise ValueError(f"traffic_targets needs at least one route in namespace {namespace}")
    chosen = draw(st.lists(st.sampled_from(available), min_size=1, max_size=3, unique_by=lambda r: r[:2]))
    if not mixed_rules:
        first = _protocol_of(chosen[0][0])
        chosen = [r for r in chosen if _protocol_of(r[0]) == first]
    else:  # mostly give HTTP rules a TCPRoute beside them: what leaves HTTP access open
        tcp = [r for r in available if r[0] == "TCPRoute" and r not in chosen]
        mix: bool = draw(st.integers(min_value=0, max_value=3)) > 0
        if tcp and mix and any(r[0] == "HTTPRouteGroup" for r in chosen):
            chosen.append(draw(st.sampled_from(tcp)))
    rules = []
    for kind, route, match_names in chosen:
        rule: dict[str, Any] = {"kind": kind, "name": route}
        if kind == "HTTPRouteGroup" and draw(st.booleans()):
            rule["matches"] = draw(st.lists(st.sampled_from(match_names), min_size=1, unique=True))
        rules.append(rule)
    return {
        "apiVersion": ACCESS,
        "kind": "TrafficTarget",
        "metadata": _meta(name, namespace),
        "spec": {"destination": destination, "sources": sources, "rules": rules},
    }


def _backends(topology: Topology, root: str) -> list[ServiceSpec]:
    """The versioned Services of ``root`` in the main namespace (web-v1..., stats-v1...)."""
    return [
        s
        for s in topology.services
        if s.namespace == topology.main and s.selector.get("app") == root and "version" in s.selector
    ]


@st.composite
def traffic_splits(
    draw: st.DrawFn, topology: Topology, groups: Sequence[Mapping[str, Any]], *, root: str
) -> dict[str, Any]:
    """A TrafficSplit (split v1alpha4) of ``root`` (web or stats) in the main namespace: 1-3 distinct
    versioned backends, weights 0-100 (zero on purpose), the root written as a name, ``name.namespace`` or
    FQDN, optionally ``matches`` over the HTTPRouteGroups among ``groups`` in the main namespace."""
    main = topology.main
    backends = draw(
        st.lists(
            st.sampled_from(_backends(topology, root)), min_size=1, max_size=3, unique_by=lambda s: s.name
        )
    )
    some = st.integers(min_value=1, max_value=100)
    weights = st.one_of(some, some, some, st.just(0))  # a zero in about one weight of four
    service = draw(st.sampled_from([root, f"{root}.{main}", f"{root}.{main}.svc.cluster.local"]))
    spec: dict[str, Any] = {
        "service": service,
        "backends": [{"service": b.name, "weight": draw(weights)} for b in backends],
    }
    names = [n for kind, n, _ in _route_names(groups, main) if kind == "HTTPRouteGroup"]
    with_matches: bool = draw(st.booleans())
    if names and with_matches:
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
        spec["matches"] = [{"kind": "HTTPRouteGroup", "name": n} for n in chosen]
    return {
        "apiVersion": SPLIT,
        "kind": "TrafficSplit",
        "metadata": _meta(f"{root}-split", main),
        "spec": spec,
    }


_OLDER: dict[str, tuple[str, ...]] = {
    "TrafficTarget": ("access.smi-spec.io/v1alpha1", "access.smi-spec.io/v1alpha2"),
    "HTTPRouteGroup": (
        "specs.smi-spec.io/v1alpha1",
        "specs.smi-spec.io/v1alpha2",
        "specs.smi-spec.io/v1alpha3",
    ),
    "TCPRoute": ("specs.smi-spec.io/v1alpha1", "specs.smi-spec.io/v1alpha2", "specs.smi-spec.io/v1alpha3"),
    "UDPRoute": (),
    "TrafficSplit": (
        "split.smi-spec.io/v1alpha1",
        "split.smi-spec.io/v1alpha2",
        "split.smi-spec.io/v1alpha3",
    ),
}


@st.composite
def older_versions(draw: st.DrawFn, documents: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``documents`` with each converted to a randomly chosen older version of its kind, or kept as it is
    when it stays or that version cannot express it (a TCPRoute's ports, a split's matches, a UDPRoute rule,
    header filters in specs v1alpha1)."""
    out = []
    for doc in documents:
        target = draw(st.sampled_from((None, *_OLDER[doc["kind"]])))
        if target is None:
            out.append(dict(doc))
            continue
        try:
            out.append(models.convert(doc, target))
        except models.ConversionError:
            out.append(dict(doc))
    return out


@st.composite
def policies(
    draw: st.DrawFn,
    topology: Topology | None = None,
    *,
    anchoring: bool = False,
    header_search: bool = False,
    mixed_rules: bool = False,
    older: bool = False,
) -> list[dict[str, Any]]:
    """A whole policy: HTTPRouteGroups, TCPRoutes and UDPRoutes, 0-4 TrafficTargets in the main namespace
    (and sometimes one in the other), and 0-2 TrafficSplits (at most one per root)."""
    topology = topology or standard_topology()
    main, other = topology.main, topology.other
    group_names = draw(st.lists(st.sampled_from(_GROUP_NAMES), min_size=1, max_size=3, unique=True))
    docs = [
        draw(http_route_groups(main, n, anchoring=anchoring, header_search=header_search))
        for n in group_names
    ]
    for name in draw(st.lists(st.sampled_from(_TCP_NAMES), max_size=2, unique=True)):
        docs.append(draw(port_routes("TCPRoute", main, name)))
    for name in draw(st.lists(st.sampled_from(_UDP_NAMES), max_size=1, unique=True)):
        docs.append(draw(port_routes("UDPRoute", main, name)))
    routes = list(docs)
    for i in range(draw(st.integers(min_value=0, max_value=4))):
        docs.append(draw(traffic_targets(topology, routes, name=f"target-{i}", mixed_rules=mixed_rules)))
    if draw(st.booleans()):
        group = draw(
            http_route_groups(other, "other-routes", anchoring=anchoring, header_search=header_search)
        )
        docs += [group, draw(traffic_targets(topology, [group], name="other-target", namespace=other))]
    for root in draw(st.lists(st.sampled_from(_ROOTS), max_size=2, unique=True)):
        docs.append(draw(traffic_splits(topology, routes, root=root)))
    if older:
        docs = draw(older_versions(docs))
    return docs


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


@dataclass
class _Aims:
    """What the documents name, in any version's layout: what requests should hit (and narrowly miss)."""

    paths: list[str]
    headers: list[tuple[str, str]]
    methods: list[str]
    sources: set[tuple[str, str]]
    destinations: set[tuple[str, str]]
    roots: set[str]


def _aims(documents: Sequence[Mapping[str, Any]]) -> _Aims:
    aims = _Aims([], [], [], set(), set(), set())
    for key, value in _walk(list(documents)):
        if key == "pathRegex" and isinstance(value, str):
            aims.paths.append(value)
        elif key == "methods" and isinstance(value, list):
            aims.methods += [m for m in value if m in METHODS]
        elif key == "headers":
            aims.headers += _header_items(value)
    for doc in documents:
        namespace = doc["metadata"].get("namespace", "")
        if doc["kind"] == "TrafficTarget":
            body = doc.get("spec", doc)
            for subject in body.get("sources") or ():
                aims.sources.add((subject.get("namespace") or namespace, subject["name"]))
            destination = body["destination"]
            aims.destinations.add((destination.get("namespace") or namespace, destination["name"]))
        elif doc["kind"] == "TrafficSplit":
            aims.roots.add(doc["spec"]["service"].split(".")[0])
    return aims


def _case_variants(name: str) -> list[str]:
    return [name, name.upper(), "-".join(part.capitalize() for part in name.split("-"))]


def _matches_of(route: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """An HTTPRouteGroup's matches in any version's layout."""
    matches = route.get("matches", route.get("spec", {}).get("matches"))
    return list(matches) if isinstance(matches, list) else []


def _header_items(headers: Any) -> list[tuple[str, str]]:
    items = headers.items() if isinstance(headers, dict) else [i for d in headers or () for i in d.items()]
    return [(str(n).lower(), str(r)) for n, r in items]


@st.composite
def _http_request(
    draw: st.DrawFn,
    src: tuple[str, str],
    dst: tuple[str, str],
    port: int,
    match: Mapping[str, Any] | None,
    aims: _Aims,
) -> Request:
    """An HTTP request aimed at ``match`` (its methods, paths and header values: hits and near misses), or
    at the documents in general when ``match`` is None."""
    if match is not None and match.get("methods") and "*" not in match["methods"]:
        methods = list(match["methods"])
    else:
        methods = aims.methods or list(METHODS)
    regexes = [match["pathRegex"]] if match is not None and match.get("pathRegex") else aims.paths
    patterns = [pattern for pattern in PATH_PATTERNS if pattern.regex in regexes]
    paths = [p for pattern in patterns for p in pattern.paths] or ["/"]
    path = st.sampled_from(paths) | st.sampled_from(["/", "/unknown", *paths])
    parting = [p for pattern in patterns for p in _PARTING_PATHS[pattern]]
    if match is not None and parting:  # an on-purpose pattern: half the time a path its readings part on
        path = st.sampled_from(parting) | path
    filters = _header_items(match.get("headers")) if match is not None else aims.headers
    values: dict[str, list[str]] = {}
    parting_values: dict[str, list[str]] = {}
    for header in HEADER_PATTERNS:
        if (header.name, header.regex) in filters:
            values.setdefault(header.name, []).extend(header.values)
            parting_values.setdefault(header.name, []).extend(_PARTING_VALUES[header])
    headers = []
    for name, candidates in sorted(values.items()):
        if draw(st.integers(min_value=0, max_value=3)):  # mostly sent: a missing header is a plain miss
            value = st.sampled_from(candidates)
            if match is not None and parting_values[name]:
                value = st.sampled_from(parting_values[name]) | value
            headers.append((draw(st.sampled_from(_case_variants(name))), draw(value)))
    return Request.http(
        src,
        dst,
        method=draw(st.sampled_from(methods) | st.sampled_from(METHODS)),
        path=draw(path),
        headers=headers,
        port=port,
    )


@st.composite
def _aimed_request(
    draw: st.DrawFn, topology: Topology, documents: Sequence[Mapping[str, Any]], aims: _Aims
) -> Request:
    """A request aimed at one rule of one TrafficTarget: from a source it lists, to a Service whose
    workloads are its destination, on the rule's protocol, fitting one of the rule's matches (or nearly)."""
    target = draw(st.sampled_from([d for d in documents if d["kind"] == "TrafficTarget"]))
    namespace = target["metadata"]["namespace"]
    body = target.get("spec", target)
    sources = {(s.get("namespace") or namespace, s["name"]) for s in body["sources"]}
    destination = (body["destination"].get("namespace") or namespace, body["destination"]["name"])
    source = draw(
        st.sampled_from([w for w in topology.workloads if (w.namespace, w.service_account) in sources])
    )
    services = [
        s
        for s in topology.services
        if any((w.namespace, w.service_account) == destination for w in topology.selected(s))
    ]
    service = draw(st.sampled_from(services))
    rule = draw(st.sampled_from(body.get("rules", body.get("specs"))))
    src, dst = (source.namespace, source.name), (service.namespace, service.name)
    if rule["kind"] == "TCPRoute":
        return Request.tcp(src, dst, port=service.port("tcp").port)
    if rule["kind"] == "UDPRoute":
        return Request.udp(src, dst, port=service.port("udp").port)
    group = next(
        d
        for d in documents
        if d["kind"] == "HTTPRouteGroup"
        and d["metadata"]["name"] == rule["name"]
        and d["metadata"]["namespace"] == namespace
    )
    matches = [m for m in _matches_of(group) if m["name"] in rule.get("matches", [m["name"]])]
    match = draw(st.sampled_from(matches))
    return draw(_http_request(src, dst, service.port("http").port, match, aims))


def requests(topology: Topology, documents: Sequence[Mapping[str, Any]]) -> st.SearchStrategy[Request]:
    """A request from a workload to a Service of the topology. About half are aimed at one rule of one
    TrafficTarget (a listed source, the destination's Services, the rule's protocol, a request that fits
    one of its matches or narrowly misses it); the others come from any workload to any Service and port,
    with paths, methods and headers drawn from everything the documents use. Header names in random case."""
    return _requests(topology, documents, _aims(documents))


@st.composite
def _requests(
    draw: st.DrawFn, topology: Topology, documents: Sequence[Mapping[str, Any]], aims: _Aims
) -> Request:
    aim: bool = draw(_BOOLEANS)
    if aims.destinations and aim:
        return draw(_aimed_request(topology, documents, aims))
    source = draw(st.sampled_from(topology.workloads))
    aimed = [s for s in topology.services if s.namespace == topology.main and s.name in aims.roots]
    service = draw(st.sampled_from(aimed or list(topology.services)) | st.sampled_from(topology.services))
    port = draw(st.sampled_from(service.ports))
    src, dst = (source.namespace, source.name), (service.namespace, service.name)
    if port.protocol == "tcp":
        return Request.tcp(src, dst, port=port.port)
    if port.protocol == "udp":
        return Request.udp(src, dst, port=port.port)
    return draw(_http_request(src, dst, port.port, None, aims))


@st.composite
def cases(
    draw: st.DrawFn,
    topology: Topology | None = None,
    *,
    max_requests: int = 8,
    anchoring: bool = False,
    header_search: bool = False,
    mixed_rules: bool = False,
    older: bool = False,
) -> tuple[list[dict[str, Any]], list[Request]]:
    """A policy and 1-``max_requests`` requests against it."""
    topology = topology or standard_topology()
    documents = draw(
        policies(
            topology, anchoring=anchoring, header_search=header_search, mixed_rules=mixed_rules, older=older
        )
    )
    sent = draw(st.lists(requests(topology, documents), min_size=1, max_size=max_requests))
    return documents, sent
