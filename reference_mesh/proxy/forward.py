"""Forwarding one HTTP exchange between a downstream and an upstream stream (shared by inbound and
outbound)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable

from reference_mesh.proxy.config import ProxySettings
from reference_mesh.proxy.connection import HttpConnection
from reference_mesh.proxy.http1 import (
    LAST_CHUNK,
    HttpProtocolError,
    RequestHead,
    ResponseHead,
    encode_chunk,
    forward_fields,
    simple_response,
)
from reference_mesh.proxy.streams import HeadTimer

__all__ = [
    "DEADLINE_HEADER",
    "DENIED_HEADER",
    "DROP_FROM_APP",
    "RequestBody",
    "client_keeps_alive",
    "deadline_field",
    "read_request_body",
    "read_response",
    "relay_response",
    "send_request",
    "serve_requests",
]

#: Identity headers a client could forge; dropped from every request the proxies receive.
IDENTITY_HEADERS = frozenset({"x-mesh-client-id", "l5d-client-id", "x-forwarded-client-cert"})
#: Remaining milliseconds of the caller's deadline (relative, so clocks need not agree). Each proxy folds a
#: received value into its own deadline and sends on only what is left of that, never the copy it received.
DEADLINE_HEADER = "x-mesh-timeout-ms"
#: Set by the server's proxy on the 403 it answers when authorization denies a request (never on an
#: application's response: the server's proxy drops it from those), so the caller's proxy can count policy
#: denials apart from the application's own 4xx.
DENIED_HEADER = "x-mesh-denied"
#: What the server's proxy drops from the application's responses.
DROP_FROM_APP = frozenset({DENIED_HEADER})
# content-length is re-added from the body's framing; Expect is answered by the proxy (read_request_body)
_DROP_ON_SEND = IDENTITY_HEADERS | {"content-length", "expect", DEADLINE_HEADER}
_DROP_WITH_HOST = _DROP_ON_SEND | {"host"}


def deadline_field(deadline_at: float | None) -> bytes:
    """The deadline header line for what is left until ``deadline_at`` (``time.monotonic()``), or nothing."""
    if deadline_at is None:
        return b""
    return b"%s: %d\r\n" % (DEADLINE_HEADER.encode(), max(1, int((deadline_at - time.monotonic()) * 1000)))


class RequestBody:
    """A request body either fully buffered (replayable for retries) or still on the downstream stream."""

    __slots__ = ("buffered", "complete", "head", "messages")

    def __init__(self, head: RequestHead, messages: HttpConnection, buffered: bytes | None):
        self.head = head
        self.messages = messages
        self.buffered = buffered
        #: True once the whole body has been read from the downstream stream.
        self.complete = buffered is not None

    @property
    def replayable(self) -> bool:
        return self.buffered is not None

    def framing_field(self) -> bytes:
        """The header line that frames the body as it will be sent (none for a request without a body)."""
        if self.buffered is not None:
            if self.buffered or self.head.framing != "none":
                return b"content-length: %d\r\n" % len(self.buffered)
            return b""
        if self.head.framing == "length":
            return b"content-length: %d\r\n" % (self.head.length or 0)
        return b"transfer-encoding: chunked\r\n"

    async def write_to(self, upstream: HttpConnection) -> None:
        if self.buffered is not None:
            if self.buffered:
                upstream.write(self.buffered)
            return
        chunked = self.head.framing != "length"
        while (chunk := await self.messages.next_body()) is not None:
            upstream.write(encode_chunk(chunk) if chunked else chunk)
            await upstream.flush()
        self.complete = True
        if chunked:
            upstream.write(LAST_CHUNK)

    async def discard(self) -> None:
        """Read and drop what is left of the body, so the downstream connection can carry the next request."""
        while not self.complete:
            self.complete = await self.messages.next_body() is None


async def serve_requests(
    conn: HttpConnection, settings: ProxySettings, exchange: Callable[[RequestHead], Awaitable[bool]]
) -> None:
    """The server side of an HTTP/1.1 connection: read request heads (bounded by :class:`HeadTimer`) and hand
    each to ``exchange``, which answers it and says whether the connection may carry another. Malformed input
    gets its 4xx/5xx answer and the connection is closed."""
    timer = HeadTimer(conn, settings)
    try:
        while isinstance(head := await timer.next_head(), RequestHead):
            if not await exchange(head):
                break
    except HttpProtocolError as exc:
        with contextlib.suppress(Exception):
            conn.write(simple_response(exc.status, str(exc), close=True))
    except (ConnectionError, OSError):
        pass
    finally:
        timer.close()
        conn.close()


async def read_request_body(
    head: RequestHead, messages: HttpConnection, max_buffered: int, *, answer_expect: bool = False
) -> RequestBody:
    """Buffer the body when it is small and its size is known (so it can be retried); otherwise stream it.

    A client that sent ``Expect: 100-continue`` waits for an interim response before sending its body: with
    ``answer_expect`` the proxy answers it itself (and never forwards ``Expect``), as it will read the body.
    """
    if head.framing == "none":
        return RequestBody(head, messages, b"")
    if answer_expect and (head.header("expect") or "").lower() == "100-continue":
        messages.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if head.framing == "length" and head.length is not None and head.length <= max_buffered:
        parts = []
        while (chunk := await messages.next_body()) is not None:
            parts.append(chunk)
        return RequestBody(head, messages, b"".join(parts))
    return RequestBody(head, messages, None)


async def send_request(
    upstream: HttpConnection,
    head: RequestHead,
    target: str,
    body: RequestBody,
    extra_fields: bytes,
    *,
    host: str | None = None,
) -> None:
    """Forward a request head (its header lines as received, identity and hop-by-hop ones dropped;
    ``extra_fields``, rendered header lines, added), then its body. ``host`` replaces the Host header (the
    authority of an absolute-form target, RFC 9112 3.2.2)."""
    if host is None:
        fields = forward_fields(head, _DROP_ON_SEND)
    else:
        fields = [*forward_fields(head, _DROP_WITH_HOST), b"host: %s\r\n" % host.encode("latin-1")]
    out = [
        b"%s %s HTTP/1.1\r\n" % (head.method.encode("ascii"), target.encode("latin-1")),
        *fields,
        extra_fields,
        body.framing_field(),
        b"\r\n",
    ]
    # a response to HEAD has no body whatever its headers announce; it may arrive while the body is sent
    upstream.expect_head_only = head.method == "HEAD"
    if body.buffered is not None:
        out.append(body.buffered)
        upstream.write(b"".join(out))  # head and body in one write: one TLS record, one segment
    else:
        upstream.write(b"".join(out))
        await body.write_to(upstream)
    await upstream.flush()


async def read_response(messages: HttpConnection) -> ResponseHead:
    """The final response to the request just sent (interim 1xx responses are skipped)."""
    while True:
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
    upstream: HttpConnection,
    downstream: HttpConnection,
    *,
    keep_alive: bool,
    http10: bool = False,
    drop: frozenset[str] = frozenset(),
) -> int:
    """Stream the response (head already read) to the downstream client; return the body bytes relayed.
    Header fields named in ``drop`` (lower case) are not relayed.

    A body delimited by connection close is re-framed as chunked so the client connection stays reusable;
    an HTTP/1.0 client gets an unframed body ended by closing (``keep_alive`` must then be False, see
    :func:`client_keeps_alive`).
    """
    status_line = b"HTTP/1.1 %d %s\r\n" % (response.status, (response.reason or "-").encode("latin-1"))
    out = [status_line, *forward_fields(response, drop)]
    chunked = response.framing in ("chunked", "close") and not http10
    if chunked:
        out.append(b"transfer-encoding: chunked\r\n")
    if not keep_alive:
        out.append(b"connection: close\r\n")
    out.append(b"\r\n")
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
        await downstream.flush()
        while (more := await upstream.next_body()) is not None:
            size += len(more)
            downstream.write(encode_chunk(more) if chunked else more)
            await downstream.flush()
        if chunked:
            downstream.write(LAST_CHUNK)
    await downstream.flush()
    return size
