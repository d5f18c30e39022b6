"""An independent reading of the authorization semantics (config.py's docstring), for property tests.

Written from the documented rules, not from authz.py: Python's ``re`` instead of RE2 (the generated patterns
are in the subset where both agree), plain loops instead of compiled rules.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

from reference_mesh.proxy.config import AuthorizationPolicy, AuthorizationRule, HttpMatch, PortSet

#: The same account names in two namespaces: a decision by name alone would let the wrong one in.
IDS = [f"spiffe://cluster.local/ns/{ns}/sa/{n}" for ns in ("default", "shop") for n in ("web", "batch")]
PORTS = [80, 8080, 9000]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
SEGMENTS = ["api", "v1", "v2", "admin", "x"]
PATH_REGEXES = [
    "/api",
    "/api/.*",
    "/v1",
    ".*",
    "/(api|admin)",
    "/api/v[0-9]+",
    "/x$",
    "/",
    "/admin/?$",
    "[/]v2",
]
HEADER_NAMES = ["x-user", "X-Env"]
HEADER_VALUES = ["alice", "bob", "prod", "dev", "alice2"]
HEADER_REGEXES = ["alice", "a.*", "prod|dev", "b[a-z]+", ".*"]


def header_matches(headers: list[tuple[str, str]], name: str, regex: str) -> bool:
    """The header's value (a repeated header's lines joined with ", ", RFC 9110 5.3) fully matches."""
    values = [v for k, v in headers if k.lower() == name.lower()]
    return bool(values) and re.fullmatch(regex, ", ".join(values)) is not None


def oracle_allows(
    policy: AuthorizationPolicy,
    kind: str,
    source: str | None,
    port: int,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
) -> bool:
    path = target.split("?")[0]
    for rule in policy.rules:
        if source is None or source not in rule.sources:
            continue
        if rule.ports.ports and port not in rule.ports.ports:
            continue  # the TrafficTarget's destination port limits every route kind
        if kind == "udp":
            if rule.udp is not None and (not rule.udp.ports or port in rule.udp.ports):
                return True
            continue
        if kind == "tcp":
            if rule.tcp is not None and (not rule.tcp.ports or port in rule.tcp.ports):
                return True
            continue
        for m in rule.http:
            if m.methods and "*" not in m.methods and method not in m.methods:
                continue
            if m.path_regex is not None and re.match(m.path_regex, path) is None:
                continue
            if all(header_matches(headers, name, rx) for name, rx in m.headers.items()):
                return True
    return policy.permissive


matches = st.builds(
    HttpMatch,
    methods=st.one_of(
        st.just(()), st.just(("*",)), st.lists(st.sampled_from(METHODS), max_size=3).map(tuple)
    ),
    path_regex=st.one_of(st.none(), st.sampled_from(PATH_REGEXES)),
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), st.sampled_from(HEADER_REGEXES), max_size=2),
)


def policy_strategy(ids: list[str], ports: list[int] = PORTS) -> st.SearchStrategy[AuthorizationPolicy]:
    port_sets = st.one_of(
        st.none(),
        st.builds(PortSet, ports=st.lists(st.sampled_from(ports), max_size=2, unique=True).map(tuple)),
    )
    rules = st.builds(
        AuthorizationRule,
        name=st.sampled_from(["default/a", "default/b", "other/c"]),
        sources=st.lists(st.sampled_from(ids), max_size=3, unique=True).map(tuple),
        http=st.lists(matches, max_size=3).map(tuple),
        tcp=port_sets,
        udp=port_sets,
        ports=st.builds(PortSet, ports=st.lists(st.sampled_from(ports), max_size=2, unique=True).map(tuple)),
    )
    return st.builds(
        AuthorizationPolicy,
        rules=st.lists(rules, max_size=4).map(tuple),
        permissive=st.sampled_from([False] * 9 + [True]),
    )


policies = policy_strategy(IDS)
paths = st.lists(st.sampled_from(SEGMENTS), min_size=0, max_size=3).map(lambda s: "/" + "/".join(s))
targets = st.tuples(paths, st.sampled_from(["", "?q=/admin", "?v1"])).map(lambda t: t[0] + t[1])
header_lists = st.lists(
    st.tuples(st.sampled_from([*HEADER_NAMES, "X-USER", "x-env", "other"]), st.sampled_from(HEADER_VALUES)),
    max_size=3,
)
requests = st.tuples(
    st.sampled_from(["http", "tcp", "udp"]),
    st.sampled_from([*IDS, None]),
    st.sampled_from(PORTS),
    st.sampled_from(METHODS),
    targets,
    header_lists,
)
