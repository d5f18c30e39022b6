"""Stream helpers shared by the listeners: header timers, TCP and UDP tunnels between proxies."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time

from reference_mesh.proxy.config import ProxySettings
from reference_mesh.proxy.http1 import MessageReader, RequestHead, ResponseHead

__all__ = ["close_quietly", "pipe_tunnel", "read_frame", "read_head_bounded", "write_frame"]

_FRAME = struct.Struct("!H")
_MAX_FRAME = 0xFFFF


async def read_head_bounded(
    messages: MessageReader, writer: asyncio.StreamWriter, settings: ProxySettings
) -> RequestHead | ResponseHead | None:
    """The next request head, closing the connection if it stays idle longer than ``idle_timeout_ms`` or, once
    a request has begun, if its head takes longer than ``header_timeout_ms`` (slow-loris protection)."""
    if messages.head_ready:
        return await messages.next_head()  # pipelined: already parsed, no waiting
    loop = asyncio.get_running_loop()
    waiting_since = time.monotonic()
    header_s, idle_s = settings.header_timeout_ms / 1000.0, settings.idle_timeout_ms / 1000.0
    handle: asyncio.TimerHandle

    def check() -> None:
        # one timer, re-armed: a head that has begun gets header_s from its first byte, an idle wait idle_s
        nonlocal handle
        now = time.monotonic()
        if messages.in_headers:
            due = max(messages.head_started_at, waiting_since) + header_s
        else:
            due = waiting_since + idle_s
        if now >= due:
            writer.transport.abort()
        else:
            handle = loop.call_later(min(due - now, header_s), check)

    handle = loop.call_later(min(header_s, idle_s), check)
    try:
        return await messages.next_head()
    finally:
        handle.cancel()


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
