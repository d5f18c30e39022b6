"""Outbound routing (sans-IO): authorities, splits with matches, missing and zero-weight backends, ports."""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction

import pytest
from loopback import LoopbackMesh

from reference_mesh.proxy.config import HttpMatch, ServicePort, SplitBackend, TrafficSplitConfig
from reference_mesh.proxy.endpoints import EndpointRegistry
from reference_mesh.proxy.routing import OutboundTable, RouteError


def table(split: TrafficSplitConfig | None = None, **extra_ports: dict[int, str]) -> OutboundTable:
    mesh = LoopbackMesh(namespace="shop")
    web = mesh.add("web-0", "web")
    mesh.add("api-v1-0", "api-v1", ["api", "api-v1"], ports={8080: "http", 9000: "tcp"})
    mesh.add("api-v2-0", "api-v2", ["api-v2"], ports={8080: "http"})
    mesh.add("multi-0", "multi", ["multi"], ports={8080: "http", 8081: "http"})
    if split is not None:
        mesh.splits["api"] = split
    return OutboundTable(mesh.config(web), EndpointRegistry(), {}, random.Random(0))


@pytest.mark.parametrize(
    "authority",
    [
        "api",
        "api:8080",
        "api.shop",
        "API.shop.svc",
        "api.shop.svc.cluster.local",
        "api.shop.svc.cluster.local.:8080",
    ],
)
def test_authority_forms(authority: str) -> None:
    svc, port = table().resolve_authority(authority)
    assert (svc.key, port) == ("api.shop", 8080)


@pytest.mark.parametrize(
    ("authority", "message"),
    [
        ("nope", "unknown service"),
        ("api.other", "unknown service"),
        ("api:1234", "no port 1234"),
        ("api.shop.svc.example.com", "not a name of this cluster"),
        ("multi", "name the port"),
    ],
)
def test_unroutable_authorities(authority: str, message: str) -> None:
    with pytest.raises(RouteError, match=message) as info:
        table().resolve_authority(authority)
    assert info.value.status == 404


def test_split_with_matches_only_splits_matching_requests() -> None:
    t = table(
        TrafficSplitConfig(
            name="shop/canary",
            backends=(SplitBackend(service="api-v2.shop", weight=1),),
            matches=(HttpMatch(headers={"x-canary": "yes"}),),
        )
    )
    root, port = t.resolve_authority("api")
    assert t.route(root, port, ("GET", "/", [("X-Canary", "yes")])).backend.key == "api-v2.shop"
    unmatched = t.route(root, port, ("GET", "/", []))
    assert unmatched.backend.key == "api.shop" and unmatched.split == ""
    assert t.route(root, port, None).backend.key == "api.shop"  # TCP flows cannot match HTTP filters


def test_split_weights_and_zero_weight() -> None:
    t = table(
        TrafficSplitConfig(
            name="shop/s",
            algorithm="smooth_round_robin",
            backends=(
                SplitBackend(service="api-v1.shop", weight=Fraction(1, 2)),
                SplitBackend(service="api-v2.shop", weight=1),
                SplitBackend(service="multi.shop", weight=0),
            ),
        )
    )
    root, port = t.resolve_authority("api")
    counts = Counter(t.route(root, port, ("GET", "/", [])).backend.key for _ in range(300))
    assert counts == {"api-v1.shop": 100, "api-v2.shop": 200}


def test_all_zero_and_missing_backends_fail_with_503() -> None:
    t = table(TrafficSplitConfig(name="shop/s", backends=(SplitBackend(service="api-v2.shop", weight=0),)))
    root, port = t.resolve_authority("api")
    with pytest.raises(RouteError, match="every backend weight is zero") as info:
        t.route(root, port, ("GET", "/", []))
    assert info.value.status == 503
    t = table(TrafficSplitConfig(name="shop/s", backends=(SplitBackend(service="gone.shop", weight=1),)))
    root, port = t.resolve_authority("api")
    with pytest.raises(RouteError, match=r"backend service gone\.shop not found"):
        t.route(root, port, ("GET", "/", []))


def test_backend_without_the_port_is_left_out() -> None:
    t = table(
        TrafficSplitConfig(
            name="shop/s",
            backends=(
                SplitBackend(service="api-v1.shop", weight=1),
                SplitBackend(service="api-v2.shop", weight=1),
            ),
        )
    )
    root = t.service("api.shop")
    assert {t.route(root, 9000, None).backend.key for _ in range(50)} == {"api-v1.shop"}  # v2 has no 9000
    assert isinstance(root.config.ports[0], ServicePort)
