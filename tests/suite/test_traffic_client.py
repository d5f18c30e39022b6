"""The suite's client of the traffic driver (suite/traffic.py) over real loopback sockets: a driver and an
echo backend run in a background event loop, behind a minimal cluster backend that only says where they
listen (the Cluster interface's other duties are the embedded cluster's, tested with the mesh)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from aiohttp import web

from smi_conformance.cluster.base import Cluster, ClusterError, Target
from smi_conformance.suite.topology import Protocol, ServiceSpec, WorkloadSpec, standard_topology
from smi_conformance.suite.traffic import Traffic
from smi_conformance.workload.driver import create_app
from smi_conformance.workload.echo import EchoIdentity, EchoServer

LOOPBACK = "127.0.0.1"


class Background:
    """An event loop in a thread running the driver's control API and an echo backend."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class LoopbackCluster(Cluster):
    """Every client's driver is one driver; every Service is one echo backend."""

    kind = "loopback"

    def __init__(self, driver_url: str, echo: EchoServer):
        super().__init__(standard_topology())
        self.url, self.echo = driver_url, echo

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def apply(self, docs: Sequence[Mapping[str, Any]]) -> None:
        raise NotImplementedError

    def delete(self, docs: Sequence[Mapping[str, Any]]) -> None:
        raise NotImplementedError

    def metrics_get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        raise NotImplementedError

    def driver_url(self, client: WorkloadSpec) -> str:
        return self.url

    def target(self, client: WorkloadSpec, service: ServiceSpec, protocol: Protocol) -> Target:
        port = {"http": self.echo.http_port, "tcp": self.echo.tcp_port, "udp": self.echo.udp_port}[protocol]
        return Target(
            f"{LOOPBACK}:{port}", f"{service.name}.{service.namespace}:{service.port(protocol).port}"
        )


@pytest.fixture(scope="module")
def cluster() -> Iterator[LoopbackCluster]:
    bg = Background()

    async def start() -> tuple[web.AppRunner, EchoServer]:
        runner = web.AppRunner(create_app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, LOOPBACK, 0).start()
        echo = await EchoServer(
            EchoIdentity("web", "v2", "web-v2-0"), http=(LOOPBACK, 0), tcp=(LOOPBACK, 0), udp=(LOOPBACK, 0)
        ).start()
        return runner, echo

    runner, echo = bg.run(start())
    try:
        yield LoopbackCluster(f"http://{LOOPBACK}:{runner.addresses[0][1]}", echo)
    finally:
        bg.run(echo.stop())
        bg.run(runner.cleanup())
        bg.close()


def test_http_and_stream_batches_come_back_counted(cluster: LoopbackCluster) -> None:
    seen: list[int] = []
    traffic = Traffic(cluster, on_sent=seen.append)
    try:
        http = traffic.http("client", "web", path="/books", count=30, concurrency=64)
        tcp = traffic.stream("client", "web", "tcp", count=5)
        udp = traffic.stream("observer", "web", "udp", count=4, payload_bytes=10)
    finally:
        traffic.close()
    assert http.by("version") == {"v2": 30}
    assert tcp.by("instance") == {"web-v2-0": 5} and udp.by("service") == {"web": 4}
    assert seen == [30, 5, 4] and traffic.sent == 39
    assert '"host": "web.smi-conformance:8080"' in http.groups[0].example


def test_names_resolve_in_the_standard_topology(cluster: LoopbackCluster) -> None:
    traffic = Traffic(cluster)
    try:
        with pytest.raises(KeyError, match="no workload smi-conformance/nobody"):
            traffic.http("nobody", "web")
        with pytest.raises(KeyError, match="no service smi-conformance-other/web-v2"):
            traffic.http("client", "web-v2", service_namespace="smi-conformance-other")
        with pytest.raises(ValueError, match="use http"):
            traffic.stream("client", "web", "http")
    finally:
        traffic.close()


def test_a_driver_that_does_not_answer_is_a_cluster_error_naming_the_client(cluster: LoopbackCluster) -> None:
    with socket.socket() as reserved:  # bound, never listening: refused
        reserved.bind((LOOPBACK, 0))
        gone = LoopbackCluster(f"http://{LOOPBACK}:{reserved.getsockname()[1]}", cluster.echo)
        traffic = Traffic(gone)
        try:
            with pytest.raises(ClusterError, match=r"the traffic driver of smi-conformance/client \(http://"):
                traffic.http("client", "web")
        finally:
            traffic.close()
    assert traffic.sent == 0


@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (400, '{"error": "count: too large"}', 'refused /v1/http: {"error": "count: too large"}'),
        (200, "<html>a proxy's page</html>", "answered /v1/http with something that is not a traffic result"),
        (200, '{"sent": 1}', "answered /v1/http with something that is not a traffic result"),
    ],
    ids=["refused", "not-json", "not-a-result"],
)
def test_a_driver_answering_something_else_is_a_cluster_error(status: int, body: str, says: str) -> None:
    bg = Background()

    async def start() -> web.AppRunner:
        async def answer(_: web.Request) -> web.Response:
            return web.Response(status=status, text=body)

        app = web.Application()
        app.add_routes([web.post("/v1/http", answer)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, LOOPBACK, 0).start()
        return runner

    runner = bg.run(start())
    echo = EchoServer(EchoIdentity("web"))  # never started: only its (zero) ports are read
    traffic = Traffic(LoopbackCluster(f"http://{LOOPBACK}:{runner.addresses[0][1]}", echo))
    try:
        with pytest.raises(ClusterError) as err:
            traffic.http("client", "web")
        assert says in str(err.value)
        assert "smi-conformance/client" in str(err.value)
    finally:
        traffic.close()
        bg.run(runner.cleanup())
        bg.close()
