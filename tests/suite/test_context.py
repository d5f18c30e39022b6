"""TestContext's checks end to end over real sockets, against stand-ins for a mesh on loopback: the echo (a
mesh that allows everything), a server that answers 403 (one that denies), and servers that split requests
over versions by fixed weights (a correct split and one 8 points off). What is under test is how the checks
turn traffic into verdicts, messages and evidence; the reference mesh itself is certified elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from smi_conformance.cluster.base import Target
from smi_conformance.mesh.adapter import MeshInfo
from smi_conformance.suite.context import ConformanceFailure, TestContext
from smi_conformance.suite.settings import SuiteSettings
from smi_conformance.suite.topology import Protocol, ServiceSpec, WorkloadSpec

from .test_traffic_client import LOOPBACK, Background, LoopbackCluster

#: Error rates of 1e-3 keep the weight checks short; the default maximum time to consistency (30 s) is only
#: waited out by the test that expects a failure, which sets 0.5 s.
SETTINGS = SuiteSettings(probe_interval_s=0.01, alpha=1e-3, beta=1e-3)


class Routed(LoopbackCluster):
    """HTTP to a Service goes to the port given for its name."""

    def __init__(self, driver_url: str, ports: Mapping[str, int]):
        super().__init__(driver_url, echo=None)  # type: ignore[arg-type]
        self.ports = dict(ports)

    def target(self, client: WorkloadSpec, service: ServiceSpec, protocol: Protocol) -> Target:
        return Target(f"{LOOPBACK}:{self.ports[service.name]}", f"{service.name}.{service.namespace}:8080")


#: What the stand-ins answer: a 403, or a 200 as one of web's versions would give it.
FORBIDDEN = b"HTTP/1.1 403 Forbidden\r\ncontent-length: 9\r\n\r\nforbidden"


def answered_by_web(version: str) -> bytes:
    body = json.dumps({"service": "web", "version": version, "instance": f"web-{version}-0"}).encode()
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


def weighted_server(weights: Mapping[str, int], seed: int) -> Callable[[], asyncio.Protocol]:
    """A factory of HTTP/1.1 connections answering each request as web/<version>, drawn by weight (one
    random stream for every connection)."""
    rng = random.Random(seed)
    versions, shares = list(weights), list(weights.values())

    class Server(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                _, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
                self.transport.write(answered_by_web(rng.choices(versions, shares)[0]))

    return Server


class Forbidding(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        for _ in range(data.count(b"\r\n\r\n")):
            self.transport.write(FORBIDDEN)


#: When the flipping server changes its answer (time.monotonic()), and what it answers before and after.
FLIP: dict[str, Any] = {"at": 0.0, "allow_before": True}


class Flipping(asyncio.Protocol):
    """Answers as web (200) or 403, switching at ``FLIP["at"]``: a mesh that reads a change late."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        for _ in range(data.count(b"\r\n\r\n")):
            allow = FLIP["allow_before"] == (time.monotonic() < FLIP["at"])
            self.transport.write(answered_by_web("v1") if allow else FORBIDDEN)


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[dict[str, object]]:
    """The driver and the stand-in servers, on one background loop."""
    from aiohttp import web

    from smi_conformance.workload.driver import create_app
    from smi_conformance.workload.echo import EchoIdentity, EchoServer

    bg = Background()

    async def start() -> dict[str, object]:
        loop = asyncio.get_running_loop()
        runner = web.AppRunner(create_app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, LOOPBACK, 0).start()
        echo = await EchoServer(EchoIdentity("web", "v1", "web-v1-0"), http=(LOOPBACK, 0)).start()
        servers = {
            "correct": await loop.create_server(weighted_server({"v1": 90, "v2": 10}, 1), LOOPBACK, 0),
            "skewed": await loop.create_server(weighted_server({"v1": 82, "v2": 18}, 2), LOOPBACK, 0),
            "forbidding": await loop.create_server(Forbidding, LOOPBACK, 0),
            "flipping": await loop.create_server(Flipping, LOOPBACK, 0),
        }
        ports = {name: s.sockets[0].getsockname()[1] for name, s in servers.items()}
        return {
            "runner": runner,
            "echo": echo,
            "servers": servers,
            "ports": {**ports, "echo": echo.http_port},
        }

    state = bg.run(start())
    state["driver"] = f"http://{LOOPBACK}:{state['runner'].addresses[0][1]}"  # type: ignore[attr-defined]
    try:
        yield state
    finally:

        async def stop() -> None:
            for server in state["servers"].values():  # type: ignore[attr-defined]
                server.close()
            await state["echo"].stop()  # type: ignore[attr-defined]
            await state["runner"].cleanup()  # type: ignore[attr-defined]

        bg.run(stop())
        bg.close()


@contextlib.contextmanager
def context(
    stand_ins: dict[str, object],
    web: str,
    denial: list[str] | None = None,
    settings: SuiteSettings = SETTINGS,
) -> Iterator[TestContext]:
    """A context in which the Services web, web-v1 and web-v2 are the stand-in ``web``."""
    ports = stand_ins["ports"]
    assert isinstance(ports, dict)
    cluster = Routed(str(stand_ins["driver"]), {s: ports[web] for s in ("web", "web-v1", "web-v2")})
    ctx = TestContext(cluster, MeshInfo(name="stand-in", denial={"http": denial or ["status 403"]}), settings)
    try:
        yield ctx
    finally:
        ctx.traffic.close()


def test_allowed_and_denied_access_with_the_form_of_the_denial(stand_ins: dict[str, object]) -> None:
    with context(stand_ins, "echo") as allowing:
        check = allowing.expect_access("client", "web", allowed=True, path="/x")
    assert check.passed and check.convergence is not None and check.convergence.converged
    assert check.message.startswith(
        "smi-conformance/client -> smi-conformance/web: GET /x: allowed (200 from web/v1"
    )
    assert check.requests == check.convergence.probes * 4 + 20

    with context(stand_ins, "forbidding", denial=["closed"]) as denying:
        check = denying.expect_access("intruder", "web", allowed=False, method="POST")
    assert check.passed and check.observed["forms"] == {"status 403": 20}
    assert check.observed["examples"] == ["forbidden"]
    assert check.message.endswith("(the adapter declares closed)")  # it denied, but not as declared
    assert [c.passed for c in denying.checks] == [True]


def test_a_mesh_that_does_not_deny_fails_after_the_maximum_time_to_consistency(
    stand_ins: dict[str, object],
) -> None:
    impatient = SETTINGS.model_copy(update={"consistency_timeout_s": 0.5})
    with context(stand_ins, "echo", settings=impatient) as ctx, pytest.raises(ConformanceFailure) as err:
        ctx.expect_access("intruder", "web", allowed=False, path="/secret")
    check = err.value.check
    assert not check.passed and ctx.checks == [check]
    assert check.message == (
        "smi-conformance/intruder -> smi-conformance/web: GET /secret: expected denied; after 0.5 s still "
        "not: 200 from web/v1: 4 (last probe of 4)"
    )
    assert check.convergence is not None and not check.convergence.converged
    assert check.convergence.history  # the probes that did not agree, for the report


def test_a_held_denial_waits_out_what_an_earlier_change_allowed_then_holds_to_the_end(
    stand_ins: dict[str, object],
) -> None:
    """hold=True: an allow still in force from before (an earlier test's objects being deleted) is waited
    out; after that every probe must deny until the maximum time to consistency since the check began."""
    window = SETTINGS.model_copy(update={"consistency_timeout_s": 1.0})
    FLIP.update(at=time.monotonic() + 0.3, allow_before=True)
    with context(stand_ins, "flipping", settings=window) as ctx:
        began = time.monotonic()
        check = ctx.expect_access("client", "web", allowed=False, hold=True)
        took = time.monotonic() - began
    assert check.passed, check.message
    assert check.convergence is not None and check.convergence.converged
    assert took >= window.consistency_timeout_s  # held to the end of the window, not stopped at the denial


def test_a_held_denial_fails_when_the_mesh_allows_late(stand_ins: dict[str, object]) -> None:
    """Denied at first (the mesh had not read the change yet), allowed 0.3 s later: a false pass without the
    hold."""
    window = SETTINGS.model_copy(update={"consistency_timeout_s": 1.0})
    FLIP.update(at=time.monotonic() + 0.3, allow_before=False)
    with context(stand_ins, "flipping", settings=window) as ctx, pytest.raises(ConformanceFailure) as err:
        ctx.expect_access("client", "web", allowed=False, hold=True)
    check = err.value.check
    assert not check.passed
    assert "expected denied for 1 s" in check.message and "200 from web/v1" in check.message
    assert check.convergence is not None and not check.convergence.converged


def test_a_split_within_its_weights_passes_and_one_8_points_off_fails_saying_by_how_much(
    stand_ins: dict[str, object],
) -> None:
    weights = {"web-v1": 90, "web-v2": 10}
    with context(stand_ins, "correct") as ctx:
        ok = ctx.expect_split("client", "web", weights)
    assert ok.passed and "split as weighted over" in ok.message, ok.message
    assert ok.observed["errors"] == 0 and sum(ok.observed["counts"].values()) > 0
    assert ok.statistics is not None and ok.statistics["seconds"] >= 0

    with context(stand_ins, "skewed") as ctx, pytest.raises(ConformanceFailure) as err:
        ctx.expect_split("client", "web", weights)
    check = err.value.check
    assert "web-v2 received 1" in check.message and "expected 10% +- 5 points (p < 0.001)" in check.message
    counts = check.observed["counts"]
    assert counts["web-v2"] / (counts["web-v1"] + counts["web-v2"]) > 0.13
