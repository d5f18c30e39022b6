"""Random SMI access policies (as documents) and requests, and an oracle that reads the documents directly.

The oracle is written from the spec's rules (SPEC-NOTES, config.py's semantics), not from the compiler or the
proxy: plain dict walking and Python's ``re`` (the generated regexes are in the subset where RE2 agrees).

Namespaces everywhere: route groups, routes and TrafficTargets live in several namespaces and reuse the same
names in each; sources and destinations name their namespace or leave it out (then it is the
TrafficTarget's); callers and workloads are the same service accounts in different namespaces. What a
namespace slip would change (a source without one read as ``default``, an account matched by name alone, a
TrafficTarget opening another namespace's workloads, a rule naming a route of another namespace) changes
decisions here.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import strategies as st

ACCOUNTS = ["bookbuyer", "bookthief", "bookstore", "admin"]
NAMESPACES = ["default", "shop"]
PORTS = [8080, 9000, 9001, 7000]
METHODS = ["GET", "POST", "PUT", "DELETE"]
PATHS = ["/", "/buy", "/buy/1", "/books-bought", "/admin", "/admin/x", "/api/v1", "/x"]
PATH_REGEXES = ["/buy", "/buy/.*", "/books-bought", ".*", "/(admin|api)", "/api/v[0-9]+", "/x$", "/"]
HEADER_VALUES = ["alice", "bob", "prod"]
HEADER_REGEXES = ["alice", "a.*", "prod|bob", ".*"]


@st.composite
def http_match(draw: Any, name: str) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name}
    if draw(st.booleans()):
        m["pathRegex"] = draw(st.sampled_from(PATH_REGEXES))
    methods = draw(
        st.one_of(
            st.none(), st.just(["*"]), st.lists(st.sampled_from(METHODS), min_size=1, max_size=3, unique=True)
        )
    )
    if methods is not None:
        m["methods"] = methods
    if draw(st.integers(0, 3)) == 0:
        m["headers"] = {"x-user": draw(st.sampled_from(HEADER_REGEXES))}
    return m


def _namespace(draw: Any) -> str:
    return str(draw(st.sampled_from(NAMESPACES)))


def _with_namespace(draw: Any, subject: dict[str, Any]) -> dict[str, Any]:
    """``subject`` with a namespace written, or without one (it is then the TrafficTarget's) one time in
    three."""
    if draw(st.integers(0, 2)) == 0:
        return subject
    return {**subject, "namespace": _namespace(draw)}


@st.composite
def policy(draw: Any, aim: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """Route groups, TCP and UDP routes and TrafficTargets; with ``aim`` = (namespace, service account), the
    first TrafficTarget speaks for that workload and has a source and a rule (what it grants still depends
    on them: a source or a route of another namespace grants nothing)."""
    docs: list[dict[str, Any]] = []
    groups: dict[tuple[str, str], list[str]] = {}  # (namespace, name) -> match names
    for ns in NAMESPACES:  # the same group names in every namespace, each with its own matches
        for g in range(draw(st.integers(1 if ns == "default" else 0, 3))):
            names = [f"m{i}" for i in range(draw(st.integers(1, 3)))]
            groups[(ns, f"g{g}")] = names
            docs.append(
                {
                    "apiVersion": "specs.smi-spec.io/v1alpha4",
                    "kind": "HTTPRouteGroup",
                    "metadata": {"name": f"g{g}", "namespace": ns},
                    "spec": {"matches": [draw(http_match(n)) for n in names]},
                }
            )
    for kind in ("TCPRoute", "UDPRoute"):
        for r in range(draw(st.integers(0, 2))):
            ports = draw(st.lists(st.sampled_from(PORTS), max_size=2, unique=True))
            docs.append(
                {
                    "apiVersion": "specs.smi-spec.io/v1alpha4",
                    "kind": kind,
                    "metadata": {"name": f"{kind.lower()}{r}", "namespace": _namespace(draw)},
                    "spec": {"matches": {"ports": ports}},
                }
            )
    l4 = [(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] != "HTTPRouteGroup"]
    group_names = sorted({name for _, name in groups})
    for t in range(draw(st.integers(1, 4))):
        aimed = aim if t == 0 else None
        namespace = aimed[0] if aimed else _namespace(draw)
        rules = []
        for _ in range(draw(st.integers(1 if aimed else 0, 3))):
            choice = draw(st.integers(0, 3))
            if choice <= 1:
                g = draw(st.sampled_from(group_names))  # maybe a group of another namespace only
                rule: dict[str, Any] = {"kind": "HTTPRouteGroup", "name": g}
                names = groups.get((namespace, g)) or groups.get(("default", g)) or ["m0"]
                if draw(st.booleans()):
                    rule["matches"] = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
                rules.append(rule)
            elif choice == 2 and l4:
                kind, name = draw(st.sampled_from(l4))
                rules.append({"kind": kind, "name": name})
            else:
                rules.append(
                    {"kind": draw(st.sampled_from(["TCPRoute", "HTTPRouteGroup"])), "name": "missing"}
                )
        sources = [
            _with_namespace(draw, {"kind": "ServiceAccount", "name": s})
            for s in draw(
                st.lists(st.sampled_from(ACCOUNTS), min_size=1 if aimed else 0, max_size=4, unique=True)
            )
        ]
        if aimed:  # its own namespace, written or not
            destination = {"kind": "ServiceAccount", "name": aimed[1]}
            if draw(st.booleans()):
                destination["namespace"] = aimed[0]
        else:
            name = draw(st.sampled_from(["bookstore", "bookstore", "admin"]))
            destination = _with_namespace(draw, {"kind": "ServiceAccount", "name": name})
        if draw(st.integers(0, 3)) == 0 and all(r["kind"] != "UDPRoute" for r in rules):
            destination["port"] = draw(st.sampled_from(PORTS))
            version = "v1alpha2"
        else:
            version = "v1alpha3"
        docs.append(
            {
                "apiVersion": f"access.smi-spec.io/{version}",
                "kind": "TrafficTarget",
                "metadata": {"name": f"t{t}", "namespace": namespace},
                "spec": {"destination": destination, "sources": sources, "rules": rules},
            }
        )
    return docs


request = st.tuples(
    # caller (namespace, service account); None: no certificate
    st.one_of(st.none(), st.tuples(st.sampled_from(NAMESPACES), st.sampled_from(ACCOUNTS))),
    st.sampled_from(["http", "tcp", "udp"]),
    st.sampled_from(PORTS),
    st.sampled_from(METHODS),
    st.sampled_from(PATHS),
    st.sampled_from([[], *[[("X-User", v)] for v in HEADER_VALUES]]),
)


def _header_matches(headers: list[tuple[str, str]], name: str, regex: str) -> bool:
    """The header's value (a repeated header's lines joined with ", ", RFC 9110 5.3) fully matches."""
    values = [v for k, v in headers if k.lower() == name.lower()]
    return bool(values) and re.fullmatch(regex, ", ".join(values)) is not None


def oracle(docs: list[dict[str, Any]], workload: tuple[str, str], req: tuple[Any, ...]) -> bool:
    """Is the request to a workload running as ``workload`` = (namespace, service account) allowed?

    A TrafficTarget speaks only for workloads of its own namespace (SPEC-NOTES: the access spec's owner
    permission); a subject without a namespace is in the TrafficTarget's; its rules name routes of its own
    namespace."""
    source, kind, port, method, path, headers = req
    if source is None:
        return False
    by_key = {(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs}
    for t in (d for d in docs if d["kind"] == "TrafficTarget"):
        spec, namespace = t["spec"], t["metadata"]["namespace"]

        def who(subject: dict[str, Any], namespace: str = namespace) -> tuple[str, str]:
            return subject.get("namespace", namespace), subject["name"]

        if namespace != workload[0] or who(spec["destination"]) != workload:
            continue
        if source not in [who(s) for s in spec.get("sources") or []]:
            continue
        if spec["destination"].get("port") not in (None, port):
            continue
        for rule in spec.get("rules") or []:
            route = by_key.get((rule["kind"], namespace, rule["name"]))
            if route is None:
                continue
            if rule["kind"] in ("TCPRoute", "UDPRoute"):
                ports = route["spec"]["matches"]["ports"]
                wanted = ("tcp",) if rule["kind"] == "TCPRoute" else ("udp",)  # each kind its own protocol
                if kind in wanted and (not ports or port in ports):
                    return True
                continue
            if kind != "http":
                continue
            for m in route["spec"]["matches"]:
                if "matches" in rule and m["name"] not in rule["matches"]:
                    continue
                methods = m.get("methods") or []
                if methods and "*" not in methods and method not in methods:
                    continue
                if "pathRegex" in m and not re.match(m["pathRegex"], path):
                    continue
                wanted_headers = m.get("headers") or {}
                if not all(_header_matches(headers, h, rx) for h, rx in wanted_headers.items()):
                    continue
                return True
    return False


def granting_targets(docs: list[dict[str, Any]], workload: tuple[str, str]) -> list[dict[str, Any]]:
    """The TrafficTargets that speak for ``workload`` (its namespace, its account as destination) and name a
    source and a rule."""
    namespace, account = workload
    return [
        d
        for d in docs
        if d["kind"] == "TrafficTarget"
        and d["metadata"]["namespace"] == namespace
        and d["spec"]["destination"]["name"] == account
        and d["spec"]["destination"].get("namespace", namespace) == namespace
        and d["spec"]["sources"]
        and d["spec"]["rules"]
    ]


@st.composite
def aimed_request(draw: Any, docs: list[dict[str, Any]], workload: tuple[str, str]) -> tuple[Any, ...]:
    """A request (as :data:`request`) built from ``docs`` themselves: a source and a rule of a TrafficTarget
    for ``workload``, and a method, path and header the rule's match accepts; so many are allowed.

    Random requests to a random policy are almost all denied (a caller, a destination, a route and every
    condition of a match must line up), which leaves a wrong deny of an allowed request, and a wrong allow
    of a near miss, hardly ever tried. The oracle still decides: an aimed request can be denied (a source of
    another namespace, a rule naming a missing route or a group of another namespace, a TrafficTarget for
    another port, a pathRegex no sample path satisfies), and those near misses are cases too. Needs a
    TrafficTarget for the workload with a source and a rule (:func:`granting_targets`).
    """
    grants = [
        (t, source, rule)
        for t in granting_targets(docs, workload)
        for source in t["spec"]["sources"]
        for rule in t["spec"]["rules"]
    ]
    if not grants:
        raise ValueError(f"no TrafficTarget names {workload} with a source and a rule: nothing to aim at")
    target, source, rule = draw(st.sampled_from(grants))
    spec, namespace = target["spec"], target["metadata"]["namespace"]
    caller = (source.get("namespace", namespace), source["name"])
    routes = {(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs}
    route = routes.get((rule["kind"], namespace, rule["name"]))
    method, path, headers = draw(st.sampled_from(METHODS)), draw(st.sampled_from(PATHS)), []
    port = spec["destination"].get("port")
    if rule["kind"] != "HTTPRouteGroup":
        ports = (route["spec"]["matches"]["ports"] if route is not None else []) or PORTS
        kind = "udp" if rule["kind"] == "UDPRoute" else "tcp"
        return (caller, kind, port or draw(st.sampled_from(ports)), method, path, headers)
    wanted = rule.get("matches")
    candidates = route["spec"]["matches"] if route is not None else []
    matches = [m for m in candidates if wanted is None or m["name"] in wanted]
    if matches:
        m = draw(st.sampled_from(matches))
        if m.get("methods") and "*" not in m["methods"]:
            method = draw(st.sampled_from(m["methods"]))
        fitting = [p for p in PATHS if "pathRegex" not in m or re.match(m["pathRegex"], p)]
        path = draw(st.sampled_from(fitting or PATHS))
        for name, regex in (m.get("headers") or {}).items():
            values = [v for v in HEADER_VALUES if re.fullmatch(regex, v)] or HEADER_VALUES
            headers = [(name.title(), draw(st.sampled_from(values)))]
    return (caller, "http", port or 8080, method, path, headers)
