"""How the proxies relay HTTP messages: header lines as received (order, case, duplicates), identity and
hop-by-hop fields removed, framing re-made, malformed and ambiguous messages refused before anything reaches
the application; and the connection driver underneath (flow control, errors)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from loopback import OUTBOUND_HTTP_PORT
from mesh_support import HTTP_PORT, LoopThread, Topology, allow_all_http, tcp_exchange

from reference_mesh.proxy.connection import HttpConnection
from reference_mesh.proxy.http1 import READ_SIZE, HttpProtocolError, RequestHead
from reference_mesh.proxy.server import Proxy

APP_RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Set-Cookie: a=1\r\n"
    b"X-Reply: first\r\n"
    b"set-cookie: b=2\r\n"
    b"Connection: keep-alive, X-Hop\r\n"
    b"X-Hop: dropped\r\n"
    b"Keep-Alive: timeout=5\r\n"
    b"content-length: 2\r\n"
    b"\r\n"
    b"ok"
)


@asynccontextmanager
async def recorder(topo: Topology) -> AsyncIterator[list[bytes]]:
    """A mesh workload "recorder" whose application keeps each request exactly as it arrived (head and
    body) and answers :data:`APP_RESPONSE`; web-0 may call it."""
    mesh = topo.mesh
    inst = mesh.add("recorder-0", "recorder", ["recorder"])
    seen: list[bytes] = []

    async def app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lower = head.lower()
                body = b""
                if b"transfer-encoding: chunked" in lower:
                    body = await reader.readuntil(b"0\r\n\r\n")
                elif b"content-length:" in lower:
                    length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
                    body = await reader.readexactly(length)
                seen.append(head + body)
                writer.write(APP_RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(app, inst.address, inst.app_port(HTTP_PORT))
    proxy = Proxy(inst.credentials)
    await proxy.start()
    topo.proxies[inst.name] = proxy
    try:
        await proxy.apply(topo.snapshot(inst, authorization=allow_all_http(topo.web)))
        await topo.proxies[topo.web.name].apply(topo.snapshot(topo.web))
        yield seen
    finally:
        server.close()
        await proxy.stop()
        del topo.proxies[inst.name]
        mesh.instances.remove(inst)
        await topo.proxies[topo.web.name].apply(topo.snapshot(topo.web))


def through_mesh(
    topo: Topology, loop_thread: LoopThread, *requests: bytes
) -> tuple[list[bytes], list[bytes]]:
    """Send each raw request from web-0 to the recorder (a connection each); what the recorder's application
    received, and what came back to the client."""

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        async with recorder(topo) as seen:
            answers = [await tcp_exchange(topo.web.address, OUTBOUND_HTTP_PORT, r) for r in requests]
            return list(seen), answers

    return loop_thread.run(scenario())


def test_header_lines_pass_as_received_minus_identity_and_hop_by_hop(
    topo: Topology, loop_thread: LoopThread
) -> None:
    request = (
        b"GET /path?q=1 HTTP/1.1\r\n"
        b"Host: recorder\r\n"
        b"X-Custom:   spaced value\r\n"
        b"Accept: text/plain\r\n"
        b"accept: application/json\r\n"
        b"X-Mesh-Client-Id: spiffe://cluster.local/ns/default/sa/admin\r\n"
        b"x-mesh-client-id: spiffe://cluster.local/ns/default/sa/root\r\n"
        b"L5D-Client-Id: admin\r\n"
        b"X-Forwarded-Client-Cert: By=spiffe://x\r\n"
        b"Connection: close, X-Private\r\n"
        b"X-Private: secret\r\n"
        b"TE: trailers\r\n"
        b"Proxy-Connection: keep-alive\r\n"
        b"Expect: something-else\r\n"
        b"\r\n"
    )
    (seen,), (answer,) = through_mesh(topo, loop_thread, request)
    lines = seen.split(b"\r\n")
    assert lines[0] == b"GET /path?q=1 HTTP/1.1"
    fields = [line for line in lines[1:] if line]
    # everything else, byte for byte and in order; then what the proxies add
    assert fields[:4] == [
        b"Host: recorder",
        b"X-Custom: spaced value",  # llhttp trims the optional whitespace; the proxy keeps the rest
        b"Accept: text/plain",
        b"accept: application/json",
    ]
    lower = [f.lower() for f in fields]
    assert [f for f in lower if f.startswith(b"x-mesh-client-id:")] == [
        b"x-mesh-client-id: " + topo.web.identity.uri.encode()
    ]
    for gone in (b"l5d-client-id", b"x-forwarded-client-cert", b"connection", b"x-private", b"te", b"expect"):
        assert not any(f.startswith(gone + b":") for f in lower), gone
    assert not any(f.startswith(b"proxy-connection:") for f in lower)
    # the response: duplicates and case kept, hop-by-hop (and what Connection names) removed
    head = answer.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"HTTP/1.1 200 OK"
    assert head[1:4] == [b"Set-Cookie: a=1", b"X-Reply: first", b"set-cookie: b=2"]
    assert not any(h.lower().startswith((b"x-hop:", b"keep-alive:")) for h in head)
    assert answer.endswith(b"\r\n\r\nok")


def test_bodies_are_reframed_from_what_was_parsed(topo: Topology, loop_thread: LoopThread) -> None:
    sized = b"POST /a HTTP/1.1\r\nHost: recorder\r\nContent-Length: 5\r\n\r\nhello"
    chunked = (
        b"POST /b HTTP/1.1\r\nHost: recorder\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    seen, answers = through_mesh(topo, loop_thread, sized, chunked)
    assert all(a.startswith(b"HTTP/1.1 200") for a in answers)
    # a small body of known size is buffered (so it can be retried) and sent with its length; one of unknown
    # size is streamed as chunks
    head, body = seen[0].split(b"\r\n\r\n", 1)
    assert head.lower().count(b"content-length:") == 1 and b"content-length: 5" in head and body == b"hello"
    head, body = seen[1].split(b"\r\n\r\n", 1)
    assert head.lower().count(b"transfer-encoding:") == 1 and b"transfer-encoding: chunked" in head
    assert b"content-length" not in head.lower()
    assert _dechunk(body) == b"abcde"


def _dechunk(body: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert body == b"\r\n"
            return out
        out, body = out + body[:size], body[size + 2 :]


@pytest.mark.parametrize(
    "request_bytes",
    [
        # request smuggling: a body length the two ends could read differently
        b"POST / HTTP/1.1\r\nHost: recorder\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: recorder\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: recorder\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd",
        b"POST / HTTP/1.1\r\nHost: recorder\r\nContent-Length: 4, 4\r\n\r\nabcd",
        b"POST / HTTP/1.1\r\nHost: recorder\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        # obsolete line folding, whitespace before the colon, a bare LF
        b"GET / HTTP/1.1\r\nHost: recorder\r\nX-Folded: one\r\n two\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : recorder\r\n\r\n",
        b"GET / HTTP/1.1\nHost: recorder\n\n",
    ],
)
def test_ambiguous_requests_are_refused_before_reaching_the_application(
    topo: Topology, loop_thread: LoopThread, request_bytes: bytes
) -> None:
    seen, (answer,) = through_mesh(topo, loop_thread, request_bytes)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
    assert seen == []


# --------------------------------------------------------------------------------- the connection driver
class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.paused = False
        self.written: list[bytes] = []

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


def _feed(conn: HttpConnection, data: bytes) -> None:
    buffer = conn.get_buffer(len(data))
    buffer[: len(data)] = data
    conn.buffer_updated(len(data))


def _run(test: Callable[[HttpConnection, _Transport], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        conn, transport = HttpConnection(response=False), _Transport()
        conn.connection_made(transport)
        return await test(conn, transport)

    return asyncio.run(main())


def test_reading_pauses_while_a_socket_reads_worth_waits_for_the_consumer() -> None:
    async def scenario(conn: HttpConnection, transport: _Transport) -> None:
        size = 3 * READ_SIZE
        _feed(conn, b"POST / HTTP/1.1\r\ncontent-length: %d\r\n\r\n" % size)
        for _ in range(size // 4096):
            _feed(conn, b"x" * 4096)
        assert transport.paused  # more than 64 KiB queued and nobody reading
        head = await conn.next_head()
        assert isinstance(head, RequestHead) and head.length == size
        received = 0
        while (chunk := await conn.next_body()) is not None:
            received += len(chunk)
        assert received == size and not transport.paused

    _run(scenario)


def test_a_read_that_breaks_the_protocol_hands_out_nothing_it_completed() -> None:
    async def scenario(conn: HttpConnection, transport: _Transport) -> None:
        _feed(conn, b"GET /first HTTP/1.1\r\nhost: a\r\n\r\n")
        _feed(conn, b"GET /second HTTP/1.1\r\nhost: a\r\n\r\nNOT HTTP\r\n\r\n")
        first = await conn.next_head()
        assert isinstance(first, RequestHead) and first.target == "/first"
        with pytest.raises(HttpProtocolError):
            await conn.next_head()  # /second came in the read that failed
        assert transport.paused  # and nothing more is read from a peer speaking garbage

    _run(scenario)


def test_a_half_closed_plain_connection_can_still_be_answered() -> None:
    async def scenario(conn: HttpConnection, transport: _Transport) -> tuple[bool, object]:
        _feed(conn, b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
        keep_open = conn.eof_received()
        head = await conn.next_head()
        assert isinstance(head, RequestHead)
        return keep_open, await conn.next_head()

    assert _run(scenario) == (True, None)
