"""Keep-alive connection pools to upstreams: peer proxies (mTLS, identity checked) or the local
application; and single-use streams to peer proxies for TCP/UDP flows."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from reference_mesh.proxy.config import Endpoint
from reference_mesh.proxy.connection import HttpConnection
from reference_mesh.proxy.timeouts import Deadline
from reference_mesh.proxy.tls import Channel, MeshTls, PeerIdentityError

__all__ = ["ConnectError", "ConnectionPool", "Upstream"]

_Pair = TypeVar("_Pair", bound=tuple[object, object])

#: Idle pooled connections older than this are not reused (the peer's idle timeout is longer).
IDLE_TTL_S = 30.0


class ConnectError(Exception):
    """Could not open a usable connection to an upstream (refused, timed out, TLS failed, wrong identity)."""


@dataclass(eq=False)
class Upstream:
    """A pooled HTTP/1.1 connection to an upstream."""

    key: tuple[str, int, str | None]
    conn: HttpConnection
    reused: bool = False
    idle_since: float = field(default_factory=time.monotonic)

    def usable(self) -> bool:
        return not self.conn.eof and not self.conn.transport.is_closing()

    def close(self) -> None:
        self.conn.close()


class ConnectionPool:
    """Idle connections per (address, port, expected identity). ``tls=None`` for plaintext (the local app)."""

    def __init__(self, tls: MeshTls | None, *, max_idle: int = 64, max_header_bytes: int = 64 * 1024):
        self.tls = tls
        self.max_idle = max_idle
        self.max_header_bytes = max_header_bytes
        # keyed by the identity expected too: a connection verified for one identity never serves another
        self._idle: dict[tuple[str, int, str | None], deque[Upstream]] = {}
        self.opened = 0

    async def acquire(
        self, address: str, port: int, *, identity: str | None = None, connect_timeout: float = 1.0
    ) -> Upstream:
        """An idle connection to (address, port) whose peer proved ``identity``, or a new one."""
        key = (address, port, identity)
        idle = self._idle.get(key)
        if idle:
            now = time.monotonic()
            while idle:
                up = idle.pop()
                if up.usable() and now - up.idle_since < IDLE_TTL_S:
                    up.reused = True
                    return up
                up.close()
        loop = asyncio.get_running_loop()
        _, conn = await self._connect(
            loop.create_connection(
                lambda: HttpConnection(response=True, max_header_bytes=self.max_header_bytes),
                address,
                port,
                ssl=self.tls.client if self.tls is not None else None,
            ),
            lambda pair: pair[0],
            address,
            port,
            identity,
            connect_timeout,
        )
        return Upstream(key, conn)

    async def acquire_endpoint(self, endpoint: Endpoint, connect_timeout_ms: int) -> Upstream:
        """A connection to a mesh endpoint whose peer proves the endpoint's identity."""
        return await self.acquire(
            endpoint.address,
            endpoint.port,
            identity=endpoint.identity,
            connect_timeout=connect_timeout_ms / 1000.0,
        )

    async def open_stream(
        self, endpoint: Endpoint, connect_timeout_ms: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A new stream (never pooled) to a mesh endpoint whose peer proves the endpoint's identity: one TCP
        connection or UDP flow."""
        return await self._connect(
            asyncio.open_connection(
                endpoint.address, endpoint.port, ssl=self.tls.client if self.tls is not None else None
            ),
            lambda pair: pair[1],
            endpoint.address,
            endpoint.port,
            endpoint.identity,
            connect_timeout_ms / 1000.0,
        )

    async def _connect(
        self,
        opening: Awaitable[_Pair],
        channel: Callable[[_Pair], Channel],
        address: str,
        port: int,
        identity: str | None,
        timeout: float,
    ) -> _Pair:
        """Await ``opening`` (a transport/protocol or reader/writer pair) within ``timeout``; with mTLS, check
        that the peer proves ``identity`` (``channel`` picks the half that knows the peer)."""
        try:
            async with Deadline(timeout):
                pair = await opening
        except (OSError, TimeoutError) as exc:
            raise ConnectError(f"connect to {address}:{port} failed: {exc or type(exc).__name__}") from exc
        if self.tls is not None:
            ch = channel(pair)
            try:
                peer = self.tls.peer_identity(ch)
            except PeerIdentityError as exc:
                ch.close()
                raise ConnectError(str(exc)) from exc
            if identity is not None and peer.uri != identity:
                ch.close()
                raise ConnectError(f"{address}:{port} presented {peer}, expected {identity}")
        self.opened += 1
        return pair

    def release(self, conn: Upstream, reusable: bool, max_idle: int | None = None) -> None:
        """Back to the pool, or closed: when not ``reusable``, broken, or the endpoint already has
        ``max_idle`` idle connections (default: the pool's; the outbound side passes the service's
        ``circuit_breaker.max_idle_connections_per_endpoint``). Connections idle for longer than
        :data:`IDLE_TTL_S` are closed on the way (acquire takes the newest, so the oldest would linger)."""
        if not reusable or not conn.usable():
            conn.close()
            return
        idle = self._idle.setdefault(conn.key, deque())
        now = time.monotonic()
        while idle and now - idle[0].idle_since >= IDLE_TTL_S:
            idle.popleft().close()
        if len(idle) >= (self.max_idle if max_idle is None else max_idle):
            conn.close()
            return
        conn.idle_since = now
        idle.append(conn)

    def idle_count(self, address: str, port: int, identity: str | None = None) -> int:
        """How many idle connections the pool holds for that endpoint."""
        return len(self._idle.get((address, port, identity), ()))

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
