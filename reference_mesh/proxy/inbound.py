"""The server side of the sidecar: mTLS connections from peer proxies, authorized, to the local application.

The caller's identity comes only from its verified certificate (:meth:`MeshTls.peer_identity`); a connection
without an acceptable certificate is closed before anything is read. Identity headers the caller sent are
dropped and ``x-mesh-client-id`` is set from the certificate for the application.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from reference_mesh.proxy.authz import Decision
from reference_mesh.proxy.connection import HttpConnection
from reference_mesh.proxy.flows import OpenFlow
from reference_mesh.proxy.forward import (
    DEADLINE_HEADER,
    DENIED_HEADER,
    DROP_FROM_APP,
    client_keeps_alive,
    deadline_field,
    read_request_body,
    read_response,
    relay_response,
    send_request,
    serve_requests,
)
from reference_mesh.proxy.http1 import HttpProtocolError, RequestHead, simple_response
from reference_mesh.proxy.paths import BadTarget, canonical_target
from reference_mesh.proxy.pool import ConnectError, Upstream
from reference_mesh.proxy.streams import (
    close_quietly,
    pipe_tunnel,
    read_frame,
    write_frame,
)
from reference_mesh.proxy.telemetry import Edge
from reference_mesh.proxy.timeouts import Deadline
from reference_mesh.proxy.tls import PeerIdentityError

if TYPE_CHECKING:
    from reference_mesh.proxy.config import InboundListener
    from reference_mesh.proxy.server import Proxy

__all__ = ["CLIENT_ID_HEADER", "serve_http", "serve_stream"]

log = logging.getLogger(__name__)
CLIENT_ID_HEADER = "x-mesh-client-id"


def _edge(proxy: Proxy, listener: InboundListener, protocol: str, source: str | None) -> Edge:
    state = proxy.state
    return Edge(
        "inbound",
        protocol,
        source or "",
        "",
        state.services,
        state.services,
        "",
        proxy.identity_uri,
        state.config.workload.instance,
        listener.port,
    )


def _peer(proxy: Proxy, port: int, channel: asyncio.BaseTransport | asyncio.StreamWriter) -> str | None:
    """The caller's SPIFFE id from its verified certificate; None (and the connection aborted) if it has
    none acceptable."""
    try:
        return proxy.tls.peer_identity(channel).uri
    except PeerIdentityError as exc:
        log.info("inbound %s: closing connection: %s", port, exc)
        return None


async def serve_http(proxy: Proxy, listener: InboundListener, conn: HttpConnection) -> None:
    """Entry point of every inbound TLS connection on an HTTP port: identify the peer, then serve its
    requests."""
    source = _peer(proxy, listener.port, conn.transport)
    if source is None:
        conn.abort()
        return

    # the caller's identity, for the application: one header line for the whole connection
    client_id = f"{CLIENT_ID_HEADER}: {source}\r\n".encode("latin-1")
    await serve_requests(
        conn,
        proxy.state.config.settings,
        lambda head: _http_exchange(proxy, listener, source, client_id, head, conn),
    )


async def serve_stream(
    proxy: Proxy, listener: InboundListener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Entry point of every inbound TLS connection on a TCP or UDP port: identify the peer, then relay."""
    source = _peer(proxy, listener.port, writer)
    if source is None:
        writer.transport.abort()
        return
    if listener.protocol == "tcp":
        await _serve_tcp(proxy, listener, source, reader, writer)
    else:
        await _serve_udp(proxy, listener, source, reader, writer)


def _tap(proxy: Proxy, event: dict[str, object]) -> None:
    if proxy.tap.active:
        proxy.tap.publish(
            {"ts": time.time(), "direction": "inbound", "destination": proxy.identity_uri, **event}
        )


# ------------------------------------------------------------------------------------------------------ HTTP
async def _http_exchange(
    proxy: Proxy,
    listener: InboundListener,
    source: str,
    client_id: bytes,
    head: RequestHead,
    conn: HttpConnection,
) -> bool:
    started = time.monotonic()
    state = proxy.state
    path, forward, denied = head.target, None, False
    try:
        # decided on, and forwarded, in one canonical spelling: the application serves what was authorised
        target = canonical_target(head.target, head.method)
    except BadTarget as exc:
        decision = Decision(False, f"bad request target: {exc}")
        status, reason = 400, str(exc)
    else:
        path = target.path
        decision = state.authorizer.http(source, listener.port, head.method, path, head.headers)
        status, reason = 403, f"forbidden: {decision.reason}"
        if decision.allowed:
            forward = target.origin_form
        else:
            denied = True
    keep_alive = head.keep_alive
    if forward is None:
        body = await read_request_body(head, conn, 64 * 1024)
        keep_alive = keep_alive and body.complete
        marker = [(DENIED_HEADER, "authorization")] if denied else None
        conn.write(simple_response(status, reason, close=not keep_alive, extra=marker))
        await conn.flush()
    else:
        status, reason, keep_alive = await _to_app(proxy, listener, client_id, head, forward, conn)
    latency_ms = (time.monotonic() - started) * 1000.0
    proxy.record(_edge(proxy, listener, "http", source), status < 500, str(status), latency_ms, denied=denied)
    if proxy.tap.active:
        _tap(
            proxy,
            {
                "protocol": "http",
                "source": source,
                "method": head.method,
                "path": path,
                "port": listener.port,
                "status": status,
                "latency_ms": round(latency_ms, 3),
                "authz": decision.reason,
                "would_deny": decision.would_deny,
                "error": reason or None,
            },
        )
    return keep_alive


async def _to_app(
    proxy: Proxy,
    listener: InboundListener,
    client_id: bytes,
    head: RequestHead,
    target: str,
    conn: HttpConnection,
) -> tuple[int, str, bool]:
    budget = head.header(DEADLINE_HEADER)
    timeout = int(budget) / 1000.0 if budget is not None and budget.strip().isdigit() else None
    deadline_at = time.monotonic() + timeout if timeout is not None else None
    up: Upstream | None = None
    relaying = False
    try:
        async with Deadline(timeout):
            body = await read_request_body(head, conn, 0, answer_expect=True)
            try:
                up = await proxy.app_pool.acquire(
                    listener.app_address, listener.app_port, connect_timeout=1.0
                )
            except ConnectError as exc:
                await body.discard()
                conn.write(
                    simple_response(502, f"application not reachable: {exc}", close=not head.keep_alive)
                )
                await conn.flush()
                return 502, str(exc), head.keep_alive
            # the app sees what is left of the caller's deadline, to pass on with its own outbound calls
            await send_request(up.conn, head, target, body, client_id + deadline_field(deadline_at))
            response = await read_response(up.conn)
            relaying = True
            keep_alive = client_keeps_alive(head, response)
            http10 = head.version == "1.0"
            await relay_response(
                response, up.conn, conn, keep_alive=keep_alive, http10=http10, drop=DROP_FROM_APP
            )
            proxy.app_pool.release(up, response.keep_alive and response.framing != "close")
            up = None
            return response.status, "", keep_alive
    except TimeoutError:
        reason = f"application did not answer within the caller's deadline ({budget} ms)"
    except (HttpProtocolError, ConnectionError, OSError) as exc:
        reason = f"application failed: {exc or type(exc).__name__}"
    finally:
        if up is not None:
            up.close()
    status = 504 if reason.startswith("application did not") else 502
    if relaying:
        conn.abort()
    else:
        with contextlib.suppress(Exception):
            conn.write(simple_response(status, reason, close=True))
            await conn.flush()
    return status, reason, False


# ------------------------------------------------------------------------------------------------------- TCP
async def _serve_tcp(
    proxy: Proxy,
    listener: InboundListener,
    source: str,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    started = time.monotonic()
    decision = proxy.state.authorizer.tcp(source, listener.port)
    ok, code = False, "denied"
    flow: OpenFlow | None = None
    try:
        if not decision.allowed:
            writer.transport.abort()  # denied TCP: closed, nothing relayed
            ok, code = True, "denied"
            return
        flow = proxy.flows.open("tcp", source, listener.port, writer.transport)
        try:
            app_reader, app_writer = await asyncio.open_connection(listener.app_address, listener.app_port)
        except OSError as exc:
            code = "error"
            log.info("inbound tcp %s: application not reachable: %s", listener.port, exc)
            return
        _, _, ok = await pipe_tunnel(app_reader, app_writer, reader, writer)
        code = "tcp"
    finally:
        if flow is not None:
            proxy.flows.close(flow)
            if flow.revoked is not None:  # a new snapshot denies it: closed, as a denial
                ok, code = True, "revoked"
        await close_quietly(writer)
        _flow_done(proxy, listener, "tcp", source, decision, ok, code, started)


def _flow_done(
    proxy: Proxy,
    listener: InboundListener,
    protocol: str,
    source: str,
    decision: Decision,
    ok: bool,
    code: str,
    started: float,
) -> None:
    """Telemetry and tap for a finished TCP connection or UDP flow."""
    latency_ms = (time.monotonic() - started) * 1000.0
    denied = code in ("denied", "revoked")  # refused by policy, or closed when a new one denied it
    proxy.record(_edge(proxy, listener, protocol, source), ok, code, latency_ms, denied=denied)
    _tap(
        proxy,
        {
            "protocol": protocol,
            "source": source,
            "port": listener.port,
            "outcome": code,
            "authz": decision.reason,
            "would_deny": decision.would_deny,
        },
    )


# ------------------------------------------------------------------------------------------------------- UDP
class _AppUdp(asyncio.DatagramProtocol):
    def __init__(self, writer: asyncio.StreamWriter):
        self.writer = writer

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        write_frame(self.writer, data)


async def _serve_udp(
    proxy: Proxy,
    listener: InboundListener,
    source: str,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    started = time.monotonic()
    decision = proxy.state.authorizer.udp(source, listener.port)
    ok, code = False, "denied"
    transport: asyncio.DatagramTransport | None = None
    flow: OpenFlow | None = None
    try:
        if not decision.allowed:
            writer.transport.abort()
            ok = True
            return
        flow = proxy.flows.open("udp", source, listener.port, writer.transport)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _AppUdp(writer), remote_addr=(listener.app_address, listener.app_port)
        )
        while (frame := await read_frame(reader)) is not None:
            transport.sendto(frame)
        ok, code = True, "udp"
    except (ConnectionError, OSError) as exc:
        code = "error"
        log.info("inbound udp %s: %s", listener.port, exc)
    finally:
        if flow is not None:
            proxy.flows.close(flow)
            if flow.revoked is not None:
                ok, code = True, "revoked"
        if transport is not None:
            transport.close()
        await close_quietly(writer)
        _flow_done(proxy, listener, "udp", source, decision, ok, code, started)
