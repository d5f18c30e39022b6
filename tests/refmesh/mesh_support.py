"""Test support for the reference mesh: a background event loop, an independent HTTP client (h11), and a small
standard topology (web client, api v1/v2 servers with echo apps, an intruder) with real sidecars on
loopback."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import math
import ssl
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import h11
import uvloop
from loopback import OUTBOUND_HTTP_PORT, Instance, LoopbackMesh

from reference_mesh.proxy.config import (
    AuthorizationPolicy,
    AuthorizationRule,
    HttpMatch,
    PortSet,
    ProxyConfig,
)
from reference_mesh.proxy.server import Proxy
from reference_mesh.proxy.tls import MeshTls
from smi_conformance.workload.echo import EchoIdentity, EchoServer

T = TypeVar("T")

HTTP_PORT, TCP_PORT, UDP_PORT = 8080, 9000, 9001
TCP_OUT, UDP_OUT = 16000, 16001


class LoopThread:
    """A uvloop event loop in a daemon thread; ``run(coro)`` waits for a coroutine's result from sync code."""

    def __init__(self) -> None:
        self.loop = uvloop.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise

    def close(self) -> None:
        async def cancel_rest() -> None:
            me = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not me]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        self.run(cancel_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpClient:
    """A keep-alive HTTP/1.1 client on h11 (a parser independent of the proxy's httptools).

    Every client is remembered until :meth:`close_all` (the ``topo`` fixture calls it after each test), so
    tests need not close the ones they make."""

    _open: ClassVar[list[HttpClient]] = []

    @classmethod
    async def close_all(cls) -> None:
        for client in cls._open:
            await client.close()
        cls._open.clear()

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext | None = None):
        HttpClient._open.append(self)
        self.host, self.port, self.ssl = host, port, ssl_context
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.conn = h11.Connection(h11.CLIENT)
        self.connects = 0

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, ssl=self.ssl)
        self.conn = h11.Connection(h11.CLIENT)
        self.connects += 1

    async def request(
        self,
        method: str,
        target: str,
        *,
        host: str = "api",
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> Response:
        if (
            self.writer is None
            or self.conn.our_state is h11.MUST_CLOSE
            or self.conn.their_state is h11.CLOSED
        ):
            await self._connect()
        assert self.reader is not None and self.writer is not None
        if self.conn.our_state is h11.DONE:
            self.conn.start_next_cycle()
        hdrs = [("host", host), *(headers or [])]
        if body:
            hdrs.append(("content-length", str(len(body))))
        data = self.conn.send(h11.Request(method=method, target=target, headers=hdrs))
        if body:
            data += self.conn.send(h11.Data(data=body))
        data += self.conn.send(h11.EndOfMessage())
        self.writer.write(data)
        await self.writer.drain()
        status, resp_headers, chunks = 0, {}, []
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    received = await self.reader.read(65536)
                except (ConnectionError, OSError):
                    received = b""
                if not received:
                    await self.close()
                self.conn.receive_data(received)
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                resp_headers = {k.decode().lower(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("closed before the response ended")
        if self.conn.our_state is h11.MUST_CLOSE or self.conn.their_state is h11.MUST_CLOSE:
            await self.close()
        return Response(status, resp_headers, b"".join(chunks))

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.writer = None


async def tcp_exchange(host: str, port: int, payload: bytes, timeout: float = 5.0) -> bytes:
    """Connect, send ``payload``, half-close, read everything until the peer closes."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


async def raw_exchange(
    host: str, port: int, payload: bytes, ssl_context: ssl.SSLContext | None = None, timeout: float = 5.0
) -> bytes:
    """Connect (over TLS with ``ssl_context``), send ``payload`` as it is, read until the peer closes; for
    requests no HTTP client library would send (end them with ``connection: close``)."""
    reader, writer = await asyncio.open_connection(host, port, ssl=ssl_context)
    chunks: list[bytes] = []
    try:
        writer.write(payload)
        await writer.drain()
        while data := await asyncio.wait_for(reader.read(65536), timeout):
            chunks.append(data)
        return b"".join(chunks)
    except (ConnectionError, ssl.SSLError):
        return b"".join(chunks)
    finally:
        writer.close()


class _UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.replies.put_nowait(data)


async def udp_exchange(host: str, port: int, payload: bytes, timeout: float = 3.0) -> bytes | None:
    """Send one datagram; the first reply, or None if none comes within ``timeout``."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_UdpClient, remote_addr=(host, port))
    try:
        transport.sendto(payload)
        try:
            return await asyncio.wait_for(proto.replies.get(), timeout)
        except asyncio.TimeoutError:
            return None
    finally:
        transport.close()


class UdpFlow:
    """One client UDP socket (so one flow through the sidecar) for several exchanges."""

    def __init__(self, transport: asyncio.DatagramTransport, protocol: _UdpClient):
        self.transport, self.protocol = transport, protocol

    @classmethod
    async def open(cls, host: str, port: int) -> UdpFlow:
        transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
            _UdpClient, remote_addr=(host, port)
        )
        return cls(transport, protocol)

    async def exchange(self, payload: bytes, timeout: float = 3.0) -> bytes | None:
        """Send one datagram; the first reply, or None if none comes within ``timeout``."""
        self.transport.sendto(payload)
        try:
            return await asyncio.wait_for(self.protocol.replies.get(), timeout)
        except asyncio.TimeoutError:
            return None

    def close(self) -> None:
        self.transport.close()


async def read_to_end(reader: asyncio.StreamReader, timeout: float = 5.0) -> bytes:
    """What arrives until the peer closes (a reset counts as a close); ``timeout`` only guards a hang."""
    chunks = []
    try:
        while data := await asyncio.wait_for(reader.read(65536), timeout):
            chunks.append(data)
    except ConnectionError:
        pass
    return b"".join(chunks)


async def tap_first(proxy: Proxy, query: str, trigger: Coroutine[Any, Any, T]) -> tuple[T, dict[str, Any]]:
    """Subscribe to ``proxy``'s tap (``/tap?<query>``), run ``trigger``; its result and the first event."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.admin_port)
    try:
        writer.write(f"GET /tap?{query} HTTP/1.1\r\nhost: admin\r\n\r\n".encode())
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(0.05)  # the subscription is registered once the head went out
        result = await trigger
        await reader.readline()  # chunk size
        return result, json.loads(await asyncio.wait_for(reader.readline(), 5))
    finally:
        writer.close()


def binomial_floor(n: int, p: float, alpha: float) -> int:
    """The largest k with P[X < k] <= alpha for X ~ Binomial(n, p) (exact): a count that stochastically
    dominates X falls below k with probability at most alpha."""
    below, k = 0.0, 0
    while k <= n:
        log_term = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
        below += math.exp(log_term + k * math.log(p) + (n - k) * math.log1p(-p))  # now P[X < k + 1]
        if below > alpha:
            return k
        k += 1
    return n + 1


def allow_all_http(*sources: Instance, name: str = "default/allow") -> AuthorizationPolicy:
    return AuthorizationPolicy(
        rules=(
            AuthorizationRule(
                name=name,
                sources=tuple(s.identity.uri for s in sources),
                http=(HttpMatch(),),
                tcp=PortSet(),
                udp=PortSet(),
            ),
        )
    )


@dataclass
class Topology:
    """web-0 and intruder-0 call api (api-v1-0 + api-v2-0), each with a sidecar and (servers) an echo app."""

    mesh: LoopbackMesh
    web: Instance
    intruder: Instance
    v1: Instance
    v2: Instance
    proxies: dict[str, Proxy] = field(default_factory=dict)
    echoes: dict[str, EchoServer] = field(default_factory=dict)
    _tls: list[MeshTls] = field(default_factory=list)

    @classmethod
    async def start(cls) -> Topology:
        mesh = LoopbackMesh()
        ports = {HTTP_PORT: "http", TCP_PORT: "tcp", UDP_PORT: "udp"}
        topo = cls(
            mesh,
            web=mesh.add("web-0", "web"),
            intruder=mesh.add("intruder-0", "intruder"),
            v1=mesh.add("api-v1-0", "api-v1", ["api", "api-v1"], version="v1", ports=ports),
            v2=mesh.add("api-v2-0", "api-v2", ["api", "api-v2"], version="v2", ports=ports),
        )
        for inst in (topo.v1, topo.v2):
            await topo.start_echo(inst)
        for inst in (topo.web, topo.intruder, topo.v1, topo.v2):
            proxy = Proxy(inst.credentials)
            await proxy.start()
            topo.proxies[inst.name] = proxy
        await topo.configure()
        return topo

    async def start_echo(self, inst: Instance) -> None:
        """(Re)start the echo app of ``inst`` on its HTTP, TCP and UDP app ports (retrying while released)."""
        for _ in range(50):
            try:
                self.echoes[inst.name] = await EchoServer(
                    EchoIdentity("api", inst.labels["version"], inst.name),
                    http=(inst.address, inst.app_port(HTTP_PORT)),
                    tcp=(inst.address, inst.app_port(TCP_PORT)),
                    udp=(inst.address, inst.app_port(UDP_PORT)),
                ).start()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError(f"echo of {inst.name} did not start")

    def snapshot(self, inst: Instance, **kw: Any) -> ProxyConfig:
        if inst in (self.v1, self.v2):
            kw.setdefault("authorization", allow_all_http(self.web))
        else:
            kw.setdefault("tcp", {TCP_OUT: ("api", TCP_PORT)})
            kw.setdefault("udp", {UDP_OUT: ("api", UDP_PORT)})
        return self.mesh.config(inst, **kw)

    async def configure(self, **server_kw: Any) -> None:
        """(Re)apply snapshots to every proxy: clients get outbound config, servers ``server_kw``."""
        for inst in (self.web, self.intruder):
            await self.proxies[inst.name].apply(self.snapshot(inst))
        for inst in (self.v1, self.v2):
            await self.proxies[inst.name].apply(self.snapshot(inst, **server_kw))

    def client(self, inst: Instance | None = None) -> HttpClient:
        return HttpClient((inst or self.web).address, OUTBOUND_HTTP_PORT)

    def direct(self, server: Instance, caller: Instance | None = None) -> HttpClient:
        """Straight to ``server``'s inbound HTTP port over mTLS as ``caller`` (web): a caller whose own
        sidecar sends requests exactly as given, so the server side's decisions are tested alone."""
        tls = MeshTls((caller or self.web).credentials)
        self._tls.append(tls)
        return HttpClient(server.address, HTTP_PORT, tls.client)

    async def stop(self) -> None:
        for tls in self._tls:
            tls.close()
        for proxy in self.proxies.values():
            await proxy.stop()
        for echo in self.echoes.values():
            await echo.stop()
