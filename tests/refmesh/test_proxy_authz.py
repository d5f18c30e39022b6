"""Inbound authorization decisions (sans-IO), including a property test against an independent oracle."""

from __future__ import annotations

from authz_oracle import oracle_allows, policies, requests
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_mesh.proxy.authz import Authorizer, Decision
from reference_mesh.proxy.config import AuthorizationPolicy, AuthorizationRule, HttpMatch, PortSet
from reference_mesh.proxy.paths import canonical_target

WEB = "spiffe://cluster.local/ns/default/sa/web"
BATCH = "spiffe://cluster.local/ns/default/sa/batch"
SHOP_WEB = "spiffe://cluster.local/ns/shop/sa/web"


def policy(*rules: AuthorizationRule, permissive: bool = False) -> Authorizer:
    return Authorizer(AuthorizationPolicy(rules=rules, permissive=permissive))


def test_deny_by_default() -> None:
    authz = policy()
    assert not authz.http(WEB, 80, "GET", "/", []).allowed
    assert not authz.tcp(WEB, 9000).allowed
    assert not authz.udp(WEB, 53).allowed


def test_http_match_semantics() -> None:
    authz = policy(
        AuthorizationRule(
            name="default/t",
            sources=(WEB,),
            http=(
                HttpMatch(name="metrics", methods=("GET",), path_regex="/metrics"),
                HttpMatch(
                    name="write",
                    methods=("POST", "PUT"),
                    path_regex="/api/v[0-9]+/items",
                    headers={"x-user": "alice|bob", "x-env": "prod"},
                ),
            ),
        )
    )
    assert authz.http(WEB, 80, "GET", "/metrics", []).allowed
    assert authz.http(WEB, 80, "GET", "/metrics/extra", []).allowed  # anchored at the start, not the end
    assert not authz.http(WEB, 80, "GET", "/x/metrics", []).allowed
    assert not authz.http(WEB, 80, "POST", "/metrics", []).allowed
    ok_headers = [("X-User", "bob"), ("x-env", "prod")]
    assert authz.http(WEB, 80, "PUT", "/api/v2/items", ok_headers).allowed
    assert not authz.http(WEB, 80, "PUT", "/api/v2/items", [("x-user", "bob")]).allowed  # AND within a match
    assert not authz.http(WEB, 80, "PUT", "/api/v2/items", [("x-user", "bobby"), ("x-env", "prod")]).allowed
    # a repeated header is one value, "eve, alice" (RFC 9110 5.3): one matching line among others fails
    assert not authz.http(
        WEB, 80, "PUT", "/api/v2/items", [("x-user", "eve"), ("x-user", "alice"), ("x-env", "prod")]
    ).allowed
    assert not authz.http(BATCH, 80, "GET", "/metrics", []).allowed
    assert not authz.http(None, 80, "GET", "/metrics", []).allowed


def test_a_repeated_header_is_matched_as_its_joined_value() -> None:
    authz = policy(
        AuthorizationRule(name="r", sources=(WEB,), http=(HttpMatch(headers={"x-user": "eve, alice"}),))
    )
    assert authz.http(WEB, 80, "GET", "/", [("x-user", "eve"), ("X-User", "alice")]).allowed
    assert not authz.http(WEB, 80, "GET", "/", [("x-user", "eve")]).allowed
    assert not authz.http(WEB, 80, "GET", "/", [("x-user", "eve"), ("x-other", "alice")]).allowed


def test_star_and_empty_methods_mean_any() -> None:
    authz = policy(
        AuthorizationRule(name="r", sources=(WEB,), http=(HttpMatch(methods=("*",), path_regex="/a"),))
    )
    assert authz.http(WEB, 80, "PATCH", "/a", []).allowed
    authz = policy(AuthorizationRule(name="r", sources=(WEB,), http=(HttpMatch(),)))
    assert authz.http(WEB, 80, "DELETE", "/anything", []).allowed


def test_tcp_and_udp_ports() -> None:
    authz = policy(
        AuthorizationRule(name="db", sources=(WEB,), tcp=PortSet(ports=(5432,))),
        AuthorizationRule(name="dns", sources=(BATCH,), udp=PortSet()),
    )
    assert authz.tcp(WEB, 5432).allowed and not authz.tcp(WEB, 5433).allowed
    assert not authz.http(WEB, 5432, "GET", "/", []).allowed  # a TCPRoute speaks for TCP, not HTTP
    assert not authz.udp(WEB, 5432).allowed
    assert authz.udp(BATCH, 53).allowed and authz.udp(BATCH, 9999).allowed  # [] = every port
    assert not authz.tcp(BATCH, 53).allowed


def test_a_destination_port_limits_every_route_kind() -> None:
    """A TrafficTarget's destination port (access v1alpha2 ``destination.port``) limits HTTP, TCP and UDP."""
    authz = policy(
        AuthorizationRule(
            name="r",
            sources=(WEB,),
            http=(HttpMatch(),),
            tcp=PortSet(),
            udp=PortSet(),
            ports=PortSet(ports=(8080,)),
        )
    )
    assert authz.http(WEB, 8080, "GET", "/", []).allowed and authz.tcp(WEB, 8080).allowed
    assert authz.udp(WEB, 8080).allowed
    for port in (80, 9090):
        assert authz.http(WEB, port, "GET", "/", []).reason == f"no policy allows {WEB}"
        assert authz.tcp(WEB, port).reason == authz.udp(WEB, port).reason == f"no policy allows {WEB}"


def test_empty_sources_allow_nobody() -> None:
    authz = policy(AuthorizationRule(name="r", sources=(), http=(HttpMatch(),), tcp=PortSet()))
    assert not authz.http(WEB, 80, "GET", "/", []).allowed


def test_permissive_mode_lets_through_and_reports() -> None:
    d = policy(permissive=True).http(WEB, 80, "GET", "/", [])
    assert d == Decision(True, f"permissive mode (would deny: no policy allows {WEB})", None, would_deny=True)
    allowed = policy(AuthorizationRule(name="r", sources=(WEB,), tcp=PortSet()), permissive=True).tcp(WEB, 1)
    assert allowed == Decision(True, "allowed by r", "r", would_deny=False)


def test_decision_names_the_rule_or_the_reason() -> None:
    authz = policy(
        AuthorizationRule(name="default/allow-web", sources=(WEB,), http=(HttpMatch(path_regex="/ok"),))
    )
    assert authz.http(WEB, 80, "GET", "/ok", []).rule == "default/allow-web"
    denied = authz.http(WEB, 80, "GET", "/no", [])
    assert "no route allows GET /no" in denied.reason


def test_the_reasons_a_denial_and_an_allowance_carry() -> None:
    """The reason is the 403's body (``forbidden: <reason>``) and tap's ``authz`` field: exact, per case."""
    authz = policy(
        AuthorizationRule(name="default/web", sources=(WEB,), http=(HttpMatch(path_regex="/ok"),)),
        AuthorizationRule(
            name="default/db", sources=(BATCH,), tcp=PortSet(ports=(5432,)), udp=PortSet(ports=(53,))
        ),
    )
    cases = [
        (authz.http(WEB, 80, "GET", "/ok", []), Decision(True, "allowed by default/web", "default/web")),
        (authz.tcp(BATCH, 5432), Decision(True, "allowed by default/db", "default/db")),
        (authz.udp(BATCH, 53), Decision(True, "allowed by default/db", "default/db")),
        (authz.http(None, 80, "GET", "/ok", []), Decision(False, "no policy allows unauthenticated callers")),
        (authz.tcp(None, 5432), Decision(False, "no policy allows unauthenticated callers")),
        (authz.http(BATCH, 80, "GET", "/ok", []), Decision(False, f"no route allows GET /ok for {BATCH}")),
        (authz.http(WEB, 80, "PUT", "/no", []), Decision(False, f"no route allows PUT /no for {WEB}")),
        (authz.tcp(WEB, 5432), Decision(False, f"no TCP route allows port 5432 for {WEB}")),
        (authz.tcp(BATCH, 5433), Decision(False, f"no TCP route allows port 5433 for {BATCH}")),
        (authz.udp(BATCH, 54), Decision(False, f"no UDP route allows port 54 for {BATCH}")),
        (authz.udp(SHOP_WEB, 53), Decision(False, f"no policy allows {SHOP_WEB}")),
    ]
    for got, expected in cases:
        assert got == expected


@settings(max_examples=800, deadline=None)
@given(policy_=policies, batch=st.lists(requests, min_size=10, max_size=10))
def test_decisions_equal_the_oracle(policy_: AuthorizationPolicy, batch: list[tuple]) -> None:
    """800 random policies x 10 random requests each: 8000 decisions, none may differ from the oracle."""
    authz = Authorizer(policy_)
    for kind, source, port, method, target, headers in batch:
        if kind == "http":
            decision = authz.http(source, port, method, canonical_target(target, method).path, headers)
        elif kind == "tcp":
            decision = authz.tcp(source, port)
        else:
            decision = authz.udp(source, port)
        expected = oracle_allows(policy_, kind, source, port, method, target, headers)
        assert decision.allowed == expected, (kind, source, port, method, target, headers, decision)
        assert decision.would_deny == (decision.allowed and policy_.permissive and decision.rule is None)
