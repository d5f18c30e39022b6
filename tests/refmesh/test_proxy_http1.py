"""HTTP/1.1 message reading (httptools): framing, pipelining, limits, malformed input."""

from __future__ import annotations

import asyncio

import pytest

from reference_mesh.proxy.http1 import (
    HttpProtocolError,
    MessageReader,
    RequestHead,
    ResponseHead,
    forward_fields,
)


def reader_of(data: bytes, *, response: bool = False, limit: int = 64 * 1024) -> MessageReader:
    stream = asyncio.StreamReader()
    stream.feed_data(data)
    stream.feed_eof()
    return MessageReader(stream, response=response, max_header_bytes=limit)


def read_all(data: bytes, *, response: bool = False) -> list[tuple[object, bytes]]:
    return asyncio.run(_read_all(data, response))


async def _read_all(data: bytes, response: bool) -> list[tuple[object, bytes]]:
    messages = reader_of(data, response=response)
    out = []
    while (head := await messages.next_head()) is not None:
        body = b""
        if head.framing != "none":
            while (chunk := await messages.next_body()) is not None:
                body += chunk
        out.append((head, body))
    return out


def test_pipelined_requests_with_each_framing() -> None:
    data = (
        b"GET /a HTTP/1.1\r\nHost: api\r\n\r\n"
        b"POST /b HTTP/1.1\r\nHost: api\r\nContent-Length: 5\r\n\r\nhello"
        b"PUT /c HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    msgs = read_all(data)
    heads = [h for h, _ in msgs]
    assert [(h.method, h.target, h.framing) for h in heads] == [  # type: ignore[attr-defined]
        ("GET", "/a", "none"),
        ("POST", "/b", "length"),
        ("PUT", "/c", "chunked"),
    ]
    assert [b for _, b in msgs] == [b"", b"hello", b"abcde"]
    assert isinstance(heads[0], RequestHead) and heads[0].header("HOST") == "api"


def test_response_framings() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + b"HTTP/1.1 204 No Content\r\n\r\n"
    msgs = read_all(data, response=True)
    assert [(h.status, b) for h, b in msgs] == [(200, b"ok"), (204, b"")]  # type: ignore[attr-defined]
    until_close = read_all(b"HTTP/1.1 200 OK\r\n\r\nstream until close", response=True)
    head, body = until_close[0]
    assert isinstance(head, ResponseHead) and head.framing == "close" and body == b"stream until close"


def test_head_response_has_no_body() -> None:
    async def run() -> ResponseHead:
        msgs = reader_of(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", response=True)
        msgs.expect_head_only = True
        head = await msgs.next_head()
        assert isinstance(head, ResponseHead)
        return head

    assert asyncio.run(run()).framing == "none"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),  # smuggling
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 70000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\nHost: a\r\n", 400),  # closed in the middle of the head
        (b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400),  # which one routes?
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),  # obs-fold
    ],
)
def test_bad_requests(data: bytes, status: int) -> None:
    with pytest.raises(HttpProtocolError) as info:
        read_all(data)
    assert info.value.status == status


def test_truncated_body_is_an_error() -> None:
    with pytest.raises(HttpProtocolError, match="middle of a message body"):
        read_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", response=True)


def test_hop_by_hop_headers_are_dropped_and_the_rest_relayed_as_received() -> None:
    ((head, _),) = read_all(
        b"GET / HTTP/1.1\r\n"
        b"Connection: keep-alive, X-Secret\r\n"
        b"X-Secret: 1\r\n"
        b"Keep-Alive: 5\r\n"
        b"TE: trailers\r\n"
        b"Accept:   */*\r\n"
        b"X-Dup: a\r\n"
        b"x-mesh-client-id: forged\r\n"
        b"X-DUP: b\r\n"
        b"\r\n"
    )
    assert isinstance(head, RequestHead)
    assert forward_fields(head, frozenset({"x-mesh-client-id"})) == [
        b"Accept: */*\r\n",
        b"X-Dup: a\r\n",
        b"X-DUP: b\r\n",
    ]
