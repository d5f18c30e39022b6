"""HTTP/1.1 messages over asyncio streams, parsed by httptools (llhttp).

:class:`MessageReader` turns bytes into events (a head, body chunks, end of message), reading from the socket
only when the consumer asks for the next event: a body is never held whole, at most one socket read (64 KiB)
is buffered, and a slow receiver slows the sender (the writer side awaits ``drain()``). Heads keep header
names as sent; framing (Content-Length, chunked, until-close) is recorded so bodies can be re-framed when
forwarded.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

import httptools

__all__ = [
    "HOP_BY_HOP",
    "BodyChunk",
    "EndOfMessage",
    "HttpProtocolError",
    "MessageReader",
    "RequestHead",
    "ResponseHead",
    "encode_chunk",
    "forward_headers",
    "render_request_head",
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


@dataclass
class _Head:
    headers: list[tuple[str, str]]
    version: str = "1.1"
    keep_alive: bool = True
    #: "length", "chunked", "none" (no body) or "close" (body until the connection closes; responses only).
    framing: str = "none"
    length: int | None = None
    #: lower-case name -> first value, built once by the parser
    by_name: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case)."""
        if not self.by_name and self.headers:
            for k, v in reversed(self.headers):
                self.by_name[k.lower()] = v
        return self.by_name.get(name.lower())


@dataclass
class RequestHead(_Head):
    method: str = "GET"
    target: str = "/"


@dataclass
class ResponseHead(_Head):
    status: int = 200
    reason: str = ""


@dataclass
class BodyChunk:
    data: bytes


@dataclass
class EndOfMessage:
    pass


END = EndOfMessage()
Event = RequestHead | ResponseHead | BodyChunk | EndOfMessage


@dataclass
class _Building:
    url: bytearray = field(default_factory=bytearray)
    headers: list[tuple[str, str]] = field(default_factory=list)


class MessageReader:
    """Reads a sequence of requests (``response=False``) or responses (``response=True``) from a stream.

    Call :meth:`next_head`, then :meth:`next_body` until it returns None, then :meth:`next_head` again.
    ``head_started_at`` and ``in_headers`` tell how long a message head has been arriving (header timeouts).
    """

    def __init__(self, reader: asyncio.StreamReader, *, response: bool, max_header_bytes: int = 64 * 1024):
        self._reader = reader
        self._response = response
        self._max_header_bytes = max_header_bytes
        self._events: deque[Event] = deque()
        self._new_parser()
        self._head_bytes = 0  # request line and header fields of the current head, as parsed
        self._pending_head_bytes = 0  # bytes read while a head stayed incomplete
        self._in_headers = False
        self._current: _Head | None = None
        self._head_only = False  # response to HEAD / 204 / 304: no body whatever the headers say
        self.eof = False
        self._body_pending = False
        #: monotonic time the current (or last) message's first byte was parsed
        self.head_started_at = 0.0
        self.expect_head_only = False

    def _new_parser(self) -> None:
        self._parser = (
            httptools.HttpResponseParser(self) if self._response else httptools.HttpRequestParser(self)
        )
        self._b = _Building()

    # ------------------------------------------------------------------------------------- parser callbacks
    def on_message_begin(self) -> None:
        self._b = _Building()
        self._in_headers = True
        self._head_bytes = 0
        self.head_started_at = time.monotonic()

    def on_url(self, url: bytes) -> None:
        self._b.url += url
        self._head_bytes += len(url)

    def on_status(self, status: bytes) -> None:
        self._b.url += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._b.headers.append((name.decode("latin-1"), value.decode("latin-1")))
        self._head_bytes += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        self._in_headers = False
        p = self._parser
        headers = self._b.headers
        lower: dict[str, str] = {}
        for k, v in reversed(headers):  # first occurrence wins
            lower[k.lower()] = v
        version = p.get_http_version()
        te = lower.get("transfer-encoding", "")
        head: _Head
        if isinstance(p, httptools.HttpRequestParser):
            method = p.get_method().decode("ascii")
            head = RequestHead(
                headers, version, p.should_keep_alive(), method=method, target=self._b.url.decode("latin-1")
            )
        else:
            status = p.get_status_code()
            head = ResponseHead(
                headers, version, p.should_keep_alive(), status=status, reason=self._b.url.decode("latin-1")
            )
        head.by_name = lower
        if "chunked" in te.lower():
            head.framing = "chunked"
        elif "content-length" in lower:
            head.framing, head.length = "length", int(lower["content-length"])
        elif isinstance(head, ResponseHead) and not (100 <= head.status < 200 or head.status in (204, 304)):
            head.framing = "close"
            head.keep_alive = False
        if (
            isinstance(head, ResponseHead)
            and head.status >= 200
            and (self.expect_head_only or head.status in (204, 304))
        ):
            head.framing, self._head_only = "none", True
        if head.framing == "length" and head.length == 0:
            head.framing = "none"
        self._current = head
        self._events.append(head)

    def on_body(self, body: bytes) -> None:
        if not self._head_only:
            self._events.append(BodyChunk(body))

    def on_message_complete(self) -> None:
        self._head_only = False
        self._events.append(END)

    # -------------------------------------------------------------------------------------------- reading
    async def _fill(self) -> None:
        data = await self._reader.read(READ_SIZE)
        if not data:
            self.eof = True
            head = self._current
            if head is not None and head.framing == "close":  # body delimited by connection close
                self._current = None
                self._events.append(END)
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise HttpProtocolError("protocol upgrade is not supported: use a TCP port", 501) from None
        except httptools.HttpParserError as exc:
            raise HttpProtocolError(f"malformed HTTP: {exc}") from None
        if self._in_headers:  # a head still incomplete after this read: count what it has buffered so far
            self._pending_head_bytes += len(data)
        else:
            self._pending_head_bytes = 0
        if max(self._head_bytes, self._pending_head_bytes) > self._max_header_bytes:
            raise HttpProtocolError("request header fields too large", 431)
        if (
            self._head_only
            and self._current is not None
            and self._events
            and self._events[-1] is self._current
        ):
            # HEAD/204/304: llhttp would wait for a body the headers announce but that never comes.
            self._events.append(END)
            self._head_only = False
            self._current = None
            self._new_parser()

    @property
    def head_ready(self) -> bool:
        """A complete head is already parsed and queued."""
        return bool(self._events) and isinstance(self._events[0], RequestHead | ResponseHead)

    @property
    def in_headers(self) -> bool:
        """True while a message head has begun but is not complete."""
        return self._in_headers

    async def next_head(self) -> RequestHead | ResponseHead | None:
        """The next message's head, or None on a clean close between messages."""
        while not self._events:
            if self.eof:
                if self._in_headers:
                    raise HttpProtocolError("connection closed in the middle of a message head")
                return None
            await self._fill()
        event = self._events.popleft()
        if not isinstance(event, RequestHead | ResponseHead):
            raise HttpProtocolError(f"expected a message head, got {type(event).__name__}")
        if event.framing == "none":
            # body-less message: swallow its end-of-message event now so the caller needs no body loop
            while not self._events and not self.eof:
                await self._fill()
            if self._events and isinstance(self._events[0], EndOfMessage):
                self._events.popleft()
            self._current = None
        self.expect_head_only = False
        self._body_pending = event.framing != "none"
        return event

    def take_queued_body(self) -> tuple[list[bytes], bool]:
        """The current message's body chunks already parsed, and whether its end is among them. Never waits:
        lets a forwarder send a head and a small body in one write (one TLS record, one segment)."""
        chunks: list[bytes] = []
        if not self._body_pending:
            return chunks, True
        while self._events:
            event = self._events[0]
            if isinstance(event, BodyChunk):
                self._events.popleft()
                chunks.append(event.data)
            elif isinstance(event, EndOfMessage):
                self._events.popleft()
                self._current = None
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
        while not self._events:
            if self.eof:
                raise HttpProtocolError("connection closed in the middle of a message body", 502)
            await self._fill()
        event = self._events[0]
        if isinstance(event, BodyChunk):
            self._events.popleft()
            return event.data
        if isinstance(event, EndOfMessage):
            self._events.popleft()
            self._current = None
        self._body_pending = False
        return None


# ------------------------------------------------------------------------------------------------- writing
def encode_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def forward_headers(
    headers: list[tuple[str, str]], drop: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """Headers minus hop-by-hop ones (including those the Connection header names) and ``drop`` (lower
    case)."""
    out = [(k, v) for k, v in headers if (kl := k.lower()) not in HOP_BY_HOP and kl not in drop]
    if len(out) == len(headers):
        return out  # no Connection header among them: nothing else to drop
    named: set[str] = set()
    for k, v in headers:
        if k.lower() == "connection":
            named.update(t.strip().lower() for t in v.split(","))
    return [(k, v) for k, v in out if k.lower() not in named] if named else out


def _render(start: str, headers: list[tuple[str, str]]) -> bytes:
    return "".join([start, "\r\n", *[f"{k}: {v}\r\n" for k, v in headers], "\r\n"]).encode("latin-1")


def render_request_head(method: str, target: str, headers: list[tuple[str, str]]) -> bytes:
    return _render(f"{method} {target} HTTP/1.1", headers)


def render_response_head(status: int, reason: str, headers: list[tuple[str, str]]) -> bytes:
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
