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
