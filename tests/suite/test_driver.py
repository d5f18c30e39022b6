"""The traffic driver on real loopback sockets: the echo workload, and small hostile servers that answer the
way a broken or denying mesh does (never, closed, reset, refused, a 403 page, garbage, an altered echo).

Every server here is bounded: it answers a known number of times or is closed by the test, and every request
carries a short timeout, so no test waits on the network for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web

from smi_conformance.workload.driver import create_app, run_http, run_stream
from smi_conformance.workload.echo import EchoIdentity, EchoServer
from smi_conformance.workload.traffic import (
    HttpRequestSpec,
    Outcome,
    OutcomeGroup,
    StreamSpec,
    TrafficResult,
)

LOOPBACK = "127.0.0.1"
#: Short enough that the timeout cases stay cheap, long enough for a loaded machine to answer on loopback.
SHORT = 0.3
WEB_V1 = EchoIdentity("web", "v1", "web-v1-0")

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def run(coro: Awaitable[Any]) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, 30)  # a hung driver fails the test instead of hanging it

    return asyncio.run(bounded())


@contextlib.asynccontextmanager
async def echo(ident: EchoIdentity = WEB_V1) -> AsyncIterator[EchoServer]:
    server = await EchoServer(ident, http=(LOOPBACK, 0), tcp=(LOOPBACK, 0), udp=(LOOPBACK, 0)).start()
    try:
        yield server
    finally:
        await server.stop()


class Recorder:
    """A TCP server running ``handler`` for every connection; counts the connections it accepted."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self.connections = 0
        self.server: asyncio.AbstractServer | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)  # type: ignore[arg-type]
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the peer went away, or the test is over
        finally:
            writer.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> Recorder:
        self.server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request head (the driver's requests here carry no body unless the test says so)."""
    return await reader.readuntil(b"\r\n\r\n")


def echo_like(service: str = "web", version: str = "v1", extra: str = "") -> bytes:
    body = json.dumps({"service": service, "version": version, "instance": f"{service}-{version}-0"}).encode()
    return (
        f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def http_spec(port: int, **kwargs: Any) -> HttpRequestSpec:
    kwargs.setdefault("timeout_s", SHORT)
    return HttpRequestSpec(connect=f"{LOOPBACK}:{port}", host="web.smi-conformance:8080", **kwargs)


def only(result: TrafficResult) -> Outcome:
    """The single outcome of a batch whose requests all ended alike."""
    assert len(result.groups) == 1, result.summary()
    return result.groups[0].outcome


# ------------------------------------------------------------------------------------ HTTP against echo
def test_http_batch_against_the_echo_counts_every_request_by_backend() -> None:
    async def main() -> TrafficResult:
        async with echo() as server:
            return await run_http(http_spec(server.http_port, count=57, concurrency=5, timeout_s=5))

    result = run(main())
    assert result.sent == 57 == result.count() == result.count(ok=True)
    assert result.count(ok=False) == 0
    assert only(result) == Outcome(status=200, service="web", version="v1", instance="web-v1-0")
    assert result.by("service") == {"web": 57}
    assert result.by("version") == {"v1": 57}
    assert result.by("instance") == {"web-v1-0": 57}
    assert result.by("form") == {"ok": 57}
    assert set(result.latency_ms) == {"p50", "p90", "p99", "max"}
    assert 0 < result.latency_ms["p50"] <= result.latency_ms["p90"] <= result.latency_ms["p99"]
    assert result.latency_ms["p99"] <= result.latency_ms["max"]
    example = json.loads(result.groups[0].example)
    assert example["path"] == "/" and example["headers"]["host"] == "web.smi-conformance:8080"


def test_http_request_is_sent_as_specified_method_path_query_headers_and_body() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_request(reader)
        seen.append(head + await reader.readexactly(5))
        writer.write(echo_like())
        await writer.drain()

    async def main() -> TrafficResult:
        async with Recorder(handler) as server:
            spec = http_spec(
                server.port,
                method="PUT",
                path="/books/42?format=json&x=%2F",
                headers=[("x-group", "beta"), ("X-Trace", "1")],
                body="hello",
                keep_alive=False,
            )
            return await run_http(spec)

    assert run(main()).count(ok=True) == 1
    lines = seen[0].split(b"\r\n")
    assert lines[0] == b"PUT /books/42?format=json&x=%2F HTTP/1.1"  # the target as given, not normalised
    assert set(lines[1:-2]) == {
        b"host: web.smi-conformance:8080",
        b"x-group: beta",
        b"X-Trace: 1",
        b"content-length: 5",
        b"connection: close",
    }
    assert lines[-1] == b"hello"


def test_outcomes_are_grouped_by_status_and_by_which_version_answered() -> None:
    async def main() -> tuple[TrafficResult, TrafficResult, TrafficResult]:
        async with echo() as v1, echo(EchoIdentity("web", "v2", "web-v2-0")) as v2:
            ok_v1 = await run_http(http_spec(v1.http_port, count=6, timeout_s=5))
            ok_v2 = await run_http(http_spec(v2.http_port, count=4, timeout_s=5))
            errors = await run_http(http_spec(v1.http_port, path="/status/503", count=3, timeout_s=5))
            return ok_v1, ok_v2, errors

    ok_v1, ok_v2, errors = run(main())
    both = ok_v1.merged(ok_v2).merged(errors)
    assert both.sent == 13 and both.count(ok=True) == 10 and both.count(ok=False) == 3
    assert both.by("version") == {"v1": 6, "v2": 4}
    assert both.by("form") == {"ok": 10, "status 503": 3}
    # a 503 from the echo names who answered, but it is not an answer a split may count
    failed = [g.outcome for g in both.groups if not g.outcome.ok]
    assert failed == [Outcome(status=503, service="web", version="v1", instance="web-v1-0")]


@pytest.mark.parametrize("keep_alive", [True, False])
def test_keep_alive_reuses_one_connection_per_worker_and_off_opens_one_per_request(keep_alive: bool) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_request(reader)
            close = b"connection: close" in head.lower()
            writer.write(echo_like(extra="connection: close\r\n" if close else ""))
            await writer.drain()
            if close:
                return

    async def main() -> tuple[TrafficResult, int]:
        async with Recorder(handler) as server:
            result = await run_http(http_spec(server.port, count=12, concurrency=3, keep_alive=keep_alive))
            return result, server.connections

    result, connections = run(main())
    assert result.count(ok=True) == 12
    assert connections == (3 if keep_alive else 12)


def test_a_server_closing_after_each_answer_costs_no_request() -> None:
    """A peer may close an idle keep-alive connection; the next request goes on a new one."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(echo_like())  # keep-alive (no connection: close), then closes anyway
        await writer.drain()

    async def main() -> tuple[TrafficResult, int]:
        async with Recorder(handler) as server:
            result = await run_http(http_spec(server.port, count=8, concurrency=1))
            return result, server.connections

    result, connections = run(main())
    assert result.by("form") == {"ok": 8}
    assert connections == 8


def test_a_body_delimited_by_the_close_of_the_connection_is_a_complete_answer() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        body = json.dumps({"service": "web", "version": "v1", "instance": "web-v1-0"}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + body)  # no length: ends with the close
        await writer.drain()

    async def main() -> TrafficResult:
        async with Recorder(handler) as server:
            return await run_http(http_spec(server.port, count=3, concurrency=1))

    result = run(main())
    assert only(result) == Outcome(status=200, service="web", version="v1", instance="web-v1-0")


@pytest.mark.parametrize("path", ["/", "/status/204"])
def test_answers_without_a_body_head_and_204_are_complete_and_name_the_backend(path: str) -> None:
    """A HEAD answer announces a length it does not send; a 204 has no body: both end at the head."""

    async def main() -> TrafficResult:
        async with echo() as server:
            method = "HEAD" if path == "/" else "GET"
            return await run_http(
                http_spec(server.http_port, method=method, path=path, count=4, concurrency=2)
            )

    result = run(main())
    status = 200 if path == "/" else 204
    assert only(result) == Outcome(status=status, service="web", version="v1", instance="web-v1-0")
    assert result.count(ok=True) == 4


def test_head_answers_keep_one_connection_in_step_and_unsigned_ones_name_no_backend() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(10):
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n")  # a length, never a body
            await writer.drain()

    async def main() -> tuple[TrafficResult, int]:
        async with Recorder(handler) as server:
            result = await run_http(http_spec(server.port, method="HEAD", count=5, concurrency=1))
            return result, server.connections

    result, connections = run(main())
    assert only(result) == Outcome(status=200)  # answered, but by nothing that says it is a backend
    assert result.sent == 5 and connections == 1


# -------------------------------------------------------------------------------- HTTP: failure forms
def test_a_server_that_never_answers_is_a_timeout_after_the_configured_time() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(60)  # cancelled when the server closes

    async def main() -> TrafficResult:
        async with Recorder(handler) as server:
            return await run_http(http_spec(server.port, count=4, concurrency=2))

    result = run(main())
    assert only(result) == Outcome(error="timeout")
    assert result.by("form") == {"timeout": 4}
    assert result.latency_ms == {}  # nothing answered
    # two rounds of two concurrent requests, each waiting out its own timeout
    assert result.elapsed_s >= 2 * SHORT * 0.95


def test_a_server_that_closes_before_answering_is_closed() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async def main() -> TrafficResult:
        async with Recorder(handler) as server:
            return await run_http(http_spec(server.port, count=5, concurrency=2))

    result = run(main())
    assert only(result) == Outcome(error="closed")
    assert "closed" in result.groups[0].example


def test_a_server_that_resets_is_reset() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        writer.transport.abort()

    async def main() -> TrafficResult:
        async with Recorder(handler) as server:
            return await run_http(http_spec(server.port, count=4, concurrency=2))

    result = run(main())
    assert only(result) == Outcome(error="reset")


def test_nothing_listening_is_refused() -> None:
    with socket.socket() as reserved:  # bound, never listening: connections to it are refused, and the
        reserved.bind((LOOPBACK, 0))  # port cannot be taken by anything else meanwhile
        port = reserved.getsockname()[1]
        result = run(run_http(http_spec(port, count=3, concurrency=3)))
    assert only(result) == Outcome(error="refused")
    assert result.by("form") == {"refused": 3}


def test_a_mesh_403_page_is_status_403_without_a_backend() -> None:
    page = b"RBAC: access denied"

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: %d\r\n\r\n%s" % (len(page), page))
            await writer.drain()

    async def main() -> TrafficResult:
        async with Recorder(handler) as server:
            return await run_http(http_spec(server.port, count=6, concurrency=2))

    result = run(main())
    assert only(result) == Outcome(status=403)
    assert not result.groups[0].outcome.ok
    assert result.groups[0].example == page.decode()
    assert result.by("form") == {"status 403": 6}
    assert result.by("service") == {}
    assert result.summary() == "status 403: 6"


@pytest.mark.parametrize(
    "answer",
    [b"SSH-2.0-OpenSSH_9.6\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: banana\r\n\r\n"],
    ids=["not-http", "bad-length"],
)
def test_an_answer_that_is_not_http_is_protocol(answer: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()
        await asyncio.sleep(60)  # keeps the connection open: the verdict must come from the bytes

    async def main() -> TrafficResult:
        async with Recorder(handler) as server:
            return await run_http(http_spec(server.port, count=2, concurrency=1, timeout_s=5))

    result = run(main())
    assert only(result) == Outcome(error="protocol")
    assert result.elapsed_s < 5  # decided by the parser, not by the timeout


def test_a_truncated_answer_is_closed() -> None:
    async def main() -> TrafficResult:
        async with echo() as server:
            return await run_http(http_spec(server.http_port, path="/truncate", count=2, concurrency=1))

    assert only(run(main())) == Outcome(error="closed")


# ------------------------------------------------------------------------------------------ TCP / UDP
def stream_spec(port: int, protocol: str, **kwargs: Any) -> StreamSpec:
    kwargs.setdefault("timeout_s", SHORT)
    return StreamSpec(connect=f"{LOOPBACK}:{port}", protocol=protocol, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_stream_flows_against_the_echo_read_the_greeting_and_verify_the_payload(protocol: str) -> None:
    async def main() -> TrafficResult:
        async with echo() as server:
            port = server.tcp_port if protocol == "tcp" else server.udp_port
            return await run_stream(
                stream_spec(port, protocol, count=20, concurrency=4, payload_bytes=1000, timeout_s=5)
            )

    result = run(main())
    assert result.sent == 20 == result.count(ok=True)
    assert only(result) == Outcome(service="web", version="v1", instance="web-v1-0")
    assert result.summary() == "ok from web/v1: 20"
    assert result.groups[0].example == "service=web version=v1 instance=web-v1-0"
    assert set(result.latency_ms) == {"p50", "p90", "p99", "max"}


def test_tcp_echo_altered_by_the_peer_is_a_mismatch_naming_who_greeted() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(WEB_V1.line)
        data = await reader.readexactly(64)
        writer.write(bytes(reversed(data)))
        await writer.drain()

    async def main() -> TrafficResult:
        async with Recorder(handler) as server:
            return await run_stream(stream_spec(server.port, "tcp", count=3, payload_bytes=64))

    result = run(main())
    assert only(result) == Outcome(service="web", error="mismatch")
    assert not result.groups[0].outcome.ok
    assert result.by("form") == {"mismatch": 3}


def test_tcp_peer_that_closes_at_once_is_closed() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return  # accept, then close: how many meshes deny a TCP connection

    async def main() -> tuple[TrafficResult, int]:
        async with Recorder(handler) as server:
            result = await run_stream(stream_spec(server.port, "tcp", count=5, concurrency=2))
            return result, server.connections

    result, connections = run(main())
    assert only(result) == Outcome(error="closed")
    assert connections == 5  # one fresh connection per flow


def test_tcp_peer_that_is_not_the_echo_is_protocol() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 smtp.example ESMTP\r\n")
        await writer.drain()

    async def main() -> TrafficResult:
        async with Recorder(handler) as server:
            return await run_stream(stream_spec(server.port, "tcp", count=2))

    result = run(main())
    assert only(result) == Outcome(error="protocol")
    assert result.groups[0].example.startswith("220 smtp")


def test_tcp_nothing_listening_is_refused() -> None:
    with socket.socket() as reserved:
        reserved.bind((LOOPBACK, 0))
        result = run(run_stream(stream_spec(reserved.getsockname()[1], "tcp", count=2)))
    assert only(result) == Outcome(error="refused")


def test_udp_without_an_answer_is_a_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # receives, never answers
        silent.bind((LOOPBACK, 0))
        result = run(run_stream(stream_spec(silent.getsockname()[1], "udp", count=3, concurrency=3)))
        received = 0
        silent.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            for _ in range(10):
                silent.recv(65536)
                received += 1
    assert only(result) == Outcome(error="timeout")
    assert received == 3
    assert result.elapsed_s >= SHORT * 0.95


def test_udp_to_a_closed_port_is_refused() -> None:
    """Loopback answers a datagram to a closed port with ICMP port unreachable, which the flow reports."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as reserved:
        reserved.bind((LOOPBACK, 0))
        port = reserved.getsockname()[1]
    result = run(run_stream(stream_spec(port, "udp", count=2, timeout_s=5)))
    assert only(result) == Outcome(error="refused")


def test_udp_altered_echo_is_a_mismatch() -> None:
    class Altering(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(WEB_V1.line + data[:-1], addr)  # one byte short

    async def main() -> TrafficResult:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(Altering, local_addr=(LOOPBACK, 0))
        try:
            port = transport.get_extra_info("sockname")[1]
            return await run_stream(stream_spec(port, "udp", count=2))
        finally:
            transport.close()

    assert only(run(main())) == Outcome(service="web", error="mismatch")


# -------------------------------------------------------------------------------------- control API
@contextlib.asynccontextmanager
async def driver() -> AsyncIterator[httpx.AsyncClient]:
    """The driver's control API on a real socket, and a client for it."""
    runner = web.AppRunner(create_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with httpx.AsyncClient(base_url=f"http://{LOOPBACK}:{port}", trust_env=False, timeout=20) as c:
            yield c
    finally:
        await runner.cleanup()


def test_control_api_runs_http_and_stream_batches() -> None:
    async def main() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with echo() as server, driver() as api:
            health = await api.get("/healthz")
            http = await api.post("/v1/http", content=http_spec(server.http_port, count=9).model_dump_json())
            tcp = await api.post(
                "/v1/stream", content=stream_spec(server.tcp_port, "tcp", count=4).model_dump_json()
            )
            return health, http, tcp

    health, http, tcp = run(main())
    assert (health.status_code, health.text) == (200, "ok")
    assert http.status_code == 200 and http.headers["content-type"].startswith("application/json")
    result = TrafficResult.model_validate_json(http.content)
    assert result.sent == 9 and result.by("instance") == {"web-v1-0": 9}
    stream = TrafficResult.model_validate_json(tcp.content)
    assert stream.sent == 4 and stream.by("version") == {"v1": 4}


@pytest.mark.parametrize(
    ("path", "body", "mentions"),
    [
        ("/v1/http", b"{not json", "Invalid JSON"),
        ("/v1/stream", b"", "Invalid JSON"),
        ("/v1/http", b'{"connect": "127.0.0.1:1", "host": "web", "count": 0}', "count"),
        ("/v1/http", b'{"connect": "127.0.0.1:1", "host": "web", "colour": "red"}', "colour"),
        ("/v1/stream", b'{"connect": "127.0.0.1:1", "protocol": "sctp"}', "protocol"),
    ],
    ids=["invalid-json", "empty", "count-0", "unknown-field", "bad-protocol"],
)
def test_control_api_rejects_bad_requests_with_400_and_a_message(
    path: str, body: bytes, mentions: str
) -> None:
    async def main() -> httpx.Response:
        async with driver() as api:
            return await api.post(path, content=body)

    resp = run(main())
    assert resp.status_code == 400
    assert mentions in resp.json()["error"]


# ------------------------------------------------------------------------------------ TrafficResult
def group(count: int, example: str = "", **outcome: Any) -> OutcomeGroup:
    return OutcomeGroup(outcome=Outcome(**outcome), count=count, example=example)


def test_traffic_result_helpers() -> None:
    a = TrafficResult(
        sent=10,
        groups=[
            group(6, "a-v1", status=200, service="web", version="v1", instance="web-v1-0"),
            group(3, "a-403", status=403),
            group(1, "a-reset", error="reset"),
        ],
        elapsed_s=1.0,
        latency_ms={"p50": 1.0},
    )
    b = TrafficResult(
        sent=5,
        groups=[
            group(2, "b-v1", status=200, service="web", version="v1", instance="web-v1-0"),
            group(3, "b-v2", status=200, service="web", version="v2", instance="web-v2-0"),
        ],
        elapsed_s=0.5,
    )
    assert (a.count(), a.count(ok=True), a.count(ok=False)) == (10, 6, 4)
    assert a.by("version") == {"v1": 6}
    assert a.by("form") == {"ok": 6, "status 403": 3, "reset": 1}
    assert a.summary() == "200 from web/v1: 6, status 403: 3, reset: 1"
    both = a.merged(b)
    assert both.sent == 15 and both.elapsed_s == 1.5
    assert both.latency_ms == {}  # percentiles do not add
    assert both.by("version") == {"v1": 8, "v2": 3}
    assert both.by("instance") == {"web-v1-0": 8, "web-v2-0": 3}
    v1 = [g for g in both.groups if g.outcome.version == "v1"]
    assert [(g.count, g.example) for g in v1] == [(8, "a-v1")]  # the first example is kept
    assert b.merged(a).count() == both.count() == 15
    # the merged result is still valid wire format
    assert TrafficResult.model_validate_json(both.model_dump_json()) == both
    assert TrafficResult(sent=0, groups=[], elapsed_s=0).summary() == "nothing sent"


def test_outcome_forms() -> None:
    assert Outcome(service="web").ok and Outcome(service="web").form == "ok"  # TCP/UDP echo
    assert not Outcome(status=200).ok  # a 200 that no backend signed
    assert Outcome(status=404, service="web").form == "status 404"
    assert Outcome(error="tls").form == "tls"
    assert not Outcome(status=200, service="web", error="mismatch").ok
