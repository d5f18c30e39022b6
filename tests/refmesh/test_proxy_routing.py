"""Outbound routing (sans-IO): authorities, splits with matches, missing and zero-weight backends, ports."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from fractions import Fraction

import pytest
from loopback import LoopbackMesh

from reference_mesh.proxy.config import (
    CircuitBreaker,
    Endpoint,
    HttpMatch,
    LoadBalancing,
    OutboundConfig,
    OutboundService,
    ProtocolName,
    ProxyConfig,
    Resilience,
    RetryBudget,
    RetryPolicy,
    RoutePolicy,
    ServicePort,
    SplitBackend,
    TrafficSplitConfig,
    WorkloadInfo,
)
from reference_mesh.proxy.endpoints import EndpointRegistry
from reference_mesh.proxy.routing import OutboundTable, RouteError, ServiceRuntime


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


# ------------------------------------------------------------------ tables made straight from a snapshot
ID = "spiffe://cluster.local/ns/shop/sa/api"
SUBNETS = itertools.count(1)


def service(
    name: str,
    ports: dict[int, ProtocolName],
    endpoints: int = 1,
    split: TrafficSplitConfig | None = None,
    resilience: Resilience | None = None,
) -> OutboundService:
    """A service in namespace shop, ``endpoints`` instances (in a /24 of its own) serving each port."""
    subnet = next(SUBNETS)
    return OutboundService(
        name=name,
        namespace="shop",
        ports=tuple(
            ServicePort(
                port=port,
                protocol=protocol,
                endpoints=tuple(
                    Endpoint(address=f"127.0.{subnet}.{i}", port=port, identity=ID)
                    for i in range(1, endpoints + 1)
                ),
            )
            for port, protocol in ports.items()
        ),
        split=split,
        resilience=resilience or Resilience(),
    )


def snapshot(*services: OutboundService, version: str = "1") -> ProxyConfig:
    return ProxyConfig(
        version=version,
        workload=WorkloadInfo(namespace="shop", service_account="web", instance="web-0"),
        outbound=OutboundConfig(services={s.key: s for s in services}),
    )


def test_requests_that_are_not_split_stay_on_the_addressed_port_of_the_service() -> None:
    t = table(
        TrafficSplitConfig(name="shop/canary", backends=(SplitBackend(service="api-v2.shop", weight=1),))
    )
    web = t.service("multi.shop")
    for port in (8080, 8081):
        target = t.route(web, port, ("GET", "/", []))
        assert (target.root, target.port, target.backend, target.split) == (web, port, web, "")
        assert target.balancer is web.balancers[port]


def test_split_targets_name_the_root_port_and_split() -> None:
    t = table(
        TrafficSplitConfig(
            name="shop/canary",
            backends=(SplitBackend(service="api-v2.shop", weight=1),),
            matches=(HttpMatch(headers={"x-canary": "yes"}),),
        )
    )
    root, port = t.resolve_authority("api")
    split = t.route(root, port, ("GET", "/", [("x-canary", "yes")]))
    assert (split.root, split.port, split.backend, split.split) == (
        root,
        port,
        t.service("api-v2.shop"),
        "shop/canary",
    )
    assert split.balancer is t.service("api-v2.shop").balancers[port]
    unmatched = t.route(root, port, ("GET", "/", [("x-canary", "no")]))
    assert (unmatched.root, unmatched.port, unmatched.backend, unmatched.split) == (root, port, root, "")


def test_a_port_the_service_does_not_have_is_a_404_not_a_broken_target() -> None:
    """A TCP/UDP flow is routed by (service, port) without an authority: a port the service lacks fails
    cleanly (it used to give a target whose balancer lookup raised KeyError in the connection handler)."""
    t = table()
    for key in ("api-v2.shop", "api.shop"):
        with pytest.raises(RouteError) as info:
            t.route(t.service(key), 9999, None)
        assert (info.value.status, info.value.reason) == (404, f"service {key} has no port 9999")


def test_split_errors_are_503s_naming_the_split() -> None:
    t = table(TrafficSplitConfig(name="shop/s", backends=(SplitBackend(service="gone.shop", weight=1),)))
    root, port = t.resolve_authority("api")
    with pytest.raises(RouteError) as info:
        t.route(root, port, ("GET", "/", []))
    assert info.value.status == 503
    assert info.value.reason == str(info.value) == "traffic split shop/s: backend service gone.shop not found"
    t = table(TrafficSplitConfig(name="shop/z", backends=(SplitBackend(service="api-v2.shop", weight=0),)))
    root, port = t.resolve_authority("api")
    with pytest.raises(RouteError, match=r"^traffic split shop/z: every backend weight is zero$"):
        t.route(root, port, None)


def test_a_split_port_no_backend_has_is_a_503_saying_so() -> None:
    # api has 8080 and 9000; its only backend, api-v2, has 8080: nothing can take a flow to 9000
    t = table(TrafficSplitConfig(name="shop/s", backends=(SplitBackend(service="api-v2.shop", weight=1),)))
    with pytest.raises(RouteError) as info:
        t.route(t.service("api.shop"), 9000, None)
    assert (info.value.status, info.value.reason) == (
        503,
        "traffic split shop/s: no backend service has port 9000",
    )
    assert t.route(t.service("api.shop"), 8080, None).backend.key == "api-v2.shop"


def test_an_unknown_service_key_is_a_404_naming_it() -> None:
    with pytest.raises(RouteError) as info:
        table().service("nope.shop")
    assert (info.value.status, info.value.reason) == (404, "unknown service 'nope.shop'")


@pytest.mark.parametrize(
    ("authority", "message"),
    [
        ("api.shop.nope", "not a name of this cluster"),  # three labels: the third must be svc
        ("api.shop.svc.cluster", "not a name of this cluster"),  # a cut-off cluster domain resolves nowhere
        ("[::1]:8080", r"unknown service '\[::1\]'"),  # the port is after the last colon
    ],
)
def test_more_unroutable_authorities(authority: str, message: str) -> None:
    with pytest.raises(RouteError, match=message) as info:
        table().resolve_authority(authority)
    assert info.value.status == 404


def test_without_a_port_a_service_of_several_http_ports_is_addressed_on_80_if_it_has_it() -> None:
    t = OutboundTable(
        snapshot(service("web", {8080: "http", 80: "http"}), service("admin", {8080: "http", 81: "http"})),
        EndpointRegistry(),
        {},
    )
    svc, port = t.resolve_authority("web")
    assert (svc.key, port) == ("web.shop", 80)
    with pytest.raises(RouteError, match="name the port"):
        t.resolve_authority("admin")
    assert t.resolve_authority("admin:81")[1] == 81


def test_remembered_names_are_bounded() -> None:
    """Authorities are client input: the table remembers at most 1024 of them (then starts again), and
    answers the same whether it remembers a name or not."""
    t = table()
    # 3000 different spellings of one name: the case of its first 12 letters from the bits of a number
    names = [
        "".join(c.upper() if i >> b & 1 else c for b, c in enumerate("apishopsvccl")) for i in range(3000)
    ]
    names = [f"{n[:3]}.{n[3:7]}.{n[7:10]}.{n[10:]}uster.local" for n in names]
    assert len(set(names)) == 3000
    for name in names:
        assert t.resolve_authority(name)[0].key == "api.shop"
        assert len(t._resolved) <= 1024
    assert len(t._resolved) == 3000 - 2 * 1024  # full twice, forgotten, then filled again
    for name in names:
        svc, port = t.resolve_authority(name)
        assert (svc.key, port) == ("api.shop", 8080)


def test_the_first_route_the_request_matches_is_its_policy() -> None:
    items = RoutePolicy(
        match=HttpMatch(name="items", methods=("GET",), path_regex="/items", headers={"x-user": "a.*"}),
        timeout_ms=100,
    )
    anything = RoutePolicy(match=HttpMatch(name="any"), retryable=False)
    t = OutboundTable(
        snapshot(
            service("api", {80: "http"}, resilience=Resilience(routes=(items, anything))),
            service("plain", {80: "http"}),
        ),
        EndpointRegistry(),
        {},
    )
    api = t.service("api.shop")
    user = [("X-User", "alice")]
    assert api.route_policy("GET", "/items/1", user) is items
    assert api.route_policy("POST", "/items/1", user) is anything  # method
    assert api.route_policy("GET", "/other", user) is anything  # path
    assert api.route_policy("GET", "/items/1", [("x-user", "bob")]) is anything  # header
    assert api.route_policy("GET", "/items/1", []) is anything
    assert t.service("plain.shop").route_policy("GET", "/items/1", user) is None  # the default route


def test_split_and_balancing_draw_from_the_random_source_given() -> None:
    """Seeded, a table makes the same choices every time, the split's and the balancers' (the proxy passes
    its own random source so a run can be replayed)."""
    split = TrafficSplitConfig(
        name="shop/s",
        backends=(SplitBackend(service="v1.shop", weight=1), SplitBackend(service="v2.shop", weight=1)),
    )
    lb = Resilience(load_balancing=LoadBalancing(algorithm="least_request"))
    round_robin = Resilience(load_balancing=LoadBalancing(algorithm="round_robin"))

    def run(seed: int) -> list[tuple[str, int]]:
        config = snapshot(
            service("plain", {80: "http"}, endpoints=3),  # listed before the split root
            service("v1", {80: "http"}, endpoints=3, resilience=lb),
            service("v2", {80: "http"}, endpoints=3),
            service("api", {80: "http"}, split=split),
            service("rr", {80: "http"}, endpoints=4, resilience=round_robin),
        )
        t = OutboundTable(config, EndpointRegistry(), {}, random.Random(seed))
        out = []
        for i in range(40):
            target = t.route(t.service(["api.shop", "plain.shop", "rr.shop"][i % 3]), 80, ("GET", "/", []))
            ep = target.balancer.pick(0.0)
            assert ep is not None
            out.append((target.backend.key, target.balancer.pool.index(ep)))
        return out

    first = run(3)
    assert run(3) == first
    assert {backend for backend, _ in first} == {"v1.shop", "v2.shop", "plain.shop", "rr.shop"}
    assert run(4) != first


def test_service_state_outlives_a_snapshot_and_follows_its_settings() -> None:
    """Retry budgets and concurrency limits live in the runtimes passed in: a new snapshot keeps their state,
    takes a changed limit at once, and starts a budget again only when its settings change."""

    def config(max_requests: int, ratio: float, version: str) -> ProxyConfig:
        res = Resilience(
            circuit_breaker=CircuitBreaker(max_requests=max_requests),
            retries=RetryPolicy(budget=RetryBudget(ratio=ratio, min_per_second=1.0, ttl_ms=10_000)),
        )
        return snapshot(service("api", {80: "http"}, resilience=res), version=version)

    runtimes: dict[str, ServiceRuntime] = {}
    registry = EndpointRegistry()
    first = OutboundTable(config(2, 0.5, "1"), registry, runtimes).service("api.shop").runtime
    assert runtimes == {"api.shop": first}
    assert first.limit.limit == 2 and first.budget.budget == RetryBudget(ratio=0.5, min_per_second=1.0)
    assert first.limit.try_acquire() and first.limit.try_acquire() and not first.limit.try_acquire()
    for _ in range(4):
        first.budget.record_request(100.0)
    assert first.budget.balance(100.0) == 10 * 1.0 + 0.5 * 4

    budget = first.budget
    second = OutboundTable(config(3, 0.5, "2"), registry, runtimes).service("api.shop").runtime
    assert second is first and runtimes == {"api.shop": first}
    assert first.limit.limit == 3 and first.limit.active == 2  # in-flight requests still count
    assert first.limit.try_acquire() and not first.limit.try_acquire()
    assert first.budget is budget and first.budget.balance(100.0) == 12.0  # same settings: same budget

    third = OutboundTable(config(3, 0.25, "3"), registry, runtimes).service("api.shop").runtime
    assert third is first
    assert first.budget.budget == RetryBudget(ratio=0.25, min_per_second=1.0)
    assert first.budget.balance(100.0) == 10.0  # new settings: a new budget, nothing recorded yet
