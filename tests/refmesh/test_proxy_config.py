"""The snapshot contract: JSON round trip, exact weights, validation errors with locations."""

from __future__ import annotations

from fractions import Fraction

import pytest
from loopback import LoopbackMesh
from pydantic import ValidationError

from reference_mesh.proxy.config import (
    AuthorizationRule,
    Endpoint,
    HttpMatch,
    OutboundConfig,
    OutboundPortBinding,
    OutboundService,
    ProxyConfig,
    ServicePort,
    SplitBackend,
    TrafficSplitConfig,
    WorkloadInfo,
)
from reference_mesh.proxy.sources import _describe

WORKLOAD = WorkloadInfo(namespace="default", service_account="web", instance="web-0")


def test_snapshot_json_round_trip_is_lossless() -> None:
    mesh = LoopbackMesh()
    web = mesh.add("web-0", "web")
    mesh.add("api-0", "api", ["api"])
    mesh.splits["api"] = TrafficSplitConfig(
        name="default/s",
        backends=(SplitBackend(service="api.default", weight=Fraction(1, 3)),),
        matches=(HttpMatch(methods=("GET",), path_regex="/v1", headers={"X-User": "a.*"}),),
    )
    config = mesh.config(web)
    again = ProxyConfig.model_validate_json(config.model_dump_json())
    assert again == config
    assert again.outbound.services["api.default"].split.backends[0].weight == Fraction(1, 3)
    # header names are case-insensitive: stored lower case
    assert again.outbound.services["api.default"].split.matches[0].headers == {"x-user": "a.*"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [(2, Fraction(2)), ("1/3", Fraction(1, 3)), ("0.5", Fraction(1, 2)), (3.0, Fraction(3))],
)
def test_weights_are_exact(given: object, expected: Fraction) -> None:
    assert SplitBackend.model_validate({"service": "a.b", "weight": given}).weight == expected


@pytest.mark.parametrize("bad", [0.1, -1, "-1/2", "x"])
def test_inexact_or_negative_weights_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError):
        SplitBackend.model_validate({"service": "a.b", "weight": bad})


def test_regex_that_re2_rejects_fails_with_its_location() -> None:
    data = {
        "version": "1",
        "workload": WORKLOAD.model_dump(),
        "inbound": {
            "authorization": {"rules": [{"name": "r", "sources": [], "http": [{"path_regex": "(?!x)"}]}]}
        },
    }
    with pytest.raises(ValidationError) as info:
        ProxyConfig.model_validate(data)
    described = _describe(info.value)
    assert "inbound.authorization.rules.0.http.0.path_regex" in described
    assert "RE2 rejects" in described


def test_bad_identity_is_refused() -> None:
    with pytest.raises(ValidationError, match="SPIFFE"):
        Endpoint(address="127.0.0.1", port=1, identity="web")
    with pytest.raises(ValidationError):
        AuthorizationRule(name="r", sources=("spiffe://x/ns/a/sa/b/c",))
    with pytest.raises(ValidationError, match="namespace"):
        WorkloadInfo(namespace="Bad_NS", service_account="web", instance="x")


def test_service_keys_and_bindings_must_agree() -> None:
    svc = OutboundService(name="api", namespace="default", ports=(ServicePort(port=80),))
    with pytest.raises(ValidationError, match="keys must be"):
        OutboundConfig(services={"api.other": svc})
    with pytest.raises(ValidationError, match="unknown service"):
        OutboundConfig(tcp=(OutboundPortBinding(listen_port=9000, service="db.default", port=5432),))
    for kind in ("tcp", "udp"):  # a binding to a port the service does not have could never be routed
        with pytest.raises(
            ValidationError, match=r"names port 81 of 'api\.default', which the service does not"
        ):
            OutboundConfig.model_validate(
                {
                    "services": {"api.default": svc},
                    kind: [{"listen_port": 9000, "service": "api.default", "port": 81}],
                }
            )
    ok = OutboundConfig(
        services={"api.default": svc},
        tcp=(OutboundPortBinding(listen_port=9000, service="api.default", port=80),),
    )
    assert ok.tcp[0].port == 80


def test_ports_may_not_be_bound_twice() -> None:
    with pytest.raises(ValidationError, match="used twice"):
        ProxyConfig.model_validate(
            {
                "version": "1",
                "workload": WORKLOAD.model_dump(),
                "inbound": {"listeners": [{"port": 15001, "app_port": 8080}]},
                "outbound": {"http_port": 15001},
            }
        )


def test_unknown_fields_are_errors() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        ProxyConfig.model_validate({"version": "1", "workload": WORKLOAD.model_dump(), "colour": "blue"})


def test_snapshot_is_immutable() -> None:
    config = ProxyConfig(version="1", workload=WORKLOAD)
    with pytest.raises(ValidationError):
        config.version = "2"  # type: ignore[misc]
