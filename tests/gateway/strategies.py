"""Hypothesis strategies: random SMI splits and targets with their route groups, Services and workloads,
plus requests to try them with. Shared by the property tests and the kind tests (tests/kind)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from hypothesis import strategies as st

from .semantics import Call, Request

Doc = dict[str, Any]
NS = "ns"
PATH_REGEXES = [
    "/api", "/api/.*", "/api$", "/api(/.*)?$", ".*", "/", "/(api|books)", "/api/v[0-9]+", "/x$",
    "/books(/[0-9]+)?", ".*\\.css$", "[/]v2", "^/orders", "/api|/books", "/a.i", "/books/", "/api/v1$",
]  # fmt: skip
HEADER_NAMES = ["x-user", "X-Env"]
HEADER_REGEXES = ["alice", "a.*", "prod|dev", "b[a-z]+", ".*", ".+", "^alice$", ".*ce"]
HEADER_VALUES = ["alice", "bob", "prod", "dev", "alice2", "", "ce"]
METHODS = ["GET", "POST", "PUT", "DELETE"]
SEGMENTS = ["api", "v1", "v2", "books", "orders", "x", "x.css", "apix", "a", "42"]
PORTS = [80, 8080, 9000]


def _name(prefix: str) -> st.SearchStrategy[str]:
    return st.integers(0, 3).map(lambda i: f"{prefix}{i}")


http_match = st.fixed_dictionaries(
    {"name": st.just("m")},
    optional={
        "pathRegex": st.sampled_from(PATH_REGEXES),
        "methods": st.one_of(
            st.just(["*"]), st.lists(st.sampled_from(METHODS), min_size=1, max_size=3, unique=True)
        ),
        "headers": st.dictionaries(
            st.sampled_from(HEADER_NAMES), st.sampled_from(HEADER_REGEXES), max_size=2
        ),
    },
)


@st.composite
def route_group(draw: st.DrawFn, name: str) -> Doc:
    matches = draw(st.lists(http_match, min_size=1, max_size=4))
    for i, match in enumerate(matches):
        match["name"] = f"m{i}"
    return {
        "apiVersion": "specs.smi-spec.io/v1alpha4",
        "kind": "HTTPRouteGroup",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"matches": matches},
    }


def service(name: str, ports: list[int]) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": {"app": name}, "ports": [{"name": f"http-{p}", "port": p} for p in ports]},
    }


@dataclass
class SplitCase:
    split: Doc
    groups: dict[str, Doc]
    service_ports: dict[str, set[int]]

    @property
    def documents(self) -> list[Doc]:
        services = [service(n, sorted(p)) for n, p in self.service_ports.items()]
        return [self.split, *self.groups.values(), *services]

    def yaml(self) -> str:
        return yaml.safe_dump_all(self.documents, sort_keys=False)


@st.composite
def split_cases(draw: st.DrawFn) -> SplitCase:
    root_ports = draw(st.lists(st.sampled_from(PORTS), min_size=1, max_size=2, unique=True))
    names = draw(st.lists(_name("web-v"), min_size=1, max_size=4))
    v1alpha1 = draw(st.booleans())
    backends = []
    for name in names:
        if v1alpha1:
            weight: Any = draw(st.sampled_from(["1", "500m", "0", "2", "250m", "1500m", "3"]))
        else:
            weight = draw(st.one_of(st.integers(0, 100), st.integers(999_000, 3_000_000)))
        backends.append({"service": name, "weight": weight})
    service_ports = {"web": set(root_ports)}
    for name in dict.fromkeys(names):
        service_ports[name] = set(draw(st.lists(st.sampled_from(PORTS), min_size=1, max_size=3, unique=True)))
    spec: Doc = {"service": "web", "backends": backends}
    groups: dict[str, Doc] = {}
    if not v1alpha1 and draw(st.integers(0, 3)) > 0:
        group_names = draw(st.lists(_name("g"), min_size=1, max_size=2, unique=True))
        spec["matches"] = [{"kind": "HTTPRouteGroup", "name": g} for g in group_names]
        groups = {g: draw(route_group(g)) for g in group_names}
    split = {
        "apiVersion": "split.smi-spec.io/v1alpha1" if v1alpha1 else "split.smi-spec.io/v1alpha4",
        "kind": "TrafficSplit",
        "metadata": {"name": "web-split", "namespace": NS},
        "spec": spec,
    }
    return SplitCase(split, groups, service_ports)


@st.composite
def requests(draw: st.DrawFn, ports: list[int] = PORTS) -> Request:
    start = draw(st.sampled_from(["", "/api", "/api/v1", "/books/42", "/apix", "/x", "/orders", "/books"]))
    segments = draw(st.lists(st.sampled_from(SEGMENTS), max_size=2))
    path = (start + "/" + "/".join(segments)).replace("//", "/") if segments or not start else start
    path += draw(st.sampled_from(["", "", "/"]))
    headers = draw(
        st.lists(
            st.tuples(st.sampled_from([*HEADER_NAMES, "x-env", "X-USER"]), st.sampled_from(HEADER_VALUES)),
            max_size=3,
        )
    )
    return Request(draw(st.sampled_from(ports)), draw(st.sampled_from(METHODS)), path, tuple(headers))


def request_grid(ports: list[int]) -> list[Request]:
    """Every combination of some paths, methods and header sets: each case is tried on all of them."""
    paths = [
        "/",
        "/api",
        "/api/",
        "/api/v1",
        "/apix",
        "/books/42",
        "/books",
        "/x",
        "/orders/1",
        "/a.css",
        "/v2",
    ]
    header_sets: list[tuple[tuple[str, str], ...]] = [
        (),
        (("x-user", "alice"),),
        (("X-Env", "prod"), ("x-user", "bob")),
        (("x-env", ""), ("X-USER", "alice2")),
    ]
    return [
        Request(port, method, path, headers)
        for port in ports
        for method in ("GET", "POST")
        for path in paths
        for headers in header_sets
    ]


# ---- authorization ---------------------------------------------------------------------------------------

WORKLOADS = {"api": [8080, 9000], "db": [5432]}
SOURCES = ["web", "batch", "admin"]


def deployment(name: str, ports: list[int]) -> Doc:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "serviceAccountName": name,
                    "containers": [
                        {"name": name, "image": "x", "ports": [{"containerPort": p} for p in ports]}
                    ],
                },
            },
        },
    }


@dataclass
class AccessCase:
    targets: list[Doc]
    groups: dict[str, Doc]
    tcp_routes: dict[str, Doc]

    @property
    def documents(self) -> list[Doc]:
        return [*self.targets, *self.groups.values(), *self.tcp_routes.values()] + [
            deployment(n, p) for n, p in WORKLOADS.items()
        ]

    def yaml(self) -> str:
        return yaml.safe_dump_all(self.documents, sort_keys=False)


@st.composite
def access_cases(draw: st.DrawFn) -> AccessCase:
    groups = {g: draw(route_group(g)) for g in ("g0", "g1")}
    tcp_routes = {
        "tcp-some": {
            "apiVersion": "specs.smi-spec.io/v1alpha4", "kind": "TCPRoute",
            "metadata": {"name": "tcp-some", "namespace": NS}, "spec": {"matches": {"ports": [8080, 5432]}},
        },
        "tcp-all": {
            "apiVersion": "specs.smi-spec.io/v1alpha4", "kind": "TCPRoute",
            "metadata": {"name": "tcp-all", "namespace": NS}, "spec": {"matches": {"ports": []}},
        },
    }  # fmt: skip
    targets = []
    for i in range(draw(st.integers(1, 3))):
        rules = []
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["HTTPRouteGroup", "HTTPRouteGroup", "TCPRoute"]))
            if kind == "TCPRoute":
                rules.append({"kind": kind, "name": draw(st.sampled_from(sorted(tcp_routes)))})
                continue
            rule: Doc = {"kind": kind, "name": draw(st.sampled_from(sorted(groups)))}
            if draw(st.booleans()):
                rule["matches"] = draw(st.lists(st.sampled_from(["m0", "m1", "m2"]), min_size=1, unique=True))
            rules.append(rule)
        sources = draw(st.lists(st.sampled_from(SOURCES), min_size=1, max_size=2, unique=True))
        targets.append(
            {
                "apiVersion": "access.smi-spec.io/v1alpha3",
                "kind": "TrafficTarget",
                "metadata": {"name": f"t{i}", "namespace": NS},
                "spec": {
                    "destination": {
                        "kind": "ServiceAccount",
                        "name": draw(st.sampled_from(sorted(WORKLOADS))),
                        "namespace": NS,
                    },
                    "sources": [{"kind": "ServiceAccount", "name": s, "namespace": NS} for s in sources],
                    "rules": rules,
                },
            }
        )
    return AccessCase(targets, groups, tcp_routes)


@st.composite
def calls(draw: st.DrawFn) -> Call:
    workload = draw(st.sampled_from(sorted(WORKLOADS)))
    port = draw(st.sampled_from([*WORKLOADS[workload], 9999]))
    http = draw(st.one_of(st.none(), requests([port])))
    return Call((NS, draw(st.sampled_from([*SOURCES, "other"]))), workload, port, http)
