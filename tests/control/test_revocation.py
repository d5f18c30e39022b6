"""Revocation end to end on the embedded mesh (control plane, sidecar processes, mTLS, echo app): deleting the
TrafficTarget that allowed an open TCP connection or UDP flow closes it by the time every proxy has applied
the change; an HTTP keep-alive connection gets 403 on its next request. Event-based: ``converge()`` returns
when every proxy acknowledged the new snapshot, and the waits after it only guard against a hang (bounded by
the same convergence timeout)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from reference_mesh.runtime.mesh import OUTBOUND_HTTP_PORT
from reference_mesh.runtime.sync import MeshThread, running_mesh
from reference_mesh.runtime.topology import Topology

#: MeshThread.converge's timeout: the time a change may take to reach every proxy.
CONVERGENCE_S = 10.0
PORTS = [
    {"port": 8080, "protocol": "http"},
    {"port": 9000, "protocol": "tcp"},
    {"port": 9001, "protocol": "udp"},
]
TOPOLOGY = Topology.model_validate(
    {
        "name": "revocation",
        "serviceAccounts": [{"name": "web"}, {"name": "db"}],
        "services": [{"name": "db", "selector": {"app": "db"}, "ports": PORTS}],
        "deployments": [
            {"name": "web", "serviceAccount": "web", "labels": {"app": "web"}},
            {"name": "db", "serviceAccount": "db", "labels": {"app": "db"}, "ports": PORTS},
        ],
    }
)
ACCESS = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: TCPRoute
metadata: {name: db-tcp, namespace: default}
spec: {matches: {ports: [8080, 9000]}}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: UDPRoute
metadata: {name: db-udp, namespace: default}
spec: {matches: {ports: [9001]}}
---
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: db-http, namespace: default}
spec: {matches: [{name: all, pathRegex: /.*}]}
---
apiVersion: access.smi-spec.io/v1alpha3
kind: TrafficTarget
metadata: {name: web-to-db, namespace: default}
spec:
  destination: {kind: ServiceAccount, name: db, namespace: default}
  sources: [{kind: ServiceAccount, name: web, namespace: default}]
  rules:
    - {kind: TCPRoute, name: db-tcp}
    - {kind: UDPRoute, name: db-udp}
    - {kind: HTTPRouteGroup, name: db-http}
"""
UNRELATED = """
apiVersion: specs.smi-spec.io/v1alpha4
kind: HTTPRouteGroup
metadata: {name: unrelated, namespace: default}
spec: {matches: [{name: all, pathRegex: .*}]}
"""


class _Udp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.replies.put_nowait(data)


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CONVERGENCE_S))


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshThread]:
    with running_mesh(TOPOLOGY, home=tmp_path_factory.mktemp("home"), base_dir=Path.cwd()) as handle:
        yield handle


def changed(mesh: MeshThread, text: str, *, delete: bool = False) -> None:
    outcome = mesh.apply(text, delete=delete)
    assert outcome.admission.ok, [str(f) for f in outcome.admission.findings]
    mesh.converge(CONVERGENCE_S)


def test_deleting_the_target_closes_open_flows_and_refuses_the_next_request(mesh: MeshThread) -> None:
    m = mesh.mesh
    web = m.pod_address("web-0")
    changed(mesh, ACCESS)

    async def opened() -> tuple[asyncio.StreamReader, asyncio.StreamWriter, asyncio.DatagramTransport, _Udp]:
        reader, writer = await asyncio.open_connection(web, m.local_port("db", 9000))
        assert (await asyncio.wait_for(reader.readline(), CONVERGENCE_S)).startswith(b"service=db")
        transport, udp = await asyncio.get_running_loop().create_datagram_endpoint(
            _Udp, remote_addr=(web, m.local_port("db", 9001))
        )
        return reader, writer, transport, udp

    async def tcp_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes) -> bytes:
        writer.write(line)
        try:
            return await asyncio.wait_for(reader.readline(), CONVERGENCE_S)
        except ConnectionError:
            return b""

    async def udp_echo(
        transport: asyncio.DatagramTransport, udp: _Udp, payload: bytes, wait_s: float
    ) -> bool:
        transport.sendto(payload)
        try:
            return (await asyncio.wait_for(udp.replies.get(), wait_s)).endswith(payload)
        except asyncio.TimeoutError:
            return False

    reader, writer, transport, udp = mesh.run(opened())
    session = mesh.run(_session())
    url = f"http://{web}:{OUTBOUND_HTTP_PORT}/x"

    async def http_status() -> int:
        async with session.get(url, headers={"Host": "db"}) as resp:  # one keep-alive connection
            await resp.read()
            return resp.status

    try:
        assert mesh.run(tcp_echo(reader, writer, b"one\n")) == b"one\n"
        assert mesh.run(udp_echo(transport, udp, b"one", CONVERGENCE_S))
        assert mesh.run(http_status()) == 200  # allowed by the HTTPRouteGroup rule

        changed(mesh, UNRELATED)  # a new snapshot that still allows them: nothing is closed
        assert mesh.run(tcp_echo(reader, writer, b"two\n")) == b"two\n"
        assert mesh.run(udp_echo(transport, udp, b"two", CONVERGENCE_S))

        changed(mesh, ACCESS, delete=True)  # every proxy has applied the deletion when this returns
        assert mesh.run(tcp_echo(reader, writer, b"three\n")) == b""  # closed, nothing relayed
        assert not mesh.run(udp_echo(transport, udp, b"three", 1.0))
        assert mesh.run(http_status()) == 403  # the keep-alive connection's next request is decided anew
    finally:
        writer.close()
        transport.close()
        mesh.run(session.close())
