"""Stream helpers shared by the listeners: header timers, TCP and UDP tunnels between proxies."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time

from reference_mesh.proxy.config import ProxySettings
from reference_mesh.proxy.connection import HttpConnection
from reference_mesh.proxy.http1 import RequestHead, ResponseHead

__all__ = ["HeadTimer", "close_quietly", "pipe_tunnel", "read_frame", "write_frame"]

_FRAME = struct.Struct("!H")
_MAX_FRAME = 0xFFFF


class HeadTimer:
    """Bounds how long a client connection may sit idle between requests (``idle_timeout_ms``) and how long a
    request head may take once its first byte arrived (``header_timeout_ms``: slow-loris protection).

    One timer per connection, re-armed only when it fires, so a busy keep-alive connection costs no timer
    operations per request. Call :meth:`next_head` instead of ``HttpConnection.next_head``; :meth:`close` at
    the end of the connection.
    """

    def __init__(self, messages: HttpConnection, settings: ProxySettings):
        self.messages = messages
        self.transport = messages.transport
        self.header_s = settings.header_timeout_ms / 1000.0
        self.idle_s = settings.idle_timeout_ms / 1000.0
        self.waiting_since: float | None = None
        self._handle: asyncio.TimerHandle | None = None

    async def next_head(self) -> RequestHead | ResponseHead | None:
        if self.messages.head_ready:
            return await self.messages.next_head()  # pipelined: already parsed, no waiting
        self.waiting_since = time.monotonic()
        if self._handle is None:
            self._arm(min(self.header_s, self.idle_s))
        try:
            return await self.messages.next_head()
        finally:
            self.waiting_since = None

    def _arm(self, delay: float) -> None:
        self._handle = asyncio.get_running_loop().call_later(delay, self._check)

    def _check(self) -> None:
        self._handle = None
        since = self.waiting_since
        if since is None:
            return  # busy with a request: the next wait re-arms
        now = time.monotonic()
        if self.messages.in_headers:
            due = max(self.messages.head_started_at, since) + self.header_s
        else:
            due = since + self.idle_s
        if now >= due:
            self.transport.abort()
        else:
            self._arm(min(due - now, self.header_s))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def close_quietly(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


async def _plain_to_frames(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    total = 0
    try:
        while data := await reader.read(_MAX_FRAME):
            total += len(data)
            writer.write(_FRAME.pack(len(data)) + data)
            await writer.drain()
        writer.write(_FRAME.pack(0))  # end of stream: the peer proxy half-closes towards its side
        await writer.drain()
    except (ConnectionError, OSError):
        writer.transport.abort()
        raise
    return total


async def _frames_to_plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    total = 0
    try:
        while True:
            size = _FRAME.unpack(await reader.readexactly(2))[0]
            if size == 0:
                if writer.can_write_eof():
                    writer.write_eof()
                return total
            writer.write(await reader.readexactly(size))
            total += size
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        writer.transport.abort()  # the tunnel broke without an end-of-stream frame: not a clean end
        raise


async def pipe_tunnel(
    plain_reader: asyncio.StreamReader,
    plain_writer: asyncio.StreamWriter,
    tls_reader: asyncio.StreamReader,
    tls_writer: asyncio.StreamWriter,
) -> tuple[int, int, bool]:
    """Relay a plain TCP connection over an mTLS tunnel to the peer proxy, keeping half-close.

    TLS transports cannot half-close (no ``write_eof``), so between proxies a TCP stream is framed: a 2-byte
    length and the data, with an empty frame for "this side is done sending". Returns (bytes plain->tunnel,
    bytes tunnel->plain, ended cleanly).
    """
    results = await asyncio.gather(
        _plain_to_frames(plain_reader, tls_writer),
        _frames_to_plain(tls_reader, plain_writer),
        return_exceptions=True,
    )
    clean = not any(isinstance(r, BaseException) for r in results)
    for w in (plain_writer, tls_writer):
        w.close()
    sent = results[0] if isinstance(results[0], int) else 0
    received = results[1] if isinstance(results[1], int) else 0
    return sent, received, clean


def write_frame(writer: asyncio.StreamWriter, datagram: bytes) -> None:
    """UDP over a TLS stream: a 2-byte big-endian length, then the datagram."""
    writer.write(_FRAME.pack(len(datagram)) + datagram)


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The next datagram of the stream, or None at its end."""
    try:
        header = await reader.readexactly(2)
        return await reader.readexactly(_FRAME.unpack(header)[0])
    except asyncio.IncompleteReadError:
        return None
