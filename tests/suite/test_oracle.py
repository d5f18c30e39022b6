"""The oracle on hand cases: the spec's access and split examples, the bundled bookstore, every rule kind and
version, each open question of the spec (answered None), and bad input (located errors)."""

from __future__ import annotations

import doctest
import json
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smi_conformance.suite import generated, readings
from smi_conformance.suite import oracle as oracle_module
from smi_conformance.suite.oracle import Answer, Oracle, OracleError, Request
from smi_conformance.suite.topology import standard_topology

from .topologies import REPO_ROOT, bookstore, topology, versions

sys.path.insert(0, str(REPO_ROOT / "tests" / "models"))
from spec_examples import DOC_BUGS, Example, example_objects

NS = "default"


def shares(answer: Answer) -> dict[str, Fraction | None]:
    return {d.service: d.share for d in answer.destinations}


def allowed(answer: Answer) -> dict[str, bool | None]:
    return {d.service: d.allowed for d in answer.destinations}


def only(answer: Answer) -> bool | None:
    """The access verdict of a request that reaches one Service."""
    assert len(answer.destinations) == 1, answer.explanation
    return answer.destinations[0].allowed


def http(source: str, service: str, path: str = "/", method: str = "GET", **kw: Any) -> Request:
    return Request.http(
        (kw.pop("source_ns", NS), source), (kw.pop("service_ns", NS), service), path=path, method=method, **kw
    )


def examples_of(smi_spec_dir: Path, *files: str) -> list[dict[str, Any]]:
    """The SMI objects of the named example files, with the apiVersion their doc implies."""
    found: list[Example] = [e for e in example_objects(smi_spec_dir / "examples") if e.file in files]
    assert {e.file for e in found} == set(files)
    docs = []
    for example in found:
        doc = dict(example.doc)
        if example.key in DOC_BUGS:  # the split docs show the group in the v1alpha2 layout: read it as that
            doc["apiVersion"] = "specs.smi-spec.io/v1alpha2"
        docs.append(doc)
    return docs


# -- the spec's access examples ----------------------------------------------------------------------------

API = topology(
    (NS, "other"),
    [("api-service", {"app": "api"}, ((8080, "http"), (9090, "http")))],
    [
        ("api", "api-service", {"app": "api"}),
        ("website", "website-service", {"app": "website"}),
        ("payments", "payments-service", {"app": "payments"}),
        ("prometheus", "prometheus", {"app": "prometheus"}),
        ("stranger", "stranger", {"app": "stranger"}),
    ],
)


def test_access_v1alpha3_l7_example_allows_exactly_the_table(smi_spec_dir: Path) -> None:
    """The doc's table: website and payments may call /api with any method, prometheus GET /metrics."""
    oracle = Oracle(API, examples_of(smi_spec_dir, "traffic-access-v1alpha3-3.yaml"))
    for source, method, path in [
        ("website", "GET", "/api"),
        ("payments", "POST", "/api"),
        ("website", "DELETE", "/api?id=3"),
        ("prometheus", "GET", "/metrics"),
    ]:
        answer = oracle.answer(http(source, "api-service", path, method))
        assert only(answer) is True, answer.explanation
        assert "allowed by TrafficTarget default/api-service-" in answer.destinations[0].why
    for source, method, path in [
        ("prometheus", "POST", "/metrics"),  # GET only
        ("prometheus", "GET", "/api"),  # its target names the metrics match only
        ("website", "GET", "/metrics"),
        ("stranger", "GET", "/api"),  # no target lists it
        ("website", "GET", "/other"),
    ]:
        answer = oracle.answer(http(source, "api-service", path, method))
        assert only(answer) is False, answer.explanation
    # Beyond the table, the spec is open: /api/v1 matches "/api" from its start but not as a whole...
    answer = oracle.answer(http("website", "api-service", "/api/v1"))
    assert only(answer) is None
    assert "path-anchoring=start" in answer.explanation and "path-anchoring=full" in answer.explanation
    # ...and the targets' TCPRoute covers 8080 only: does it restrict their HTTP rules on 9090?
    answer = oracle.answer(http("prometheus", "api-service", "/metrics", port=9090))
    assert only(answer) is None
    assert "tcp-rules-for-http=restrict" in answer.explanation


def test_access_v1alpha3_l4_example(smi_spec_dir: Path) -> None:
    """ "will allow TCP and UDP traffic to both 8301 and 8302 ports, but will block UDP traffic to 8300"."""
    server = topology(
        (NS, "other"),
        [
            (
                "server",
                {"app": "server"},
                tuple((p, proto) for p in (8300, 8301, 8302) for proto in ("tcp", "udp")),
            )
        ],
        [("server", "server", {"app": "server"}), ("client", "client", {}), ("other", "other", {})],
    )
    oracle = Oracle(server, examples_of(smi_spec_dir, "traffic-access-v1alpha3-4.yaml"))
    client, svc = (NS, "client"), (NS, "server")
    for port in (8300, 8301, 8302):
        assert only(oracle.answer(Request.tcp(client, svc, port=port))) is True
        assert only(oracle.answer(Request.tcp((NS, "other"), svc, port=port))) is False
    assert only(oracle.answer(Request.udp(client, svc, port=8301))) is True
    assert only(oracle.answer(Request.udp(client, svc, port=8302))) is True
    answer = oracle.answer(Request.udp(client, svc, port=8300))
    assert only(answer) is False
    assert "port 8300 is not among 8301, 8302" in answer.explanation


@pytest.mark.parametrize("version", ["v1alpha1", "v1alpha2"])
def test_access_destination_port_examples(smi_spec_dir: Path, version: str) -> None:
    """v1alpha1/v1alpha2 destination.port: the api-service-api target allows 8080 only, the metrics target
    (no port) every port."""
    oracle = Oracle(API, examples_of(smi_spec_dir, f"traffic-access-{version}-3.yaml"))
    assert only(oracle.answer(http("website", "api-service", "/api"))) is True
    answer = oracle.answer(http("website", "api-service", "/api", port=9090))
    assert only(answer) is False
    assert "allows port 8080 only" in answer.explanation
    assert only(oracle.answer(http("prometheus", "api-service", "/metrics", port=9090))) is True


@pytest.mark.parametrize("version", ["v1alpha1", "v1alpha2"])
def test_access_path_specific_example(smi_spec_dir: Path, version: str) -> None:
    """The first example: prometheus may GET /metrics of service-a on port 8080, nothing else."""
    service_a = topology(
        (NS, "other"),
        [("service-a", {"app": "a"}, ((8080, "http"), (9090, "http")))],
        [("a", "service-a", {"app": "a"}), ("prometheus", "prometheus", {})],
    )
    files = (f"traffic-access-{version}-1.yaml", f"traffic-access-{version}-2.yaml")
    oracle = Oracle(service_a, examples_of(smi_spec_dir, *files))
    assert only(oracle.answer(http("prometheus", "service-a", "/metrics"))) is True
    assert only(oracle.answer(http("prometheus", "service-a", "/metrics", port=9090))) is False
    assert only(oracle.answer(http("prometheus", "service-a", "/metrics", "POST"))) is False
    assert only(oracle.answer(http("prometheus", "service-a", "/"))) is False  # "everything" is not named


# -- the spec's split examples -------------------------------------------------------------------------

WEBSITE = topology((NS, "other"), *versions("website", "website-v1", "website-v2"))
FOOBAR = topology((NS, "other"), *versions("foobar", "foobar-v1", "foobar-v2", "foobar-next"))


def test_split_canary_example(smi_spec_dir: Path) -> None:
    oracle = Oracle(WEBSITE, examples_of(smi_spec_dir, "traffic-split-v1alpha4-1.yaml"))
    answer = oracle.answer(http("website-v1", "website"))
    assert shares(answer) == {"website-v1": Fraction(9, 10), "website-v2": Fraction(1, 10)}
    assert answer.routing.startswith("TrafficSplit default/canary applies")
    assert [d.workloads for d in answer.destinations] == [("website-v1",), ("website-v2",)]


def test_split_ab_test_example(smi_spec_dir: Path) -> None:
    """ "will route the Firefox users to the website-v2 service while all the others will be routed to the
    root Kubernetes service"."""
    oracle = Oracle(WEBSITE, examples_of(smi_spec_dir, "traffic-split-v1alpha4-2.yaml"))
    firefox = oracle.answer(
        http("website-v1", "website", headers={"User-Agent": "Mozilla/5.0 Firefox/126.0"})
    )
    assert shares(firefox) == {"website-v1": 0, "website-v2": 1}
    assert "match 'firefox-users'" in firefox.routing
    for headers in ({"user-agent": "curl/8"}, {}):
        others = oracle.answer(http("website-v1", "website", headers=headers))
        assert shares(others) == {"website": 1}
        assert others.destinations[0].workloads == ("website-v1", "website-v2")
        assert "root Service's own workloads" in others.routing


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("traffic-split-v1alpha1-4.yaml", {"foobar-v1": 1, "foobar-v2": 0}),
        ("traffic-split-v1alpha1-5.yaml", {"foobar-v1": Fraction(2, 3), "foobar-v2": Fraction(1, 3)}),
        ("traffic-split-v1alpha4-6.yaml", {"foobar-v1": Fraction(2, 3), "foobar-v2": Fraction(1, 3)}),
        ("traffic-split-v1alpha1-6.yaml", {"foobar-v2": 1}),
        # Self-reference: 90% to the root Service as plain Kubernetes (all its workloads), not split again.
        ("traffic-split-v1alpha4-8.yaml", {"foobar-next": Fraction(1, 10), "foobar": Fraction(9, 10)}),
        ("traffic-split-v1alpha1-7.yaml", {"foobar-next": Fraction(1, 10), "foobar": Fraction(9, 10)}),
    ],
)
def test_split_workflow_examples(smi_spec_dir: Path, file: str, expected: dict[str, Fraction]) -> None:
    oracle = Oracle(FOOBAR, examples_of(smi_spec_dir, file))
    answer = oracle.answer(http("foobar-v1", "foobar"))
    assert shares(answer) == expected
    if "foobar" in expected:
        assert answer.destination("foobar").workloads == ("foobar-v1", "foobar-v2", "foobar-next")


def test_split_rollout_to_a_backend_not_created_yet(smi_spec_dir: Path) -> None:
    """ "The TrafficSplit resource above refers to the service foobar-v2 even before it is created ... the SMI
    implementation does not redirect any traffic to foobar-v2": decided, whatever a missing backend means."""
    before = topology((NS, "other"), *versions("foobar", "foobar-v1"))
    oracle = Oracle(before, examples_of(smi_spec_dir, "traffic-split-v1alpha4-5.yaml"))
    answer = oracle.answer(http("foobar-v1", "foobar"))
    assert answer.shares_known
    assert shares(answer)["foobar-v1"] == 1
    assert not shares(answer).get("foobar-v2")


def test_split_v1alpha1_quantity_weights(smi_spec_dir: Path) -> None:
    """10m, 100m and 1500m are 1:10:150, exactly."""
    numbers = topology((NS, "other"), *versions("numbers", "numbers-one", "numbers-two", "numbers-three"))
    docs = examples_of(smi_spec_dir, "traffic-split-v1alpha1-1.yaml")
    for backend in docs[0]["spec"]["backends"]:
        backend["service"] = f"numbers-{backend['service']}"
    answer = Oracle(numbers, docs).answer(http("numbers-one", "numbers"))
    assert shares(answer) == {
        "numbers-one": Fraction(1, 161),
        "numbers-two": Fraction(10, 161),
        "numbers-three": Fraction(150, 161),
    }
    assert sum(s for s in shares(answer).values() if s is not None) == 1


def test_split_ports_example() -> None:
    """The spec's Ports section: blue-birds has port 1024 only, so birds:8080 is never split to it."""
    birds = topology(
        (NS, "other"),
        [
            ("birds", {"app": "birds"}, ((8080, "http"),)),
            ("blue-birds", {"app": "birds", "color": "blue"}, ((1024, "http"),)),
            ("green-birds", {"app": "birds", "color": "green"}, ((8080, "http"),)),
        ],
        [
            ("blue", "birds", {"app": "birds", "color": "blue"}),
            ("green", "birds", {"app": "birds", "color": "green"}),
        ],
    )
    split = splits("birds", {"blue-birds": 50, "green-birds": 50})
    answer = Oracle(birds, [split]).answer(http("blue", "birds"))
    assert shares(answer) == {"green-birds": 1}
    assert "blue-birds has no port 8080 and is left out" in answer.routing


# -- the bundled bookstore ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def books() -> Oracle:
    shop, documents = bookstore()
    return Oracle(shop, documents)


def book(oracle: Oracle, source: str, path: str, method: str = "GET", **headers: str) -> Answer:
    namespace = "monitoring" if source == "prometheus" else "bookstore"
    request = Request.http(
        (namespace, source), ("bookstore", "books"), method=method, path=path, headers=headers
    )
    return oracle.answer(request)


def test_bookstore_access(books: Oracle) -> None:
    assert only(book(books, "web", "/books/42")) is True
    assert only(book(books, "web", "/books?page=2", "HEAD")) is True  # the query is not part of the path
    assert only(book(books, "web", "/orders", "POST")) is True
    assert only(book(books, "prometheus", "/metrics")) is True  # a source in another namespace
    denied = book(books, "web", "/books/42", "DELETE")
    assert only(denied) is False
    assert "method DELETE is not among GET, HEAD" in denied.explanation
    assert only(book(books, "web", "/metrics")) is False
    assert only(book(books, "intruder", "/books")) is False
    assert only(book(books, "prometheus", "/books")) is False
    assert only(book(books, "web", "/books/42/reviews")) is None  # "/books(/[0-9]+)?" from the start only


def test_bookstore_postgres_is_tcp_only_for_books(books: Oracle) -> None:
    postgres = ("bookstore", "postgres")
    assert only(books.answer(Request.tcp(("bookstore", "books-v1"), postgres, port=5432))) is True
    denied = books.answer(Request.tcp(("bookstore", "web"), postgres, port=5432))
    assert only(denied) is False
    assert (
        "TrafficTarget bookstore/books-to-postgres does not list ServiceAccount bookstore/web"
        in denied.explanation
    )


def test_bookstore_beta_testers_are_split(books: Oracle) -> None:
    beta = book(books, "web", "/books", cookie="session=1; beta=1")
    assert shares(beta) == {"books-v1": Fraction(1, 2), "books-v2": Fraction(1, 2)}
    assert allowed(beta) == {"books-v1": True, "books-v2": True}
    assert "HTTPRouteGroup bookstore/beta-testers match 'beta-cookie'" in beta.routing
    for cookie in ("beta=10", "session=1"):
        everyone = book(books, "web", "/books", cookie=cookie)
        assert shares(everyone) == {"books": 1}
        assert everyone.destinations[0].workloads == ("books-v1", "books-v2")


# -- every rule kind and version ---------------------------------------------------------------------------

SHOP = standard_topology("shop")
MAIN, OTHER = SHOP.main, SHOP.other
CLIENT, INTRUDER = (MAIN, "client"), (MAIN, "intruder")
WEB = (MAIN, "web")


def meta(name: str, namespace: str = MAIN) -> dict[str, str]:
    return {"name": name, "namespace": namespace}


def group(
    name: str, *matches: dict[str, Any], version: str = "v1alpha4", namespace: str = MAIN
) -> dict[str, Any]:
    doc = {
        "apiVersion": f"specs.smi-spec.io/{version}",
        "kind": "HTTPRouteGroup",
        "metadata": meta(name, namespace),
    }
    if version in ("v1alpha1", "v1alpha2"):
        return {**doc, "matches": list(matches)}
    return {**doc, "spec": {"matches": list(matches)}}


def port_route(
    kind: str, name: str, ports: list[int] | None = None, version: str = "v1alpha4", match: str | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": f"specs.smi-spec.io/{version}", "kind": kind, "metadata": meta(name)}
    if version == "v1alpha3":
        doc["spec"] = {}
    elif ports is not None:
        doc["spec"] = {"matches": {"ports": ports, **({"name": match} if match else {})}}
    return doc


def target(
    name: str,
    rules: list[dict[str, Any]],
    sources: list[tuple[str, str] | str] = ("client",),  # type: ignore[assignment]
    destination: str = "web",
    *,
    version: str = "v1alpha3",
    namespace: str = MAIN,
    destination_namespace: str | None = None,
    port: int | None = None,
) -> dict[str, Any]:
    dest: dict[str, Any] = {"kind": "ServiceAccount", "name": destination}
    if destination_namespace:
        dest["namespace"] = destination_namespace
    if port is not None:
        dest["port"] = port
    subjects = []
    for source in sources:
        if isinstance(source, tuple):
            subjects.append({"kind": "ServiceAccount", "name": source[1], "namespace": source[0]})
        else:
            subjects.append({"kind": "ServiceAccount", "name": source})
    body = {"destination": dest, "sources": subjects, "specs" if version == "v1alpha1" else "rules": rules}
    doc = {
        "apiVersion": f"access.smi-spec.io/{version}",
        "kind": "TrafficTarget",
        "metadata": meta(name, namespace),
    }
    return {**doc, **body} if version == "v1alpha1" else {**doc, "spec": body}


def splits(
    root: str,
    backends: dict[str, Any],
    matches: list[str] | None = None,
    *,
    version: str = "v1alpha4",
    name: str | None = None,
    namespace: str = NS,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "service": root,
        "backends": [{"service": s, "weight": w} for s, w in backends.items()],
    }
    if matches is not None:
        spec["matches"] = [{"kind": "HTTPRouteGroup", "name": m} for m in matches]
    return {
        "apiVersion": f"split.smi-spec.io/{version}",
        "kind": "TrafficSplit",
        "metadata": meta(name or f"{root.split('.')[0]}-split", namespace),
        "spec": spec,
    }


def rule(kind: str, name: str, *matches: str) -> dict[str, Any]:
    return {"kind": kind, "name": name, **({"matches": list(matches)} if matches else {})}


def ask(documents: list[dict[str, Any]], request: Request) -> Answer:
    return Oracle(SHOP, documents).answer(request)


def get(
    path: str = "/", source: tuple[str, str] = CLIENT, service: tuple[str, str] = WEB, **kw: Any
) -> Request:
    return Request.http(source, service, path=path, **kw)


@pytest.mark.parametrize("specs_version", ["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"])
@pytest.mark.parametrize("access_version", ["v1alpha1", "v1alpha2", "v1alpha3"])
def test_http_route_group_rules_in_every_version(specs_version: str, access_version: str) -> None:
    docs = [
        group(
            "routes",
            {"name": "read", "pathRegex": "/books/.*", "methods": ["GET"]},
            {"name": "all"},
            version=specs_version,
        ),
        target("readers", [rule("HTTPRouteGroup", "routes", "read")], version=access_version),
    ]
    assert only(ask(docs, get("/books/1"))) is True
    assert only(ask(docs, get("/books/1", method="PUT"))) is False
    assert only(ask(docs, get("/other"))) is False  # "all" is not named by the rule
    assert only(ask(docs, get("/books/1", source=INTRUDER))) is False
    assert only(ask(docs, Request.tcp(CLIENT, WEB))) is False  # an HTTPRouteGroup allows no TCP flow


@pytest.mark.parametrize("specs_version", ["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"])
@pytest.mark.parametrize("access_version", ["v1alpha1", "v1alpha2", "v1alpha3"])
def test_tcp_route_rules_in_every_version(specs_version: str, access_version: str) -> None:
    """TCPRoutes before v1alpha4 have no ports: they match every port."""
    docs = [
        port_route("TCPRoute", "tcp", [9000] if specs_version == "v1alpha4" else None, specs_version),
        target("tcp", [rule("TCPRoute", "tcp")], version=access_version),
    ]
    assert only(ask(docs, Request.tcp(CLIENT, WEB))) is True
    assert only(ask(docs, Request.tcp(INTRUDER, WEB))) is False
    assert only(ask(docs, Request.udp(CLIENT, WEB))) is False
    denied = ask(docs, get("/"))
    assert only(denied) is False  # a TCPRoute alone allows no HTTP request
    assert "TCPRoute and UDPRoute rules allow no HTTP request" in denied.explanation


def test_tcp_route_ports() -> None:
    limited = [port_route("TCPRoute", "tcp", [9100]), target("tcp", [rule("TCPRoute", "tcp")])]
    assert only(ask(limited, Request.tcp(CLIENT, WEB))) is False
    every = [port_route("TCPRoute", "tcp", []), target("tcp", [rule("TCPRoute", "tcp")])]
    assert only(ask(every, Request.tcp(CLIENT, WEB))) is True


def test_udp_route_rules() -> None:
    docs = [port_route("UDPRoute", "udp", [9001]), target("udp", [rule("UDPRoute", "udp")])]
    assert only(ask(docs, Request.udp(CLIENT, WEB))) is True
    assert only(ask(docs, Request.tcp(CLIENT, WEB))) is False
    other_port = [port_route("UDPRoute", "udp", [53]), target("udp", [rule("UDPRoute", "udp")])]
    assert only(ask(other_port, Request.udp(CLIENT, WEB))) is False


@pytest.mark.parametrize("version", ["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"])
def test_splits_in_every_version(version: str) -> None:
    weights = {"web-v1": "3", "web-v2": "1000m"} if version == "v1alpha1" else {"web-v1": 3, "web-v2": 1}
    answer = ask([splits("web", weights, version=version, namespace=MAIN)], get())
    assert shares(answer) == {"web-v1": Fraction(3, 4), "web-v2": Fraction(1, 4)}
    assert allowed(answer) == {"web-v1": False, "web-v2": False}  # deny by default, wherever it goes


@pytest.mark.parametrize("version", ["v1alpha3", "v1alpha4"])
def test_split_matches_select_requests_in_every_version(version: str) -> None:
    docs = [
        group(
            "beta",
            {"name": "beta", "headers": {"x-beta": "^1$"}},
            version="v1alpha3" if version == "v1alpha3" else "v1alpha4",
        ),
        splits("web", {"web-v2": 1}, ["beta"], version=version, namespace=MAIN),
    ]
    assert shares(ask(docs, get(headers={"X-Beta": "1"}))) == {"web-v2": 1}
    assert shares(ask(docs, get(headers={"X-Beta": "2"}))) == {"web": 1}


# -- decided semantics -----------------------------------------------------------------------------------

ALL = group("all", {"name": "all"})


def test_deny_by_default() -> None:
    answer = ask([], get())
    assert only(answer) is False
    assert "no TrafficTarget has destination ServiceAccount shop/web" in answer.explanation
    assert only(ask([], Request.tcp(CLIENT, WEB))) is False


def test_targets_add_up() -> None:
    docs = [
        ALL,
        target("a", [rule("HTTPRouteGroup", "all")]),
        target("b", [rule("HTTPRouteGroup", "all")], ["intruder"]),
    ]
    assert only(ask(docs, get(source=CLIENT))) is True
    assert only(ask(docs, get(source=INTRUDER))) is True
    assert only(ask(docs, get(source=(MAIN, "observer")))) is False


def test_a_target_in_another_namespace_grants_nothing() -> None:
    """Issue 11: a TrafficTarget governs only destinations in its own namespace."""
    docs = [
        group("all", {"name": "all"}, namespace=OTHER),
        target(
            "sneaky",
            [rule("HTTPRouteGroup", "all")],
            [(OTHER, "client")],
            namespace=OTHER,
            destination_namespace=MAIN,
        ),
    ]
    answer = ask(docs, get(source=(OTHER, "client")))
    assert only(answer) is False
    assert "only governs destinations in its own namespace" in answer.explanation


def test_sources_in_other_namespaces_and_the_default_source_namespace() -> None:
    """A source may be in another namespace; one without namespace is in the TrafficTarget's."""
    docs = [ALL, target("a", [rule("HTTPRouteGroup", "all")], [(OTHER, "client")])]
    assert only(ask(docs, get(source=(OTHER, "client")))) is True
    assert only(ask(docs, get(source=CLIENT))) is False
    unqualified = [ALL, target("a", [rule("HTTPRouteGroup", "all")], ["client"])]
    assert only(ask(unqualified, get(source=CLIENT))) is True
    assert only(ask(unqualified, get(source=(OTHER, "client")))) is False


def test_a_destination_in_the_other_namespace() -> None:
    docs = [
        group("all", {"name": "all"}, namespace=OTHER),
        target("t", [rule("HTTPRouteGroup", "all")], [CLIENT], namespace=OTHER),
    ]
    assert only(ask(docs, get(service=(OTHER, "web")))) is True
    assert only(ask(docs, get(service=WEB))) is False  # same account name, other namespace


def test_empty_sources_or_rules_allow_nothing() -> None:
    no_sources = target("a", [rule("HTTPRouteGroup", "all")], [])
    assert only(ask([ALL, no_sources], get())) is False
    no_rules = target("a", [])
    answer = ask([ALL, no_rules], get())
    assert only(answer) is False and "it has no rules" in answer.explanation


def test_missing_routes_and_match_names_allow_nothing() -> None:
    answer = ask([target("a", [rule("HTTPRouteGroup", "nowhere")])], get())
    assert only(answer) is False and "no such HTTPRouteGroup" in answer.explanation
    answer = ask([ALL, target("a", [rule("HTTPRouteGroup", "all", "missing")])], get())
    assert only(answer) is False and "names matches (missing) the group does not define" in answer.explanation
    assert only(ask([target("a", [rule("TCPRoute", "nowhere")])], Request.tcp(CLIENT, WEB))) is False


def test_http_matches() -> None:
    docs = [
        group(
            "g",
            {"name": "api", "pathRegex": "/api/.*", "methods": ["*"]},
            {"name": "ff", "pathRegex": "/ui$", "headers": {"User-Agent": ".*Firefox.*", "x-beta": "^1$"}},
        ),
        target("t", [rule("HTTPRouteGroup", "g")]),
    ]
    assert only(ask(docs, get("/api/x", method="DELETE"))) is True  # "*": any method
    assert only(ask(docs, get("/api/x?y=/ui"))) is True
    assert only(ask(docs, get("/ui", headers={"user-agent": "a Firefox b", "X-BETA": "1"}))) is True
    assert only(ask(docs, get("/ui", headers={"user-agent": "a Firefox b"}))) is False  # AND
    assert only(ask(docs, get("/ui", headers={"user-agent": "Chrome", "x-beta": "1"}))) is False
    assert only(ask(docs, get("/ui?x=1", headers={"user-agent": "Firefox", "x-beta": "1"}))) is True
    assert only(ask(docs, get("/uix", headers={"user-agent": "Firefox", "x-beta": "1"}))) is False


def test_a_backend_addressed_directly_is_not_split() -> None:
    docs = [splits("web", {"web-v1": 1, "web-v2": 1}, namespace=MAIN)]
    assert shares(ask(docs, get(service=(MAIN, "web-v2")))) == {"web-v2": 1}
    assert shares(ask(docs, get(service=(MAIN, "stats")))) == {"stats": 1}


@pytest.mark.parametrize("root", ["web", f"web.{MAIN}", f"web.{MAIN}.svc", f"web.{MAIN}.svc.cluster.local"])
def test_split_root_forms(root: str) -> None:
    answer = ask([splits(root, {"web-v3": 1}, namespace=MAIN)], get())
    assert shares(answer) == {"web-v3": 1}


def test_split_root_in_another_cluster_domain_is_not_this_service() -> None:
    answer = ask([splits(f"web.{MAIN}.svc.example.org", {"web-v3": 1}, namespace=MAIN)], get())
    assert shares(answer) == {"web": 1}


def test_split_applies_to_clients_in_any_namespace_and_access_is_judged_at_the_backend() -> None:
    docs = [
        ALL,
        splits("web", {"web-v1": 1, "web-v2": 1}, namespace=MAIN),
        target("a", [rule("HTTPRouteGroup", "all")], [(OTHER, "client")]),
    ]
    answer = ask(docs, get(source=(OTHER, "client")))
    assert shares(answer) == {"web-v1": Fraction(1, 2), "web-v2": Fraction(1, 2)}
    assert allowed(answer) == {"web-v1": True, "web-v2": True}
    stats = [
        ALL,
        splits("web", {"web-v1": 1, "stats-v1": 1}, namespace=MAIN),
        target("a", [rule("HTTPRouteGroup", "all")], destination="stats"),
    ]
    answer = ask(stats, get())
    assert allowed(answer) == {"web-v1": False, "stats-v1": True}
    assert answer.destination("stats-v1").service_account == "stats"


def test_tcp_flows_are_split_by_weight() -> None:
    answer = ask([splits("web", {"web-v1": 1, "web-v2": 3}, namespace=MAIN)], Request.tcp(CLIENT, WEB))
    assert shares(answer) == {"web-v1": Fraction(1, 4), "web-v2": Fraction(3, 4)}


def test_a_service_with_workloads_of_two_identities() -> None:
    mixed = topology(
        (NS, "other"),
        [("api", {"app": "api"}, ((8080, "http"),))],
        [("api-a", "a", {"app": "api"}), ("api-b", "b", {"app": "api"}), ("client", "client", {})],
    )
    docs = [
        group("all", {"name": "all"}, namespace=NS),
        target("a", [rule("HTTPRouteGroup", "all")], ["client"], "a", namespace=NS),
    ]
    answer = Oracle(mixed, docs).answer(http("client", "api"))
    assert answer.destinations[0].service_account is None
    assert only(answer) is None
    docs.append(target("b", [rule("HTTPRouteGroup", "all")], ["client"], "b", namespace=NS))
    assert only(Oracle(mixed, docs).answer(http("client", "api"))) is True


def test_a_service_without_workloads_cannot_answer() -> None:
    empty = topology(
        (NS, "other"), [("ghost", {"app": "ghost"}, ((8080, "http"),))], [("client", "client", {})]
    )
    answer = Oracle(empty, []).answer(http("client", "ghost"))
    assert only(answer) is False
    assert answer.destinations[0].why == f"Service {NS}/ghost selects no workload: nothing can answer"


# -- the open questions: None, and the readings that part ------------------------------------------------


def test_path_anchoring_is_open_only_where_the_readings_part() -> None:
    docs = [group("g", {"name": "m", "pathRegex": "/api"}), target("t", [rule("HTTPRouteGroup", "g")])]
    assert only(ask(docs, get("/api"))) is True
    assert only(ask(docs, get("/api?x=1"))) is True
    assert only(ask(docs, get("/other"))) is False
    answer = ask(docs, get("/api/books"))
    assert only(answer) is None
    assert "allowed [path-anchoring=start]" in answer.explanation
    assert "denied [path-anchoring=full]" in answer.explanation


def test_header_regex_full_match_or_search() -> None:
    docs = [
        group("g", {"name": "m", "headers": {"x-tenant": "acme"}}),
        target("t", [rule("HTTPRouteGroup", "g")]),
    ]
    assert only(ask(docs, get(headers={"x-tenant": "acme"}))) is True
    assert only(ask(docs, get(headers={"x-tenant": "other"}))) is False
    answer = ask(docs, get(headers={"x-tenant": "old-acme"}))
    assert only(answer) is None and "header-regex=search" in answer.explanation


def test_a_missing_header_against_a_filter_that_matches_empty() -> None:
    docs = [
        group("g", {"name": "m", "headers": {"x-debug": ".*"}}),
        target("t", [rule("HTTPRouteGroup", "g")]),
    ]
    answer = ask(docs, get())
    assert only(answer) is None and "absent-header=empty-value" in answer.explanation
    strict = [
        group("g", {"name": "m", "headers": {"x-debug": ".+"}}),
        target("t", [rule("HTTPRouteGroup", "g")]),
    ]
    assert only(ask(strict, get())) is False


def test_tcp_route_beside_http_rules() -> None:
    """smi-spec#206: a TCPRoute never allows HTTP by itself; whether it limits the HTTP rules is open."""
    docs = [
        ALL,
        port_route("TCPRoute", "tcp", [9000]),
        target("t", [rule("HTTPRouteGroup", "all"), rule("TCPRoute", "tcp")]),
    ]
    answer = ask(docs, get())
    assert only(answer) is None and "tcp-rules-for-http=restrict" in answer.explanation
    covering = [
        ALL,
        port_route("TCPRoute", "tcp", [8080, 9000]),
        target("t", [rule("HTTPRouteGroup", "all"), rule("TCPRoute", "tcp")]),
    ]
    assert only(ask(covering, get())) is True
    assert only(ask(covering, Request.tcp(CLIENT, WEB))) is True


@pytest.mark.parametrize(
    ("docs", "request_", "question"),
    [
        (
            [group("g", {"name": "m", "methods": []}), target("t", [rule("HTTPRouteGroup", "g")])],
            get(),
            "empty-methods",
        ),
        (
            [ALL, target("t", [{"kind": "HTTPRouteGroup", "name": "all", "matches": []}])],
            get(),
            "empty-rule-matches",
        ),
        (
            [
                port_route("TCPRoute", "tcp", [9000], match="db"),
                target("t", [rule("TCPRoute", "tcp", "other")]),
            ],
            Request.tcp(CLIENT, WEB),
            "l4-match-names",
        ),
    ],
)
def test_open_access_questions(docs: list[dict[str, Any]], request_: Request, question: str) -> None:
    answer = ask(docs, request_)
    assert only(answer) is None
    assert f"{question}=" in answer.explanation


@pytest.mark.parametrize(
    ("docs", "request_", "allowing", "denying"),
    [
        (
            [group("g", {"name": "m", "methods": []}), target("t", [rule("HTTPRouteGroup", "g")])],
            get(),
            "empty-methods=any",
            "empty-methods=none",
        ),
        (
            [ALL, target("t", [{"kind": "HTTPRouteGroup", "name": "all", "matches": []}])],
            get(),
            "empty-rule-matches=all",
            "empty-rule-matches=none",
        ),
        (
            [
                port_route("TCPRoute", "tcp", [9000], match="db"),
                target("t", [rule("TCPRoute", "tcp", "other")]),
            ],
            Request.tcp(CLIENT, WEB),
            "l4-match-names=ignored",
            "l4-match-names=honoured",
        ),
        (
            [
                group("g", {"name": "m", "headers": {"x-tenant": "acme"}}),
                target("t", [rule("HTTPRouteGroup", "g")]),
            ],
            get(headers={"x-tenant": "old-acme"}),
            "header-regex=search",
            "header-regex=full",
        ),
        (
            [
                group("g", {"name": "m", "headers": {"x-debug": ".*"}}),
                target("t", [rule("HTTPRouteGroup", "g")]),
            ],
            get(),
            "absent-header=empty-value",
            "absent-header=no-match",
        ),
        (
            [
                ALL,
                port_route("TCPRoute", "tcp", [9000]),
                target("t", [rule("HTTPRouteGroup", "all"), rule("TCPRoute", "tcp")]),
            ],
            get(),
            "tcp-rules-for-http=separate",
            "tcp-rules-for-http=restrict",
        ),
    ],
)
def test_an_open_access_question_names_the_reading_that_allows_and_the_one_that_denies(
    docs: list[dict[str, Any]], request_: Request, allowing: str, denying: str
) -> None:
    explanation = ask(docs, request_).destinations[0].why
    assert explanation.startswith(f"the spec leaves this open: allowed [{allowing}]: allowed by "), (
        explanation
    )
    assert f" | denied [{denying}]: denied: " in explanation


TT = f"TrafficTarget {MAIN}/t"
BY = f"allowed by {TT} for ServiceAccount {MAIN}/client"
OPEN = "the spec leaves this open: "


@pytest.mark.parametrize(
    ("docs", "request_", "why"),
    [
        ([target("t", [])], get(), f"denied: {TT}: it has no rules"),
        (
            [target("t", [rule("HTTPRouteGroup", "nope")])],
            get(),
            f"denied: {TT}: rule HTTPRouteGroup {MAIN}/nope: no such HTTPRouteGroup",
        ),
        (
            [ALL, target("t", [rule("HTTPRouteGroup", "all", "x", "y")])],
            get(),
            f"denied: {TT}: rule HTTPRouteGroup {MAIN}/all: names matches (x, y) the group does not define",
        ),
        (
            [
                group("g", {"name": "a", "methods": ["POST"]}, {"name": "b", "pathRegex": "/api"}),
                target("t", [rule("HTTPRouteGroup", "g"), rule("HTTPRouteGroup", "g2")]),
            ],
            get("/x"),
            f"denied: {TT}: rule HTTPRouteGroup {MAIN}/g: no match fits ('a': method GET is not among POST; "
            f"'b': path /x does not match pathRegex '/api' from its start); rule HTTPRouteGroup {MAIN}/g2: "
            "no such HTTPRouteGroup",
        ),
        (
            [group("g"), target("t", [rule("HTTPRouteGroup", "g")])],
            get(),
            f"denied: {TT}: rule HTTPRouteGroup {MAIN}/g: no match fits (the group has no matches)",
        ),
        (
            [group("g", {"name": "m", "pathRegex": "/api"}), target("t", [rule("HTTPRouteGroup", "g")])],
            get("/api/books"),
            f"{OPEN}allowed [path-anchoring=start]: {BY}: rule HTTPRouteGroup {MAIN}/g match 'm' | denied "
            f"[path-anchoring=full]: denied: {TT}: rule HTTPRouteGroup {MAIN}/g: no match fits ('m': path "
            "/api/books does not match pathRegex '/api' as a whole)",
        ),
        (
            [group("g", {"name": "m", "methods": []}), target("t", [rule("HTTPRouteGroup", "g")])],
            get(),
            f"{OPEN}allowed [empty-methods=any]: {BY}: rule HTTPRouteGroup {MAIN}/g match 'm' | denied "
            f"[empty-methods=none]: denied: {TT}: rule HTTPRouteGroup {MAIN}/g: no match fits ('m': "
            "`methods: []` lists no method)",
        ),
        (
            [
                port_route("TCPRoute", "tcp", [9000], match="db"),
                target("t", [rule("TCPRoute", "tcp", "x", "y"), rule("TCPRoute", "other")]),
            ],
            Request.tcp(CLIENT, WEB),
            f"{OPEN}allowed [l4-match-names=ignored]: {BY}: rule TCPRoute {MAIN}/tcp (port 9000) | denied "
            f"[l4-match-names=honoured]: denied: {TT}: rule TCPRoute {MAIN}/tcp: names matches (x, y) the "
            f"route does not define; rule TCPRoute {MAIN}/other: no such TCPRoute",
        ),
        (
            [
                port_route("TCPRoute", "tcp", [9000]),
                target("t", [{"kind": "TCPRoute", "name": "tcp", "matches": []}]),
            ],
            Request.tcp(CLIENT, WEB),
            f"{OPEN}allowed [empty-rule-matches=all]: {BY}: rule TCPRoute {MAIN}/tcp (port 9000) | denied "
            f"[empty-rule-matches=none]: denied: {TT}: rule TCPRoute {MAIN}/tcp: `matches: []` names no "
            "match",
        ),
    ],
)
def test_the_explanation_of_an_access_decision(
    docs: list[dict[str, Any]], request_: Request, why: str
) -> None:
    """What the report says about a verdict, exactly: the TrafficTarget, the rule and why it does not fit,
    and under an open question which reading allows and which denies."""
    assert ask(docs, request_).destinations[0].why == why


def test_more_access_decisions_in_words() -> None:
    """Exact reasons where several TrafficTargets, several rules, several readings or several identities are
    involved; and a later TrafficTarget still allows after an earlier one does not list the caller."""
    elsewhere = ask(
        [ALL, target("t", [rule("HTTPRouteGroup", "all")], namespace=OTHER, destination_namespace=MAIN)],
        get(),
    )
    assert elsewhere.destinations[0].why == (
        f"denied: no TrafficTarget has destination ServiceAccount {MAIN}/web (TrafficTarget {OTHER}/t name "
        "it from another namespace, and a TrafficTarget only governs destinations in its own namespace)"
    )
    t1 = target("t1", [rule("HTTPRouteGroup", "all")], ["intruder"])
    denied = ask([ALL, t1, target("t2", [rule("HTTPRouteGroup", "all")], [])], get())
    assert denied.destinations[0].why == (
        f"denied: TrafficTarget {MAIN}/t1 does not list ServiceAccount {MAIN}/client; "
        f"TrafficTarget {MAIN}/t2 has no sources"
    )
    later = ask([ALL, t1, target("t2", [rule("HTTPRouteGroup", "all")])], get())
    assert only(later) is True
    assert later.destinations[0].why.startswith(f"allowed by TrafficTarget {MAIN}/t2 ")
    other_port = target("t1", [rule("HTTPRouteGroup", "all")], version="v1alpha2", port=9999)
    assert (
        ask([ALL, other_port], get()).destinations[0].why
        == f"denied: TrafficTarget {MAIN}/t1 allows port 9999 only"
    )
    assert only(ask([ALL, other_port, target("t2", [rule("HTTPRouteGroup", "all")])], get())) is True
    tcp_only = ask([port_route("TCPRoute", "tcp", [9000]), target("t", [rule("TCPRoute", "tcp")])], get())
    assert tcp_only.destinations[0].why == (
        f"denied: {TT}: it has no HTTPRouteGroup rule; TCPRoute and UDPRoute rules allow no HTTP request"
    )
    two_misses = ask(
        [
            port_route("TCPRoute", "tcp", [9001]),
            target("t", [rule("TCPRoute", "tcp"), rule("TCPRoute", "nope")]),
        ],
        Request.tcp(CLIENT, WEB),
    )
    assert two_misses.destinations[0].why == (
        f"denied: {TT}: rule TCPRoute {MAIN}/tcp: port 9000 is not among 9001; rule TCPRoute {MAIN}/nope: no "
        "such TCPRoute"
    )
    three = ask(
        [
            group("g", {"name": "m", "methods": [], "pathRegex": "/api"}),
            target("t", [rule("HTTPRouteGroup", "g")]),
        ],
        get("/api/books"),
    )
    assert three.destinations[0].why == (
        f"{OPEN}allowed [empty-methods=any, path-anchoring=start]: {BY}: rule HTTPRouteGroup {MAIN}/g match "
        f"'m' | denied [path-anchoring=full] or [empty-methods=none]: denied: {TT}: rule HTTPRouteGroup "
        f"{MAIN}/g: no match fits ('m': path /api/books does not match pathRegex '/api' as a whole)"
    )
    # a TCPRoute rule with `matches: []` beside an HTTP rule: both questions are asked for an HTTP request
    beside = [
        ALL,
        port_route("TCPRoute", "tcp", [9000]),
        target("t", [rule("HTTPRouteGroup", "all"), {"kind": "TCPRoute", "name": "tcp", "matches": []}]),
    ]
    assert (
        "denied [empty-rule-matches=all, tcp-rules-for-http=restrict] or "
        in ask(beside, get()).destinations[0].why
    )
    mixed = topology(
        (NS, "other"),
        [("api", {"app": "api"}, ((8080, "http"),))],
        [("api-a", "a", {"app": "api"}), ("api-b", "b", {"app": "api"}), ("client", "client", {})],
    )
    docs = [
        group("all", {"name": "all"}, namespace=NS),
        target("a", [rule("HTTPRouteGroup", "all")], ["client"], "a", namespace=NS),
    ]
    assert Oracle(mixed, docs).answer(http("client", "api")).destinations[0].why == (
        f"as ServiceAccount a: allowed by TrafficTarget {NS}/a for ServiceAccount {NS}/client: rule "
        f"HTTPRouteGroup {NS}/all match 'all'; as ServiceAccount b: denied: no TrafficTarget has destination "
        f"ServiceAccount {NS}/b"
    )


def test_l4_match_names_that_name_the_route_match_are_decided() -> None:
    docs = [port_route("TCPRoute", "tcp", [9000], match="db"), target("t", [rule("TCPRoute", "tcp", "db")])]
    assert only(ask(docs, Request.tcp(CLIENT, WEB))) is True


BETA = group("beta", {"name": "beta", "headers": {"x-beta": "^1$"}})


@pytest.mark.parametrize(
    ("docs", "request_", "question", "candidates"),
    [
        (
            [BETA, splits("web", {"web-v2": 1}, ["beta"], namespace=MAIN)],
            Request.tcp(CLIENT, WEB),
            "split-matches-for-l4",
            {"web-v2", "web"},
        ),
        ([splits("web", {"web-v2": 1}, [], namespace=MAIN)], get(), "split-empty-matches", {"web-v2", "web"}),
        (
            [splits("web", {"web-v2": 1}, ["nowhere"], namespace=MAIN)],
            get(),
            "split-unresolved-group",
            {"web-v2", "web"},
        ),
        (
            [splits("web", {"web-v2": 1, "web-v9": 1}, namespace=MAIN)],
            get(),
            "split-missing-backend",
            {"web-v2", "web-v9"},
        ),
        (
            [splits("web", {"web-v1": 0, "web-v2": 0}, namespace=MAIN)],
            get(),
            "split-no-weight",
            {"web", "web-v1", "web-v2"},
        ),
        (
            [splits(f"web.{MAIN}", {"web-v1": 1}, namespace=OTHER)],
            get(),
            "cross-namespace-root",
            {"web", "web-v1"},
        ),
        (
            [
                splits("web", {"web-v1": 1, "web-v2": 1}, namespace=MAIN)
                | {
                    "spec": {
                        "service": "web",
                        "backends": [
                            {"service": "web-v1", "weight": 1},
                            {"service": "web-v2", "weight": 1},
                            {"service": "web-v1", "weight": 2},
                        ],
                    }
                }
            ],
            get(),
            "duplicate-backend",
            {"web-v1", "web-v2"},
        ),
        (
            [
                splits("web", {"web-v1": 1}, namespace=MAIN, name="a"),
                splits("web", {"web-v2": 1}, namespace=MAIN, name="b"),
            ],
            get(),
            "duplicate-root",
            {"web", "web-v1", "web-v2"},
        ),
    ],
)
def test_open_routing_questions(
    docs: list[dict[str, Any]], request_: Request, question: str, candidates: set[str]
) -> None:
    answer = ask(docs, request_)
    assert not answer.shares_known
    assert set(shares(answer)) == candidates
    assert all(share is None for share in shares(answer).values())
    assert f"{question}=" in answer.routing
    assert answer.routing.startswith("the spec leaves open where this request goes")


DUPLICATED = splits("web", {"web-v1": 1, "web-v2": 1}, namespace=MAIN) | {
    "spec": {
        "service": "web",
        "backends": [
            {"service": "web-v1", "weight": 1},
            {"service": "web-v2", "weight": 1},
            {"service": "web-v1", "weight": 2},
        ],
    }
}
SPLIT = f"TrafficSplit {MAIN}/web-split"
TO_ROOT = "so the root Service's own workloads receive it (plain Kubernetes)"
EVERY = "applies (it splits every request)"
LEAVES = "the spec leaves open where this request goes: "


@pytest.mark.parametrize(
    ("docs", "request_", "outcomes"),
    [
        (
            [BETA, splits("web", {"web-v2": 1}, ["beta"], namespace=MAIN)],
            Request.tcp(CLIENT, WEB),
            [
                f"[split-matches-for-l4=split] {SPLIT} applies (its HTTP matches do not apply to tcp): "
                "web-v2 1",
                f"[split-matches-for-l4=root] {SPLIT} selects HTTP requests only, this is tcp, {TO_ROOT}",
            ],
        ),
        (
            [splits("web", {"web-v2": 1}, [], namespace=MAIN)],
            get(),
            [
                f"[split-empty-matches=all] {SPLIT} applies (it splits every request): web-v2 1",
                f"[split-empty-matches=none] {SPLIT} has `matches: []`, which selects nothing, {TO_ROOT}",
            ],
        ),
        (
            [splits("web", {"web-v2": 1}, ["nowhere"], namespace=MAIN)],
            get(),
            [
                f"[split-unresolved-group=matches-nothing] {SPLIT} splits only requests its HTTPRouteGroups "
                f"select; it matches none of them (they have no matches), {TO_ROOT}",
                f"[split-unresolved-group=matches-ignored] {SPLIT} applies (its `matches` name missing "
                "HTTPRouteGroups (nowhere), ignored): web-v2 1",
            ],
        ),
        (
            [splits("web", {"web-v2": 1, "web-v9": 1}, namespace=MAIN)],
            get(),
            [
                f"[split-missing-backend=excluded] {SPLIT} applies (it splits every request): web-v2 1 "
                "(backend web-v9 does not exist and is left out)",
                f"[split-missing-backend=fails] {SPLIT} applies (it splits every request): web-v2 1/2, "
                "web-v9 1/2 (backend web-v9 does not exist, so its share fails)",
            ],
        ),
        (
            [splits("web", {"web-v1": 0, "web-v2": 0}, namespace=MAIN)],
            get(),
            [
                f"[split-no-weight=root] {SPLIT} has no weighted backend for port 8080, {TO_ROOT}",
                f"[split-no-weight=fails] {SPLIT} has no weighted backend for port 8080: the requests fail",
            ],
        ),
        (
            [DUPLICATED],
            get(),
            [
                f"[duplicate-backend=summed] {SPLIT} {EVERY}: web-v1 3/4, web-v2 1/4",
                f"[duplicate-backend=first] {SPLIT} {EVERY}: web-v1 1/2, web-v2 1/2",
                f"[duplicate-backend=last] {SPLIT} {EVERY}: web-v1 2/3, web-v2 1/3",
            ],
        ),
    ],
)
def test_an_open_routing_says_where_each_reading_sends_the_request(
    docs: list[dict[str, Any]], request_: Request, outcomes: list[str]
) -> None:
    """The report's routing explanation pairs every reading with where it sends the request, exactly."""
    routing = ask(docs, request_).routing
    assert routing == "the spec leaves open where this request goes: " + " | ".join(outcomes)


def test_more_routings_in_words() -> None:
    """Exact routing explanations where a note, another namespace, two roots or two failures are involved."""
    other = f"TrafficSplit {OTHER}/web-split"
    cross = ask([splits(f"web.{MAIN}", {"web-v1": 1}, namespace=OTHER)], get())
    assert cross.routing == (
        f"{LEAVES}[cross-namespace-root=ignored] no TrafficSplit has root Service {MAIN}/web: the workloads "
        f"it selects receive it ({other} name it from another namespace and do not apply) | "
        "[cross-namespace-root=applies, split-missing-backend=excluded] "
        f"{other} has no weighted backend for port 8080 (backend web-v1 does not exist and is left out): the "
        "requests fail | [cross-namespace-root=applies, split-missing-backend=fails] "
        f"{other} {EVERY}: web-v1 1 (backend web-v1 does not exist, so its share fails)"
    )
    assert (
        cross.destination("web-v1", OTHER).why == f"Service {OTHER}/web-v1 does not exist: nothing can answer"
    )
    two = ask(
        [
            splits("web", {"web-v1": 1}, namespace=MAIN, name="a"),
            splits("web", {"web-v2": 1}, namespace=MAIN, name="b"),
        ],
        get(),
    )
    assert two.routing == (
        f"{LEAVES}[duplicate-root={MAIN}/a] TrafficSplit {MAIN}/a {EVERY}: web-v1 1 | "
        f"[duplicate-root={MAIN}/b] TrafficSplit {MAIN}/b {EVERY}: web-v2 1 | [duplicate-root=none] "
        f"TrafficSplit {MAIN}/a, TrafficSplit {MAIN}/b share one root and none applies: the root Service "
        "gets it"
    )
    # every weight zero and a missing backend: failing with or without it is one outcome
    zero = ask([splits("web", {"web-v1": 0, "web-v9": 0}, namespace=MAIN)], get())
    note = "(backend web-v9 does not exist and is left out)"
    assert zero.routing == (
        f"{LEAVES}[split-no-weight=root] {SPLIT} has no weighted backend for port 8080 {note}, {TO_ROOT} | "
        f"[split-no-weight=fails] {SPLIT} has no weighted backend for port 8080 {note}: the requests fail"
    )


def test_routings_past_missing_backends_and_duplicates() -> None:
    """Backends after missing ones still count; a split with every backend listed twice is still open; a
    split of the root from another namespace beside the root's own split raises the duplicate-root
    question (so "none applies" is a candidate too)."""
    missing = ask([splits("web", {"web-v9": 1, "web-v8": 1, "web-v2": 1}, namespace=MAIN)], get())
    gone = "does not exist and is left out"
    fails = "does not exist, so its share fails"
    assert missing.routing == (
        f"{LEAVES}[split-missing-backend=excluded] {SPLIT} {EVERY}: web-v2 1 (backend web-v9 {gone}; backend "
        f"web-v8 {gone}) | [split-missing-backend=fails] {SPLIT} {EVERY}: web-v9 1/3, web-v8 1/3, web-v2 1/3 "
        f"(backend web-v9 {fails}; backend web-v8 {fails})"
    )
    twice = {"web-v1": [1, 2], "web-v2": [1, 3]}
    both = splits("web", {}, namespace=MAIN)
    both["spec"]["backends"] = [
        {"service": name, "weight": weights[i]} for i in (0, 1) for name, weights in twice.items()
    ]
    assert ask([both], get()).routing == (
        f"{LEAVES}[duplicate-backend=summed] {SPLIT} {EVERY}: web-v1 3/7, web-v2 4/7 | "
        f"[duplicate-backend=first] {SPLIT} {EVERY}: web-v1 1/2, web-v2 1/2 | "
        f"[duplicate-backend=last] {SPLIT} {EVERY}: web-v1 2/5, web-v2 3/5"
    )
    own_and_cross = ask(
        [
            splits("web", {"web-v1": 1}, namespace=MAIN),
            splits(f"web.{MAIN}", {"web": 1}, namespace=OTHER, name="x"),
        ],
        get(),
    )
    assert {(d.namespace, d.service) for d in own_and_cross.destinations} == {
        (MAIN, "web-v1"),
        (OTHER, "web"),
        (MAIN, "web"),
    }
    assert own_and_cross.routing.endswith(
        f"[cross-namespace-root=applies, duplicate-root=none] {SPLIT}, TrafficSplit {OTHER}/x share one "
        "root and none applies: the root Service gets it"
    )


def test_a_missing_backend_that_keeps_its_share_lets_nothing_in() -> None:
    answer = ask(
        [
            ALL,
            splits("web", {"web-v2": 1, "web-v9": 1}, namespace=MAIN),
            target("t", [rule("HTTPRouteGroup", "all")]),
        ],
        get(),
    )
    assert allowed(answer) == {"web-v2": True, "web-v9": False}
    assert answer.destination("web-v9").why == f"Service {MAIN}/web-v9 does not exist: nothing can answer"


def test_a_backend_without_the_port_is_left_out_and_the_next_one_counts() -> None:
    api = topology(
        (NS, "other"),
        [
            ("api", {"app": "api"}, ((8080, "http"),)),
            ("api-v2", {"app": "api", "version": "v2"}, ((9090, "http"),)),
            ("api-v3", {"app": "api", "version": "v3"}, ((8080, "http"),)),
        ],
        [("api-c", "c", {"app": "api", "version": "v3"}), ("client", "client", {})],
    )
    answer = Oracle(api, [splits("api", {"api-v2": 1, "api-v3": 1}, namespace=NS)]).answer(
        http("client", "api")
    )
    assert shares(answer) == {"api-v3": 1}
    assert answer.routing == (
        f"TrafficSplit {NS}/api-split {EVERY}: api-v3 1 (backend api-v2 has no port 8080 and is left out "
        "(spec: Ports))"
    )


def test_an_open_routing_still_judges_access_at_every_candidate() -> None:
    docs = [
        ALL,
        BETA,
        splits("web", {"web-v2": 1}, ["beta"], namespace=MAIN),
        target("t", [rule("HTTPRouteGroup", "all")]),
    ]
    answer = ask(docs, Request.tcp(CLIENT, WEB))
    assert allowed(answer) == {"web-v2": False, "web": False}
    answer = ask(docs, get(headers={"x-beta": "1"}))
    assert shares(answer) == {"web-v2": 1} and allowed(answer) == {"web-v2": True}


def test_every_question_is_documented() -> None:
    keys = [q.key for q in readings.QUESTIONS]
    assert len(keys) == len(set(keys))
    for question in readings.QUESTIONS:
        assert len(question.options) >= 2 and question.text
        assert all(text for text in question.options.values())


def test_explore_runs_each_combination_of_the_readings_asked_once() -> None:
    def decide(choose: readings.Chooser) -> tuple[str, ...]:
        first = choose(readings.PATH_ANCHORING)
        if first == "start":
            return (first, choose(readings.HEADER_REGEX), choose(readings.SPLIT_UNRESOLVED_GROUP))
        return (first,)

    leaves = readings.explore(decide)
    assert [leaf.value for leaf in leaves] == [
        ("start", "full", "matches-nothing"),
        ("start", "full", "split-ignored"),
        ("start", "full", "matches-ignored"),
        ("start", "search", "matches-nothing"),
        ("start", "search", "split-ignored"),
        ("start", "search", "matches-ignored"),
        ("full",),
    ]
    assert readings.explore(lambda choose: 1)[0].reading == ()


# -- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        (
            [
                ALL,
                {
                    "apiVersion": "split.smi-spec.io/v1alpha4",
                    "kind": "TrafficSplit",
                    "metadata": {"name": "x"},
                    "spec": {"service": "web", "backends": [{"service": "web-v1", "weight": -1}]},
                },
            ],
            "document 1 (TrafficSplit split.smi-spec.io/v1alpha4): invalid TrafficSplit",
        ),
        (
            [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}],
            "document 0 (Service v1): not a known SMI kind",
        ),
        (
            [
                {
                    "apiVersion": "access.smi-spec.io/v1alpha4",
                    "kind": "IdentityBinding",
                    "metadata": {"name": "x"},
                    "spec": {"schemes": {"serviceAccount": "a"}},
                }
            ],
            "unreleased, experimental version",
        ),
        ([ALL, ALL], "document 1 (HTTPRouteGroup shop/all): defines the same object as document 0"),
        (
            [group("g", {"name": "m", "pathRegex": "/a(?=b)"})],
            "document 0 (HTTPRouteGroup shop/g): spec.matches[0].pathRegex: RE2 rejects",
        ),
        (
            [group("g", {"name": "m", "headers": {"x": "[a"}}, version="v1alpha2")],
            "matches[0].headers.x: RE2 rejects",
        ),
        (["not a document"], "document 0: expected a mapping"),
        (
            [
                {
                    "apiVersion": "metrics.smi-spec.io/v1alpha1",
                    "kind": "TrafficMetricsList",
                    "resource": {"kind": "Pod"},
                    "items": [],
                }
            ],
            "not a policy object",
        ),
    ],
)
def test_bad_documents_are_located_errors(docs: list[Any], message: str) -> None:
    with pytest.raises(OracleError) as error:
        Oracle(SHOP, docs)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: get(source=(MAIN, "nobody")), "no workload shop/nobody"),
        (lambda: get(service=(MAIN, "nothing")), "no Service shop/nothing"),
        (lambda: get(port=1234), "has no port 1234"),
        (lambda: Request.tcp(CLIENT, WEB, port=8080), "port 8080 of shop/web serves http, not tcp"),
        (lambda: get("books"), "must start with '/'"),
        (lambda: get("/a/../admin"), "dot segments"),
        (lambda: get("/a/%2e%2e/admin"), "upper-case percent-encoding"),
        (lambda: get("/a/%2E%2E/admin"), "%2E encodes '.'"),
        (lambda: get("/a%2Fb"), "%2F encodes '/'"),
        (lambda: get("/a b"), "printable ASCII"),
        (lambda: get(headers=[("x-a", "1"), ("X-A", "2")]), "given twice"),
        (lambda: get(method="GE T"), "HTTP method token"),
        (lambda: Request(CLIENT, WEB, "tcp", 9000, method="GET"), "a tcp flow has no method"),
        (lambda: Request(CLIENT, WEB, "sctp", 9000), "must be one of http, tcp, udp"),  # type: ignore[arg-type]
        (lambda: Request(CLIENT, WEB, "tcp", 0), "port number from 1 to 65535"),
    ],
)
def test_bad_requests_are_errors(make: Any, message: str) -> None:
    with pytest.raises(OracleError) as error:
        ASKED.answer(make())
    assert message in str(error.value)


ASKED = Oracle(SHOP, [])


def test_percent_encodings_that_survive_normalisation_are_fine() -> None:
    assert only(ASKED.answer(get("/files/caf%C3%A9"))) is False


# -- the answer as data -------------------------------------------------------------------------------------


def test_answers_are_json_and_round_trip() -> None:
    docs = [
        ALL,
        BETA,
        splits("web", {"web-v1": 1, "web-v2": 2}, namespace=MAIN),
        target("t", [rule("HTTPRouteGroup", "all")]),
    ]
    oracle = Oracle(SHOP, docs)
    for request in (
        get("/x", headers={"x-beta": "1"}),
        Request.tcp(CLIENT, WEB),
        get(service=(MAIN, "stats")),
    ):
        answer = oracle.answer(request)
        data = json.loads(json.dumps(answer.to_dict()))
        assert Answer.from_dict(data) == answer
        assert data["explanation"] == answer.explanation
    assert oracle.answer(get()).to_dict()["destinations"][1]["share"] == "2/3"


def test_module_docstring_example_runs() -> None:
    result = doctest.testmod(oracle_module, verbose=False)
    assert result.attempted >= 4 and result.failed == 0


# -- properties over generated policies --------------------------------------------------------------------

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOPOLOGY = standard_topology()


def verdicts(answer: Answer) -> list[tuple[str, str, Fraction | None, bool | None]]:
    return [(d.namespace, d.service, d.share, d.allowed) for d in answer.destinations]


@PROPERTY
@given(st.data(), generated.cases(TOPOLOGY, older=True, anchoring=True, header_search=True, mixed_rules=True))
def test_adding_a_traffic_target_never_denies_what_was_allowed(
    data: st.DataObject, case: tuple[list[dict[str, Any]], list[Request]]
) -> None:
    documents, sent = case
    routes = [d for d in documents if d["kind"] in ("HTTPRouteGroup", "TCPRoute", "UDPRoute")]
    extra = data.draw(generated.traffic_targets(TOPOLOGY, routes, name="added", mixed_rules=True))
    before, after = Oracle(TOPOLOGY, documents), Oracle(TOPOLOGY, [*documents, extra])
    for request in sent:
        old, new = before.answer(request), after.answer(request)
        assert shares(old) == shares(new)  # access never moves traffic
        for was, now in zip(old.destinations, new.destinations, strict=True):
            if was.allowed is True:
                assert now.allowed is True, f"{request}\n{extra}\n{now.why}"
            if now.allowed is False:
                assert was.allowed is False


@PROPERTY
@given(st.data(), generated.cases(TOPOLOGY, anchoring=True, header_search=True, mixed_rules=True))
def test_the_same_policy_in_older_versions_gets_the_same_answers(
    data: st.DataObject, case: tuple[list[dict[str, Any]], list[Request]]
) -> None:
    documents, sent = case
    older = data.draw(generated.older_versions(documents))
    latest, converted = Oracle(TOPOLOGY, documents), Oracle(TOPOLOGY, older)
    for request in sent:
        assert verdicts(latest.answer(request)) == verdicts(converted.answer(request))


@PROPERTY
@given(generated.cases(TOPOLOGY, older=True, anchoring=True, header_search=True, mixed_rules=True))
def test_shares_sum_to_one_or_are_all_open(case: tuple[list[dict[str, Any]], list[Request]]) -> None:
    documents, sent = case
    oracle = Oracle(TOPOLOGY, documents)
    for request in sent:
        answer = oracle.answer(request)
        assert answer.destinations
        if answer.shares_known:
            assert sum(d.share for d in answer.destinations if d.share is not None) == 1
            assert all(d.share is not None and d.share >= 0 for d in answer.destinations)
        else:
            assert all(d.share is None for d in answer.destinations)
            assert "the spec leaves open" in answer.routing
        assert Answer.from_dict(json.loads(json.dumps(answer.to_dict()))) == answer


@PROPERTY
@given(generated.policies(TOPOLOGY, older=True, anchoring=True, header_search=True, mixed_rules=True))
def test_a_request_to_a_backend_service_directly_is_never_split(documents: list[dict[str, Any]]) -> None:
    oracle = Oracle(TOPOLOGY, documents)
    roots = {d["spec"]["service"].split(".")[0] for d in documents if d["kind"] == "TrafficSplit"}
    for service in TOPOLOGY.services:
        if service.name in roots and service.namespace == TOPOLOGY.main:
            continue
        for port in service.ports:
            http = ("GET", "/") if port.protocol == "http" else (None, None)
            request = Request(
                (TOPOLOGY.main, "client"), (service.namespace, service.name), port.protocol, port.port, *http
            )
            answer = oracle.answer(request)
            assert [(d.service, d.share) for d in answer.destinations] == [(service.name, 1)]
