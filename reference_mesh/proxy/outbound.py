"""The client side of the sidecar: the application's requests and flows out to services.

HTTP: ``serve_http`` reads requests from the application (proxy-style listener: the authority names the
service), routes each with the snapshot current when its head arrived, applies fault injection, the circuit
breaker, the timeout and retries, and relays the response. TCP/UDP: one routing decision per connection / UDP
flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from reference_mesh.proxy.config import RoutePolicy
from reference_mesh.proxy.connection import HttpConnection
from reference_mesh.proxy.endpoints import EndpointState
from reference_mesh.proxy.forward import (
    DEADLINE_HEADER,
    DENIED_HEADER,
    RequestBody,
    client_keeps_alive,
    deadline_field,
    read_request_body,
    read_response,
    relay_response,
    send_request,
    serve_requests,
)
from reference_mesh.proxy.http1 import HttpProtocolError, RequestHead, simple_response
from reference_mesh.proxy.paths import BadTarget, RequestTarget, canonical_target
from reference_mesh.proxy.pool import ConnectError, Upstream
from reference_mesh.proxy.resilience import decide_fault, may_retry
from reference_mesh.proxy.routing import RouteError, Target
from reference_mesh.proxy.streams import (
    close_quietly,
    pipe_tunnel,
    read_frame,
    write_frame,
)
from reference_mesh.proxy.telemetry import Edge
from reference_mesh.proxy.timeouts import Deadline

if TYPE_CHECKING:
    from reference_mesh.proxy.server import Proxy

__all__ = ["DEADLINE_HEADER", "OutboundUdp", "serve_http", "serve_tcp", "serve_tcp_to"]

log = logging.getLogger(__name__)

#: Deadline propagation: remaining milliseconds of the caller's budget (relative, so clocks need not agree).


class _Failed(Exception):
    """An attempt failed before a response head was relayed."""

    def __init__(self, status: int, reason: str, retryable: bool):
        super().__init__(reason)
        self.status, self.reason, self.retryable = status, reason, retryable


def _where(ep: EndpointState) -> str:
    return f"{ep.endpoint.address}:{ep.endpoint.port}"


def _edge(proxy: Proxy, target: Target, protocol: str, ep: EndpointState | None, route: str = "") -> Edge:
    return Edge(
        "outbound",
        protocol,
        proxy.identity_uri,
        proxy.instance,
        target.root.key,
        target.backend.key,
        target.split,
        ep.endpoint.identity if ep else "",
        ep.endpoint.instance if ep else "",
        target.port,
        route,
    )


async def serve_http(
    proxy: Proxy, conn: HttpConnection, *, destination: tuple[str, int] | None = None
) -> None:
    """Serve one application connection to the outbound HTTP listener. ``destination`` (service key, port):
    the connection was redirected there (transparent interception), so its requests go to that service
    whatever their authority says; without it, the authority names the service."""

    await serve_requests(
        conn, proxy.state.config.settings, lambda head: _exchange(proxy, head, conn, destination)
    )


class _Exchange:
    """One request's progress, for telemetry and for knowing what may still be written to the client."""

    __slots__ = ("denied", "endpoint", "keep_alive", "reason", "relaying", "route", "status")

    def __init__(self) -> None:
        self.status = 502
        self.denied = False  # the server's proxy refused it by policy (its 403 carries DENIED_HEADER)
        self.reason = ""
        self.endpoint: EndpointState | None = None
        self.relaying = False  # a response head went to the client: errors can only abort the connection
        self.keep_alive = True
        self.route = ""  # name of the RoutePolicy match that applied ("" = the default route)


async def _exchange(
    proxy: Proxy, head: RequestHead, conn: HttpConnection, destination: tuple[str, int] | None = None
) -> bool:
    """Handle one request; return whether the client connection may carry another."""
    started = time.monotonic()
    state = proxy.state  # this request uses this snapshot to the end
    path, authority = head.target, head.header("host")
    ex = _Exchange()
    ex.keep_alive = head.keep_alive
    target: Target | None = None
    try:
        try:
            # routed, split and forwarded in the spelling the server sidecar will authorise (``paths.py``)
            request_target = canonical_target(head.target, head.method)
        except BadTarget as exc:
            raise RouteError(400, str(exc)) from None
        path = request_target.path
        if destination is not None:  # redirected to a service's address: that service, whatever the authority
            root, port = state.outbound.service(destination[0]), destination[1]
        else:
            # RFC 9112 3.2.2: an absolute-form target's authority wins over Host (and is sent on as Host)
            authority = request_target.authority or authority
            if not authority:
                raise RouteError(400, "request has no Host header naming a service")
            root, port = state.outbound.resolve_authority(authority)
        route = root.route_policy(head.method, path, head.headers)
        if route is not None:
            ex.route = route.match.name
        target = state.outbound.route(root, port, (head.method, path, head.headers))
        await _attempts(proxy, target, route, head, request_target, conn, ex)
    except RouteError as exc:
        ex.status, ex.reason = exc.status, exc.reason
        ex.keep_alive = ex.keep_alive and head.framing == "none"  # the body was not read
        conn.write(simple_response(exc.status, exc.reason, close=not ex.keep_alive))
        await conn.flush()
    latency_ms = (time.monotonic() - started) * 1000.0
    ep = ex.endpoint
    if target is not None:
        edge = _edge(proxy, target, "http", ep, ex.route)
        proxy.record(edge, ex.status < 500, str(ex.status), latency_ms, denied=ex.denied)
    if proxy.tap.active:
        proxy.tap.publish(
            {
                "ts": time.time(),
                "direction": "outbound",
                "protocol": "http",
                "method": head.method,
                "authority": authority,
                "path": path,
                "status": ex.status,
                "latency_ms": round(latency_ms, 3),
                "source": proxy.identity_uri,
                "service": target.root.key if target else None,
                "backend": target.backend.key if target else None,
                "split": target.split if target else "",
                "endpoint": f"{ep.endpoint.address}:{ep.endpoint.port}" if ep else None,
                "route": ex.route,
                "error": ex.reason or None,
            }
        )
    return ex.keep_alive


async def _attempts(
    proxy: Proxy,
    target: Target,
    route: RoutePolicy | None,
    head: RequestHead,
    request_target: RequestTarget,
    conn: HttpConnection,
    ex: _Exchange,
) -> None:
    root, backend = target.root, target.backend
    res = root.config.resilience
    timeout_ms = route.timeout_ms if route is not None and route.timeout_ms is not None else res.timeout_ms
    incoming = head.header(DEADLINE_HEADER)
    if incoming is not None and incoming.strip().isdigit():
        timeout_ms = min(timeout_ms, int(incoming)) if timeout_ms else int(incoming)
    deadline_at = time.monotonic() + timeout_ms / 1000.0 if timeout_ms else None

    fault = decide_fault(res.fault, proxy.rng)
    if fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    if fault.abort_status is not None:
        raise RouteError(fault.abort_status, f"fault injected by the mesh for {root.key}")

    limit = backend.runtime.limit
    if not limit.try_acquire():
        raise RouteError(503, f"circuit breaker open: {backend.key} has {limit.limit} requests in flight")
    try:
        async with Deadline(timeout_ms / 1000.0 if timeout_ms else None):
            body = await read_request_body(
                head, conn, res.retries.max_buffered_body_bytes, answer_expect=True
            )
            budget = root.runtime.budget
            budget.record_request(time.monotonic())
            retryable = may_retry(
                res.retries, head.method, route.retryable if route else None, body.replayable
            )
            retries_left = res.retries.max_retries
            while True:
                ep = target.balancer.pick(time.monotonic(), exclude=ex.endpoint)
                if ep is None:
                    raise _Failed(503, f"no endpoints for {backend.key} port {target.port}", False)
                ex.endpoint = ep
                try:
                    await _one_attempt(
                        proxy,
                        target,
                        ep,
                        head,
                        request_target,
                        body,
                        conn,
                        deadline_at,
                        ex,
                        retryable and retries_left > 0,
                    )
                    return
                except _Failed as exc:
                    # connect failures (status -1) are retried whatever the method: nothing was sent;
                    # the budget is asked last, only when a retry is otherwise due
                    if not (
                        exc.retryable
                        and retries_left > 0
                        and (retryable or exc.status == -1)
                        and budget.balance(time.monotonic()) >= 1
                    ):
                        raise
                    budget.try_withdraw(time.monotonic())
                    retries_left -= 1
    except _Failed as exc:
        ex.status, ex.reason = (502 if exc.status == -1 else exc.status), exc.reason
        await body.discard()
        conn.write(simple_response(ex.status, exc.reason, close=not ex.keep_alive))
        await conn.flush()
    except TimeoutError:
        ex.status, ex.reason, ex.keep_alive = (
            504,
            f"request to {root.key} timed out after {timeout_ms} ms",
            False,
        )
        if ex.relaying:
            conn.abort()
        else:
            conn.write(simple_response(504, ex.reason, close=True))
            with contextlib.suppress(Exception):
                await conn.flush()
    finally:
        limit.release()


async def _one_attempt(
    proxy: Proxy,
    target: Target,
    ep: EndpointState,
    head: RequestHead,
    request_target: RequestTarget,
    body: RequestBody,
    conn: HttpConnection,
    deadline_at: float | None,
    ex: _Exchange,
    may_retry_status: bool,
) -> None:
    """Send the request to ``ep`` and relay its response; raise :class:`_Failed` if nothing was relayed.
    A response whose status is retryable is not relayed when ``may_retry_status`` and the budget allows a
    retry."""
    lb = target.backend.config.resilience
    started = time.monotonic()
    ep.active += 1
    up: Upstream | None = None
    ok = False
    try:
        try:
            up = await proxy.pool.acquire_endpoint(ep.endpoint, lb.connect_timeout_ms)
        except ConnectError as exc:
            raise _Failed(-1, str(exc), body.replayable) from exc
        # the latency sample starts once connected: a TLS handshake is a one-off of the connection, not a
        # property of the endpoint (Linkerd measures requests on ready connections); a failed connect counts
        started = time.monotonic()
        try:
            await send_request(
                up.conn,
                head,
                request_target.origin_form,
                body,
                deadline_field(deadline_at),
                host=request_target.authority,
            )
            response = await read_response(up.conn)
        except (ConnectionError, OSError, HttpProtocolError) as exc:
            raise _Failed(
                502, f"{_where(ep)} failed: {exc or type(exc).__name__}", body.replayable and up.reused
            ) from exc
        if (
            may_retry_status
            and response.status in target.root.config.resilience.retries.retry_on_status
            and target.root.runtime.budget.balance(time.monotonic()) >= 1
        ):
            raise _Failed(response.status, f"{_where(ep)} answered {response.status}", True)
        ex.status, ex.relaying = response.status, True
        ex.denied = response.status == 403 and response.header(DENIED_HEADER) is not None
        try:
            ex.keep_alive = ex.keep_alive and client_keeps_alive(head, response)
            await relay_response(
                response, up.conn, conn, keep_alive=ex.keep_alive, http10=head.version == "1.0"
            )
        except HttpProtocolError:
            # the upstream broke mid-body: abort so the client cannot take a truncated body as complete
            conn.abort()
            ex.status, ex.reason, ex.keep_alive = 502, f"{_where(ep)} broke off the response", False
            return
        ok = response.status < 500
        reusable = response.keep_alive and response.framing != "close"
        proxy.pool.release(up, reusable, lb.circuit_breaker.max_idle_connections_per_endpoint)
        up = None
    finally:
        ep.active -= 1
        done = time.monotonic()
        ep.observe_latency((done - started) * 1000.0, done, lb.load_balancing)
        ep.record_outcome(ok, done, lb.outlier_detection, target.balancer.pool)
        if up is not None:
            up.close()


# ------------------------------------------------------------------------------------------------------- TCP
async def serve_tcp(
    proxy: Proxy, listen_port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """A connection to a local TCP port bound to a service port (``OutboundConfig.tcp``)."""
    binding = next((b for b in proxy.state.config.outbound.tcp if b.listen_port == listen_port), None)
    if binding is None:
        await close_quietly(writer)
        return
    await serve_tcp_to(proxy, binding.service, binding.port, reader, writer)


async def serve_tcp_to(
    proxy: Proxy, service: str, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """A TCP connection of the application to ``port`` of ``service`` (key ``name.namespace``): one routing
    decision, then an mTLS tunnel to the chosen endpoint's proxy."""
    started = time.monotonic()
    state = proxy.state
    target: Target | None = None
    ep: EndpointState | None = None
    ok, code = False, "error"
    try:
        root = state.outbound.service(service)
        target = state.outbound.route(root, port)
        (up_reader, up_writer), ep = await _connect_flow(proxy, target)
        ep.active += 1
        try:
            _, _, ok = await pipe_tunnel(reader, writer, up_reader, up_writer)
        finally:
            ep.active -= 1
        code = "tcp"
    except (RouteError, ConnectError) as exc:
        log.info("outbound tcp %s:%s refused: %s", service, port, exc)
    finally:
        await close_quietly(writer)
        if target is not None:
            proxy.record(_edge(proxy, target, "tcp", ep), ok, code, (time.monotonic() - started) * 1000.0)


async def _connect_flow(
    proxy: Proxy, target: Target
) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter], EndpointState]:
    """A fresh mTLS connection for one TCP/UDP flow, trying other endpoints if one cannot be reached."""
    res = target.backend.config.resilience
    tried: EndpointState | None = None
    error = f"no endpoints for {target.backend.key} port {target.port}"
    for _ in range(1 + res.retries.max_retries):
        ep = target.balancer.pick(time.monotonic(), exclude=tried)
        if ep is None:
            break
        try:
            stream = await proxy.pool.open_stream(ep.endpoint, res.connect_timeout_ms)
        except ConnectError as exc:
            ep.record_outcome(False, time.monotonic(), res.outlier_detection, target.balancer.pool)
            tried, error = ep, str(exc)
            continue
        return stream, ep
    raise ConnectError(error)


# ------------------------------------------------------------------------------------------------------- UDP
class _UdpFlow:
    def __init__(self) -> None:
        self.queue: list[bytes] = []
        self.writer: asyncio.StreamWriter | None = None
        self.last_seen = time.monotonic()
        self.task: asyncio.Task[None] | None = None


class OutboundUdp(asyncio.DatagramProtocol):
    """A local UDP port: each client address is a flow carried over its own mTLS stream to one endpoint."""

    def __init__(self, proxy: Proxy, listen_port: int):
        self.proxy = proxy
        self.listen_port = listen_port
        self.flows: dict[tuple[str, int], _UdpFlow] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        flow = self.flows.get(addr)
        if flow is None:
            flow = self.flows[addr] = _UdpFlow()
            flow.task = asyncio.ensure_future(self._run(addr, flow))
        flow.last_seen = time.monotonic()
        if flow.writer is not None:
            write_frame(flow.writer, data)
        elif len(flow.queue) < 64:
            flow.queue.append(data)

    def close(self) -> None:
        for flow in self.flows.values():
            if flow.task is not None:
                flow.task.cancel()

    async def _run(self, addr: tuple[str, int], flow: _UdpFlow) -> None:
        started = time.monotonic()
        state = self.proxy.state
        binding = next((b for b in state.config.outbound.udp if b.listen_port == self.listen_port), None)
        target: Target | None = None
        ep: EndpointState | None = None
        ok = False
        idle_s = state.config.settings.udp_idle_timeout_ms / 1000.0
        try:
            if binding is None:
                return
            target = state.outbound.route(state.outbound.service(binding.service), binding.port)
            (up_reader, up_writer), ep = await _connect_flow(self.proxy, target)
            flow.writer = up_writer
            for d in flow.queue:
                write_frame(up_writer, d)
            flow.queue.clear()
            while True:
                remaining = idle_s - (time.monotonic() - flow.last_seen)
                if remaining <= 0:
                    break
                try:
                    async with Deadline(remaining):
                        frame = await read_frame(up_reader)
                except TimeoutError:
                    continue
                if frame is None:
                    break
                flow.last_seen = time.monotonic()
                if self.transport is not None:
                    self.transport.sendto(frame, addr)
            ok = True
        except (RouteError, ConnectError, ConnectionError, OSError) as exc:
            log.info("outbound udp %s flow %s failed: %s", self.listen_port, addr, exc)
        finally:
            self.flows.pop(addr, None)
            if flow.writer is not None:
                flow.writer.close()
            if target is not None:
                self.proxy.record(
                    _edge(self.proxy, target, "udp", ep), ok, "udp", (time.monotonic() - started) * 1000.0
                )
