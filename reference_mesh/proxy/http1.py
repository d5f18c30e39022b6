"""HTTP/1.1 messages, parsed by httptools (llhttp).

:class:`MessageParser` is sans-IO: bytes in, events out (a head, body chunks, end of message). Heads keep
their header lines as received, so a forwarder relays them without rendering them again; framing
(Content-Length, chunked, until-close) is recorded so bodies can be re-framed when forwarded.
:class:`MessageStream` is the consumer's side (``next_head``, ``next_body``, ``take_queued_body``); it asks
its driver for more bytes only when no event is queued. Two drivers: the data plane's
:class:`~reference_mesh.proxy.connection.HttpConnection` (an asyncio protocol, fed as bytes arrive) and
:class:`MessageReader` (reads an asyncio stream; the admin endpoint). Either way a body is never held whole:
a driver stops reading while a consumer has a socket read's worth (64 KiB) queued, so a slow receiver slows
the sender.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import httptools

__all__ = [
    "END",
    "HOP_BY_HOP",
    "EndOfMessage",
    "HttpProtocolError",
    "MessageParser",
    "MessageReader",
    "MessageStream",
    "RequestHead",
    "ResponseHead",
    "encode_chunk",
    "forward_fields",
    "render_response_head",
    "simple_response",
]

READ_SIZE = 64 * 1024
LAST_CHUNK = b"0\r\n\r\n"
#: RFC 9110 7.6.1 connection-specific fields, plus the legacy ones proxies drop.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)


class HttpProtocolError(Exception):
    """The peer sent something that is not valid HTTP/1.1 (or exceeded a limit); ``status`` is what to
    answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class _Head:
    """What request and response heads share (the parser makes them). Header fields are kept three ways:
    ``headers`` (name as sent and value without surrounding whitespace, decoded: for matching), ``by_name``
    (the first value of each
    lower-case name: for lookups), and ``fields`` with ``names`` (each field's line exactly as it will be
    forwarded, and its lower-case name: a forwarder passes the lines on without rendering them again)."""

    __slots__ = (
        "by_name",
        "fields",
        "framing",
        "headers",
        "keep_alive",
        "length",
        "names",
        "size",
        "version",
    )

    def __init__(
        self,
        headers: list[tuple[str, str]],
        fields: list[bytes],
        names: list[str],
        by_name: dict[str, str],
        version: str,
        keep_alive: bool,
        size: int,
    ):
        self.headers = headers
        self.fields = fields
        self.names = names
        self.by_name = by_name
        self.version = version
        self.keep_alive = keep_alive
        #: bytes of the head as parsed (request/status line and fields)
        self.size = size
        #: "length", "chunked", "none" (no body) or "close" (body until the connection closes: responses only)
        self.framing = "none"
        self.length: int | None = None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case)."""
        return self.by_name.get(name.lower())


class RequestHead(_Head):
    __slots__ = ("method", "target")
    method: str
    target: str


class ResponseHead(_Head):
    __slots__ = ("reason", "status")
    status: int
    reason: str


class EndOfMessage:
    __slots__ = ()


END = EndOfMessage()
#: A head, a body chunk (bytes) or END.
Event = RequestHead | ResponseHead | bytes | EndOfMessage


class MessageParser:
    """Bytes in, events out, for a sequence of requests (``response=False``) or responses (``response=True``).

    :meth:`feed` raises :class:`HttpProtocolError` for malformed input (llhttp's checks: conflicting
    Content-Length / Transfer-Encoding, obs-fold, bad tokens...) and for heads over ``max_header_bytes``.
    ``in_headers`` and ``head_started_at`` tell how long a message head has been arriving (header timeouts);
    ``queued`` counts the bytes of heads and body chunks waiting in ``events``.
    """

    def __init__(self, *, response: bool, max_header_bytes: int = 64 * 1024):
        self.response = response
        self.max_header_bytes = max_header_bytes
        self.events: deque[Event] = deque()
        self.queued = 0
        self.eof = False
        self.in_headers = False
        #: monotonic time the first bytes of a head still incomplete were read
        self.head_started_at = 0.0
        #: the request this response answers was HEAD: the final response has no body whatever it announces
        self.expect_head_only = False
        self._new_parser()
        self._url = b""  # request target or reason phrase of the head being parsed
        self._raw: list[tuple[bytes, bytes]] = []  # its header fields so far
        self._head_bytes = 0  # size of the last head completed (request line and header fields)
        self._pending_head_bytes = 0  # bytes fed while a head stayed incomplete
        self._current: _Head | None = None
        self._head_only = False  # response to HEAD / 204 / 304: no body whatever the headers say
        self._refused: HttpProtocolError | None = None  # found by a callback, raised by feed

    def _new_parser(self) -> None:
        self._parser = (
            httptools.HttpResponseParser(self) if self.response else httptools.HttpRequestParser(self)
        )

    # ------------------------------------------------------------------------------------- parser callbacks
    # (called by llhttp for every message: they only collect; on_headers_complete builds the head)
    def on_message_begin(self) -> None:
        self.in_headers = True

    def on_url(self, url: bytes) -> None:
        self._url += url

    on_status = on_url  # a response's reason phrase, collected the same way

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw.append((name, value))

    def on_headers_complete(self) -> None:
        self.in_headers = False
        self._pending_head_bytes = 0
        p = self._parser
        raw, url = self._raw, self._url
        self._raw, self._url = [], b""
        headers: list[tuple[str, str]] = []
        names: list[str] = []
        fields: list[bytes] = []
        by_name: dict[str, str] = {}
        for name_bytes, value_bytes in raw:
            # llhttp drops the whitespace before a value, not after it; RFC 9110 5.5: neither is part of it
            name, value = name_bytes.decode("latin-1"), value_bytes.decode("latin-1").rstrip(" \t")
            lower = name.lower()
            headers.append((name, value))
            names.append(lower)
            fields.append(b"".join((name_bytes, b": ", value_bytes, b"\r\n")))
            if lower not in by_name:  # the first occurrence wins
                by_name[lower] = value
        self._head_bytes = len(url) + sum(map(len, fields))
        head: _Head
        args = (
            headers,
            fields,
            names,
            by_name,
            p.get_http_version(),
            p.should_keep_alive(),
            self._head_bytes,
        )
        if self.response:
            head = response = ResponseHead(*args)
            response.status = status = p.get_status_code()  # type: ignore[union-attr]
            response.reason = url.decode("latin-1")
        else:
            if names.count("host") > 1:  # RFC 9112 3.2: the proxy and the server might pick different ones
                self._refused = HttpProtocolError("more than one Host header")
            head = request = RequestHead(*args)
            request.method = p.get_method().decode("ascii")  # type: ignore[union-attr]
            request.target = url.decode("latin-1")
            status = 0
        te = by_name.get("transfer-encoding")
        if te is not None and "chunked" in te.lower():
            head.framing = "chunked"
        elif "content-length" in by_name:
            length = int(by_name["content-length"])
            if length:
                head.framing, head.length = "length", length
        elif self.response and not (100 <= status < 200 or status in (204, 304)):
            head.framing = "close"
            head.keep_alive = False
        if self.response and status >= 200:
            if self.expect_head_only or status in (204, 304):
                head.framing, self._head_only = "none", True
            self.expect_head_only = False
        self._current = head
        self.events.append(head)
        self.queued += head.size

    def on_body(self, body: bytes) -> None:
        if not self._head_only:
            self.events.append(body)
            self.queued += len(body)

    def on_message_complete(self) -> None:
        self._head_only = False
        self._current = None
        self.events.append(END)

    # ---------------------------------------------------------------------------------------------- input
    def feed(self, data: bytes | memoryview) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise HttpProtocolError("protocol upgrade is not supported: use a TCP port", 501) from None
        except httptools.HttpParserError as exc:
            raise HttpProtocolError(f"malformed HTTP: {exc}") from None
        if self._refused is not None:
            raise self._refused
        limit = self.max_header_bytes
        if self.in_headers:  # a head still incomplete after this read: count what it has buffered so far
            if not self._pending_head_bytes:
                self.head_started_at = time.monotonic()  # its first bytes came with this read
            self._pending_head_bytes += len(data)
            if self._pending_head_bytes > limit:
                raise HttpProtocolError("request header fields too large", 431)
        if self._head_bytes > limit:
            raise HttpProtocolError("request header fields too large", 431)
        if self._head_only and self._current is not None and self.events and self.events[-1] is self._current:
            # HEAD/204/304: llhttp would wait for a body the headers announce but that never comes.
            self.events.append(END)
            self._head_only = False
            self._current = None
            self._new_parser()

    def feed_eof(self) -> None:
        if self.eof:
            return
        self.eof = True
        head = self._current
        if head is not None and head.framing == "close":  # body delimited by connection close
            self._current = None
            self.events.append(END)


class MessageStream:
    """The consumer's side of a connection's messages: call :meth:`next_head`, then :meth:`next_body` until it
    returns None, then :meth:`next_head` again. A driver supplies :meth:`_fill`."""

    def __init__(self, *, response: bool, max_header_bytes: int = 64 * 1024):
        self.parser = MessageParser(response=response, max_header_bytes=max_header_bytes)
        self._events = self.parser.events
        self._body_pending = False

    async def _fill(self) -> None:
        """Wait until more events are queued or the input has ended; raise what the input was wrong with."""
        raise NotImplementedError

    def _consumed(self, size: int) -> None:
        """``size`` queued bytes were handed to the consumer."""
        self.parser.queued -= size

    @property
    def eof(self) -> bool:
        return self.parser.eof

    @property
    def head_ready(self) -> bool:
        """A complete head is already parsed and queued."""
        return bool(self._events) and isinstance(self._events[0], _Head)

    @property
    def in_headers(self) -> bool:
        """True while a message head has begun but is not complete."""
        return self.parser.in_headers

    @property
    def head_started_at(self) -> float:
        return self.parser.head_started_at

    async def next_head(self) -> RequestHead | ResponseHead | None:
        """The next message's head, or None on a clean close between messages."""
        events = self._events
        while not events:
            if self.parser.eof:
                if self.parser.in_headers:
                    raise HttpProtocolError("connection closed in the middle of a message head")
                return None
            await self._fill()
        event = events.popleft()
        if not isinstance(event, RequestHead | ResponseHead):
            raise HttpProtocolError(f"expected a message head, got {type(event).__name__}")
        self._consumed(event.size)
        if event.framing == "none":
            # body-less message: swallow its end-of-message event now so the caller needs no body loop
            while not events and not self.parser.eof:
                await self._fill()
            if events and events[0] is END:
                events.popleft()
        self._body_pending = event.framing != "none"
        return event

    def take_queued_body(self) -> tuple[list[bytes], bool]:
        """The current message's body chunks already parsed, and whether its end is among them. Never waits:
        lets a forwarder send a head and a small body in one write (one TLS record, one segment)."""
        chunks: list[bytes] = []
        if not self._body_pending:
            return chunks, True
        events = self._events
        while events:
            event = events[0]
            if isinstance(event, bytes):
                events.popleft()
                self._consumed(len(event))
                chunks.append(event)
            elif event is END:
                events.popleft()
                self._body_pending = False
                return chunks, True
            else:
                break
        return chunks, False

    async def next_body(self) -> bytes | None:
        """The next body chunk of the current message, or None at its end (at once for a body-less
        message)."""
        if not self._body_pending:
            return None
        events = self._events
        while not events:
            if self.parser.eof:
                raise HttpProtocolError("connection closed in the middle of a message body", 502)
            await self._fill()
        event = events[0]
        if isinstance(event, bytes):
            events.popleft()
            self._consumed(len(event))
            return event
        if event is END:
            events.popleft()
        self._body_pending = False
        return None

    @property
    def expect_head_only(self) -> bool:
        """Set before the request is sent: the next final response answers a HEAD request."""
        return self.parser.expect_head_only

    @expect_head_only.setter
    def expect_head_only(self, value: bool) -> None:
        self.parser.expect_head_only = value


class MessageReader(MessageStream):
    """Messages read from an asyncio stream, one read (at most 64 KiB) at a time, when the consumer needs
    more."""

    def __init__(self, reader: asyncio.StreamReader, *, response: bool, max_header_bytes: int = 64 * 1024):
        super().__init__(response=response, max_header_bytes=max_header_bytes)
        self._reader = reader

    async def _fill(self) -> None:
        data = await self._reader.read(READ_SIZE)
        if data:
            self.parser.feed(data)
        else:
            self.parser.feed_eof()


# ------------------------------------------------------------------------------------------------- writing
def encode_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def forward_fields(head: _Head, drop: frozenset[str] = frozenset()) -> list[bytes]:
    """The head's header lines as received, minus hop-by-hop fields (including those its Connection header
    names) and the lower-case names in ``drop``, also spelled with ``_`` for ``-`` (CGI-style servers read
    ``x_mesh_client_id`` as ``x-mesh-client-id``: a forged spelling must not sit beside the real one)."""
    if "connection" in head.by_name:
        drop = drop.union(
            token.strip().lower()
            for name, (_, value) in zip(head.names, head.headers, strict=True)
            if name == "connection"
            for token in value.split(",")
        )
    fields = zip(head.fields, head.names, strict=True)
    return [
        line
        for line, name in fields
        if name not in HOP_BY_HOP
        and name not in drop
        and ("_" not in name or name.replace("_", "-") not in drop)
    ]


def _render(start: str, headers: list[tuple[str, str]]) -> bytes:
    return "".join([start, "\r\n", *[f"{k}: {v}\r\n" for k, v in headers], "\r\n"]).encode("latin-1")


def render_response_head(status: int, reason: str, headers: list[tuple[str, str]]) -> bytes:
    """A response head the proxy makes itself (forwarded heads keep their lines: :func:`forward_fields`)."""
    return _render(f"HTTP/1.1 {status} {reason}", headers)


_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def simple_response(
    status: int, body: str, *, close: bool = False, extra: list[tuple[str, str]] | None = None
) -> bytes:
    """A complete small response generated by the proxy itself; ``x-mesh-error`` carries the reason."""
    payload = (body + "\n").encode()
    headers = [("content-type", "text/plain; charset=utf-8"), ("content-length", str(len(payload)))]
    if status >= 400:
        headers.append(("x-mesh-error", body[:200].encode("ascii", "replace").decode()))
    headers += extra or []
    if close:
        headers.append(("connection", "close"))
    return render_response_head(status, _REASONS.get(status, "Error"), headers) + payload
