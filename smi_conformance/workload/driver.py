"""The traffic driver: a workload that runs inside a client pod and sends the suite's traffic from there.

The suite never sends test traffic itself: it asks the driver over HTTP, so every request leaves from a meshed
pod and goes through that pod's sidecar, as a user's application would. The driver only sends and tallies; it
judges nothing (the suite does).

    POST /v1/http    HttpRequestSpec -> TrafficResult
    POST /v1/stream  StreamSpec      -> TrafficResult   (TCP connections or UDP flows)
    GET  /healthz    200 "ok"

Run: ``python -m smi_conformance.workload.driver --listen 127.0.0.1:8000`` (the embedded cluster uses
``$APP_ADDRESS:$PORT``). HTTP/1.1 is spoken with httptools' parser over plain asyncio protocols: a Python HTTP
client library costs several times more CPU per request, and on a small machine the driver shares the cores
with the mesh it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl
import time
from collections.abc import Callable
from typing import cast

import click
import httptools
import uvloop
from aiohttp import web
from pydantic import ValidationError

from smi_conformance.hostport import HOST_PORT
from smi_conformance.workload.traffic import (
    ErrorKind,
    HttpRequestSpec,
    Outcome,
    OutcomeGroup,
    StreamSpec,
    TrafficResult,
)

__all__ = ["Tally", "create_app", "run_http", "run_stream"]

EXAMPLE_CHARS = 300


class Tally:
    """Outcomes and latencies of one batch."""

    def __init__(self) -> None:
        self.counts: dict[Outcome, int] = {}
        self.examples: dict[Outcome, str] = {}
        self.latencies: list[float] = []
        self.sent = 0

    def add(self, outcome: Outcome, example: str = "", latency_s: float | None = None) -> None:
        self.sent += 1
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if outcome not in self.examples:
            self.examples[outcome] = example[:EXAMPLE_CHARS]
        if latency_s is not None:
            self.latencies.append(latency_s)

    def result(self, elapsed_s: float) -> TrafficResult:
        latency: dict[str, float] = {}
        if self.latencies:
            ordered = sorted(self.latencies)
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
                latency[name] = round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)
            latency["max"] = round(ordered[-1] * 1000, 3)
        groups = [OutcomeGroup(outcome=o, count=n, example=self.examples[o]) for o, n in self.counts.items()]
        return TrafficResult(sent=self.sent, groups=groups, elapsed_s=round(elapsed_s, 4), latency_ms=latency)


def _error_kind(exc: BaseException) -> ErrorKind:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "reset"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, socket.gaierror):
        return "resolve"
    if isinstance(exc, EOFError | asyncio.IncompleteReadError):
        return "closed"
    if isinstance(exc, httptools.HttpParserError | ValueError):
        return "protocol"
    return "reset" if isinstance(exc, OSError) else "protocol"


def _split_host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


# ------------------------------------------------------------------------------------------------ HTTP
#: Headers the echo workload signs every answer with, so answers without a body (HEAD, 204, 304) still
#: name who answered.
IDENTITY_HEADERS = {
    b"x-echo-service": "service",
    b"x-echo-version": "version",
    b"x-echo-instance": "instance",
    b"x-echo-namespace": "namespace",
}


class _Response:
    __slots__ = ("body", "framed", "headers_done", "identity", "keep_alive", "status")

    def __init__(self) -> None:
        self.status = 0
        self.body = bytearray()
        self.identity: dict[str, str] = {}
        self.keep_alive = True
        self.headers_done = False
        #: The head announced where the body ends (content-length or chunked); without it the body ends
        #: with the connection (RFC 9112 6.3).
        self.framed = False


class _HttpClient(asyncio.Protocol):
    """One keep-alive connection; ``exchange`` sends a request and waits for its whole response.
    ``head``: the requests are HEADs, whose answers end with their head whatever length they announce."""

    def __init__(self, head: bool = False) -> None:
        self.head = head
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response = _Response()
        self.waiter: asyncio.Future[_Response] | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def eof_received(self) -> bool | None:
        if self.response.headers_done and not self.response.framed:
            self.on_message_complete()  # a body delimited by the close is complete (httptools has no EOF)
        self._fail(EOFError("the connection closed before a complete response"))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or EOFError("the connection closed before a complete response"))

    def _fail(self, exc: BaseException) -> None:
        self.lost = self.lost or exc
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    # httptools callbacks
    def on_status(self, status: bytes) -> None:
        self.response.status = self.parser.get_status_code()

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.lower()
        if key in (b"content-length", b"transfer-encoding"):
            self.response.framed = True
        elif key in IDENTITY_HEADERS:
            self.response.identity[IDENTITY_HEADERS[key]] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.response.status = self.parser.get_status_code()
        self.response.keep_alive = self.parser.should_keep_alive()
        self.response.headers_done = True
        if self.head:
            # httptools cannot be told the request was a HEAD (it would wait for the announced body):
            # the answer ends here, and a fresh parser reads the next one on this connection
            self.parser = httptools.HttpResponseParser(self)
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        if len(self.response.body) < 65536:
            self.response.body += body

    def on_message_complete(self) -> None:
        if not self.response.headers_done:
            return  # the parser a HEAD answer left behind finishing that answer: already complete
        response, self.response = self.response, _Response()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(response)

    async def exchange(self, request: bytes) -> _Response:
        if self.lost is not None or self.transport is None or self.transport.is_closing():
            raise self.lost or EOFError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _render(spec: HttpRequestSpec) -> bytes:
    lines = [f"{spec.method} {spec.path} HTTP/1.1", f"host: {spec.host}"]
    lines += [f"{k}: {v}" for k, v in spec.headers]
    body = spec.body.encode()
    if body or spec.method in ("POST", "PUT", "PATCH"):
        lines.append(f"content-length: {len(body)}")
    if not spec.keep_alive:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _http_outcome(response: _Response) -> tuple[Outcome, str]:
    text = bytes(response.body).decode("utf-8", "replace")
    who = response.identity
    if response.body[:1] == b"{":
        with contextlib.suppress(ValueError):
            reply = json.loads(text)
            if isinstance(reply, dict) and "service" in reply:
                who = {k: str(reply.get(k, "")) for k in ("service", "version", "instance", "namespace")}
    return (
        Outcome(
            status=response.status,
            service=who.get("service", ""),
            version=who.get("version", ""),
            instance=who.get("instance", ""),
            namespace=who.get("namespace", ""),
        ),
        text,
    )


async def run_http(spec: HttpRequestSpec) -> TrafficResult:
    """Send the batch; every request gets an outcome (nothing is retried: the mesh's answer is the data)."""
    loop = asyncio.get_running_loop()
    host, port = _split_host_port(spec.connect)
    request = _render(spec)
    tally = Tally()
    remaining = spec.count
    started = time.monotonic()
    head = spec.method == "HEAD"

    async def connect() -> _HttpClient:
        _, proto = await asyncio.wait_for(
            loop.create_connection(lambda: _HttpClient(head), host, port), spec.timeout_s
        )
        return proto

    async def worker() -> None:
        nonlocal remaining
        client: _HttpClient | None = None
        try:
            while remaining > 0:
                remaining -= 1
                t0 = time.perf_counter()
                try:
                    if client is None or client.lost is not None:  # closed while idle: not an outcome
                        client = await connect()
                    response = await asyncio.wait_for(client.exchange(request), spec.timeout_s)
                except Exception as exc:  # every failure is an outcome to tally, never a crash
                    tally.add(Outcome(error=_error_kind(exc)), f"{type(exc).__name__}: {exc}")
                    if client is not None:
                        client.close()
                    client = None
                    continue
                outcome, text = _http_outcome(response)
                tally.add(outcome, text, time.perf_counter() - t0)
                if not (spec.keep_alive and response.keep_alive):
                    client.close()
                    client = None
        finally:
            if client is not None:
                client.close()

    await asyncio.gather(*(worker() for _ in range(min(spec.concurrency, spec.count))))
    return tally.result(time.monotonic() - started)


# ------------------------------------------------------------------------------------------ TCP / UDP
def _greeting(line: bytes) -> Outcome | None:
    """The echo's ``service=web version=v1 instance=web-v1-0`` line, or None if it is something else."""
    fields = dict(part.partition("=")[::2] for part in line.decode("utf-8", "replace").split())
    if "service" not in fields:
        return None
    return Outcome(
        service=fields["service"],
        version=fields.get("version", ""),
        instance=fields.get("instance", ""),
        namespace=fields.get("namespace", ""),
    )


async def _tcp_flow(host: str, port: int, payload: bytes, timeout: float) -> tuple[Outcome, str]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            raise EOFError("closed before the echo greeting")
        outcome = _greeting(line)
        if outcome is None:
            return Outcome(error="protocol"), line.decode("utf-8", "replace")
        writer.write(payload)
        await writer.drain()
        echoed = await asyncio.wait_for(reader.readexactly(len(payload)), timeout)
        if echoed != payload:
            return Outcome(error="mismatch", service=outcome.service), "echo differs from what was sent"
        return outcome, line.decode().strip()
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


class _UdpFlow(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


async def _udp_flow(host: str, port: int, payload: bytes, timeout: float) -> tuple[Outcome, str]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_UdpFlow, remote_addr=(host, port))
    try:
        transport.sendto(payload)
        data = await asyncio.wait_for(proto.reply, timeout)
    finally:
        transport.close()
    line, _, echoed = data.partition(b"\n")
    outcome = _greeting(line)
    if outcome is None:
        return Outcome(error="protocol"), data[:EXAMPLE_CHARS].decode("utf-8", "replace")
    if echoed != payload:
        return Outcome(error="mismatch", service=outcome.service), "echo differs from what was sent"
    return outcome, line.decode().strip()


async def run_stream(spec: StreamSpec) -> TrafficResult:
    host, port = _split_host_port(spec.connect)
    flow: Callable[..., object] = _tcp_flow if spec.protocol == "tcp" else _udp_flow
    payload = os.urandom(spec.payload_bytes)
    tally = Tally()
    remaining = spec.count
    started = time.monotonic()

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            try:
                outcome, text = await flow(host, port, payload, spec.timeout_s)  # type: ignore[misc]
            except Exception as exc:  # every failure is an outcome
                tally.add(Outcome(error=_error_kind(exc)), f"{type(exc).__name__}: {exc}")
                continue
            tally.add(outcome, text, time.perf_counter() - t0 if outcome.ok else None)

    await asyncio.gather(*(worker() for _ in range(min(spec.concurrency, spec.count))))
    return tally.result(time.monotonic() - started)


# ---------------------------------------------------------------------------------------- control API
def create_app() -> web.Application:
    """The driver's control API (aiohttp: it serves a few calls per second; the load engine above is the fast
    part)."""

    async def http(request: web.Request) -> web.Response:
        try:
            spec = HttpRequestSpec.model_validate_json(await request.read())
        except ValidationError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.Response(text=(await run_http(spec)).model_dump_json(), content_type="application/json")

    async def stream(request: web.Request) -> web.Response:
        try:
            spec = StreamSpec.model_validate_json(await request.read())
        except ValidationError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.Response(text=(await run_stream(spec)).model_dump_json(), content_type="application/json")

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=1 << 20)
    app.add_routes([web.post("/v1/http", http), web.post("/v1/stream", stream), web.get("/healthz", healthz)])
    return app


@click.command()
@click.option(
    "--listen",
    type=HOST_PORT,
    default=None,
    help="where the suite reaches the driver [default: $APP_ADDRESS:$PORT, else 0.0.0.0:8000]",
)
def main(listen: tuple[str, int] | None) -> None:
    """Run the traffic driver until SIGINT/SIGTERM."""
    if listen is None:
        listen = (os.environ.get("APP_ADDRESS", "0.0.0.0"), int(os.environ.get("PORT", "8000")))

    async def run() -> None:
        runner = web.AppRunner(create_app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, *listen, backlog=128).start()
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {listen[0]}:{listen[1]}: {exc.strerror}") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    uvloop.run(run())


if __name__ == "__main__":
    main()
