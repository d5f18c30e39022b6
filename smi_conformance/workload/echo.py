"""The echo workload: tells the caller who answered and what it saw, over HTTP, TCP and UDP.

The conformance suite reads its replies to learn which backend served a request (service, version, instance),
so the same program runs behind every mesh under test: on loopback beside the reference mesh, in a pod on
kind.

HTTP (any method, keep-alive, pipelining, chunked or sized bodies; bodies are counted and hashed, never held):

    /<anything>[?delay=<ms>]   200, JSON: service, version, instance, method, path, query, headers,
                               body_length, body_sha256
    /status/<code>             that status, same JSON
    /bytes/<n>                 n bytes of body, streamed in 64 KiB chunks (chunked encoding)
    /truncate                  announces 1000 bytes, sends 10, closes: a backend crashing mid-response

Every answer also carries the headers x-echo-service, x-echo-version, x-echo-instance (and x-echo-namespace
when it knows its namespace), so answers without a body (HEAD, 204, 304) still name who answered.

TCP: on connect sends ``service=<s> version=<v> instance=<i>[ namespace=<ns>]\\n``, then echoes every byte
back. UDP: answers each datagram with the same line followed by the datagram.

Run: ``python -m smi_conformance.workload.echo --service web --version v1 --instance web-0 --http
127.0.0.1:8080``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast
from urllib.parse import parse_qs

import click
import httptools
import uvloop

from smi_conformance.hostport import HOST_PORT

__all__ = ["EchoIdentity", "EchoServer"]

CHUNK = 64 * 1024


@dataclass(frozen=True)
class EchoIdentity:
    service: str
    version: str = "v1"
    instance: str = ""
    #: The pod's namespace: the same Service name answers differently in two namespaces.
    namespace: str = ""

    @property
    def headers(self) -> str:
        """Who answered, as response header lines: what a HEAD (no body) or any client reads."""
        lines = f"x-echo-service: {self.service}\r\nx-echo-version: {self.version}\r\n"
        lines += f"x-echo-instance: {self.instance}\r\n"
        return lines + (f"x-echo-namespace: {self.namespace}\r\n" if self.namespace else "")

    @property
    def line(self) -> bytes:
        where = f" namespace={self.namespace}" if self.namespace else ""
        return f"service={self.service} version={self.version} instance={self.instance}{where}\n".encode()


class _Request:
    __slots__ = ("body_length", "digest", "headers", "keep_alive", "method", "url")

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.body_length = 0
        self.digest = hashlib.sha256()
        self.method = "GET"
        self.keep_alive = True


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _combined(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Header fields by lower-case name; a repeated field's values joined with ", " (RFC 9110 5.3), so a
    caller sees every value the echo received, not only the last."""
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


class _HttpEcho(asyncio.Protocol):
    def __init__(self, ident: EchoIdentity, live: set[asyncio.BaseTransport]):
        self.ident = ident
        self.live = live
        self.parser = httptools.HttpRequestParser(self)
        self.current = _Request()
        self.transport: asyncio.Transport | None = None
        self.tail: asyncio.Future[None] | None = (
            None  # last queued response (keeps pipelined answers in order)
        )

    # --------------------------------------------------------------------------------------- asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.live.add(transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._raw(
                b"HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\nconnection: close\r\n\r\n", close=True
            )
        except httptools.HttpParserError:
            self._raw(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n", close=True
            )

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.live.discard(self.transport)
        self.transport = None

    def _raw(self, data: bytes, close: bool = False) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
            if close:
                self.transport.close()

    # --------------------------------------------------------------------------------------- parser
    def on_message_begin(self) -> None:
        self.current = _Request()

    def on_url(self, url: bytes) -> None:
        self.current.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.current.method = self.parser.get_method().decode()
        self.current.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.current.body_length += len(body)
        self.current.digest.update(body)

    def on_message_complete(self) -> None:
        req = self.current
        path, _, query = req.url.decode("latin-1").partition("?")
        params = parse_qs(query)
        delay = params.get("delay", ["0"])[0]
        delay_s = int(delay) / 1000.0 if delay.isdigit() else 0.0
        if delay_s or (self.tail is not None and not self.tail.done()):
            previous = self.tail
            self.tail = asyncio.ensure_future(self._later(previous, delay_s, req, path, query))
        else:
            self._respond(req, path, query)

    async def _later(
        self, previous: asyncio.Future[None] | None, delay_s: float, req: _Request, path: str, query: str
    ) -> None:
        if previous is not None:
            with contextlib.suppress(Exception):
                await previous
        if delay_s:
            await asyncio.sleep(delay_s)
        if path.startswith("/bytes/"):
            await self._stream_bytes(req, path)
        else:
            self._respond(req, path, query)

    # --------------------------------------------------------------------------------------- responses
    def _respond(self, req: _Request, path: str, query: str) -> None:
        close = not req.keep_alive
        conn = b"connection: close\r\n" if close else b""
        if path == "/truncate":
            self._raw(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789")
            if self.transport is not None:
                self.transport.close()
            return
        if path.startswith("/bytes/"):
            self.tail = asyncio.ensure_future(self._stream_bytes(req, path))
            return
        status = 200
        if path.startswith("/status/"):
            code = path[len("/status/") :]
            status = int(code) if code.isdigit() and 200 <= int(code) <= 599 else 400
        body = json.dumps(
            {
                "service": self.ident.service,
                "version": self.ident.version,
                "instance": self.ident.instance,
                "namespace": self.ident.namespace,
                "method": req.method,
                "path": path,
                "query": query,
                "headers": _combined(req.headers),
                "body_length": req.body_length,
                "body_sha256": req.digest.hexdigest(),
            }
        ).encode()
        body_out = b"" if req.method == "HEAD" or status in (204, 304) else body
        length = "" if status in (204, 304) else f"content-length: {len(body)}\r\n"  # 204/304 carry no body
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\ncontent-type: application/json\r\n"
            f"{length}{self.ident.headers}"
        ).encode()
        self._raw(head + conn + b"\r\n" + body_out, close=close)

    async def _stream_bytes(self, req: _Request, path: str) -> None:
        n_text = path[len("/bytes/") :]
        if not n_text.isdigit():
            self._raw(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            return
        remaining = int(n_text)
        self._raw(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\n"
            + (b"connection: close\r\n" if not req.keep_alive else b"")
            + b"\r\n"
        )
        block = b"x" * CHUNK
        while remaining > 0 and self.transport is not None:
            n = min(CHUNK, remaining)
            self._raw(b"%x\r\n%s\r\n" % (n, block[:n]))
            remaining -= n
            while self.transport is not None and self.transport.get_write_buffer_size() > 4 * CHUNK:
                await asyncio.sleep(0.001)  # crude flow control; never more than a few chunks queued
        self._raw(b"0\r\n\r\n", close=not req.keep_alive)


async def _tcp_echo(
    ident: EchoIdentity,
    live: set[asyncio.BaseTransport],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    live.add(writer.transport)
    try:
        writer.write(ident.line)
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        live.discard(writer.transport)
        writer.close()


class _UdpEcho(asyncio.DatagramProtocol):
    def __init__(self, ident: EchoIdentity):
        self.ident = ident
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(self.ident.line + data, addr)


@contextlib.contextmanager
def _naming(protocol: str, address: tuple[str, int]) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        where = f"{address[0]}:{address[1]} ({protocol})"
        raise OSError(exc.errno, f"{where}: {exc.strerror or exc}") from None


class EchoServer:
    """The echo workload in-process: ``await EchoServer(ident, http=("127.0.0.1", 0)).start()``."""

    def __init__(
        self,
        ident: EchoIdentity,
        *,
        http: tuple[str, int] | None = None,
        tcp: tuple[str, int] | None = None,
        udp: tuple[str, int] | None = None,
    ):
        self.ident, self._http, self._tcp, self._udp = ident, http, tcp, udp
        self._servers: list[asyncio.AbstractServer] = []
        self._udp_transport: asyncio.DatagramTransport | None = None
        self._live: set[asyncio.BaseTransport] = set()
        self.http_port = self.tcp_port = self.udp_port = 0

    async def start(self) -> EchoServer:
        """Listen on every address given; an OSError names the address that failed."""
        loop = asyncio.get_running_loop()
        if self._http is not None:
            with _naming("http", self._http):
                server = await loop.create_server(
                    lambda: _HttpEcho(self.ident, self._live), *self._http, backlog=1024
                )
            self._servers.append(server)
            self.http_port = server.sockets[0].getsockname()[1]
        if self._tcp is not None:
            with _naming("tcp", self._tcp):
                server = await asyncio.start_server(
                    lambda r, w: _tcp_echo(self.ident, self._live, r, w), *self._tcp
                )
            self._servers.append(server)
            self.tcp_port = server.sockets[0].getsockname()[1]
        if self._udp is not None:
            with _naming("udp", self._udp):
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpEcho(self.ident), local_addr=self._udp
                )
            self._udp_transport = transport
            self.udp_port = transport.get_extra_info("sockname")[1]
        return self

    async def stop(self) -> None:
        """Stop like a crashed process would: listeners and every open connection go away."""
        for server in self._servers:
            server.close()
        for transport in list(self._live):
            if isinstance(transport, asyncio.WriteTransport):
                transport.abort()
            else:
                transport.close()
        self._live.clear()
        if self._udp_transport is not None:
            self._udp_transport.close()


@click.command()
@click.option("--service", required=True)
@click.option("--version", "version", default="v1", show_default=True)
@click.option("--instance", default="", help="instance (pod) name reported in replies")
@click.option("--namespace", default="", envvar="POD_NAMESPACE", help="namespace reported in replies")
@click.option("--http", "http", type=HOST_PORT, help="serve HTTP here")
@click.option("--tcp", "tcp", type=HOST_PORT, help="serve TCP echo here")
@click.option("--udp", "udp", type=HOST_PORT, help="serve UDP echo here")
def main(
    service: str,
    version: str,
    instance: str,
    namespace: str,
    http: tuple[str, int] | None,
    tcp: tuple[str, int] | None,
    udp: tuple[str, int] | None,
) -> None:
    """Run the echo workload until SIGINT/SIGTERM."""
    if not (http or tcp or udp):
        raise click.UsageError("give at least one of --http, --tcp, --udp")
    ident = EchoIdentity(service, version, instance, namespace)

    async def run() -> None:
        try:
            server = await EchoServer(ident, http=http, tcp=tcp, udp=udp).start()
        except OSError as exc:  # address in use, not local, unknown host...
            raise click.ClickException(f"cannot listen on {exc.strerror or exc}") from None
        click.echo(
            json.dumps({"http": server.http_port, "tcp": server.tcp_port, "udp": server.udp_port}), err=True
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop()

    uvloop.run(run())


if __name__ == "__main__":
    main()
