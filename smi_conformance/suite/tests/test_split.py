"""split.smi-spec.io: weighted traffic splitting.

Every weight check is a sequential test with the run's error rates (a correct mesh fails it with probability
at most alpha; a split off by the tolerance or more in any backend passes with probability at most beta), run
once the split shows in traffic. A zero-weight backend must get nothing at all.
"""

from __future__ import annotations

from typing import Any

from smi_conformance.suite import manifests as m
from smi_conformance.suite.context import TestContext
from smi_conformance.suite.features import Feature
from smi_conformance.suite.registry import conformance
from smi_conformance.suite.topology import Topology

SPLIT = "split.smi-spec.io"
F = Feature
ALL_VERSIONS = ["web-v1", "web-v2", "web-v3"]


def _allowed(t: Topology, *, tcp: bool = False) -> list[dict[str, Any]]:
    """The client may call every web pod (splits are tested apart from access control)."""
    return m.allow(t, "split-client", sources=["client"], destination="web", tcp=tcp)


def _split(weights: dict[str, int], name: str = "web-split") -> Any:
    return lambda t: [*_allowed(t), m.split(t, name, "web", weights)]


@conformance(
    "split-two-backends",
    "Requests to the root service are split 90/10 over two backends",
    group=SPLIT,
    features={F.TRAFFIC_SPLIT},
    objects=_split({"web-v1": 90, "web-v2": 10}),
)
def test_two_backends(smi: TestContext) -> None:
    smi.expect_split("client", "web", {"web-v1": 90, "web-v2": 10})


@conformance(
    "split-three-backends",
    "Requests to the root service are split 50/30/20 over three backends",
    group=SPLIT,
    features={F.TRAFFIC_SPLIT},
    objects=_split({"web-v1": 50, "web-v2": 30, "web-v3": 20}),
)
def test_three_backends(smi: TestContext) -> None:
    smi.expect_split("client", "web", {"web-v1": 50, "web-v2": 30, "web-v3": 20})


@conformance(
    "split-zero-weight",
    "A backend with weight 0 receives no request at all",
    group=SPLIT,
    features={F.TRAFFIC_SPLIT},
    objects=_split({"web-v1": 0, "web-v2": 1}),
)
def test_zero_weight(smi: TestContext) -> None:
    smi.expect_split("client", "web", {"web-v1": 0, "web-v2": 1})


CANARY = [(100, 0), (75, 25), (50, 50), (0, 100)]


@conformance(
    "split-canary-sequence",
    "A canary rollout 100/0 -> 75/25 -> 50/50 -> 0/100: every step shows in traffic and holds its weights",
    group=SPLIT,
    features={F.TRAFFIC_SPLIT},
    objects=_split({"web-v1": 100, "web-v2": 0}, "canary"),
)
def test_canary_sequence(smi: TestContext) -> None:
    for v1, v2 in CANARY:
        if (v1, v2) != CANARY[0]:
            smi.apply([m.split(smi.topology, "canary", "web", {"web-v1": v1, "web-v2": v2})])
        smi.expect_split("client", "web", {"web-v1": v1, "web-v2": v2}, name=f"canary step {v1}/{v2}")


@conformance(
    "split-delete-restores-service",
    "Deleting a TrafficSplit restores plain service: every pod of the root service answers again",
    group=SPLIT,
    features={F.TRAFFIC_SPLIT},
    objects=_split({"web-v1": 1, "web-v2": 0, "web-v3": 0}),
)
def test_delete_restores_service(smi: TestContext) -> None:
    smi.expect_split("client", "web", {"web-v1": 1, "web-v2": 0, "web-v3": 0})
    smi.delete([m.split(smi.topology, "web-split", "web", {"web-v1": 1})])
    smi.expect_served_by("client", "web", ALL_VERSIONS)


@conformance(
    "split-root-dns-name",
    "A TrafficSplit whose root is written as a DNS name (web.<namespace>) splits that Service",
    group=SPLIT,
    features={F.TRAFFIC_SPLIT},
    objects=lambda t: [*_allowed(t), m.split(t, "web-split", f"web.{t.main}", {"web-v2": 1, "web-v3": 0})],
)
def test_root_dns_name(smi: TestContext) -> None:
    smi.expect_split("client", "web", {"web-v2": 1, "web-v3": 0})


def _matches(t: Topology) -> list[dict[str, Any]]:
    group = m.http_routes(t, "canary-requests", [m.http_match("canary", path_regex="/canary")])
    return [*_allowed(t), group, m.split(t, "web-ab", "web", {"web-v2": 1}, matches=["canary-requests"])]


@conformance(
    "split-matches",
    "split v1alpha3+ matches: requests matching the HTTPRouteGroup are split, the others reach the root "
    "service",
    group=SPLIT,
    features={F.TRAFFIC_SPLIT, F.TRAFFIC_SPLIT_MATCHES},
    versions={SPLIT: ("v1alpha3", "v1alpha4")},
    objects=_matches,
)
def test_matches(smi: TestContext) -> None:
    smi.expect_split("client", "web", {"web-v2": 1}, path="/canary/page")
    smi.expect_served_by("client", "web", ALL_VERSIONS, path="/stable/page")


def _quantities(t: Topology) -> list[dict[str, Any]]:
    split = {
        "apiVersion": "split.smi-spec.io/v1alpha1",
        "kind": "TrafficSplit",
        "metadata": {"name": "web-quantities", "namespace": t.main, "labels": {m.TEST_LABEL: "true"}},
        "spec": {
            "service": "web",
            "backends": [{"service": "web-v1", "weight": "1"}, {"service": "web-v2", "weight": "500m"}],
        },
    }
    return [*_allowed(t), split]


@conformance(
    "split-quantity-weights",
    'split v1alpha1: weights are Kubernetes quantities, so "1" and "500m" split 2:1',
    group=SPLIT,
    features={F.TRAFFIC_SPLIT},
    versions={SPLIT: ("v1alpha1",)},
    objects=_quantities,
)
def test_quantity_weights(smi: TestContext) -> None:
    smi.expect_split("client", "web", {"web-v1": 2, "web-v2": 1})


@conformance(
    "split-tcp",
    "TCP connections to the root service are split 75/25",
    group=SPLIT,
    features={F.TRAFFIC_SPLIT, F.TRAFFIC_SPLIT_TCP, F.TCP_ROUTE},
    objects=lambda t: [*_allowed(t, tcp=True), m.split(t, "web-tcp", "web", {"web-v1": 75, "web-v2": 25})],
)
def test_tcp(smi: TestContext) -> None:
    smi.expect_split("client", "web", {"web-v1": 75, "web-v2": 25}, protocol="tcp")
