"""access.smi-spec.io: deny by default, identity-based allows, route rules, namespaces.

"Denied" means no request answered by the destination (403, 404, reset, refused, timeout: the form is
recorded); "allowed" means every request answered (2xx) by the addressed Service's own backends.
"""

from __future__ import annotations

from typing import Any

from smi_conformance.suite import manifests as m
from smi_conformance.suite.context import TestContext
from smi_conformance.suite.features import Feature
from smi_conformance.suite.registry import conformance
from smi_conformance.suite.topology import Topology

ACCESS = "access.smi-spec.io"
F = Feature


@conformance(
    "access-deny-by-default",
    "Before any TrafficTarget exists, no client reaches any service (HTTP)",
    group=ACCESS,
    features={F.TRAFFIC_TARGET},
)
def test_deny_by_default(smi: TestContext) -> None:
    for client in ("client", "intruder", "observer"):
        smi.expect_access(client, "web", allowed=False)
    smi.expect_access("client", "web-v2", allowed=False)
    smi.expect_access("client", "stats", allowed=False)


def _allow_client(t: Topology) -> list[dict[str, Any]]:
    return m.allow(t, "client-to-web", sources=["client"], destination="web")


@conformance(
    "access-listed-source-allowed",
    "A TrafficTarget allows its listed source; every other identity stays denied",
    group=ACCESS,
    features={F.TRAFFIC_TARGET},
    objects=_allow_client,
)
def test_listed_source_allowed(smi: TestContext) -> None:
    smi.expect_access("client", "web", allowed=True)
    smi.expect_access("client", "web-v1", allowed=True)
    smi.expect_access("intruder", "web", allowed=False)
    smi.expect_access("client", "stats", allowed=False)


@conformance(
    "access-delete-denies-again",
    "Deleting the only TrafficTarget that allowed a source denies it again",
    group=ACCESS,
    features={F.TRAFFIC_TARGET},
    objects=_allow_client,
)
def test_delete_denies_again(smi: TestContext) -> None:
    smi.expect_access("client", "web", allowed=True)
    smi.delete([d for d in _allow_client(smi.topology) if d["kind"] == "TrafficTarget"])
    smi.expect_access("client", "web", allowed=False)


def _rules(
    t: Topology, name: str, *matches: dict[str, Any], sources: list[Any] | None = None
) -> list[dict[str, Any]]:
    """An HTTPRouteGroup with ``matches`` and a TrafficTarget allowing ``sources`` (default: client) to web
    through all of them."""
    return [
        m.http_routes(t, f"{name}-routes", list(matches)),
        m.traffic_target(
            t,
            name,
            destination="web",
            sources=sources or ["client"],
            rules=[
                {"kind": "HTTPRouteGroup", "name": f"{name}-routes", "matches": [x["name"] for x in matches]}
            ],
        ),
    ]


@conformance(
    "access-http-methods",
    "An HTTPRouteGroup match with methods allows only those methods",
    group=ACCESS,
    features={F.TRAFFIC_TARGET, F.HTTP_ROUTE_METHODS},
    objects=lambda t: _rules(t, "get-only", m.http_match("reads", path_regex="/.*", methods=["GET", "HEAD"])),
)
def test_http_methods(smi: TestContext) -> None:
    smi.expect_access("client", "web", allowed=True, method="GET", path="/books")
    smi.expect_access("client", "web", allowed=False, method="POST", path="/books")
    smi.expect_access("client", "web", allowed=False, method="DELETE", path="/books")


@conformance(
    "access-http-path-regex",
    "An HTTPRouteGroup match with a pathRegex allows only the paths it matches",
    group=ACCESS,
    features={F.TRAFFIC_TARGET, F.HTTP_ROUTE_PATH_REGEX},
    objects=lambda t: _rules(t, "books", m.http_match("books", path_regex="/books/[0-9]+", methods=["*"])),
)
def test_http_path_regex(smi: TestContext) -> None:
    smi.expect_access("client", "web", allowed=True, path="/books/42")
    smi.expect_access("client", "web", allowed=True, path="/books/42?format=json")
    smi.expect_access("client", "web", allowed=False, path="/authors/7")
    smi.expect_access("client", "web", allowed=False, path="/books/new")
    smi.expect_access("client", "web", allowed=False, path="/shop/books/42")


@conformance(
    "access-http-headers",
    "An HTTPRouteGroup match with headers allows only requests carrying matching headers",
    group=ACCESS,
    features={F.TRAFFIC_TARGET, F.HTTP_ROUTE_HEADERS},
    objects=lambda t: _rules(
        t, "beta-users", m.http_match("beta", path_regex="/.*", methods=["*"], headers={"x-group": "beta"})
    ),
)
def test_http_headers(smi: TestContext) -> None:
    smi.expect_access("client", "web", allowed=True, headers=[("x-group", "beta")])
    smi.expect_access("client", "web", allowed=True, headers=[("X-Group", "beta")])
    smi.expect_access("client", "web", allowed=False, headers=[("x-group", "stable")])
    smi.expect_access("client", "web", allowed=False)


def _two_targets(t: Topology) -> list[dict[str, Any]]:
    return [
        *_rules(t, "reads", m.http_match("reads", path_regex="/reads/.*", methods=["GET"])),
        *_rules(t, "writes", m.http_match("writes", path_regex="/writes/.*", methods=["POST"])),
    ]


@conformance(
    "access-targets-add-up",
    "Several TrafficTargets add up; deleting one withdraws only what it allowed",
    group=ACCESS,
    features={F.TRAFFIC_TARGET, F.HTTP_ROUTE_METHODS, F.HTTP_ROUTE_PATH_REGEX},
    objects=_two_targets,
)
def test_targets_add_up(smi: TestContext) -> None:
    smi.expect_access("client", "web", allowed=True, method="GET", path="/reads/1")
    smi.expect_access("client", "web", allowed=True, method="POST", path="/writes/1")
    smi.delete([d for d in _two_targets(smi.topology) if d["metadata"]["name"] == "writes"])
    smi.expect_access("client", "web", allowed=False, method="POST", path="/writes/1")
    smi.expect_access("client", "web", allowed=True, method="GET", path="/reads/1")


def _empty(t: Topology) -> list[dict[str, Any]]:
    everything = m.http_routes(t, "empty-all", [m.http_match("all", path_regex="/.*", methods=["*"])])
    rule = {"kind": "HTTPRouteGroup", "name": "empty-all", "matches": ["all"]}
    return [
        everything,
        m.traffic_target(t, "no-sources", destination="web", sources=[], rules=[rule]),
        m.traffic_target(t, "no-rules", destination="web", sources=["client"], rules=[]),
        m.traffic_target(
            t,
            "missing-routes",
            destination="web",
            sources=["client"],
            rules=[{"kind": "HTTPRouteGroup", "name": "no-such-group"}],
        ),
    ]


@conformance(
    "access-empty-target-allows-nothing",
    "TrafficTargets without sources, without rules, or whose rules name routes or matches that do not exist "
    "allow nothing",
    group=ACCESS,
    features={F.TRAFFIC_TARGET},
    objects=_empty,
)
def test_empty_target_allows_nothing(smi: TestContext) -> None:
    # held: denial is also what a mesh shows before it has read the targets
    smi.expect_access("client", "web", allowed=False, hold=True)
    smi.expect_access("client", "web", allowed=False, method="POST", path="/anything")
    smi.expect_access("intruder", "web", allowed=False)
    missing_match = m.traffic_target(
        smi.topology,
        "missing-match",
        destination="web",
        sources=["client"],
        rules=[{"kind": "HTTPRouteGroup", "name": "empty-all", "matches": ["no-such-match"]}],
    )
    if smi.apply_unless_refused([missing_match], "a rule naming a match its HTTPRouteGroup lacks"):
        smi.expect_access("client", "web", allowed=False, hold=True)


def _tcp(t: Topology, ports: list[int] | None = None) -> list[dict[str, Any]]:
    return [
        m.tcp_route(t, "web-tcp", ports),
        m.traffic_target(
            t,
            "tcp-client",
            destination="web",
            sources=["client"],
            rules=[{"kind": "TCPRoute", "name": "web-tcp"}],
        ),
    ]


@conformance(
    "access-tcp-route",
    "TCP connections are denied by default and allowed by a TrafficTarget with a TCPRoute rule",
    group=ACCESS,
    features={F.TRAFFIC_TARGET, F.TCP_ROUTE},
    objects=_tcp,
)
def test_tcp_route(smi: TestContext) -> None:
    smi.expect_access("client", "web", allowed=True, protocol="tcp")
    smi.expect_access("intruder", "web", allowed=False, protocol="tcp")
    smi.expect_access("client", "stats", allowed=False, protocol="tcp")


@conformance(
    "access-tcp-route-ports",
    "specs v1alpha4: a TCPRoute allows only the ports it lists",
    group=ACCESS,
    features={F.TRAFFIC_TARGET, F.TCP_ROUTE, F.TCP_ROUTE_PORTS},
    versions={"specs.smi-spec.io": ("v1alpha4",)},
    objects=lambda t: _tcp(t, [9999]),
)
def test_tcp_route_ports(smi: TestContext) -> None:
    smi.expect_access("client", "web", allowed=False, protocol="tcp", hold=True)
    smi.apply(_tcp(smi.topology, [9000]))
    smi.expect_access("client", "web", allowed=True, protocol="tcp")


@conformance(
    "access-udp-route",
    "UDP flows are denied by default and allowed by a TrafficTarget with a UDPRoute rule",
    group=ACCESS,
    features={F.TRAFFIC_TARGET, F.UDP_ROUTE},
    versions={"specs.smi-spec.io": ("v1alpha4",), "access.smi-spec.io": ("v1alpha3",)},
    objects=lambda t: [
        m.udp_route(t, "web-udp"),
        m.traffic_target(
            t,
            "udp-client",
            destination="web",
            sources=["client"],
            rules=[{"kind": "UDPRoute", "name": "web-udp"}],
        ),
    ],
)
def test_udp_route(smi: TestContext) -> None:
    smi.expect_access("client", "web", allowed=True, protocol="udp")
    smi.expect_access("intruder", "web", allowed=False, protocol="udp")


# ------------------------------------------------------------------------------------------- namespaces
@conformance(
    "access-source-namespace",
    "A source is a service account in a namespace: the same name in another namespace is another identity",
    group=ACCESS,
    features={F.TRAFFIC_TARGET, F.TRAFFIC_TARGET_NAMESPACES},
    objects=_allow_client,
)
def test_source_namespace(smi: TestContext) -> None:
    t = smi.topology
    smi.expect_access("client", "web", allowed=True)
    smi.expect_access("client", "web", allowed=False, client_namespace=t.other)


@conformance(
    "access-cross-namespace-source",
    "A TrafficTarget may allow a source from another namespace, and only that one",
    group=ACCESS,
    features={F.TRAFFIC_TARGET, F.TRAFFIC_TARGET_NAMESPACES},
    objects=lambda t: m.allow(t, "from-other", sources=[(t.other, "client")], destination="web"),
)
def test_cross_namespace_source(smi: TestContext) -> None:
    t = smi.topology
    smi.expect_access("client", "web", allowed=True, client_namespace=t.other)
    smi.expect_access("client", "web", allowed=False)


@conformance(
    "access-destination-namespace",
    "A TrafficTarget's destination is a service account of its own namespace: the same name elsewhere stays "
    "denied",
    group=ACCESS,
    features={F.TRAFFIC_TARGET, F.TRAFFIC_TARGET_NAMESPACES},
    objects=lambda t: m.allow(t, "to-main-web", sources=[(t.other, "client")], destination="web"),
)
def test_destination_namespace(smi: TestContext) -> None:
    t = smi.topology
    smi.expect_access("client", "web", allowed=True, client_namespace=t.other)
    smi.expect_access("client", "web", allowed=False, client_namespace=t.other, service_namespace=t.other)


@conformance(
    "access-no-foreign-grants",
    "A TrafficTarget grants nothing for a destination in another namespace (only a service's owner may allow "
    "traffic to it): it is refused, or it allows nothing",
    group=ACCESS,
    features={F.TRAFFIC_TARGET, F.TRAFFIC_TARGET_NAMESPACES},
)
def test_no_foreign_grants(smi: TestContext) -> None:
    t = smi.topology
    foreign = m.allow(t, "foreign-grant", sources=["client"], destination="web", namespace=t.other)
    foreign[-1]["spec"]["destination"]["namespace"] = t.main
    smi.expect_access("client", "web", allowed=False, client_namespace=t.other)
    if smi.apply_unless_refused(foreign, "a TrafficTarget for a destination in another namespace"):
        smi.expect_access("client", "web", allowed=False, client_namespace=t.other, hold=True)
