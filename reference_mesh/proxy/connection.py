"""One HTTP/1.1 connection of the data plane as an asyncio protocol: bytes are parsed as they arrive.

The event loop reads each socket read (already decrypted, for mTLS) into the connection's own buffer
(``asyncio.BufferedProtocol``: no allocation per read; uvloop's TLS layer would otherwise allocate a 256 KiB
buffer for every record it decrypts) and :meth:`HttpConnection.buffer_updated` feeds it to the sans-IO
:class:`~reference_mesh.proxy.http1.MessageParser` at once; the coroutine handling the
connection reads the resulting events (``next_head``, ``next_body``, ``take_queued_body``) and is woken only
when it waits for one that has not arrived. Writes go straight to the transport (one write per message where
possible: one TLS record, one TCP segment). This is what a request costs the proxy beyond the socket: no
stream buffer copies, no per-read coroutine, one wake-up per message that has to be waited for.

Flow control both ways: reading pauses while more than a socket read's worth (64 KiB) of events waits for the
consumer, and :meth:`HttpConnection.flush` waits while the transport has more than its high-water mark queued
for a slow receiver.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from reference_mesh.proxy.http1 import READ_SIZE, HttpProtocolError, MessageStream

__all__ = ["HttpConnection"]


class HttpConnection(MessageStream, asyncio.BufferedProtocol):
    """Server side (``response=False``: reads requests) or client side (``response=True``: reads responses).

    ``on_connected`` is called once the transport is up (after the TLS handshake, for mTLS); a listener uses
    it to start the task that serves the connection.
    """

    transport: asyncio.Transport

    def __init__(
        self,
        *,
        response: bool,
        max_header_bytes: int = 64 * 1024,
        on_connected: Callable[[HttpConnection], object] | None = None,
    ):
        super().__init__(response=response, max_header_bytes=max_header_bytes)
        self._on_connected = on_connected
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        self._error: HttpProtocolError | None = None
        self._reading_paused = False
        self._writing_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._over_ssl = False
        self._buffer = bytearray(READ_SIZE)
        self._view = memoryview(self._buffer)
        #: the transport is gone (connection_lost was called)
        self.lost = False

    # ------------------------------------------------------------------------------------- asyncio protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._over_ssl = transport.get_extra_info("sslcontext") is not None
        if self._on_connected is not None:
            self._on_connected(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        parser = self.parser
        before = len(self._events)
        try:
            parser.feed(self._view[:nbytes])
        except HttpProtocolError as exc:
            # as if this read had never been parsed: what it completed is not handed out, the error is
            while len(self._events) > before:
                self._events.pop()
            self._error = exc
            self._pause_reading()
        else:
            if parser.queued > READ_SIZE:
                self._pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.parser.feed_eof()
        self._wake()
        return not self._over_ssl  # plain TCP: a half-closed client still gets its response

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.parser.feed_eof()
        self._wake()
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionResetError("Connection lost"))

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ------------------------------------------------------------------------------------------- reading
    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _pause_reading(self) -> None:
        if not self._reading_paused and not self.lost:
            self._reading_paused = True
            self.transport.pause_reading()

    def _consumed(self, size: int) -> None:
        self.parser.queued -= size
        if self._reading_paused and self._error is None and self.parser.queued <= READ_SIZE // 2:
            self._reading_paused = False
            if not self.lost:
                self.transport.resume_reading()

    async def _fill(self) -> None:
        if self._error is not None:
            raise self._error
        if self.parser.eof:
            return
        if self._reading_paused:  # nothing queued any more (accounting is per event): read again
            self._reading_paused = False
            self.transport.resume_reading()
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        if self._error is not None and not self._events:
            raise self._error

    # ------------------------------------------------------------------------------------------- writing
    def write(self, data: bytes) -> None:
        self.transport.write(data)

    async def flush(self) -> None:
        """Wait while the receiver is slow (the transport has paused us); raise ConnectionResetError if the
        connection is gone. Costs nothing in the common case."""
        if self.lost:
            raise ConnectionResetError("Connection lost")
        if self._writing_paused:
            if self._drain_waiter is None:
                self._drain_waiter = self._loop.create_future()
            await self._drain_waiter

    def close(self) -> None:
        self.transport.close()

    def abort(self) -> None:
        self.transport.abort()
