"""Forwarding one HTTP exchange between a downstream and an upstream stream (shared by inbound and
outbound)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable

from reference_mesh.proxy.config import ProxySettings
from reference_mesh.proxy.http1 import (
    LAST_CHUNK,
    HttpProtocolError,
    MessageReader,
    RequestHead,
    ResponseHead,
    encode_chunk,
    forward_headers,
    render_request_head,
    render_response_head,
    simple_response,
)
from reference_mesh.proxy.streams import HeadTimer, close_quietly

__all__ = [
    "RequestBody",
    "client_keeps_alive",
    "read_request_body",
    "read_response",
    "relay_response",
    "send_request",
    "serve_requests",
]

#: Identity headers a client could forge; dropped from every request the proxies receive.
IDENTITY_HEADERS = frozenset({"x-mesh-client-id", "l5d-client-id", "x-forwarded-client-cert"})
# content-length is re-added from the body's framing; Expect is answered by the proxy (read_request_body)
_DROP_ON_SEND = IDENTITY_HEADERS | {"content-length", "expect"}


#: Below this much unsent data a writer is not waited on (what asyncio's own high-water mark allows anyway).
_FLUSH_ABOVE = 64 * 1024


async def _flush(writer: asyncio.StreamWriter) -> None:
    """``drain()`` only when data is piling up: the common small write costs no extra await."""
    if writer.transport.get_write_buffer_size() > _FLUSH_ABOVE or writer.transport.is_closing():
        await writer.drain()


class RequestBody:
    """A request body either fully buffered (replayable for retries) or still on the downstream stream."""

    def __init__(self, head: RequestHead, messages: MessageReader, buffered: bytes | None):
        self.head = head
        self.messages = messages
        self.buffered = buffered
        #: True once the whole body has been read from the downstream stream.
        self.complete = buffered is not None

    @property
    def replayable(self) -> bool:
        return self.buffered is not None

    def framing_headers(self) -> list[tuple[str, str]]:
        if self.buffered is not None:
            if self.buffered or self.head.framing != "none":
                return [("content-length", str(len(self.buffered)))]
            return []
        if self.head.framing == "length":
            return [("content-length", str(self.head.length))]
        return [("transfer-encoding", "chunked")]

    async def write_to(self, writer: asyncio.StreamWriter) -> None:
        if self.buffered is not None:
            if self.buffered:
                writer.write(self.buffered)
            return
        chunked = self.head.framing != "length"
        while (chunk := await self.messages.next_body()) is not None:
            writer.write(encode_chunk(chunk) if chunked else chunk)
            await writer.drain()
        self.complete = True
        if chunked:
            writer.write(LAST_CHUNK)

    async def discard(self) -> None:
        """Read and drop what is left of the body, so the downstream connection can carry the next request."""
        while not self.complete:
            self.complete = await self.messages.next_body() is None


async def serve_requests(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    settings: ProxySettings,
    exchange: Callable[[RequestHead, MessageReader], Awaitable[bool]],
) -> None:
    """The server side of an HTTP/1.1 connection: read request heads (bounded by :class:`HeadTimer`) and hand
    each to ``exchange``, which answers it and says whether the connection may carry another. Malformed input
    gets its 4xx/5xx answer and the connection is closed."""
    messages = MessageReader(reader, response=False, max_header_bytes=settings.max_header_bytes)
    timer = HeadTimer(messages, writer, settings)
    try:
        while isinstance(head := await timer.next_head(), RequestHead):
            if not await exchange(head, messages):
                break
    except HttpProtocolError as exc:
        with contextlib.suppress(Exception):
            writer.write(simple_response(exc.status, str(exc), close=True))
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        timer.close()
        await close_quietly(writer)


async def read_request_body(
    head: RequestHead,
    messages: MessageReader,
    max_buffered: int,
    continue_to: asyncio.StreamWriter | None = None,
) -> RequestBody:
    """Buffer the body when it is small and its size is known (so it can be retried); otherwise stream it.

    A client that sent ``Expect: 100-continue`` waits for an interim response before sending its body: the
    proxy answers it itself on ``continue_to`` (and never forwards ``Expect``) when it means to read the body.
    """
    if head.framing == "none":
        return RequestBody(head, messages, b"")
    if continue_to is not None and (head.header("expect") or "").lower() == "100-continue":
        continue_to.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if head.framing == "length" and head.length is not None and head.length <= max_buffered:
        parts = []
        while (chunk := await messages.next_body()) is not None:
            parts.append(chunk)
        return RequestBody(head, messages, b"".join(parts))
    return RequestBody(head, messages, None)


async def send_request(
    writer: asyncio.StreamWriter,
    head: RequestHead,
    target: str,
    body: RequestBody,
    extra_headers: Iterable[tuple[str, str]],
) -> None:
    """Forward a request head (identity and hop-by-hop headers dropped, ``extra_headers`` added), then its
    body."""
    headers = forward_headers(head.headers, _DROP_ON_SEND)
    headers += extra_headers
    headers += body.framing_headers()
    rendered = render_request_head(head.method, target, headers)
    if body.buffered is not None:
        writer.write(rendered + body.buffered if body.buffered else rendered)  # one write: one record/segment
    else:
        writer.write(rendered)
        await body.write_to(writer)
    await _flush(writer)


async def read_response(messages: MessageReader, method: str) -> ResponseHead:
    """The final response to a request sent with ``method`` (interim 1xx responses are skipped; a response to
    HEAD has no body whatever its headers announce)."""
    while True:
        messages.expect_head_only = method == "HEAD"
        head = await messages.next_head()
        if not isinstance(head, ResponseHead):
            raise HttpProtocolError("the upstream closed the connection before responding", 502)
        if head.status >= 200:
            return head


def client_keeps_alive(request: RequestHead, response: ResponseHead) -> bool:
    """Whether the client connection survives this exchange (an HTTP/1.0 client cannot take chunked bodies, so
    an unsized body is ended by closing its connection)."""
    if request.version == "1.0" and response.framing in ("chunked", "close"):
        return False
    return request.keep_alive


async def relay_response(
    response: ResponseHead,
    upstream: MessageReader,
    downstream: asyncio.StreamWriter,
    *,
    keep_alive: bool,
    http10: bool = False,
    extra_headers: Iterable[tuple[str, str]] = (),
) -> int:
    """Stream the response (head already read) to the downstream client; return the body bytes relayed.

    A body delimited by connection close is re-framed as chunked so the client connection stays reusable;
    an HTTP/1.0 client gets an unframed body ended by closing (``keep_alive`` must then be False, see
    :func:`client_keeps_alive`).
    """
    headers = forward_headers(response.headers)
    headers += extra_headers
    chunked = response.framing in ("chunked", "close") and not http10
    if chunked:
        headers.append(("transfer-encoding", "chunked"))
    if not keep_alive:
        headers.append(("connection", "close"))
    out = [render_response_head(response.status, response.reason or "-", headers)]
    size = 0
    ended = True
    if response.framing != "none":
        # what has already arrived goes out with the head in one write; the rest is streamed as it comes
        chunks, ended = upstream.take_queued_body()
        for chunk in chunks:
            size += len(chunk)
            out.append(encode_chunk(chunk) if chunked else chunk)
        if ended and chunked:
            out.append(LAST_CHUNK)
    downstream.write(b"".join(out))
    if not ended:
        await _flush(downstream)
        while (more := await upstream.next_body()) is not None:
            size += len(more)
            downstream.write(encode_chunk(more) if chunked else more)
            await _flush(downstream)
        if chunked:
            downstream.write(LAST_CHUNK)
    await _flush(downstream)
    return size
