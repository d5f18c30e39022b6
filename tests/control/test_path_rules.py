"""Issue 11's path rule end to end on the embedded mesh (control plane, sidecar processes, mTLS, echo app):
an HTTPRouteGroup allowing only ``pathRegex: /health`` cannot be passed by spelling ``/admin`` another way,
and the application receives the path that was authorised. Requests are written byte for byte (HTTP client
libraries would normalise them first)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reference_mesh.runtime.mesh import OUTBOUND_HTTP_PORT
from reference_mesh.runtime.sync import MeshThread, running_mesh
from reference_mesh.runtime.topology import Topology

TOPOLOGY = Topology.model_validate(
    {
        "name": "path-rules",
        "serviceAccounts": [{"name": "web"}, {"name": "api"}],
        "services": [{"name": "api", "selector": {"app": "api"}, "ports": [{"port": 8080}]}],
        "deployments": [
            {"name": "web", "serviceAccount": "web", "labels": {"app": "web"}},
            {"name": "api", "serviceAccount": "api", "labels": {"app": "api"}, "ports": [{"port": 8080}]},
        ],
    }
)
HEALTH_ONLY = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: health, namespace: default}
spec: {matches: [{name: health, pathRegex: /health}]}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: web-health, namespace: default}
spec:
  destination: {kind: ServiceAccount, name: api, namespace: default}
  sources: [{kind: ServiceAccount, name: web, namespace: default}]
  rules: [{kind: HTTPRouteGroup, name: health}]
"""


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshThread]:
    with running_mesh(TOPOLOGY, home=tmp_path_factory.mktemp("home"), base_dir=Path.cwd()) as handle:
        outcome = handle.apply(HEALTH_ONLY)
        assert outcome.admission.ok, [str(f) for f in outcome.admission.findings]
        handle.converge()
        yield handle


async def raw_get(address: str, target: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(address, OUTBOUND_HTTP_PORT)
    try:
        writer.write(f"GET {target} HTTP/1.1\r\nhost: api\r\nconnection: close\r\n\r\n".encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)  # bounded: the proxy closes after answering
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize(
    ("target", "status", "seen"),
    [
        ("/health", 200, "/health"),
        ("/health/../admin", 403, None),
        ("/health/%2e%2e/admin", 403, None),
        ("/health/%2E%2E/admin", 403, None),
        ("/health/..%2f/admin", 400, None),
        ("/health/%2f..%2f/admin", 400, None),
        ("/health/%2e%2e", 403, None),  # that is "/"
        ("/%68ealth/./status", 200, "/health/status"),
    ],
)
def test_a_health_only_rule_holds_against_every_spelling(
    mesh: MeshThread, target: str, status: int, seen: str | None
) -> None:
    got, body = mesh.run(raw_get(mesh.mesh.pod_address("web-0"), target))
    assert got == status, body[:300]
    if seen is not None:
        assert json.loads(body)["path"] == seen
