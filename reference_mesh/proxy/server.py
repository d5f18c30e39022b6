"""The sidecar proxy: listeners, the current snapshot, credentials, telemetry. Start here.

    proxy = Proxy(Path("run/web-0/credentials"), admin_port=15000) await proxy.start() await
    proxy.apply(config)            # or: proxy.follow(FileConfigSource(path)) ... await proxy.stop()

``apply`` compiles the snapshot, binds any new listener, then swaps the compiled state in one assignment:
requests already routed finish with the state they started with (the next request on a keep-alive connection
is decided by the new one), inbound TCP connections and UDP flows the new snapshot denies are closed at once
(``flows.py``); a snapshot that does not compile or whose listeners cannot be bound is rejected whole
(:class:`ConfigRejected`) and the previous one stays in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from reference_mesh.identity import CredentialsError, WorkloadCredentials, load_credentials, read_generation
from reference_mesh.proxy import admin, inbound, outbound
from reference_mesh.proxy.authz import Authorizer
from reference_mesh.proxy.config import InboundListener, ProxyConfig
from reference_mesh.proxy.connection import HttpConnection
from reference_mesh.proxy.endpoints import EndpointRegistry
from reference_mesh.proxy.flows import FlowRegistry
from reference_mesh.proxy.pool import ConnectionPool
from reference_mesh.proxy.routing import OutboundTable, ServiceRuntime
from reference_mesh.proxy.sources import ConfigSource
from reference_mesh.proxy.tap import TapHub
from reference_mesh.proxy.telemetry import Edge, Telemetry
from reference_mesh.proxy.tls import MeshTls
from reference_mesh.proxy.transparent import TransparentTable, original_destination, relay_plain

__all__ = ["ConfigRejected", "Proxy", "ProxyState"]

log = logging.getLogger(__name__)
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class ConfigRejected(Exception):
    """A snapshot was not applied; the message says why. The previous snapshot is still in force."""


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]


class _Deferred(asyncio.Protocol):
    """A connection whose protocol is chosen once it is up (for TLS: after the handshake), when its original
    destination can be read: the chosen protocol takes the transport over before any data is delivered."""

    def __init__(self, choose: Callable[[asyncio.BaseTransport], asyncio.BaseProtocol]):
        self._choose = choose

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        protocol = self._choose(transport)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)


@dataclass(frozen=True)
class ProxyState:
    """Everything compiled from one snapshot."""

    config: ProxyConfig
    outbound: OutboundTable
    authorizer: Authorizer
    inbound: dict[int, InboundListener]
    applied_at: float
    #: the workload's services, comma-separated (as inbound telemetry names them)
    services: str
    #: lookups for redirected connections (with :attr:`ProxyConfig.interception`)
    transparent: TransparentTable | None = None


# (kind, address, port); kinds: "inbound" (mTLS, any protocol), "http", "tcp" (outbound TCP), "udp" (outbound
# UDP), "intercepted-inbound" / "intercepted-outbound" (transparent interception)
ListenerKey = tuple[str, str, int]


class Proxy:
    """One sidecar for one workload instance."""

    def __init__(
        self,
        credentials: WorkloadCredentials | Path,
        *,
        admin_address: str = "127.0.0.1",
        admin_port: int | None = 0,
        telemetry_retention_s: int = 900,
        credentials_poll_s: float = 0.5,
        rng: random.Random | None = None,
    ):
        self._credentials_source = credentials
        self.admin_address = admin_address
        self._admin_port = admin_port
        self.credentials_poll_s = credentials_poll_s
        self.rng = rng or random.Random()
        self.telemetry = Telemetry(telemetry_retention_s)
        self.tap = TapHub()
        self.registry = EndpointRegistry()
        #: inbound TCP connections and UDP flows open now, decided again by every snapshot
        self.flows = FlowRegistry()
        self.runtimes: dict[str, ServiceRuntime] = {}
        self._state: ProxyState | None = None
        self._listeners: dict[ListenerKey, asyncio.AbstractServer | outbound.OutboundUdp] = {}
        self._udp_transports: dict[ListenerKey, asyncio.BaseTransport] = {}
        self._apply_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[object]] = set()
        self._connections: set[asyncio.Task[object]] = set()
        self._admin: asyncio.Server | None = None
        self.last_error: str | None = None
        self.source: ConfigSource | None = None
        self.tls: MeshTls
        self.pool: ConnectionPool
        self.app_pool: ConnectionPool
        self.started_at = time.time()

    # --------------------------------------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Load credentials and open the admin endpoint. Listeners open with the first snapshot."""
        source = self._credentials_source
        creds = load_credentials(source) if isinstance(source, Path) else source
        self.tls = MeshTls(creds)
        self.pool = ConnectionPool(self.tls)
        self.app_pool = ConnectionPool(None)
        if isinstance(source, Path):
            self._spawn(self._watch_credentials(source))
        if self._admin_port is not None:
            self._admin = await asyncio.start_server(
                self._tracked(functools.partial(admin.serve, self)), self.admin_address, self._admin_port
            )

    async def stop(self) -> None:
        """Close every listener and connection; nothing is left running."""
        for task in list(self._tasks):
            task.cancel()
        for server in list(self._listeners.values()):
            server.close()
        for transport in self._udp_transports.values():
            transport.close()
        if self._admin is not None:
            self._admin.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._connections, return_exceptions=True)
        for server in self._listeners.values():
            if isinstance(server, asyncio.AbstractServer):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 1.0)
        await asyncio.sleep(0)  # let the loop release the listening sockets before anyone rebinds them
        self._listeners.clear()
        self._udp_transports.clear()
        self.pool.close()
        self.app_pool.close()
        self.tls.close()

    def _spawn(self, coro: Awaitable[object]) -> asyncio.Task[object]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------------------------------------------ state
    @property
    def state(self) -> ProxyState:
        if self._state is None:
            raise RuntimeError("proxy has no configuration yet")
        return self._state

    @property
    def version(self) -> str | None:
        return self._state.config.version if self._state else None

    @property
    def ready(self) -> bool:
        return self._state is not None

    @functools.cached_property
    def identity_uri(self) -> str:
        """The proxy's SPIFFE id (a rotation never changes it: :meth:`MeshTls.rotate`)."""
        return self.tls.credentials.spiffe_id.uri

    @property
    def instance(self) -> str:
        return self._state.config.workload.instance if self._state else ""

    @property
    def admin_port(self) -> int | None:
        if self._admin is None:
            return None
        return int(self._admin.sockets[0].getsockname()[1])

    def record(
        self, edge: Edge, success: bool, code: str, latency_ms: float, *, denied: bool = False
    ) -> None:
        now = time.time()
        self.telemetry.record(
            edge, finished_at=now, success=success, code=code, latency_ms=latency_ms, denied=denied
        )

    # ------------------------------------------------------------------------------------------------ apply
    async def apply(self, config: ProxyConfig) -> None:
        """Make ``config`` current, atomically; raise :class:`ConfigRejected` and change nothing on
        failure."""
        async with self._apply_lock:
            try:
                await self._apply(config)
            except ConfigRejected as exc:
                self.last_error = f"version {config.version}: {exc}"
                raise
            self.last_error = None

    async def _apply(self, config: ProxyConfig) -> None:
        if config.workload.identity != self.tls.credentials.spiffe_id:
            held = self.tls.credentials.spiffe_id
            raise ConfigRejected(f"snapshot is for {config.workload.identity}, this proxy holds {held}")
        try:
            state = ProxyState(
                config,
                OutboundTable(config, self.registry, self.runtimes, self.rng),
                Authorizer(config.inbound.authorization),
                {ln.port: ln for ln in config.inbound.listeners},
                time.time(),
                ",".join(config.workload.services),
                TransparentTable(config) if config.interception is not None else None,
            )
        except ValueError as exc:
            raise ConfigRejected(str(exc)) from exc
        address = config.workload.address
        wanted: set[ListenerKey]
        if config.interception is None:
            wanted = {("inbound", address, ln.port) for ln in config.inbound.listeners}
        else:
            icp = config.interception
            wanted = {
                ("intercepted-inbound", icp.inbound_address, icp.inbound_port),
                ("intercepted-outbound", icp.outbound_address, icp.outbound_port),
            }
        if config.outbound.http_port is not None:
            wanted.add(("http", address, config.outbound.http_port))
        wanted |= {("tcp", address, b.listen_port) for b in config.outbound.tcp}
        wanted |= {("udp", address, b.listen_port) for b in config.outbound.udp}
        removed = [k for k in self._listeners if k not in wanted]
        # a port moving between kinds must be released before it is bound again
        for key in removed:
            if any(k[1:] == key[1:] and (k[0] == "udp") == (key[0] == "udp") for k in wanted):
                self._close_listener(key)
        opened: list[ListenerKey] = []
        try:
            for key in sorted(wanted - self._listeners.keys()):
                await self._bind(key)
                opened.append(key)
        except OSError as exc:
            for key in opened:
                self._close_listener(key)
            raise ConfigRejected(
                f"cannot listen on {key[1]}:{key[2]} ({key[0]}): {exc.strerror or exc}"
            ) from exc
        self._state = state  # the swap: every new request/connection sees the new snapshot from here
        self.flows.revoke_denied(state.authorizer)  # and open TCP/UDP flows it denies are closed now
        for key in removed:
            self._close_listener(key)
        keep = {
            (ep.address, ep.port)
            for s in config.outbound.services.values()
            for p in s.ports
            for ep in p.endpoints
        }
        self.registry.retain(keep)
        for name in [k for k in self.runtimes if k not in config.outbound.services]:
            del self.runtimes[name]
        log.info("applied snapshot %s", config.version)

    # ---------------------------------------------------------------------------------------- connections
    async def _guarded(self, serving: Awaitable[None], transport: asyncio.WriteTransport) -> None:
        """Run one connection's handler: tracked (``stop`` cancels it), and a failure costs that connection
        only."""
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await serving
        except asyncio.CancelledError:  # proxy stopping: end quietly (streams log a cancelled handler)
            transport.abort()
        except Exception:  # a bug must cost one connection, not the proxy
            log.exception("connection handler failed")
            transport.abort()
        finally:
            if task is not None:
                self._connections.discard(task)

    def _tracked(self, handler: Handler) -> Handler:
        """A stream listener's handler, guarded."""
        return lambda reader, writer: self._guarded(handler(reader, writer), writer.transport)

    def _http_connection(self, handler: Callable[[HttpConnection], Awaitable[None]]) -> HttpConnection:
        """A new server-side HTTP connection whose handler starts (guarded) once it is up."""
        return HttpConnection(
            response=False,
            max_header_bytes=self.state.config.settings.max_header_bytes,
            on_connected=lambda conn: asyncio.ensure_future(self._guarded(handler(conn), conn.transport)),
        )

    def _inbound_connection(self, port: int) -> asyncio.BaseProtocol:
        """A new mTLS connection on inbound ``port``: HTTP or a TCP/UDP stream, as the listener says."""
        listener = self.state.inbound.get(port)
        if listener is None:  # the port left the snapshot as the connection came in
            return _Refused()
        if listener.protocol == "http":
            return self._http_connection(functools.partial(inbound.serve_http, self, listener))
        handler = functools.partial(inbound.serve_stream, self, listener)
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(), self._tracked(handler))

    # ------------------------------------------------------------------------------ transparent interception
    def _intercepted_inbound(self, transport: asyncio.BaseTransport) -> asyncio.BaseProtocol:
        """An mTLS connection redirected to the inbound interception port: served as the listener of the
        port it was going to."""
        table = self.state.transparent
        destination = original_destination(transport)
        if table is None or destination is None:
            return _Refused()
        listener = table.inbound(destination[1])
        if listener.protocol == "http":
            return self._http_connection(functools.partial(inbound.serve_http, self, listener))
        handler = functools.partial(inbound.serve_stream, self, listener)
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(), self._tracked(handler))

    def _intercepted_outbound(self, transport: asyncio.BaseTransport) -> asyncio.BaseProtocol:
        """A connection of the application redirected to the outbound interception port: a service of the
        mesh (HTTP through the outbound HTTP path, TCP through an mTLS tunnel), or relayed as it is."""
        table = self.state.transparent
        destination = original_destination(transport)
        sockname = transport.get_extra_info("sockname")
        if table is None or destination is None or tuple(sockname or ())[:2] == destination:
            return _Refused()  # not redirected (dialled directly): relaying it would loop back here
        target = table.outbound(*destination)
        if target is None:
            address, port = destination
            connect_s = 1.0

            async def passthrough(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                await relay_plain(reader, writer, address, port, connect_s)

            return asyncio.StreamReaderProtocol(asyncio.StreamReader(), self._tracked(passthrough))
        if target.protocol == "http":
            serve = functools.partial(outbound.serve_http, self, destination=(target.service, target.port))
            return self._http_connection(serve)
        handler = functools.partial(outbound.serve_tcp_to, self, target.service, target.port)
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(), self._tracked(handler))

    async def _bind(self, key: ListenerKey) -> None:
        kind, address, port = key
        loop = asyncio.get_running_loop()
        if kind == "udp":
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: outbound.OutboundUdp(self, port), local_addr=(address, port)
            )
            self._listeners[key] = protocol
            self._udp_transports[key] = transport
            return
        server: asyncio.AbstractServer
        if kind == "intercepted-inbound":
            server = await loop.create_server(
                lambda: _Deferred(self._intercepted_inbound),
                address,
                port,
                ssl=self.tls.server,
                ssl_handshake_timeout=10.0,
                backlog=1024,
            )
        elif kind == "intercepted-outbound":
            server = await loop.create_server(
                lambda: _Deferred(self._intercepted_outbound), address, port, backlog=1024
            )
        elif kind == "inbound":
            server = await loop.create_server(
                lambda: self._inbound_connection(port),
                address,
                port,
                ssl=self.tls.server,
                ssl_handshake_timeout=10.0,
                backlog=1024,
            )
        elif kind == "http":
            serve_http = functools.partial(outbound.serve_http, self)
            server = await loop.create_server(
                lambda: self._http_connection(serve_http), address, port, backlog=1024
            )
        else:
            handler = functools.partial(outbound.serve_tcp, self, port)
            server = await asyncio.start_server(self._tracked(handler), address, port, backlog=1024)
        self._listeners[key] = server

    def _close_listener(self, key: ListenerKey) -> None:
        listener = self._listeners.pop(key, None)
        if listener is not None:
            listener.close()  # stops accepting; connections already open carry on
        transport = self._udp_transports.pop(key, None)
        if transport is not None:
            transport.close()

    # ------------------------------------------------------------------------------------------ following
    def follow(self, source: ConfigSource) -> asyncio.Task[object]:
        """Apply every snapshot ``source`` yields, in the background. If the source ends or fails, the proxy
        keeps serving with the last snapshot applied; call ``follow`` again with a new source to resume."""
        self.source = source
        return self._spawn(self._follow(source))

    async def _follow(self, source: ConfigSource) -> None:
        try:
            async for config in source.updates():
                with contextlib.suppress(ConfigRejected):
                    await self.apply(config)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.last_error = f"config source failed: {exc}; serving version {self.version}"
            log.warning(self.last_error)

    async def _watch_credentials(self, directory: Path) -> None:
        generation = read_generation(directory)
        while True:
            await asyncio.sleep(self.credentials_poll_s)
            current = read_generation(directory)
            if current == generation:
                continue
            try:
                creds = load_credentials(directory)
            except CredentialsError as exc:  # half-written rotation: try again next tick
                log.info("credentials not ready yet: %s", exc)
                continue
            try:
                self.tls.rotate(creds)
            except Exception as exc:
                self.last_error = f"certificate rotation failed: {exc}"
                log.warning(self.last_error)
            generation = current
