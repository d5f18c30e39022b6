"""Stream helpers shared by the listeners: header timers, TCP piping, UDP-over-TLS framing."""

from __future__ import annotations

import asyncio
import contextlib
import struct

from reference_mesh.proxy.config import ProxySettings
from reference_mesh.proxy.http1 import MessageReader, RequestHead, ResponseHead

__all__ = ["close_quietly", "pipe_both", "read_frame", "read_head_bounded", "write_frame"]

_FRAME = struct.Struct("!H")


async def read_head_bounded(
    messages: MessageReader, writer: asyncio.StreamWriter, settings: ProxySettings
) -> RequestHead | ResponseHead | None:
    """The next request head, closing the connection if it stays idle longer than ``idle_timeout_ms`` or, once a
    request has begun, if its head takes longer than ``header_timeout_ms`` (slow-loris protection)."""
    loop = asyncio.get_running_loop()
    transport = writer.transport

    def expire() -> None:
        transport.abort()

    idle = settings.header_timeout_ms if messages.in_headers else settings.idle_timeout_ms
    handle = loop.call_later(idle / 1000.0, expire)

    def begin() -> None:
        nonlocal handle
        handle.cancel()
        handle = loop.call_later(settings.header_timeout_ms / 1000.0, expire)

    messages.on_message_begin_hook = begin
    try:
        return await messages.next_head()
    finally:
        handle.cancel()
        messages.on_message_begin_hook = None


async def close_quietly(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    total = 0
    try:
        while data := await reader.read(64 * 1024):
            total += len(data)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # half-close: the other direction may still be talking
    except (ConnectionError, OSError):
        writer.transport.abort()
        raise
    return total


async def pipe_both(
    a_reader: asyncio.StreamReader, a_writer: asyncio.StreamWriter,
    b_reader: asyncio.StreamReader, b_writer: asyncio.StreamWriter,
) -> tuple[int, int, bool]:
    """Copy a->b and b->a until both sides finish; (bytes a->b, bytes b->a, ended cleanly)."""
    results = await asyncio.gather(_copy(a_reader, b_writer), _copy(b_reader, a_writer), return_exceptions=True)
    clean = not any(isinstance(r, BaseException) for r in results)
    for w in (a_writer, b_writer):
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
