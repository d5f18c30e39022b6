"""The suite's object builders: every object they make is valid SMI (the models), lints clean with the
`smi lint` engine against the standard topology's Services and ServiceAccounts, is labelled as the suite's,
and says what the test meant (weights, sources, rules)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
import yaml

from smi_conformance import models
from smi_conformance.lint import Finding, lint_documents
from smi_conformance.manifests import load_text
from smi_conformance.suite import manifests as m
from smi_conformance.suite.topology import Topology, standard_topology

T = standard_topology("conf-a")
#: The one finding a header filter written as a map gets: a portability note (SPEC-NOTES: the smi-sdk-go CRDs
#: want a list of one-key maps; the docs and the other CRD set a map; the suite writes the documented form).
HEADERS_AS_MAP = "SMI701"


def topology_objects(t: Topology) -> list[dict[str, Any]]:
    """The Services and ServiceAccounts the standard topology deploys, as Kubernetes objects: what the
    linter resolves references against."""
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}
        for ns, name in t.service_accounts
    ]
    for s in t.services:
        ports = [
            {
                "name": p.name,
                "port": p.port,
                "targetPort": p.port,
                "protocol": "UDP" if p.protocol == "udp" else "TCP",
            }
            for p in s.ports
        ]
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": s.name, "namespace": s.namespace},
                "spec": {"selector": dict(s.selector), "ports": ports},
            }
        )
    return docs


def lint(docs: list[dict[str, Any]], t: Topology = T) -> list[Finding]:
    loaded = load_text(yaml.safe_dump_all([*topology_objects(t), *docs], sort_keys=False), "objects.yaml")
    assert not loaded.issues
    return lint_documents(loaded.documents).findings


def built(t: Topology = T) -> dict[str, list[dict[str, Any]]]:
    """One of everything, as tests write it."""
    return {
        "http_routes": [
            m.http_routes(
                t,
                "routes",
                [
                    m.http_match("everything"),
                    m.http_match("books", path_regex="/books/[0-9]+", methods=["GET", "HEAD"]),
                ],
            )
        ],
        "http_routes_headers": [
            m.http_routes(t, "beta", [m.http_match("beta", path_regex="/.*", headers={"x-group": "beta"})])
        ],
        "tcp_route_all_ports": [m.tcp_route(t, "tcp-all")],
        "tcp_route_ports": [m.tcp_route(t, "tcp-9000", [9000])],
        "udp_route": [m.udp_route(t, "udp-all", namespace=t.other)],
        "traffic_target": [
            m.http_routes(t, "routes", [m.http_match("books", path_regex="/books/.*", methods=["GET"])]),
            m.tcp_route(t, "tcp-all"),
            m.traffic_target(
                t,
                "readers",
                destination="web",
                sources=["client", (t.other, "client")],
                rules=[
                    {"kind": "HTTPRouteGroup", "name": "routes", "matches": ["books"]},
                    {"kind": "TCPRoute", "name": "tcp-all"},
                ],
            ),
        ],
        "allow": m.allow(t, "client-to-web", sources=["client"], destination="web"),
        "allow_tcp_udp_other_ns": m.allow(
            t,
            "other",
            sources=[(t.main, "client"), "client"],
            destination="web",
            namespace=t.other,
            tcp=True,
            udp=True,
        ),
        "split": [m.split(t, "web-split", "web", {"web-v1": 50, "web-v2": 30, "web-v3": 20})],
        "split_matches": [
            m.http_routes(t, "canary-requests", [m.http_match("canary", headers={"x-canary": "1"})]),
            m.split(t, "canary", "web", {"web-v2": 1}, matches=["canary-requests"]),
        ],
        "split_zero": [m.split(t, "zero", "stats", {"stats-v1": 0, "stats-v2": 1})],
    }


RELEASED = {(info.group, info.kind): info.version for info in models.kinds() if info.status == "released"}


@pytest.mark.parametrize("case", sorted(built()))
def test_every_builder_makes_valid_smi_in_the_newest_released_version_that_lints_clean(case: str) -> None:
    docs = built()[case]
    for doc in docs:
        assert models.validate(doc) == [], doc
        group, _, version = doc["apiVersion"].partition("/")
        assert version == RELEASED[(group, doc["kind"])]
        assert doc["metadata"]["labels"] == {m.TEST_LABEL: "true"}
        assert doc["metadata"]["namespace"] in T.namespaces
    findings = lint(docs)
    allowed = {HEADERS_AS_MAP} if "headers" in yaml.safe_dump(docs) else set()
    if any(d["kind"] == "HTTPRouteGroup" and {"name"} in map(set, d["spec"]["matches"]) for d in docs):
        allowed.add("SMI504")  # http_match() without criteria is a deliberate catch-all: the linter says so
    assert [f"{f.code} {f.message}" for f in findings if f.code not in allowed] == []


def test_objects_live_in_the_main_namespace_unless_told_and_names_resolve_there() -> None:
    target = built()["traffic_target"][-1]
    assert target["metadata"]["namespace"] == "conf-a"
    assert target["spec"]["destination"] == {"kind": "ServiceAccount", "name": "web", "namespace": "conf-a"}
    assert target["spec"]["sources"] == [
        {"kind": "ServiceAccount", "name": "client", "namespace": "conf-a"},
        {"kind": "ServiceAccount", "name": "client", "namespace": "conf-a-other"},
    ]
    other = built()["allow_tcp_udp_other_ns"]
    assert {d["metadata"]["namespace"] for d in other} == {"conf-a-other"}
    assert other[-1]["spec"]["sources"][1] == {
        "kind": "ServiceAccount",
        "name": "client",
        "namespace": "conf-a-other",
    }
    moved = m.traffic_target(T, "x", destination="web", sources=[], rules=[], destination_namespace=T.other)
    assert moved["spec"]["destination"]["namespace"] == T.other


def test_allow_lets_the_sources_make_any_request_on_the_ports_asked_for() -> None:
    http_only = m.allow(T, "a", sources=["client"], destination="web")
    assert [d["kind"] for d in http_only] == ["HTTPRouteGroup", "TrafficTarget"]
    assert http_only[0]["spec"]["matches"] == [{"name": "everything", "pathRegex": "/.*", "methods": ["*"]}]
    everything = m.allow(T, "a", sources=["client"], destination="web", tcp=True, udp=True)
    assert [d["kind"] for d in everything] == ["HTTPRouteGroup", "TCPRoute", "UDPRoute", "TrafficTarget"]
    assert everything[-1]["spec"]["rules"] == [
        {"kind": "HTTPRouteGroup", "name": "a-all", "matches": ["everything"]},
        {"kind": "TCPRoute", "name": "a-tcp"},
        {"kind": "UDPRoute", "name": "a-udp"},
    ]
    assert everything[1]["spec"] == {"matches": {"ports": []}}  # every port (specs v1alpha4)


def test_a_match_without_criteria_matches_everything_and_criteria_are_kept_as_given() -> None:
    assert m.http_match("all") == {"name": "all"}
    assert m.http_match("x", path_regex="/a", methods=("GET",), headers={"h": "v"}) == {
        "name": "x",
        "pathRegex": "/a",
        "methods": ["GET"],
        "headers": {"h": "v"},
    }


def test_split_weights_are_kept_and_matches_reference_route_groups() -> None:
    split = built()["split_matches"][-1]["spec"]
    assert split == {
        "service": "web",
        "backends": [{"service": "web-v2", "weight": 1}],
        "matches": [{"kind": "HTTPRouteGroup", "name": "canary-requests"}],
    }
    plain = built()["split"][0]["spec"]
    assert "matches" not in plain
    assert [b["weight"] for b in plain["backends"]] == [50, 30, 20]


def test_fractional_split_weights_keep_their_ratio() -> None:
    """Weights are relative: 2/3 and 1/3 are 2:1, never truncated to 0:0."""
    split = m.split(T, "thirds", "web", {"web-v1": Fraction(2, 3), "web-v2": Fraction(1, 3)})
    assert [b["weight"] for b in split["spec"]["backends"]] == [2, 1]
    halves = m.split(T, "halves", "web", {"web-v1": Fraction(1, 2), "web-v2": 1, "web-v3": Fraction(3, 4)})
    assert [b["weight"] for b in halves["spec"]["backends"]] == [2, 4, 3]
    assert models.validate(halves) == []
    whole = m.split(T, "whole", "web", {"web-v1": Fraction(90), "web-v2": 10})
    assert [b["weight"] for b in whole["spec"]["backends"]] == [90, 10]
